// Sequencer + JournalWriter + Engine (all real, no gRPC): a reply is released only once
// the journal file holds its command, on every commit path (inline on the sequencer
// thread, or on the journal thread), and a journal write error fails closed.
#include "gateway/sequencer.h"


#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/matching/engine.h"
#include "engine/journal/codec.h"
#include "engine/journal/file_util.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

using journal::Durability;

// Whether the journal in `dir` holds the command group of `seq` (read from the files).
absl::Status JournalHolds(const std::string& dir, Seq seq) {
  journal::ReaderOptions ro;
  ro.after_seq = seq - 1;
  ro.until_seq = seq;
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, ro);
  if (!reader.ok()) return reader.status();
  journal::JournalEntry entry;
  Seq found = 0;
  while ((*reader)->Next(&entry)) found = entry.command.seq;
  if (!(*reader)->status().ok()) return (*reader)->status();
  if (found != seq) return absl::NotFoundError(absl::StrCat("seq ", seq, " not in journal"));
  return absl::OkStatus();
}

// Records what happened to one submitted command. At Complete (the release of the reply)
// it checks the journal file right away: the reply must not leave before the bytes are in
// the file.
// A Work a test thread can wait for: its status, whether it is done, and the thread that
// completed it.
class AwaitedWork : public Work {
 public:
  void Complete(const absl::Status& status) override {
    OnComplete(status);
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    completed_on_ = std::this_thread::get_id();
    done_ = true;
    cv_.notify_all();
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  std::thread::id completed_on() {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_on_;
  }

 protected:
  // Runs first in Complete, on the completing thread.
  virtual void OnComplete(const absl::Status& status) { (void)status; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
  std::thread::id completed_on_;
};

// With `journal`, it also checks that the journal had reported the command durable
// (durable_seq() is stored after the group's write and, under kSync, its fdatasync).
class Recorder : public AwaitedWork {
 public:
  explicit Recorder(std::string dir, const journal::JournalWriter* journal = nullptr)
      : dir_(std::move(dir)), journal_(journal) {}
  void Applied(const SequencerView&, const Command& cmd, absl::Span<const Event>) override {
    seq_ = cmd.seq;
  }
  Seq seq() const { return seq_; }
  const absl::Status& in_journal_at_release() const { return in_journal_at_release_; }

 protected:
  void OnComplete(const absl::Status& status) override {
    if (!status.ok()) return;
    in_journal_at_release_ = JournalHolds(dir_, seq_);
    if (in_journal_at_release_.ok() && journal_ != nullptr && journal_->durable_seq() < seq_) {
      in_journal_at_release_ = absl::FailedPreconditionError(
          absl::StrCat("released before the journal reported it durable (durable seq ",
                       journal_->durable_seq(), ")"));
    }
  }

 private:
  const std::string dir_;
  const journal::JournalWriter* const journal_;
  Seq seq_ = 0;
  absl::Status in_journal_at_release_ = absl::UnknownError("not released");
};

// Every work completed OK, its reply was released only once the journal held it, and the
// seqs are 1..works.size(), each once.
void ExpectSeqsOnceEachAndJournaledAtRelease(
    const std::vector<std::unique_ptr<Recorder>>& works) {
  std::vector<bool> seen(works.size() + 1, false);
  for (const auto& w : works) {
    ASSERT_TRUE(w->Wait().ok());
    EXPECT_TRUE(w->in_journal_at_release().ok()) << "seq " << w->seq() << ": "
                                                  << w->in_journal_at_release();
    ASSERT_GE(w->seq(), 1u);
    ASSERT_LE(w->seq(), works.size());
    EXPECT_FALSE(seen[w->seq()]);
    seen[w->seq()] = true;
  }
}

class SequencerJournalTest : public ::testing::Test {
 protected:
  void Start(Durability durability, std::size_t inline_max, bool run_on_caller = false,
             const std::function<void(SequencerOptions*)>& edit = nullptr,
             std::uint64_t preallocate_bytes = journal::kDefaultPreallocateBytes) {
    journal::WriterOptions wo;
    wo.durability = durability;
    wo.preallocate_bytes = preallocate_bytes;
    wo.config = "sequencer test";
    wo.on_durable = [this](Seq s) {
      // A stalled disk: the thread that made the commit (it owns the journal file until
      // this returns) waits here, so nothing more becomes durable meanwhile.
      {
        std::unique_lock<std::mutex> lock(stall_mu_);
        stall_cv_.wait(lock, [&] { return !stalled_; });
      }
      if (Sequencer* q = target_.load()) q->OnDurable(s);
    };
    wo.on_failure = [this](const absl::Status& s) {
      if (Sequencer* q = target_.load()) q->OnJournalFailure(s);
    };
    auto writer = journal::JournalWriter::Open(dir_.path(), wo);
    ASSERT_TRUE(writer.ok()) << writer.status();
    journal_ = *std::move(writer);
    engine_ = std::make_unique<Engine>(msx::testing::TestUniverse(), EngineOptions{});
    SequencerOptions so;
    so.queue_capacity = 1024;
    so.inline_commit_max_batch = inline_max;
    so.run_on_caller = run_on_caller;
    if (edit) edit(&so);
    sequencer_ = std::make_unique<Sequencer>(msx::testing::TestUniverse(), engine_.get(),
                                             journal_.get(), observers_, so, SnapshotFn());
    target_.store(sequencer_.get());
    sequencer_->Start();
  }
  void TearDown() override {
    Unstall();
    if (sequencer_) sequencer_->Stop();
    if (journal_) journal_->Close().IgnoreError();
  }

  // A command of the swap mix: holdings first, then crossing submits.
  static Command MakeCommand(int i) {
    using namespace msx::testing;
    if (i < 8) return SetHolding(static_cast<AgencyId>(i / 4), static_cast<InstrumentId>(i % 4),
                                 Amount{1} << 40);
    return Submit(static_cast<AgencyId>(i % 2), kAaaBbb, i % 2 ? Side::kBuy : Side::kSell,
                  1 + i % 5, 100, static_cast<ClientOfferId>(i));
  }

  void Stall() {
    std::lock_guard<std::mutex> lock(stall_mu_);
    stalled_ = true;
  }
  void Unstall() {
    {
      std::lock_guard<std::mutex> lock(stall_mu_);
      stalled_ = false;
    }
    stall_cv_.notify_all();
  }

  journal::testing::TempDir dir_;
  std::mutex stall_mu_;
  std::condition_variable stall_cv_;
  bool stalled_ = false;
  std::vector<SequencerObserver*> observers_;  // set before Start
  std::unique_ptr<journal::JournalWriter> journal_;
  std::unique_ptr<Engine> engine_;
  std::atomic<Sequencer*> target_{nullptr};
  std::unique_ptr<Sequencer> sequencer_;
};

class ReleaseAfterJournalTest
    : public SequencerJournalTest,
      public ::testing::WithParamInterface<std::tuple<Durability, std::size_t>> {};

// Two producers (as gRPC threads), lone commands and batches: every reply is released
// only when the journal file holds its command, and seqs are gapless.
TEST_P(ReleaseAfterJournalTest, EveryReplyIsReleasedOnlyOnceTheJournalFileHoldsIt) {
  const auto [durability, inline_max] = GetParam();
  Start(durability, inline_max);
  constexpr int kPerThread = 150;
  std::vector<std::unique_ptr<Recorder>> works(2 * kPerThread);
  for (auto& w : works) w = std::make_unique<Recorder>(dir_.path(), journal_.get());
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Recorder* w = works[t * kPerThread + i].get();
        absl::Status s;
        while (absl::IsResourceExhausted(
            s = sequencer_->SubmitCommand(MakeCommand(t * kPerThread + i), w))) {
          std::this_thread::yield();
        }
        ASSERT_TRUE(s.ok()) << s;
        // Every third command waits for its reply: lone commands reach the journal idle.
        if (i % 3 == 0) {
          ASSERT_TRUE(w->Wait().ok());
        }
      }
    });
  }
  for (std::thread& t : producers) t.join();
  // Then lone commands, one at a time: the journal is idle when each one arrives. (A reply
  // released by the journal thread reaches us while that thread still owns the file until
  // its callback returns, so give it a moment before the next command.)
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
    ASSERT_TRUE(sequencer_->SubmitCommand(MakeCommand(1000 + i), works.back().get()).ok());
    ASSERT_TRUE(works.back()->Wait().ok());
  }
  ASSERT_NO_FATAL_FAILURE(ExpectSeqsOnceEachAndJournaledAtRelease(works));
  const journal::WriterStats st = journal_->stats();
  if (inline_max == 0) {
    EXPECT_EQ(st.inline_syncs, 0u);
  } else {
    EXPECT_GT(st.inline_syncs, 0u);  // the sequencer-thread path was taken
  }
}

