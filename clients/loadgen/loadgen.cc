#include "clients/loadgen/loadgen.h"

#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/echo_server.grpc.pb.h"
#include "clients/loadgen/workload.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

std::string CodeName(grpc::StatusCode code) {
  int n = static_cast<int>(code);
  if (n < 0 || n > 16) return absl::StrCat("CODE_", n);
  return kCodeNames[n];
}

// Exec-latency slots hold "due time + 1" (0 = unset); this marks a slot already used.
constexpr std::int64_t kSlotConsumed = -1;
// order-entry-batches: most requests the generator puts in one message.
constexpr int kMaxRequestsPerBatch = 256;

// Outcomes of a crossing half (Runner::NoteRound); a resting offer is
// (offer id << 8) | (agency << 2) | kRoundResting.
constexpr std::uint64_t kRoundDead = 1, kRoundDone = 2, kRoundResting = 3;
std::uint64_t RestingOutcome(std::uint64_t offer_id, int agency) {
  return offer_id << 8 | static_cast<std::uint64_t>(agency) << 2 | kRoundResting;
}
// What a submit reply says about a crossing half.
std::uint64_t SubmitOutcome(const v1::SubmitOfferResponse& r, int agency) {
  if (r.offer().state() == v1::OFFER_STATE_FILLED || r.fills_size() > 0) return kRoundDone;
  if (r.offer().state() == v1::OFFER_STATE_OPEN)
    return RestingOutcome(r.offer().offer_id(), agency);
  return kRoundDead;
}
// Closed-loop runs without --count track exec latency for this many offers at most.
constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 24;
// Each agency must hold a block of rounds at the largest size (plus passive offers).
constexpr std::int64_t kReserveRounds = 2 * static_cast<std::int64_t>(Workload::kBlock);

v1::Side ToProto(Side s) { return s == Side::kBuy ? v1::SIDE_BUY : v1::SIDE_SELL; }

// Microseconds with one decimal, e.g. 52.3, from nanoseconds.
std::string Micros(std::int64_t ns) {
  if (ns < 0) ns = 0;
  return absl::StrCat(ns / 1000, ".", (ns % 1000) / 100);
}

// Seconds with three decimals, from nanoseconds.
std::string Seconds(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1e9);
  return buf;
}

enum class CallType { kSubmit, kCancel, kEcho };

// One in-flight unary call. Owned by its driver from Issue() until its completion.
struct Call {
  CallType type = CallType::kSubmit;
  OpKind kind = OpKind::kCross;
  std::uint64_t op = 0;
  int agency = 0;
  int channel = 0;
  std::int64_t due_ns = 0;  // relative to the run's start
  std::int64_t sent_ns = 0;
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
  grpc::ClientContext ctx;
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
  // passive slot of the mix, so that orphans do not pile up and reserve the agencies' holdings (which would turn later offers into
  // INSUFFICIENT_HOLDINGS rejects, and more orphans, when many requests are in flight).
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
  void Progress(const std::vector<std::unique_ptr<Driver>>& drivers, std::int64_t now) const;
  std::atomic_ref<std::int64_t> SlotRef(std::uint64_t op) {
    return std::atomic_ref<std::int64_t>(due_slots_[op]);
  }

