// The unary methods of msx.v1.Exchange and msx.v1.Admin. Each is a thin call of one of
// two helpers, which do every step in the same order:
//
//   UnaryCommand: authenticate -> translate the request (errors answer at once) ->
//                 admission (the agency's in-flight slot) -> submit to the sequencer ->
//                 on the sequencer thread, build the reply from the applied command ->
//                 once durable, finish with the reply's status
//   UnaryQuery:   authenticate -> validate and prepare the query -> admission -> submit ->
//                 on the sequencer thread, read the engine -> once what it saw is durable,
//                 finish
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "gateway/deliveries.h"
#include "gateway/internal/call.h"
#include "gateway/service.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

using internal::AppliedFn;
using internal::CallWork;
using internal::FinishFn;
using internal::QueryFn;

// Which tokens a method accepts.
enum class Who { kTrader, kAdmin, kAnyone };

absl::StatusOr<Caller> Authenticate(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                                    Who who) {
  switch (who) {
    case Who::kTrader:
      return internal::AuthenticateTrader(ctx, context);
    case Who::kAdmin:
      return internal::AuthenticateAdmin(ctx, context);
    case Who::kAnyone:
      break;
  }
  return ctx.tokens->Authenticate(*context);
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

FinishFn FinishWith(grpc::ServerUnaryReactor* reactor) {
  return [reactor](const absl::Status& s) { reactor->Finish(ToGrpcStatus(s)); };
}

// Queues `work` as a command or query; on a refused hand-off finishes the call at once. A
// command may also run to completion on this thread (Sequencer::SubmitCommandHere): the
// call is then finished before the reactor is returned, which the callback API allows.
//
// Admission first: the caller's agency must have an in-flight slot free
// (server.max_in_flight_per_agency), else RESOURCE_EXHAUSTED naming that limit; the slot
// is held by the work until it completes (or freed here if the hand-off is refused).
grpc::ServerUnaryReactor* Enqueue(const ServiceContext& ctx, const Caller& caller,
                                  grpc::ServerUnaryReactor* reactor, const Command* cmd,
                                  CallWork* work, TimeNs clock_advance = 0) {
  if (ctx.admission != nullptr) {
    if (!ctx.admission->TryAcquire(caller.agency)) {
      delete work;
      reactor->Finish(
          ToGrpcStatus(ctx.admission->Refusal(ctx.ref->agencies()[caller.agency].code)));
      return reactor;
    }
    work->HoldSlot(ctx.admission, caller.agency);
  }
  absl::Status s = cmd == nullptr     ? ctx.sequencer->SubmitQuery(work)
                   : clock_advance > 0 ? ctx.sequencer->SubmitClockAdvance(clock_advance, work)
                                       : ctx.sequencer->SubmitCommandHere(*cmd, work);
  if (!s.ok()) {
    delete work;
    reactor->Finish(ToGrpcStatus(s));
  }
  return reactor;
}

// A command call. `translate` turns the request into the command (gRPC thread; an error
// is the answer); `applied` fills the response from the applied command on the sequencer
// thread and returns the call's status, sent once the command is durable. A
// `clock_advance` > 0 (AdvanceClock) moves the sequencer's clock when the command is
// sequenced (Sequencer::SubmitClockAdvance).
grpc::ServerUnaryReactor* UnaryCommand(
    const ServiceContext& ctx, grpc::CallbackServerContext* context, Who who,
    absl::FunctionRef<absl::StatusOr<Command>(const Caller&)> translate, AppliedFn applied,
    TimeNs clock_advance = 0) {
  absl::StatusOr<Caller> caller = Authenticate(ctx, context, who);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = translate(*caller);
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(std::move(applied), nullptr, FinishWith(reactor));
  return Enqueue(ctx, *caller, reactor, &*cmd, work, clock_advance);
}

// A query call. `prepare` validates the request (gRPC thread; an error is the answer) and
// returns the query, which fills the response on the sequencer thread; the answer is sent
// once every command it observed is durable.
grpc::ServerUnaryReactor* UnaryQuery(
    const ServiceContext& ctx, grpc::CallbackServerContext* context, Who who,
    absl::FunctionRef<absl::StatusOr<QueryFn>(const Caller&)> prepare) {
  absl::StatusOr<Caller> caller = Authenticate(ctx, context, who);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<QueryFn> query = prepare(*caller);
  if (!query.ok()) return FinishNow(context, query.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(nullptr, *std::move(query), FinishWith(reactor));
  return Enqueue(ctx, *caller, reactor, nullptr, work);
}

// The agency a list query covers: an agency token's own (naming any agency is
// PERMISSION_DENIED); for an admin token the named agency, or every agency (nullopt).
absl::StatusOr<std::optional<AgencyId>> ListedAgency(const ServiceContext& ctx, const Caller& who,
                                                     const std::string& requested) {
  if (!who.admin) {
    if (!requested.empty()) {
      return absl::PermissionDeniedError("agency: only an admin token may name an agency");
    }
    return std::optional<AgencyId>(who.agency);
  }
  if (requested.empty()) return std::optional<AgencyId>();
  absl::StatusOr<AgencyId> a = LookupAgency(*ctx.ref, "agency", requested);
  if (!a.ok()) return a.status();
  return std::optional<AgencyId>(*a);
}

}  // namespace

// ---- Exchange: commands ----

grpc::ServerUnaryReactor* ExchangeService::SubmitOffer(grpc::CallbackServerContext* context,
                                                       const v1::SubmitOfferRequest* request,
                                                       v1::SubmitOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return SubmitToCommand(*ctx_.ref, c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::SubmitApplied(v, c, e, response);
      });
}

