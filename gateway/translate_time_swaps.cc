// Time swaps between the public contract and the engine: term offers, returns, recalls and
// obligations (translate.h, "Time swaps").
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gateway/translate.h"
#include "gateway/translate_internal.h"

namespace msx::gateway {
namespace {
using internal::AddAgencies;
using internal::CounterpartyMask;
using internal::Echo;
using internal::Invalid;
using internal::InvalidField;
using internal::PairSymbol;
using internal::ToProtoState;
using internal::ToProtoTif;
}  // namespace

// ---- Time swaps ----

absl::StatusOr<Command> SubmitTermToCommand(const ReferenceData& ref, AgencyId agency,
                                            const v1::SubmitTermOfferRequest& req) {
  Command cmd{};
  cmd.type = CommandType::kSubmitTermOffer;
  SubmitOffer& s = cmd.submit;
  s.agency = agency;
  if (req.client_offer_id() == 0) return InvalidField("client_offer_id", "required, non-zero");
  s.client_id = req.client_offer_id();
  std::optional<TermBookId> book = ref.FindTermBook(req.book());
  if (!book) {
    return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownTermBook),
                                            ": book: ", Echo(req.book()),
                                            " is not listed (e.g. \"CO-99.8@90D\")"));
  }
  s.pair = *book;
  switch (req.side()) {
    case v1::TERM_SIDE_LEND:
      s.side = Side::kSell;
      break;
    case v1::TERM_SIDE_BORROW:
      s.side = Side::kBuy;
      break;
    default:
      return Invalid(RejectReason::kInvalidSide, "side",
                     "must be TERM_SIDE_LEND or TERM_SIDE_BORROW");
  }
  if (req.lots() <= 0) {
    return Invalid(RejectReason::kInvalidLots, "lots",
                   absl::StrCat("must be > 0, got ", req.lots()));
  }
  s.lots = req.lots();
  if (req.premium_bps() < 0 || req.premium_bps() > 10000) {
    return Invalid(RejectReason::kInvalidPrice, "premium_bps",
                   absl::StrCat("must be in 0..10000 basis points, got ", req.premium_bps()));
  }
  s.price = req.premium_bps();
  switch (req.time_in_force()) {
    case v1::TIME_IN_FORCE_UNSPECIFIED:
    case v1::TIME_IN_FORCE_GTC:
      s.tif = TimeInForce::kGtc;
      break;
    case v1::TIME_IN_FORCE_GTD:
      s.tif = TimeInForce::kGtd;
      break;
    case v1::TIME_IN_FORCE_IOC:
      s.tif = TimeInForce::kIoc;
      break;
    case v1::TIME_IN_FORCE_FOK:
      s.tif = TimeInForce::kFok;
      break;
    default:
      return Invalid(RejectReason::kInvalidTimeInForce, "time_in_force",
                     "term books take GTC, GTD, IOC or FOK");
  }
  if (req.min_fill_lots() < 0 || req.min_fill_lots() > req.lots()) {
    return Invalid(RejectReason::kInvalidMinFill, "min_fill_lots",
                   absl::StrCat("must be in 0..lots (", req.lots(), "), got ",
                                req.min_fill_lots()));
  }
  s.min_fill = req.min_fill_lots();
  if (s.tif == TimeInForce::kGtd) {
    if (req.expire_time_ns() <= 0) {
      return Invalid(RejectReason::kExpiryInPast, "expire_time_ns",
                     "required for TIME_IN_FORCE_GTD (ns since the Unix epoch)");
    }
    s.expiry = req.expire_time_ns();
  } else if (req.expire_time_ns() != 0) {
    return InvalidField("expire_time_ns", "only allowed with TIME_IN_FORCE_GTD");
  }
  absl::StatusOr<AgencyMask> allow =
      CounterpartyMask(ref, "allow_counterparties", req.allow_counterparties());
  if (!allow.ok()) return allow.status();
  absl::StatusOr<AgencyMask> deny =
      CounterpartyMask(ref, "deny_counterparties", req.deny_counterparties());
  if (!deny.ok()) return deny.status();
  s.allow = *allow;
  s.deny = *deny;
  return cmd;
}

