// Allocation auctions inside the engine (issue 15 s.3; AUCTION.md "In the engine"): a book
// whose level says call auction rests every offer, and RunAuction uncrosses it in one
// command at one price, tier by tier, pro rata to declared need, capped per agency, in
// whole lots by largest remainder, never between an ineligible pair; the book resumes
// continuous matching when the level drops. Every expected number is computed by hand in
// the comment beside it.
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::EventsOf;
using ::msx::testing::FirstAccepted;
using ::msx::testing::FirstReject;
using ::msx::testing::SetHolding;
using ::msx::testing::SetLevel;
using ::msx::testing::Submit;
using ::msx::testing::SubmitWithNeed;
using ::msx::testing::RunAuction;

constexpr InstrumentId kCo = 0, kLi = 1;
constexpr PairId kCoLi = 0;  // reference 100 per lot, band 85..115, tick 1, lot 1 kg
// DEF may declare every tier, ESS and GEN ESSENTIAL and GENERAL, LOW only GENERAL; S1 and
// S2 sell. All in CORE except X, who may trade with S2 only (agreement X-S2).
constexpr AgencyId kDef = 0, kEss = 1, kGen = 2, kLow = 3, kS1 = 4, kS2 = 5, kX = 6;

constexpr PriorityTier kDefence = PriorityTier::kDefence;
constexpr PriorityTier kEssential = PriorityTier::kEssential;
constexpr PriorityTier kGeneral = PriorityTier::kGeneral;

// WARNING: a call auction without a price control and without a cap; SERIOUS: a call
// auction under a 5 % price control (band 95..105) with a 40 % cap.
ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1, 1'000'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 10'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1000});
  b.AddAgency({.code = "DEF", .name = "d", .country = "US",
               .priority_tiers = {kDefence, kEssential, kGeneral}});
  b.AddAgency({.code = "ESS", .name = "e", .country = "KR",
               .priority_tiers = {kEssential, kGeneral}});
  b.AddAgency({.code = "GEN", .name = "g", .country = "JP",
               .priority_tiers = {kEssential, kGeneral}});
  b.AddAgency({.code = "LOW", .name = "l", .country = "AU"});
  b.AddAgency({.code = "S1", .name = "s1", .country = "CA"});
  b.AddAgency({.code = "S2", .name = "s2", .country = "CL"});
  b.AddAgency({.code = "XX", .name = "x", .country = "IN", .priority_tiers = {kDefence}});
  b.AddAgreement({"CORE", {"DEF", "ESS", "GEN", "LOW", "S1", "S2"}, {}});
  b.AddAgreement({"XX-S2", {"XX", "S2"}, {}});
  LevelPolicy warning;
  warning.mode = MatchingMode::kCallAuction;
  warning.auction_interval_seconds = 60;
  warning.band_bps = 0;
  warning.agency_cap_bps = kFullShareBps;
  b.AddLevelPolicy({EmergencyLevel::kWarning, warning});
  LevelPolicy serious = warning;
  serious.band_bps = 500;
  serious.agency_cap_bps = 4000;
  b.AddLevelPolicy({EmergencyLevel::kSerious, serious});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

class AuctionEngineTest : public ::testing::Test {
 protected:
  AuctionEngineTest() : ref_(MakeRef()), engine_(ref_, EngineOptions{.expected_offers = 1024}) {
    for (AgencyId a = 0; a <= kX; ++a) {
      for (InstrumentId i : {kCo, kLi}) {
        Do(SetHolding(a, i, kStart));
      }
    }
  }

  const std::vector<Event>& Do(Command c) {
    c.seq = ++seq_;
    c.time = time_ += 1'000'000'000;
    events_.clear();
    engine_.Apply(c, &events_);
    log_.push_back(c);
    return events_;
  }

  OfferId Accepted() const { return FirstAccepted(events_); }
  RejectReason LastReject() const { return FirstReject(events_); }
  std::vector<Event> Of(EventType type) const { return EventsOf(events_, type); }

  OfferId Sell(AgencyId agency, Lots lots, Price price) {
    Do(Submit(agency, kCoLi, Side::kSell, lots, price, ++client_));
    return Accepted();
  }
  // A buy of `lots` lots at `price` with a declared need of `need` kg (lot size 1).
  OfferId Bid(AgencyId agency, PriorityTier tier, Lots lots, Price price, Amount need) {
    Do(BidCommand(agency, tier, lots, price, need));
    return Accepted();
  }
  Command BidCommand(AgencyId agency, PriorityTier tier, Lots lots, Price price, Amount need,
                     TimeInForce tif = TimeInForce::kGtc) {
    return SubmitWithNeed(agency, kCoLi, lots, price, need, tier, ++client_, tif);
  }

