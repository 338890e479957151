#include "gateway/sequencer.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace msx::gateway {
namespace {

// The sequencer works in batches of at most this many items (fewer when the ring runs
// empty): the shared lock is taken once per batch, not per command, and the journal is
// handed a batch at a time.
constexpr std::size_t kPendingBatch = 128;

}  // namespace

Sequencer::Sequencer(const ReferenceData& ref, Engine* engine, journal::JournalWriter* journal,
                     std::vector<SequencerObserver*> observers, SequencerOptions options,
                     SnapshotFn snapshot)
    : ref_(ref),
      engine_(engine),
      journal_(journal),
      observers_(std::move(observers)),
      options_(options),
      snapshot_(std::move(snapshot)),
      ring_(options.queue_capacity) {
  events_.reserve(1024);
  local_pending_.reserve(kPendingBatch);
  batch_cmds_.reserve(kPendingBatch);
  batch_events_.reserve(4 * kPendingBatch);
  batch_event_ends_.reserve(kPendingBatch);
  batch_groups_.reserve(kPendingBatch);
}

Sequencer::~Sequencer() {
  if (sequencer_thread_.joinable()) Stop();
}

void Sequencer::Start() {
  last_seq_ = engine_->last_seq();
  last_time_ = engine_->last_time();
  // Auctions resume from the journal's clock (auction_schedule.h).
  auctions_ = AuctionSchedule(last_time_);
  // Not last_seq_: the commands replayed at start are in no snapshot yet.
  last_snapshot_seq_ = std::min(options_.recovered_snapshot_seq, last_seq_);
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    released_seq_ = last_seq_;
  }
  last_seq_atomic_.store(last_seq_, std::memory_order_relaxed);
  durable_seq_.store(std::max(journal_->durable_seq(), last_seq_), std::memory_order_release);
  publisher_thread_ = std::thread([this] { RunPublisher(); });
  sequencer_thread_ = std::thread([this] { RunSequencer(); });
}

void Sequencer::Stop() {
  if (!sequencer_thread_.joinable()) return;
  stopping_.store(true, std::memory_order_seq_cst);
  // A producer that saw stopping_ == false may still be pushing: wait for it, so that
  // nothing can land behind the stop marker.
  while (submitting_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  QueueItem stop{};
  stop.kind = Kind::kStop;
  queued_.fetch_add(1, std::memory_order_seq_cst);
  // The sequencer keeps draining, so the ring frees up; a racing producer can only delay us.
  while (!ring_.TryPush(stop)) std::this_thread::sleep_for(std::chrono::microseconds(100));
  sequencer_thread_.join();
  // Nothing is queued behind the marker (see above); fail anything that is, defensively.
  QueueItem item;
  while (ring_.TryPop(&item)) FailWork(item.work);
  {
    std::lock_guard<std::mutex> lock(mu_);
    publisher_stop_ = true;
  }
  cv_.notify_all();
  publisher_thread_.join();
  // The journal thread may still be inside a release whose items the publisher saw gone
  // (PublishReady takes them first, then completes them and tells the observers): wait for
  // it, so that nothing calls a Work or an observer once Stop returned.
  { std::lock_guard<std::mutex> order(publish_mu_); }
}

absl::Status Sequencer::SubmitItem(const QueueItem& item, bool ignore_refusal) {
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError(absl::StrCat("journal failed closed: ", failure()));
  }
  if (!ignore_refusal && refusing_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(refusal_mu_);
    if (!refusal_.ok()) return refusal_;
  }
  return Push(item);
}

absl::Status Sequencer::SubmitCommand(const Command& cmd, Work* work, bool ignore_refusal) {
  QueueItem item{};
  item.kind = Kind::kCommand;
  item.cmd = cmd;
  item.work = work;
  return SubmitItem(item, ignore_refusal);
}

absl::Status Sequencer::SubmitClockAdvance(TimeNs by, Work* work) {
  QueueItem item{};
  item.kind = Kind::kCommand;
  item.cmd.type = CommandType::kAdvanceTime;
  item.work = work;
  item.clock_advance = by;
  return SubmitItem(item, false);
}

