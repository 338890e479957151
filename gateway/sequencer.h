// Sequencer: the one thread that owns the Engine, plus the publisher thread that releases
// results once the journal holds them.
//
//   gRPC threads --TryPush--> MpscRing<QueueItem> --> sequencer thread
//                                                      stamp seq + time (gateway clock)
//                                                      Engine::Apply
//                                                      Work::Applied (build the reply)
//                                                      observers' OnApplied
//                                                      (a batch: all queued, <= 128 items)
//                                                      --> pending FIFO (seq, work)
//                                                      observers' OnBatchSequenced, then
//                                                      JournalWriter::AppendDeferred
//                                                      each command of the batch; role
//                                                      let go, then Commit: inline (this
//                                                      thread writes, then on_durable
//                                                      here) or the thread writing now
//   (a unary command under run_on_caller does the same on its gRPC thread when nothing is
//   queued and the role is free, SubmitCommandHere; without caller_writes it leaves the
//   write to the journal thread)
//   journal writer thread: on_durable(seq) --> PublishReady (on that thread; the publisher
//                                             thread does the same for already-durable
//                                             queries and for journal failures)
//                                                      for each pending item with seq <=
//                                                      durable: Work::Complete(OK), then
//                                                      observers' OnGroupDurable (the
//                                                      reports unit feeds the stream hubs)
//
// The sequencer builds no wire message: what a command means to the outside (execution
// reports, book updates, counters, replicated bytes) is its observers' business
// (sequencer_observer.h; gateway/reports.h builds the stream messages).
//
// Read-only queries (GetOffer, ListOffers, GetHoldings, GetBook, stream subscriptions,
// admin status) also go through the ring, as non-journaled items: they run on the
// sequencer thread against the engine (so they see a consistent state, never a half-applied
// command), and their answer is released through the same pending FIFO once every command
// they could have observed (seq <= last_seq at the time) is durable. So a query never
// reveals state that a crash could still take back, and a stream subscription registered
// at seq L receives exactly the reports with seq > L after its history (seq <= L), given
// the hub floor (hubs.h). Execution history older than the reports kept in memory is read
// from the journal by the HistoryReader, never on the sequencer thread.
//
// Nothing here makes a gRPC thread wait for another thread: TryPush fails at once with
// RESOURCE_EXHAUSTED when the ring is full, and UNAVAILABLE once the journal failed closed
// or shutdown began. The one wait is on the disk, and only with caller_writes: a
// SubmitCommandHere caller whose group commit found the journal idle writes it (and
// fdatasyncs it under `sync`) itself.
//
// Journal back-pressure: when more than SequencerOptions::max_undurable_commands commands
// (or max_undurable_bytes journal bytes) are sequenced but not durable, the sequencer
// thread waits for the journal before it takes the next batch. What a slow disk holds in
// memory is then bounded by those two figures plus the ring; the ring fills and producers
// are refused with RESOURCE_EXHAUSTED.
#ifndef MSX_GATEWAY_SEQUENCER_H_
#define MSX_GATEWAY_SEQUENCER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/journal/writer.h"
#include "engine/matching/reference_data.h"
#include "gateway/auction_schedule.h"
#include "gateway/mpsc_ring.h"
#include "gateway/sequencer_observer.h"