  // Lots allocated per buying agency in the last command's fills.
  std::map<AgencyId, Lots> Allocated() const {
    std::map<AgencyId, Lots> m;
    for (const Event& e : Of(EventType::kFill)) m[e.fill.taker_agency] += e.fill.lots;
    return m;
  }

  static constexpr Amount kStart = 1'000'000;
  ReferenceData ref_;
  Engine engine_;
  std::vector<Event> events_;
  std::vector<Command> log_;
  Seq seq_ = 0;
  TimeNs time_ = 1'000'000'000'000;
  ClientOfferId client_ = 0;
};

TEST_F(AuctionEngineTest, BooksRestAtACallAuctionLevelAndATickFillsAllAtOnePrice) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const OfferId ask = Sell(kS1, 10, 95);
  const OfferId bid = Bid(kGen, kGeneral, 10, 105, 10);
  ASSERT_NE(bid, 0u);
  EXPECT_TRUE(Of(EventType::kFill).empty()) << "a book in call-auction mode does not match";
  EXPECT_EQ(engine_.GetOffer(ask)->status, OfferStatus::kOpen);

  Do(RunAuction(kCo));
  ASSERT_GE(events_.size(), 2u);
  ASSERT_EQ(events_[0].type, EventType::kAuction);
  const AuctionEvent& a = events_[0].auction;
  EXPECT_EQ(a.pair, kCoLi);
  EXPECT_TRUE(a.crossed);
  // Volume 10 and imbalance 0 on 95..105: the price nearest the reference, 100.
  EXPECT_EQ(a.price, 100);
  EXPECT_EQ(a.executable, 10);
  EXPECT_EQ(a.executed, 10);
  EXPECT_EQ(a.supply, 10);
  EXPECT_EQ(a.demand, 10);
  EXPECT_EQ(a.agency_cap, 10);
  const std::vector<Event> fills = Of(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].fill.maker_offer, ask);
  EXPECT_EQ(fills[0].fill.taker_offer, bid);
  EXPECT_EQ(fills[0].fill.price, 100);
  EXPECT_EQ(fills[0].fill.lots, 10);
  EXPECT_EQ(engine_.GetOffer(bid)->status, OfferStatus::kFilled);
  EXPECT_EQ(engine_.GetOffer(ask)->status, OfferStatus::kFilled);
  // The buyer reserved 10 x 105 and paid 10 x 100: the 50 saved is available again.
  EXPECT_EQ(engine_.GetHoldings(kGen, kLi).available, kStart - 1000);
  EXPECT_EQ(engine_.GetHoldings(kGen, kLi).reserved, 0);
  EXPECT_EQ(engine_.GetHoldings(kGen, kCo).available, kStart + 10);
  EXPECT_EQ(engine_.GetHoldings(kS1, kCo).reserved, 0);
  EXPECT_EQ(engine_.GetHoldings(kS1, kCo).available, kStart - 10);
  EXPECT_EQ(engine_.GetHoldings(kS1, kLi).available, kStart + 1000);
  EXPECT_EQ(engine_.OpenOfferCount(), 0u);
  EXPECT_EQ(engine_.GetDepth(kCoLi, 10).bids.size(), 0u);
}

TEST_F(AuctionEngineTest, HigherTiersAreServedFirst) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 10, 100);
  // Submitted lowest tier first, so that time priority would favour GENERAL.
  const OfferId general = Bid(kGen, kGeneral, 5, 100, 5);
  const OfferId essential = Bid(kEss, kEssential, 8, 100, 8);
  const OfferId defence = Bid(kDef, kDefence, 6, 100, 6);
  Do(RunAuction(kCo));
  // DEFENCE takes its 6, ESSENTIAL the 4 left, GENERAL nothing.
  const std::map<AgencyId, Lots> got = Allocated();
  EXPECT_EQ(got, (std::map<AgencyId, Lots>{{kDef, 6}, {kEss, 4}}));
  const std::vector<Event> fills = Of(EventType::kFill);
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].fill.taker_offer, defence);  // allocation order: tier by tier
  EXPECT_EQ(fills[1].fill.taker_offer, essential);
  EXPECT_EQ(engine_.GetOffer(general)->open_lots, 5);
  EXPECT_EQ(engine_.GetOffer(essential)->open_lots, 4);
}

