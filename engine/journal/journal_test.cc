// Writer + reader tests in the style of LevelDB's log_test: write real segment files,
// damage them with the helpers of journal_test_util.h, and check that every kind of damage
// is reported with the right file and byte offset, and that a torn tail is a clean end.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/testing/command_groups.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::AppendZeros;
using testing::DuplicateRange;
using testing::FileSize;
using testing::FlipByte;
using msx::testing::GroupGenerator;
using testing::RemoveRange;
using testing::ScopedFileSizeLimit;
using testing::TempDir;
using testing::TruncateTo;
using testing::ZeroRange;

constexpr char kConfig[] = "reference data: CO-99.8, GA-4N, KOMIR, JOGMEC";

struct ReadResult {
  absl::Status status;
  std::vector<JournalEntry> entries;
  ReadStats stats;
  std::string config;
};

class JournalTest : public ::testing::Test {
 protected:
  WriterOptions Options(std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    WriterOptions o;
    o.durability = Durability::kNone;
    o.segment_bytes = segment_bytes;
    o.config = kConfig;
    o.next_seq = cmds_.size() + 1;
    return o;
  }

  // Appends `n` generated groups through a writer and closes it.
  void WriteGroups(std::size_t n, std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    auto writer = JournalWriter::Open(dir_.path(), Options(segment_bytes));
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (std::size_t i = 0; i < n; ++i) {
      Command cmd;
      std::vector<Event> events;
      gen_.Make(cmds_.size() + 1, &cmd, &events);
      ASSERT_TRUE((*writer)->Append(cmd, events).ok());
      cmds_.push_back(cmd);
      std::vector<Event> journaled;
      for (const Event& e : events) {
        if (IsJournaled(e.type)) journaled.push_back(e);
      }
      events_.push_back(journaled);
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }

  ReadResult Read(ReaderOptions options = {}) {
    ReadResult r;
    auto reader = JournalReader::Open(dir_.path(), options);
    if (!reader.ok()) {
      r.status = reader.status();
      return r;
    }
    JournalEntry e;
    while ((*reader)->Next(&e)) r.entries.push_back(e);
    r.status = (*reader)->status();
    r.stats = (*reader)->stats();
    r.config = (*reader)->config();
    return r;
  }

  // The entries of an undamaged journal: where every group sits.
  std::vector<JournalEntry> Layout() {
    ReadResult r = Read();
    EXPECT_TRUE(r.status.ok()) << r.status;
    return r.entries;
  }

  std::vector<SegmentInfo> Segments() {
    auto s = ListSegments(dir_.path());
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : std::vector<SegmentInfo>{};
  }

  // The error must name `file` and `offset` and contain `what`.
  static void ExpectCorruption(const ReadResult& r, const std::string& file, std::uint64_t offset,
                               const std::string& what) {
    EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
    EXPECT_TRUE(absl::StartsWith(r.status.message(), absl::StrCat(file, ":", offset, ": ")))
        << r.status << " (expected " << file << ":" << offset << ")";
    EXPECT_TRUE(absl::StrContains(r.status.message(), what)) << r.status;
    EXPECT_EQ(r.stats.error_file, file);
    EXPECT_EQ(r.stats.error_offset, offset);
  }

  TempDir dir_;
  GroupGenerator gen_{1};
  std::vector<Command> cmds_;
  std::vector<std::vector<Event>> events_;
};

TEST_F(JournalTest, WrittenGroupsReadBackFieldForFieldWithoutBookLevels) {
  WriteGroups(500);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), 500u);
  EXPECT_EQ(r.config, kConfig);
  std::uint64_t events = 0;
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    ASSERT_EQ(CommandToJson(r.entries[i].command), CommandToJson(cmds_[i]));
    ASSERT_EQ(r.entries[i].events.size(), events_[i].size());
    for (std::size_t j = 0; j < events_[i].size(); ++j) {
      ASSERT_NE(r.entries[i].events[j].type, EventType::kBookLevel);
      ASSERT_EQ(EventToJson(r.entries[i].events[j]), EventToJson(events_[i][j]));
    }
    events += events_[i].size();
  }
  EXPECT_EQ(r.stats.commands, 500u);
  EXPECT_EQ(r.stats.events, events);
  EXPECT_EQ(r.stats.first_seq, 1u);
  EXPECT_EQ(r.stats.last_seq, 500u);
  EXPECT_EQ(r.stats.torn_bytes, 0u);
}

TEST_F(JournalTest, EmptyJournalHoldsOnlyItsConfig) {
  WriteGroups(0);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.entries.empty());
  EXPECT_EQ(r.config, kConfig);
  EXPECT_EQ(r.stats.config_records, 1u);
  auto config = ReadJournalConfig(dir_.path());
  ASSERT_TRUE(config.ok());
  ASSERT_TRUE(config->has_value());
  EXPECT_EQ(**config, kConfig);
}

TEST_F(JournalTest, MissingDirectoryHasNoConfig) {
  auto config = ReadJournalConfig(dir_.file("nowhere"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->has_value());
}

TEST_F(JournalTest, SegmentsRotateBySizeAtGroupBoundariesAndSortBySeq) {
  WriteGroups(400, 4096);
  std::vector<SegmentInfo> segments = Segments();
  ASSERT_GT(segments.size(), 3u);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), 400u);
  EXPECT_EQ(r.stats.config_records, segments.size());
  for (std::size_t i = 0; i < segments.size(); ++i) {
    EXPECT_LE(FileSize(segments[i].path), 4096u);
    if (i > 0) {
      EXPECT_GT(segments[i].first_seq, segments[i - 1].first_seq);
    }
  }
  // Each segment's first group carries the seq in its name.
  for (const JournalEntry& e : r.entries) {
    for (const SegmentInfo& s : segments) {
      if (s.path == e.file && e.command.seq == s.first_seq) {
        EXPECT_EQ(e.offset, kSegmentHeaderSize + kRecordHeaderSize + sizeof(kConfig) - 1);
      }
    }
  }
}

TEST_F(JournalTest, FlippedPayloadByteIsChecksumMismatchAtItsRecord) {
  WriteGroups(100);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& victim = layout[40];
  FlipByte(victim.file, victim.offset + kRecordHeaderSize + 3);
  ReadResult r = Read();
  ExpectCorruption(r, victim.file, victim.offset, "checksum mismatch");
  EXPECT_EQ(r.entries.size(), 40u);
}

TEST_F(JournalTest, FlippedByteInTheLastRecordIsCorruptionNotATornTail) {
  WriteGroups(20);
  std::vector<JournalEntry> layout = Layout();
  const std::string& file = layout.back().file;
  std::uint64_t size = FileSize(file);
  FlipByte(file, size - 1);
  ReadResult r = Read();
  std::uint64_t last_record =
      layout.back().events.empty() ? layout.back().offset : layout.back().event_offsets.back();
  ExpectCorruption(r, file, last_record, "checksum mismatch");
}

TEST_F(JournalTest, LengthBeyondTheMaximumIsReportedAsBadLength) {
  WriteGroups(50);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& victim = layout[10];
  std::string d = testing::ReadAll(victim.file);
  for (int i = 0; i < 4; ++i) d[victim.offset + kRecordLengthOffset + i] = '\xff';
  testing::WriteAll(victim.file, d);
  ExpectCorruption(Read(), victim.file, victim.offset, "exceeds the maximum");
}

