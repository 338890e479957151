// ReplicationNode: msx-server's primary/standby role over the replicated journal stream
// (gateway/replication/README.md, "Wiring into msx-server"). One object per server with
// --replicate; it owns the NATS side (ReplicatedLog, LogFollower, LeaderLease) and drives
// the Sequencer:
//
//   standby   control thread: LogFollower::Next -> VerifyReplicatedBatch -> decode each
//             command group -> Sequencer::SubmitReplicated (applied on the sequencer
//             thread with the primary's seq and time, its events compared byte for byte
//             with the replicated ones, journaled and fdatasync'd like any command);
//             client commands refused (UNAVAILABLE naming the primary); queries served.
//             Polls the lease; when vacant: drain to the stream's last message, claim
//             (compare-and-set), publish the leadership marker expecting that sequence,
//             wait until everything applied is durable here, then accept commands.
//   primary   Sequencer commit observer: OnBatchSequenced stages the batch's journal
//             bytes; OnBatchCommitting (once the journal's commit of it started, see
//             SequencerObserver) -> ReplicatedLog::PublishAsync, one message per batch, or
//             per run of batches staged while the previous message was being sent; replies are released (Sequencer::OnDurable) only up to
//             min(journal durable, replicated) (OnJournalDurable / the acks). A failed
//             asynchronous publish switches to re-sending the unconfirmed batches in order
//             with Publish on the control thread (commands are refused with UNAVAILABLE
//             while no quorum answers); "fenced" (someone else wrote) or a lost lease that
//             another node holds fails the server closed for good: UNAVAILABLE,
//             NOT_SERVING, nothing released again. A lease thread renews every
//             lease_renew.
//
// Thread-safety: OnJournalDurable and the observer calls come from the journal / sequencing
// threads; status() from any thread; Start/Stop from the thread that owns the server.
#ifndef MSX_GATEWAY_REPLICATION_NODE_H_
#define MSX_GATEWAY_REPLICATION_NODE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/http/metrics.h"
#include "gateway/replication/leader_lease.h"
#include "gateway/replication/log_follower.h"
#include "gateway/replication/replicated_log.h"
#include "gateway/replication/stream_lag.h"
#include "gateway/sequencer.h"
#include "gateway/sequencer_observer.h"
#include "msx/v1/config.pb.h"

namespace msx::gateway {

struct ReplicationOptions {
  std::vector<std::string> servers;  // NATS URLs
  bool standby = false;
  std::string node_id;    // empty = advertise
  std::string advertise;  // HOST:PORT clients dial
  std::chrono::milliseconds lease_ttl{500};
  std::chrono::milliseconds lease_renew{100};
  std::chrono::milliseconds poll{50};  // standby: lease poll / follower wait
  // Retry budget of one batch after a failed publish before commands are refused: above
  // a stream-leader election after a NATS server dies (seconds on nats-server 2.9).
  std::chrono::milliseconds publish_timeout{15000};
  // A published group not acknowledged within this fails the pipeline (ReplicatedLog's
  // watchdog); the unconfirmed groups are then re-sent with Publish.
  std::chrono::milliseconds async_timeout{2000};
  std::string stream = "MSX_JOURNAL";
  std::string subject = "msx.journal";
  std::string bucket = "MSX_LEADER";
  int replicas = 3;
  // Primary: an engine digest goes with the group of the command that reaches either
  // bound since the last one (0 = never by that bound); standbys compare it.
  std::uint64_t digest_every_commands = 10000;
  std::chrono::milliseconds digest_interval{5000};
};

// server.replication with defaults; INVALID_ARGUMENT naming the field.
absl::StatusOr<ReplicationOptions> ReplicationOptionsFromConfig(const v1::ReplicationConfig& c);

enum class ReplicationRole { kStandby, kTakingOver, kPrimary, kFailed };
const char* RoleName(ReplicationRole role);

// What status pages and /metrics show.
struct ReplicationStatus {
  ReplicationRole role = ReplicationRole::kStandby;
  std::string node_id;
  std::string leader_node;     // as last read from the lease ("" unknown / vacant)
  std::string leader_address;
  std::uint64_t epoch = 0;     // this node's epoch while it leads, else the leader's
  std::uint64_t stream_seq = 0;  // last stream message applied (standby) or confirmed
  std::uint64_t stream_last_seq = 0;  // the stream's last message, as last asked
  std::uint64_t lag = 0;       // stream_last_seq - stream_seq (messages)
  Seq replicated_seq = 0;      // last command seq known to be in the stream
  Seq released_seq = 0;        // min(journal durable, replicated): acknowledged up to here
  std::string failure;
  // How far behind, in seconds. Standby: age of the oldest stream message known and not
  // yet applied here, dated when this node first learnt of it (so to within one poll).
  // Primary: age of the oldest group published and not yet acknowledged by a quorum.
  double lag_seconds = 0;
  // Primary: groups (stream messages) published and not yet acknowledged by a quorum, and
  // their bytes.
  std::uint64_t unconfirmed = 0;
  std::uint64_t unconfirmed_bytes = 0;
  bool no_quorum = false;  // primary: refusing commands until a quorum answers again
  // Counters since this process started.
  std::uint64_t takeovers = 0;      // times this node became the primary (lease + marker)
  std::uint64_t fenced_stream = 0;  // failed: another writer's message was in the stream
  std::uint64_t fenced_lease = 0;   // failed: another node held the leader lease
  std::uint64_t resends = 0;        // primary: pipeline failures that switched to re-sending
  // Standby: primary digests compared with this engine's (all equal, or it exited).
  std::uint64_t digests_checked = 0;
  Seq last_digest_seq = 0;  // the command seq of the last one
};

class ReplicationNode final : public SequencerObserver {
 public:
  struct Hooks {
    Sequencer* sequencer = nullptr;  // or AttachSequencer; REQUIRES: outlives the node
    // Health: true = SERVING. Called from the node's threads.
    std::function<void(bool serving)> set_serving;
    // Called once on promotion, before commands are accepted (e.g. journal the initial
    // holdings of a new exchange through Sequencer::SubmitCommand(..., true)).
    std::function<absl::Status()> on_promoted;
  };

