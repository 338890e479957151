// QueuedStream: the write side shared by every stream reactor (execution, book and
// order-entry streams). Private to gateway/.
#ifndef MSX_GATEWAY_INTERNAL_QUEUED_STREAM_H_
#define MSX_GATEWAY_INTERNAL_QUEUED_STREAM_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/strings/str_cat.h"
#include "gateway/hubs.h"
#include "gateway/internal/tsan.h"
#include "gateway/service.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway::internal {

// A server stream with a bounded outgoing queue: Enqueue/Deliver never block; one write in
// flight at a time; Close finishes once the write in flight (and, when draining, the
// queue) is done. Every decision is taken under mu_, every gRPC call is made outside it
// (gRPC may run OnWriteDone inline).
//
// Two queues: `history_` (reports replayed to a resuming stream, paged by the caller and
// never counted against the limits; always written first) and `queue_` (live messages,
// capped by StreamLimits in messages and in bytes: a stream over either cap is ended with
// RESOURCE_EXHAUSTED naming it).
//
// `Out` is what one write sends: `Msg` itself (one message per write), or a batch message
// with a `repeated Msg reports` field, which takes everything queued (up to
// kMaxBatchMessages) in one write: gRPC's cost is per write (a call op, a completion
// callback, usually a sendmsg), so under load a batch costs about what one message does.
// Appends one queued message to a batch message (QueuedStream with Out != Msg).
inline void AddToBatch(v1::ExecutionReportBatch* batch, const v1::ExecutionReport& m) {
  *batch->add_reports() = m;
}
inline void AddToBatch(v1::OrderEntryResponseBatch* batch, const v1::OrderEntryResponse& m) {
  *batch->add_responses() = m;
}

template <typename Reactor, typename Msg, typename Out = Msg>
class QueuedStream : public Reactor, public Sink<Msg> {
 public:
  // Queues `msg` (live) and starts a write if none is in flight.
  void Deliver(const std::shared_ptr<const Msg>& msg) {
    Enqueue(msg, msg->ByteSizeLong());
    Kick();
  }

