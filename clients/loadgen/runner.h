// Internal to msx-loadgen: the Runner (one benchmark run) and the state its drivers share.
// RunLoad (loadgen.h) is the only user. The Runner's methods live by driver:
//   loadgen.cc             setup, the run (threads, progress, totals, cleanup), operations
//                          drawn from the workload, the open-loop sender, crossing rounds
//   unary_driver.cc        --api unary: one async SubmitOffer/CancelOffer call per operation
//   order_entry_driver.cc  --api order-entry(-batches): operations pipelined on streams
//   execution_streams.cc   each agency's execution stream (exec latency, fills seen)
// The run's totals become a Summary (summary.h).
//
// Thread-safety: see each struct; a Runner is driven by RunLoad's threads only.
#ifndef MSX_CLIENTS_LOADGEN_RUNNER_H_
#define MSX_CLIENTS_LOADGEN_RUNNER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/common/failover.h"
#include "clients/loadgen/histogram.h"
#include "clients/loadgen/options.h"
#include "clients/loadgen/summary.h"
#include "clients/loadgen/workload.h"
#include "msx/bench/echo.grpc.pb.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::loadgen::internal {

using Clock = std::chrono::steady_clock;

// "UNAVAILABLE", ...; "CODE_<n>" outside the canonical codes.
std::string CodeName(grpc::StatusCode code);

// Exec-latency slots hold "due time + 1" (0 = unset); this marks a slot already used.
constexpr std::int64_t kSlotConsumed = -1;
// order-entry-batches: most requests the generator puts in one message.
constexpr int kMaxRequestsPerBatch = 256;

// Outcomes of a crossing half (Runner::NoteRound); a resting offer is
// (offer id << 8) | (agency << 2) | kRoundResting.
constexpr std::uint64_t kRoundDead = 1, kRoundDone = 2, kRoundResting = 3;
inline std::uint64_t RestingOutcome(std::uint64_t offer_id, int agency) {
  return offer_id << 8 | static_cast<std::uint64_t>(agency) << 2 | kRoundResting;
}
// What a submit reply says about a crossing half.
inline std::uint64_t SubmitOutcome(const v1::SubmitOfferResponse& r, int agency) {
  if (r.offer().state() == v1::OFFER_STATE_FILLED || r.fills_size() > 0) return kRoundDone;
  if (r.offer().state() == v1::OFFER_STATE_OPEN)
    return RestingOutcome(r.offer().offer_id(), agency);
  return kRoundDead;
}

enum class CallType { kSubmit, kCancel, kEcho };

// One in-flight unary call. Owned by its driver from Issue() until its completion. A call
// answered UNAVAILABLE that fails over is copied (same request) into a new Call for the
// next server: a ClientContext serves one RPC.
struct Call {
  CallType type = CallType::kSubmit;
  OpKind kind = OpKind::kCross;
  std::uint64_t op = 0;
  int agency = 0;
  int channel = 0;
  std::int64_t due_ns = 0;  // relative to the run's start
  std::int64_t sent_ns = 0;
  clients::ServerFailover::Attempt attempt;  // which server, and the failover so far
  grpc::ClientContext ctx;
  grpc::Status status;
  v1::SubmitOfferRequest submit;
  v1::SubmitOfferResponse submit_reply;
  v1::CancelOfferRequest cancel;
  v1::CancelOfferResponse cancel_reply;
  v1::SubmitOfferRequest echo_reply;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SubmitOfferResponse>> submit_rpc;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::CancelOfferResponse>> cancel_rpc;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SubmitOfferRequest>> echo_rpc;
};

struct OeStream;

// One completion queue and its channels. In open loop a sender thread issues calls at
// their due times and a poller thread completes them; in closed loop the poller does both.
// Counters are atomics so the progress thread can read them.
struct Driver {
  int id = 0;
  grpc::CompletionQueue cq;
  std::vector<int> channels;
  std::size_t next_channel = 0;        // sender only
  std::int64_t max_lag_ns = 0;         // sender only
  std::vector<std::uint64_t> max_seq;  // poller only: per agency, from OK replies
  std::int64_t last_reply_ns = 0;      // poller only
  std::atomic<std::int64_t> inflight{0};
  std::atomic<bool> sending_done{false};