absl::Status Sequencer::SubmitCommandHere(const Command& cmd, Work* work) {
  if (!options_.run_on_caller || refusing_.load(std::memory_order_acquire)) {
    return SubmitCommand(cmd, work);
  }
  bool ran = false;
  bool wake = false;
  std::size_t commands = 0;
  // submitting_ brackets the stopping_ check and the run (the commit and the release it
  // may make included), as in Push: Stop() waits for it, so nothing runs here once the
  // stop marker is queued.
  submitting_.fetch_add(1, std::memory_order_seq_cst);
  if (!stopping_.load(std::memory_order_seq_cst) && !failed_.load(std::memory_order_acquire) &&
      queued_.load(std::memory_order_seq_cst) == 0 && JournalHasRoom() && role_mu_.try_lock()) {
    // Re-checked under the role: the sequencer thread decrements queued_ before it lets go.
    if (queued_.load(std::memory_order_seq_cst) == 0) {
      QueueItem item{};
      item.kind = Kind::kCommand;
      item.cmd = cmd;
      item.work = work;
      HandleCommand(item);
      commands = AppendBatch();
      wake = SnapshotDue();
      ran = true;
    }
    role_mu_.unlock();
    // Outside the role, so that other callers (and the sequencer thread) sequence the next
    // commands while this one is written (and fdatasync'd): inline when the journal is
    // idle, and the reply is completed right here; else the thread writing now takes it
    // after its current write and completes it.
    if (ran) CommitAppended(commands, options_.caller_writes);
  }
  submitting_.fetch_sub(1, std::memory_order_release);
  if (wake) {
    // Snapshots are the sequencer thread's (they take a while; this is a gRPC thread). If
    // the ring is full, the next queued batch checks anyway.
    QueueItem w{};
    w.kind = Kind::kWake;
    (void)Push(w).ok();
  }
  if (ran) return absl::OkStatus();
  return SubmitCommand(cmd, work);
}

bool Sequencer::SnapshotDue() const {
  return options_.snapshot_every_records != 0 && snapshot_ && !failed_.load() &&
         last_seq_ - last_snapshot_seq_ >= options_.snapshot_every_records;
}

absl::Status Sequencer::SubmitReplicated(const Command& cmd, Work* work) {
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError(absl::StrCat("journal failed closed: ", failure()));
  }
  QueueItem item{};
  item.kind = Kind::kReplicated;
  item.cmd = cmd;
  item.work = work;
  return Push(item);
}

void Sequencer::SetCommandRefusal(const absl::Status& refusal) {
  std::lock_guard<std::mutex> lock(refusal_mu_);
  refusal_ = refusal;
  refusing_.store(!refusal.ok(), std::memory_order_release);
}

absl::Status Sequencer::SubmitQuery(Work* work) {
  QueueItem item{};
  item.kind = Kind::kQuery;
  item.work = work;
  return Push(item);
}

absl::Status Sequencer::Push(const QueueItem& item) {
  // submitting_ brackets the stopping_ check and the push (see Stop()).
  submitting_.fetch_add(1, std::memory_order_seq_cst);
  absl::Status status;
  if (stopping_.load(std::memory_order_seq_cst)) {
    status = absl::UnavailableError("server shutting down");
  } else {
    queued_.fetch_add(1, std::memory_order_seq_cst);  // before the item can be seen
    if (!ring_.TryPush(item)) {
      queued_.fetch_sub(1, std::memory_order_seq_cst);
      status = absl::ResourceExhaustedError(absl::StrCat(
          "sequencer queue full (capacity ", ring_.capacity(),
          ", server.queue_capacity); retry with backoff"));
    }
  }
  submitting_.fetch_sub(1, std::memory_order_release);
  return status;
}

bool Sequencer::JournalHasRoom() const {
  if (options_.max_undurable_commands != 0 &&
      last_seq_atomic_.load(std::memory_order_relaxed) -
              std::min(durable_seq_.load(std::memory_order_seq_cst),
                       last_seq_atomic_.load(std::memory_order_relaxed)) >=
          options_.max_undurable_commands) {
    return false;
  }
  // pending_bytes() takes the journal's lock: only asked when something is undurable.
  if (options_.max_undurable_bytes != 0 &&
      durable_seq_.load(std::memory_order_seq_cst) <
          last_seq_atomic_.load(std::memory_order_relaxed) &&
      journal_->pending_bytes() >= options_.max_undurable_bytes) {
    return false;
  }
  return true;
}

void Sequencer::WaitForJournalRoom() {
  if (JournalHasRoom()) return;
  journal_waits_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(room_mu_);
  room_waiting_.store(true, std::memory_order_seq_cst);
  // Everything sequenced so far was appended and committed (AppendBatch, CommitAppended;
  // a caller's commit follows its append within its call), so the journal advances
  // durable_seq on its own; a failed journal fails the items instead.
  room_cv_.wait(lock, [&] { return JournalHasRoom() || failed_.load(std::memory_order_seq_cst); });
  room_waiting_.store(false, std::memory_order_relaxed);
}