  void Enqueue(const std::shared_ptr<const Msg>& msg, std::size_t bytes) override {
    std::string overflow;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      if (queue_.size() >= limits_.max_queued_messages) {
        overflow = absl::StrCat("more than ", limits_.max_queued_messages,
                                " messages queued (server.stream_max_queued_messages)");
      } else if (queued_bytes_ + bytes > limits_.max_queued_bytes) {
        overflow = absl::StrCat("more than ", limits_.max_queued_bytes,
                                " bytes queued (server.stream_max_queued_bytes)");
      } else {
        queue_.push_back(Queued{msg, bytes});
        queued_bytes_ += bytes;
      }
    }
    if (!overflow.empty()) {
      Close(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         absl::StrCat("stream consumer too slow: ", overflow,
                                      "; reconnect and resume")));
    }
  }

  void Kick() override {
    const Out* start = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || writing_ || (queue_.empty() && history_.empty())) return;
      start = TakeNextLocked();
    }
    this->StartWrite(start);
  }

  void Close(const grpc::Status& status) override { CloseImpl(status, /*drain=*/false); }
  bool closed() const override { return closed_.load(std::memory_order_acquire); }

  void OnWriteDone(bool ok) override {
    const Out* next = nullptr;
    bool finish = false;
    bool drained = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      ReleaseWrittenLocked();
      if (!ok) {  // the client went away
        closing_ = true;
        closed_.store(true, std::memory_order_release);
        ClearQueuesLocked();
        if (!finished_) {
          finished_ = finish = true;
          status = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
        }
      } else if (closing_ && (!drain_ || (queue_.empty() && history_.empty()))) {
        if (!finished_) {
          finished_ = finish = true;
          status = close_status_;
        }
      } else {
        // Checked before taking the next write: the page's last write has completed.
        if (awaiting_drain_ && history_.empty()) {
          awaiting_drain_ = false;
          drained = true;
        }
        if (!queue_.empty() || !history_.empty()) next = TakeNextLocked();
      }
    }
    if (next != nullptr) this->StartWrite(next);
    if (finish) FinishCall(status);
    if (drained) HistoryDrained();
  }

  void OnCancel() override {
    CloseImpl(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"), false);
  }

  void OnDone() override {
    // gRPC runs OnDone after Finish and after every other reaction has returned, but
    // orders them with libgrpc's own atomics, which ThreadSanitizer cannot see. The
    // acquire pairs with the release after Finish (FinishCall); taking mu_ orders what any
    // thread wrote under it (the queues, close_status_) before the destructor that may run
    // below. Both cost nothing outside TSan builds but one uncontended lock per stream.
    GrpcHandOffAcquire(this);
    { std::lock_guard<std::mutex> lock(mu_); }
    closed_.store(true, std::memory_order_release);
    Released();
    std::shared_ptr<QueuedStream> self = std::move(self_);  // may delete this on return
  }

 protected:
  // Called once from OnDone; for subclasses to drop interest counters and the like.
  virtual void Released() {}
  // Called (outside mu_, on the thread of the last write's completion or of QueueHistory)
  // once everything queued by QueueHistory(..., notify = true) has been written.
  virtual void HistoryDrained() {}

  void SetLimits(const StreamLimits& limits) { limits_ = limits; }

  // Queues history messages ahead of any live message, outside the limits. With `notify`,
  // HistoryDrained() follows once all of them are written (at once if there are none).
  void QueueHistory(std::vector<std::shared_ptr<const Msg>> msgs, bool notify) {
    const Out* start = nullptr;
    bool drained = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      for (auto& m : msgs) history_.push_back(std::move(m));
      if (notify) {
        if (history_.empty() && !writing_) {
          drained = true;
        } else {
          awaiting_drain_ = true;
        }
      }
      if (!writing_ && (!history_.empty() || !queue_.empty())) start = TakeNextLocked();
    }
    if (start != nullptr) this->StartWrite(start);
    if (drained) HistoryDrained();
  }

  // Graceful end (drain = true): finish with `status` after every queued message.
  void CloseImpl(const grpc::Status& status, bool drain) {
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
      drain_ = drain;
      close_status_ = status;
      closed_.store(true, std::memory_order_release);
      if (!drain) ClearQueuesLocked();  // what will never be written is released now
      if (!writing_ && !finished_) {
        finished_ = finish = true;
      }
    }
    if (finish) FinishCall(status);
  }

  std::shared_ptr<QueuedStream> self_;  // gRPC's reference, dropped in OnDone

 private:
  struct Queued {
    std::shared_ptr<const Msg> msg;
    std::size_t bytes;
  };

  // Hands the call's end to gRPC. REQUIRES: the caller keeps the stream alive across the
  // call (gRPC does during a reaction; elsewhere the caller holds a shared_ptr), so the
  // release below still names a live stream when OnDone runs on another thread.
  void FinishCall(const grpc::Status& status) {
    this->Finish(status);
    GrpcHandOffRelease(this);
  }

  // The next message to write: history first.
  std::shared_ptr<const Msg> PopLocked() {
    std::shared_ptr<const Msg> m;
    if (!history_.empty()) {
      m = std::move(history_.front());
      history_.pop_front();
    } else {
      m = std::move(queue_.front().msg);
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
    }
    return m;
  }

  // REQUIRES: mu_ held, !writing_, a queue not empty. Moves the next write's content out
  // of the queues and marks a write in flight; the result stays valid until OnWriteDone.
  const Out* TakeNextLocked() {
    writing_ = true;
    if constexpr (std::is_same_v<Out, Msg>) {
      writing_msg_ = PopLocked();
      return writing_msg_.get();
    } else {
      batch_.Clear();
      std::size_t n = std::min(queue_.size() + history_.size(), kMaxBatchMessages);
      for (std::size_t i = 0; i < n; ++i) AddToBatch(&batch_, *PopLocked());
      return &batch_;
    }
  }
  void ReleaseWrittenLocked() {
    if constexpr (std::is_same_v<Out, Msg>) {
      writing_msg_.reset();
    } else {
      batch_.Clear();
    }
  }
  void ClearQueuesLocked() {
    queue_.clear();
    history_.clear();
    queued_bytes_ = 0;
    awaiting_drain_ = false;
  }

  std::mutex mu_;
  StreamLimits limits_;
  std::deque<Queued> queue_;                        // live, not yet handed to a write
  std::size_t queued_bytes_ = 0;                    // serialized bytes in queue_
  std::deque<std::shared_ptr<const Msg>> history_;  // replayed history, written first
  bool awaiting_drain_ = false;                     // HistoryDrained() is due
  std::shared_ptr<const Msg> writing_msg_;          // Out == Msg: the write in flight
  Out batch_;                                       // batching: the write in flight
  bool writing_ = false;
  bool closing_ = false;
  bool drain_ = false;
  bool finished_ = false;
  grpc::Status close_status_;
  std::atomic<bool> closed_{false};
};

// Counts a new subscription stream of `agency` against max_streams_per_agency; false (and
// the RESOURCE_EXHAUSTED to end it with in *refusal) when the agency is at the limit.
inline bool OpenStream(const ServiceContext& ctx, AgencyId agency, grpc::Status* refusal) {
  const int max = ctx.stream_limits.max_streams_per_agency;
  if (ctx.stream_counts->TryOpen(agency, max)) return true;
  *refusal = grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("max_streams_per_agency: ", ctx.ref->agencies()[agency].code, " has ", max,
                   " streams open (StreamExecutions, StreamExecutionBatches and StreamBook "
                   "count; server.max_streams_per_agency); close one first"));
  return false;
}

}  // namespace msx::gateway::internal

#endif  // MSX_GATEWAY_INTERNAL_QUEUED_STREAM_H_
