// Emergencies through the journal (issue 15): every emergency command and event is written,
// read back and replayed byte for byte, and a recovery from a snapshot taken mid-emergency
// equals the full replay; in a segment of a version before emergencies (4) they are
// corruption, named with the file and offset.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

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
  std::vector<Command> v;
  Seq seq = 0;
  TimeNs t = kT0;
  auto add = [&](Command c) {
    c.seq = ++seq;
    c.time = (t += 1000);
    v.push_back(c);
  };
  Command c{};
  c.type = CommandType::kSetHoldings;
  for (AgencyId a = 0; a < 3; ++a) {
    for (InstrumentId i = 0; i < 2; ++i) {
      c.set_holdings = {a, i, 1'000'000};
      add(c);
    }
  }
  c = Command{};
  c.type = CommandType::kSubmitOffer;
  c.submit = SubmitOffer{0, 0, Side::kBuy, TimeInForce::kGtc, 3, 87, 0, 0, 0, 0, 1};
  add(c);  // outside WARNING's 95..105
  c.submit = SubmitOffer{0, 0, Side::kBuy, TimeInForce::kGtc, 2, 97, 0, 0, 0, 0, 2};
  add(c);
  c.submit = SubmitOffer{1, 0, Side::kSell, TimeInForce::kGtc, 4, 104, 0, 0, 0, 0, 3};
  add(c);
  c = Command{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = 0;
  c.set_level.level = EmergencyLevel::kWarning;
  c.set_level.reason_size = 10;
  std::memcpy(c.set_level.reason, "export ban", 10);
  add(c);
  c = Command{};
  c.type = CommandType::kPublishReference;
  c.publish_reference = {0, 1'030'000, 0, t + 5000};  // waits: reference 103, 98..108
  add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  t += 10'000;
  add(c);  // applies it: the bid at 97 is now outside
  c = Command{};
  c.type = CommandType::kSuspendMember;
  c.member = {0, 1};
  add(c);  // JOGMEC's ask relied on CORE alone
  c.type = CommandType::kAdmitMember;
  c.member = {0, 2};
  add(c);
  c = Command{};
  c.type = CommandType::kPublishReference;
  c.publish_reference = {0, 1'000'000, 1'100'000, 0};  // a floor above the value, at once
  add(c);  // floor price 110 above WARNING's 95..105: the only price
  c = Command{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = 0;
  c.set_level.level = EmergencyLevel::kNormal;
  add(c);
  return v;
}

void WriteStream(const ReferenceData& ref, const std::string& dir,
                 std::vector<std::vector<Event>>* written, std::string* mid_snapshot) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = "emergencies";
  auto writer = JournalWriter::Open(dir, wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Command& c : Stream()) {
    std::vector<Event> ev;
    engine.Apply(c, &ev);
    ASSERT_TRUE((*writer)->Append(c, ev).ok());
    written->push_back(ev);
    // Mid-emergency: WARNING with a publication pending.
    if (mid_snapshot->empty() && engine.GetInstrumentState(0).pending) {
      *mid_snapshot = engine.SaveState();
    }
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

TEST(EmergencyJournalTest, EmergencyCommandsAndEventsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  std::vector<std::vector<Event>> written;
  std::string mid;
  WriteStream(ref, dir.path(), &written, &mid);
  ASSERT_FALSE(mid.empty());
  auto reader = JournalReader::Open(dir.path(), ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  Engine recovered(ref, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(recovered.LoadState(mid).ok());
  JournalEntry entry;
  std::size_t n = 0;
  int outside = 0, suspended = 0, bands = 0, levels = 0;
  while ((*reader)->Next(&entry)) {
    std::vector<Event> ev;
    replay.Apply(entry.command, &ev);
    const auto journaled = std::count_if(ev.begin(), ev.end(),
                                         [](const Event& e) { return IsJournaled(e.type); });
    ASSERT_EQ(entry.events.size(), static_cast<std::size_t>(journaled))
        << "seq " << entry.command.seq;
    std::size_t k = 0;
    for (const Event& e : ev) {
      if (!IsJournaled(e.type)) continue;
      std::string a, b;
      EncodeEventPayload(e, 0, &a);
      EncodeEventPayload(entry.events[k++], 0, &b);
      ASSERT_EQ(a, b) << "seq " << entry.command.seq << " event " << k - 1;
      outside += e.type == EventType::kCancelled &&
                 e.cancelled.reason == CancelReason::kOutsideBand;
      suspended += e.type == EventType::kCancelled &&
                   e.cancelled.reason == CancelReason::kMemberSuspended;
      bands += e.type == EventType::kPairBandChanged;
      levels += e.type == EventType::kEmergencyLevelSet;
    }
    // The written events, market data included, equal the replay's.
    ASSERT_EQ(ev.size(), written[n].size());
    ASSERT_EQ(0, std::memcmp(ev.data(), written[n].data(), ev.size() * sizeof(Event)));
    if (entry.command.seq > recovered.last_seq()) {
      std::vector<Event> rev;
      recovered.Apply(entry.command, &rev);
      ASSERT_EQ(rev.size(), ev.size());
      ASSERT_EQ(0, std::memcmp(rev.data(), ev.data(), ev.size() * sizeof(Event)))
          << "recovered from the mid-emergency snapshot, seq " << entry.command.seq;
    }
    ++n;
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, Stream().size());
  EXPECT_EQ(outside, 2);    // the bid at 87 (WARNING), the bid at 97 (the publication)
  EXPECT_EQ(suspended, 1);  // JOGMEC's ask
  EXPECT_EQ(levels, 2);
  EXPECT_EQ(bands, 4);      // WARNING, the publication, the floor, NORMAL
  EXPECT_EQ(recovered.SaveState(), replay.SaveState());
  // The floor binds above the reference price 100: NORMAL's band 85..115 starts at 110.
  EXPECT_EQ(replay.GetPairBand(0).reference_price, 100);
  EXPECT_EQ(replay.GetPairBand(0).band_low, 110);
  EXPECT_EQ(replay.GetPairBand(0).band_high, 115);
}

TEST(EmergencyJournalTest, AnEmergencyRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  std::vector<std::vector<Event>> written;
  std::string mid;
  WriteStream(ref, dir.path(), &written, &mid);
  const std::string seg = dir.file(SegmentFileName(1));
  std::string bytes = ReadAll(seg);
  ASSERT_EQ(GetFixed16(bytes.data() + kSegmentHeaderVersionOffset), kFormatVersion);
  // Rewrite the header as the version before emergencies, with a valid CRC: only the record
  // types betray it.
  std::string header = bytes.substr(0, kSegmentHeaderCrcOffset);
  std::string v;
  PutFixed16(&v, kEmergencyFormatVersion - 1);
  header.replace(kSegmentHeaderVersionOffset, 2, v);
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), header.size())));
  WriteAll(seg, header + bytes.substr(kSegmentHeaderSize));
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  // The first emergency record: the SetEmergencyLevel command.
  EXPECT_NE(stats.status().message().find("emergency command type 23 in a version 4 segment"),
            std::string::npos)
      << stats.status();
}

}  // namespace
}  // namespace msx::journal
