// Emergencies through the journal (issue 15): every emergency command and event is written,
// read back and replayed byte for byte, and a recovery from a snapshot taken mid-emergency
// equals the full replay; in a segment of a version before emergencies (4) they are
// corruption, named with the file and offset.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/journal/journal_format.h"
#include "engine/journal/replay_test_util.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::CommandStream;
using testing::ExpectCorruption;
using testing::RelabelSegmentVersion;
using testing::ReplayAndCompare;
using testing::TempDir;
using testing::WriteJournal;
using testing::WrittenJournal;

// Cobalt (base) against lithium (quote); KOMIR and JOGMEC in CORE, DLA admitted later.
ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 10, 1'000'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 100'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1000});
  b.AddAgency({"KOMIR", "k", "KR"});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgency({"DLA", "d", "US"});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC"}, {}});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

constexpr TimeNs kT0 = 1'800'000'000'000'000'000;

// Holdings, resting offers on both sides, then every emergency command: a level that
// narrows the band (cancelling what falls outside), a publication that waits for its time
// and one that applies at once, a suspension that cancels, an admission, a level back.
std::vector<Command> Stream() {
  CommandStream s(kT0, 1000);
  Command c{};
  c.type = CommandType::kSetHoldings;
  for (AgencyId a = 0; a < 3; ++a) {
    for (InstrumentId i = 0; i < 2; ++i) {
      c.set_holdings = {a, i, 1'000'000};
      s.Add(c);
    }
  }
  c = Command{};
  c.type = CommandType::kSubmitOffer;
  c.submit = SubmitOffer{0, 0, Side::kBuy, TimeInForce::kGtc, 3, 87, 0, 0, 0, 0, 1};
  s.Add(c);  // outside WARNING's 95..105
  c.submit = SubmitOffer{0, 0, Side::kBuy, TimeInForce::kGtc, 2, 97, 0, 0, 0, 0, 2};
  s.Add(c);
  c.submit = SubmitOffer{1, 0, Side::kSell, TimeInForce::kGtc, 4, 104, 0, 0, 0, 0, 3};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = 0;
  c.set_level.level = EmergencyLevel::kWarning;
  c.set_level.reason_size = 10;
  std::memcpy(c.set_level.reason, "export ban", 10);
  s.Add(c);
  c = Command{};
  c.type = CommandType::kPublishReference;
  c.publish_reference = {0, 1'030'000, 0, s.time() + 5000};  // waits: reference 103, 98..108
  s.Add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  s.Skip(10'000);
  s.Add(c);  // applies it: the bid at 97 is now outside
  c = Command{};
  c.type = CommandType::kSuspendMember;
  c.member = {0, 1};
  s.Add(c);  // JOGMEC's ask relied on CORE alone
  c.type = CommandType::kAdmitMember;
  c.member = {0, 2};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kPublishReference;
  c.publish_reference = {0, 1'000'000, 1'100'000, 0};  // a floor above the value, at once
  s.Add(c);  // floor price 110 above WARNING's 95..105: the only price
  c = Command{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = 0;
  c.set_level.level = EmergencyLevel::kNormal;
  s.Add(c);
  return s.commands();
}

// Writes Stream() to `dir`, with a snapshot taken mid-emergency (WARNING with a publication
// pending).
void WriteStream(const ReferenceData& ref, const std::string& dir, WrittenJournal* written) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(WriteJournal(
      engine, dir, "emergencies", Stream(), written,
      [](const Engine& e, const std::vector<Event>&) { return e.GetInstrumentState(0).pending; }));
}

TEST(EmergencyJournalTest, EmergencyCommandsAndEventsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  ASSERT_FALSE(written.snapshot.empty());
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  Engine recovered(ref, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(recovered.LoadState(written.snapshot).ok());
  int outside = 0, suspended = 0, bands = 0, levels = 0;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, &recovered, [&](const Event& e) {
        outside += e.type == EventType::kCancelled &&
                   e.cancelled.reason == CancelReason::kOutsideBand;
        suspended += e.type == EventType::kCancelled &&
                     e.cancelled.reason == CancelReason::kMemberSuspended;
        bands += e.type == EventType::kPairBandChanged;
        levels += e.type == EventType::kEmergencyLevelSet;
      }));
  EXPECT_EQ(outside, 2);    // the bid at 87 (WARNING), the bid at 97 (the publication)
  EXPECT_EQ(suspended, 1);  // JOGMEC's ask
  EXPECT_EQ(levels, 2);
  EXPECT_EQ(bands, 4);      // WARNING, the publication, the floor, NORMAL
  // The floor binds above the reference price 100: NORMAL's band 85..115 starts at 110.
  EXPECT_EQ(replay.GetPairBand(0).reference_price, 100);
  EXPECT_EQ(replay.GetPairBand(0).band_low, 110);
  EXPECT_EQ(replay.GetPairBand(0).band_high, 115);
}

TEST(EmergencyJournalTest, AnEmergencyRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  // Only the record types betray the version before emergencies; the first emergency
  // record is the SetEmergencyLevel command.
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kEmergencyFormatVersion - 1));
  ExpectCorruption(dir.path(), "emergency command type 23 in a version 4 segment");
}

}  // namespace
}  // namespace msx::journal