// The observer contract (sequencer_observer.h) that the reports unit, and any counter or
// replicator, relies on: every journaled command is applied once and sequenced once, in
// seq order; the OnGroupDurable ranges are consecutive and cover each command once; a
// range is reported only once the journal file holds its last command and every reply of
// the range was completed; and the command groups handed over re-encode
// (journal::AppendCommandGroup) to exactly the bytes of the journal file.
class ObservedRecorder : public Recorder {
 public:
  ObservedRecorder(std::string dir, std::vector<std::atomic<bool>>* released)
      : Recorder(std::move(dir)), released_(released) {}

 protected:
  void OnComplete(const absl::Status& status) override {
    Recorder::OnComplete(status);
    (*released_)[seq()].store(true);
  }

 private:
  std::vector<std::atomic<bool>>* released_;
};

class CheckingObserver : public SequencerObserver {
 public:
  CheckingObserver(std::string dir, const std::vector<std::atomic<bool>>* released)
      : dir_(std::move(dir)), released_(released) {}
  void OnApplied(const Engine& engine, const Command& cmd, absl::Span<const Event>) override {
    EXPECT_EQ(cmd.seq, applied_ + 1);
    EXPECT_EQ(engine.last_seq(), cmd.seq);
    applied_ = cmd.seq;
  }
  void OnBatchSequenced(absl::Span<const CommandGroup> groups) override {
    for (const CommandGroup& g : groups) {
      EXPECT_EQ(g.command->seq, sequenced_.load() + 1);
      EXPECT_LE(g.command->seq, applied_);
      sequenced_.store(g.command->seq);
      journal::AppendCommandGroup(*g.command, g.events, &bytes_);
    }
  }
  void OnGroupDurable(Seq first, Seq last) override {
    EXPECT_EQ(first, durable_.load() + 1);
    EXPECT_GE(last, first);
    EXPECT_LE(last, sequenced_.load());
    EXPECT_TRUE(JournalHolds(dir_, last).ok()) << "seq " << last;
    for (Seq s = first; s <= last; ++s) EXPECT_TRUE((*released_)[s].load()) << "seq " << s;
    durable_.store(last);
  }
  Seq durable() const { return durable_.load(); }
  const std::string& bytes() const { return bytes_; }

