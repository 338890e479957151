// --api order-entry and order-entry-batches: each channel opens one OrderEntry (or
// OrderEntryBatches) stream per agency and pipelines the operations on it with correlation
// ids, at most a window of them unanswered; a stream that fails loses its requests as
// errors. See OeStream in runner.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "clients/loadgen/runner.h"

namespace msx::loadgen::internal {
namespace {

// Completion-queue tags of order-entry streams: the stream's address with the operation in
// the low bits (OeStream is at least 8-byte aligned).
enum OeOp : std::uintptr_t {
  kOeStarted = 0,
  kOeRead = 1,
  kOeWrite = 2,
  kOeWritesDone = 3,
  kOeFinished = 4
};
void* OeTag(OeStream* s, OeOp op) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(s) | op);
}

}  // namespace

void Runner::StartOrderEntry(const std::vector<std::unique_ptr<Driver>>& drivers) {
  const std::size_t agencies = o_.agencies.size();
  oe_streams_.resize(static_cast<std::size_t>(o_.concurrency) * agencies);
  for (const auto& d : drivers) {
    for (int c : d->channels) {
      for (std::size_t a = 0; a < agencies; ++a) {
        auto s = std::make_unique<OeStream>();
        static_assert(alignof(OeStream) >= 8);
        s->agency = static_cast<int>(a);
        s->channel = c;
        s->driver = d.get();
        Authorize(&s->ctx, s->agency);
        d->streams.push_back(s.get());
        oe_streams_[static_cast<std::size_t>(c) * agencies + a] = std::move(s);
      }
    }
  }
  // Started only once every stream is registered: completions may arrive at once.
  for (const auto& d : drivers) {
    for (OeStream* s : d->streams) {
      std::lock_guard<std::mutex> lock(s->mu);
      if (batches_) {
        s->rw_batch = stubs_[s->channel]->PrepareAsyncOrderEntryBatches(&s->ctx, &d->cq);
        s->rw_batch->StartCall(OeTag(s, kOeStarted));
      } else {
        s->rw = stubs_[s->channel]->PrepareAsyncOrderEntry(&s->ctx, &d->cq);
        s->rw->StartCall(OeTag(s, kOeStarted));
      }
    }
  }
}

void Runner::TryWriteLocked(OeStream* s) {
  if (!s->started || s->write_pending || s->broken || s->writes_done || s->queue.empty() ||
      s->in_flight.size() >= stream_cap_) {
    return;
  }
  const std::int64_t now = Now();
  s->write_pending = true;
  if (batches_) {
    // Everything queued that fits the window, in one message.
    s->writing_batch.Clear();
    while (!s->queue.empty() && s->in_flight.size() < stream_cap_ &&
           s->writing_batch.requests_size() < kMaxRequestsPerBatch) {
      OeQueued& next = s->queue.front();
      next.info.sent_ns = now;
      s->in_flight.emplace(next.info.op + 1, next.info);
      *s->writing_batch.add_requests() = std::move(next.request);
      s->queue.pop_front();
    }
    s->rw_batch->Write(s->writing_batch, OeTag(s, kOeWrite));
    return;
  }
  OeQueued& next = s->queue.front();
  next.info.sent_ns = now;
  s->in_flight.emplace(next.info.op + 1, next.info);
  s->writing = std::move(next.request);
  s->queue.pop_front();
  s->rw->Write(s->writing, OeTag(s, kOeWrite));
}

void Runner::MaybeWritesDoneLocked(Driver* d, OeStream* s) {
  if (!d->oe_over || !s->started || s->broken || s->writes_done || s->write_pending ||
      !s->queue.empty() || !s->in_flight.empty()) {
    return;
  }
  // Half-close: the server finishes the stream with OK once it has answered everything.
  s->writes_done = true;
  s->write_pending = true;
  if (batches_) {
    s->rw_batch->WritesDone(OeTag(s, kOeWritesDone));
  } else {
    s->rw->WritesDone(OeTag(s, kOeWritesDone));
  }
}