  std::mutex passive_mu;
  std::deque<std::pair<int, std::uint64_t>> passive;  // (agency, offer id) resting offers
  // Orphans (see NoteRound), cancelled before anything else: by the mix's cancels and in
  // place of its passive offers, so that their reserved holdings come back at once.
  std::deque<std::pair<int, std::uint64_t>> orphan_queue;

  std::atomic<std::uint64_t> sent{0}, ok{0}, rejected{0}, errors{0}, fills{0};
  std::atomic<std::uint64_t> submits{0}, cancels{0};
  std::atomic<std::uint64_t> orphans{0};  // resting halves of failed rounds, queued to cancel
  // Calls answered UNAVAILABLE, waiting to be sent to the next server (poller only; still
  // counted in `inflight`).
  std::deque<std::unique_ptr<Call>> retries;

  std::vector<OeStream*> streams;  // --api order-entry: this driver's streams
  bool oe_over = false;            // poller only: no operation will be drawn anymore
  std::int64_t oe_over_ns = 0;     // poller only: since when

  std::mutex mu;  // guards the histograms and maps below
  LatencyHistogram submit_hist, cancel_hist, rtt_hist;
  std::map<std::string, std::uint64_t> error_codes, reject_reasons;
  std::map<std::string, std::uint64_t> response_codes;  // order-entry: per-response errors
  std::map<std::string, std::string> first_example;     // reason or code -> one instance
};

// ---- --api order-entry ----

// One operation on an OrderEntry stream, from the moment it is drawn until its response.
struct OePending {
  std::uint64_t op = 0;
  CallType type = CallType::kSubmit;
  OpKind kind = OpKind::kCross;
  std::int64_t due_ns = 0;   // open loop: scheduled time; closed loop: when drawn
  std::int64_t sent_ns = 0;  // when its write started
  // What it asked for, to describe an example of a reject or error.
  std::uint64_t offer_id = 0;  // cancels
  int pair = 0;
  bool buy = false;
  std::int64_t lots = 0, price = 0;
};

struct OeQueued {
  OePending info;
  v1::OrderEntryRequest request;
};

// One OrderEntry stream: a channel's session as one agency. Requests are written one at a
// time (gRPC allows one write in flight) while up to `window` are unanswered; the rest
// wait in `queue`. The correlation id is the operation index + 1. Its driver's poller
// thread handles every completion; the open-loop sender only queues and starts writes,
// both under `mu`.
struct OeStream {
  int agency = 0;
  int channel = 0;
  Driver* driver = nullptr;
  grpc::ClientContext ctx;
  // One of the two, by --api (order-entry / order-entry-batches).
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::OrderEntryRequest, v1::OrderEntryResponse>> rw;
  std::unique_ptr<
      grpc::ClientAsyncReaderWriter<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>>
      rw_batch;
  v1::OrderEntryResponseBatch response_batch;  // the read in flight (batches)
  v1::OrderEntryRequestBatch writing_batch;    // the write in flight (batches)
  v1::OrderEntryResponse response;             // the read in flight (poller only)
  grpc::Status status;                         // filled by Finish
  std::mutex mu;
  std::deque<OeQueued> queue;                               // drawn, not yet written
  absl::flat_hash_map<std::uint64_t, OePending> in_flight;  // written, unanswered
  v1::OrderEntryRequest writing;                            // the write in flight
  bool started = false;
  bool write_pending = false;  // a Write or WritesDone in flight
  bool writes_done = false;
  bool broken = false;  // failed or cancelled: nothing more is written
  bool cancelled_by_us = false;
  bool finished = false;
};

