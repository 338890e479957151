// Call state shared by the unary handlers (unary_service.cc) and the stream reactors
// (execution_stream.cc, book_stream.cc, order_entry_stream.cc). Private to gateway/.
//
// A call reaches the engine as a Work (sequencer.h). CallWork is the Work of a unary call
// and of a stream's query: its reply is built by `applied` (commands) or `query` (queries)
// on the sequencer thread, the only place the engine may be read, and delivered by
// `finish` once everything it observed is durable. The reply builders below are shared by
// the unary calls and OrderEntry, so a command's response is built the same way on both.
#ifndef MSX_GATEWAY_INTERNAL_CALL_H_
#define MSX_GATEWAY_INTERNAL_CALL_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "gateway/admission.h"
#include "gateway/auth.h"
#include "gateway/sequencer.h"
#include "gateway/service.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway::internal {

using AppliedFn =
    std::function<absl::Status(const SequencerView&, const Command&, absl::Span<const Event>)>;
using QueryFn = std::function<absl::Status(const SequencerView&)>;
using FinishFn = std::function<void(const absl::Status&)>;

// A Work whose reply is built by `applied` (commands) or `query` (queries) on the
// sequencer thread, and delivered by `finish` once durable. Deletes itself on Complete.
class CallWork final : public Work {
 public:
  CallWork(AppliedFn applied, QueryFn query, FinishFn finish)
      : applied_(std::move(applied)), query_(std::move(query)), finish_(std::move(finish)) {}
  ~CallWork() override { ReleaseSlot(); }

  void Applied(const SequencerView& view, const Command& cmd,
               absl::Span<const Event> events) override {
    if (applied_) result_ = applied_(view, cmd, events);
  }
  void Query(const SequencerView& view) override {
    if (query_) result_ = query_(view);
  }
  void Complete(const absl::Status& status) override {
    // The slot is free before the reply leaves: a client that sends its next call on
    // receipt must find it free.
    ReleaseSlot();
    finish_(status.ok() ? result_ : status);
    delete this;
  }

  // Holds one of `agency`'s in-flight slots (taken by the caller) until completion.
  void HoldSlot(Admission* admission, AgencyId agency) {
    admission_ = admission;
    agency_ = agency;
  }

 private:
  void ReleaseSlot() {
    if (admission_ != nullptr) admission_->Release(agency_);
    admission_ = nullptr;
  }

  AppliedFn applied_;
  QueryFn query_;
  FinishFn finish_;
  absl::Status result_;
  Admission* admission_ = nullptr;
  AgencyId agency_ = 0;
};

// ---- Who may call (gRPC thread) ----
// The caller of an Exchange trading call: an agency token (an admin token is
// PERMISSION_DENIED), or the token's error (UNAUTHENTICATED, PERMISSION_DENIED).
absl::StatusOr<Caller> AuthenticateTrader(const ServiceContext& ctx,
                                          grpc::CallbackServerContext* context);
// The caller of an Admin call: the admin token only.
absl::StatusOr<Caller> AuthenticateAdmin(const ServiceContext& ctx,
                                         grpc::CallbackServerContext* context);

// ---- Command replies (sequencer thread, from Work::Applied) ----
// Each fills its response from the applied command and its events and returns the call's
// status: OK, or the engine's reject mapped by RejectToStatus. A submit whose client id was
// used before answers the original offer (same parameters) or ALREADY_EXISTS.
absl::Status SubmitApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::SubmitOfferResponse* resp);
absl::Status CancelApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::CancelOfferResponse* resp);
absl::Status ReplaceApplied(const SequencerView& view, const Command& cmd,
                            absl::Span<const Event> events, v1::ReplaceOfferResponse* resp);
// Only the status (admin commands).
absl::Status SimpleApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events);

// Time swaps: SubmitTermOffer (a retry answers the original term offer), CancelTermOffer,
// and ReturnObligation / RecallObligation (the obligation as the command left it).
absl::Status TermSubmitApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events, v1::SubmitTermOfferResponse* resp);
absl::Status TermReplaceApplied(const SequencerView& view, const Command& cmd,
                                absl::Span<const Event> events,
                                v1::ReplaceTermOfferResponse* resp);
absl::Status TermCancelApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events, v1::CancelTermOfferResponse* resp);
absl::Status ObligationApplied(const SequencerView& view, const Command& cmd,
                               absl::Span<const Event> events, v1::Obligation* obligation,
                               std::uint64_t* seq);
// NOT_FOUND for an obligation that does not exist or where the caller is neither lender
// nor borrower (the same answer for both).
absl::Status NotYourObligation(std::uint64_t id);

// ---- Query replies (sequencer thread, from Work::Query) ----
void FillHoldings(const SequencerView& view, AgencyId agency, v1::GetHoldingsResponse* resp);
// NOT_FOUND for an offer that does not exist or belongs to another agency (the same
// answer for both, so an agency cannot probe another's offer ids).
absl::Status NotYourOffer(std::uint64_t id);

}  // namespace msx::gateway::internal

#endif  // MSX_GATEWAY_INTERNAL_CALL_H_
