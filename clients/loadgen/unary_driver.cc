// --api unary: each operation is one async SubmitOffer or CancelOffer call (or an Echo call
// with --echo), issued on its driver's completion queue and completed by its poller thread;
// in closed loop each channel keeps one call in flight. See runner.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "clients/loadgen/runner.h"

namespace msx::loadgen::internal {

void Runner::Issue(Driver* d, std::uint64_t op_index, std::int64_t due, int channel) {
  d->inflight.fetch_add(1, std::memory_order_acq_rel);  // before the call can complete
  auto* call = new Call;
  call->op = op_index;
  call->channel = channel;
  call->due_ns = due;
  call->attempt = failover_->Start();
  const std::uint64_t client_id = client_id_base_ + op_index + 1;
  if (o_.echo) {
    // A SubmitOfferRequest of the size the exchange run sends.
    call->type = CallType::kEcho;
    call->submit.set_client_offer_id(client_id);
    call->submit.set_pair("CO-99.8/GA-4N");
    call->submit.set_side(op_index % 2 ? v1::SIDE_BUY : v1::SIDE_SELL);
    call->submit.set_lots(1 + static_cast<std::int64_t>(op_index % 2));
    call->submit.set_price(2121);
    call->submit.set_time_in_force(v1::TIME_IN_FORCE_GTC);
  } else {
    call->type = PrepareOp(d, op_index, &call->kind, &call->agency, &call->submit, &call->cancel);
    if (call->type == CallType::kCancel) {
      d->cancels.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (op_index < capacity_) {
        SlotRef(op_index).store(due + 1, std::memory_order_release);
      }
      d->submits.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const std::int64_t sent_ns = Now();
  StartCall(d, call);
  // `call` may already be completed and deleted by the poller: do not touch it here.
  d->max_lag_ns = std::max(d->max_lag_ns, sent_ns - due);
  d->sent.fetch_add(1, std::memory_order_relaxed);
}

void Runner::StartCall(Driver* d, Call* call) {
  call->ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(o_.deadline_ms));
  call->sent_ns = Now();
  const int channel = call->channel;
  switch (call->type) {
    case CallType::kEcho:
      call->echo_rpc = echo_stubs_[channel]->PrepareAsyncEcho(&call->ctx, call->submit, &d->cq);
      call->echo_rpc->StartCall();
      call->echo_rpc->Finish(&call->echo_reply, &call->status, call);
      break;
    case CallType::kCancel:
      Authorize(&call->ctx, call->agency);
      call->cancel_rpc = Stub(call->attempt.index, channel)
                             ->PrepareAsyncCancelOffer(&call->ctx, call->cancel, &d->cq);
      call->cancel_rpc->StartCall();
      call->cancel_rpc->Finish(&call->cancel_reply, &call->status, call);
      break;
    case CallType::kSubmit:
      Authorize(&call->ctx, call->agency);
      call->submit_rpc = Stub(call->attempt.index, channel)
                             ->PrepareAsyncSubmitOffer(&call->ctx, call->submit, &d->cq);
      call->submit_rpc->StartCall();
      call->submit_rpc->Finish(&call->submit_reply, &call->status, call);
      break;
  }
}

bool Runner::MaybeFailOver(Driver* d, Call* call) {
  // Only the exchange's calls, and only UNAVAILABLE ("not here"); the same request goes
  // to the next server: a submit keeps its client offer id (a command the old primary
  // executed is answered with its original offer), a cancel is absolute.
  if (call->type == CallType::kEcho ||
      call->status.error_code() != grpc::StatusCode::UNAVAILABLE ||
      !failover_->OnUnavailable(&call->attempt)) {
    return false;
  }
  auto next = std::make_unique<Call>();
  next->type = call->type;
  next->kind = call->kind;
  next->op = call->op;
  next->agency = call->agency;
  next->channel = call->channel;
  next->due_ns = call->due_ns;
  next->attempt = call->attempt;
  next->submit = std::move(call->submit);
  next->cancel = std::move(call->cancel);
  delete call;
  d->retries.push_back(std::move(next));
  return true;
}

void Runner::IssueDueRetries(Driver* d) {
  const auto now = clients::ServerFailover::Clock::now();
  while (!d->retries.empty() && d->retries.front()->attempt.not_before <= now) {
    StartCall(d, d->retries.front().release());
    d->retries.pop_front();
  }
}

void Runner::Complete(Driver* d, Call* call) {
  std::unique_ptr<Call> owned(call);
  const std::int64_t now = Now();
  d->last_reply_ns = std::max(d->last_reply_ns, now);
  const grpc::Status& s = call->status;
  if (s.ok() && failover_->size() > 1) failover_->OnAnswered(call->attempt);
  if (call->type == CallType::kSubmit && call->kind == OpKind::kCross) {
    NoteRound(d, call->op, s.ok() ? SubmitOutcome(call->submit_reply, call->agency) : kRoundDead);
  }
  if (s.ok()) {
    d->ok.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seq = 0;
    if (call->type == CallType::kSubmit) {
      d->fills.fetch_add(call->submit_reply.fills_size(), std::memory_order_relaxed);
      seq = call->submit_reply.seq();
      if (call->kind == OpKind::kPassive &&
          call->submit_reply.offer().state() == v1::OFFER_STATE_OPEN) {
        std::lock_guard<std::mutex> lock(d->passive_mu);
        d->passive.emplace_back(call->agency, call->submit_reply.offer().offer_id());
      }
    } else if (call->type == CallType::kCancel) {
      seq = call->cancel_reply.seq();
    }
    if (call->type != CallType::kEcho) {
      d->max_seq[call->agency] = std::max(d->max_seq[call->agency], seq);
    }
    std::lock_guard<std::mutex> lock(d->mu);
    (call->type == CallType::kCancel ? d->cancel_hist : d->submit_hist).Record(now - call->due_ns);
    d->rtt_hist.Record(now - call->sent_ns);
    return;
  }
  const std::string& message = s.error_message();
  std::lock_guard<std::mutex> lock(d->mu);
  std::string key;
  if (message.rfind("REJECT_REASON_", 0) == 0) {
    d->rejected.fetch_add(1, std::memory_order_relaxed);
    key = message.substr(0, message.find_first_of(": "));
    ++d->reject_reasons[key];
  } else {
    d->errors.fetch_add(1, std::memory_order_relaxed);
    key = CodeName(s.error_code());
    ++d->error_codes[key];
  }
  if (!d->first_example.contains(key)) {
    std::string what = call->type == CallType::kCancel
                           ? absl::StrCat("cancel of offer ", call->cancel.offer_id())
                           : absl::StrCat(call->submit.side() == v1::SIDE_BUY ? "buy " : "sell ",
                                          call->submit.lots(), " ", call->submit.pair(), " at ",
                                          call->submit.price());
    d->first_example[key] = absl::StrCat(
        "e.g. ", what, o_.echo ? "" : absl::StrCat(" by ", o_.agencies[call->agency].agency), ": ",
        CodeName(s.error_code()), ": ", message);
  }
}

void Runner::Poll(Driver* d) {
  while (!(d->sending_done.load(std::memory_order_acquire) &&
           d->inflight.load(std::memory_order_acquire) == 0)) {
    void* tag = nullptr;
    bool ok = false;
    if (!d->retries.empty()) IssueDueRetries(d);
    auto status = d->cq.AsyncNext(&tag, &ok,
                                  std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status != grpc::CompletionQueue::GOT_EVENT) continue;
    auto* call = static_cast<Call*>(tag);
    if (MaybeFailOver(d, call)) continue;  // still in flight, on the next server
    int channel = call->channel;
    Complete(d, call);
    d->inflight.fetch_sub(1, std::memory_order_acq_rel);
    // Closed loop: the channel's next call; none once the count or duration is reached.
    if (o_.rate == 0) IssueClosed(d, channel);
  }
}

bool Runner::IssueClosed(Driver* d, int channel) {
  std::int64_t now = Now();
  if (now >= end_ns_) return false;
  std::uint64_t op = next_op_.fetch_add(1, std::memory_order_relaxed);
  if (op >= total_ops_) return false;
  Issue(d, op, now, channel);
  return true;
}

void Runner::DriveClosedLoop(Driver* d) {
  for (int channel : d->channels) IssueClosed(d, channel);
  d->sending_done.store(true, std::memory_order_release);
  Poll(d);
}

}  // namespace msx::loadgen::internal
