#include "gateway/sequencer.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

// The sequencer works in batches of at most this many items (fewer when the ring runs
// empty): the shared lock is taken once per batch, not per command, and the journal is
// handed a batch at a time.
constexpr std::size_t kPendingBatch = 128;

}  // namespace

Sequencer::Sequencer(const ReferenceData& ref, Engine* engine, journal::JournalWriter* journal,
                     ExecHub* exec_hub, BookHub* book_hub, SequencerOptions options,
                     SnapshotFn snapshot)
    : ref_(ref),
      engine_(engine),
      journal_(journal),
      exec_hub_(exec_hub),
      book_hub_(book_hub),
      options_(options),
      snapshot_(std::move(snapshot)),
      ring_(options.queue_capacity, options.idle_spin_ns) {
  events_.reserve(1024);
  local_pending_.reserve(kPendingBatch);
  batch_cmds_.reserve(kPendingBatch);
  batch_events_.reserve(4 * kPendingBatch);
  batch_event_ends_.reserve(kPendingBatch);
}

Sequencer::~Sequencer() {
  if (sequencer_thread_.joinable()) Stop();
}

void Sequencer::Start() {
  last_seq_ = engine_->last_seq();
  last_time_ = engine_->last_time();
  last_snapshot_seq_ = last_seq_;
  history_floor_ = last_seq_;
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
}

absl::Status Sequencer::SubmitCommand(const Command& cmd, Work* work) {
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError(absl::StrCat("journal failed closed: ", failure()));
  }
  QueueItem item{};
  item.kind = Kind::kCommand;
  item.cmd = cmd;
  item.work = work;
  return Push(item);
}

absl::Status Sequencer::SubmitCommandHere(const Command& cmd, Work* work) {
  if (!options_.run_on_caller) return SubmitCommand(cmd, work);
  bool ran = false;
  bool wake = false;
  // submitting_ brackets the stopping_ check and the run, as in Push: Stop() waits for it,
  // so nothing runs here once the stop marker is queued.
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
      CommitBatch();  // inline when the journal is idle: the reply is completed right here
      wake = SnapshotDue();
      ran = true;
    }
    role_mu_.unlock();
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
          "sequencer queue full (capacity ", ring_.capacity(), "); retry with backoff"));
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
  // Everything sequenced so far was handed to the journal (CommitBatch), so the journal
  // advances durable_seq on its own; a failed journal fails the items instead.
  room_cv_.wait(lock, [&] { return JournalHasRoom() || failed_.load(std::memory_order_seq_cst); });
  room_waiting_.store(false, std::memory_order_relaxed);
}

void Sequencer::OnDurable(Seq durable_seq) {
  durable_seq_.store(durable_seq, std::memory_order_seq_cst);
  if (room_waiting_.load(std::memory_order_seq_cst)) {
    { std::lock_guard<std::mutex> lock(room_mu_); }  // the waiter is in wait() or re-checks
    room_cv_.notify_one();
  }
  if (options_.publish_on_durable) {
    // Saves a thread hand-off per group commit: the journal thread releases the replies.
    PublishReady();
    return;
  }
  { std::lock_guard<std::mutex> lock(mu_); }  // pairs with the publisher's predicate check
  cv_.notify_one();
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
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  // The engine requires non-decreasing times; a wall clock stepped back must not break it.
  return std::max<TimeNs>(now, last_time_);
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
    std::lock_guard<std::mutex> role(role_mu_);
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
      if (have_next && next.kind == Kind::kCommand) engine_->Prefetch(next.cmd);
      if (item.kind == Kind::kQuery) {
        HandleQuery(item);
      } else if (item.kind == Kind::kCommand) {
        HandleCommand(item);
      }
      if (!have_next) break;
      item = next;
    }
    CommitBatch();
    if (stop) {
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
  }
}

void Sequencer::HandleQuery(QueueItem& item) {
  if (failed_.load(std::memory_order_acquire)) {
    FailWork(item.work);
    return;
  }
  SequencerView view{*engine_, ref_, last_seq_, *this};
  item.work->Query(view);
  local_pending_.push_back(Pending{last_seq_, item.work, {}, {}});
}

void Sequencer::HandleCommand(QueueItem& item) {
  if (failed_.load(std::memory_order_acquire)) {
    FailWork(item.work);
    return;
  }
  Command& cmd = item.cmd;
  const TimeNs now = Now();
  if (cmd.type == CommandType::kAdvanceTime && item.work == nullptr) {
    // A timer tick is journaled only when a GTD offer is due; otherwise it would expire
    // nothing and skipping it changes nothing (replay sees neither). Every command expires
    // what is due before it acts, so skipped ticks never let an expired offer trade.
    const std::optional<TimeNs> due = engine_->NextExpiry();
    if (!due.has_value() || *due > now) return;
  }
  cmd.seq = last_seq_ + 1;
  cmd.time = now;
  events_.clear();
  engine_->Apply(cmd, &events_);
  // Journaled in CommitBatch; if that fails, the journal failure fails this item too
  // (it is in pending_ by then, and every later command is refused).
  batch_cmds_.push_back(cmd);
  batch_events_.insert(batch_events_.end(), events_.begin(), events_.end());
  batch_event_ends_.push_back(batch_events_.size());
  last_seq_ = cmd.seq;
  last_time_ = cmd.time;
  last_seq_atomic_.store(last_seq_, std::memory_order_relaxed);
  if (item.work != nullptr) {
    SequencerView view{*engine_, ref_, last_seq_, *this};
    item.work->Applied(view, cmd, events_);
  }
  Pending p{cmd.seq, item.work, {}, {}};
  BuildOutputs(cmd, events_, &p.reports, &p.book, false, 0);
  for (const ExecOut& r : p.reports) history_.push_back(r);
  while (history_.size() > options_.history_reports) {
    history_floor_ = std::max(history_floor_, history_.front().report->seq());
    history_.pop_front();
  }
  local_pending_.push_back(std::move(p));
}