namespace msx::gateway {

// What the sequencer thread may look at while running a Work.
struct SequencerView {
  const Engine& engine;
  const ReferenceData& ref;
  Seq last_seq;  // last sequenced command (the state the engine is in)
};

// One unit of work queued for the sequencer: a gRPC call (or part of a stream) waiting for
// the engine. Ownership: the creator hands it to Sequencer::Submit*; the sequencer calls
// Applied/Query on its thread, then Complete exactly once (on the journal or publisher
// thread, or on the sequencer thread: after it committed the journal itself, or when the
// work fails before reaching the journal). Complete may delete the object. If Submit*
// returns an error, the work was not queued and stays with the caller.
class Work {
 public:
  virtual ~Work() = default;
  // Sequencer thread: `cmd` was applied (cmd.seq/time stamped) and produced `events`.
  // Build the reply here: this is the only place the engine is reachable.
  virtual void Applied(const SequencerView& view, const Command& cmd,
                       absl::Span<const Event> events) {
    (void)view, (void)cmd, (void)events;
  }
  // Sequencer thread, for queries: read what is needed from view.engine.
  virtual void Query(const SequencerView& view) { (void)view; }
  // Journal, sequencer or publisher thread once everything the work observed is durable (OK),
  // or any thread with UNAVAILABLE when the journal failed closed first. Exactly once.
  // Must not block and must not call into the JournalWriter.
  virtual void Complete(const absl::Status& status) = 0;
};

struct SequencerOptions {
  std::size_t queue_capacity = 65536;   // power of two
  std::uint64_t snapshot_every_records = 1000000;  // commands between snapshots; 0 = never
  // The seq of the newest snapshot already on disk (the one recovery loaded; 0 = none).
  // Stop() writes a final snapshot whenever the last seq is past it, commands replayed at
  // start included, so the next start replays nothing; the periodic snapshots count from it.
  Seq recovered_snapshot_seq = 0;
  // Group commit on the sequencer thread: when a batch holds at most this many commands
  // and no journal write is in progress, the sequencer writes the batch to the journal
  // itself (write(), plus fdatasync under `sync`) and releases its replies right away,
  // instead of waking the journal thread to do both. 0 = always hand the batch to the
  // journal thread; SIZE_MAX = whenever the journal is idle.
  std::size_t inline_commit_max_batch = 0;
  // Run-to-completion for unary calls (SubmitCommandHere): when nothing is queued and no
  // thread is sequencing, the calling thread applies its command and appends it to the
  // journal, lets the sequencing role go, and commits: with caller_writes and no journal
  // write in progress it writes (and under `sync` fdatasyncs) and completes the call
  // itself, skipping the hand-off to the sequencer thread and back; else the thread
  // writing now, or the journal thread, writes it and completes it. One thread writes at a
  // time, so at most one calling thread waits on the disk at a time, and the others keep
  // sequencing meanwhile. Off = every command goes through the ring.
  bool run_on_caller = false;
  // With run_on_caller: whether a caller whose commit finds the journal idle writes the
  // group itself (true), or leaves the write, the fdatasync and the release to the journal
  // thread (false), so that the calling thread never waits on the disk; it then only
  // sequences, and the next callers sequence while the journal thread is in fdatasync.
  bool caller_writes = true;
  // Journal back-pressure: at most this many commands sequenced but not yet durable, and
  // at most this many bytes appended to the journal and not yet written. Past either, the
  // sequencer stops taking work from the queue until the journal catches up (the queue
  // then fills and producers get RESOURCE_EXHAUSTED), so a slow disk costs latency and
  // refusals, never unbounded memory. 0 = no bound.
  std::uint64_t max_undurable_commands = 0;
  std::uint64_t max_undurable_bytes = 0;
  // server.allow_clock_advance: the clock never holds behind the last command's time.
  // Whenever wall clock + offset would fall behind it (after a restart or a standby's
  // promotion that follows Admin.AdvanceClock, or a wall clock stepped back), the offset
  // grows to close the gap, so the clock runs on from the last journaled time at the wall
  // clock's rate. Off (production): it holds there until the wall clock catches up, which
  // after an AdvanceClock of days would stall expiries and settlements for days.
  bool clock_offset_from_journal = false;
};

// Writes a snapshot of `engine` (state after command `seq`). Called on the sequencer
// thread; must not keep references to the engine.
using SnapshotFn = std::function<absl::Status(const Engine& engine, Seq seq)>;
class Sequencer {
 public:
  // REQUIRES: `engine`, `journal`, the observers and `ref` outlive the sequencer; the
  // engine is recovered to journal->next_seq() - 1. The journal's on_durable/on_failure
  // callbacks must call OnDurable/OnJournalFailure (the server wires this). `observers`
  // are called in this order (sequencer_observer.h); msx-server passes the Reports first.
  Sequencer(const ReferenceData& ref, Engine* engine, journal::JournalWriter* journal,
            std::vector<SequencerObserver*> observers, SequencerOptions options,
            SnapshotFn snapshot);
  ~Sequencer();
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  void Start();
  // Processes everything queued so far, writes a final snapshot, waits until the journal
  // made it durable and every pending item completed, and joins both threads. When it
  // returns, no Work or observer call is in progress or will follow. Any thread but the
  // sequencer's; call once, after the gRPC server stopped producing work.
  void Stop();