TEST_F(JournalTest, FlippedSegmentHeaderByteIsReportedAtOffsetZero) {
  WriteGroups(10);
  std::string file = Segments()[0].path;
  FlipByte(file, kSegmentHeaderFirstSeqOffset);
  ExpectCorruption(Read(), file, 0, "header checksum");
}

TEST_F(JournalTest, TruncatedTailIsACleanEndThatReportsTheCutBytes) {
  WriteGroups(30);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& last = layout.back();
  TruncateTo(last.file, last.offset + 5);  // the last COMMAND record's header cut short
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), 29u);
  EXPECT_EQ(r.stats.torn_file, last.file);
  EXPECT_EQ(r.stats.torn_offset, last.offset);
  EXPECT_EQ(r.stats.torn_bytes, 5u);
  EXPECT_FALSE(r.stats.torn_truncated);
  EXPECT_EQ(FileSize(last.file), last.offset + 5);  // reading alone changes nothing
}

TEST_F(JournalTest, TruncateOptionRemovesTheTornTailSoTheWriterCanContinue) {
  WriteGroups(30);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& last = layout.back();
  TruncateTo(last.file, last.offset + kRecordHeaderSize + 10);  // payload cut short
  {
    auto refused = JournalWriter::Open(dir_.path(), Options());
    EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  }
  ReaderOptions o;
  o.truncate_torn_tail = true;
  ReadResult r = Read(o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.stats.torn_truncated);
  EXPECT_EQ(r.stats.torn_bytes, kRecordHeaderSize + 10);
  EXPECT_EQ(FileSize(last.file), last.offset);
  // The journal now ends at seq 29; the writer continues there.
  cmds_.pop_back();
  events_.pop_back();
  WriteGroups(5);
  ReadResult after = Read();
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_EQ(after.entries.size(), 34u);
  EXPECT_EQ(after.stats.last_seq, 34u);
}

TEST_F(JournalTest, GroupCutShortAfterItsCommandIsDroppedWhole) {
  WriteGroups(60);
  std::vector<JournalEntry> layout = Layout();
  // The last group that has events: cut right after its COMMAND record, and drop the rest.
  std::size_t k = layout.size() - 1;
  while (layout[k].events.empty()) --k;
  TruncateTo(layout[k].file, layout[k].event_offsets[0]);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), k);
  EXPECT_EQ(r.stats.torn_offset, layout[k].offset);
  EXPECT_EQ(r.stats.torn_bytes, layout[k].event_offsets[0] - layout[k].offset);
}

TEST_F(JournalTest, ZeroFilledTailIsACleanEnd) {
  WriteGroups(20);
  std::string file = Segments().back().path;
  std::uint64_t size = FileSize(file);
  std::string d = testing::ReadAll(file) + std::string(4096, '\0');
  testing::WriteAll(file, d);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), 20u);
  EXPECT_EQ(r.stats.torn_offset, size);
  // Zero fill is reported apart from torn data: nothing that was written is cut.
  EXPECT_EQ(r.stats.torn_bytes, 0u);
  EXPECT_EQ(r.stats.zero_fill_bytes, 4096u);
}

// A write torn by a crash inside pre-zeroed space (the preallocating writer keeps zeros
// ahead of its data): the shapes below end the journal cleanly at the previous group.
class TornIntoZerosTest : public JournalTest {
 protected:
  static constexpr std::uint64_t kZeros = 64 << 10;

  // Writes `n` groups, appends the zero tail, and returns the layout.
  std::vector<JournalEntry> WritePreallocated(std::size_t n) {
    WriteGroups(n);
    std::vector<JournalEntry> layout = Layout();
    const std::string data = testing::ReadAll(layout.back().file);
    data_end_ = data.size();
    nonzero_end_ = data.find_last_not_of('\0') + 1;  // a record may end in zero bytes
    AppendZeros(layout.back().file, kZeros);
    return layout;
  }

  // The last group that has events (so that an EVENT record can be torn).
  static std::size_t LastWithEvents(const std::vector<JournalEntry>& layout) {
    std::size_t k = layout.size() - 1;
    while (layout[k].events.empty()) --k;
    return k;
  }

  // Checks a clean end at the start of group `k` (groups 0..k-1 kept) with `torn` bytes of
  // torn data before the zero fill, then that the truncating read cuts exactly there and
  // a writer continues the journal after it.
  void ExpectCleanEndAt(const std::vector<JournalEntry>& layout, std::size_t k,
                        std::uint64_t torn) {
    const std::string& file = layout[k].file;
    const std::uint64_t size = FileSize(file);
    ReadResult r = Read();
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.entries.size(), k);
    EXPECT_EQ(r.stats.torn_file, file);
    EXPECT_EQ(r.stats.torn_offset, layout[k].offset);
    EXPECT_EQ(r.stats.torn_bytes, torn);
    EXPECT_EQ(r.stats.zero_fill_bytes, size - layout[k].offset - torn);
    EXPECT_TRUE(r.stats.error_file.empty());
    ReaderOptions o;
    o.truncate_torn_tail = true;
    ReadResult cut = Read(o);
    ASSERT_TRUE(cut.status.ok()) << cut.status;
    EXPECT_TRUE(cut.stats.torn_truncated);
    EXPECT_EQ(FileSize(file), layout[k].offset);
    // Everything before the torn group is still there, and appending continues after it.
    cmds_.resize(k);
    events_.resize(k);
    WriteGroups(3);
    ReadResult after = Read();
    ASSERT_TRUE(after.status.ok()) << after.status;
    ASSERT_EQ(after.entries.size(), k + 3);
    for (std::size_t i = 0; i < k + 3; ++i) {
      EXPECT_EQ(CommandToJson(after.entries[i].command), CommandToJson(cmds_[i])) << i;
      ASSERT_EQ(after.entries[i].events.size(), events_[i].size()) << i;
    }
  }

  std::uint64_t data_end_ = 0;
  std::uint64_t nonzero_end_ = 0;  // end of the last non-zero byte of the data
};

TEST_F(TornIntoZerosTest, WriteTornAtASectorBoundaryInsideTheLastGroupIsACleanEnd) {
  // A crash keeps whole 512-byte sectors of the last write: the sectors from a boundary
  // inside the last group on are still zero.
  std::vector<JournalEntry> layout = WritePreallocated(40);
  std::size_t k = layout.size() - 1;
  std::uint64_t t = (layout[k].offset / kSectorSize + 1) * kSectorSize;
  while (t >= data_end_) {  // the last group lies inside one sector: tear the one before
    --k;
    t = (layout[k].offset / kSectorSize + 1) * kSectorSize;
  }
  ZeroRange(layout[k].file, t, data_end_ - t);
  const std::string d = testing::ReadAll(layout[k].file);
  const std::uint64_t torn = d.find_last_not_of('\0', t - 1) + 1 - layout[k].offset;
  ExpectCleanEndAt(layout, k, torn);
}