bool Runner::IssueOe(Driver* d, std::uint64_t op_index, std::int64_t due, int channel) {
  OeQueued q;
  q.info.op = op_index;
  q.info.due_ns = due;
  q.request.set_correlation_id(op_index + 1);
  int agency = 0;
  v1::SubmitOfferRequest submit;
  v1::CancelOfferRequest cancel;
  q.info.type = PrepareOp(d, op_index, &q.info.kind, &agency, &submit, &cancel, &q.info.pair);
  if (q.info.type == CallType::kCancel) {
    q.info.offer_id = cancel.offer_id();
    *q.request.mutable_cancel() = std::move(cancel);
    d->cancels.fetch_add(1, std::memory_order_relaxed);
  } else {
    q.info.buy = submit.side() == v1::SIDE_BUY;
    q.info.lots = submit.lots();
    q.info.price = submit.price();
    *q.request.mutable_submit() = std::move(submit);
    if (op_index < capacity_) SlotRef(op_index).store(due + 1, std::memory_order_release);
    d->submits.fetch_add(1, std::memory_order_relaxed);
  }
  d->sent.fetch_add(1, std::memory_order_relaxed);
  d->max_lag_ns = std::max(d->max_lag_ns, Now() - due);
  OeStream* s = StreamOf(channel, agency);
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->broken) {
      s->queue.push_back(std::move(q));
      TryWriteLocked(s);
      return true;
    }
  }
  RecordOeFailure(d, q.info, agency, "UNAVAILABLE", "its order-entry stream had failed", false,
                  false);
  if (q.info.type == CallType::kSubmit && q.info.kind == OpKind::kCross) {
    NoteRound(d, op_index, kRoundDead);
  }
  return false;
}

bool Runner::IssueClosedOe(Driver* d, int channel) {
  while (true) {
    std::int64_t now = Now();
    if (now >= end_ns_) return false;
    std::uint64_t op = next_op_.fetch_add(1, std::memory_order_relaxed);
    if (op >= total_ops_) return false;
    if (IssueOe(d, op, now, channel)) return true;
    // That agency's stream failed: draw again unless every stream of the channel failed.
    bool any_alive = false;
    for (std::size_t a = 0; a < o_.agencies.size() && !any_alive; ++a) {
      OeStream* s = StreamOf(channel, static_cast<int>(a));
      std::lock_guard<std::mutex> lock(s->mu);
      any_alive = !s->broken;
    }
    if (!any_alive) return false;
  }
}

void Runner::DriveClosedLoopOe(Driver* d) {
  // Every channel keeps window x agencies operations outstanding, each on its agency's
  // stream (see stream_cap_); latency counts from when an operation was drawn.
  const std::size_t per_channel = static_cast<std::size_t>(o_.window) * o_.agencies.size();
  for (int channel : d->channels) {
    for (std::size_t i = 0; i < per_channel; ++i) {
      if (!IssueClosedOe(d, channel)) break;
    }
  }
  d->sending_done.store(true, std::memory_order_release);
  PollOe(d);
}

void Runner::RecordOeFailure(Driver* d, const OePending& p, int agency, const std::string& code,
                             const std::string& message, bool reject, bool response) {
  std::lock_guard<std::mutex> lock(d->mu);
  std::string key;
  if (reject) {
    d->rejected.fetch_add(1, std::memory_order_relaxed);
    key = message.substr(0, message.find_first_of(": "));
    ++d->reject_reasons[key];
  } else {
    d->errors.fetch_add(1, std::memory_order_relaxed);
    key = code;
    ++(response ? d->response_codes : d->error_codes)[key];
  }
  if (!d->first_example.contains(key)) {
    std::string what = p.type == CallType::kCancel
                           ? absl::StrCat("cancel of offer ", p.offer_id)
                           : absl::StrCat(p.buy ? "buy " : "sell ", p.lots, " ",
                                          workload_->plans()[p.pair].symbol, " at ", p.price);
    d->first_example[key] = absl::StrCat("e.g. ", what, " by ", o_.agencies[agency].agency,
                                         response ? " (order-entry response)" : " (order-entry)",
                                         ": ", code, ": ", message);
  }
}