  // ---- Any thread (gRPC threads, control plane) ----
  // Queues a command (seq/time are stamped by the sequencer). `work` may be null (a timer
  // command). Errors: RESOURCE_EXHAUSTED (ring full), UNAVAILABLE (journal failed closed,
  // or stopping), the refusal of SetCommandRefusal unless `ignore_refusal` (the server's
  // own commands, e.g. a new exchange's initial holdings journaled on promotion).
  absl::Status SubmitCommand(const Command& cmd, Work* work, bool ignore_refusal = false);
  // SubmitCommand for a call whose Work may complete on this thread before this returns
  // (SequencerOptions::run_on_caller): with nothing queued ahead and nobody sequencing, the
  // command is applied and appended to the journal here, and completed here when this
  // thread made the group commit (caller_writes); else it is queued as by SubmitCommand.
  // Never waits for another thread (the sequencing role is only ever try-locked here);
  // with caller_writes under `sync`, the group commit it makes waits for fdatasync. On OK,
  // `work` may be gone already.
  absl::Status SubmitCommandHere(const Command& cmd, Work* work);
  // Queues a read-only query. Same errors.
  absl::Status SubmitQuery(Work* work);
  // Drills and tests (server.allow_clock_advance; Admin.AdvanceClock): queues a time
  // command (kAdvanceTime) that, when the sequencer takes it and before stamping it, moves
  // the clock that stamps commands `by` ns (> 0) further ahead of the wall clock for good.
  // A refused submission (RESOURCE_EXHAUSTED, UNAVAILABLE, a refusal) leaves the clock
  // where it was: only a sequenced command moves it. Times stay non-decreasing; replay is
  // unaffected (each command's time is in the journal). Across a restart the offset is
  // derived from the journal (SequencerOptions::clock_offset_from_journal).
  // Errors: as SubmitCommand.
  absl::Status SubmitClockAdvance(TimeNs by, Work* work);
  // How far the stamping clock runs ahead of the wall clock (SubmitClockAdvance); any
  // thread. Read in Work::Applied of a clock advance, it includes that advance.
  TimeNs clock_offset() const { return clock_offset_.load(std::memory_order_acquire); }

  // ---- Replication (gateway/replication_node.h) ----
  // Standby: queues a command the primary sequenced (cmd.seq and cmd.time are kept, not
  // stamped). When its turn comes cmd.seq must be last_seq() + 1 and cmd.time no earlier
  // than the last command's, else the sequencer fails closed (a replication gap). `work`
  // (not null) sees the events in Applied and is completed once the command is durable
  // in this node's journal. Never refused by SetCommandRefusal. Errors: as SubmitCommand.
  absl::Status SubmitReplicated(const Command& cmd, Work* work);
  // While `refusal` is not OK, SubmitCommand and SubmitCommandHere return it instead of
  // queueing (a standby naming its primary; a primary without a replication quorum).
  // OK lifts it. Queries and replicated commands are not affected. Any thread.
  void SetCommandRefusal(const absl::Status& refusal);

  // Journal callbacks (journal writer thread).
  void OnDurable(Seq durable_seq);
  void OnJournalFailure(const absl::Status& status);

  // Status for GetExchangeStatus (any thread; approximate while running).
  bool accepting() const { return !failed_.load(std::memory_order_acquire); }
  std::string failure() const;
  Seq last_seq() const { return last_seq_atomic_.load(std::memory_order_relaxed); }
  Seq durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  std::size_t queue_depth() const { return ring_.size(); }
  std::size_t queue_capacity() const { return ring_.capacity(); }
  // Times the sequencer thread waited for the journal (back-pressure), since Start.
  std::uint64_t journal_waits() const { return journal_waits_.load(std::memory_order_relaxed); }

 private:
  // kWake: nothing to apply; wakes the sequencer thread for work a caller left it (a due
  // snapshot after a SubmitCommandHere).
  // kReplicated: a command sequenced by the primary (standby; seq and time kept).
  enum class Kind : std::uint8_t {
    kCommand = 1,
    kQuery = 2,
    kStop = 3,
    kWake = 4,
    kReplicated = 5
  };
  struct QueueItem {
    Kind kind;
    Command cmd;
    Work* work;
    TimeNs clock_advance;  // kCommand from SubmitClockAdvance: > 0; else 0
  };
  struct Pending {
    Seq seq;     // a command's seq, or for a query the last seq it observed
    Work* work;  // may be null (timer ticks, initial holdings)
  };

