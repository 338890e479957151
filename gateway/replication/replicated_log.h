// ReplicatedLog: the primary's side of replication. Appends one message per journal group
// commit (the records of one or more command groups) to a JetStream stream (file storage, 3
// replicas: the publish is acknowledged once a quorum of the NATS servers has stored it), and
// fences: every append names the stream sequence it must follow, so a writer whose view is stale
// (another primary has written since) can never append. Wire format and headers:
// gateway/replication/README.md.
//
//   auto log = ReplicatedLog::Open(options);          // connects, ensures the stream
//   auto seq = (*log)->Publish(group_bytes, last);    // last = stream seq of previous group
//   if (!seq.ok()) { /* FAILED_PRECONDITION: fenced; UNAVAILABLE: no quorum / timeout */ }
//
// Failure semantics. A failed Publish or PublishAsync means "not known to be stored": the
// message may still be stored later (a proposal the old NATS stream leader had sent before
// it lost quorum can commit when quorum returns). Re-publishing the same payload with the
// same expected_last_seq (same epoch) is idempotent: Publish recognises its own earlier copy
// (by Nats-Msg-Id and payload) and returns its sequence, so a primary that lost quorum can
// resume by re-sending its unconfirmed groups in order with Publish. A different payload
// at that position is reported as fenced.
//
// Thread-safety: Publish, LastSequence and Stream may be called from any thread
// concurrently. PublishAsync and Flush are for one pipeline: call them from one thread at
// a time (the journal writer's), in the order of the expected sequences.
#ifndef MSX_GATEWAY_REPLICATION_REPLICATED_LOG_H_
#define MSX_GATEWAY_REPLICATION_REPLICATED_LOG_H_

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "gateway/replication/nats_connection.h"

namespace msx::replication {

// Header names on each replicated message (see README.md).
inline constexpr char kEpochHeader[] = "Msx-Epoch";
// "<command seq> <engine digest, 16 lower-case hex digits>": Engine::StateDigest() right
// after that command of the message, on the primary (README.md, "Digest checks").
inline constexpr char kDigestHeader[] = "Msx-Digest";
inline constexpr char kMsgIdHeader[] = "Nats-Msg-Id";
inline constexpr char kExpectedLastSeqHeader[] = "Nats-Expected-Last-Sequence";
inline constexpr char kExpectedStreamHeader[] = "Nats-Expected-Stream";

// "<epoch>-<target stream sequence>": unique per writer term and log position, so a
// retried publish is deduplicated by the server and two writers never share an id.
std::string ReplicationMsgId(uint64_t epoch, uint64_t target_seq);

struct StreamConfig {
  std::string name = "MSX_JOURNAL";
  std::string subject = "msx.journal";
  int replicas = 3;
  // Retention limits; zero = unlimited. The stream is the standby's source of truth, so
  // only trim below what every standby has made durable (README.md, "Retention").
  std::chrono::seconds max_age{0};
  int64_t max_bytes = 0;
  int64_t max_msgs = 0;
  // Server-side deduplication window of Nats-Msg-Id; retries must happen within it.
  std::chrono::seconds duplicate_window{120};
};

class ReplicatedLog {
 public:
  struct Options {
    ConnectionOptions connection;
    StreamConfig stream;
    // Leadership epoch of this writer (LeaderLease's record.epoch); >= 1. Goes into every
    // message's Msx-Epoch header and Nats-Msg-Id.
    uint64_t epoch = 0;
    // Publish: overall deadline, retrying inside it after timeouts / leader changes.
    std::chrono::milliseconds publish_timeout{5000};
    // Publish: wait for one attempt's acknowledgement before retrying.
    std::chrono::milliseconds attempt_timeout{1000};
    // PublishAsync: how long each message may wait for its acknowledgement (no retry).
    // The log's own watchdog (one thread, started by the first PublishAsync, then woken
    // every async_timeout / 8, at most every 250 ms, whether or not anything is pending:
    // waking it per publish is what it replaces) fails a message still unacknowledged
    // past it with UNAVAILABLE; so a lost acknowledgement is reported within
    // async_timeout plus one such tick. (The NATS client's per-message timeout is not
    // used: it costs a timer-thread wake-up and a second callback-thread wake-up per
    // message.)
    std::chrono::milliseconds async_timeout{5000};
    // PublishAsync: maximum unacknowledged messages; more blocks the caller up to 200 ms,
    // then fails UNAVAILABLE.
    int max_async_pending = 4096;
    // Publish through the NATS server the stream's leader runs on: once the stream is
    // ensured, Open reconnects to that server when the first connection went elsewhere
    // (the other URLs stay as fail-over). Through another server each publish and its
    // acknowledgement take one more route hop each way, which costs latency and the NATS
    // servers' CPU (bench/results/2026-12-03-standby.md). Best effort: when the leader's
    // server cannot be found or reached, the first connection stays. The connection does
    // not follow the leader after it moves (an election after a server failed).
    bool prefer_stream_leader = true;
  };