  const LoadgenOptions& o_;
  const bool order_entry_;  // --api order-entry or order-entry-batches
  const bool batches_;      // --api order-entry-batches
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
  std::shared_ptr<grpc::Channel> stream_channel_;
  std::unique_ptr<v1::Exchange::Stub> stream_stub_;
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

absl::Status Runner::Setup() {
  for (const auto& a : o_.agencies) bearer_.push_back("Bearer " + a.token);
  // Distinct channel arguments give each channel its own connection.
  for (int c = 0; c < o_.concurrency; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("msx.loadgen.channel", c);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels_.push_back(
        grpc::CreateCustomChannel(o_.server, grpc::InsecureChannelCredentials(), args));
    if (o_.echo) {
      echo_stubs_.push_back(bench::Echo::NewStub(channels_.back()));
    } else {
      stubs_.push_back(v1::Exchange::NewStub(channels_.back()));
    }
  }
  for (auto& ch : channels_) {
    if (!ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", o_.server));
    }
  }
  if (o_.echo) return absl::OkStatus();

  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(5); };
  v1::ListPairsResponse pairs;
  v1::ListInstrumentsResponse instruments;
  {
    grpc::ClientContext c1, c2;
    c1.set_deadline(deadline());
    c2.set_deadline(deadline());
    Authorize(&c1, 0);
    Authorize(&c2, 0);
    grpc::Status s = stubs_[0]->ListPairs(&c1, {}, &pairs);
    if (s.ok()) s = stubs_[0]->ListInstruments(&c2, {}, &instruments);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("reference data as ", o_.agencies[0].agency, ": ",
                                                 CodeName(s.error_code()), ": ",
                                                 s.error_message()));
    }
  }
  absl::flat_hash_map<std::string, std::int64_t> lot_size;
  for (const auto& i : instruments.instruments()) lot_size[i.symbol()] = i.lot_size();
  std::vector<PairInfo> infos;
  for (const auto& p : pairs.pairs()) {
    PairInfo info;
    info.symbol = p.symbol();
    info.base = p.base();
    info.quote = p.quote();
    info.tick = p.tick();
    info.band_low = p.band_low();
    info.band_high = p.band_high();
    info.reference_price = p.reference_price();
    info.max_lots = p.max_lots();
    info.base_lot_size = lot_size.contains(p.base()) ? lot_size[p.base()] : 1;
    info.halted = p.halted();
    infos.push_back(info);
  }
  std::vector<HoldingsMap> holdings(o_.agencies.size());
  for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    Authorize(&ctx, static_cast<int>(a));
    v1::GetHoldingsResponse h;
    grpc::Status s = stubs_[0]->GetHoldings(&ctx, {}, &h);
    if (!s.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("holdings of ", o_.agencies[a].agency, ": ",
                                                      CodeName(s.error_code()), ": ",
                                                      s.error_message()));
    }
    if (h.agency() != o_.agencies[a].agency) {
      return absl::InvalidArgumentError(absl::StrCat("the token given for ", o_.agencies[a].agency,
                                                     " authenticates as ", h.agency()));
    }
    for (const auto& x : h.holdings()) holdings[a][x.instrument()] = x.available();
  }
  auto plans = PlanPairs(infos, holdings, o_.pairs, o_.max_lots, kReserveRounds, &notes_);
  if (!plans.ok()) return plans.status();
  workload_ = std::make_unique<Workload>(*std::move(plans), o_.cancel_percent, o_.max_lots);

  if (!o_.admin_token.empty()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    ctx.AddMetadata("authorization", "Bearer " + o_.admin_token);
    v1::GetExchangeStatusResponse st;
    v1::Admin::Stub admin(channels_[0]);
    if (admin.GetExchangeStatus(&ctx, {}, &st).ok()) {
      start_seq_ = st.last_seq();
    } else {
      notes_.push_back("admin status unavailable: execution streams replay from seq 0");
    }
  }
  return absl::OkStatus();
}

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

// Completion-queue tags of the stream thread: the Stream's address with the operation in
// the low bits (Stream is at least 8-byte aligned).
enum StreamOp : std::uintptr_t { kStreamStarted = 0, kStreamRead = 1, kStreamFinished = 2 };
void* StreamTag(Stream* s, StreamOp op) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(s) | op);
}

void Runner::StartStreams() {
  stream_channel_ = grpc::CreateChannel(o_.server, grpc::InsecureChannelCredentials());
  stream_stub_ = v1::Exchange::NewStub(stream_channel_);
  v1::StreamExecutionsRequest req;
  req.set_after_seq(start_seq_);
  for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
    auto s = std::make_unique<Stream>();
    s->agency = static_cast<int>(a);
    Authorize(&s->ctx, s->agency);
    if (o_.exec_stream == "reports") {
      s->reader = stream_stub_->PrepareAsyncStreamExecutions(&s->ctx, req, &stream_cq_);
      s->reader->StartCall(StreamTag(s.get(), kStreamStarted));
    } else {
      s->batch_reader = stream_stub_->PrepareAsyncStreamExecutionBatches(&s->ctx, req, &stream_cq_);
      s->batch_reader->StartCall(StreamTag(s.get(), kStreamStarted));
    }
    streams_.push_back(std::move(s));
  }
  stream_thread_ = std::thread([this] { RunStreams(); });
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
  for (auto& s : streams_) s->ctx.TryCancel();
  if (stream_thread_.joinable()) stream_thread_.join();
}