 private:
  const std::string dir_;
  const std::vector<std::atomic<bool>>* released_;
  Seq applied_ = 0;  // sequencer thread only
  // Written on the sequencer thread, read on the thread that reports durability.
  std::atomic<Seq> sequenced_{0};
  std::atomic<Seq> durable_{0};  // read by the test's thread
  std::string bytes_;  // the groups re-encoded, in order
};

TEST_P(ReleaseAfterJournalTest, ObserversSeeEachCommandOnceDurableAfterItsReply) {
  const auto [durability, inline_max] = GetParam();
  constexpr int kCommands = 300;
  std::vector<std::atomic<bool>> released(kCommands + 1);
  CheckingObserver observer(dir_.path(), &released);
  observers_ = {&observer};
  Start(durability, inline_max);
  std::vector<std::unique_ptr<ObservedRecorder>> works;
  for (int i = 0; i < kCommands; ++i) {
    works.push_back(std::make_unique<ObservedRecorder>(dir_.path(), &released));
    absl::Status s;
    while (absl::IsResourceExhausted(s = sequencer_->SubmitCommand(MakeCommand(i),
                                                                     works.back().get()))) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(s.ok()) << s;
    if (i % 7 == 0) {
      ASSERT_TRUE(works.back()->Wait().ok());
    }
  }
  for (auto& w : works) ASSERT_TRUE(w->Wait().ok());
  sequencer_->Stop();
  EXPECT_EQ(observer.durable(), static_cast<Seq>(kCommands));

  // The journal's one segment: header, CONFIG record, then exactly the observed groups
  // (and the zeroed space the writer reserves ahead).
  std::string expected;
  journal::AppendSegmentHeader(1, &expected);
  journal::AppendRecord(journal::RecordType::kConfig, "sequencer test", &expected);
  expected += observer.bytes();
  absl::StatusOr<std::string> file =
      journal::internal::ReadFile(absl::StrCat(dir_.path(), "/", journal::SegmentFileName(1)));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_GE(file->size(), expected.size());
  EXPECT_TRUE(file->compare(0, expected.size(), expected) == 0);
  EXPECT_EQ(file->find_first_not_of('\0', expected.size()), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    CommitPaths, ReleaseAfterJournalTest,
    ::testing::Values(std::make_tuple(Durability::kNone, std::numeric_limits<std::size_t>::max()),
                      std::make_tuple(Durability::kNone, std::size_t{0}),
                      std::make_tuple(Durability::kSync, std::size_t{1}),
                      std::make_tuple(Durability::kSync, std::numeric_limits<std::size_t>::max()),
                      std::make_tuple(Durability::kSync, std::size_t{0})));

// A query that records the state it saw (last_seq) when the sequencer ran it.
class SeenSeq : public AwaitedWork {
 public:
  void Query(const SequencerView& view) override { seen_ = view.last_seq; }
  Seq seen() const { return seen_; }

 private:
  Seq seen_ = 0;
};

// Run-to-completion (SequencerOptions::run_on_caller), under both durabilities: a lone
// command is applied, journaled (under kSync: written and fdatasync'd) and completed on the
// calling thread before SubmitCommandHere returns; under two callers plus queued queries
// (callers sequence while another caller or the journal thread writes) every reply still
// leaves only once the journal reported its command durable and the file holds it, seqs
// stay gapless and unique, and every command completed before a query was queued is in the
// state that query saw.
// caller_writes = false (msx-server under kSync): the caller only sequences; the journal
// thread writes, fdatasyncs and completes the call.
struct RunOnCallerJournal {
  const char* name;
  Durability durability;
  std::uint64_t preallocate_bytes;
  bool caller_writes = true;
};
class RunOnCallerTest : public SequencerJournalTest,
                        public ::testing::WithParamInterface<RunOnCallerJournal> {};

TEST_P(RunOnCallerTest, RunOnCallerCompletesALoneCommandOnTheCallingThread) {
  const RunOnCallerJournal p = GetParam();
  Start(p.durability, std::numeric_limits<std::size_t>::max(), /*run_on_caller=*/true,
        [&](SequencerOptions* o) { o->caller_writes = p.caller_writes; }, p.preallocate_bytes);
  std::vector<std::unique_ptr<Recorder>> works;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the journal is idle again
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
    Recorder* w = works.back().get();
    ASSERT_TRUE(sequencer_->SubmitCommandHere(MakeCommand(i), w).ok());
    if (!p.caller_writes) {
      ASSERT_TRUE(w->Wait().ok());
      EXPECT_NE(w->completed_on(), std::this_thread::get_id()) << i;  // the journal thread's
    } else if (p.durability == Durability::kSync && p.preallocate_bytes != 0) {
      // The journal thread may be extending its zeros, and then it writes this command.
      ASSERT_TRUE(w->Wait().ok());
    } else {
      // Nothing was queued and nobody was sequencing or writing: the call is complete
      // already, here.
      EXPECT_TRUE(w->done()) << i;
      EXPECT_EQ(w->completed_on(), std::this_thread::get_id()) << i;
    }
    EXPECT_TRUE(w->in_journal_at_release().ok()) << w->in_journal_at_release();
    EXPECT_EQ(w->seq(), static_cast<Seq>(i + 1));
  }
  if (p.caller_writes) {
    EXPECT_GT(journal_->stats().inline_syncs, 0u);  // some commits were the caller's
  } else {
    EXPECT_EQ(journal_->stats().inline_syncs, 0u);  // all were the journal thread's
  }

  // Two callers and a stream of queued queries at once.
  constexpr int kPerThread = 200;
  const std::size_t base = works.size();
  for (int i = 0; i < 2 * kPerThread; ++i) {
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
  }
  std::atomic<bool> done{false};
  std::vector<std::unique_ptr<SeenSeq>> queries;
  std::vector<Seq> completed_before;  // highest seq completed before each query was queued
  std::thread querier([&] {
    while (!done.load()) {
      Seq before = 0;
      for (std::size_t i = 0; i < works.size(); ++i) {
        if (works[i]->done()) before = std::max(before, works[i]->seq());
      }
      queries.push_back(std::make_unique<SeenSeq>());
      absl::Status s;
      while (absl::IsResourceExhausted(s = sequencer_->SubmitQuery(queries.back().get()))) {
        std::this_thread::yield();
      }
      ASSERT_TRUE(s.ok()) << s;
      completed_before.push_back(before);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Recorder* w = works[base + static_cast<std::size_t>(t * kPerThread + i)].get();
        absl::Status s;
        while (absl::IsResourceExhausted(
            s = sequencer_->SubmitCommandHere(MakeCommand(100 + t * kPerThread + i), w))) {
          std::this_thread::yield();
        }
        ASSERT_TRUE(s.ok()) << s;
        if (i % 2 == 0) {
          ASSERT_TRUE(w->Wait().ok());
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();
  done = true;
  querier.join();

  ASSERT_NO_FATAL_FAILURE(ExpectSeqsOnceEachAndJournaledAtRelease(works));
  ASSERT_FALSE(queries.empty());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    ASSERT_TRUE(queries[q]->Wait().ok());
    EXPECT_GE(queries[q]->seen(), completed_before[q]) << "query " << q;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Journals, RunOnCallerTest,
    ::testing::Values(RunOnCallerJournal{"None", Durability::kNone, 0},
                      RunOnCallerJournal{"SyncAppend", Durability::kSync, 0},
                      RunOnCallerJournal{"SyncPreallocated", Durability::kSync,
                                         journal::kDefaultPreallocateBytes},
                      RunOnCallerJournal{"SyncJournalThreadWrites", Durability::kSync,
                                         journal::kDefaultPreallocateBytes, false}),
    [](const ::testing::TestParamInfo<RunOnCallerJournal>& info) { return info.param.name; });

// OnBatchCommitting (where the replication publish goes, overlapping the journal write):
// once per batch, on the thread that sequenced it, before a commit that thread writes
// itself, after one handed to the journal thread (that thread then writes it while the
// observer still runs).
class CommittingObserver : public SequencerObserver {
 public:
  explicit CommittingObserver(const std::unique_ptr<journal::JournalWriter>* journal)
      : journal_(journal) {}
  void OnBatchSequenced(absl::Span<const CommandGroup> groups) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(last_.emplace(std::this_thread::get_id(), groups.back().command->seq).second)
        << "two batches sequenced on one thread without OnBatchCommitting between them";
  }
  void OnBatchCommitting() override {
    Seq seq = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = last_.find(std::this_thread::get_id());
      ASSERT_NE(it, last_.end()) << "OnBatchCommitting without a batch sequenced on this thread";
      seq = it->second;
      last_.erase(it);
    }
    const journal::JournalWriter& journal = **journal_;
    Call call{seq, journal.durable_seq(), false};
    // Handed over already: the journal thread makes it durable while this call waits (a
    // call made before the hand-off would wait for nothing: the journal leaves deferred
    // groups alone until their commit).
    for (int i = 0;; ++i) {
      call.durable_later = journal.durable_seq() >= seq;
      if (call.durable_later || !wait_for_durable_ || i >= 10000) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
  }
  struct Call {
    Seq seq;
    Seq durable_at_call;
    bool durable_later;
  };
  void set_wait_for_durable(bool wait) { wait_for_durable_ = wait; }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  const std::unique_ptr<journal::JournalWriter>* const journal_;
  std::atomic<bool> wait_for_durable_{false};
  mutable std::mutex mu_;
  std::map<std::thread::id, Seq> last_;
  std::vector<Call> calls_;
};

class BatchCommittingTest : public SequencerJournalTest,
                            public ::testing::WithParamInterface<bool> {};

TEST_P(BatchCommittingTest, ObserversHearOfACommitBeforeTheyWriteItAfterAHandOff) {
  const bool caller_writes = GetParam();
  CommittingObserver observer(&journal_);
  observer.set_wait_for_durable(!caller_writes);
  observers_.push_back(&observer);
  Start(Durability::kSync, std::numeric_limits<std::size_t>::max(), /*run_on_caller=*/true,
        [&](SequencerOptions* o) { o->caller_writes = caller_writes; },
        /*preallocate_bytes=*/0);
  constexpr int kCommands = 20;
  for (int i = 0; i < kCommands; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the journal is idle again
    Recorder w(dir_.path(), journal_.get());
    ASSERT_TRUE(sequencer_->SubmitCommandHere(MakeCommand(i), &w).ok());
    ASSERT_TRUE(w.Wait().ok());
  }
  const std::vector<CommittingObserver::Call> calls = observer.calls();
  ASSERT_EQ(calls.size(), static_cast<std::size_t>(kCommands));
  for (int i = 0; i < kCommands; ++i) {
    const CommittingObserver::Call& c = calls[static_cast<std::size_t>(i)];
    EXPECT_EQ(c.seq, static_cast<Seq>(i + 1));
    // Never after this thread's own write of the batch, nor before a hand-off (after one,
    // the journal thread may have written it already when the call comes).
    if (caller_writes) {
      EXPECT_LT(c.durable_at_call, c.seq) << "told after the commit that wrote it";
    } else {
      EXPECT_TRUE(c.durable_later) << "told before the hand-off, seq " << c.seq;
    }
  }
  if (caller_writes) {
    EXPECT_GT(journal_->stats().inline_syncs, 0u);
  } else {
    EXPECT_EQ(journal_->stats().inline_syncs, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Writers, BatchCommittingTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "CallerWrites" : "JournalThreadWrites";
                         });

// A journal write that fails on the sequencer thread (inline commit; here the process
// file-size limit, EFBIG) fails closed: that command's reply is UNAVAILABLE, every reply
// released OK before is in the journal, and later commands are refused with UNAVAILABLE.
// Records what an observer is told about durability and the failure.
class DurabilityObserver : public SequencerObserver {
 public:
  void OnGroupDurable(Seq first, Seq last) override {
    EXPECT_EQ(failures_, 0) << "a durable range after the journal failure";
    EXPECT_EQ(first, durable_ + 1);
    durable_ = last;
  }
  void OnJournalFailed(Seq durable_seq) override {
    ++failures_;
    failed_at_ = durable_seq;
  }
  Seq durable() const { return durable_; }
  int failures() const { return failures_; }
  Seq failed_at() const { return failed_at_; }

 private:
  Seq durable_ = 0;
  int failures_ = 0;
  Seq failed_at_ = 0;
};

TEST_F(SequencerJournalTest, InlineJournalWriteErrorFailsClosedWithUnavailable) {
  DurabilityObserver observer;
  observers_ = {&observer};
  Start(Durability::kNone, std::numeric_limits<std::size_t>::max());
  journal::testing::ScopedFileSizeLimit limit(8192);
  ASSERT_TRUE(limit.ok());
  std::vector<std::unique_ptr<Recorder>> works;
  absl::Status failed;
  for (int i = 0; i < 5000 && failed.ok(); ++i) {
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
    absl::Status s = sequencer_->SubmitCommand(MakeCommand(i), works.back().get());
    if (!s.ok()) {
      works.pop_back();
      failed = s;
      break;
    }
    failed = works.back()->Wait();
  }
  ASSERT_TRUE(limit.Restore());
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "journal failed closed")) << failed;
  EXPECT_GT(journal_->stats().inline_syncs, 0u);
  EXPECT_FALSE(sequencer_->accepting());
  EXPECT_TRUE(absl::IsUnavailable(sequencer_->SubmitCommand(MakeCommand(9), nullptr)));
  int ok = 0;
  for (auto& w : works) {
    absl::Status s = w->Wait();
    if (s.ok()) {
      ++ok;
      EXPECT_TRUE(w->in_journal_at_release().ok()) << w->in_journal_at_release();
      EXPECT_TRUE(JournalHolds(dir_.path(), w->seq()).ok());
    } else {
      EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, static_cast<int>(works.size()));

  // Observers were told once, after the last durable range, where durability ended: every
  // reply released OK is at or below it, every UNAVAILABLE one above.
  sequencer_->Stop();
  EXPECT_EQ(observer.failures(), 1);
  EXPECT_EQ(observer.failed_at(), observer.durable());
  for (auto& w : works) {
    if (w->Wait().ok()) {
      EXPECT_LE(w->seq(), observer.durable());
    } else if (w->seq() != 0) {
      EXPECT_GT(w->seq(), observer.durable());
    }
  }
}

// Journal back-pressure (defect: a slow disk grew memory without bound). With the disk
// stalled, the sequencer stops taking work once the bound of undurable commands (or
// journal bytes) is reached: the ring fills, producers get RESOURCE_EXHAUSTED, and what
// waits for the disk stays within the bound plus one batch. Once the disk is back,
// every accepted command completes OK, journaled, and new commands are accepted again.
struct UndurableBound {
  const char* name;
  std::uint64_t commands;
  std::uint64_t bytes;
};

class JournalBackPressureTest : public SequencerJournalTest,
                                public ::testing::WithParamInterface<UndurableBound> {};

TEST_P(JournalBackPressureTest, StalledJournalStopsTheSequencerAtTheBound) {
  const UndurableBound bound = GetParam();
  constexpr std::size_t kCapacity = 64;
  constexpr std::size_t kBatch = 128;  // the sequencer checks the bound once per batch
  constexpr int kTotal = 4000;  // far beyond bound + ring: without the bound, all fit
  Stall();
  // Every commit on the journal thread (inline_max 0): that is the thread that stalls.
  Start(Durability::kNone, 0, false, [&](SequencerOptions* so) {
    so->queue_capacity = kCapacity;
    so->max_undurable_commands = bound.commands;
    so->max_undurable_bytes = bound.bytes;
  });
  std::vector<std::unique_ptr<Recorder>> works;
  bool held_back = false;
  while (works.size() < static_cast<std::size_t>(kTotal)) {
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
    absl::Status s = sequencer_->SubmitCommand(MakeCommand(static_cast<int>(works.size()) - 1),
                                               works.back().get());
    if (s.ok()) continue;
    works.pop_back();
    ASSERT_TRUE(absl::IsResourceExhausted(s)) << s;
    // Held back for good: the ring is full and the sequencer is waiting for the journal.
    if (sequencer_->queue_depth() == kCapacity && sequencer_->journal_waits() > 0) {
      held_back = true;
      break;
    }
    std::this_thread::yield();
  }
  if (!held_back) {
    // Everything was accepted: let the sequencer take it all, then measure.
    while (sequencer_->queue_depth() != 0) std::this_thread::yield();
  }
  EXPECT_TRUE(held_back) << "accepted all " << works.size() << " commands with the disk stalled";
  const Seq undurable = sequencer_->last_seq() - sequencer_->durable_seq();
  if (bound.commands != 0) {
    EXPECT_LE(undurable, bound.commands + kBatch);
  }
  if (bound.bytes != 0) {
    // One batch past the bound at most (a command group here is well under 1 KiB).
    EXPECT_LE(journal_->pending_bytes(), bound.bytes + kBatch * 1024);
  }
  EXPECT_LE(works.size(), undurable + kCapacity + 1);

  Unstall();
  ASSERT_NO_FATAL_FAILURE(ExpectSeqsOnceEachAndJournaledAtRelease(works));
  auto after = std::make_unique<Recorder>(dir_.path(), journal_.get());
  absl::Status s;
  while (absl::IsResourceExhausted(s = sequencer_->SubmitCommand(MakeCommand(kTotal),
                                                                   after.get()))) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(after->Wait().ok());
}

// Admin.AdvanceClock (defect: the clock moved before the command was admitted, so a call
// refused with RESOURCE_EXHAUSTED left it moved): the clock moves when the sequencer takes
// the time command, just before stamping it, and never when the ring refuses it.
TEST_F(SequencerJournalTest, ARefusedClockAdvanceLeavesTheClockWhereItWas) {
  constexpr std::size_t kCapacity = 64;
  constexpr TimeNs kMonth = 30 * kNsPerDay;
  Stall();
  Start(Durability::kNone, 0, false, [&](SequencerOptions* so) {
    so->queue_capacity = kCapacity;
    so->max_undurable_commands = 16;
  });
  // Fill the ring while the stalled journal holds the sequencer back. On a busy machine the
  // sequencer thread may need many turns to reach its journal wait: keep trying for a
  // generous while (a bound against hanging, not a speed expectation).
  std::vector<std::unique_ptr<Recorder>> works;
  // Whatever way the test ends, the sequencer and the journal let go of `works` before it
  // is destroyed (a failed assertion used to leave them holding it: a crash at teardown).
  absl::Cleanup release_works = [this] {
    Unstall();
    if (sequencer_) sequencer_->Stop();
    if (journal_) journal_->Close().IgnoreError();
  };
  bool held_back = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; !held_back && std::chrono::steady_clock::now() < give_up; ++i) {
    works.push_back(std::make_unique<Recorder>(dir_.path(), journal_.get()));
    absl::Status s = sequencer_->SubmitCommand(MakeCommand(i), works.back().get());
    if (s.ok()) continue;
    works.pop_back();
    ASSERT_TRUE(absl::IsResourceExhausted(s)) << s;
    held_back = sequencer_->queue_depth() == kCapacity && sequencer_->journal_waits() > 0;
    std::this_thread::yield();
  }
  ASSERT_TRUE(held_back);
  Recorder refused(dir_.path());
  absl::Status s = sequencer_->SubmitClockAdvance(kMonth, &refused);
  ASSERT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(sequencer_->clock_offset(), 0) << "a refused advance moved the clock";
  Unstall();
  ASSERT_NO_FATAL_FAILURE(ExpectSeqsOnceEachAndJournaledAtRelease(works));

  // Accepted, it moves the clock before its own time is stamped.
  class TimeRecorder : public Recorder {
   public:
    using Recorder::Recorder;
    void Applied(const SequencerView& v, const Command& cmd,
                 absl::Span<const Event> e) override {
      Recorder::Applied(v, cmd, e);
      time_ = cmd.time;
      type_ = cmd.type;
    }
    TimeNs time_ = 0;
    CommandType type_{};
  };
  TimeRecorder accepted(dir_.path(), journal_.get());
  const TimeNs wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  while (absl::IsResourceExhausted(s = sequencer_->SubmitClockAdvance(kMonth, &accepted))) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(accepted.Wait().ok());
  EXPECT_EQ(sequencer_->clock_offset(), kMonth);
  EXPECT_EQ(accepted.type_, CommandType::kAdvanceTime);
  EXPECT_GE(accepted.time_, wall + kMonth);
}

INSTANTIATE_TEST_SUITE_P(
    Bounds, JournalBackPressureTest,
    ::testing::Values(UndurableBound{"Commands", 256, 0}, UndurableBound{"Bytes", 0, 32768}),
    [](const ::testing::TestParamInfo<UndurableBound>& info) { return info.param.name; });

}  // namespace
}  // namespace msx::gateway