absl::StatusOr<Command> CancelTermToCommand(AgencyId agency,
                                            const v1::CancelTermOfferRequest& req) {
  if (req.offer_id() == 0) return InvalidField("offer_id", "required, non-zero");
  Command cmd{};
  cmd.type = CommandType::kCancelTermOffer;
  cmd.cancel.agency = agency;
  cmd.cancel.offer = req.offer_id();
  return cmd;
}

absl::StatusOr<Command> ReplaceTermToCommand(AgencyId agency,
                                             const v1::ReplaceTermOfferRequest& req) {
  if (req.offer_id() == 0) return InvalidField("offer_id", "required, non-zero");
  if (req.lots() <= 0) {
    return Invalid(RejectReason::kInvalidLots, "lots",
                   absl::StrCat("must be > 0 (the new total, lent lots included), got ",
                                req.lots()));
  }
  if (req.premium_bps() < 0 || req.premium_bps() > 10000) {
    return Invalid(RejectReason::kInvalidPrice, "premium_bps",
                   absl::StrCat("must be in 0..10000 basis points, got ", req.premium_bps()));
  }
  Command cmd{};
  cmd.type = CommandType::kReplaceTermOffer;
  cmd.replace = {agency, req.offer_id(), req.lots(), req.premium_bps()};
  return cmd;
}

absl::StatusOr<Command> ReturnToCommand(AgencyId agency, const v1::ReturnObligationRequest& req) {
  if (req.obligation_id() == 0) return InvalidField("obligation_id", "required, non-zero");
  if (req.amount() <= 0) {
    return Invalid(RejectReason::kInvalidAmount, "amount",
                   absl::StrCat("must be > 0 units, got ", req.amount()));
  }
  Command cmd{};
  cmd.type = CommandType::kReturnObligation;
  cmd.obligation = {agency, req.obligation_id(), req.amount()};
  return cmd;
}

absl::StatusOr<Command> RecallToCommand(AgencyId agency, const v1::RecallObligationRequest& req) {
  if (req.obligation_id() == 0) return InvalidField("obligation_id", "required, non-zero");
  Command cmd{};
  cmd.type = CommandType::kRecallObligation;
  cmd.obligation = {agency, req.obligation_id(), 0};
  return cmd;
}

bool SameTermParameters(const OfferInfo& o, const SubmitOffer& s) {
  return o.pair == s.pair && o.side == s.side && o.original_lots == s.lots &&
         o.price == s.price && o.tif == s.tif && o.expiry == s.expiry && o.allow == s.allow &&
         o.deny == s.deny && o.min_fill == s.min_fill;
}

void ToProtoTermOffer(const ReferenceData& ref, const OfferInfo& info, v1::TermOffer* out) {
  out->set_offer_id(info.id);
  out->set_client_offer_id(info.client_id);
  if (info.agency < ref.agencies().size()) out->set_agency(ref.agencies()[info.agency].code);
  if (info.pair < ref.term_books().size()) out->set_book(ref.term_books()[info.pair].symbol);
  out->set_side(info.side == Side::kSell ? v1::TERM_SIDE_LEND : v1::TERM_SIDE_BORROW);
  out->set_premium_bps(info.price);
  out->set_original_lots(info.original_lots);
  out->set_open_lots(info.open_lots);
  out->set_filled_lots(info.filled_lots);
  out->set_time_in_force(ToProtoTif(info.tif));
  out->set_expire_time_ns(info.expiry);
  AddAgencies(ref, info.allow, out->mutable_allow_counterparties());
  AddAgencies(ref, info.deny, out->mutable_deny_counterparties());
  out->set_state(ToProtoState(info.status));
  out->set_accepted_seq(info.accepted_seq);
  out->set_accepted_time_ns(info.accepted_time);
  out->set_min_fill_lots(info.min_fill);
}