  absl::Status Push(const QueueItem& item);
  // SubmitCommand's checks, then Push.
  absl::Status SubmitItem(const QueueItem& item, bool ignore_refusal);
  void RunSequencer();
  void RunPublisher();
  // Completes every pending item whose seq is releasable (and fails all on a journal
  // failure), in FIFO order, then tells the observers. Publisher or journal thread.
  void PublishReady();
  // How far a release may go: every command up to it is durable. (The one place a
  // further condition, such as "and replicated to the standby", would be added.)
  Seq ReleasableSeq() const { return durable_seq_.load(std::memory_order_acquire); }
  void HandleCommand(QueueItem& item);
  // Applies a stamped command (seq = last_seq_ + 1) and records it for the batch: the
  // journal, the observers and the pending FIFO (`work` may be null).
  void ApplyCommand(const Command& cmd, Work* work);
  // A timer tick at `now`: one RunAuction command per instrument the schedule owes one.
  void RunDueAuctions(TimeNs now);
  void HandleQuery(QueueItem& item);
  // Role holder: hands the batch's pending entries over (FlushPending), tells the
  // observers, then appends its commands to the journal (deferred, not written). Returns
  // how many commands it appended.
  std::size_t AppendBatch();
  // Commits what AppendBatch appended (`commands` of them; 0 = nothing). Called after the
  // role is let go: the write, the fdatasync and the release run while others sequence.
  // `inline_ok` = false leaves the write to the journal thread.
  void CommitAppended(std::size_t commands, bool inline_ok = true);
  bool SnapshotDue() const;
  // Whether sequenced-but-not-durable work is within the back-pressure bounds.
  bool JournalHasRoom() const;
  // Sequencer thread, between batches: blocks while !JournalHasRoom() (until OnDurable or
  // a journal failure).
  void WaitForJournalRoom();
  void FlushPending();
  void FailWork(Work* work);
  TimeNs Now();

  const ReferenceData& ref_;
  Engine* const engine_;
  journal::JournalWriter* const journal_;
  const std::vector<SequencerObserver*> observers_;
  const SequencerOptions options_;
  SnapshotFn snapshot_;

  MpscRing<QueueItem> ring_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> refusing_{false};
  mutable std::mutex refusal_mu_;
  absl::Status refusal_ ABSL_GUARDED_BY(refusal_mu_);
  std::atomic<bool> stopping_{false};
  std::atomic<int> submitting_{0};  // producers between their stopping_ check and push
  std::atomic<Seq> last_seq_atomic_{0};
  std::atomic<Seq> durable_seq_{0};
  std::atomic<TimeNs> clock_offset_{0};  // AdvanceClock
  // Items pushed and not yet processed (incremented before the push, decremented by the
  // sequencer thread under role_mu_ once processed): SubmitCommandHere runs a command on
  // the caller only when this is 0, so it never overtakes anything queued before it.
  std::atomic<std::size_t> queued_{0};
  // The sequencing role: whoever holds it owns the state below (the sequencer thread for
  // each batch; a SubmitCommandHere caller, try-lock only, for one command).
  std::mutex role_mu_;

  // Sequencer state (the holder of role_mu_).
  Seq last_seq_ = 0;
  TimeNs last_time_ = 0;
  Seq last_snapshot_seq_ = 0;
  AuctionSchedule auctions_{0};
  std::vector<InstrumentId> due_auctions_;
  std::vector<Event> events_;
  std::vector<Pending> local_pending_;  // flushed to pending_ in batches
  std::vector<Command> batch_cmds_;     // this batch's commands, appended in AppendBatch
  std::vector<Event> batch_events_;     // their events, back to back
  std::vector<std::size_t> batch_event_ends_;  // end of each command's events
  std::vector<CommandGroup> batch_groups_;     // views of the above, for the observers

  // Shared between the sequencer (producer) and the publisher (consumer).
  std::mutex publish_mu_;  // serializes PublishReady (held outside mu_)
  Seq released_seq_ ABSL_GUARDED_BY(publish_mu_) = 0;  // observers told up to here
  bool failure_told_ ABSL_GUARDED_BY(publish_mu_) = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  bool publisher_stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);

  // Back-pressure wait (WaitForJournalRoom). room_waiting_ tells OnDurable to notify;
  // both sides use seq_cst so a durable advance is never missed.
  std::mutex room_mu_;
  std::condition_variable room_cv_;
  std::atomic<bool> room_waiting_{false};
  std::atomic<std::uint64_t> journal_waits_{0};

  std::thread sequencer_thread_;
  std::thread publisher_thread_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SEQUENCER_H_