TEST_F(AuctionEngineTest, ATierSplitsProRataToNeedWithLargestRemainders) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 9, 100);
  // Needs 30, 20, 20 (AUCTION.md's example): quotas 3.857, 2.571, 2.571; floors 3, 2, 2;
  // the two lots left go to the largest remainder (6/7, DEF) and to the earlier of the
  // two equal ones (4/7): GEN, whose bid came before ESS's.
  Bid(kDef, kEssential, 30, 100, 30);
  Bid(kGen, kEssential, 20, 100, 20);
  Bid(kEss, kEssential, 20, 100, 20);
  Do(RunAuction(kCo));
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 4}, {kGen, 3}, {kEss, 2}}));
  EXPECT_EQ(events_[0].auction.executed, 9);
}

TEST_F(AuctionEngineTest, TheRemainderTieGoesToTheEarlierOffer) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 9, 100);
  Bid(kDef, kEssential, 30, 100, 30);
  Bid(kEss, kEssential, 20, 100, 20);  // now ESS is the earlier of the two 4/7 remainders
  Bid(kGen, kEssential, 20, 100, 20);
  Do(RunAuction(kCo));
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 4}, {kEss, 3}, {kGen, 2}}));
}

TEST_F(AuctionEngineTest, NoAgencyGetsMoreThanTheCapOfTheAuctionsSupply) {
  Do(SetLevel(kCo, EmergencyLevel::kSerious));  // cap 40 %, price control at 100
  Sell(kS1, 20, 100);
  Bid(kDef, kEssential, 100, 100, 100);
  Bid(kEss, kEssential, 10, 100, 10);
  Bid(kGen, kEssential, 10, 100, 10);
  Do(RunAuction(kCo));
  // Cap floor(20 x 40 %) = 8: DEF's quota (16.7) reaches it; the 12 left split 6, 6.
  EXPECT_EQ(events_[0].auction.agency_cap, 8);
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 8}, {kEss, 6}, {kGen, 6}}));
}

TEST_F(AuctionEngineTest, AnIneligiblePairNeverTrades) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const OfferId s1 = Sell(kS1, 5, 100);
  const OfferId s2 = Sell(kS2, 3, 100);
  // X (DEFENCE) may trade with S2 only; GEN (GENERAL) with both.
  const OfferId x = Bid(kX, kDefence, 10, 100, 10);
  const OfferId gen = Bid(kGen, kGeneral, 10, 100, 10);
  Do(RunAuction(kCo));
  const std::vector<Event> fills = Of(EventType::kFill);
  ASSERT_FALSE(fills.empty());
  Lots x_lots = 0, gen_lots = 0;
  for (const Event& e : fills) {
    if (e.fill.taker_offer == x) {
      EXPECT_EQ(e.fill.maker_offer, s2) << "X and S1 share no agreement";
      x_lots += e.fill.lots;
    } else {
      EXPECT_EQ(e.fill.taker_offer, gen);
      gen_lots += e.fill.lots;
    }
  }
  EXPECT_EQ(x_lots, 3);    // all S2 has
  EXPECT_EQ(gen_lots, 5);  // all of S1
  EXPECT_EQ(engine_.GetOffer(s1)->status, OfferStatus::kFilled);
}

TEST_F(AuctionEngineTest, WithoutAPriceControlTheMostVolumeThenTheLeastImbalancePrices) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 10, 95);
  Bid(kDef, kEssential, 6, 104, 6);
  Bid(kGen, kEssential, 10, 96, 10);
  Do(RunAuction(kCo));
  // Demand 16 up to 96 and 6 from 97 to 104; supply 10 from 95: volume 10 at 95 and 96
  // (imbalance 6 at both), 6 above: the nearer to the reference 100 of the two, 96.
  EXPECT_EQ(events_[0].auction.price, 96);
  EXPECT_EQ(events_[0].auction.executable, 10);
  EXPECT_EQ(events_[0].auction.executed, 10);
  for (const Event& e : Of(EventType::kFill)) EXPECT_EQ(e.fill.price, 96);
}