CallType Runner::PrepareOp(Driver* d, std::uint64_t op_index, OpKind* kind, int* agency,
                           v1::SubmitOfferRequest* submit, v1::CancelOfferRequest* cancel,
                           int* pair) {
  Op op = workload_->At(op_index);
  std::pair<int, std::uint64_t> resting{-1, 0};
  if (op.kind == OpKind::kCancel || op.kind == OpKind::kPassive) {
    std::lock_guard<std::mutex> lock(d->passive_mu);
    if (!d->orphan_queue.empty()) {
      // An orphan reserves holdings that later rounds need: cancel it now. A passive
      // offer's slot is taken too (never a crossing half's: its partner would be orphaned).
      resting = d->orphan_queue.front();
      d->orphan_queue.pop_front();
    } else if (op.kind == OpKind::kCancel && !d->passive.empty()) {
      resting = d->passive.front();
      d->passive.pop_front();
    }
  }
  if (resting.first >= 0) {
    *kind = OpKind::kCancel;
    *agency = resting.first;
    cancel->set_offer_id(resting.second);
    return CallType::kCancel;
  }
  if (op.kind == OpKind::kCancel) {
    // Nothing resting to cancel yet: post a passive offer instead.
    const PairPlan& p = workload_->plans()[op_index % workload_->plans().size()];
    op = Op{OpKind::kPassive,
            static_cast<int>(op_index % workload_->plans().size()),
            p.first,
            Side::kSell,
            1,
            p.band_high,
            false};
  }
  *kind = op.kind;
  *agency = op.agency;
  if (pair != nullptr) *pair = op.pair;
  submit->set_client_offer_id(client_id_base_ + op_index + 1);
  submit->set_pair(workload_->plans()[op.pair].symbol);
  submit->set_side(ToProto(op.side));
  submit->set_lots(op.lots);
  submit->set_price(op.price);
  submit->set_time_in_force(v1::TIME_IN_FORCE_GTC);
  return CallType::kSubmit;
}