TEST_F(TornIntoZerosTest, EverySectorBoundaryTearOfTheLastWriteIsACleanEndAtAGroup) {
  std::vector<JournalEntry> layout = WritePreallocated(60);
  const std::string& file = layout.back().file;
  const std::string original = testing::ReadAll(file);
  const std::uint64_t from = layout[layout.size() - 20].offset;
  int tears = 0;
  for (std::uint64_t t = (from / kSectorSize + 1) * kSectorSize; t < data_end_;
       t += kSectorSize) {
    std::string d = original;
    std::fill(d.begin() + static_cast<std::ptrdiff_t>(t), d.begin() + data_end_, '\0');
    testing::WriteAll(file, d);
    std::size_t whole = 0;  // groups that end at or before t
    while (whole < layout.size() &&
           (whole + 1 < layout.size() ? layout[whole + 1].offset : data_end_) <= t) {
      ++whole;
    }
    ReadResult r = Read();
    ASSERT_TRUE(r.status.ok()) << "tear at " << t << ": " << r.status;
    EXPECT_EQ(r.entries.size(), whole) << t;
    ++tears;
  }
  EXPECT_GT(tears, 2);
  testing::WriteAll(file, original);
}

TEST_F(TornIntoZerosTest, RecordWholeInsideOneSectorWithABadChecksumIsCorruption) {
  // The last record before the zeros, damaged after it was written: a sector is written
  // whole or not at all, so a record inside one sector cannot be half written.
  std::vector<JournalEntry> layout = WritePreallocated(40);
  std::size_t k = layout.size() - 1;
  auto inside_one_sector = [&](std::size_t i) {
    const std::uint64_t end = i + 1 < layout.size() ? layout[i + 1].offset : data_end_;
    return layout[i].events.empty() && layout[i].offset / kSectorSize == (end - 1) / kSectorSize;
  };
  while (k > 0 && !inside_one_sector(k)) --k;
  ASSERT_TRUE(inside_one_sector(k));
  ZeroRange(layout[k].file, (k + 1 < layout.size() ? layout[k + 1].offset : data_end_),
            data_end_ - (k + 1 < layout.size() ? layout[k + 1].offset : data_end_));
  FlipByte(layout[k].file, layout[k].offset + kRecordHeaderSize + 2);
  ReadResult r = Read();
  ExpectCorruption(r, layout[k].file, layout[k].offset, "one 512-byte sector");
}

TEST_F(TornIntoZerosTest, ZeroHeaderFollowedByValidRecordsIsCorruption) {
  // The sector holding a COMMAND header reads as zeros but its events, written after it,
  // are there: the data went on past the hole, so it is not a torn tail.
  std::vector<JournalEntry> layout = WritePreallocated(40);
  std::size_t k = LastWithEvents(layout);
  ZeroRange(layout[k].file, layout[k].offset, kRecordHeaderSize);
  ReadResult r = Read();
  ExpectCorruption(r, layout[k].file, layout[k].offset,
                   absl::StrCat("follows at offset ", layout[k].event_offsets[0]));
  EXPECT_EQ(r.entries.size(), k);
}

TEST_F(TornIntoZerosTest, ZeroHeaderFollowedByAFragmentThenZerosIsACleanEnd) {
  // The COMMAND header's sector lost and nothing after it a whole record: a torn write.
  std::vector<JournalEntry> layout = WritePreallocated(40);
  std::size_t k = LastWithEvents(layout);
  ZeroRange(layout[k].file, layout[k].offset, kRecordHeaderSize);
  for (std::uint64_t e : layout[k].event_offsets) ZeroRange(layout[k].file, e, kRecordHeaderSize);
  for (std::size_t i = k + 1; i < layout.size(); ++i) {
    ZeroRange(layout[i].file, layout[i].offset,
              (i + 1 < layout.size() ? layout[i + 1].offset : data_end_) - layout[i].offset);
  }
  const std::string d = testing::ReadAll(layout[k].file);
  ExpectCleanEndAt(layout, k, d.find_last_not_of('\0') + 1 - layout[k].offset);
}

TEST_F(TornIntoZerosTest, ZeroEventHeaderInsideTheLastGroupIsACleanEndAtTheGroup) {
  std::vector<JournalEntry> layout = WritePreallocated(40);
  std::size_t k = LastWithEvents(layout);
  // Every event header of the group lost, and nothing written after the group.
  for (std::uint64_t e : layout[k].event_offsets) ZeroRange(layout[k].file, e, kRecordHeaderSize);
  for (std::size_t i = k + 1; i < layout.size(); ++i) {
    ZeroRange(layout[i].file, layout[i].offset,
              (i + 1 < layout.size() ? layout[i + 1].offset : data_end_) - layout[i].offset);
  }
  const std::string d = testing::ReadAll(layout[k].file);
  ExpectCleanEndAt(layout, k, d.find_last_not_of('\0') + 1 - layout[k].offset);
}

TEST_F(TornIntoZerosTest, DamagedRecordFollowedByWrittenRecordsIsCorruptionWithItsOffset) {
  std::vector<JournalEntry> layout = WritePreallocated(60);
  const JournalEntry& victim = layout[layout.size() - 3];
  FlipByte(victim.file, victim.offset + kRecordHeaderSize + 3);
  ReadResult r = Read();
  ExpectCorruption(r, victim.file, victim.offset, "checksum mismatch");
  EXPECT_EQ(r.entries.size(), layout.size() - 3);
}

TEST_F(TornIntoZerosTest, PayloadZeroedInsideTheDataIsCorruption) {
  std::vector<JournalEntry> layout = WritePreallocated(60);
  const JournalEntry& victim = layout[layout.size() - 3];
  // A hole in the payload, not at a header, with written records after it.
  ZeroRange(victim.file, victim.offset + kRecordHeaderSize, 8);
  ExpectCorruption(Read(), victim.file, victim.offset, "checksum mismatch");
}

TEST_F(TornIntoZerosTest, ZeroHeaderFollowedByMoreThanTheTornSpanIsCorruption) {
  // Over kMaxUnsyncedBytes of written records after a zeroed header cannot be one
  // torn write; it is reported, not silently dropped.
  std::vector<JournalEntry> layout = WritePreallocated(16000);
  ASSERT_EQ(Segments().size(), 1u);
  ASSERT_GT(data_end_ - layout[10].offset, kMaxUnsyncedBytes);
  ZeroRange(layout[10].file, layout[10].offset, kRecordHeaderSize);
  ReadResult r = Read();
  EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
  EXPECT_EQ(r.stats.error_offset, layout[10].offset);
}

TEST_F(TornIntoZerosTest, FewerTrailingZerosThanAPreallocatingWriterLeavesIsCorruption) {
  // Without kMinZeroTail zeros after it the file was not preallocated there: a bad last
  // record keeps the old rule (a complete record with a wrong checksum was not cut short).
  WriteGroups(20);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& last = layout.back();
  const std::uint64_t size = FileSize(last.file);
  AppendZeros(last.file, 100);
  ZeroRange(last.file, last.offset + kRecordHeaderSize, size - last.offset - kRecordHeaderSize);
  ExpectCorruption(Read(), last.file, last.offset, "checksum mismatch");
}

// The preallocating writer (kSync, preallocate_bytes > 0) keeps real zeros ahead of its
// data while open, and leaves every segment exact once it is done with it.
class PreallocationTest : public JournalTest {
 protected:
  static constexpr std::uint64_t kChunk = 64 << 10;

  WriterOptions SyncOptions(std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    WriterOptions o = Options(segment_bytes);
    o.durability = Durability::kSync;
    o.preallocate_bytes = kChunk;
    return o;
  }