void Sequencer::OnDurable(Seq durable_seq) {
  durable_seq_.store(durable_seq, std::memory_order_seq_cst);
  if (room_waiting_.load(std::memory_order_seq_cst)) {
    { std::lock_guard<std::mutex> lock(room_mu_); }  // the waiter is in wait() or re-checks
    room_cv_.notify_one();
  }
  // The thread that made the group commit releases it: no hand-off per group commit.
  PublishReady();
}

void Sequencer::OnJournalFailure(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.ok()) failure_ = status;
  }
  failed_.store(true, std::memory_order_seq_cst);
  cv_.notify_one();
  { std::lock_guard<std::mutex> lock(room_mu_); }
  room_cv_.notify_one();
}

std::string Sequencer::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::string(failure_.message());
}

TimeNs Sequencer::Now() {
  const TimeNs wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  TimeNs offset = clock_offset_.load(std::memory_order_acquire);
  if (options_.clock_offset_from_journal && wall + offset < last_time_) {
    // Runs with the sequencing role (as every offset change): no lost update.
    offset = last_time_ - wall;
    clock_offset_.store(offset, std::memory_order_release);
  }
  // The engine requires non-decreasing times; a wall clock stepped back must not break it.
  return std::max<TimeNs>(wall + offset, last_time_);
}

void Sequencer::FailWork(Work* work) {
  if (work == nullptr) return;
  std::string why = failure();
  work->Complete(absl::UnavailableError(
      why.empty() ? std::string("server shutting down")
                  : absl::StrCat("journal failed closed: ", why)));
}

void Sequencer::RunSequencer() {
  pthread_setname_np(pthread_self(), "msx-sequencer");  // for perf and /proc
  QueueItem item;
  QueueItem next;
  for (;;) {
    // One batch: everything queued right now (at most kPendingBatch items) is applied, its
    // pending entries are handed over under one lock, and only then are its commands
    // appended to the journal. Handing over before appending means the journal thread
    // always finds a command in pending_ when it reports it durable, so it releases every
    // reply itself and the publisher thread is needed only for queries over an already
    // durable state. It also hands the journal a whole batch per wake-up.
    // Back-pressure: a slow journal holds the ring's items where they are (bounded)
    // instead of growing the journal's buffer and the pending replies without bound.
    WaitForJournalRoom();
    ring_.Pop(&item);
    // The role is held from the first item of the batch to its snapshot, so a
    // SubmitCommandHere caller never runs in between (it also sees queued_ > 0 until then).
    // The batch is committed after the role is let go: callers sequence the next commands
    // while this batch is written and fdatasync'd.
    std::unique_lock<std::mutex> role(role_mu_);
    std::size_t taken = 1;
    bool stop = false;
    bool have_next = false;
    for (;;) {
      if (item.kind == Kind::kStop) {
        stop = true;
        break;
      }
      // Look one item ahead: while this command runs, the engine starts loading what the
      // next one touches (only when the batch has more than one command).
      have_next = local_pending_.size() + 1 < kPendingBatch && ring_.TryPop(&next);
      taken += have_next ? 1 : 0;
      if (have_next && (next.kind == Kind::kCommand || next.kind == Kind::kReplicated)) {
        engine_->Prefetch(next.cmd);
      }
      if (item.kind == Kind::kQuery) {
        HandleQuery(item);
      } else if (item.kind == Kind::kCommand || item.kind == Kind::kReplicated) {
        HandleCommand(item);
      }
      if (!have_next) break;
      item = next;
    }
    const std::size_t commands = AppendBatch();
    if (stop) {
      CommitAppended(commands);
      if (snapshot_ && !failed_.load() && last_seq_ > last_snapshot_seq_) {
        absl::Status s = snapshot_(*engine_, last_seq_);
        if (s.ok()) last_snapshot_seq_ = last_seq_;
      }
      return;
    }
    if (SnapshotDue()) {
      // Taken after the batch was appended (the snapshot thread waits for this seq to be
      // durable). A failed snapshot costs recovery time, not data: retry at the next interval.
      (void)snapshot_(*engine_, last_seq_).ok();
      last_snapshot_seq_ = last_seq_;
    }
    queued_.fetch_sub(taken, std::memory_order_seq_cst);  // still holding the role
    role.unlock();
    CommitAppended(commands);
  }
}

