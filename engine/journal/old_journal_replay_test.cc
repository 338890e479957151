// Journals of older segment format versions replay exactly as they were written.
//
// Version 1: written before ReplaceOffer took the new total (command type 3 set the new
// open lots).
// testdata/v1_replace_open_lots/ was written by the engine and JournalWriter of commit
// c7e7400 (before the change), from a small configuration (its CONFIG record: GA-4N/CO-99.8,
// three agencies in one agreement): 406 commands, 131 of them replaces (71 of an offer that
// had partly filled), with submits near the reference price (GTC, IOC, GTD), cancels,
// duplicate client ids and time advances. The test rebuilds the engine from that CONFIG
// record alone, so it does not depend on any configuration in the code.
//
// Version 2: written before SetOfferRetention (command type 9) existed, so every offer is
// kept forever. testdata/v2_test_universe/ holds the first three segments (commands
// 1..633) of tests/data/golden/ as commit c9757d6 wrote them: RandomCommands (seed
// 20261202) over engine/testing/test_universe.cc, every command kind but type 9.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/journal/writer.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"
#include "msx/v1/config.pb.h"

namespace msx::journal {
namespace {

std::string TestData(const std::string& name) {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/engine/journal/testdata/" + name;
}
std::string GoldenDir() { return TestData("v1_replace_open_lots"); }
std::string V2Dir() { return TestData("v2_test_universe"); }

std::uint16_t SegmentVersion(const std::filesystem::path& segment) {
  std::ifstream in(segment, std::ios::binary);
  char header[kSegmentHeaderSize];
  EXPECT_TRUE(in.read(header, sizeof header)) << segment;
  return GetFixed16(header + kSegmentHeaderVersionOffset);
}

std::vector<std::uint16_t> SegmentVersions(const std::string& dir) {
  std::vector<std::uint16_t> versions;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".msxj") versions.push_back(SegmentVersion(f.path()));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

struct Journal {
  std::vector<JournalEntry> entries;
  std::string config;
};

Journal ReadAll(const std::string& dir) {
  Journal j;
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, {});
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return j;
  JournalEntry e;
  while ((*reader)->Next(&e)) j.entries.push_back(e);
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  j.config = (*reader)->config();
  return j;
}

std::unique_ptr<ReferenceData> RefOf(const std::string& config) {
  v1::ExchangeConfig cfg;
  EXPECT_TRUE(cfg.ParseFromString(config));
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(cfg);
  EXPECT_TRUE(ref.ok()) << ref.status();
  return ref.ok() ? std::make_unique<ReferenceData>(*std::move(ref)) : nullptr;
}

// Replays `entries` (with every command's type mapped through `retype`) and returns the
// first command whose regenerated journaled events differ from the journal's, or 0.
template <typename Retype>
Seq FirstDifference(const ReferenceData& ref, const std::vector<JournalEntry>& entries,
                    Retype retype) {
  Engine engine(ref, EngineOptions{.expected_offers = 4096});
  std::vector<Event> out;
  for (const JournalEntry& entry : entries) {
    Command c = entry.command;
    c.type = retype(c.type);
    out.clear();
    engine.Apply(c, &out);
    std::vector<std::string> got;
    for (const Event& e : out) {
      if (!IsJournaled(e.type)) continue;
      got.emplace_back();
      EncodeEventPayload(e, static_cast<std::uint32_t>(got.size() - 1), &got.back());
    }
    if (got.size() != entry.events.size()) return c.seq;
    for (std::size_t i = 0; i < got.size(); ++i) {
      std::string want;
      EncodeEventPayload(entry.events[i], static_cast<std::uint32_t>(i), &want);
      if (got[i] != want) return c.seq;
    }
  }
  return 0;
}

TEST(V1JournalReplayTest, GoldenJournalIsVersionOneWithOpenLotsReplaces) {
  EXPECT_EQ(SegmentVersion(GoldenDir() + "/00000000000000000001.msxj"), 1);
  const Journal j = ReadAll(GoldenDir());
  ASSERT_EQ(j.entries.size(), 406u);
  int open_lots = 0, total = 0;
  for (const JournalEntry& e : j.entries) {
    open_lots += e.command.type == CommandType::kReplaceOfferOpenLots;
    total += e.command.type == CommandType::kReplaceOffer;
  }
  EXPECT_EQ(open_lots, 131);
  EXPECT_EQ(total, 0);
}

TEST(V1JournalReplayTest, ReplaysEveryJournaledEventByteForByte) {
  const Journal j = ReadAll(GoldenDir());
  ASSERT_FALSE(j.entries.empty());
  std::unique_ptr<ReferenceData> ref = RefOf(j.config);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(FirstDifference(*ref, j.entries, [](CommandType t) { return t; }), 0u);
}

// The golden journal tells the two meanings apart: read as total-lots replaces, its
// replaces of partly filled offers would have produced other events. (So the test above
// fails if type 3 ever took the new meaning.)
TEST(V1JournalReplayTest, ReadAsTotalLotsReplacesTheGoldenJournalWouldDiverge) {
  const Journal j = ReadAll(GoldenDir());
  std::unique_ptr<ReferenceData> ref = RefOf(j.config);
  ASSERT_NE(ref, nullptr);
  EXPECT_NE(FirstDifference(*ref, j.entries,
                            [](CommandType t) {
                              return t == CommandType::kReplaceOfferOpenLots
                                         ? CommandType::kReplaceOffer
                                         : t;
                            }),
            0u);
}

// A server upgraded on an old journal: recovery replays the version 1 segment, the writer
// continues in a version 2 segment with total-lots replaces, and the mixed journal reads
// and recovers again with every event verified.
TEST(V1JournalReplayTest, RecoveryContinuesAVersionOneJournalWithVersionTwoSegments) {
  testing::TempDir tmp;
  std::filesystem::copy(GoldenDir(), tmp.path(), std::filesystem::copy_options::recursive);
  const Journal j = ReadAll(tmp.path());
  std::unique_ptr<ReferenceData> ref = RefOf(j.config);
  ASSERT_NE(ref, nullptr);
  const ReferenceData* r = ref.get();
  auto factory = [r] { return std::make_unique<Engine>(*r, EngineOptions{.expected_offers = 4096}); };
  absl::StatusOr<RecoveryResult> rec = Recover(tmp.path(), factory, {});
  ASSERT_TRUE(rec.ok()) << rec.status();
  ASSERT_EQ(rec->last_seq, 406u);
  EXPECT_EQ(rec->commands_replayed, 406u);

  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = j.config;
  wo.next_seq = 407;
  absl::StatusOr<std::unique_ptr<JournalWriter>> writer = JournalWriter::Open(tmp.path(), wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Replace every open offer to a total of its filled lots + 1: one lot left open each.
  std::vector<Event> out;
  Seq seq = 406;
  int replaced = 0;
  for (AgencyId a = 0; a < r->agencies().size(); ++a) {
    for (const OfferInfo& o : rec->engine->ListOpenOffers(a)) {
      Command c{};
      c.seq = ++seq;
      c.time = rec->engine->last_time() + static_cast<TimeNs>(seq);
      c.type = CommandType::kReplaceOffer;
      c.replace = ReplaceOffer{a, o.id, o.filled_lots + 1, o.price};
      out.clear();
      rec->engine->Apply(c, &out);
      ASSERT_TRUE((*writer)->Append(c, out).ok());
      EXPECT_EQ(rec->engine->GetOffer(o.id)->open_lots, 1);
      ++replaced;
    }
  }
  ASSERT_GT(replaced, 0);
  ASSERT_TRUE((*writer)->Close().ok());

  EXPECT_EQ(SegmentVersions(tmp.path()), (std::vector<std::uint16_t>{1, kFormatVersion}));

  absl::StatusOr<RecoveryResult> again = Recover(tmp.path(), factory, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->last_seq, seq);
  EXPECT_EQ(again->engine->StateDigest(), rec->engine->StateDigest());
  const Journal mixed = ReadAll(tmp.path());
  EXPECT_EQ(FirstDifference(*ref, mixed.entries, [](CommandType t) { return t; }), 0u);
}

TEST(V2JournalReplayTest, GoldenJournalIsVersionTwoWithoutRetention) {
  EXPECT_EQ(SegmentVersions(V2Dir()), (std::vector<std::uint16_t>{2, 2, 2}));
  const Journal j = ReadAll(V2Dir());
  ASSERT_EQ(j.entries.size(), 633u);
  int replaces = 0;
  for (const JournalEntry& e : j.entries) {
    EXPECT_NE(e.command.type, CommandType::kSetOfferRetention) << e.command.seq;
    replaces += e.command.type == CommandType::kReplaceOffer;
  }
  EXPECT_GT(replaces, 0);
}

TEST(V2JournalReplayTest, ReplaysEveryJournaledEventByteForByte) {
  const Journal j = ReadAll(V2Dir());
  ASSERT_FALSE(j.entries.empty());
  EXPECT_EQ(FirstDifference(msx::testing::TestUniverse(), j.entries,
                            [](CommandType t) { return t; }),
            0u);
}

// A server upgraded on a version 2 journal: recovery replays it (keeping every offer, as
// the exchange did), the server's first command sets a retention window in a version 3
// segment, and the mixed journal recovers again to the same state, finished offers purged.
TEST(V2JournalReplayTest, RecoveryContinuesAVersionTwoJournalWithARetentionCommand) {
  testing::TempDir tmp;
  std::filesystem::copy(V2Dir(), tmp.path(), std::filesystem::copy_options::recursive);
  const Journal j = ReadAll(tmp.path());
  const ReferenceData* r = &msx::testing::TestUniverse();
  auto factory = [r] { return std::make_unique<Engine>(*r, EngineOptions{.expected_offers = 4096}); };
  absl::StatusOr<RecoveryResult> rec = Recover(tmp.path(), factory, {});
  ASSERT_TRUE(rec.ok()) << rec.status();
  ASSERT_EQ(rec->last_seq, 633u);
  EXPECT_EQ(rec->engine->offer_retention(), 0);  // no window: every offer kept
  // Some offer of the old journal has finished (filled, cancelled or expired).
  OfferId finished = 0;
  for (OfferId id = 1; finished == 0; ++id) {
    std::optional<OfferInfo> o = rec->engine->GetOffer(id);
    ASSERT_TRUE(o.has_value()) << "no finished offer in the first " << id << " ids";
    if (o->open_lots == 0) finished = id;
  }

  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = j.config;
  wo.next_seq = 634;
  absl::StatusOr<std::unique_ptr<JournalWriter>> writer = JournalWriter::Open(tmp.path(), wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<Event> out;
  Command c{};
  c.seq = 634;
  c.time = rec->engine->last_time() + 1;
  c.type = CommandType::kSetOfferRetention;
  c.set_retention.retention = 1;
  rec->engine->Apply(c, &out);
  ASSERT_TRUE((*writer)->Append(c, out).ok());
  // Time passes: the finished offers are purged a bounded number per command.
  Seq seq = 634;
  for (int i = 0; i < 100; ++i) {
    c = Command{};
    c.seq = ++seq;
    c.time = rec->engine->last_time() + 1'000'000;
    c.type = CommandType::kAdvanceTime;
    out.clear();
    rec->engine->Apply(c, &out);
    ASSERT_TRUE((*writer)->Append(c, out).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_FALSE(rec->engine->GetOffer(finished).has_value());
  EXPECT_EQ(SegmentVersions(tmp.path()), (std::vector<std::uint16_t>{2, 2, 2, kFormatVersion}));

  absl::StatusOr<RecoveryResult> again = Recover(tmp.path(), factory, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->last_seq, seq);
  EXPECT_EQ(again->engine->offer_retention(), 1);
  EXPECT_EQ(again->engine->StateDigest(), rec->engine->StateDigest());
  EXPECT_FALSE(again->engine->GetOffer(finished).has_value());
}

}  // namespace
}  // namespace msx::journal