  // Appends `n` generated groups, each waited durable (the gateway's pattern), and
  // records them for later comparison.
  void AppendDurable(JournalWriter* w, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      Command cmd;
      std::vector<Event> events;
      gen_.Make(cmds_.size() + 1, &cmd, &events);
      ASSERT_TRUE(w->Append(cmd, events).ok());
      ASSERT_TRUE(w->WaitDurable(cmd.seq).ok());
      cmds_.push_back(cmd);
    }
  }

  // Bytes of the journal's data (segment headers, CONFIG and groups) per the reader.
  std::uint64_t DataBytes() {
    ReadResult r = Read();
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.stats.torn_bytes, 0u);
    return r.stats.bytes;
  }

  std::uint64_t TotalFileBytes() {
    std::uint64_t total = 0;
    for (const SegmentInfo& s : Segments()) total += FileSize(s.path);
    return total;
  }
};

TEST_F(PreallocationTest, ZerosAheadOfTheDataWhileOpenAndExactAfterClose) {
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions());
  ASSERT_TRUE(writer.ok()) << writer.status();
  AppendDurable(writer->get(), 50);
  // While open: the file is larger than its data, and the rest is real zeros that the
  // reader reports as zero fill, not torn data.
  ReadResult open = Read();
  ASSERT_TRUE(open.status.ok()) << open.status;
  EXPECT_EQ(open.entries.size(), 50u);
  EXPECT_EQ(open.stats.torn_bytes, 0u);
  EXPECT_GE(open.stats.zero_fill_bytes, kMinZeroTail);
  const std::string file = Segments().back().path;
  EXPECT_EQ(FileSize(file), open.stats.bytes + open.stats.zero_fill_bytes);
  EXPECT_GT(FileSize(file), open.stats.bytes);
  const std::string bytes = testing::ReadAll(file);
  EXPECT_EQ(bytes.find_first_not_of('\0', open.stats.bytes), std::string::npos);
  WriterStats st = (*writer)->stats();
  EXPECT_GE(st.zero_fills, 1u);
  EXPECT_EQ(st.appends_past_zeros, 1u);  // the segment's start only
  ASSERT_TRUE((*writer)->Close().ok());
  // After Close the segment ends exactly at its data.
  ReadResult closed = Read();
  ASSERT_TRUE(closed.status.ok()) << closed.status;
  EXPECT_EQ(closed.entries.size(), 50u);
  EXPECT_TRUE(closed.stats.torn_file.empty()) << closed.stats.torn_file;
  EXPECT_EQ(FileSize(file), closed.stats.bytes);
}

TEST_F(PreallocationTest, ZerosAreExtendedAheadOfAGrowingSegmentOffTheCommitPath) {
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions());
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Several chunks of data: the zeros must keep moving ahead of it.
  while (DataBytes() < 4 * kChunk) AppendDurable(writer->get(), 200);
  WriterStats st = (*writer)->stats();
  EXPECT_GE(st.zero_fills, 4u);
  EXPECT_GE(st.zero_fill_bytes, 4 * kChunk);
  // Every group went into zeros: only the segment's start grew the file.
  EXPECT_EQ(st.appends_past_zeros, 1u);
  ReadResult open = Read();
  ASSERT_TRUE(open.status.ok()) << open.status;
  EXPECT_GE(open.stats.zero_fill_bytes, kMinZeroTail);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(TotalFileBytes(), DataBytes());
}

TEST_F(PreallocationTest, RotationLeavesEverySegmentButTheLastExact) {
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions(48 << 10));
  ASSERT_TRUE(writer.ok()) << writer.status();
  while (Segments().size() < 4) AppendDurable(writer->get(), 100);
  // While open: the reader would report zeros in a segment that is not the last as
  // corruption, so a clean read proves the earlier ones were cut to their data; their
  // sizes add up to the data exactly. (The newest segment gets its zeros from the writer
  // thread after the commit that started it, so it may not have them yet.)
  ReadResult open = Read();
  ASSERT_TRUE(open.status.ok()) << open.status;
  EXPECT_EQ(open.stats.torn_bytes, 0u);
  std::vector<SegmentInfo> segments = Segments();
  std::uint64_t earlier = 0;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) earlier += FileSize(segments[i].path);
  const std::uint64_t last_data = open.stats.torn_file.empty()
                                      ? FileSize(segments.back().path)
                                      : open.stats.torn_offset;
  if (!open.stats.torn_file.empty()) {
    EXPECT_EQ(open.stats.torn_file, segments.back().path);
  }
  EXPECT_EQ(earlier + last_data, open.stats.bytes);
  // Segments after the first got zeros too (the first got them in Open).
  EXPECT_GE((*writer)->stats().zero_fills, 2u);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(TotalFileBytes(), DataBytes());
}

TEST_F(PreallocationTest, InlineCommitsWriteIntoTheZeros) {
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions());
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::size_t inline_commits = 0;
  for (int i = 0; i < 400; ++i) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(cmds_.size() + 1, &cmd, &events);
    ASSERT_TRUE((*writer)->AppendDeferred(cmd, events).ok());
    absl::StatusOr<bool> c = (*writer)->Commit(true);
    ASSERT_TRUE(c.ok()) << c.status();
    inline_commits += *c;
    ASSERT_TRUE((*writer)->WaitDurable(cmd.seq).ok());
    cmds_.push_back(cmd);
  }
  EXPECT_GT(inline_commits, 0u);
  EXPECT_EQ((*writer)->stats().appends_past_zeros, 1u);  // the segment's start only
  ASSERT_TRUE((*writer)->Close().ok());
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), 400u);
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    EXPECT_EQ(CommandToJson(r.entries[i].command), CommandToJson(cmds_[i])) << i;
  }
}

TEST_F(PreallocationTest, ChunkOfZeroIsTheOldAppendingWriter) {
  WriterOptions o = SyncOptions();
  o.preallocate_bytes = 0;
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok()) << writer.status();
  AppendDurable(writer->get(), 20);
  EXPECT_EQ((*writer)->stats().zero_fills, 0u);
  EXPECT_EQ(TotalFileBytes(), DataBytes());  // exact while open
  ASSERT_TRUE((*writer)->Close().ok());
}

TEST_F(PreallocationTest, BadChunkSizeIsRefusedNamingTheField) {
  for (std::uint64_t bad : {std::uint64_t{4096}, std::uint64_t{(64 << 10) + 1},
                            std::uint64_t{2} << 30}) {
    WriterOptions o = SyncOptions();
    o.preallocate_bytes = bad;
    auto writer = JournalWriter::Open(dir_.path(), o);
    EXPECT_TRUE(absl::IsInvalidArgument(writer.status())) << bad << ": " << writer.status();
    EXPECT_TRUE(absl::StrContains(writer.status().message(), "preallocate_bytes")) << bad;
  }
}

TEST_F(PreallocationTest, WriterRefusesToContinueAZeroTailUntilRecoveryCutsIt) {
  {
    auto writer = JournalWriter::Open(dir_.path(), SyncOptions());
    ASSERT_TRUE(writer.ok()) << writer.status();
    AppendDurable(writer->get(), 30);
    ASSERT_TRUE((*writer)->Close().ok());
  }
  // What a crash leaves: the data, then zeros.
  AppendZeros(Segments().back().path, kChunk);
  auto refused = JournalWriter::Open(dir_.path(), SyncOptions());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "zero fill")) << refused.status();
  ReaderOptions o;
  o.truncate_torn_tail = true;
  ReadResult cut = Read(o);
  ASSERT_TRUE(cut.status.ok()) << cut.status;
  EXPECT_EQ(cut.stats.torn_bytes, 0u);
  EXPECT_EQ(cut.stats.zero_fill_bytes, kChunk);
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions());
  ASSERT_TRUE(writer.ok()) << writer.status();
  AppendDurable(writer->get(), 5);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(Read().entries.size(), 35u);
}