TEST_F(AuctionEngineTest, UnderAPriceControlTheAuctionPricesAtTheReference) {
  Do(SetLevel(kCo, EmergencyLevel::kSerious));  // control: band 95..105, reference 100
  Sell(kS1, 10, 95);
  Bid(kDef, kEssential, 6, 104, 6);
  Bid(kGen, kEssential, 10, 96, 10);
  Do(RunAuction(kCo));
  // The same book as above, but at 100, where only DEF's 6 lots bid; SERIOUS caps it at
  // floor(40 % of the supply of 10) = 4.
  EXPECT_EQ(events_[0].auction.price, 100);
  EXPECT_EQ(events_[0].auction.executable, 6);
  EXPECT_EQ(events_[0].auction.agency_cap, 4);
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 4}}));
  for (const Event& e : Of(EventType::kFill)) EXPECT_EQ(e.fill.price, 100);
}

TEST_F(AuctionEngineTest, OffersTheAuctionCannotAllocateAreRefused) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Do(BidCommand(kLow, kEssential, 5, 100, 5));
  EXPECT_EQ(LastReject(), RejectReason::kTierNotAllowed);  // LOW may declare GENERAL only
  Do(BidCommand(kLow, kGeneral, 5, 100, 0));
  EXPECT_EQ(LastReject(), RejectReason::kInvalidNeed);
  Do(BidCommand(kLow, static_cast<PriorityTier>(4), 5, 100, 5));
  EXPECT_EQ(LastReject(), RejectReason::kInvalidNeed);
  Command sell_with_need = BidCommand(kS1, kGeneral, 5, 100, 5);
  sell_with_need.submit_need.offer.side = Side::kSell;
  Do(sell_with_need);
  EXPECT_EQ(LastReject(), RejectReason::kInvalidNeed);
  Do(BidCommand(kLow, kGeneral, 5, 100, 5, TimeInForce::kIoc));
  EXPECT_EQ(LastReject(), RejectReason::kCallAuctionOnly);
  Command listed{};
  listed.type = CommandType::kSubmitOffer;
  listed.submit = {kS1, kCoLi, Side::kSell, TimeInForce::kGtc, 5, 100, 0, 0, 0,
                   AgencyMask{1} << kDef, ++client_};
  Do(listed);
  EXPECT_EQ(LastReject(), RejectReason::kCallAuctionOnly);
  Do(RunAuction(kLi));  // LI is at NORMAL
  EXPECT_EQ(LastReject(), RejectReason::kNoCallAuction);
  Do(RunAuction(7));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownInstrument);
  EXPECT_EQ(engine_.OpenOfferCount(), 0u);
}

TEST_F(AuctionEngineTest, ABuyWithoutANeedWaitsForContinuousMatching) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const OfferId ask = Sell(kS1, 4, 100);
  Command plain{};
  plain.type = CommandType::kSubmitOffer;
  plain.submit = {kGen, kCoLi, Side::kBuy, TimeInForce::kGtc, 4, 100, 0, 0, 0, 0, ++client_};
  Do(plain);
  const OfferId bid = Accepted();
  Do(RunAuction(kCo));
  EXPECT_FALSE(events_[0].auction.crossed);  // it claims nothing
  EXPECT_TRUE(Of(EventType::kFill).empty());
  EXPECT_EQ(engine_.GetOffer(bid)->open_lots, 4);
  EXPECT_EQ(engine_.GetOffer(ask)->open_lots, 4);
}

TEST_F(AuctionEngineTest, ContinuousMatchingResumesWhenTheLevelDrops) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const OfferId ask = Sell(kS1, 4, 98);
  Command plain{};
  plain.type = CommandType::kSubmitOffer;
  plain.submit = {kGen, kCoLi, Side::kBuy, TimeInForce::kGtc, 6, 102, 0, 0, 0, 0, ++client_};
  Do(plain);
  const OfferId bid = Accepted();
  EXPECT_TRUE(Of(EventType::kFill).empty());
  Do(SetLevel(kCo, EmergencyLevel::kNormal));
  // The crossed book uncrosses in acceptance order: the ask rests first, the bid takes it
  // at the resting price.
  const std::vector<Event> fills = Of(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].fill.maker_offer, ask);
  EXPECT_EQ(fills[0].fill.taker_offer, bid);
  EXPECT_EQ(fills[0].fill.price, 98);
  EXPECT_EQ(fills[0].fill.lots, 4);
  EXPECT_EQ(engine_.GetOffer(bid)->open_lots, 2);
  // Continuous again: a new ask fills at once.
  Sell(kS2, 2, 101);
  ASSERT_EQ(Of(EventType::kFill).size(), 1u);
  EXPECT_EQ(Of(EventType::kFill)[0].fill.price, 102);
  Do(RunAuction(kCo));
  EXPECT_EQ(LastReject(), RejectReason::kNoCallAuction);
}

