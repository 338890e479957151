// Allocation auctions through the journal (issue 15 s.3): buys with a declared need, ticks
// and their Auction and Fill events are written, read back and replayed byte for byte, and
// a recovery from a snapshot taken mid-auction-level equals the full replay; in a segment
// of a version before auctions (6) they are corruption, named with the file and offset.
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

// Cobalt (base, lot 10 kg) against lithium; KOMIR may declare DEFENCE, JOGMEC only GENERAL,
// DLA sells. The default WARNING policy: a call auction within 5 % of the reference (a
// price control), 40 % of an auction per agency at most.
ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 10, 1'000'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 100'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1000});
  b.AddAgency({.code = "KOMIR", .name = "k", .country = "KR",
               .priority_tiers = {PriorityTier::kDefence, PriorityTier::kGeneral}});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgency({"DLA", "d", "US"});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC", "DLA"}, {}});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

constexpr TimeNs kT0 = 1'800'000'000'000'000'000;

Command Level(EmergencyLevel level) {
  Command c{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = 0;
  c.set_level.level = level;
  return c;
}

Command Need(AgencyId agency, PriorityTier tier, Lots lots, Price price, Amount need,
             ClientOfferId client) {
  Command c{};
  c.type = CommandType::kSubmitOfferWithNeed;
  c.submit_need.offer = {agency, 0, Side::kBuy, TimeInForce::kGtc, lots, price, 0, 0, 0, 0,
                         client};
  c.submit_need.need = need;
  c.submit_need.tier = tier;
  return c;
}

// Holdings, WARNING on cobalt, supply and needs, two ticks (the second after more supply),
// a rejected tier, and NORMAL again with a crossed plain buy that then trades.
std::vector<Command> Stream() {
  CommandStream s(kT0, 1'000'000'000);
  Command c{};
  c.type = CommandType::kSetHoldings;
  for (AgencyId a = 0; a < 3; ++a) {
    for (InstrumentId i = 0; i < 2; ++i) {
      c.set_holdings = {a, i, 1'000'000};
      s.Add(c);
    }
  }
  s.Add(Level(EmergencyLevel::kWarning));  // band 95..105
  c = Command{};
  c.type = CommandType::kSubmitOffer;
  c.submit = SubmitOffer{2, 0, Side::kSell, TimeInForce::kGtc, 10, 97, 0, 0, 0, 0, 1};
  s.Add(c);
  s.Add(Need(0, PriorityTier::kDefence, 10, 103, 60, 2));   // claims 6 lots (lot 10 kg)
  s.Add(Need(1, PriorityTier::kGeneral, 10, 101, 100, 3));  // claims 10
  s.Add(Need(1, PriorityTier::kDefence, 5, 101, 50, 4));    // rejected: JOGMEC is GENERAL only
  c = Command{};
  c.type = CommandType::kRunAuction;
  c.run_auction.instrument = 0;
  s.Add(c);  // at 100: cap 4 of 10; KOMIR 4, JOGMEC 4
  Command sell{};
  sell.type = CommandType::kSubmitOffer;
  sell.submit = SubmitOffer{2, 0, Side::kSell, TimeInForce::kGtc, 6, 99, 0, 0, 0, 0, 5};
  s.Add(sell);
  s.Add(c);  // supply 8: cap 3; KOMIR 2 (what is left of its need), JOGMEC 3
  Command plain{};
  plain.type = CommandType::kSubmitOffer;
  plain.submit = SubmitOffer{0, 0, Side::kBuy, TimeInForce::kGtc, 2, 104, 0, 0, 0, 0, 6};
  s.Add(plain);  // rests: no need
  s.Add(Level(EmergencyLevel::kNormal));  // uncrosses in acceptance order
  c.run_auction.instrument = 0;
  s.Add(c);  // rejected: NORMAL does not auction
  return s.commands();
}

// Writes Stream() to `dir`, with a snapshot taken after the first tick (WARNING, declared
// needs still open).
void WriteStream(const ReferenceData& ref, const std::string& dir, WrittenJournal* written) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(
      WriteJournal(engine, dir, "auctions", Stream(), written,
                   [](const Engine&, const std::vector<Event>& ev) {
                     return std::any_of(ev.begin(), ev.end(), [](const Event& e) {
                       return e.type == EventType::kAuction;
                     });
                   }));
}

TEST(AuctionJournalTest, AuctionsReplayByteForByteAndRecoverFromAMidAuctionSnapshot) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  ASSERT_FALSE(written.snapshot.empty());
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  Engine recovered(ref, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(recovered.LoadState(written.snapshot).ok());
  std::vector<Event> auctions, fills;
  std::vector<RejectReason> rejects;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, &recovered, [&](const Event& e) {
        if (e.type == EventType::kAuction) auctions.push_back(e);
        if (e.type == EventType::kFill) fills.push_back(e);
        if (e.type == EventType::kRejected) rejects.push_back(e.rejected.reason);
      }));
  ASSERT_EQ(auctions.size(), 2u);
  // First tick: price control at 100; supply 10, cap floor(10 x 40 %) = 4: KOMIR
  // (DEFENCE, claims 6) 4, then JOGMEC (GENERAL, claims 10) 4.
  EXPECT_EQ(auctions[0].auction.price, 100);
  EXPECT_EQ(auctions[0].auction.supply, 10);
  EXPECT_EQ(auctions[0].auction.agency_cap, 4);
  EXPECT_EQ(auctions[0].auction.executed, 8);
  // Second tick: supply 2 + 6 = 8, cap 3: KOMIR's need left, 60 - 40 kg, claims 2 lots;
  // JOGMEC 3.
  EXPECT_EQ(auctions[1].auction.supply, 8);
  EXPECT_EQ(auctions[1].auction.agency_cap, 3);
  EXPECT_EQ(auctions[1].auction.executed, 5);
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0], RejectReason::kTierNotAllowed);
  EXPECT_EQ(rejects[1], RejectReason::kNoCallAuction);
  // At NORMAL the offers re-enter in acceptance order: KOMIR's bid at 103 (4 lots open)
  // rests first, so DLA's later ask at 99 (3 lots left) takes it at 103; the plain buy
  // rests.
  ASSERT_EQ(fills.size(), 2u + 2u + 1u);
  EXPECT_EQ(fills.back().fill.price, 103);
  EXPECT_EQ(fills.back().fill.maker_agency, 0u);
  EXPECT_EQ(fills.back().fill.taker_agency, 2u);
  EXPECT_EQ(fills.back().fill.lots, 3);
}

TEST(AuctionJournalTest, AnAuctionRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  // The first auction record: KOMIR's SubmitOfferWithNeed.
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kAuctionFormatVersion - 1));
  ExpectCorruption(dir.path(), "allocation-auction command type 31 in a version 6 segment");
}

}  // namespace
}  // namespace msx::journal