// A real crash: a child process appends in sync mode with preallocation and reports each
// durable seq through a pipe; the parent kills it with SIGKILL mid-stream. Every seq the
// child was told durable must be in the journal, with the exact generated group, and the
// journal must end cleanly (zero fill, perhaps a torn group; never corruption).
TEST_F(PreallocationTest, KillNineWhileAppendingLosesNoDurableGroup) {
  const int rounds = std::getenv("MSX_LONG_TESTS") != nullptr ? 20 : 3;
  std::mt19937_64 rng(7);
  Seq acked_total = 0;
  int zero_filled = 0;  // rounds whose crash left zero fill (the preallocated space)
  for (int round = 0; round < rounds; ++round) {
    const Seq first = cmds_.size() + 1;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      WriterOptions o = SyncOptions(256 << 10);  // rotations happen too
      o.next_seq = first;
      auto w = JournalWriter::Open(dir_.path(), o);
      if (!w.ok()) ::_exit(2);
      GroupGenerator gen(1000 + round);
      for (Seq s = first;; ++s) {
        Command cmd;
        std::vector<Event> events;
        gen.Make(s, &cmd, &events);
        if (!(*w)->Append(cmd, events).ok() || !(*w)->WaitDurable(s).ok()) ::_exit(3);
        if (::write(fds[1], &s, sizeof(s)) != sizeof(s)) ::_exit(4);
      }
    }
    ::close(fds[1]);
    // Let it run for a random while (a few hundred durable groups), then kill -9.
    const Seq want = 50 + rng() % 400;
    Seq acked = 0;
    Seq s = 0;
    while (acked < first - 1 + want && ::read(fds[0], &s, sizeof(s)) == sizeof(s)) acked = s;
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (::read(fds[0], &s, sizeof(s)) == sizeof(s)) acked = s;  // acks sent before death
    ::close(fds[0]);
    ASSERT_GE(acked, first - 1 + want);
    // Recovery's read: clean end, the tail cut.
    ReaderOptions ro;
    ro.truncate_torn_tail = true;
    ReadResult r = Read(ro);
    ASSERT_TRUE(r.status.ok()) << "round " << round << ": " << r.status;
    ASSERT_GE(r.stats.last_seq, acked) << "round " << round << ": a durable group was lost";
    zero_filled += r.stats.zero_fill_bytes > 0;
    // Every group read is exactly the one generated for its seq.
    GroupGenerator regen(1000 + round);
    for (const JournalEntry& e : r.entries) {
      if (e.command.seq < first) {
        ASSERT_EQ(CommandToJson(e.command), CommandToJson(cmds_[e.command.seq - 1]));
        continue;
      }
      Command cmd;
      std::vector<Event> events;
      regen.Make(e.command.seq, &cmd, &events);
      ASSERT_EQ(CommandToJson(e.command), CommandToJson(cmd)) << e.command.seq;
      cmds_.push_back(cmd);
    }
    acked_total += acked - (first - 1);
  }
  // The journal continues after the last round's cut.
  auto writer = JournalWriter::Open(dir_.path(), SyncOptions(256 << 10));
  ASSERT_TRUE(writer.ok()) << writer.status();
  AppendDurable(writer->get(), 3);
  ASSERT_TRUE((*writer)->Close().ok());
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), cmds_.size());
  EXPECT_GT(acked_total, 0u);
  EXPECT_GT(zero_filled, 0);
}

TEST_F(JournalTest, ZeroedBlockInsideTheJournalIsCorruption) {
  WriteGroups(200);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& victim = layout[50];
  ZeroRange(victim.file, victim.offset, 512);
  ReadResult r = Read();
  EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
  EXPECT_EQ(r.stats.error_file, victim.file);
  EXPECT_EQ(r.stats.error_offset, victim.offset);
  EXPECT_EQ(r.entries.size(), 50u);
}

TEST_F(JournalTest, TruncatedSegmentThatIsNotTheLastIsCorruption) {
  WriteGroups(300, 4096);
  std::vector<SegmentInfo> segments = Segments();
  ASSERT_GE(segments.size(), 2u);
  std::uint64_t size = FileSize(segments[0].path);
  TruncateTo(segments[0].path, size - 3);
  ReadResult r = Read();
  EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
  EXPECT_EQ(r.stats.error_file, segments[0].path);
  EXPECT_LT(r.stats.error_offset, size - 3);
  EXPECT_TRUE(absl::StrContains(r.status.message(), segments[0].path)) << r.status;
}

TEST_F(JournalTest, DuplicatedCommandGroupIsReportedAsDuplicate) {
  WriteGroups(80);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& a = layout[30];
  const JournalEntry& b = layout[31];
  DuplicateRange(a.file, a.offset, b.offset, b.offset);
  ExpectCorruption(Read(), a.file, b.offset, "duplicate command: seq 31, expected 32");
}

TEST_F(JournalTest, DuplicatedEventRecordIsReported) {
  WriteGroups(80);
  std::vector<JournalEntry> layout = Layout();
  std::size_t k = 10;
  while (layout[k].events.size() != 1) ++k;
  const JournalEntry& g = layout[k];
  std::uint64_t end = layout[k + 1].offset;
  DuplicateRange(g.file, g.event_offsets[0], end, end);
  ExpectCorruption(Read(), g.file, end, "EVENT record without its COMMAND");
}

TEST_F(JournalTest, RemovedGroupIsASequenceGapAtTheNextCommand) {
  WriteGroups(80);
  std::vector<JournalEntry> layout = Layout();
  const JournalEntry& gone = layout[20];
  RemoveRange(gone.file, gone.offset, layout[21].offset);
  ExpectCorruption(Read(), gone.file, gone.offset, "sequence gap: seq 22, expected 21");
}

TEST_F(JournalTest, MissingMiddleSegmentIsASequenceGap) {
  WriteGroups(300, 4096);
  std::vector<SegmentInfo> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  std::filesystem::remove(segments[1].path);
  ExpectCorruption(Read(), segments[2].path, 0, "sequence gap: segment starts at seq");
}

TEST_F(JournalTest, MissingFirstSegmentIsReported) {
  WriteGroups(300, 4096);
  std::vector<SegmentInfo> segments = Segments();
  std::filesystem::remove(segments[0].path);
  ExpectCorruption(Read(), segments[1].path, 0, "segments before it are missing");
}

TEST_F(JournalTest, SegmentRenamedToAnotherSeqIsReported) {
  WriteGroups(300, 4096);
  std::vector<SegmentInfo> segments = Segments();
  std::string renamed = dir_.file(SegmentFileName(segments.back().first_seq + 1000));
  std::filesystem::rename(segments.back().path, renamed);
  ExpectCorruption(Read(), renamed, 0, "does not match the file name");
}