TEST_F(AuctionEngineTest, AHaltedPairUncrossesWhenResumedNotWhenTheLevelDrops) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 4, 98);
  Bid(kGen, kGeneral, 4, 102, 4);
  Command halt{};
  halt.type = CommandType::kHaltPair;
  halt.pair.pair = kCoLi;
  Do(halt);
  Do(RunAuction(kCo));
  EXPECT_TRUE(events_.empty()) << "a halted pair has no auction";
  Do(SetLevel(kCo, EmergencyLevel::kNormal));
  EXPECT_TRUE(Of(EventType::kFill).empty());
  // Its state survives a snapshot.
  Engine restored(ref_, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(restored.LoadState(engine_.SaveState()).ok());
  EXPECT_EQ(restored.StateDigest(), engine_.StateDigest());
  Command resume = halt;
  resume.type = CommandType::kResumePair;
  Do(resume);
  ASSERT_EQ(Of(EventType::kFill).size(), 1u);
  EXPECT_EQ(Of(EventType::kFill)[0].fill.price, 98);
}

TEST_F(AuctionEngineTest, OneTickAuctionsEachBookOnce) {
  // Both instruments at WARNING: CO drives CO/LI (its base); LI's tick leaves it alone.
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Do(SetLevel(kLi, EmergencyLevel::kWarning));
  Sell(kS1, 4, 100);
  Bid(kGen, kGeneral, 4, 100, 4);
  Do(RunAuction(kLi));
  EXPECT_TRUE(events_.empty());
  Do(RunAuction(kCo));
  EXPECT_EQ(Of(EventType::kAuction).size(), 1u);
  EXPECT_EQ(Of(EventType::kFill).size(), 1u);
}

// A random emergency: levels up and down, needs, cancels, replaces and ticks. Replaying
// the commands gives the same events byte for byte, and an engine restored from a snapshot
// taken at any point continues exactly as the original.
TEST_F(AuctionEngineTest, AuctionsReplayByteForByteAndRecoverFromSnapshots) {
  std::mt19937_64 rng(15);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  std::vector<std::vector<Event>> out;
  std::vector<std::string> snapshots;
  std::vector<OfferId> offers;
  int auctions = 0, fills = 0;
  const std::size_t start = log_.size();
  for (int k = 0; k < 600; ++k) {
    const int what = static_cast<int>(uniform(0, 99));
    if (what < 4) {
      static constexpr EmergencyLevel kLevels[] = {
          EmergencyLevel::kNormal, EmergencyLevel::kWarning, EmergencyLevel::kSerious};
      Do(SetLevel(kCo, kLevels[uniform(0, 2)]));
    } else if (what < 14) {
      Do(RunAuction(kCo));
    } else if (what < 18) {
      Command h{};
      h.type = uniform(0, 1) ? CommandType::kHaltPair : CommandType::kResumePair;
      h.pair.pair = kCoLi;
      Do(h);
    } else if (what < 26 && !offers.empty()) {
      const OfferId id = offers[uniform(0, offers.size() - 1)];
      const auto info = engine_.GetOffer(id);
      Command c{};
      if (uniform(0, 1) && info) {
        c.type = CommandType::kReplaceOffer;
        c.replace = {info->agency, id, uniform(1, 20), uniform(96, 104)};
      } else {
        c.type = CommandType::kCancelOffer;
        c.cancel = {info ? info->agency : kDef, id};
      }
      Do(c);
    } else if (what < 60) {
      const AgencyId a = static_cast<AgencyId>(uniform(kS1, kS2));
      if (const OfferId id = Sell(a, uniform(1, 20), uniform(95, 105))) offers.push_back(id);
    } else {
      static constexpr AgencyId kBuyers[] = {kDef, kEss, kGen, kLow, kX};
      const AgencyId a = kBuyers[uniform(0, 4)];
      const PriorityTier tier = static_cast<PriorityTier>(uniform(1, 3));
      Command c = BidCommand(a, tier, uniform(1, 20), uniform(95, 105), uniform(1, 25));
      if (uniform(0, 4) == 0) {  // now and then a plain buy
        const SubmitOffer s = c.submit_need.offer;
        c = Command{};
        c.type = CommandType::kSubmitOffer;
        c.submit = s;
      }
      Do(c);
      if (const OfferId id = Accepted()) offers.push_back(id);
    }
    out.push_back(events_);
    snapshots.push_back(engine_.SaveState());
    for (const Event& e : events_) {
      auctions += e.type == EventType::kAuction && e.auction.crossed;
      fills += e.type == EventType::kFill;
    }
  }
  EXPECT_GT(auctions, 10);
  EXPECT_GT(fills, 50);

  Engine replay(ref_, EngineOptions{.expected_offers = 1024});
  std::vector<Event> ev;
  for (std::size_t i = 0; i < start; ++i) {
    ev.clear();
    replay.Apply(log_[i], &ev);
  }
  for (std::size_t i = start; i < log_.size(); ++i) {
    ev.clear();
    replay.Apply(log_[i], &ev);
    const std::vector<Event>& want = out[i - start];
    ASSERT_EQ(ev.size(), want.size()) << "command " << i;
    ASSERT_EQ(0, std::memcmp(ev.data(), want.data(), ev.size() * sizeof(Event))) << i;
  }
  EXPECT_EQ(replay.StateDigest(), engine_.StateDigest());
  // From snapshots at a few points, the rest of the commands give the same events.
  for (std::size_t at : {std::size_t{50}, std::size_t{200}, std::size_t{333}, std::size_t{480}}) {
    Engine restored(ref_, EngineOptions{.expected_offers = 1024});
    ASSERT_TRUE(restored.LoadState(snapshots[at]).ok()) << at;
    for (std::size_t i = start + at + 1; i < log_.size(); ++i) {
      ev.clear();
      restored.Apply(log_[i], &ev);
      const std::vector<Event>& want = out[i - start];
      ASSERT_EQ(ev.size(), want.size()) << "from snapshot " << at << ", command " << i;
      ASSERT_EQ(0, std::memcmp(ev.data(), want.data(), ev.size() * sizeof(Event)))
          << "from snapshot " << at << ", command " << i;
    }
    EXPECT_EQ(restored.StateDigest(), engine_.StateDigest()) << at;
  }
}

