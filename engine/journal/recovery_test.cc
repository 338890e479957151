// Recovery against the real engine: replay equals the live engine, a snapshot plus the
// journal tail equals a full replay, damaged snapshots fall back, and a journaled fill that
// the engine does not regenerate is caught.
#include "engine/journal/recovery.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/snapshot.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/testing/swap_traffic.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using msx::testing::SwapTraffic;
using testing::TempDir;

constexpr char kConfig[] = "test universe v1";

std::unique_ptr<Engine> NewEngine() {
  EngineOptions o;
  o.expected_offers = 1 << 14;
  return std::make_unique<Engine>(msx::testing::TestUniverse(), o);
}

class RecoveryTest : public ::testing::Test {
 protected:
  RecoveryTest() : live_(NewEngine()) {}

  // Runs `n` more commands through the live engine and the journal. Snapshots (written
  // like the server does: SaveState, then WriteSnapshot) after the seqs in `snapshot_at`.
  void Run(Seq n, std::vector<Seq> snapshot_at = {}) {
    WriterOptions o;
    o.durability = Durability::kNone;
    o.segment_bytes = 64 << 10;
    o.config = kConfig;
    o.next_seq = live_->last_seq() + 1;
    auto writer = JournalWriter::Open(dir_.path(), o);
    ASSERT_TRUE(writer.ok()) << writer.status();
    std::vector<Event> events;
    Seq end = live_->last_seq() + n;
    for (Seq s = live_->last_seq() + 1; s <= end; ++s) {
      Command cmd = traffic_.Next(s);
      events.clear();
      live_->Apply(cmd, &events);
      for (const Event& e : events) fills_ += e.type == EventType::kFill;
      ASSERT_TRUE((*writer)->Append(cmd, events).ok());
      for (Seq at : snapshot_at) {
        if (at == s) {
          ASSERT_TRUE(WriteSnapshot(dir_.path(), s, live_->SaveState()).ok());
        }
      }
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }

  absl::StatusOr<RecoveryResult> Recover(RecoveryOptions options = {}) {
    return journal::Recover(dir_.path(), NewEngine, options);
  }

  TempDir dir_;
  SwapTraffic traffic_{11};
  std::unique_ptr<Engine> live_;
  std::uint64_t fills_ = 0;
};

TEST_F(RecoveryTest, FullReplayRebuildsTheLiveEngineAndChecksEveryFill) {
  Run(3000);
  ASSERT_GT(fills_, 100u);  // the traffic really trades
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, 3000u);
  EXPECT_EQ(r->commands_replayed, 3000u);
  EXPECT_EQ(r->fills_verified, fills_);
  EXPECT_EQ(r->snapshot_seq, 0u);
  EXPECT_EQ(r->engine->last_seq(), 3000u);
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
  EXPECT_GT(r->read.segments, 1u);
}

TEST_F(RecoveryTest, SnapshotPlusTailEqualsFullReplay) {
  Run(3000, {1000, 2000});
  auto from_snapshot = Recover();
  ASSERT_TRUE(from_snapshot.ok()) << from_snapshot.status();
  EXPECT_EQ(from_snapshot->snapshot_seq, 2000u);
  EXPECT_EQ(from_snapshot->commands_replayed, 1000u);
  RecoveryOptions full;
  full.use_snapshots = false;
  auto replayed = Recover(full);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->commands_replayed, 3000u);
  EXPECT_EQ(from_snapshot->engine->StateDigest(), replayed->engine->StateDigest());
  EXPECT_EQ(from_snapshot->engine->StateDigest(), live_->StateDigest());
  EXPECT_EQ(from_snapshot->last_seq, 3000u);
}

TEST_F(RecoveryTest, RecoveredEngineContinuesExactlyLikeTheLiveOne) {
  Run(1500, {1200});
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  SwapTraffic copy = traffic_;
  std::vector<Event> a, b;
  for (Seq s = 1501; s <= 2500; ++s) {
    Command cmd = traffic_.Next(s);
    Command same = copy.Next(s);
    a.clear();
    b.clear();
    live_->Apply(cmd, &a);
    r->engine->Apply(same, &b);
    ASSERT_EQ(a.size(), b.size()) << s;
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::string x, y;
      EncodeEventPayload(a[i], 0, &x);
      EncodeEventPayload(b[i], 0, &y);
      ASSERT_EQ(x, y) << s;
    }
  }
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
}

// A clean shutdown writes a snapshot at the last seq; a restart that appends nothing
// leaves an empty segment named last + 1. The snapshot must still be used.
TEST_F(RecoveryTest, SnapshotAtTheEndOfTheJournalIsUsedWithNothingToReplay) {
  Run(500, {500});
  Run(0);  // opens and closes the writer: an empty segment 501
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->back().first_seq, 501u);
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->snapshot_seq, 500u);
  EXPECT_TRUE(r->rejected_snapshots.empty());
  EXPECT_EQ(r->commands_replayed, 0u);
  EXPECT_EQ(r->last_seq, 500u);
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
  Run(10);  // and the writer continues at 501
  auto again = Recover();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->last_seq, 510u);
  EXPECT_EQ(again->commands_replayed, 10u);
}