TEST_F(JournalTest, TruncateAtCorruptionKeepsThePrefixAndSetsLaterSegmentsAside) {
  WriteGroups(400, 4096);
  std::vector<SegmentInfo> segments = Segments();
  ASSERT_GE(segments.size(), 4u);
  std::vector<JournalEntry> layout = Layout();
  std::size_t k = 0;
  while (layout[k].file != segments[1].path) ++k;
  k += 2;  // a group inside the second segment
  FlipByte(layout[k].file, layout[k].offset + kRecordHeaderSize + 1);
  ReaderOptions o;
  o.truncate_at_corruption = true;
  ReadResult r = Read(o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), k);
  EXPECT_EQ(r.stats.error_offset, layout[k].offset);
  EXPECT_EQ(r.stats.discarded_segments.size(), segments.size() - 2);
  EXPECT_EQ(FileSize(segments[1].path), layout[k].offset);
  EXPECT_TRUE(std::filesystem::exists(segments[2].path + ".discarded"));
  // What is left verifies, and the writer continues after it.
  auto verified = VerifyJournal(dir_.path());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->last_seq, k);
  cmds_.resize(k);
  events_.resize(k);
  WriteGroups(3);
  EXPECT_EQ(Read().stats.last_seq, k + 3);
}

// A segment name recurs after a cut (the writer continues at a seq it had reached), so a
// second cut can set aside a segment of the same name: the first one set aside stays.
TEST_F(JournalTest, TruncateAtCorruptionNeverReplacesAFileSetAsideEarlier) {
  WriteGroups(400, 4096);
  std::vector<SegmentInfo> segments = Segments();
  ASSERT_GE(segments.size(), 4u);
  const std::string earlier = segments[2].path + ".discarded";
  const std::uint64_t segment_size = FileSize(segments[2].path);
  {
    std::ofstream out(earlier, std::ios::binary);
    out << "set aside by an earlier cut";
  }
  std::vector<JournalEntry> layout = Layout();
  std::size_t k = 0;
  while (layout[k].file != segments[1].path) ++k;
  FlipByte(layout[k + 1].file, layout[k + 1].offset + kRecordHeaderSize + 1);
  ReaderOptions o;
  o.truncate_at_corruption = true;
  ReadResult r = Read(o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.stats.discarded_segments.size(), segments.size() - 2);
  EXPECT_EQ(r.stats.discarded_segments[0], earlier + "-2");
  std::ifstream in(earlier, std::ios::binary);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "set aside by an earlier cut");
  EXPECT_EQ(FileSize(earlier + "-2"), segment_size);
  auto verified = VerifyJournal(dir_.path());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->last_seq, k + 1);
}

TEST_F(JournalTest, ReaderDeliversExactlyTheRequestedRange) {
  WriteGroups(500, 4096);
  ReaderOptions o;
  o.after_seq = 123;
  o.until_seq = 321;
  ReadResult r = Read(o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), 321u - 123u);
  EXPECT_EQ(r.entries.front().command.seq, 124u);
  EXPECT_EQ(r.entries.back().command.seq, 321u);
  EXPECT_LT(r.stats.segments, Segments().size());  // earlier segments were not read
  o.after_seq = 500;
  o.until_seq = ~Seq{0};
  EXPECT_TRUE(Read(o).entries.empty());
}

TEST_F(JournalTest, RangeBeyondTheEndOfTheJournalIsOutOfRange) {
  WriteGroups(50);
  ReaderOptions o;
  o.after_seq = 40;
  o.until_seq = 60;
  ReadResult r = Read(o);
  EXPECT_TRUE(absl::IsOutOfRange(r.status)) << r.status;
  EXPECT_TRUE(absl::StrContains(r.status.message(), "ends at seq 50")) << r.status;
  EXPECT_EQ(r.entries.size(), 10u);
  o.until_seq = 50;
  EXPECT_TRUE(Read(o).status.ok());
}

TEST_F(JournalTest, WriterContinuesInANewSegmentAfterReopen) {
  WriteGroups(100);
  WriteGroups(100);
  EXPECT_EQ(Segments().size(), 2u);
  EXPECT_EQ(Segments()[1].first_seq, 101u);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), 200u);
}

TEST_F(JournalTest, WriterReusesAnEmptyLastSegment) {
  WriteGroups(0);
  WriteGroups(10);
  EXPECT_EQ(Segments().size(), 1u);
  EXPECT_EQ(Read().entries.size(), 10u);
}

TEST_F(JournalTest, WriterRefusesANextSeqThatDoesNotContinueTheJournal) {
  WriteGroups(10);
  WriterOptions o = Options();
  o.next_seq = 5;
  EXPECT_TRUE(absl::IsFailedPrecondition(JournalWriter::Open(dir_.path(), o).status()));
  o.next_seq = 12;
  EXPECT_TRUE(absl::IsFailedPrecondition(JournalWriter::Open(dir_.path(), o).status()));
  TempDir fresh;
  o.next_seq = 2;
  EXPECT_TRUE(absl::IsFailedPrecondition(JournalWriter::Open(fresh.path(), o).status()));
}

TEST_F(JournalTest, AppendRefusesOutOfSequenceCommandsAndForeignEvents) {
  auto writer = JournalWriter::Open(dir_.path(), Options());
  ASSERT_TRUE(writer.ok());
  Command cmd;
  std::vector<Event> events;
  gen_.Make(2, &cmd, &events);
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Append(cmd, events)));
  gen_.Make(1, &cmd, &events);
  Event foreign{};
  foreign.seq = 7;
  foreign.type = EventType::kPairHalted;
  events.push_back(foreign);
  EXPECT_TRUE(absl::IsInvalidArgument((*writer)->Append(cmd, events)));
  events.pop_back();
  EXPECT_TRUE((*writer)->Append(cmd, events).ok());
  EXPECT_EQ((*writer)->next_seq(), 2u);
  EXPECT_TRUE((*writer)->Close().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*writer)->Append(cmd, events)));
}

TEST_F(JournalTest, SyncedGroupsBecomeDurableInOrderAndCallbackSeesThem) {
  WriterOptions o = Options();
  o.durability = Durability::kSync;
  std::vector<Seq> seen;
  absl::Mutex mu;
  o.on_durable = [&](Seq s) {
    absl::MutexLock l(&mu);
    seen.push_back(s);
  };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->durable_seq(), 0u);
  for (Seq s = 1; s <= 50; ++s) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(s, &cmd, &events);
    ASSERT_TRUE((*writer)->Append(cmd, events).ok());
    if (s % 10 == 0) {
      ASSERT_TRUE((*writer)->WaitDurable(s).ok());
      EXPECT_GE((*writer)->durable_seq(), s);
    }
  }
  ASSERT_TRUE((*writer)->Flush().ok());
  EXPECT_EQ((*writer)->durable_seq(), 50u);
  EXPECT_EQ((*writer)->pending_bytes(), 0u);
  EXPECT_TRUE(absl::IsInvalidArgument((*writer)->WaitDurable(51)));
  ASSERT_TRUE((*writer)->Close().ok());
  absl::MutexLock l(&mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 50u);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
  EXPECT_LE((*writer)->stats().syncs, 50u);
}