void Runner::Issue(Driver* d, std::uint64_t op_index, std::int64_t due, int channel) {
  d->inflight.fetch_add(1, std::memory_order_acq_rel);  // before the call can complete
  auto* call = new Call;
  std::int64_t sent_ns = 0;
  call->op = op_index;
  call->channel = channel;
  call->due_ns = due;
  call->ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(o_.deadline_ms));
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
    call->sent_ns = sent_ns = Now();
    call->echo_rpc = echo_stubs_[channel]->PrepareAsyncEcho(&call->ctx, call->submit, &d->cq);
    call->echo_rpc->StartCall();
    call->echo_rpc->Finish(&call->echo_reply, &call->status, call);
  } else {
    call->type = PrepareOp(d, op_index, &call->kind, &call->agency, &call->submit, &call->cancel);
    Authorize(&call->ctx, call->agency);
    if (call->type == CallType::kCancel) {
      call->sent_ns = sent_ns = Now();
      call->cancel_rpc = stubs_[channel]->PrepareAsyncCancelOffer(&call->ctx, call->cancel, &d->cq);
      call->cancel_rpc->StartCall();
      call->cancel_rpc->Finish(&call->cancel_reply, &call->status, call);
      d->cancels.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (op_index < capacity_) {
        SlotRef(op_index).store(due + 1, std::memory_order_release);
      }
      call->sent_ns = sent_ns = Now();
      call->submit_rpc = stubs_[channel]->PrepareAsyncSubmitOffer(&call->ctx, call->submit, &d->cq);
      call->submit_rpc->StartCall();
      call->submit_rpc->Finish(&call->submit_reply, &call->status, call);
      d->submits.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // `call` may already be completed and deleted by the poller: do not touch it here.
  d->max_lag_ns = std::max(d->max_lag_ns, sent_ns - due);
  d->sent.fetch_add(1, std::memory_order_relaxed);
}

void Runner::NoteRound(Driver* d, std::uint64_t op, std::uint64_t outcome) {
  if (op >= capacity_ || o_.agencies.size() > 64) return;
  std::uint64_t other = std::atomic_ref<std::uint64_t>(round_slots_[op / 2])
                            .exchange(outcome, std::memory_order_acq_rel);
  if (other == 0) return;  // the first half answered; its partner decides
  std::uint64_t resting = 0;
  if ((outcome & 3) == kRoundResting && other == kRoundDead) resting = outcome;
  if ((other & 3) == kRoundResting && outcome == kRoundDead) resting = other;
  if (resting == 0) return;
  std::lock_guard<std::mutex> lock(d->passive_mu);
  d->orphan_queue.emplace_back(static_cast<int>((resting >> 2) & 63), resting >> 8);
  d->orphans.fetch_add(1, std::memory_order_relaxed);
}

void Runner::Complete(Driver* d, Call* call) {
  std::unique_ptr<Call> owned(call);
  const std::int64_t now = Now();
  d->last_reply_ns = std::max(d->last_reply_ns, now);
  const grpc::Status& s = call->status;
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

// ---- --api order-entry ----

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

void Runner::SendOpenLoop(Driver* d) {
  // Sleep precisely: the default 50 us timer slack would count as latency.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const std::uint64_t stride = static_cast<std::uint64_t>(o_.threads);
  for (std::uint64_t op = static_cast<std::uint64_t>(d->id);; op += stride) {
    // Due times come from the op index alone, so a late sender catches up in a burst and
    // its lateness counts as latency.
    std::int64_t due = base_ns_ + static_cast<std::int64_t>(op) * interval_ns_;
    if (op >= total_ops_ || due >= end_ns_) break;
    if (due > Now()) std::this_thread::sleep_until(start_ + std::chrono::nanoseconds(due));
    int channel = d->channels[d->next_channel++ % d->channels.size()];
    if (order_entry_) {
      IssueOe(d, op, due, channel);
    } else {
      Issue(d, op, due, channel);
    }
  }
  d->sending_done.store(true, std::memory_order_release);
}

void Runner::Poll(Driver* d) {
  while (!(d->sending_done.load(std::memory_order_acquire) &&
           d->inflight.load(std::memory_order_acquire) == 0)) {
    void* tag = nullptr;
    bool ok = false;
    auto status = d->cq.AsyncNext(&tag, &ok,
                                  std::chrono::system_clock::now() + std::chrono::milliseconds(20));
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status != grpc::CompletionQueue::GOT_EVENT) continue;
    auto* call = static_cast<Call*>(tag);
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

void Runner::Progress(const std::vector<std::unique_ptr<Driver>>& drivers, std::int64_t now) const {
  std::uint64_t sent = 0, ok = 0, rej = 0, err = 0, fills = 0;
  LatencyHistogram h;
  for (const auto& d : drivers) {
    sent += d->sent.load(std::memory_order_relaxed);
    ok += d->ok.load(std::memory_order_relaxed);
    rej += d->rejected.load(std::memory_order_relaxed);
    err += d->errors.load(std::memory_order_relaxed);
    fills += d->fills.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(d->mu);
    h.Merge(d->submit_hist);
  }
  std::uint64_t done = ok + rej + err;
  double secs = static_cast<double>(now) / 1e9;
  std::fprintf(stderr,
               "[%6.1fs] sent %llu ok %llu rejected %llu errors %llu in-flight %llu | "
               "%.0f/s | submit p50 %s us p99 %s us | fills %llu\n",
               secs, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(ok),
               static_cast<unsigned long long>(rej), static_cast<unsigned long long>(err),
               static_cast<unsigned long long>(sent - done),
               secs > 0 ? static_cast<double>(done) / secs : 0.0,
               Micros(h.ValueAtPerMillion(500000)).c_str(),
               Micros(h.ValueAtPerMillion(990000)).c_str(), static_cast<unsigned long long>(fills));
}

absl::StatusOr<Summary> Runner::Run() {
  if (absl::Status s = Setup(); !s.ok()) return s;
  if (o_.count > 0) total_ops_ = static_cast<std::uint64_t>(o_.count);
  if (o_.rate > 0) interval_ns_ = 1000000000 / o_.rate;
  if (interval_ns_ == 0) interval_ns_ = 1;
  capacity_ = std::min<std::uint64_t>(total_ops_, kMaxSlots);
  if (o_.rate > 0 && o_.duration_ms > 0) {
    capacity_ = std::min<std::uint64_t>(
        capacity_, static_cast<std::uint64_t>(o_.duration_ms) * 1000000 / interval_ns_ + 16);
  }
  due_slots_ = static_cast<std::int64_t*>(std::calloc(capacity_, sizeof(std::int64_t)));
  round_slots_ = static_cast<std::uint64_t*>(std::calloc(capacity_ / 2 + 1, sizeof(std::uint64_t)));
  if (due_slots_ == nullptr || round_slots_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate slots");
  }
  client_id_base_ =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())
      << 22;
  start_ = Clock::now();
  if (!o_.echo && o_.exec_stream != "none") {
    StartStreams();
    // Give the subscriptions a moment; anything earlier is replayed from start_seq anyway.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::unique_ptr<Driver>> drivers;
  for (int t = 0; t < o_.threads; ++t) {
    auto d = std::make_unique<Driver>();
    d->id = t;
    d->max_seq.assign(o_.agencies.size(), 0);
    for (int c = t; c < o_.concurrency; c += o_.threads) d->channels.push_back(c);
    drivers.push_back(std::move(d));
  }
  base_ns_ = Now();
  if (o_.duration_ms > 0) end_ns_ = base_ns_ + o_.duration_ms * 1000000;
  std::vector<std::thread> threads;
  stream_cap_ = static_cast<std::size_t>(o_.rate > 0 ? o_.window : kMaxOrderEntryWindow);
  if (order_entry_) StartOrderEntry(drivers);
  for (auto& d : drivers) {
    Driver* raw = d.get();
    if (o_.rate > 0) {
      threads.emplace_back([this, raw] { SendOpenLoop(raw); });
      if (order_entry_) {
        threads.emplace_back([this, raw] { PollOe(raw); });
      } else {
        threads.emplace_back([this, raw] { Poll(raw); });
      }
    } else if (order_entry_) {
      threads.emplace_back([this, raw] { DriveClosedLoopOe(raw); });
    } else {
      threads.emplace_back([this, raw] { DriveClosedLoop(raw); });
    }
  }
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    std::int64_t next = base_ns_ + 1000000000;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::int64_t now = Now();
      if (now >= next) {
        if (o_.progress) Progress(drivers, now - base_ns_);
        next += 1000000000;
      }
    }
  });
  for (auto& t : threads) t.join();
  finished.store(true);
  progress.join();

  Summary sum;
  sum.mode = o_.echo ? "echo" : "exchange";
  sum.api = o_.api;
  sum.exec_stream = o_.echo ? "none" : o_.exec_stream;
  sum.window = order_entry_ ? o_.window : 0;
  sum.streams = static_cast<int>(oe_streams_.size());
  sum.target_rate = o_.rate;
  sum.concurrency = o_.concurrency;
  sum.agencies = o_.echo ? 0 : static_cast<int>(o_.agencies.size());
  sum.pairs = o_.echo ? 0 : static_cast<int>(workload_->plans().size());
  std::vector<std::uint64_t> max_seq(o_.agencies.size(), 0);
  std::map<std::string, std::string> examples;
  for (auto& d : drivers) {
    sum.sent += d->sent.load();
    sum.ok += d->ok.load();
    sum.rejected += d->rejected.load();
    sum.fills += d->fills.load();
    sum.submits += d->submits.load();
    sum.cancels += d->cancels.load();
    sum.orphans += d->orphans.load();
    sum.submit.Merge(d->submit_hist);
    sum.cancel.Merge(d->cancel_hist);
    sum.rtt.Merge(d->rtt_hist);
    for (const auto& [k, v] : d->error_codes) sum.errors[k] += v;
    for (const auto& [k, v] : d->response_codes) sum.response_errors[k] += v;
    for (const auto& [k, v] : d->reject_reasons) sum.reject_reasons[k] += v;
    for (const auto& [k, v] : d->first_example) examples.emplace(k, v);
    sum.elapsed_ns = std::max(sum.elapsed_ns, d->last_reply_ns - base_ns_);
    sum.max_send_lag_ns = std::max(sum.max_send_lag_ns, d->max_lag_ns);
    for (std::size_t a = 0; a < max_seq.size(); ++a) {
      max_seq[a] = std::max(max_seq[a], d->max_seq[a]);
    }
  }

  if (!o_.echo) {
    // Leave the books as we found them: cancel this run's offers still resting (makers
    // whose other half was never sent, passive offers not yet cancelled), which releases
    // their reserved holdings for the next run. Not counted in sent/ok.
    for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
      grpc::ClientContext list_ctx;
      list_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      Authorize(&list_ctx, static_cast<int>(a));
      v1::ListOffersResponse open;
      if (!stubs_[0]->ListOffers(&list_ctx, {}, &open).ok()) continue;
      for (const auto& offer : open.offers()) {
        const std::uint64_t id = offer.client_offer_id();
        if (id <= client_id_base_ || id - client_id_base_ > total_ops_) continue;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        Authorize(&ctx, static_cast<int>(a));
        v1::CancelOfferRequest req;
        req.set_offer_id(offer.offer_id());
        v1::CancelOfferResponse resp;
        if (stubs_[0]->CancelOffer(&ctx, req, &resp).ok()) {
          ++sum.cleanup_cancels;
          max_seq[a] = std::max(max_seq[a], resp.seq());
        }
      }
    }
    // Let the streams catch up: each agency's stream must reach the last sequence number
    // of its own replies, then stay quiet briefly (the resting side's fills arrive at
    // other agencies' sequence numbers).
    const std::int64_t give_up = Now() + 5000000000;
    while (Now() < give_up) {
      bool caught_up = true;
      std::int64_t last_message = 0;
      for (auto& s : streams_) {
        if (!s->done.load() && s->last_seq.load() < max_seq[s->agency]) caught_up = false;
        last_message = std::max(last_message, s->last_message_ns.load());
      }
      if (caught_up && Now() - last_message > 300000000) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    StopStreams();
    for (auto& s : streams_) {
      sum.exec_fills += s->fills.load();
      sum.exec_reports += s->reports.load();
      std::lock_guard<std::mutex> lock(s->mu);
      sum.exec.Merge(s->exec_hist);
      if (!s->error.empty()) {
        sum.notes.push_back(
            absl::StrCat("execution stream of ", o_.agencies[s->agency].agency, ": ", s->error));
      }
    }
  }
  for (const auto& [k, v] : examples) sum.notes.push_back(absl::StrCat(k, " ", v));
  for (auto& n : notes_) sum.notes.push_back(n);
  return sum;
}

}  // namespace