TEST_F(RecoveryTest, OnlyTheTwoNewestSnapshotsAreKept) {
  Run(2000, {500, 1000, 1500});
  auto snaps = ListSnapshots(dir_.path());
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[0].seq, 1500u);
  EXPECT_EQ((*snaps)[1].seq, 1000u);
}

TEST_F(RecoveryTest, DamagedNewestSnapshotFallsBackToThePreviousOne) {
  Run(3000, {1000, 2000});
  std::string newest = dir_.file(SnapshotFileName(2000));
  testing::FlipByte(newest, testing::FileSize(newest) / 2);
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->snapshot_seq, 1000u);
  ASSERT_EQ(r->rejected_snapshots.size(), 1u);
  EXPECT_TRUE(absl::StrContains(r->rejected_snapshots[0], "checksum")) << r->rejected_snapshots[0];
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
}

TEST_F(RecoveryTest, NoUsableSnapshotFallsBackToTheFullJournal) {
  Run(2000, {1000, 2000});
  testing::TruncateTo(dir_.file(SnapshotFileName(2000)), 20);
  testing::WriteAll(dir_.file(SnapshotFileName(1000)), "not a snapshot at all, just text");
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->snapshot_seq, 0u);
  EXPECT_EQ(r->rejected_snapshots.size(), 2u);
  EXPECT_EQ(r->commands_replayed, 2000u);
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
}

TEST_F(RecoveryTest, TruncationAtCorruptionBelowASnapshotIsRefusedAndChangesNothing) {
  Run(2000, {1000, 1900});
  // An operator asks to cut the journal at a corruption near seq 1500 (msx-journal verify
  // --truncate-at-corruption); snapshot 1900 proves commands up to 1900 were durable, and
  // new commands would reuse sequence numbers it (and clients) have seen.
  JournalEntry e;
  {
    auto reader = JournalReader::Open(dir_.path(), {});
    ASSERT_TRUE(reader.ok());
    while ((*reader)->Next(&e) && e.command.seq < 1500) {
    }
    testing::FlipByte(e.file, e.offset + kRecordHeaderSize);
  }
  const std::uint64_t size = testing::FileSize(e.file);
  const std::string snapshot = dir_.file(SnapshotFileName(1900));
  ReaderOptions cut;
  cut.truncate_at_corruption = true;
  {
    auto reader = JournalReader::Open(dir_.path(), cut);
    ASSERT_TRUE(reader.ok());
    JournalEntry x;
    while ((*reader)->Next(&x)) {
    }
    const absl::Status& st = (*reader)->status();
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_TRUE(absl::StartsWith(st.message(), absl::StrCat(e.file, ":", e.offset, ": "))) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), snapshot)) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), "holds seq 1900")) << st;
  }
  EXPECT_EQ(testing::FileSize(e.file), size);
  EXPECT_TRUE(std::filesystem::exists(snapshot));
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat(e.file, kCutSuffix, e.offset)));

  // Moving the snapshot out of the directory is the operator's explicit acceptance; then
  // the cut goes ahead and keeps the cut bytes beside the segment.
  const std::string original = testing::ReadAll(e.file);
  std::filesystem::rename(snapshot, snapshot + ".moved-by-operator");
  auto reader = JournalReader::Open(dir_.path(), cut);
  ASSERT_TRUE(reader.ok());
  JournalEntry x;
  while ((*reader)->Next(&x)) {
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ((*reader)->stats().end_seq, 1499u);
  const std::string kept = absl::StrCat(e.file, kCutSuffix, e.offset);
  EXPECT_EQ((*reader)->stats().cut_file, kept);
  EXPECT_EQ(testing::ReadAll(kept), original.substr(e.offset));
  EXPECT_EQ(testing::FileSize(e.file), e.offset);
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, 1499u);
  EXPECT_EQ(r->snapshot_seq, 1000u);
}

TEST_F(RecoveryTest, RecoveryRefusesToCutBehindItsNewestSnapshot) {
  Run(1200, {1000, 1200});
  // Damage the last command: cutting it would end the journal at 1199, behind snapshot
  // 1200, which proves 1200 was durable.
  JournalEntry last;
  {
    auto reader = JournalReader::Open(dir_.path(), {});
    ASSERT_TRUE(reader.ok());
    while ((*reader)->Next(&last)) {
    }
  }
  ASSERT_EQ(last.command.seq, 1200u);
  testing::FlipByte(last.file, last.offset + kRecordHeaderSize);
  const std::uint64_t size = testing::FileSize(last.file);
  RecoveryOptions o;
  o.truncate_at_corruption = true;
  auto r = Recover(o);
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_TRUE(absl::StartsWith(r.status().message(), absl::StrCat(last.file, ":", last.offset)))
      << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), dir_.file(SnapshotFileName(1200))))
      << r.status();
  EXPECT_EQ(testing::FileSize(last.file), size);
  EXPECT_TRUE(std::filesystem::exists(dir_.file(SnapshotFileName(1200))));
}

