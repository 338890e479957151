#include "gateway/internal/call.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "gateway/translate.h"

namespace msx::gateway::internal {
namespace {

const RejectedEvent* FindReject(absl::Span<const Event> events) {
  for (const Event& e : events) {
    if (e.type == EventType::kRejected) return &e.rejected;
  }
  return nullptr;
}

void AddFillsOf(const SequencerView& view, OfferId offer, absl::Span<const Event> events,
                google::protobuf::RepeatedPtrField<v1::Fill>* out) {
  std::optional<OfferInfo> info;
  for (const Event& e : events) {
    if (e.type != EventType::kFill) continue;
    const FillEvent& f = e.fill;
    if (f.maker_offer != offer && f.taker_offer != offer) continue;
    if (!info) info = view.engine.GetOffer(offer);
    ToProtoFill(view.ref, f, f.maker_offer == offer, info ? *info : OfferInfo{}, out->Add());
  }
}

}  // namespace

absl::StatusOr<Caller> AuthenticateTrader(const ServiceContext& ctx,
                                          grpc::CallbackServerContext* context) {
  absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*context);
  if (!caller.ok()) return caller.status();
  if (caller->admin) {
    return absl::PermissionDeniedError(
        "authorization: an admin token cannot trade; use an agency's token");
  }
  return caller;
}

absl::StatusOr<Caller> AuthenticateAdmin(const ServiceContext& ctx,
                                         grpc::CallbackServerContext* context) {
  absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*context);
  if (!caller.ok()) return caller.status();
  if (!caller->admin) {
    return absl::PermissionDeniedError("authorization: the Admin service needs an admin token");
  }
  return caller;
}

absl::Status SubmitApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::SubmitOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) {
    if (r->reason != RejectReason::kDuplicateClientId) {
      const PairBand band = view.engine.GetPairBand(cmd.submit.pair);  // {} if unknown
      return RejectToStatus(view.ref, cmd, r->reason, &band);
    }
    // A retry: the original offer, in its current state, if the parameters are the same.
    std::optional<OfferInfo> original = view.engine.GetOffer(r->offer);
    if (!original) {
      original = view.engine.FindByClientId(cmd.submit.agency, cmd.submit.client_id);
    }
    if (!original || !SameSubmitParameters(*original, cmd)) {
      return absl::AlreadyExistsError(
          absl::StrCat(RejectReasonName(RejectReason::kDuplicateClientId),
                       ": client_offer_id: ", cmd.submit.client_id, " was already used for offer ",
                       original ? original->id : r->offer, " with different parameters"));
    }
    ToProtoOffer(view.ref, *original, resp->mutable_offer());
    resp->set_seq(original->accepted_seq);
    return absl::OkStatus();
  }
  for (const Event& e : events) {
    if (e.type != EventType::kAccepted) continue;
    std::optional<OfferInfo> info = view.engine.GetOffer(e.accepted.offer);
    if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
    AddFillsOf(view, e.accepted.offer, events, resp->mutable_fills());
    resp->set_seq(cmd.seq);
    return absl::OkStatus();
  }
  return absl::InternalError("engine produced neither accept nor reject");
}

absl::Status CancelApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::CancelOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  std::optional<OfferInfo> info = view.engine.GetOffer(cmd.cancel.offer);
  if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status ReplaceApplied(const SequencerView& view, const Command& cmd,
                            absl::Span<const Event> events, v1::ReplaceOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  std::optional<OfferInfo> info = view.engine.GetOffer(cmd.replace.offer);
  if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
  AddFillsOf(view, cmd.replace.offer, events, resp->mutable_fills());
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status SimpleApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  return absl::OkStatus();
}

void FillHoldings(const SequencerView& view, AgencyId agency, v1::GetHoldingsResponse* resp) {
  resp->set_agency(view.ref.agencies()[agency].code);
  for (const Instrument& i : view.ref.instruments()) {
    ToProtoHolding(view.ref, i.id, view.engine.GetHoldings(agency, i.id), resp->add_holdings());
  }
}