void Sequencer::CommitBatch() {
  FlushPending();
  if (batch_cmds_.empty()) return;
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
  // Inline (this thread writes, and on_durable -> OnDurable releases the batch's replies
  // here, before the next batch), or the journal thread does both. A failed inline write
  // has already failed the journal closed (on_failure -> OnJournalFailure); the publisher
  // then fails the pending items with UNAVAILABLE.
  const bool inline_ok = batch_cmds_.size() <= options_.inline_commit_max_batch;
  (void)journal_->Commit(inline_ok).ok();
  batch_cmds_.clear();
  batch_events_.clear();
  batch_event_ends_.clear();
}

void Sequencer::FlushPending() {
  if (local_pending_.empty()) return;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Pending& p : local_pending_) pending_.push_back(std::move(p));
    // With publish_on_durable the journal thread releases commands at their group commit
    // (they reach pending_ before the journal). The publisher is woken only when
    // something is ready already: a query over a durable state, which no group commit
    // would release. Waking it for every batch cost a futex wake and two context switches
    // per batch for nothing.
    wake = !options_.publish_on_durable ||
           pending_.front().seq <= durable_seq_.load(std::memory_order_acquire) ||
           !failure_.ok();
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
          return pending_.front().seq <= durable_seq_.load(std::memory_order_acquire) ||
                 !failure_.ok();
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
    Seq durable = durable_seq_.load(std::memory_order_acquire);
    while (!pending_.empty() && pending_.front().seq <= durable) {
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
    // journal thread, with publish_on_durable) must wake it, or it sleeps forever.
    wake_stopping_publisher = publisher_stop_ && pending_.empty();
  }
  if (wake_stopping_publisher) cv_.notify_all();
  // Replies first, then the streams, as one batch per hub (each stream then starts one
  // write for all of its messages of this group commit). The caller of a command waits
  // for its reply; stream subscribers are notified. gRPC (1.51) hands a write started on
  // this thread over to its default-executor thread when the connection's combiner is
  // busy (perf shows it for the stream writes), and such writes go out one after the
  // other, so what is started first goes out first: replies first lower the sync p50 and
  // delay the execution reports a little (bench/results/gateway.md). Both are from the same durable state:
  // a report never describes a command the journal does not hold.
  std::vector<std::pair<std::size_t, std::shared_ptr<const v1::ExecutionReport>>> reports;
  std::vector<std::pair<std::size_t, std::shared_ptr<const v1::BookUpdate>>> updates;
  for (Pending& p : ready) {
    for (ExecOut& r : p.reports) reports.emplace_back(r.agency, std::move(r.report));
    for (BookOut& b : p.book) updates.emplace_back(b.pair, std::move(b.update));
  }
  for (Pending& p : ready) {
    if (p.work != nullptr) p.work->Complete(absl::OkStatus());
  }
  exec_hub_->PublishBatch(reports);
  book_hub_->PublishBatch(updates);
  for (Pending& p : failed) {
    if (p.work != nullptr) {
      p.work->Complete(absl::UnavailableError(
          absl::StrCat("journal failed closed: ", failure.message())));
    }
  }
}

bool Sequencer::RecentExecutions(AgencyId agency, Seq after,
                                 std::vector<std::shared_ptr<const v1::ExecutionReport>>* out,
                                 Seq* journal_upto) {
  if (after >= last_seq_) return true;
  if (after < history_floor_) {
    *journal_upto = history_floor_;
    return false;
  }
  auto it = std::partition_point(history_.begin(), history_.end(),
                                 [&](const ExecOut& r) { return r.report->seq() <= after; });
  for (; it != history_.end(); ++it) {
    if (it->agency == agency) out->push_back(it->report);
  }
  return true;
}

void Sequencer::HistoryReports(AgencyId agency, absl::Span<const HistoryGroup> groups,
                               std::vector<std::shared_ptr<const v1::ExecutionReport>>* out) {
  std::vector<ExecOut> reports;
  for (const HistoryGroup& g : groups) {
    reports.clear();
    BuildOutputs(g.command, g.events, &reports, nullptr, true, agency);
    for (ExecOut& r : reports) out->push_back(std::move(r.report));
  }
}