  // Connects to NATS, ensures the stream and the lease bucket, and finds where this node's
  // journal (last command `local_last_seq`) continues in the stream. Does not start
  // threads. Errors: UNAVAILABLE (no NATS), FAILED_PRECONDITION (the local journal holds
  // commands the stream does not: never replicated, so never acknowledged; or the stream
  // was trimmed below them), DATA_LOSS (a malformed stream message).
  static absl::StatusOr<std::unique_ptr<ReplicationNode>> Create(const ReplicationOptions& options,
                                                                 Hooks hooks,
                                                                 Seq local_last_seq);
  ~ReplicationNode();
  ReplicationNode(const ReplicationNode&) = delete;
  ReplicationNode& operator=(const ReplicationNode&) = delete;

  // The sequencer this node drives (it is built with the node among its observers).
  // REQUIRES: before Start.
  void AttachSequencer(Sequencer* sequencer) { hooks_.sequencer = sequencer; }

  // Starts the control and lease threads. `advertise` fills options.advertise/node_id when
  // they are empty (the bound port is known only after gRPC started).
  void Start(const std::string& advertise);
  // Stops the threads; a primary releases the lease (instant hand-over). Call after the
  // sequencer stopped (everything acknowledged is published by then).
  void Stop();

  // Journal on_durable (replaces Sequencer::OnDurable).
  void OnJournalDurable(Seq seq);
  // SequencerObserver: each batch's journal bytes are published (primary), with an engine
  // digest when one is due (taken in OnApplied, the only place the state after a given
  // command is visible).
  void OnApplied(const Engine& engine, const Command& cmd,
                 absl::Span<const Event> events) override;
  void OnBatchSequenced(absl::Span<const CommandGroup> groups) override;
  // Publishes what OnBatchSequenced staged (primary), overlapping the journal's write.
  void OnBatchCommitting() override;

  ReplicationStatus status() const;
  // Primary: JetStream publish latency of each group, from its hand-off by the sequencer
  // (OnBatchSequenced) to the quorum's acknowledgement, in nanoseconds (re-sends after a
  // failure included). Written under the node's lock; read from any thread.
  const http::Histogram& publish_latency() const { return publish_ns_; }
  // Re-applies the health status (after the health service exists).
  void ApplyServing();