grpc::ServerUnaryReactor* ExchangeService::CancelOffer(grpc::CallbackServerContext* context,
                                                       const v1::CancelOfferRequest* request,
                                                       v1::CancelOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return CancelToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::CancelApplied(v, c, e, response);
      });
}

grpc::ServerUnaryReactor* ExchangeService::ReplaceOffer(grpc::CallbackServerContext* context,
                                                        const v1::ReplaceOfferRequest* request,
                                                        v1::ReplaceOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return ReplaceToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::ReplaceApplied(v, c, e, response);
      });
}

// ---- Exchange: queries ----

grpc::ServerUnaryReactor* ExchangeService::GetOffer(grpc::CallbackServerContext* context,
                                                    const v1::GetOfferRequest* request,
                                                    v1::Offer* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    if (request->offer_id() == 0) {
      return absl::InvalidArgumentError("offer_id: required, non-zero");
    }
    const std::uint64_t id = request->offer_id();
    return QueryFn([who, id, response](const SequencerView& v) {
      std::optional<OfferInfo> info = v.engine.GetOffer(id);
      if (!info && v.engine.IsPurged(id)) {
        return absl::NotFoundError(absl::StrCat(
            RejectReasonName(RejectReason::kUnknownOffer), ": offer_id: ", id,
            " finished more than the offer retention (",
            v.engine.offer_retention() / 1'000'000'000, " s) ago; its record is no longer kept"));
      }
      if (!info || (!who.admin && info->agency != who.agency)) return internal::NotYourOffer(id);
      ToProtoOffer(v.ref, *info, response);
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::ListOffers(grpc::CallbackServerContext* context,
                                                      const v1::ListOffersRequest* request,
                                                      v1::ListOffersResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    std::optional<PairId> pair;
    if (!request->pair().empty()) {
      absl::StatusOr<PairId> p = LookupPair(*ctx_.ref, request->pair());
      if (!p.ok()) return p.status();
      pair = *p;
    }
    const AgencyId agency = who.agency;
    return QueryFn([agency, pair, response](const SequencerView& v) {
      for (const OfferInfo& info : v.engine.ListOpenOffers(agency, pair)) {
        ToProtoOffer(v.ref, info, response->add_offers());
      }
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::GetHoldings(grpc::CallbackServerContext* context,
                                                       const v1::GetHoldingsRequest* /*request*/,
                                                       v1::GetHoldingsResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    const AgencyId agency = who.agency;
    return QueryFn([agency, response](const SequencerView& v) {
      internal::FillHoldings(v, agency, response);
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::ListInstruments(
    grpc::CallbackServerContext* context, const v1::ListInstrumentsRequest* /*request*/,
    v1::ListInstrumentsResponse* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  // Reference data is immutable: answered on the gRPC thread.
  for (const Instrument& i : ctx_.ref->instruments()) {
    ToProtoInstrument(i, response->add_instruments());
  }
  for (const TermBook& b : ctx_.ref->term_books()) {  // configuration order: by instrument
    response->mutable_instruments(static_cast<int>(b.instrument))->add_term_tenor_days(b.tenor_days);
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ExchangeService::ListPairs(grpc::CallbackServerContext* context,
                                                     const v1::ListPairsRequest* /*request*/,
                                                     v1::ListPairsResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller&) -> absl::StatusOr<QueryFn> {
    return QueryFn([response](const SequencerView& v) {
      for (const PairBook& p : v.ref.pairs()) {
        // The prices now: a PublishReference or an emergency level may have moved them.
        ToProtoPair(v.ref, p, v.engine.IsHalted(p.id), v.engine.GetPairBand(p.id),
                    v.engine.GetPairLevel(p.id), response->add_pairs());
      }
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::GetBook(grpc::CallbackServerContext* context,
                                                   const v1::GetBookRequest* request,
                                                   v1::BookSnapshot* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller&) -> absl::StatusOr<QueryFn> {
    absl::StatusOr<PairId> pair = LookupPair(*ctx_.ref, request->pair());
    if (!pair.ok()) return pair.status();
    absl::StatusOr<int> depth = BookDepth(request->depth());
    if (!depth.ok()) return depth.status();
    const PairId p = *pair;
    const int d = *depth;
    return QueryFn([p, d, response](const SequencerView& v) {
      ToProtoBook(v.ref, p, v.engine.GetDepth(p, d), v.last_seq, v.engine.IsHalted(p), response);
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::GetLevels(grpc::CallbackServerContext* context,
                                                     const v1::GetLevelsRequest* request,
                                                     v1::GetLevelsResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller&) -> absl::StatusOr<QueryFn> {
    std::optional<InstrumentId> only;
    if (!request->instrument().empty()) {
      absl::StatusOr<InstrumentId> id = LookupInstrument(*ctx_.ref, request->instrument());
      if (!id.ok()) return id.status();
      only = *id;
    }
    return QueryFn([only, response](const SequencerView& v) {
      for (const Instrument& inst : v.ref.instruments()) {
        if (only && *only != inst.id) continue;
        ToProtoInstrumentLevel(v.ref, inst.id, v.engine.GetInstrumentState(inst.id),
                               response->add_levels());
      }
      response->set_seq(v.last_seq);
      return absl::OkStatus();
    });
  });
}

// ---- Exchange: time swaps ----

grpc::ServerUnaryReactor* ExchangeService::SubmitTermOffer(
    grpc::CallbackServerContext* context, const v1::SubmitTermOfferRequest* request,
    v1::SubmitTermOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return SubmitTermToCommand(*ctx_.ref, c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::TermSubmitApplied(v, c, e, response);
      });
}

grpc::ServerUnaryReactor* ExchangeService::CancelTermOffer(
    grpc::CallbackServerContext* context, const v1::CancelTermOfferRequest* request,
    v1::CancelTermOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return CancelTermToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::TermCancelApplied(v, c, e, response);
      });
}

grpc::ServerUnaryReactor* ExchangeService::ReplaceTermOffer(
    grpc::CallbackServerContext* context, const v1::ReplaceTermOfferRequest* request,
    v1::ReplaceTermOfferResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return ReplaceTermToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return internal::TermReplaceApplied(v, c, e, response);
      });
}

grpc::ServerUnaryReactor* ExchangeService::ReturnObligation(
    grpc::CallbackServerContext* context, const v1::ReturnObligationRequest* request,
    v1::ReturnObligationResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return ReturnToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        std::uint64_t seq = 0;
        absl::Status s = internal::ObligationApplied(v, c, e, response->mutable_obligation(), &seq);
        response->set_seq(seq);
        return s;
      });
}

grpc::ServerUnaryReactor* ExchangeService::RecallObligation(
    grpc::CallbackServerContext* context, const v1::RecallObligationRequest* request,
    v1::RecallObligationResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kTrader,
      [&](const Caller& c) { return RecallToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        std::uint64_t seq = 0;
        absl::Status s = internal::ObligationApplied(v, c, e, response->mutable_obligation(), &seq);
        response->set_seq(seq);
        return s;
      });
}

grpc::ServerUnaryReactor* ExchangeService::GetTermOffer(grpc::CallbackServerContext* context,
                                                        const v1::GetTermOfferRequest* request,
                                                        v1::TermOffer* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    if (request->offer_id() == 0) return absl::InvalidArgumentError("offer_id: required, non-zero");
    const std::uint64_t id = request->offer_id();
    return QueryFn([who, id, response](const SequencerView& v) {
      std::optional<OfferInfo> info = v.engine.GetTermOffer(id);
      if (!info || (!who.admin && info->agency != who.agency)) return internal::NotYourOffer(id);
      ToProtoTermOffer(v.ref, *info, response);
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::ListObligations(
    grpc::CallbackServerContext* context, const v1::ListObligationsRequest* request,
    v1::ListObligationsResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    absl::StatusOr<std::optional<AgencyId>> listed = ListedAgency(ctx_, who, request->agency());
    if (!listed.ok()) return listed.status();
    const std::optional<AgencyId> agency = *listed;
    const v1::ObligationRole role = request->role();
    if (!v1::ObligationRole_IsValid(role)) {
      return absl::InvalidArgumentError(absl::StrCat("role: unknown value ", role));
    }
    if (role != v1::OBLIGATION_ROLE_UNSPECIFIED && !agency) {
      return absl::InvalidArgumentError("role: needs an agency (admins: set agency)");
    }
    const v1::ObligationState state = request->state();
    if (!v1::ObligationState_IsValid(state)) {
      return absl::InvalidArgumentError(absl::StrCat("state: unknown value ", state));
    }
    return QueryFn([agency, role, state, response](const SequencerView& v) {
      for (const ObligationInfo& ob : v.engine.ListObligations(agency)) {
        if (role == v1::OBLIGATION_ROLE_LENDER && ob.lender != *agency) continue;
        if (role == v1::OBLIGATION_ROLE_BORROWER && ob.borrower != *agency) continue;
        if (state != v1::OBLIGATION_STATE_UNSPECIFIED && ToProtoObligationState(ob.state) != state) {
          continue;
        }
        ToProtoObligation(v.ref, ob, response->add_obligations());
      }
      return absl::OkStatus();
    });
  });
}

grpc::ServerUnaryReactor* ExchangeService::GetObligation(grpc::CallbackServerContext* context,
                                                         const v1::GetObligationRequest* request,
                                                         v1::Obligation* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    if (request->obligation_id() == 0) {
      return absl::InvalidArgumentError("obligation_id: required, non-zero");
    }
    const std::uint64_t id = request->obligation_id();
    return QueryFn([who, id, response](const SequencerView& v) {
      std::optional<ObligationInfo> ob = v.engine.GetObligation(id);
      if (!ob || (!who.admin && ob->lender != who.agency && ob->borrower != who.agency)) {
        return internal::NotYourObligation(id);
      }
      ToProtoObligation(v.ref, *ob, response);
      return absl::OkStatus();
    });
  });
}

// ---- Exchange: deliveries (engine/matching/ENGINE.md "Deliveries") ----

grpc::ServerUnaryReactor* ExchangeService::ConfirmDelivery(
    grpc::CallbackServerContext* context, const v1::ConfirmDeliveryRequest* request,
    v1::ConfirmDeliveryResponse* response) {
  // Any token: the receiver confirms its own receipt, an admin on its behalf (the engine
  // checks which, with the caller's agency).
  return UnaryCommand(
      ctx_, context, Who::kAnyone,
      [&](const Caller& c) { return ConfirmDeliveryToCommand(c.agency, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        absl::Status s = internal::SimpleApplied(v, c, e);
        if (!s.ok()) return s;
        if (std::optional<DeliveryInfo> d = v.engine.GetDelivery(c.confirm_delivery.delivery)) {
          ToProtoDelivery(v.ref, *d, response->mutable_delivery());
        }
        response->set_seq(c.seq);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ExchangeService::ListDeliveries(
    grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request,
    v1::ListDeliveriesResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAnyone, [&](const Caller& who) -> absl::StatusOr<QueryFn> {
    absl::StatusOr<std::optional<AgencyId>> listed = ListedAgency(ctx_, who, request->agency());
    if (!listed.ok()) return listed.status();
    const std::optional<AgencyId> agency = *listed;
    const v1::DeliveryState state = request->state();
    if (!v1::DeliveryState_IsValid(state)) {
      return absl::InvalidArgumentError(absl::StrCat("state: unknown value ", state));
    }
    return QueryFn([agency, state, response](const SequencerView& v) {
      for (const DeliveryInfo& d : v.engine.ListDeliveries(agency)) {
        if (state != v1::DELIVERY_STATE_UNSPECIFIED && ToProtoDeliveryState(d.state) != state) {
          continue;
        }
        ToProtoDelivery(v.ref, d, response->add_deliveries());
      }
      return absl::OkStatus();
    });
  });
}

// ---- Admin: commands ----

grpc::ServerUnaryReactor* AdminService::SetHoldings(grpc::CallbackServerContext* context,
                                                    const v1::SetHoldingsRequest* request,
                                                    v1::SetHoldingsResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) { return SetHoldingsToCommand(*ctx_.ref, *request); },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        absl::Status s = internal::SimpleApplied(v, c, e);
        if (!s.ok()) return s;
        ToProtoHolding(v.ref, c.set_holdings.instrument,
                       v.engine.GetHoldings(c.set_holdings.agency, c.set_holdings.instrument),
                       response->mutable_holding());
        response->set_seq(c.seq);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AdminService::HaltPair(grpc::CallbackServerContext* context,
                                                 const v1::HaltPairRequest* request,
                                                 v1::HaltPairResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) {
        return PairToCommand(*ctx_.ref, CommandType::kHaltPair, request->pair());
      },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        response->set_seq(c.seq);
        return internal::SimpleApplied(v, c, e);
      });
}

grpc::ServerUnaryReactor* AdminService::ResumePair(grpc::CallbackServerContext* context,
                                                   const v1::ResumePairRequest* request,
                                                   v1::ResumePairResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) {
        return PairToCommand(*ctx_.ref, CommandType::kResumePair, request->pair());
      },
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        response->set_seq(c.seq);
        return internal::SimpleApplied(v, c, e);
      });
}

grpc::ServerUnaryReactor* AdminService::AdvanceClock(grpc::CallbackServerContext* context,
                                                     const v1::AdvanceClockRequest* request,
                                                     v1::AdvanceClockResponse* response) {
  Sequencer* sequencer = ctx_.sequencer;
  const bool allowed = ctx_.allow_clock_advance;
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) -> absl::StatusOr<Command> {
        if (!allowed) {
          return absl::FailedPreconditionError(
              "AdvanceClock: off on this server (server.allow_clock_advance in the "
              "configuration, for drills and tests)");
        }
        if (request->advance_ns() <= 0) {
          return absl::InvalidArgumentError("advance_ns: must be > 0");
        }
        // A time command at the new time: what fell due is expired or settled now. The
        // sequencer moves its clock when it takes the command, so a refused call (a full
        // queue, the agency's in-flight limit) leaves the clock where it was.
        Command cmd{};
        cmd.type = CommandType::kAdvanceTime;
        return cmd;
      },
      [response, sequencer](const SequencerView& v, const Command& c,
                            absl::Span<const Event> e) {
        response->set_seq(c.seq);
        response->set_offset_ns(sequencer->clock_offset());
        return internal::SimpleApplied(v, c, e);
      },
      request->advance_ns());
}

// ---- Admin: emergencies ----

namespace {

// The answer of an emergency admin command: its journaled seq, or the engine's refusal.
AppliedFn AdminApplied(v1::AdminCommandResponse* response) {
  return [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
    response->set_seq(c.seq);
    return internal::SimpleApplied(v, c, e);
  };
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::PublishReference(
    grpc::CallbackServerContext* context, const v1::PublishReferenceRequest* request,
    v1::AdminCommandResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) { return PublishReferenceToCommand(*ctx_.ref, *request); },
      AdminApplied(response));
}

grpc::ServerUnaryReactor* AdminService::AdmitMember(grpc::CallbackServerContext* context,
                                                    const v1::MemberRequest* request,
                                                    v1::AdminCommandResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) {
        return MemberToCommand(*ctx_.ref, CommandType::kAdmitMember, *request);
      },
      AdminApplied(response));
}

grpc::ServerUnaryReactor* AdminService::SuspendMember(grpc::CallbackServerContext* context,
                                                      const v1::MemberRequest* request,
                                                      v1::AdminCommandResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) {
        return MemberToCommand(*ctx_.ref, CommandType::kSuspendMember, *request);
      },
      AdminApplied(response));
}