TEST_F(JournalTest, ConcurrentProducersGetAGaplessSequence) {
  auto writer = JournalWriter::Open(dir_.path(), Options());
  ASSERT_TRUE(writer.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      GroupGenerator gen(100 + t);
      for (int i = 0; i < 1000; ++i) {
        Command cmd;
        std::vector<Event> events;
        gen.Make(1, &cmd, &events);
        ASSERT_TRUE((*writer)->AppendAssigningSeq(&cmd, absl::MakeSpan(events)).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE((*writer)->Close().ok());
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), 4000u);
}

// The gateway resumes execution streams from the journal while the writer appends to it:
// a reader bounded by durable_seq() must get exactly that range, across rotations.
TEST_F(JournalTest, LiveReaderBoundedByDurableSeqSeesExactlyTheDurableRange) {
  WriterOptions o = Options(8192);
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok());
  std::atomic<bool> done{false};
  std::thread producer([&] {
    GroupGenerator gen(5);
    for (Seq s = 1; s <= 3000; ++s) {
      Command cmd;
      std::vector<Event> events;
      gen.Make(s, &cmd, &events);
      if (!(*writer)->Append(cmd, events).ok()) break;
    }
    done = true;
  });
  int reads = 0;
  while (!done || reads < 5) {
    Seq durable = (*writer)->durable_seq();
    ReaderOptions ro;
    ro.after_seq = durable / 2;
    ro.until_seq = durable;
    ReadResult r = Read(ro);
    ASSERT_TRUE(r.status.ok()) << r.status << " durable " << durable;
    ASSERT_EQ(r.entries.size(), durable - durable / 2);
    if (!r.entries.empty()) {
      EXPECT_EQ(r.entries.front().command.seq, durable / 2 + 1);
      EXPECT_EQ(r.entries.back().command.seq, durable);
    }
    ++reads;
  }
  producer.join();
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(Read().entries.size(), 3000u);
  EXPECT_GT(Segments().size(), 10u);
}

// A write that the file system refuses (here: the process file-size limit, EFBIG) must
// fail the writer closed: nothing after it is acknowledged, later appends are refused.
TEST_F(JournalTest, FailedWriteFailsClosedForever) {
  WriterOptions o = Options();
  o.durability = Durability::kSync;
  std::atomic<int> failures{0};
  o.on_failure = [&](const absl::Status&) { ++failures; };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok());
  ScopedFileSizeLimit limit(8192);
  ASSERT_TRUE(limit.ok());
  absl::Status failed;
  Seq s = 1;
  for (; s < 10000 && failed.ok(); ++s) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(s, &cmd, &events);
    failed = (*writer)->Append(cmd, events);
    if (failed.ok()) failed = (*writer)->WaitDurable(s);
  }
  ASSERT_TRUE(limit.Restore());
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "failed closed")) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "write(")) << failed;
  EXPECT_LT((*writer)->durable_seq(), s - 1);
  // Forever: the limit is gone, but the writer stays failed.
  Command cmd;
  std::vector<Event> events;
  gen_.Make((*writer)->next_seq(), &cmd, &events);
  EXPECT_TRUE(absl::IsUnavailable((*writer)->Append(cmd, events)));
  EXPECT_TRUE(absl::IsUnavailable((*writer)->status()));
  EXPECT_TRUE(absl::IsUnavailable((*writer)->Close()));
  EXPECT_EQ(failures.load(), 1);
  // What did reach the disk is a valid journal prefix (possibly with a torn tail).
  ReadResult r = Read();
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_GE(r.stats.last_seq, (*writer)->durable_seq());
}

// Group commit on the caller's thread: Commit(true) with no write in progress writes the
// deferred groups itself and reports them durable on this thread before it returns; the
// bytes are in the file by then (the gateway releases `none` replies right after it).
TEST_F(JournalTest, InlineCommitWritesOnTheCallersThreadBeforeItReturns) {
  WriterOptions o = Options();
  std::vector<std::pair<Seq, std::thread::id>> reports;
  absl::Mutex mu;
  o.on_durable = [&](Seq s) {
    absl::MutexLock l(&mu);
    reports.emplace_back(s, std::this_thread::get_id());
  };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok()) << writer.status();
  Seq s = 1;
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < round; ++i, ++s) {
      Command cmd;
      std::vector<Event> events;
      gen_.Make(s, &cmd, &events);
      ASSERT_TRUE((*writer)->AppendDeferred(cmd, events).ok());
    }
    absl::StatusOr<bool> committed = (*writer)->Commit(true);
    ASSERT_TRUE(committed.ok()) << committed.status();
    EXPECT_TRUE(*committed);
    EXPECT_EQ((*writer)->durable_seq(), s - 1);
    EXPECT_EQ((*writer)->pending_bytes(), 0u);
    // Readable from the file while the writer is still open.
    ReaderOptions ro;
    ro.until_seq = s - 1;
    ReadResult r = Read(ro);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.entries.size(), s - 1);
    absl::MutexLock l(&mu);
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().first, s - 1);
    EXPECT_EQ(reports.back().second, std::this_thread::get_id());
  }
  // Nothing buffered: nothing to do.
  absl::StatusOr<bool> idle = (*writer)->Commit(true);
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(*idle);
  EXPECT_EQ((*writer)->stats().inline_syncs, 3u);
  EXPECT_EQ((*writer)->stats().syncs, 3u);
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(Read().entries.size(), 6u);
}

// Commit(false) hands the groups to the writer thread (it wakes it); durability and the
// report then come from that thread.
TEST_F(JournalTest, CommitWithoutInlineHandsOffToTheWriterThread) {
  WriterOptions o = Options();
  o.durability = Durability::kSync;
  std::atomic<bool> other_thread{false};
  const std::thread::id self = std::this_thread::get_id();
  o.on_durable = [&](Seq) {
    if (std::this_thread::get_id() != self) other_thread = true;
  };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok());
  Command cmd;
  std::vector<Event> events;
  gen_.Make(1, &cmd, &events);
  ASSERT_TRUE((*writer)->AppendDeferred(cmd, events).ok());
  absl::StatusOr<bool> committed = (*writer)->Commit(false);
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(*committed);
  ASSERT_TRUE((*writer)->WaitDurable(1).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_TRUE(other_thread.load());
  EXPECT_EQ((*writer)->stats().inline_syncs, 0u);
}

// Leader/follower under contention: inline commits, hand-offs and a WaitDurable waiter
// (the snapshot thread's use) interleave; exactly one thread writes at a time, so
// durable reports stay strictly increasing and the journal is complete and gapless.
TEST_F(JournalTest, InlineAndWriterThreadCommitsInterleaveInOrder) {
  WriterOptions o = Options(16384);
  o.durability = Durability::kSync;
  std::vector<Seq> seen;
  absl::Mutex mu;
  o.on_durable = [&](Seq s) {
    absl::MutexLock l(&mu);
    seen.push_back(s);
  };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok());
  constexpr Seq kLast = 600;
  std::atomic<bool> waiter_ok{true};
  std::thread waiter([&] {
    for (Seq s = 50; s <= kLast; s += 50) {
      while ((*writer)->next_seq() <= s) std::this_thread::yield();
      if (!(*writer)->WaitDurable(s).ok()) waiter_ok = false;
    }
  });
  std::mt19937 rng(7);
  for (Seq s = 1; s <= kLast; ++s) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(s, &cmd, &events);
    ASSERT_TRUE((*writer)->AppendDeferred(cmd, events).ok());
    if (rng() % 3 == 0) {
      absl::StatusOr<bool> c = (*writer)->Commit(rng() % 2 == 0);
      ASSERT_TRUE(c.ok()) << c.status();
    }
  }
  ASSERT_TRUE((*writer)->Commit(false).ok());
  ASSERT_TRUE((*writer)->Flush().ok());
  waiter.join();
  EXPECT_TRUE(waiter_ok.load());
  ASSERT_TRUE((*writer)->Close().ok());
  WriterStats st = (*writer)->stats();
  EXPECT_GT(st.inline_syncs, 0u);
  EXPECT_GT(st.syncs, st.inline_syncs);  // the writer thread committed some too
  EXPECT_GT(st.segments, 1u);            // rotation happened on both kinds of thread
  absl::MutexLock l(&mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), kLast);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
  ReadResult r = Read();
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.entries.size(), kLast);
  for (Seq s = 1; s <= kLast; ++s) EXPECT_EQ(r.entries[s - 1].command.seq, s);
}