std::uint64_t Summary::error_count() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  for (const auto& [k, v] : response_errors) n += v;
  return n;
}

double Summary::achieved_rate() const {
  if (elapsed_ns <= 0) return 0;
  return static_cast<double>(ok + rejected + error_count()) * 1e9 / static_cast<double>(elapsed_ns);
}

double Summary::offer_rate() const {
  if (elapsed_ns <= 0) return 0;
  return static_cast<double>(submits) * 1e9 / static_cast<double>(elapsed_ns);
}

absl::StatusOr<Summary> RunLoad(const LoadgenOptions& options) {
  Runner runner(options);
  return runner.Run();
}

std::string SummaryJson(const Summary& s) {
  // Decimal figures are rounded to the digits the text summary shows; nlohmann prints the
  // shortest text that reads back as the same double (401.4, 0.3, 2001.0).
  // Dividing by the power of ten (not multiplying by 0.1) gives the double nearest the
  // decimal.
  auto micros = [](std::int64_t ns) {
    return static_cast<double>(std::max<std::int64_t>(ns, 0) / 100) / 10;
  };
  auto decimals = [](double v, double scale) { return std::round(v * scale) / scale; };
  const LatencyHistogram& h = s.submit;
  nlohmann::ordered_json j;
  j["mode"] = s.mode;
  j["api"] = s.api;
  j["window"] = s.window;
  j["exec_stream"] = s.exec_stream;
  j["streams"] = s.streams;
  j["target_rate"] = s.target_rate;
  j["concurrency"] = s.concurrency;
  j["agencies"] = s.agencies;
  j["pairs"] = s.pairs;
  j["sent"] = s.sent;
  j["ok"] = s.ok;
  j["rejected"] = s.rejected;
  j["submits"] = s.submits;
  j["cancels"] = s.cancels;
  j["cleanup_cancels"] = s.cleanup_cancels;
  j["errors"] = nlohmann::ordered_json(s.errors);
  j["response_errors"] = nlohmann::ordered_json(s.response_errors);
  j["reject_reasons"] = nlohmann::ordered_json(s.reject_reasons);
  j["orphans"] = s.orphans;
  j["elapsed_s"] = decimals(static_cast<double>(s.elapsed_ns) / 1e9, 1000);
  j["rate"] = decimals(s.achieved_rate(), 10);
  j["offer_rate"] = decimals(s.offer_rate(), 10);
  j["fills"] = s.fills;
  j["exec_fills"] = s.exec_fills;
  j["exec_reports"] = s.exec_reports;
  j["latency_count"] = h.count();
  j["p50_us"] = micros(h.ValueAtPerMillion(500000));
  j["p90_us"] = micros(h.ValueAtPerMillion(900000));
  j["p99_us"] = micros(h.ValueAtPerMillion(990000));
  j["p999_us"] = micros(h.ValueAtPerMillion(999000));
  j["max_us"] = micros(h.max());
  j["mean_us"] = micros(h.mean());
  j["cancel_p50_us"] = micros(s.cancel.ValueAtPerMillion(500000));
  j["cancel_p99_us"] = micros(s.cancel.ValueAtPerMillion(990000));
  j["rtt_p50_us"] = micros(s.rtt.ValueAtPerMillion(500000));
  j["rtt_p99_us"] = micros(s.rtt.ValueAtPerMillion(990000));
  j["exec_count"] = s.exec.count();
  j["exec_p50_us"] = micros(s.exec.ValueAtPerMillion(500000));
  j["exec_p99_us"] = micros(s.exec.ValueAtPerMillion(990000));
  j["exec_max_us"] = micros(s.exec.max());
  j["max_send_lag_us"] = micros(s.max_send_lag_ns);
  return j.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                nlohmann::ordered_json::error_handler_t::replace);
}