grpc::ServerUnaryReactor* AdminService::SetEmergencyLevel(
    grpc::CallbackServerContext* context, const v1::SetEmergencyLevelRequest* request,
    v1::AdminCommandResponse* response) {
  return UnaryCommand(
      ctx_, context, Who::kAdmin,
      [&](const Caller&) { return SetLevelToCommand(*ctx_.ref, *request); },
      AdminApplied(response));
}

// ---- Admin: queries ----

grpc::ServerUnaryReactor* AdminService::GetExchangeStatus(
    grpc::CallbackServerContext* context, const v1::GetExchangeStatusRequest* /*request*/,
    v1::GetExchangeStatusResponse* response) {
  absl::StatusOr<Caller> caller = internal::AuthenticateAdmin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  Sequencer* seq = ctx_.sequencer;
  std::string durability = ctx_.durability, data_dir = ctx_.data_dir;
  auto replication = ctx_.replication_status;
  auto fill = [seq, durability, data_dir, replication, response](const SequencerView* v) {
    if (replication) replication(response);
    response->set_last_seq(v != nullptr ? v->last_seq : seq->last_seq());
    response->set_durable_seq(seq->durable_seq());
    response->set_durability(durability);
    response->set_accepting(seq->accepting());
    response->set_failure(seq->failure());
    response->set_queue_depth(static_cast<std::int64_t>(seq->queue_depth()));
    response->set_queue_capacity(static_cast<std::int64_t>(seq->queue_capacity()));
    response->set_data_dir(data_dir);
  };
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!seq->accepting()) {
    // The operator most needs this view when the journal failed: answer from the gRPC
    // thread with what the atomics say.
    fill(nullptr);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  auto* work = new CallWork(
      nullptr,
      [fill, response](const SequencerView& v) {
        fill(&v);
        response->set_open_offers(static_cast<std::int64_t>(v.engine.OpenOfferCount()));
        for (const Agency& a : v.ref.agencies()) {
          v1::Agency* out = response->add_agencies();
          out->set_id(a.code);
          out->set_name(a.name);
          out->set_country(a.country);
          out->set_admin(a.role == Role::kAdmin);
        }
        for (const PairBook& p : v.ref.pairs()) {
          if (v.engine.IsHalted(p.id)) response->add_halted_pairs(p.symbol);
        }
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* AdminService::GetAgencyHoldings(
    grpc::CallbackServerContext* context, const v1::GetAgencyHoldingsRequest* request,
    v1::GetHoldingsResponse* response) {
  return UnaryQuery(ctx_, context, Who::kAdmin, [&](const Caller&) -> absl::StatusOr<QueryFn> {
    absl::StatusOr<AgencyId> agency = LookupAgency(*ctx_.ref, "agency", request->agency());
    if (!agency.ok()) return agency.status();
    const AgencyId a = *agency;
    return QueryFn([a, response](const SequencerView& v) {
      internal::FillHoldings(v, a, response);
      return absl::OkStatus();
    });
  });
}

}  // namespace msx::gateway