TEST_F(AuctionEngineTest, ADeclaredNeedSurvivesASnapshot) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Sell(kS1, 10, 100);
  Bid(kDef, kDefence, 10, 100, 6);
  const std::string image = engine_.SaveState();
  ASSERT_GE(image.size(), 12u);
  std::uint32_t version;
  std::memcpy(&version, image.data() + 8, 4);
  EXPECT_EQ(version, 6u);  // SNAPSHOT.md: the allocation-auction section
  Engine restored(ref_, EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(restored.LoadState(image).ok());
  std::vector<Event> ev;
  Command tick = RunAuction(kCo);
  tick.seq = seq_ + 1;
  tick.time = time_ + 1;
  restored.Apply(tick, &ev);
  // Auction, Fill, its two deliveries (WARNING: ENGINE.md "Deliveries"), two BookLevel.
  ASSERT_EQ(ev.size(), 2u + 2u + 2u);
  EXPECT_EQ(ev[1].type, EventType::kFill);
  EXPECT_EQ(ev[1].fill.lots, 6);  // the need, not the 10 lots bid
}

// A need met in part by one auction claims only the rest in the next (AUCTION.md "In the
// engine": the need minus the offer's filled lots x lot size), however many lots stay open.
TEST_F(AuctionEngineTest, ANeedMetInPartClaimsOnlyTheRestInTheNextAuction) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const OfferId bid = Bid(kDef, kDefence, 10, 100, 6);  // 10 lots bid, 6 needed
  Sell(kS1, 4, 100);
  Do(RunAuction(kCo));
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 4}}));
  Sell(kS1, 5, 100);
  Do(RunAuction(kCo));
  // 2 lots of need are left: not min(6 open, need 6) = 5 of the 5 offered.
  EXPECT_EQ(Allocated(), (std::map<AgencyId, Lots>{{kDef, 2}}));
  EXPECT_EQ(engine_.GetOffer(bid)->filled_lots, 6);
  EXPECT_EQ(engine_.GetOffer(bid)->open_lots, 4);
  Do(RunAuction(kCo));
  EXPECT_TRUE(Allocated().empty()) << "the need is met; the 3 lots offered stay unsold";
}

}  // namespace
}  // namespace msx