absl::Status NotYourOffer(std::uint64_t id) {
  return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownOffer),
                                          ": offer_id: ", id, " is not an offer of this agency"));
}

absl::Status TermSubmitApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events,
                               v1::SubmitTermOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) {
    if (r->reason != RejectReason::kDuplicateClientId) {
      return RejectToStatus(view.ref, cmd, r->reason);
    }
    std::optional<OfferInfo> original = view.engine.GetTermOffer(r->offer);
    if (!original || original->agency != cmd.submit.agency ||
        !SameTermParameters(*original, cmd.submit)) {
      return absl::AlreadyExistsError(absl::StrCat(
          RejectReasonName(RejectReason::kDuplicateClientId), ": client_offer_id: ",
          cmd.submit.client_id, " was already used for term offer ", r->offer,
          " with different parameters"));
    }
    ToProtoTermOffer(view.ref, *original, resp->mutable_offer());
    resp->set_seq(original->accepted_seq);
    return absl::OkStatus();
  }
  for (const Event& e : events) {
    if (e.type != EventType::kTermAccepted) continue;
    const OfferId id = e.accepted.offer;
    std::optional<OfferInfo> info = view.engine.GetTermOffer(id);
    if (info) ToProtoTermOffer(view.ref, *info, resp->mutable_offer());
    for (const Event& f : events) {
      if (f.type != EventType::kLoanFill) continue;
      if (f.loan_fill.maker_offer != id && f.loan_fill.taker_offer != id) continue;
      std::optional<ObligationInfo> ob = view.engine.GetObligation(f.loan_fill.obligation);
      if (ob) ToProtoObligation(view.ref, *ob, resp->add_obligations());
    }
    resp->set_seq(cmd.seq);
    return absl::OkStatus();
  }
  return absl::InternalError("engine produced neither accept nor reject");
}

absl::Status TermReplaceApplied(const SequencerView& view, const Command& cmd,
                                absl::Span<const Event> events,
                                v1::ReplaceTermOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  const OfferId id = cmd.replace.offer;
  std::optional<OfferInfo> info = view.engine.GetTermOffer(id);
  if (info) ToProtoTermOffer(view.ref, *info, resp->mutable_offer());
  for (const Event& f : events) {
    if (f.type != EventType::kLoanFill || f.loan_fill.taker_offer != id) continue;
    std::optional<ObligationInfo> ob = view.engine.GetObligation(f.loan_fill.obligation);
    if (ob) ToProtoObligation(view.ref, *ob, resp->add_obligations());
  }
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status TermCancelApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events,
                               v1::CancelTermOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  std::optional<OfferInfo> info = view.engine.GetTermOffer(cmd.cancel.offer);
  if (info) ToProtoTermOffer(view.ref, *info, resp->mutable_offer());
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status ObligationApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events, v1::Obligation* obligation,
                               std::uint64_t* seq) {
  std::optional<ObligationInfo> ob = view.engine.GetObligation(cmd.obligation.obligation);
  if (const RejectedEvent* r = FindReject(events)) {
    if (r->reason == RejectReason::kRecallForbiddenAtLevel && ob &&
        ob->instrument < view.ref.instruments().size()) {
      // Name the level, so that the lender knows what has to change first.
      return absl::FailedPreconditionError(absl::StrCat(
          RejectReasonName(r->reason), ": obligation_id: ", ob->id, ": ",
          view.ref.instruments()[ob->instrument].symbol, " is at emergency level ",
          EmergencyLevelName(view.engine.GetLevel(ob->instrument)),
          ", whose policy forbids recalls"));
    }
    return RejectToStatus(view.ref, cmd, r->reason);
  }
  if (ob) ToProtoObligation(view.ref, *ob, obligation);
  *seq = cmd.seq;
  return absl::OkStatus();
}

absl::Status NotYourObligation(std::uint64_t id) {
  return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownObligation),
                                          ": obligation_id: ", id,
                                          " is not an obligation of this agency"));
}

}  // namespace msx::gateway::internal
