// Damage that must never pass for a torn tail (FORMAT.md "Reading rules"): journals written
// by the real JournalWriter (kSync, preallocating), closed cleanly or left as a crash would
// leave them, then damaged one bit or one cut at a time. Every acknowledged record either
// reads back or the damage is reported with its file and offset.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/snapshot.h"
#include "engine/journal/writer.h"
#include "engine/testing/command_groups.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using msx::testing::GroupGenerator;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

constexpr char kConfig[] = "reference data: CO-99.8, GA-4N, KOMIR, JOGMEC";

struct Read {
  absl::Status status;
  std::vector<JournalEntry> entries;
  ReadStats stats;
};

Read ReadJournal(const std::string& dir, ReaderOptions options = {}) {
  Read r;
  auto reader = JournalReader::Open(dir, options);
  if (!reader.ok()) {
    r.status = reader.status();
    return r;
  }
  JournalEntry e;
  while ((*reader)->Next(&e)) r.entries.push_back(e);
  r.status = (*reader)->status();
  r.stats = (*reader)->stats();
  return r;
}

class ReaderDamageTest : public ::testing::Test {
 protected:
  // Writes `n` groups with the real writer (kSync, fdatasync per group) and closes it.
  void WriteGroups(std::size_t n, std::uint64_t segment_bytes = kDefaultSegmentBytes) {
    WriterOptions o;
    o.durability = Durability::kSync;
    o.segment_bytes = segment_bytes;
    o.config = kConfig;
    o.next_seq = next_seq_;
    auto writer = JournalWriter::Open(dir_.path(), o);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (std::size_t i = 0; i < n; ++i) {
      Command cmd;
      std::vector<Event> events;
      gen_.Make(next_seq_++, &cmd, &events);
      ASSERT_TRUE((*writer)->Append(cmd, events).ok());
      ASSERT_TRUE((*writer)->Flush().ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }

  std::vector<JournalEntry> Layout() {
    Read r = ReadJournal(dir_.path());
    EXPECT_TRUE(r.status.ok()) << r.status;
    return r.entries;
  }

  static void ExpectCorruptionAt(const Read& r, const std::string& file, std::uint64_t offset) {
    EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
    EXPECT_TRUE(absl::StartsWith(r.status.message(), absl::StrCat(file, ":", offset, ": ")))
        << r.status << " (expected " << file << ":" << offset << ")";
    EXPECT_EQ(r.stats.error_file, file);
    EXPECT_EQ(r.stats.error_offset, offset);
  }

  TempDir dir_;
  GroupGenerator gen_{7};
  Seq next_seq_ = 1;
};

// Issue 12, defect 1: bit 13 of a length field makes the record claim 8 KiB more than it
// has; the reader used to call everything from there a torn tail and drop 38 acknowledged
// groups.
TEST_F(ReaderDamageTest, FlippedLengthBitOfAnEarlyCommandIsCorruptionNotATornTail) {
  WriteGroups(40);
  std::vector<JournalEntry> layout = Layout();
  ASSERT_EQ(layout.size(), 40u);
  const JournalEntry& victim = layout[1];  // the second COMMAND record of the (only) segment
  std::string d = ReadAll(victim.file);
  d[victim.offset + kRecordLengthOffset + 1] ^= 1 << 5;  // bit 13 of the u32 length
  WriteAll(victim.file, d);

  Read r = ReadJournal(dir_.path());
  ExpectCorruptionAt(r, victim.file, victim.offset);
  EXPECT_EQ(r.entries.size(), 1u);
  EXPECT_TRUE(r.stats.torn_file.empty());
  // Recovery's truncating read must not cut it either.
  ReaderOptions o;
  o.truncate_torn_tail = true;
  Read cut = ReadJournal(dir_.path(), o);
  EXPECT_TRUE(absl::IsDataLoss(cut.status)) << cut.status;
  EXPECT_EQ(testing::FileSize(victim.file), d.size());
}

// Writes one byte of `file` in place.
void PatchByte(const std::string& file, std::uint64_t offset, char c) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << file;
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

// The offset of the record (or segment header) that holds byte `b` of `file`.
std::uint64_t RecordAt(const std::string& data, std::uint64_t b) {
  if (b < kSegmentHeaderSize) return 0;
  std::uint64_t p = kSegmentHeaderSize;
  for (;;) {
    const std::uint64_t next = p + kRecordHeaderSize + GetFixed32(data.data() + p + 4);
    if (b < next) return p;
    p = next;
  }
}

// Exhaustive over a small journal: every single-bit flip of a cleanly closed journal (all
// of it acknowledged) is reported as corruption at the offset of the record it hit, with
// every record before it delivered intact. Then the same with the zero tail a crashed
// preallocating writer leaves, where the last group could also be a torn write.
class EveryBitFlipTest : public ReaderDamageTest, public ::testing::WithParamInterface<bool> {};

TEST_P(EveryBitFlipTest, IsReportedAtTheRecordItHit) {
  const bool zero_tail = GetParam();
  WriteGroups(8);
  std::vector<JournalEntry> layout = Layout();
  const std::string& file = layout[0].file;
  std::string original = ReadAll(file);
  const std::uint64_t data_end = original.size();
  if (zero_tail) original.append(64 << 10, '\0');
  WriteAll(file, original);
  int flips = 0;
  for (std::uint64_t b = 0; b < data_end * 8; ++b) {
    // In place (rewriting a truncated file makes ext4 flush it on close: slow).
    if (b > 0) PatchByte(file, (b - 1) / 8, original[(b - 1) / 8]);
    PatchByte(file, b / 8, static_cast<char>(original[b / 8] ^ (1 << (b % 8))));
    Read r = ReadJournal(dir_.path());
    const std::uint64_t at = RecordAt(original, b / 8);
    ASSERT_TRUE(absl::IsDataLoss(r.status)) << "bit " << b << " (record at " << at
                                            << "): " << r.status << ", " << r.entries.size()
                                            << " groups";
    ASSERT_EQ(r.stats.error_offset, at) << "bit " << b << ": " << r.status;
    std::size_t before = 0;
    while (before < layout.size() && layout[before].offset < at) ++before;
    // Groups that end before the damaged record are delivered (its own group is not).
    std::size_t delivered = 0;
    while (delivered < layout.size() &&
           (delivered + 1 < layout.size() ? layout[delivered + 1].offset : data_end) <= at) {
      ++delivered;
    }
    ASSERT_EQ(r.entries.size(), delivered) << "bit " << b;
    for (std::size_t i = 0; i < delivered; ++i) {
      ASSERT_EQ(CommandToJson(r.entries[i].command), CommandToJson(layout[i].command));
    }
    ++flips;
  }
  WriteAll(file, original);
  EXPECT_EQ(flips, static_cast<int>(data_end * 8));
}

INSTANTIATE_TEST_SUITE_P(CleanAndCrashed, EveryBitFlipTest, ::testing::Bool());

// Every cut of a cleanly closed journal reads as the groups wholly before the cut (the
// reader cannot tell a cut from a write cut short: a tail is torn only if nothing valid
// follows it), and a truncating read keeps the cut bytes beside the segment.
TEST_F(ReaderDamageTest, EveryTruncationPointEndsAtTheLastWholeGroupAndKeepsTheCutBytes) {
  WriteGroups(8);
  std::vector<JournalEntry> layout = Layout();
  const std::string& file = layout[0].file;
  const std::string original = ReadAll(file);
  for (std::uint64_t k = 0; k < original.size(); ++k) {
    WriteAll(file, original.substr(0, k));
    std::size_t whole = 0;
    while (whole < layout.size() &&
           (whole + 1 < layout.size() ? layout[whole + 1].offset : original.size()) <= k) {
      ++whole;
    }
    Read r = ReadJournal(dir_.path());
    ASSERT_TRUE(r.status.ok()) << "cut at " << k << ": " << r.status;
    ASSERT_EQ(r.entries.size(), whole) << "cut at " << k;
    if (k < layout[0].offset) continue;  // the header or CONFIG cut short: nothing kept
    const std::uint64_t end = layout[whole].offset;  // k < size: the last group is cut
    if (k > end) {
      ASSERT_EQ(r.stats.torn_offset, end) << k;
      ASSERT_EQ(r.stats.torn_offset + r.stats.torn_bytes, k) << k;
    }
    // Truncating (two fsyncs each) on a sample of the cuts keeps the test fast.
    if (k % 29 != 0 && k != end + 1) continue;
    ReaderOptions o;
    o.truncate_torn_tail = true;
    Read cut = ReadJournal(dir_.path(), o);
    ASSERT_TRUE(cut.status.ok()) << "cut at " << k << ": " << cut.status;
    if (k > end) {
      ASSERT_EQ(cut.stats.cut_file, absl::StrCat(file, kCutSuffix, end)) << k;
      ASSERT_EQ(ReadAll(cut.stats.cut_file), original.substr(end, k - end)) << k;
      ASSERT_EQ(testing::FileSize(file), end) << k;
      std::filesystem::remove(cut.stats.cut_file);
    }
  }
  WriteAll(file, original);
}

TEST_F(ReaderDamageTest, LargeBatchIsWrittenInSyncedPiecesOfAtMostTheUnsyncedWindow) {
  WriterOptions o;
  o.durability = Durability::kSync;
  o.preallocate_bytes = 0;  // no zero extensions: every fdatasync below is a data sync
  o.config = kConfig;
  auto writer = JournalWriter::Open(dir_.path(), o);
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::uint64_t syncs_before = (*writer)->stats().fdatasyncs;
  std::uint64_t bytes = 0;
  while (bytes < 3 * kMaxUnsyncedBytes + 1000) {
    Command cmd;
    std::vector<Event> events;
    gen_.Make(next_seq_++, &cmd, &events);
    ASSERT_TRUE((*writer)->AppendDeferred(cmd, events).ok());
    bytes = (*writer)->pending_bytes();
  }
  absl::StatusOr<bool> inline_commit = (*writer)->Commit(true);
  ASSERT_TRUE(inline_commit.ok() && *inline_commit) << inline_commit.status();
  EXPECT_GE((*writer)->stats().fdatasyncs - syncs_before, 4u);  // one batch, four syncs
  ASSERT_TRUE((*writer)->Close().ok());
  Read r = ReadJournal(dir_.path());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.entries.size(), next_seq_ - 1);
}

// Issue 12, defect 8: a reader of a live journal mapped the last segment, and the writer
// cutting its preallocated zeros (ftruncate on rotation and Close) made the reader's next
// touch of a cut page raise SIGBUS. The last segment is read into memory now.
TEST_F(ReaderDamageTest, ReaderOfTheLastSegmentSurvivesTheWriterCuttingIt) {
  WriteGroups(40);
  std::vector<JournalEntry> layout = Layout();
  const std::string& file = layout[0].file;
  const std::uint64_t data_end = testing::FileSize(file);
  testing::AppendZeros(file, 1 << 20);  // the zeros a writer keeps ahead of its data
  auto reader = JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  JournalEntry e;
  ASSERT_TRUE((*reader)->Next(&e));  // the segment is open in the reader now
  testing::TruncateTo(file, data_end);  // the writer closes: it cuts the zeros
  std::size_t n = 1;
  while ((*reader)->Next(&e)) ++n;  // scans the (former) zeros at the end
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, layout.size());
  EXPECT_EQ((*reader)->stats().zero_fill_bytes, 1u << 20);
}

}  // namespace
}  // namespace msx::journal