// Per-agency execution stream state. All streams are read on one completion queue by one
// thread (async API): with a blocking reader thread per stream, every report cost a
// wake-up of that thread by whichever thread had polled the socket (about two thread
// wake-ups per command in the generator, measured with perf sched_wakeup).
struct Stream {
  int agency = 0;
  // Replaced when the stream resumes on another server (see Runner::ResumeStream); the
  // swap and TryCancel happen under `mu`.
  std::unique_ptr<grpc::ClientContext> ctx;
  clients::ServerFailover::Attempt attempt;  // the server it reads from
  bool stopping = false;                     // guarded by mu: StopStreams was called
  // One of the two, by LoadgenOptions::exec_stream.
  std::unique_ptr<grpc::ClientAsyncReader<v1::ExecutionReport>> reader;
  std::unique_ptr<grpc::ClientAsyncReader<v1::ExecutionReportBatch>> batch_reader;
  v1::ExecutionReport report;      // the read in flight (reports)
  v1::ExecutionReportBatch batch;  // the read in flight (batches)
  grpc::Status status;             // filled by Finish
  std::atomic<std::uint64_t> last_seq{0};
  std::atomic<std::uint64_t> reports{0}, fills{0};
  std::atomic<std::int64_t> last_message_ns{0};
  std::atomic<bool> done{false};
  std::mutex mu;
  LatencyHistogram exec_hist;
  std::string error;
};

class Runner {
 public:
  explicit Runner(const LoadgenOptions& o)
      : o_(o),
        order_entry_(o.api == "order-entry" || o.api == "order-entry-batches"),
        batches_(o.api == "order-entry-batches") {}
  ~Runner() {
    std::free(due_slots_);
    std::free(round_slots_);
  }

  absl::StatusOr<Summary> Run();