  // Connects and ensures the stream: creates it (file storage, options.stream) when
  // missing; an existing stream must have the same subject, storage and replicas.
  // Errors: INVALID_ARGUMENT (bad options), UNAVAILABLE (no server / no JetStream leader),
  // FAILED_PRECONDITION (existing stream configured differently; the message names the
  // field), INTERNAL.
  static absl::StatusOr<std::unique_ptr<ReplicatedLog>> Open(const Options& options);

  // Waits for outstanding asynchronous publishes (their callbacks run), then disconnects.
  ~ReplicatedLog();
  ReplicatedLog(const ReplicatedLog&) = delete;
  ReplicatedLog& operator=(const ReplicatedLog&) = delete;

  // Appends `payload` as stream message expected_last_seq + 1 and waits until a quorum has
  // stored it; returns its stream sequence. expected_last_seq is the sequence of the
  // previous message (0 for an empty stream). An empty payload is the leadership marker a
  // new leader publishes before its first command group (README.md, "Leadership").
  // Errors: FAILED_PRECONDITION "fenced: stream last sequence is X, expected Y" when the
  //   stream's last sequence is not expected_last_seq (nothing is stored);
  //   UNAVAILABLE when no acknowledgement came within publish_timeout (no quorum, no
  //   server): the message may or may not be stored, see the failure semantics above;
  //   INVALID_ARGUMENT for a payload over the server's max_payload.
  // `digest`, when not empty, is sent as the Msx-Digest header.
  absl::StatusOr<uint64_t> Publish(absl::string_view payload, uint64_t expected_last_seq,
                                   absl::string_view digest = {});

  // Result of one asynchronous publish: its stream sequence, or why it failed.
  using PublishCallback = std::function<void(absl::StatusOr<uint64_t>)>;

  // Sends `payload` (copied) as message expected_last_seq + 1 without waiting; `done` runs
  // exactly once, on a NATS client thread or the log's watchdog thread (never inside this
  // call), with the stream sequence or the error: UNAVAILABLE "no acknowledgement within
  // <async_timeout> ms" when none came in time (see Options::async_timeout). Callbacks run in the order of the PublishAsync calls, one at a
  // time; they must not block or call Flush. Once one message of the pipeline fails,
  // every later one fails with the same code ("an earlier publish ... failed: ...")
  // even if the server stored it: the caller acknowledges nothing past a failure and
  // resumes with Publish, which is idempotent. Expected sequences of successive calls
  // must increase (one pipeline, one writer).
  // Errors (returned; `done` is then never called): INVALID_ARGUMENT (expected sequence not
  // above the previous pending one), UNAVAILABLE (too many pending / disconnected),
  // FAILED_PRECONDITION (the pipeline failed earlier and Flush has not been called).
  absl::Status PublishAsync(absl::string_view payload, uint64_t expected_last_seq,
                            PublishCallback done, absl::string_view digest = {});

  // Waits until every asynchronous publish has completed (callbacks returned) or `timeout`
  // passes. Returns the pipeline's first failure since the previous Flush (and clears it,
  // so PublishAsync may be used again), DEADLINE_EXCEEDED on timeout, else OK.
  absl::Status Flush(std::chrono::milliseconds timeout);

  // The stream's last sequence as its leader reports it (0 when empty).
  // Errors: UNAVAILABLE (no leader / no server), NOT_FOUND (no stream).
  absl::StatusOr<uint64_t> LastSequence();

  const Options& options() const { return options_; }
  NatsConnection& connection() { return *conn_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    uint64_t target_seq = 0;
    PublishCallback done;
    bool complete = false;
    absl::StatusOr<uint64_t> result;
    // Not acknowledged by then: failed by the watchdog. Grows with the submission order.
    Clock::time_point deadline;
  };

  explicit ReplicatedLog(const Options& options) : options_(options) {}
  absl::Status EnsureStream();
  // Options::prefer_stream_leader; `js_options` as for the first connection.
  void MoveToStreamLeader(const jsOptions& js_options);
  // Publish's handling of "wrong last sequence": our own earlier copy, or fenced.
  absl::StatusOr<uint64_t> ResolveWrongLastSequence(absl::string_view payload,
                                                    uint64_t expected_last_seq,
                                                    absl::string_view server_text);
  // The client's ack handler for asynchronous publishes (any NATS thread).
  static void OnAsyncAck(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  void CompleteAsync(uint64_t target_seq, absl::StatusOr<uint64_t> result);
  void DeliverCompleted();
  // The watchdog thread: fails pending publishes past their deadline.
  void RunWatchdog();
  // Marks every incomplete publish whose deadline is <= now as failed; true if any.
  bool ExpireLocked(Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopWatchdog();

  const Options options_;
  std::unique_ptr<NatsConnection> conn_;

  absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);  // submission order
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;      // one thread runs callbacks at a time
  absl::Status pipeline_error_ ABSL_GUARDED_BY(mu_);  // first failure since Flush
  // Started by the first PublishAsync; joined by the destructor.
  std::thread watchdog_;
  bool watchdog_stop_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_REPLICATED_LOG_H_
