// Each agency's execution stream (StreamExecutionBatches or StreamExecutions), all read on
// one completion queue by one thread: the fills they show and the latency from an offer's
// due time to its first report. See Stream in runner.h.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "clients/loadgen/runner.h"

namespace msx::loadgen::internal {
namespace {

// Completion-queue tags of the stream thread: the Stream's address with the operation in
// the low bits (Stream is at least 8-byte aligned).
enum StreamOp : std::uintptr_t { kStreamStarted = 0, kStreamRead = 1, kStreamFinished = 2 };
void* StreamTag(Stream* s, StreamOp op) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(s) | op);
}

}  // namespace

void Runner::HandleReport(Stream* s, const v1::ExecutionReport& r) {
  std::uint64_t id = 0;
  bool aggressor_fill = false;
  switch (r.report_case()) {
    case v1::ExecutionReport::kAccepted:
      id = r.accepted().offer().client_offer_id();
      break;
    case v1::ExecutionReport::kFill:
      id = r.fill().client_offer_id();
      aggressor_fill = r.fill().aggressor();
      break;
    case v1::ExecutionReport::kCancelled:
      id = r.cancelled().offer().client_offer_id();
      break;
    case v1::ExecutionReport::kExpired:
      id = r.expired().offer().client_offer_id();
      break;
    case v1::ExecutionReport::kReplaced:
      id = r.replaced().offer().client_offer_id();
      break;
    default:
      break;
  }
  std::int64_t now = Now();
  s->last_seq.store(r.seq(), std::memory_order_release);
  s->last_message_ns.store(now, std::memory_order_release);
  if (id <= client_id_base_ || id - client_id_base_ > capacity_) return;  // not this run's
  s->reports.fetch_add(1, std::memory_order_relaxed);
  if (aggressor_fill) s->fills.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t op = id - client_id_base_ - 1;
  std::int64_t due_plus_one = SlotRef(op).exchange(kSlotConsumed, std::memory_order_acq_rel);
  if (due_plus_one > 0) {
    std::lock_guard<std::mutex> lock(s->mu);
    s->exec_hist.Record(now - (due_plus_one - 1));
  }
}

void Runner::StartStreams() {
  for (const std::string& server : failover_->servers()) {
    stream_stubs_.push_back(
        v1::Exchange::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials())));
  }
  for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
    auto s = std::make_unique<Stream>();
    s->agency = static_cast<int>(a);
    s->attempt = failover_->Start();
    s->last_seq.store(start_seq_, std::memory_order_relaxed);
    OpenStream(s.get());
    streams_.push_back(std::move(s));
  }
  stream_thread_ = std::thread([this] { RunStreams(); });
}

void Runner::OpenStream(Stream* s) {
  // A resume asks for what follows the last report seen: the server answers from history
  // and goes on live, with no gap and no duplicate (also on a standby that took over).
  v1::StreamExecutionsRequest req;
  req.set_after_seq(s->last_seq.load(std::memory_order_acquire));
  std::lock_guard<std::mutex> lock(s->mu);
  s->ctx = std::make_unique<grpc::ClientContext>();
  Authorize(s->ctx.get(), s->agency);
  v1::Exchange::Stub* stub = stream_stubs_[s->attempt.index].get();
  if (o_.exec_stream == "reports") {
    s->reader = stub->PrepareAsyncStreamExecutions(s->ctx.get(), req, &stream_cq_);
    s->reader->StartCall(StreamTag(s, kStreamStarted));
  } else {
    s->batch_reader = stub->PrepareAsyncStreamExecutionBatches(s->ctx.get(), req, &stream_cq_);
    s->batch_reader->StartCall(StreamTag(s, kStreamStarted));
  }
  if (s->stopping) s->ctx->TryCancel();
}

void Runner::RunStreams() {
  std::size_t open = streams_.size();
  void* tag = nullptr;
  bool ok = false;
  while (open > 0 && stream_cq_.Next(&tag, &ok)) {
    const auto bits = reinterpret_cast<std::uintptr_t>(tag);
    Stream* s = reinterpret_cast<Stream*>(bits & ~std::uintptr_t{3});
    switch (static_cast<StreamOp>(bits & 3)) {
      case kStreamStarted:
      case kStreamRead:
        if ((bits & 3) == kStreamRead && ok) {
          if (s->reader) {
            HandleReport(s, s->report);
          } else {
            for (const v1::ExecutionReport& r : s->batch.reports()) HandleReport(s, r);
          }
        }
        if (s->reader) {
          if (ok) {
            s->reader->Read(&s->report, StreamTag(s, kStreamRead));
          } else {
            s->reader->Finish(&s->status, StreamTag(s, kStreamFinished));
          }
        } else if (ok) {
          s->batch_reader->Read(&s->batch, StreamTag(s, kStreamRead));
        } else {
          s->batch_reader->Finish(&s->status, StreamTag(s, kStreamFinished));
        }
        break;
      case kStreamFinished:
        if (s->status.error_code() == grpc::StatusCode::UNAVAILABLE) {
          bool stopping;
          {
            std::lock_guard<std::mutex> lock(s->mu);
            stopping = s->stopping;
          }
          // The server went away (or refused): resume on the next one, after the last seq
          // seen. A standby serves execution streams, so this succeeds at once while the
          // takeover is under way. No pause: reconnecting costs the servers little.
          if (!stopping && failover_->OnUnavailable(&s->attempt)) {
            OpenStream(s);
            break;
          }
        }
        if (!s->status.ok() && s->status.error_code() != grpc::StatusCode::CANCELLED) {
          std::lock_guard<std::mutex> lock(s->mu);
          s->error =
              absl::StrCat(CodeName(s->status.error_code()), ": ", s->status.error_message());
        }
        s->done.store(true);
        --open;
        break;
    }
  }
  stream_cq_.Shutdown();
  while (stream_cq_.Next(&tag, &ok)) {
  }
}

void Runner::StopStreams() {
  for (auto& s : streams_) {
    std::lock_guard<std::mutex> lock(s->mu);
    s->stopping = true;
    if (s->ctx) s->ctx->TryCancel();
  }
  if (stream_thread_.joinable()) stream_thread_.join();
}

}  // namespace msx::loadgen::internal