void Sequencer::HandleQuery(QueueItem& item) {
  if (failed_.load(std::memory_order_acquire)) {
    FailWork(item.work);
    return;
  }
  SequencerView view{*engine_, ref_, last_seq_};
  item.work->Query(view);
  local_pending_.push_back(Pending{last_seq_, item.work});
}

void Sequencer::HandleCommand(QueueItem& item) {
  if (failed_.load(std::memory_order_acquire)) {
    FailWork(item.work);
    return;
  }
  Command& cmd = item.cmd;
  if (item.kind == Kind::kReplicated) {
    // Already sequenced by the primary: its seq and time are part of the replicated
    // journal and must be applied as they are.
    if (cmd.seq != last_seq_ + 1 || cmd.time < last_time_) {
      OnJournalFailure(absl::InternalError(absl::StrCat(
          "replicated command seq ", cmd.seq, " time ", cmd.time, " does not follow seq ",
          last_seq_, " time ", last_time_)));
      FailWork(item.work);
      return;
    }
    auctions_.Observe(cmd.time);
  } else {
    // A clock advance moves the clock here, when it is sequenced, never at submission: a
    // refused one must leave the clock alone.
    if (item.clock_advance > 0) {
      clock_offset_.fetch_add(item.clock_advance, std::memory_order_acq_rel);
    }
    const TimeNs now = Now();
    if (cmd.type == CommandType::kAdvanceTime && item.work == nullptr) {
      // A timer tick first runs the allocation auctions it owes (auction_schedule.h): one
      // RunAuction command each, sequenced and journaled like any other, before the tick.
      RunDueAuctions(now);
      if (failed_.load(std::memory_order_acquire)) return;
      // A timer tick is journaled only when a GTD offer is due; otherwise it would expire
      // nothing and skipping it changes nothing (replay sees neither). Every command
      // expires what is due before it acts, so skipped ticks never let an expired offer
      // trade.
      const std::optional<TimeNs> due = engine_->NextExpiry();
      if (!due.has_value() || *due > now) return;
    }
    cmd.seq = last_seq_ + 1;
    cmd.time = now;
  }
  ApplyCommand(cmd, item.work);
}

void Sequencer::RunDueAuctions(TimeNs now) {
  due_auctions_.clear();
  auctions_.Due(ref_, *engine_, now, &due_auctions_);
  for (InstrumentId instrument : due_auctions_) {
    Command cmd{};
    cmd.type = CommandType::kRunAuction;
    cmd.run_auction.instrument = instrument;
    cmd.seq = last_seq_ + 1;
    cmd.time = now;
    ApplyCommand(cmd, nullptr);
  }
}

void Sequencer::ApplyCommand(const Command& cmd, Work* work) {
  events_.clear();
  engine_->Apply(cmd, &events_);
  // Journaled in AppendBatch; if that fails, the journal failure fails this item too
  // (it is in pending_ by then, and every later command is refused).
  batch_cmds_.push_back(cmd);
  batch_events_.insert(batch_events_.end(), events_.begin(), events_.end());
  batch_event_ends_.push_back(batch_events_.size());
  last_seq_ = cmd.seq;
  last_time_ = cmd.time;
  last_seq_atomic_.store(last_seq_, std::memory_order_relaxed);
  if (work != nullptr) {
    SequencerView view{*engine_, ref_, last_seq_};
    work->Applied(view, cmd, events_);
  }
  for (SequencerObserver* o : observers_) o->OnApplied(*engine_, cmd, events_);
  local_pending_.push_back(Pending{cmd.seq, work});
}

std::size_t Sequencer::AppendBatch() {
  FlushPending();
  if (batch_cmds_.empty()) return 0;
  // The observers hand what they built to their release side before any of it can become
  // durable (an inline Commit releases on this thread before it returns).
  if (!observers_.empty()) {
    batch_groups_.clear();
    std::size_t from = 0;
    for (std::size_t i = 0; i < batch_cmds_.size(); ++i) {
      batch_groups_.push_back(CommandGroup{
          &batch_cmds_[i],
          absl::MakeConstSpan(batch_events_.data() + from, batch_event_ends_[i] - from)});
      from = batch_event_ends_[i];
    }
    for (SequencerObserver* o : observers_) o->OnBatchSequenced(batch_groups_);
  }
  std::size_t begin = 0;
  for (std::size_t i = 0; i < batch_cmds_.size(); ++i) {
    std::size_t end = batch_event_ends_[i];
    absl::Status appended = journal_->AppendDeferred(
        batch_cmds_[i], absl::MakeConstSpan(batch_events_.data() + begin, end - begin));
    begin = end;
    if (!appended.ok()) {
      // The engine moved but the journal refused: fail closed. The refused command and
      // everything after it are in pending_ and are failed by the publisher.
      OnJournalFailure(appended);
      break;
    }
  }
  const std::size_t commands = batch_cmds_.size();
  batch_cmds_.clear();
  batch_events_.clear();
  batch_event_ends_.clear();
  return commands;
}