TEST_F(RecoveryTest, SnapshotAheadOfTheJournalIsDataLossNotAStaleFile) {
  Run(2000, {1000, 1900});
  // The journal lost its last segments (durability none and a power loss, or an operator
  // removed them): it ends before snapshot 1900, which proves those commands were durable.
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  std::size_t keep = 0;
  while (keep < segments->size() && (*segments)[keep].first_seq <= 1500) ++keep;
  ASSERT_LT(keep, segments->size());
  const Seq end = (*segments)[keep].first_seq - 1;
  ASSERT_LT(end, 1900u);
  ASSERT_GT(end, 1000u);
  for (std::size_t i = keep; i < segments->size(); ++i) {
    std::filesystem::remove((*segments)[i].path);
  }

  auto r = Recover();
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  const std::string snapshot = dir_.file(SnapshotFileName(1900));
  EXPECT_TRUE(absl::StrContains(r.status().message(),
                                absl::StrCat(snapshot, " holds seq 1900 but the journal in ",
                                             dir_.path(), " ends at seq ", end)))
      << r.status();
  EXPECT_TRUE(std::filesystem::exists(snapshot));  // never renamed away
  EXPECT_FALSE(std::filesystem::exists(snapshot + ".discarded"));
  // Also when the snapshot does not even load: its name is the proof.
  testing::TruncateTo(snapshot, 20);
  EXPECT_TRUE(absl::IsDataLoss(Recover().status()));
}

// Issue 12, defect 1b: recovery from a snapshot used to read only the segments after it,
// so damage in an older segment surfaced first when a client's resume read it.
TEST_F(RecoveryTest, DamageInASegmentBeforeTheSnapshotStopsRecoveryWithFileAndOffset) {
  Run(2000, {1900, 2000});  // a clean stop writes a snapshot at the last seq
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  ASSERT_GT(segments->size(), 3u);
  // A record in the middle of the second segment, long before the snapshots.
  const SegmentInfo& victim = (*segments)[1];
  JournalEntry middle;
  {
    ReaderOptions o;
    o.after_seq = victim.first_seq - 1;
    auto reader = JournalReader::Open(dir_.path(), o);
    ASSERT_TRUE(reader.ok());
    const std::uint64_t half = testing::FileSize(victim.path) / 2;
    while ((*reader)->Next(&middle) && middle.offset < half) {
    }
    ASSERT_EQ(middle.file, victim.path);
  }
  testing::FlipByte(victim.path, middle.offset + kRecordHeaderSize + 4);
  auto r = Recover();
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_TRUE(absl::StartsWith(r.status().message(),
                               absl::StrCat(victim.path, ":", middle.offset, ": ")))
      << r.status();
  // Cutting there is refused too: the snapshots prove the later commands were durable.
  RecoveryOptions cut;
  cut.truncate_at_corruption = true;
  auto refused = Recover(cut);
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), SnapshotFileName(2000)))
      << refused.status();
}

TEST_F(RecoveryTest, SegmentsBeforeTheSnapshotAreVerifiedButNotReplayed) {
  Run(2000, {1900});
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->snapshot_seq, 1900u);
  EXPECT_EQ(r->commands_replayed, 100u);
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ(r->read.segments, segments->size());  // every one was opened and checked
  EXPECT_EQ(r->read.commands, 2000u);
  EXPECT_EQ(r->engine->StateDigest(), live_->StateDigest());
}

TEST_F(RecoveryTest, CorruptionStopsRecoveryWithFileAndOffset) {
  Run(1000);
  auto reader = JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  JournalEntry e;
  while ((*reader)->Next(&e) && e.command.seq < 400) {
  }
  testing::FlipByte(e.file, e.offset + kRecordHeaderSize + 2);
  auto r = Recover();
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_TRUE(absl::StartsWith(r.status().message(), e.file + ":" + std::to_string(e.offset)))
      << r.status();
}