v1::ObligationState ToProtoObligationState(ObligationState state) {
  switch (state) {
    case ObligationState::kOpen:
      return v1::OBLIGATION_STATE_OPEN;
    case ObligationState::kOverdue:
      return v1::OBLIGATION_STATE_OVERDUE;
    case ObligationState::kClosed:
      return v1::OBLIGATION_STATE_CLOSED;
  }
  return v1::OBLIGATION_STATE_UNSPECIFIED;
}

v1::ObligationEventKind ToProtoObligationEventKind(ObligationEventKind kind) {
  switch (kind) {
    case ObligationEventKind::kReturned:
      return v1::OBLIGATION_EVENT_KIND_RETURNED;
    case ObligationEventKind::kSettled:
      return v1::OBLIGATION_EVENT_KIND_SETTLED;
    case ObligationEventKind::kOverdue:
      return v1::OBLIGATION_EVENT_KIND_OVERDUE;
    case ObligationEventKind::kCollected:
      return v1::OBLIGATION_EVENT_KIND_COLLECTED;
    case ObligationEventKind::kRecalled:
      return v1::OBLIGATION_EVENT_KIND_RECALLED;
  }
  return v1::OBLIGATION_EVENT_KIND_UNSPECIFIED;
}

void ToProtoObligation(const ReferenceData& ref, const ObligationInfo& ob, v1::Obligation* out) {
  out->set_obligation_id(ob.id);
  if (ob.book < ref.term_books().size()) out->set_book(ref.term_books()[ob.book].symbol);
  if (ob.instrument < ref.instruments().size()) {
    out->set_instrument(ref.instruments()[ob.instrument].symbol);
    out->set_unit(ref.instruments()[ob.instrument].unit);
  }
  if (ob.lender < ref.agencies().size()) out->set_lender(ref.agencies()[ob.lender].code);
  if (ob.borrower < ref.agencies().size()) out->set_borrower(ref.agencies()[ob.borrower].code);
  if (ob.agreement < ref.agreements().size()) {
    out->set_agreement(ref.agreements()[ob.agreement].name);
  }
  out->set_lots(ob.lots);
  out->set_premium_bps(ob.premium_bps);
  out->set_principal(ob.principal);
  out->set_due_amount(ob.due_amount);
  out->set_returned(ob.returned);
  out->set_outstanding(ob.outstanding);
  out->set_fill_time_ns(ob.fill_time);
  out->set_due_time_ns(ob.due_time);
  out->set_state(ToProtoObligationState(ob.state));
  out->set_recalled(ob.recalled);
  out->set_lend_offer_id(ob.lend_offer);
  out->set_borrow_offer_id(ob.borrow_offer);
  out->set_covered(ob.covered);
  if (ob.collateral_state != CollateralState::kNone) {
    v1::Collateral* c = out->mutable_collateral();
    switch (ob.collateral_state) {
      case CollateralState::kNone:
        break;
      case CollateralState::kPledged:
        c->set_state(v1::COLLATERAL_STATE_PLEDGED);
        break;
      case CollateralState::kReleased:
        c->set_state(v1::COLLATERAL_STATE_RELEASED);
        break;
      case CollateralState::kForfeited:
        c->set_state(v1::COLLATERAL_STATE_FORFEITED);
        break;
    }
    if (ob.collateral_instrument < ref.instruments().size()) {
      c->set_instrument(ref.instruments()[ob.collateral_instrument].symbol);
      c->set_unit(ref.instruments()[ob.collateral_instrument].unit);
    }
    c->set_amount(ob.collateral_amount);
    c->set_forfeited(ob.collateral_forfeited);
    if (ob.agreement < ref.agreements().size()) {
      c->set_forfeit_time_ns(ob.due_time + ref.agreements()[ob.agreement].grace);
    }
  }
}

}  // namespace msx::gateway