std::string SummaryText(const Summary& s) {
  auto line = [](const char* name, const LatencyHistogram& h) {
    return absl::StrCat("  ", name, " (", h.count(), "): p50 ", Micros(h.ValueAtPerMillion(500000)),
                        "  p90 ", Micros(h.ValueAtPerMillion(900000)), "  p99 ",
                        Micros(h.ValueAtPerMillion(990000)), "  p99.9 ",
                        Micros(h.ValueAtPerMillion(999000)), "  max ", Micros(h.max()), " us\n");
  };
  char rate[32], offer_rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", s.achieved_rate());
  std::snprintf(offer_rate, sizeof(offer_rate), "%.1f", s.offer_rate());
  std::string errors;
  for (const auto& [k, v] : s.errors) absl::StrAppend(&errors, " ", k, "=", v);
  for (const auto& [k, v] : s.response_errors) {
    absl::StrAppend(&errors, " ", k, "=", v, " (in responses)");
  }
  std::string rejects;
  for (const auto& [k, v] : s.reject_reasons) absl::StrAppend(&rejects, " ", k, "=", v);
  std::string out = absl::StrCat(
      "msx-loadgen ", s.mode, ": target ",
      s.target_rate > 0 ? absl::StrCat(s.target_rate, "/s open loop") : std::string("closed loop"),
      ", ", s.concurrency, " channels",
      s.api == "order-entry"
          ? absl::StrCat(", order-entry: ", s.streams, " streams, window ", s.window)
          : std::string(", unary calls"),
      s.mode == "exchange" ? absl::StrCat(", ", s.agencies, " agencies, ", s.pairs, " pairs") : "",
      "\n  sent ", s.sent, " (", s.submits, " submits, ", s.cancels, " cancels), ok ", s.ok,
      ", rejected ", s.rejected, rejects.empty() ? "" : " [" + rejects.substr(1) + "]", ", errors ",
      s.error_count(), errors.empty() ? "" : " [" + errors.substr(1) + "]", "\n  achieved ", rate,
      " calls/s (", offer_rate, " offers/s) over ", Seconds(s.elapsed_ns), " s; fills ", s.fills,
      " (streams saw ", s.exec_fills, "); ", s.cleanup_cancels,
      " offers left resting were cancelled after the run\n");
  out += line("submit->reply us, from due time", s.submit);
  if (s.cancel.count() > 0) out += line("cancel->reply us, from due time", s.cancel);
  out += line("round trip us, from actual send", s.rtt);
  if (s.mode == "exchange") out += line("submit->execution report us", s.exec);
  absl::StrAppend(&out, "  worst send lag behind schedule: ", Micros(s.max_send_lag_ns), " us\n");
  for (const auto& n : s.notes) absl::StrAppend(&out, "  note: ", n, "\n");
  return out;
}

}  // namespace msx::loadgen