void Runner::ReadOe(OeStream* s) {
  if (batches_) {
    s->rw_batch->Read(&s->response_batch, OeTag(s, kOeRead));
  } else {
    s->rw->Read(&s->response, OeTag(s, kOeRead));
  }
}

void Runner::FinishOe(OeStream* s) {
  if (batches_) {
    s->rw_batch->Finish(&s->status, OeTag(s, kOeFinished));
  } else {
    s->rw->Finish(&s->status, OeTag(s, kOeFinished));
  }
}

void Runner::CompleteOe(Driver* d, OeStream* s, const v1::OrderEntryResponse& r) {
  const std::int64_t now = Now();
  d->last_reply_ns = std::max(d->last_reply_ns, now);
  OePending p;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    auto it = s->in_flight.find(r.correlation_id());
    if (it != s->in_flight.end()) {
      p = it->second;
      s->in_flight.erase(it);
      known = true;
    }
    TryWriteLocked(s);
    MaybeWritesDoneLocked(d, s);
  }
  if (!known) {
    std::lock_guard<std::mutex> lock(d->mu);
    d->errors.fetch_add(1, std::memory_order_relaxed);
    ++d->response_codes["UNKNOWN_CORRELATION_ID"];
    return;
  }
  if (p.type == CallType::kSubmit && p.kind == OpKind::kCross) {
    NoteRound(d, p.op, r.code() == 0 ? SubmitOutcome(r.submit(), s->agency) : kRoundDead);
  }
  if (r.code() != 0) {
    const std::string& message = r.message();
    RecordOeFailure(d, p, s->agency, CodeName(static_cast<grpc::StatusCode>(r.code())), message,
                    message.rfind("REJECT_REASON_", 0) == 0, true);
    return;
  }
  d->ok.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t seq = 0;
  if (p.type == CallType::kSubmit) {
    d->fills.fetch_add(r.submit().fills_size(), std::memory_order_relaxed);
    seq = r.submit().seq();
    if (p.kind == OpKind::kPassive && r.submit().offer().state() == v1::OFFER_STATE_OPEN) {
      std::lock_guard<std::mutex> lock(d->passive_mu);
      d->passive.emplace_back(s->agency, r.submit().offer().offer_id());
    }
  } else {
    seq = r.cancel().seq();
  }
  d->max_seq[s->agency] = std::max(d->max_seq[s->agency], seq);
  std::lock_guard<std::mutex> lock(d->mu);
  (p.type == CallType::kCancel ? d->cancel_hist : d->submit_hist).Record(now - p.due_ns);
  d->rtt_hist.Record(now - p.sent_ns);
}