// A write refused on the inline path fails the writer closed on the caller's thread:
// Commit returns UNAVAILABLE, on_failure runs once, nothing more is acknowledged, and the
// writer thread still shuts down.
TEST_F(JournalTest, FailedInlineWriteFailsClosedForever) {
  WriterOptions o = Options();
  std::atomic<int> failures{0};
  std::atomic<bool> failed_here{false};
  const std::thread::id self = std::this_thread::get_id();
  o.on_failure = [&](const absl::Status&) {
    ++failures;
    failed_here = std::this_thread::get_id() == self;
  };
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok());
  ScopedFileSizeLimit limit(8192);
  ASSERT_TRUE(limit.ok());
  absl::Status failed;
  Seq s = 1;
  for (; s < 10000 && failed.ok(); ++s) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(s, &cmd, &events);
    failed = (*writer)->AppendDeferred(cmd, events);
    if (!failed.ok()) break;
    absl::StatusOr<bool> c = (*writer)->Commit(true);
    if (!c.ok()) {
      failed = c.status();
      break;
    } else {
      EXPECT_TRUE(*c);
      EXPECT_EQ((*writer)->durable_seq(), s);
    }
  }
  ASSERT_TRUE(limit.Restore());
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "failed closed")) << failed;
  EXPECT_TRUE(absl::StrContains(failed.message(), "write(")) << failed;
  EXPECT_EQ((*writer)->durable_seq(), s - 1);  // the failed group is not durable
  EXPECT_TRUE(failed_here.load());
  Command cmd;
  std::vector<Event> events;
  gen_.Make((*writer)->next_seq(), &cmd, &events);
  EXPECT_TRUE(absl::IsUnavailable((*writer)->AppendDeferred(cmd, events)));
  EXPECT_TRUE(absl::IsUnavailable((*writer)->Commit(true).status()));
  EXPECT_TRUE(absl::IsUnavailable((*writer)->Close()));
  EXPECT_EQ(failures.load(), 1);
  ReadResult r = Read();
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_GE(r.stats.last_seq, (*writer)->durable_seq());
}

// The reader must survive arbitrary damage: every outcome is OK or DataLoss, no crash.
TEST_F(JournalTest, RandomlyDamagedJournalsNeverCrashTheReader) {
  WriteGroups(60, 4096);
  std::vector<SegmentInfo> segments = Segments();
  std::vector<std::string> originals;
  for (const SegmentInfo& s : segments) originals.push_back(testing::ReadAll(s.path));
  std::mt19937_64 rng(2026);
  int corrupt = 0;
  // MSX_LONG_TESTS=1 runs the soak variant.
  const int iterations = std::getenv("MSX_LONG_TESTS") != nullptr ? 20000 : 300;
  for (int iter = 0; iter < iterations; ++iter) {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      testing::WriteAll(segments[i].path, originals[i]);
    }
    std::size_t victim = rng() % segments.size();
    std::string d = originals[victim];
    switch (rng() % 5) {
      case 0:  // flip a few bytes
        for (int k = 1 + rng() % 4; k > 0; --k) d[rng() % d.size()] ^= 1 + rng() % 255;
        break;
      case 1:  // truncate anywhere
        d.resize(rng() % d.size());
        break;
      case 2:  // overwrite a run with random bytes
        for (std::size_t p = rng() % d.size(), n = rng() % 64; n > 0 && p < d.size(); --n) {
          d[p++] = static_cast<char>(rng());
        }
        break;
      case 3:  // random garbage appended
        for (int n = rng() % 100; n > 0; --n) d.push_back(static_cast<char>(rng()));
        break;
      default: {  // a preallocated tail: damage near the end of the data, then zeros
        const std::size_t from = d.size() - std::min<std::size_t>(d.size(), 300);
        for (int k = 1 + rng() % 4; k > 0; --k) {
          d[from + rng() % (d.size() - from)] = static_cast<char>(rng() % 2 ? 0 : rng());
        }
        d.append(kMinZeroTail + rng() % 8192, '\0');
        break;
      }
    }
    testing::WriteAll(segments[victim].path, d);
    absl::StatusOr<ReadStats> st = VerifyJournal(dir_.path());
    ASSERT_TRUE(st.ok() || absl::IsDataLoss(st.status())) << st.status();
    corrupt += !st.ok();
  }
  EXPECT_GT(corrupt, 100);
}

TEST(SegmentParserTest, RandomBytesNeverCrashTheParser) {
  std::mt19937_64 rng(99);
  const int iterations = std::getenv("MSX_LONG_TESTS") != nullptr ? 300000 : 3000;
  for (int iter = 0; iter < iterations; ++iter) {
    std::string bytes;
    if (iter % 2 == 0) AppendSegmentHeader(1, &bytes);  // get past the header sometimes
    for (int n = rng() % 300; n > 0; --n) bytes.push_back(static_cast<char>(rng()));
    internal::SegmentParser parser(bytes);
    Seq first = 0;
    absl::Status h = parser.ReadHeader(&first);
    if (!h.ok()) continue;
    internal::SegmentParser::Record rec;
    std::string error;
    for (int guard = 0; guard < 1000; ++guard) {
      auto r = parser.Next(&rec, &error);
      if (r != internal::SegmentParser::Result::kRecord) break;
      ASSERT_LE(rec.offset + kRecordHeaderSize + rec.payload.size(), bytes.size());
      Command c;
      Event e;
      std::uint32_t n;
      DecodeCommandPayload(rec.payload, &c, &n).IgnoreError();
      DecodeEventPayload(rec.payload, &e, &n).IgnoreError();
    }
  }
}

TEST(SegmentParserTest, ParsesWhatTheCodecFramed) {
  std::string bytes;
  AppendSegmentHeader(7, &bytes);
  AppendRecord(RecordType::kConfig, "cfg", &bytes);
  AppendRecord(RecordType::kEvent, std::string(100, 'x'), &bytes);
  internal::SegmentParser parser(bytes);
  Seq first = 0;
  ASSERT_TRUE(parser.ReadHeader(&first).ok());
  EXPECT_EQ(first, 7u);
  internal::SegmentParser::Record rec;
  std::string error;
  ASSERT_EQ(parser.Next(&rec, &error), internal::SegmentParser::Result::kRecord);
  EXPECT_EQ(rec.type, RecordType::kConfig);
  EXPECT_EQ(rec.offset, kSegmentHeaderSize);
  EXPECT_EQ(rec.payload, "cfg");
  ASSERT_EQ(parser.Next(&rec, &error), internal::SegmentParser::Result::kRecord);
  EXPECT_EQ(rec.payload.size(), 100u);
  EXPECT_EQ(parser.Next(&rec, &error), internal::SegmentParser::Result::kEnd);
}

}  // namespace
}  // namespace msx::journal