 private:
  std::int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count();
  }
  void Authorize(grpc::ClientContext* ctx, int agency) const {
    ctx->AddMetadata("authorization", bearer_[agency]);
  }
  absl::Status Setup();
  void StartStreams();
  void RunStreams();  // the stream thread
  void StopStreams();
  void SendOpenLoop(Driver* d);
  void Poll(Driver* d);
  void DriveClosedLoop(Driver* d);
  bool IssueClosed(Driver* d, int channel);
  void Issue(Driver* d, std::uint64_t op, std::int64_t due, int channel);
  // Turns operation `op_index` into a submit or (when a passive offer of this driver rests)
  // a cancel: fills `submit` or `cancel`, the operation's kind and agency.
  CallType PrepareOp(Driver* d, std::uint64_t op_index, OpKind* kind, int* agency,
                     v1::SubmitOfferRequest* submit, v1::CancelOfferRequest* cancel,
                     int* pair = nullptr);
  void Complete(Driver* d, Call* call);
  // A crossing half was answered: `outcome` is kRoundDead (rejected, failed or cancelled at
  // once), kRoundDone (filled), or RestingOutcome(). When the other half was answered
  // before and one half rests while the other is dead, the resting one can never fill
  // (an orphan): it goes to the driver's orphan queue, cancelled in the next cancel or
  // passive slot of the mix, so that orphans do not pile up and reserve the agencies' holdings
  // (which would turn later offers into INSUFFICIENT_HOLDINGS rejects, and more orphans, when many
  // requests are in flight).
  void NoteRound(Driver* d, std::uint64_t op, std::uint64_t outcome);
  // --api order-entry (see OeStream).
  void StartOrderEntry(const std::vector<std::unique_ptr<Driver>>& drivers);
  OeStream* StreamOf(int channel, int agency) const {
    return oe_streams_[static_cast<std::size_t>(channel) * o_.agencies.size() + agency].get();
  }
  // Draws nothing itself: sends operation `op_index` on `channel`'s stream of its agency.
  // False when that stream is broken (the operation is then counted as an error).
  bool IssueOe(Driver* d, std::uint64_t op_index, std::int64_t due, int channel);
  bool IssueClosedOe(Driver* d, int channel);
  void DriveClosedLoopOe(Driver* d);
  void PollOe(Driver* d);
  // Returns true when the stream finished (its last completion).
  bool HandleOe(Driver* d, OeStream* s, int op, bool ok);
  void CompleteOe(Driver* d, OeStream* s, const v1::OrderEntryResponse& r);
  // The stream's next read / its Finish / its half-close, on whichever API it uses.
  void ReadOe(OeStream* s);
  void FinishOe(OeStream* s);
  void TryWriteLocked(OeStream* s);
  void MaybeWritesDoneLocked(Driver* d, OeStream* s);
  void SweepOe(Driver* d);
  void RecordOeFailure(Driver* d, const OePending& p, int agency, const std::string& code,
                       const std::string& message, bool reject, bool response);
  void HandleReport(Stream* s, const v1::ExecutionReport& r);
  // Opens (or, after an UNAVAILABLE end, reopens on s->attempt's server) an agency's
  // execution stream after the last seq it saw. Stream thread (or StartStreams).
  void OpenStream(Stream* s);
  // Starts `call`'s RPC on the server of call->attempt. Sender or poller thread.
  void StartCall(Driver* d, Call* call);
  // An UNAVAILABLE answer: queues a copy of `call` for the next server and returns true,
  // or returns false when the call must fail (one server, window over, echo). Poller only.
  bool MaybeFailOver(Driver* d, Call* call);
  void IssueDueRetries(Driver* d);  // poller only
  v1::Exchange::Stub* Stub(std::size_t server, int channel) const {
    return stubs_[server * static_cast<std::size_t>(o_.concurrency) + channel].get();
  }
  void Progress(const std::vector<std::unique_ptr<Driver>>& drivers, std::int64_t now) const;
  std::atomic_ref<std::int64_t> SlotRef(std::uint64_t op) {
    return std::atomic_ref<std::int64_t>(due_slots_[op]);
  }

  const LoadgenOptions& o_;
  const bool order_entry_;  // --api order-entry or order-entry-batches
  const bool batches_;      // --api order-entry-batches
  std::unique_ptr<clients::ServerFailover> failover_;  // the --server list
  // server * concurrency + channel (one server for --echo and order-entry).
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::Exchange::Stub>> stubs_;
  std::vector<std::unique_ptr<bench::Echo::Stub>> echo_stubs_;
  std::unique_ptr<Workload> workload_;
  std::vector<std::string> bearer_;
  std::vector<std::string> notes_;
  std::uint64_t start_seq_ = 0;
  std::uint64_t client_id_base_ = 0;
  std::int64_t* due_slots_ = nullptr;  // calloc'd: untouched pages cost nothing
  // Per crossing round (op / 2), the outcome of the half answered first (RoundOutcome); 0
  // until then. calloc'd with capacity_ / 2 + 1 entries.
  std::uint64_t* round_slots_ = nullptr;
  std::uint64_t capacity_ = 0;
  Clock::time_point start_;
  std::int64_t base_ns_ = 0;      // when the drivers started, relative to start_
  std::int64_t interval_ns_ = 0;  // open loop: nanoseconds between due times
  std::uint64_t total_ops_ = UINT64_MAX;
  std::int64_t end_ns_ = INT64_MAX;
  std::atomic<std::uint64_t> next_op_{0};  // closed loop
  grpc::CompletionQueue stream_cq_;        // declared first: outlives the streams' calls
  std::vector<std::unique_ptr<Stream>> streams_;
  std::thread stream_thread_;
  std::vector<std::unique_ptr<v1::Exchange::Stub>> stream_stubs_;  // per server
  // --api order-entry: channel * agencies + agency -> stream. Outlives the drivers' queues
  // (declared after nothing that refers to it; drivers drain their queues before Run ends).
  std::vector<std::unique_ptr<OeStream>> oe_streams_;
  // Most requests in flight on one stream. Open loop: --window; requests due while it is
  // full wait in the stream's queue and their wait counts as latency. Closed loop: the
  // server's limit, because the window is kept full per channel (window x agencies
  // requests, each sent at once on its agency's stream): capping each stream at the
  // window made the busiest agency's stream queue up behind the others, so the two halves
  // of a crossing round reached the book far apart, rounds of adjacent blocks met as
  // self-matches, and 20-50 % of the offers ended as INSUFFICIENT_HOLDINGS rejects
  // (measured: 0.8 % without the cap, 16 streams x 8).
  std::size_t stream_cap_ = 0;
};

}  // namespace msx::loadgen::internal

#endif  // MSX_CLIENTS_LOADGEN_RUNNER_H_