bool Runner::HandleOe(Driver* d, OeStream* s, int op, bool ok) {
  switch (op) {
    case kOeStarted: {
      std::lock_guard<std::mutex> lock(s->mu);
      if (!ok) {
        s->broken = true;
        FinishOe(s);
        return false;
      }
      s->started = true;
      ReadOe(s);
      TryWriteLocked(s);
      MaybeWritesDoneLocked(d, s);
      return false;
    }
    case kOeRead:
      if (!ok) {
        std::lock_guard<std::mutex> lock(s->mu);
        FinishOe(s);
        return false;
      }
      if (batches_) {
        for (const v1::OrderEntryResponse& r : s->response_batch.responses()) {
          CompleteOe(d, s, r);
          // Closed loop: the response freed a place in the channel's windows.
          if (o_.rate == 0) IssueClosedOe(d, s->channel);
        }
      } else {
        CompleteOe(d, s, s->response);
        if (o_.rate == 0) IssueClosedOe(d, s->channel);
      }
      ReadOe(s);
      return false;
    case kOeWrite: {
      std::lock_guard<std::mutex> lock(s->mu);
      s->write_pending = false;
      if (!ok) {
        s->broken = true;  // the stream is gone; its read fails and Finish reports why
        return false;
      }
      TryWriteLocked(s);
      MaybeWritesDoneLocked(d, s);
      return false;
    }
    case kOeWritesDone: {
      std::lock_guard<std::mutex> lock(s->mu);
      s->write_pending = false;
      return false;
    }
    case kOeFinished:
      break;
  }
  std::deque<OePending> lost;
  bool cancelled_by_us = false;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->finished = true;
    s->broken = true;
    cancelled_by_us = s->cancelled_by_us;
    for (auto& [id, p] : s->in_flight) lost.push_back(p);
    for (auto& q : s->queue) lost.push_back(q.info);
    s->in_flight.clear();
    s->queue.clear();
  }
  std::string code = cancelled_by_us ? "DEADLINE_EXCEEDED" : CodeName(s->status.error_code());
  std::string message = cancelled_by_us ? "no response before the drain deadline (cancelled)"
                                        : s->status.error_message();
  if (s->status.ok() && !lost.empty()) {
    code = "UNKNOWN";
    message = "the stream ended with OK before answering";
  }
  for (const OePending& p : lost) {
    RecordOeFailure(d, p, s->agency, code, message, false, false);
    if (p.type == CallType::kSubmit && p.kind == OpKind::kCross) NoteRound(d, p.op, kRoundDead);
  }
  if (!s->status.ok() && !cancelled_by_us) {
    std::lock_guard<std::mutex> lock(d->mu);
    d->first_example.emplace(
        absl::StrCat("stream ", o_.agencies[s->agency].agency, " channel ", s->channel),
        absl::StrCat("order-entry stream failed: ", CodeName(s->status.error_code()), ": ",
                     s->status.error_message()));
  }
  return true;
}

void Runner::SweepOe(Driver* d) {
  const std::int64_t now = Now();
  if (!d->oe_over) {
    const bool over =
        o_.rate > 0 ? d->sending_done.load(std::memory_order_acquire)
                    : (now >= end_ns_ || next_op_.load(std::memory_order_relaxed) >= total_ops_);
    if (!over) return;
    d->oe_over = true;
    d->oe_over_ns = now;
  }
  const bool give_up = now - d->oe_over_ns > o_.deadline_ms * 1000000;
  for (OeStream* s : d->streams) {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->finished) continue;
    MaybeWritesDoneLocked(d, s);
    if (give_up && !s->cancelled_by_us) {
      s->cancelled_by_us = true;
      s->broken = true;
      s->ctx.TryCancel();
    }
  }
}

void Runner::PollOe(Driver* d) {
  std::size_t open = d->streams.size();
  std::int64_t last_sweep = 0;
  while (open > 0) {
    void* tag = nullptr;
    bool ok = false;
    auto status = d->cq.AsyncNext(&tag, &ok,
                                  std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status == grpc::CompletionQueue::GOT_EVENT) {
      const auto bits = reinterpret_cast<std::uintptr_t>(tag);
      auto* s = reinterpret_cast<OeStream*>(bits & ~std::uintptr_t{7});
      if (HandleOe(d, s, static_cast<int>(bits & 7), ok)) --open;
    }
    // Streams idle when the sending ended get their half-close here (10 ms at most late).
    const std::int64_t now = Now();
    if (now - last_sweep >= 10000000) {
      last_sweep = now;
      SweepOe(d);
    }
  }
  // Every stream finished; what is left are completions of writes that were pending.
  d->cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (d->cq.Next(&tag, &ok)) {
  }
}

}  // namespace msx::loadgen::internal