void Sequencer::CommitAppended(std::size_t commands, bool inline_ok) {
  if (commands == 0) return;
  // Inline (this thread writes, and on_durable -> OnDurable releases the replies of every
  // group written, here), or the thread writing now (the journal thread, or another
  // caller's inline commit followed by the journal thread) does both. Whoever writes, a
  // reply leaves only from OnDurable, i.e. after the write (and fdatasync) of its group
  // and, when replicating, the stream's acknowledgement. A failed inline write has already
  // failed the journal closed (on_failure -> OnJournalFailure); the publisher then fails
  // the pending items with UNAVAILABLE.
  const bool may_write_here = inline_ok && commands <= options_.inline_commit_max_batch;
  // Observers' work that should overlap the write (the replication publish) goes first
  // when this thread may be the one writing, else right after the hand-off.
  if (may_write_here) {
    for (SequencerObserver* o : observers_) o->OnBatchCommitting();
  }
  (void)journal_->Commit(may_write_here).ok();
  if (!may_write_here) {
    for (SequencerObserver* o : observers_) o->OnBatchCommitting();
  }
}

void Sequencer::FlushPending() {
  if (local_pending_.empty()) return;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Pending& p : local_pending_) pending_.push_back(std::move(p));
    // The thread that makes a group commit releases its commands (they reach pending_
    // before the journal). The publisher is woken only when something is ready already: a
    // query over a durable state, which no group commit would release. Waking it for
    // every batch cost a futex wake and two context switches per batch for nothing.
    wake = pending_.front().seq <= ReleasableSeq() || !failure_.ok();
  }
  local_pending_.clear();
  if (wake) cv_.notify_one();
}

void Sequencer::RunPublisher() {
  pthread_setname_np(pthread_self(), "msx-publisher");
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        if (!pending_.empty()) {
          return pending_.front().seq <= ReleasableSeq() || !failure_.ok();
        }
        return publisher_stop_;
      });
      if (pending_.empty()) return;  // publisher_stop_ and drained
    }
    PublishReady();
  }
}

void Sequencer::PublishReady() {
  // One publisher at a time, so that batches go out in FIFO (= seq) order.
  std::lock_guard<std::mutex> order(publish_mu_);
  std::vector<Pending> ready;
  std::vector<Pending> failed;
  absl::Status failure;
  bool wake_stopping_publisher;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Seq releasable = ReleasableSeq();
    while (!pending_.empty() && pending_.front().seq <= releasable) {
      ready.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    if (!failure_.ok()) {
      failure = failure_;
      while (!pending_.empty()) {
        failed.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    // A stopping publisher thread exits once pending_ is empty. Whoever empties it (the
    // journal thread) must wake it, or it sleeps forever.
    wake_stopping_publisher = publisher_stop_ && pending_.empty();
  }
  if (wake_stopping_publisher) cv_.notify_all();
  // Replies first, then the observers (the stream messages). The caller of a command
  // waits for its reply; stream subscribers are notified. gRPC (1.51) hands a write
  // started on this thread over to its default-executor thread when the connection's
  // combiner is busy (perf shows it for the stream writes), and such writes go out one
  // after the other, so what is started first goes out first: replies first lower the
  // sync p50 and delay the execution reports a little (bench/results/gateway.md). Both are
  // from the same durable state: a report never describes a command the journal does not
  // hold.
  Seq upto = released_seq_;
  for (Pending& p : ready) {
    upto = std::max(upto, p.seq);
    if (p.work != nullptr) p.work->Complete(absl::OkStatus());
  }
  if (upto > released_seq_) {
    for (SequencerObserver* o : observers_) o->OnGroupDurable(released_seq_ + 1, upto);
    released_seq_ = upto;
  }
  for (Pending& p : failed) {
    if (p.work != nullptr) {
      p.work->Complete(absl::UnavailableError(
          absl::StrCat("journal failed closed: ", failure.message())));
    }
  }
  if (!failure.ok() && !failure_told_) {
    failure_told_ = true;
    for (SequencerObserver* o : observers_) o->OnJournalFailed(released_seq_);
  }
}

}  // namespace msx::gateway
