// Deliveries through the journal (issue 15 s.3, deliver-by): fills at WARNING with their
// Delivery events, confirmations (one refused) and a delivery falling overdue on a time
// command are written, read back and replayed byte for byte; recovery from a snapshot
// taken mid-emergency (deliveries pending) equals the full replay; in a segment of a
// version before deliveries (8) they are corruption, named with the file and offset.
#include <string>
#include <vector>

#include "engine/journal/journal_format.h"
#include "engine/journal/replay_test_util.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using msx::testing::ConfirmDelivery;
using msx::testing::SetLevel;
using msx::testing::Submit;
using testing::CommandStream;
using testing::ExpectCorruption;
using testing::RelabelSegmentVersion;
using testing::ReplayAndCompare;
using testing::TempDir;
using testing::WriteJournal;
using testing::WrittenJournal;

// Cobalt against lithium; WARNING kept continuous so that ordinary offers fill at it.
// KOMIR, JOGMEC and DLA share CORE (the default 8-day window); OPS is the admin.
ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 10, 1'000'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 100'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1000});
  b.AddAgency({"KOMIR", "k", "KR"});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgency({"DLA", "d", "US"});
  b.AddAgency({.code = "OPS", .name = "o", .country = "XX", .role = Role::kAdmin});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC", "DLA"}, {}});
  LevelPolicy warning;
  warning.mode = MatchingMode::kContinuous;
  warning.auction_interval_seconds = 0;
  warning.band_bps = 0;
  b.AddLevelPolicy({EmergencyLevel::kWarning, warning});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

constexpr TimeNs kT0 = 1'800'000'000'000'000'000;

Command Offer(AgencyId agency, Side side, Lots lots, Price price, ClientOfferId client) {
  return Submit(agency, 0, side, lots, price, client);
}

// Holdings, WARNING, two fills (deliveries 1-4), a refused confirmation by the deliverer,
// two good ones, a time step past deliver-by (deliveries 2 and 4 fall overdue), a late
// confirmation by the admin, NORMAL again and a fill that opens nothing.
std::vector<Command> Stream() {
  CommandStream s(kT0, 1'000'000'000);
  for (AgencyId a = 0; a < 3; ++a) {
    for (InstrumentId i = 0; i < 2; ++i) s.Add(msx::testing::SetHolding(a, i, 1'000'000));
  }
  s.Add(SetLevel(0, EmergencyLevel::kWarning));
  s.Add(Offer(2, Side::kSell, 10, 100, 1));
  s.Add(Offer(0, Side::kBuy, 6, 100, 2));  // fill 1: deliveries 1 (CO to KOMIR), 2 (LI to DLA)
  s.Add(Offer(1, Side::kBuy, 4, 101, 3));  // fill 2: deliveries 3, 4
  s.Add(ConfirmDelivery(2, 1));            // refused: DLA delivers delivery 1
  s.Add(ConfirmDelivery(0, 1));
  s.Add(ConfirmDelivery(1, 3));
  s.Skip(8 * kNsPerDay - 1'000'000'000);
  s.Add(msx::testing::AdvanceTime());  // 8 days on: past deliver-by, 2 and 4 overdue
  s.Add(ConfirmDelivery(3, 2));        // the admin, late
  s.Add(SetLevel(0, EmergencyLevel::kNormal));
  s.Add(Offer(2, Side::kSell, 1, 100, 4));
  s.Add(Offer(1, Side::kBuy, 1, 100, 5));  // a fill at NORMAL: no delivery
  return s.commands();
}

// Writes Stream() to `dir`, with a snapshot taken after the second fill (WARNING, four
// deliveries pending).
void WriteStream(const ReferenceData& ref, const std::string& dir, WrittenJournal* written) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(WriteJournal(engine, dir, "deliveries", Stream(), written,
                                       [](const Engine& e, const std::vector<Event>&) {
                                         return e.ListDeliveries(std::nullopt).size() == 4;
                                       }));
}

TEST(DeliveriesJournalTest, DeliveriesReplayByteForByteAndRecoverFromAMidEmergencySnapshot) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  ASSERT_FALSE(written.snapshot.empty());
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  Engine recovered(ref, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(recovered.LoadState(written.snapshot).ok());
  std::vector<DeliveryEvent> deliveries;
  std::vector<RejectReason> rejects;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, &recovered, [&](const Event& e) {
        if (e.type == EventType::kDelivery) deliveries.push_back(e.delivery);
        if (e.type == EventType::kRejected) rejects.push_back(e.rejected.reason);
      }));
  // 4 opened, 2 confirmed, 2 overdue, 1 confirmed late; the NORMAL fill opens none.
  ASSERT_EQ(deliveries.size(), 9u);
  EXPECT_EQ(deliveries[0].amount, 60);    // 6 lots x 10 kg of CO, DLA to KOMIR
  EXPECT_EQ(deliveries[1].amount, 600);   // 6 lots x 100 of LI, KOMIR to DLA
  EXPECT_EQ(deliveries[3].amount, 400);   // 4 lots x 100 (DLA's ask at 100)
  EXPECT_EQ(deliveries[6].kind, DeliveryEventKind::kOverdue);
  EXPECT_EQ(deliveries[6].delivery, 2u);
  EXPECT_EQ(deliveries[7].delivery, 4u);
  EXPECT_EQ(deliveries[8].kind, DeliveryEventKind::kConfirmed);
  EXPECT_EQ(deliveries[8].by, 3u);
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0], RejectReason::kNotDeliveryParty);
  EXPECT_EQ(replay.GetDelivery(4)->state, DeliveryState::kOverdue);
}

TEST(DeliveriesJournalTest, ADeliveryRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kDeliveryFormatVersion - 1));
  // The first delivery record: the Delivery event of the first fill at WARNING.
  ExpectCorruption(dir.path(), "delivery event type 25 in a version 8 segment");
}

}  // namespace
}  // namespace msx::journal
