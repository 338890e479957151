// The journal's tail as bytes and cutting it after a seq (tail.h): the groups read are the
// bytes the writer wrote; a cut keeps every byte it removes (a .cut- file and *.discarded
// segments), recovery then ends exactly at the cut with the state of that prefix, a writer
// continues from there, and a snapshot beyond the cut stops it with nothing changed.
#include "engine/journal/tail.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/journal/codec.h"
#include "engine/journal/file_util.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/journal/snapshot.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/testing/swap_traffic.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::TempDir;

constexpr char kConfig[] = "test universe v1";

std::unique_ptr<Engine> NewEngine() {
  EngineOptions o;
  o.expected_offers = 1 << 14;
  return std::make_unique<Engine>(msx::testing::TestUniverse(), o);
}

class JournalTailTest : public ::testing::Test {
 protected:
  // Journals `n` commands of swap traffic in small segments; keeps each group's encoding
  // and the engine digest after each command.
  void Run(Seq n, Seq snapshot_at = 0) {
    WriterOptions o;
    o.durability = Durability::kNone;
    o.segment_bytes = 16 << 10;
    o.config = kConfig;
    o.next_seq = 1;
    auto writer = JournalWriter::Open(dir_.path(), o);
    ASSERT_TRUE(writer.ok()) << writer.status();
    std::unique_ptr<Engine> live = NewEngine();
    std::vector<Event> events;
    digests_.assign(1, live->StateDigest());
    for (Seq s = 1; s <= n; ++s) {
      Command cmd = traffic_.Next(s);
      events.clear();
      live->Apply(cmd, &events);
      std::string bytes;
      AppendCommandGroup(cmd, events, &bytes);
      groups_.push_back(bytes);
      digests_.push_back(live->StateDigest());
      ASSERT_TRUE((*writer)->Append(cmd, events).ok());
      if (s == snapshot_at) {
        ASSERT_TRUE(WriteSnapshot(dir_.path(), s, live->SaveState()).ok());
      }
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }

  std::vector<SegmentInfo> Segments() {
    absl::StatusOr<std::vector<SegmentInfo>> s = ListSegments(dir_.path());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::vector<SegmentInfo>{};
  }

  TempDir dir_;
  msx::testing::SwapTraffic traffic_{7};
  std::vector<std::string> groups_;      // groups_[s - 1]: command s as journaled
  std::vector<std::uint64_t> digests_;  // digests_[s]: the state after command s
};

TEST_F(JournalTailTest, RawGroupsAreTheBytesTheWriterWrote) {
  Run(400);
  ASSERT_GT(Segments().size(), 2u);  // the range crosses segments
  absl::StatusOr<std::vector<RawGroup>> g = ReadRawGroups(dir_.path(), 100, 400);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->size(), 300u);
  for (std::size_t i = 0; i < g->size(); ++i) {
    EXPECT_EQ((*g)[i].seq, 101 + i);
    EXPECT_EQ((*g)[i].bytes, groups_[100 + i]) << (*g)[i].seq;
  }
  EXPECT_FALSE(ReadRawGroups(dir_.path(), 390, 401).ok());  // beyond the end
}

TEST_F(JournalTailTest, CutInsideASegmentKeepsTheBytesAndRecoveryEndsAtTheCut) {
  Run(400);
  const std::vector<SegmentInfo> before = Segments();
  // A seq in the middle of a segment that has successors.
  Seq at = 0;
  std::size_t holder = 0;
  for (std::size_t i = 0; i + 2 < before.size(); ++i) {
    if (before[i + 1].first_seq - before[i].first_seq > 4) {
      at = before[i].first_seq + 2;
      holder = i;
      break;
    }
  }
  ASSERT_NE(at, 0u);
  absl::StatusOr<CutResult> cut = CutJournalAfter(dir_.path(), at);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->end_seq, at);
  EXPECT_EQ(cut->commands, 400 - at);
  // The cut bytes: the segment's groups after `at`, exactly.
  ASSERT_TRUE(absl::StrContains(cut->cut_file, before[holder].path + kCutSuffix));
  absl::StatusOr<std::string> kept = internal::ReadFile(cut->cut_file);
  ASSERT_TRUE(kept.ok()) << kept.status();
  std::string expected;
  for (Seq s = at + 1; s < before[holder + 1].first_seq; ++s) expected += groups_[s - 1];
  EXPECT_EQ(*kept, expected);
  ASSERT_EQ(cut->discarded_segments.size(), before.size() - holder - 1);
  for (std::size_t i = holder + 1; i < before.size(); ++i) {
    EXPECT_TRUE(std::filesystem::exists(before[i].path + ".discarded")) << before[i].path;
  }
  // Recovery ends at the cut with that prefix's state; a writer continues from there.
  absl::StatusOr<RecoveryResult> r = Recover(dir_.path(), NewEngine, RecoveryOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, at);
  EXPECT_EQ(r->engine->StateDigest(), digests_[at]);
  WriterOptions o;
  o.durability = Durability::kNone;
  o.config = kConfig;
  o.next_seq = at + 1;
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<Event> events;
  Command cmd = msx::testing::SwapTraffic(99).Next(at + 1);
  r->engine->Apply(cmd, &events);
  ASSERT_TRUE((*writer)->Append(cmd, events).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  absl::StatusOr<ReadStats> v = VerifyJournal(dir_.path());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->last_seq, at + 1);
}

TEST_F(JournalTailTest, CutAtASegmentBoundarySetsTheNextSegmentsAsideWhole) {
  Run(400);
  const std::vector<SegmentInfo> before = Segments();
  ASSERT_GT(before.size(), 3u);
  const Seq at = before[2].first_seq - 1;  // the last command of segment 1
  absl::StatusOr<CutResult> cut = CutJournalAfter(dir_.path(), at);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->cut_file, "");
  EXPECT_EQ(cut->discarded_segments.size(), before.size() - 2);
  EXPECT_EQ(Segments().size(), 2u);
  absl::StatusOr<ReadStats> v = VerifyJournal(dir_.path());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->last_seq, at);
}

TEST_F(JournalTailTest, CutAtTheEndChangesNothingAndBeyondItIsRefused) {
  Run(50);
  absl::StatusOr<CutResult> cut = CutJournalAfter(dir_.path(), 50);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->commands, 0u);
  EXPECT_EQ(cut->cut_file, "");
  EXPECT_TRUE(cut->discarded_segments.empty());
  EXPECT_TRUE(absl::IsOutOfRange(CutJournalAfter(dir_.path(), 51).status()));
}

TEST_F(JournalTailTest, SnapshotBeyondTheCutRefusesItAndChangesNothing) {
  Run(300, 250);
  const std::vector<SegmentInfo> before = Segments();
  absl::StatusOr<CutResult> cut = CutJournalAfter(dir_.path(), 200);
  ASSERT_TRUE(absl::IsFailedPrecondition(cut.status())) << cut.status();
  EXPECT_TRUE(absl::StrContains(cut.status().message(), "snapshot")) << cut.status();
  EXPECT_EQ(Segments().size(), before.size());
  absl::StatusOr<ReadStats> v = VerifyJournal(dir_.path());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->last_seq, 300u);
  // At or beyond the snapshot the cut is allowed.
  ASSERT_TRUE(CutJournalAfter(dir_.path(), 260).ok());
}

}  // namespace
}  // namespace msx::journal
