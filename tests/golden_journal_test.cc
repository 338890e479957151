// Golden bytes: a recorded command stream, run through the engine and the journal writer,
// must produce exactly the journal segments and the snapshot checked in under
// tests/data/golden/. Refactoring the engine, the codec or the writer must not change a
// byte of what is on disk; a deliberate format change regenerates the files (below) in the
// same commit that documents it in engine/journal/FORMAT.md and bumps its version.
//
// The stream: RandomCommands (seed 20261202) over the engine's test universe, 1,500
// commands with every command kind (SetOfferRetention with short windows, so that offers
// are purged and the snapshots hold a purge queue) and the reject reasons a well-formed
// command can meet, a snapshot after command 1,000 and one at the end, 32 KiB segments so
// that rotation is covered.
//
// The golden segments are version 3 bytes: WithCurrentVersion (below) lets a newer version
// differ in the header's version and CRC only. Regenerating (MSX_REGENERATE_GOLDEN) writes
// current-version segments, which that check then refuses: only regenerate together with
// a change to WithCurrentVersion.
//
// To regenerate after a deliberate change:
//   MSX_REGENERATE_GOLDEN=1 build/tests/golden_journal_test
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/snapshot.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/testing/random_commands.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

namespace fs = std::filesystem;
using journal::testing::ReadAll;
using journal::testing::TempDir;
using journal::testing::WriteAll;

constexpr std::uint64_t kSeed = 20261202;
constexpr Seq kCommands = 1500;
constexpr Seq kSnapshotAt = 1000;
constexpr char kConfig[] = "golden: engine/testing/test_universe.cc";

std::string GoldenDir() {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/data/golden";
}

// The files a run leaves in its journal directory (segments and snapshots), sorted.
std::vector<std::string> DataFiles(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".msxj") || name.ends_with(".msxs")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The checked-in segments were written by format version 3. Versions 4 to 6 added record
// types only (time swaps, emergencies, allocation auctions), so a stream without them must
// differ from those bytes in nothing but each segment header's version field and header
// CRC: this rewrites
// those two fields of the golden bytes to the current version, and the comparison checks
// every other byte.
std::string WithCurrentVersion(const std::string& name, std::string bytes) {
  if (!name.ends_with(".msxj") || bytes.size() < journal::kSegmentHeaderSize) return bytes;
  const std::uint16_t version = journal::GetFixed16(bytes.data() + journal::kSegmentHeaderVersionOffset);
  EXPECT_EQ(version, 3) << name << ": golden segments are the version 3 bytes";
  std::string header = bytes.substr(0, journal::kSegmentHeaderCrcOffset);
  std::string v;
  journal::PutFixed16(&v, journal::kFormatVersion);
  header.replace(journal::kSegmentHeaderVersionOffset, 2, v);
  journal::PutFixed32(&header, crc32c::Mask(
                                   crc32c::Value(header.data(), header.size())));
  return header + bytes.substr(journal::kSegmentHeaderSize);
}

// Records the stream into `dir`.
void Record(const std::string& dir) {
  EngineOptions eo;
  eo.expected_offers = 1 << 14;
  Engine engine(testing::TestUniverse(), eo);
  journal::WriterOptions wo;
  wo.durability = journal::Durability::kNone;
  wo.segment_bytes = 32 << 10;
  wo.config = kConfig;
  auto writer = journal::JournalWriter::Open(dir, wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  // No malformed commands: the gateway refuses those before the journal, and so does the
  // writer (an unknown command type is not journaled).
  testing::RandomCommands::Options options;
  options.garbage = 0;
  options.set_retention = 1;
  testing::RandomCommands gen(kSeed, options);
  std::vector<Event> events;
  for (Seq s = 1; s <= kCommands; ++s) {
    Command cmd = gen.Next();
    ASSERT_EQ(cmd.seq, s);
    events.clear();
    engine.Apply(cmd, &events);
    gen.Observe(events, 0);
    absl::Status appended = (*writer)->Append(cmd, events);
    ASSERT_TRUE(appended.ok()) << appended;
    if (s == kSnapshotAt || s == kCommands) {
      ASSERT_TRUE((*writer)->Flush().ok());
      ASSERT_TRUE(journal::WriteSnapshot(dir, s, engine.SaveState()).ok());
    }
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

TEST(GoldenJournalTest, RecordedStreamWritesTheCheckedInBytes) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(Record(dir.path()));
  std::vector<std::string> written = DataFiles(dir.path());
  ASSERT_GE(written.size(), 4u) << "expected several segments and two snapshots";

  if (std::getenv("MSX_REGENERATE_GOLDEN") != nullptr) {
    fs::remove_all(GoldenDir());
    fs::create_directories(GoldenDir());
    for (const std::string& name : written) {
      WriteAll(GoldenDir() + "/" + name, ReadAll(dir.file(name)));
    }
    GTEST_SKIP() << "regenerated " << written.size() << " files in " << GoldenDir();
  }

  ASSERT_TRUE(fs::is_directory(GoldenDir())) << GoldenDir();
  EXPECT_EQ(written, DataFiles(GoldenDir())) << "the set of segment and snapshot files differs";
  for (const std::string& name : written) {
    std::string got = ReadAll(dir.file(name));
    std::string want = WithCurrentVersion(name, ReadAll(GoldenDir() + "/" + name));
    ASSERT_EQ(got.size(), want.size()) << name;
    std::size_t at = 0;
    while (at < got.size() && got[at] == want[at]) ++at;
    EXPECT_EQ(at, got.size()) << name << ": first differing byte at offset " << at;
  }
}

// The checked-in journal still reads and verifies (the reader accepts what the writer of
// the day the files were made wrote).
TEST(GoldenJournalTest, CheckedInJournalVerifies) {
  auto stats = journal::VerifyJournal(GoldenDir());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->last_seq, kCommands);
  EXPECT_EQ(stats->torn_bytes, 0u);
  EXPECT_GT(stats->fills, 0u);
}

}  // namespace
}  // namespace msx