void Sequencer::BuildOutputs(const Command& cmd, absl::Span<const Event> events,
                             std::vector<ExecOut>* reports, std::vector<BookOut>* book,
                             bool only_agency_valid, AgencyId only_agency) {
  // This command's reports, still private (mutable) until published.
  std::vector<std::pair<AgencyId, v1::ExecutionReport*>> built;
  auto wants = [&](AgencyId a) { return !only_agency_valid || a == only_agency; };
  auto new_report = [&](AgencyId agency) {
    auto r = std::make_shared<v1::ExecutionReport>();
    r->set_seq(cmd.seq);
    r->set_time_ns(cmd.time);
    reports->push_back(ExecOut{agency, r});
    built.emplace_back(agency, r.get());
    return r.get();
  };
  auto offer_info = [&](OfferId id) {
    std::optional<OfferInfo> info = engine_->GetOffer(id);
    return info ? *info : OfferInfo{};
  };
  auto new_book = [&](PairId pair) -> v1::BookUpdate* {
    if (book == nullptr || !book_hub_->interested(pair)) return nullptr;
    auto u = std::make_shared<v1::BookUpdate>();
    u->set_seq(cmd.seq);
    u->set_time_ns(cmd.time);
    book->push_back(BookOut{pair, u});
    return u.get();
  };
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kAccepted: {
        const AcceptedEvent& a = e.accepted;
        if (!wants(a.agency)) break;
        OfferInfo info = offer_info(a.offer);
        info.original_lots = a.lots;
        info.open_lots = a.lots;
        info.filled_lots = 0;
        info.price = a.price;
        info.status = OfferStatus::kOpen;
        ToProtoOffer(ref_, info, new_report(a.agency)->mutable_accepted()->mutable_offer());
        break;
      }
      case EventType::kFill: {
        const FillEvent& f = e.fill;
        if (wants(f.maker_agency)) {
          ToProtoFill(ref_, f, true, offer_info(f.maker_offer),
                      new_report(f.maker_agency)->mutable_fill());
        }
        if (wants(f.taker_agency)) {
          ToProtoFill(ref_, f, false, offer_info(f.taker_offer),
                      new_report(f.taker_agency)->mutable_fill());
        }
        if (v1::BookUpdate* u = new_book(f.pair)) {
          v1::Trade* t = u->mutable_trade();
          t->set_price(f.price);
          t->set_lots(f.lots);
          t->set_aggressor_side(ToProtoSide(f.aggressor_side));
        }
        break;
      }
      case EventType::kCancelled: {
        const CancelledEvent& c = e.cancelled;
        if (!wants(c.agency)) break;
        OfferInfo info = offer_info(c.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kCancelled;
        v1::OfferCancelled* oc = new_report(c.agency)->mutable_cancelled();
        ToProtoOffer(ref_, info, oc->mutable_offer());
        oc->set_reason(ToProtoCancelReason(c.reason));
        oc->set_cancelled_lots(c.lots);
        break;
      }
      case EventType::kExpired: {
        const ExpiredEvent& x = e.expired;
        if (!wants(x.agency)) break;
        OfferInfo info = offer_info(x.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kExpired;
        v1::OfferExpired* oe = new_report(x.agency)->mutable_expired();
        ToProtoOffer(ref_, info, oe->mutable_offer());
        oe->set_expired_lots(x.lots);
        break;
      }
      case EventType::kReplaced: {
        const ReplacedEvent& r = e.replaced;
        if (!wants(r.agency)) break;
        OfferInfo info = offer_info(r.offer);
        info.open_lots = r.lots;
        info.price = r.price;
        info.status = OfferStatus::kOpen;
        v1::OfferReplaced* orp = new_report(r.agency)->mutable_replaced();
        ToProtoOffer(ref_, info, orp->mutable_offer());
        orp->set_kept_priority(r.kept_priority);
        break;
      }
      case EventType::kBookLevel: {
        const BookLevelEvent& l = e.book_level;
        if (v1::BookUpdate* u = new_book(l.pair)) {
          v1::PriceLevelChange* c = u->mutable_level();
          c->set_side(ToProtoSide(l.side));
          c->set_price(l.price);
          c->set_lots(l.lots);
          c->set_offer_count(static_cast<std::int32_t>(l.offer_count));
        }
        break;
      }
      case EventType::kPairHalted:
        if (v1::BookUpdate* u = new_book(e.pair.pair)) u->set_halted(true);
        break;
      case EventType::kPairResumed:
        if (v1::BookUpdate* u = new_book(e.pair.pair)) u->set_halted(false);
        break;
      case EventType::kRejected:
      case EventType::kHoldingsSet:
        break;
    }
  }
  // Mark each agency's last report of this command (ExecutionReport.seq_complete).
  AgencyMask marked = 0;
  for (auto it = built.rbegin(); it != built.rend(); ++it) {
    AgencyMask bit = AgencyMask{1} << (it->first % kMaxAgencies);
    if ((marked & bit) != 0) continue;
    marked |= bit;
    it->second->set_seq_complete(true);
  }
}

}  // namespace msx::gateway
