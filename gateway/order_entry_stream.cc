// OrderEntry and OrderEntryBatches: the bidirectional order-entry streams of a desk.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/internal/call.h"
#include "gateway/internal/queued_stream.h"
#include "gateway/service.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

using internal::AuthenticateTrader;
using internal::CancelApplied;
using internal::QueuedStream;
using internal::ReplaceApplied;
using internal::SubmitApplied;

// OrderEntry (In = OrderEntryRequest, Out = OrderEntryResponse) and OrderEntryBatches
// (In = OrderEntryRequestBatch, Out = OrderEntryResponseBatch): reads requests
// continuously (one read in flight), hands each to the sequencer, and queues each response
// when its command is durable; batches carry every response queued when a write starts.
// Finishes with OK once the client half-closed and every request was answered.
//
// Per request: one allocation (an OrderEntryWork, which also holds the response while it
// waits to be written), atomics for the in-flight count; the response is queued on the
// thread that completes the work (the journal thread right after the group commit), which
// starts the write itself when none is in flight.
template <typename In, typename Out>
class OrderEntryStream final
    : public QueuedStream<grpc::ServerBidiReactor<In, Out>, v1::OrderEntryResponse, Out> {
 public:
  using Base = grpc::ServerBidiReactor<In, Out>;
  static Base* Create(const ServiceContext& ctx, grpc::CallbackServerContext* c) {
    auto stream = std::shared_ptr<OrderEntryStream>(new OrderEntryStream(ctx));
    stream->self_ = stream;
    absl::StatusOr<Caller> caller = AuthenticateTrader(ctx, c);
    if (!caller.ok()) {
      stream->Close(ToGrpcStatus(caller.status()));
      return stream.get();
    }
    stream->agency_ = caller->agency;
    stream->StartRead(&stream->request_);
    return stream.get();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      reads_done_.store(true, std::memory_order_seq_cst);
      MaybeFinish();
      return;
    }
    if constexpr (std::is_same_v<In, v1::OrderEntryRequest>) {
      Handle(request_);
    } else {
      for (const v1::OrderEntryRequest& r : request_.requests()) Handle(r);
    }
    this->StartRead(&request_);
  }

 private:
  // One request in the sequencer. Owned by `self_` from Handle until Complete, then by
  // the stream's write queue (as the response's owner) until the response is written.
  class OrderEntryWork final : public Work {
   public:
    OrderEntryWork(std::shared_ptr<OrderEntryStream> stream,
                   v1::OrderEntryRequest::CommandCase command, std::uint64_t correlation_id,
                   Admission* admission, AgencyId agency)
        : stream_(std::move(stream)), command_(command), admission_(admission), agency_(agency) {
      response_.set_correlation_id(correlation_id);
    }
    ~OrderEntryWork() override { ReleaseSlot(); }

    void Applied(const SequencerView& view, const Command& cmd,
                 absl::Span<const Event> events) override {
      switch (command_) {
        case v1::OrderEntryRequest::kSubmit:
          result_ = SubmitApplied(view, cmd, events, response_.mutable_submit());
          break;
        case v1::OrderEntryRequest::kCancel:
          result_ = CancelApplied(view, cmd, events, response_.mutable_cancel());
          break;
        case v1::OrderEntryRequest::kReplace:
          result_ = ReplaceApplied(view, cmd, events, response_.mutable_replace());
          break;
        default:
          result_ = absl::InternalError("order entry: no command");
      }
    }
    void Complete(const absl::Status& status) override {
      ReleaseSlot();
      std::shared_ptr<OrderEntryWork> self = std::move(self_);  // may delete this on return
      std::shared_ptr<OrderEntryStream> stream = std::move(stream_);
      SetError(&response_, status.ok() ? result_ : status);
      stream->Deliver(std::shared_ptr<const v1::OrderEntryResponse>(self, &response_));
      stream->in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      stream->MaybeFinish();
    }

    std::shared_ptr<OrderEntryWork> self_;

   private:
    void ReleaseSlot() {
      if (admission_ != nullptr) admission_->Release(agency_);
      admission_ = nullptr;
    }

    std::shared_ptr<OrderEntryStream> stream_;
    v1::OrderEntryRequest::CommandCase command_;
    Admission* admission_;  // the agency's in-flight slot, until Complete; null = none held
    AgencyId agency_;
    v1::OrderEntryResponse response_;
    absl::Status result_;
  };

  explicit OrderEntryStream(const ServiceContext& ctx) : ctx_(ctx) {}

  static void SetError(v1::OrderEntryResponse* resp, const absl::Status& s) {
    if (s.ok()) return;
    resp->clear_result();
    resp->set_code(static_cast<int>(s.code()));
    resp->set_message(std::string(s.message()));
  }

  // An immediate answer (the request never reached the sequencer).
  void ReplyNow(std::uint64_t correlation_id, const absl::Status& s) {
    auto resp = std::make_shared<v1::OrderEntryResponse>();
    resp->set_correlation_id(correlation_id);
    SetError(resp.get(), s);
    this->Deliver(resp);
  }

  void Handle(const v1::OrderEntryRequest& req) {
    absl::StatusOr<Command> cmd;
    switch (req.command_case()) {
      case v1::OrderEntryRequest::kSubmit:
        cmd = SubmitToCommand(*ctx_.ref, agency_, req.submit());
        break;
      case v1::OrderEntryRequest::kCancel:
        cmd = CancelToCommand(agency_, req.cancel());
        break;
      case v1::OrderEntryRequest::kReplace:
        cmd = ReplaceToCommand(agency_, req.replace());
        break;
      default:
        cmd = absl::InvalidArgumentError("command: one of submit, cancel, replace is required");
    }
    if (!cmd.ok()) {
      ReplyNow(req.correlation_id(), cmd.status());
      return;
    }
    if (in_flight_.fetch_add(1, std::memory_order_seq_cst) >= kMaxOrderEntryInFlight) {
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(),
               absl::ResourceExhaustedError(absl::StrCat("more than ", kMaxOrderEntryInFlight,
                                                         " requests in flight")));
      return;
    }
    // The agency's in-flight limit covers all of its streams and unary calls together.
    Admission* admission = ctx_.admission;
    if (admission != nullptr && !admission->TryAcquire(agency_)) {
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(), admission->Refusal(ctx_.ref->agencies()[agency_].code));
      return;
    }
    auto work = std::make_shared<OrderEntryWork>(
        std::static_pointer_cast<OrderEntryStream>(this->self_), req.command_case(),
        req.correlation_id(), admission, agency_);
    OrderEntryWork* raw = work.get();
    raw->self_ = std::move(work);
    absl::Status s = ctx_.sequencer->SubmitCommand(*cmd, raw);
    if (!s.ok()) {
      raw->self_.reset();  // deletes the work and frees its admission slot
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(), s);
    }
  }

  // Closes (after the queued responses) once the client half-closed and nothing is in
  // flight; whichever of the last completion and the end of reads comes second does it.
  void MaybeFinish() {
    if (!reads_done_.load(std::memory_order_seq_cst) ||
        in_flight_.load(std::memory_order_seq_cst) > 0) {
      return;
    }
    this->CloseImpl(grpc::Status::OK, /*drain=*/true);
  }

  const ServiceContext& ctx_;
  AgencyId agency_ = 0;
  In request_;
  std::atomic<bool> reads_done_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace

grpc::ServerBidiReactor<v1::OrderEntryRequest, v1::OrderEntryResponse>*
ExchangeService::OrderEntry(grpc::CallbackServerContext* context) {
  return OrderEntryStream<v1::OrderEntryRequest, v1::OrderEntryResponse>::Create(ctx_, context);
}

grpc::ServerBidiReactor<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>*
ExchangeService::OrderEntryBatches(grpc::CallbackServerContext* context) {
  return OrderEntryStream<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>::Create(
      ctx_, context);
}

}  // namespace msx::gateway