 private:
  struct Batch {
    std::uint64_t expected = 0;  // stream seq it must follow; target = expected + 1
    Seq first = 0, last = 0;
    std::shared_ptr<const std::string> bytes;  // shared with an in-flight publish
    std::chrono::steady_clock::time_point sequenced;  // handed over by the sequencer
    std::string digest;  // Msx-Digest header value, or empty
  };
  // A sequenced batch not yet given a stream position (OnBatchSequenced ->
  // OnBatchCommitting).
  struct Staged {
    Seq first = 0, last = 0;
    std::string bytes;
    std::string digest;
    std::chrono::steady_clock::time_point sequenced;
  };
  // Staged batches sent meanwhile are merged into one message up to this size.
  static constexpr std::size_t kMaxMergedBytes = 256 * 1024;
  enum class PublishMode { kOff, kPipeline, kResend, kFailed };
  // Why Fail was called, for the fencing counters.
  enum class FailCause { kOther, kFencedStream, kFencedLease };

  ReplicationNode(const ReplicationOptions& options, Hooks hooks);
  void Stage(Seq first, Seq last, std::string bytes, std::string digest);
  // Primary: gives the staged batches their stream positions (unconfirmed_) and, in
  // kPipeline, publishes them in order; one thread at a time (sending_).
  void SendStaged();
  // REQUIRES: mu_ held, staged_ not empty.
  Batch TakeStagedLocked();
  void RunControl();
  void RunLease();
  // Standby loop; returns when this node leads (true) or must stop (false).
  bool Follow();
  absl::Status ApplyEntry(const replication::LogFollower::Entry& entry);
  // Applies messages until the follower has consumed stream seq `upto`.
  absl::Status DrainTo(std::uint64_t upto);
  bool TryTakeOver();
  // Primary: re-sends unconfirmed batches while in kResend.
  void Resend();
  void Confirm(std::uint64_t target);
  void OnAck(std::uint64_t target, const absl::StatusOr<std::uint64_t>& result);
  void Release();
  void Fail(const absl::Status& status, FailCause cause = FailCause::kOther);
  // Keeps stream_lag_ (the standby's lag in seconds) in step with status_'s stream seqs.
  // REQUIRES: mu_ held.
  void NoteStreamLocked();
  void SetServing(bool serving);
  void SetLeader(const replication::LeaderRecord& record);

  ReplicationOptions options_;
  Hooks hooks_;
  std::unique_ptr<replication::LeaderLease> lease_;
  std::unique_ptr<replication::LogFollower> follower_;  // control thread (standby)
  std::unique_ptr<replication::ReplicatedLog> log_;     // primary
  std::uint64_t start_stream_seq_ = 1;

  // Standby apply state (control thread).
  Seq applied_seq_ = 0;  // last command seq handed to the sequencer
  // Standby: digests compared (ReplicatedWork, sequencer thread) and the last one's seq.
  std::atomic<std::uint64_t> digests_checked_{0};
  std::atomic<Seq> last_digest_seq_{0};

  // Primary digest schedule (sequencing role only).
  std::uint64_t commands_since_digest_ = 0;
  std::chrono::steady_clock::time_point last_digest_time_{};
  std::string pending_digest_;  // for the batch being sequenced

  std::atomic<ReplicationRole> role_{ReplicationRole::kStandby};
  std::atomic<bool> stop_{false};
  std::atomic<Seq> journal_durable_{0};
  std::atomic<Seq> replicated_seq_{0};

  std::mutex release_mu_;  // serializes Release -> Sequencer::OnDurable
  Seq released_ = 0;

  mutable std::mutex mu_;  // publishing state and status
  std::condition_variable cv_;
  PublishMode mode_ = PublishMode::kOff;
  std::deque<Staged> staged_;      // sequenced, not yet in unconfirmed_
  bool sending_ = false;           // a thread is in SendStaged's loop
  std::deque<Batch> unconfirmed_;
  std::uint64_t next_expected_ = 0;  // stream seq the next batch follows
  std::uint64_t confirmed_stream_seq_ = 0;
  bool refusing_no_quorum_ = false;
  bool serving_ = false;
  ReplicationStatus status_;
  replication::StreamLag stream_lag_;  // standby
  std::uint64_t unconfirmed_bytes_ = 0;
  http::Histogram publish_ns_;

  std::thread control_thread_;
  std::thread lease_thread_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_REPLICATION_NODE_H_