TEST_F(RecoveryTest, TamperedFillWithAValidChecksumIsCaughtByReplay) {
  Run(1000);
  auto reader = JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  JournalEntry e;
  std::uint64_t fill_offset = 0;
  while (fill_offset == 0 && (*reader)->Next(&e)) {
    for (std::size_t i = 0; i < e.events.size(); ++i) {
      if (e.events[i].type == EventType::kFill) fill_offset = e.event_offsets[i];
    }
  }
  ASSERT_NE(fill_offset, 0u);
  // Lots sit after seq, index, time, type, fill_id, pair, side, two offers and agencies.
  std::uint64_t lots_at =
      fill_offset + kRecordHeaderSize + kEventPrefixSize + 8 + 4 + 1 + 8 + 8 + 4 + 4;
  testing::FlipByte(e.file, lots_at);
  testing::FixRecordCrc(e.file, fill_offset);
  ASSERT_TRUE(VerifyJournal(dir_.path()).ok());  // the framing is intact
  auto r = Recover();
  EXPECT_TRUE(absl::IsInternal(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(),
                                "replay diverged at seq " + std::to_string(e.command.seq)))
      << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), std::to_string(fill_offset))) << r.status();
}

TEST_F(RecoveryTest, TornTailIsTruncatedAndTheEngineEndsBeforeIt) {
  Run(800);
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  std::string last = segments->back().path;
  std::uint64_t size = testing::FileSize(last);
  testing::TruncateTo(last, size - 7);
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, 799u);
  EXPECT_TRUE(r->read.torn_truncated);
  EXPECT_GT(r->read.torn_bytes, 0u);
  EXPECT_EQ(testing::FileSize(last), r->read.torn_offset);
  // A fresh engine that applies commands 1..799 is in the same state.
  auto expected = NewEngine();
  SwapTraffic again(11);
  std::vector<Event> ev;
  for (Seq s = 1; s <= 799; ++s) expected->Apply(again.Next(s), &ev);
  EXPECT_EQ(r->engine->StateDigest(), expected->StateDigest());
}

TEST_F(RecoveryTest, WriteTornIntoPreallocatedZerosIsCutAndAppendingResumesAfterIt) {
  Run(800);
  auto segments = ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok());
  std::string last = segments->back().path;
  const std::uint64_t data_end = testing::FileSize(last);
  // A crashed preallocating writer: zeros ahead of the data, and the last write torn at
  // the last sector boundary inside the data (sectors are written whole or not at all).
  auto reader = JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  std::vector<JournalEntry> layout;
  JournalEntry e;
  while ((*reader)->Next(&e)) {
    if (e.file == last) layout.push_back(e);  // the groups of the last segment
  }
  ASSERT_EQ(layout.back().command.seq, 800u);
  const std::uint64_t tear = (data_end - 1) / kSectorSize * kSectorSize;
  std::size_t whole = 0;  // groups that end at or before the tear
  while (whole < layout.size() &&
         (whole + 1 < layout.size() ? layout[whole + 1].offset : data_end) <= tear) {
    ++whole;
  }
  ASSERT_LT(whole, layout.size());
  const JournalEntry& torn_group = layout[whole];
  testing::AppendZeros(last, 1 << 20);
  testing::ZeroRange(last, tear, data_end - tear);
  const std::string d = testing::ReadAll(last);
  const std::uint64_t torn_end = d.find_last_not_of('\0') + 1;
  auto r = Recover();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, torn_group.command.seq - 1);
  EXPECT_TRUE(r->read.torn_truncated);
  EXPECT_EQ(r->read.torn_offset, torn_group.offset);
  EXPECT_EQ(r->read.torn_bytes, torn_end - torn_group.offset);
  EXPECT_GE(r->read.zero_fill_bytes, 1u << 20);
  EXPECT_EQ(testing::FileSize(last), torn_group.offset);
  // The torn bytes are kept beside the segment.
  EXPECT_EQ(r->read.cut_file, absl::StrCat(last, kCutSuffix, torn_group.offset));
  EXPECT_EQ(testing::ReadAll(r->read.cut_file), d.substr(torn_group.offset, r->read.torn_bytes));
  // The engine continues from 799: appending resumes right after the cut, and a second
  // recovery equals the live engine, with nothing acknowledged lost.
  live_ = std::move(r->engine);
  Run(100);
  auto again = Recover();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->last_seq, torn_group.command.seq + 99);
  EXPECT_EQ(again->read.torn_bytes + again->read.zero_fill_bytes, 0u);
  EXPECT_EQ(again->engine->StateDigest(), live_->StateDigest());
}

TEST_F(RecoveryTest, ChangedConfigurationIsRefused) {
  Run(10);
  RecoveryOptions o;
  o.expected_config = "another universe";
  auto r = Recover(o);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  o.expected_config = kConfig;
  EXPECT_TRUE(Recover(o).ok());
}

TEST_F(RecoveryTest, MissingDirectoryRecoversAFreshEngine) {
  auto r = journal::Recover(dir_.file("absent"), NewEngine, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_seq, 0u);
  EXPECT_EQ(r->engine->last_seq(), 0u);
}

}  // namespace
}  // namespace msx::journal
