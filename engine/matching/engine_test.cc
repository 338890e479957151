// Rule-by-rule tests of the matching engine on the small TestUniverse (see
// engine/testing/test_universe.h). Side-symmetric rules run for both taker sides.
#include "engine/matching/engine.h"

#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::AdvanceTime;
using ::msx::testing::Cancel;
using ::msx::testing::Halt;
using ::msx::testing::kA0;
using ::msx::testing::kA1;
using ::msx::testing::kA2;
using ::msx::testing::kA3;
using ::msx::testing::kA4;
using ::msx::testing::kA5;
using ::msx::testing::kAaa;
using ::msx::testing::kAaaBbb;
using ::msx::testing::kBbb;
using ::msx::testing::kCcc;
using ::msx::testing::kCccBbb;
using ::msx::testing::Replace;
using ::msx::testing::ReplaceOpenLots;
using ::msx::testing::Resume;
using ::msx::testing::SetHolding;
using ::msx::testing::Submit;
using ::msx::testing::TestUniverse;

constexpr Amount kFunding = 1'000'000;

Side Opposite(Side s) { return s == Side::kBuy ? Side::kSell : Side::kBuy; }

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : engine_(TestUniverse(), EngineOptions{.expected_offers = 4096}) {
    for (AgencyId a = 0; a < 6; ++a) {
      for (InstrumentId i = 0; i < 4; ++i) Do(SetHolding(a, i, kFunding));
    }
  }

  const std::vector<Event>& Do(Command c) {
    c.seq = ++seq_;
    c.time = time_;
    events_.clear();
    engine_.Apply(c, &events_);
    return events_;
  }

  // Submits and returns the new offer id (0 if not accepted).
  OfferId Place(AgencyId agency, PairId pair, Side side, Lots lots, Price price,
                TimeInForce tif = TimeInForce::kGtc) {
    Command c = Submit(agency, pair, side, lots, price, ++client_id_, tif);
    Do(c);
    for (const Event& e : events_) {
      if (e.type == EventType::kAccepted) return e.accepted.offer;
    }
    return 0;
  }

  std::vector<Event> OfType(EventType t) const {
    std::vector<Event> r;
    for (const Event& e : events_) {
      if (e.type == t) r.push_back(e);
    }
    return r;
  }

  RejectReason RejectOf(const std::vector<Event>& events) const {
    for (const Event& e : events) {
      if (e.type == EventType::kRejected) return e.rejected.reason;
    }
    return RejectReason::kNone;
  }

  static void ExpectFill(const Event& e, OfferId maker, OfferId taker, Lots lots, Price price) {
    ASSERT_EQ(e.type, EventType::kFill);
    EXPECT_EQ(e.fill.maker_offer, maker);
    EXPECT_EQ(e.fill.taker_offer, taker);
    EXPECT_EQ(e.fill.lots, lots);
    EXPECT_EQ(e.fill.price, price);
  }

  Amount Total(InstrumentId inst) const {
    Amount t = 0;
    for (AgencyId a = 0; a < 7; ++a) {
      HoldingInfo h = engine_.GetHoldings(a, inst);
      t += h.available + h.reserved;
    }
    return t;
  }

  Engine engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
  TimeNs time_ = 1000;
  ClientOfferId client_id_ = 0;
};

// ---- Side-symmetric rules: the parameter is the taker's side. ----
class MatchTest : public EngineTest, public ::testing::WithParamInterface<Side> {
 protected:
  Side taker() const { return GetParam(); }
  Side maker() const { return Opposite(GetParam()); }
  // A price `k` ticks worse for the taker than the reference 100 (farther from the touch
  // for resting makers).
  Price Away(int k) const { return taker() == Side::kBuy ? 100 + k : 100 - k; }
};

INSTANTIATE_TEST_SUITE_P(BothSides, MatchTest, ::testing::Values(Side::kBuy, Side::kSell),
                         [](const ::testing::TestParamInfo<Side>& p) {
                           return p.param == Side::kBuy ? "TakerBuys" : "TakerSells";
                         });

TEST_P(MatchTest, CrossingOfferFillsAtMakerPrice) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 5, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 5, Away(3));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], m, t, 5, Away(0));
  EXPECT_EQ(fills[0].fill.aggressor_side, taker());
  EXPECT_EQ(fills[0].fill.base_amount, 50);
  EXPECT_EQ(fills[0].fill.quote_amount, 5 * Away(0));
  EXPECT_EQ(engine_.GetOffer(m)->status, OfferStatus::kFilled);
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kFilled);
  EXPECT_EQ(engine_.OpenOfferCount(), 0u);
}

TEST_P(MatchTest, NonCrossingOfferRestsAndPublishesLevel) {
  Place(kA1, kAaaBbb, maker(), 5, Away(2));
  Place(kA2, kAaaBbb, taker(), 5, Away(1));
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.side, taker());
  EXPECT_EQ(levels[0].book_level.price, Away(1));
  EXPECT_EQ(levels[0].book_level.lots, 5);
  EXPECT_EQ(levels[0].book_level.offer_count, 1u);
  EXPECT_EQ(engine_.OpenOfferCount(), 2u);
}

TEST_P(MatchTest, PartialFillLeavesRemainderAtLevel) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 4, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], m, t, 4, Away(0));
  EXPECT_EQ(fills[0].fill.maker_open, 6);
  EXPECT_EQ(fills[0].fill.taker_open, 0);
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.lots, 6);
  DepthInfo d = engine_.GetDepth(kAaaBbb, 5);
  const auto& side = maker() == Side::kBuy ? d.bids : d.asks;
  ASSERT_EQ(side.size(), 1u);
  EXPECT_EQ(side[0].lots, 6);
}

TEST_P(MatchTest, CancelsAtHeadMiddleAndTailLeaveTheRestInTimeOrder) {
  // One FIFO loses its first, a middle and its last offer (each cancel unlinks at once);
  // an offer added afterwards goes behind the survivors, and another agency's offer keeps
  // its place between them.
  const OfferId m1 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId m2 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId other = Place(kA3, kAaaBbb, maker(), 1, Away(0));
  const OfferId m3 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId m4 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId m5 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  for (OfferId id : {m1, m3, m5}) {
    Do(Cancel(kA1, id));
    ASSERT_EQ(OfType(EventType::kCancelled).size(), 1u);
  }
  const OfferId m6 = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  EXPECT_EQ(engine_.ListOpenOffers(kA1).size(), 3u);
  const OfferId t = Place(kA2, kAaaBbb, taker(), 5, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 4u);
  ExpectFill(fills[0], m2, t, 1, Away(0));
  ExpectFill(fills[1], other, t, 1, Away(0));
  ExpectFill(fills[2], m4, t, 1, Away(0));
  ExpectFill(fills[3], m6, t, 1, Away(0));
  EXPECT_TRUE(engine_.ListOpenOffers(kA1).empty());
  // The level emptied; a new offer there starts a fresh FIFO.
  const OfferId m7 = Place(kA1, kAaaBbb, maker(), 2, Away(1));
  const OfferId t2 = Place(kA2, kAaaBbb, taker(), 1, Away(1));
  fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], m7, t2, 1, Away(1));
}

TEST_P(MatchTest, TakerRemainderRestsAfterSweepingLevels) {
  const OfferId m1 = Place(kA1, kAaaBbb, maker(), 2, Away(0));
  const OfferId m2 = Place(kA1, kAaaBbb, maker(), 3, Away(1));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 10, Away(1));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 2u);
  ExpectFill(fills[0], m1, t, 2, Away(0));
  ExpectFill(fills[1], m2, t, 3, Away(1));
  EXPECT_EQ(engine_.GetOffer(t)->open_lots, 5);
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kOpen);
  // Two maker levels emptied, one taker level created, in first-touch order.
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[0].book_level.price, Away(0));
  EXPECT_EQ(levels[0].book_level.lots, 0);
  EXPECT_EQ(levels[1].book_level.price, Away(1));
  EXPECT_EQ(levels[1].book_level.side, maker());
  EXPECT_EQ(levels[2].book_level.side, taker());
  EXPECT_EQ(levels[2].book_level.lots, 5);
}

TEST_P(MatchTest, BetterPriceFillsBeforeEarlierOffer) {
  const OfferId worse = Place(kA1, kAaaBbb, maker(), 1, Away(1));
  const OfferId better = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(1));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], better, t, 1, Away(0));
  EXPECT_EQ(engine_.GetOffer(worse)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, EarlierOfferAtSamePriceFillsFirst) {
  const OfferId first = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId second = Place(kA3, kAaaBbb, maker(), 1, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], first, t, 1, Away(0));
  EXPECT_EQ(engine_.GetOffer(second)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, IneligibleRestingOfferIsSkippedAndKeepsItsPlace) {
  // A4 is eligible with A3 only (agreement AB); A1 is not.
  const OfferId ineligible = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId eligible = Place(kA3, kAaaBbb, maker(), 1, Away(0));
  const OfferId t = Place(kA4, kAaaBbb, taker(), 1, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], eligible, t, 1, Away(0));
  // The skipped offer is still first in line for an eligible taker.
  const OfferId t2 = Place(kA2, kAaaBbb, taker(), 1, Away(0));
  fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], ineligible, t2, 1, Away(0));
}

TEST_P(MatchTest, IneligibleOnlyLiquidityLeavesTakerResting) {
  Place(kA1, kAaaBbb, maker(), 3, Away(0));
  const OfferId t = Place(kA4, kAaaBbb, taker(), 3, Away(0));
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, AgreementNotCoveringMineralMakesAgenciesIneligible) {
  // A5 and A0 share GAMMA (gamma+beta) but not alpha: no swap on AAA/BBB, swap on CCC/BBB.
  Place(kA5, kAaaBbb, maker(), 1, Away(0));
  Place(kA0, kAaaBbb, taker(), 1, Away(0));
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  const Price p = taker() == Side::kBuy ? 500 : 500;
  Place(kA5, kCccBbb, maker(), 1, p);
  Place(kA0, kCccBbb, taker(), 1, p);
  EXPECT_EQ(OfType(EventType::kFill).size(), 1u);
}

TEST_P(MatchTest, DenyListExcludesCounterparty) {
  Command c = Submit(kA1, kAaaBbb, maker(), 1, Away(0), 9001);
  c.submit.deny = AgencyMask{1} << kA2;
  Do(c);
  const OfferId m = OfType(EventType::kAccepted)[0].accepted.offer;
  Place(kA2, kAaaBbb, taker(), 1, Away(0));
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  const OfferId t = Place(kA3, kAaaBbb, taker(), 1, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], m, t, 1, Away(0));
}

TEST_P(MatchTest, AllowListOnIncomingRestrictsCounterparties) {
  Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId m3 = Place(kA3, kAaaBbb, maker(), 1, Away(0));
  Command c = Submit(kA2, kAaaBbb, taker(), 1, Away(0), 9002);
  c.submit.allow = AgencyMask{1} << kA3;
  Do(c);
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].fill.maker_offer, m3);
}

TEST_P(MatchTest, SelfMatchCancelsIncomingRemainder) {
  const OfferId other = Place(kA1, kAaaBbb, maker(), 1, Away(0));
  const OfferId own = Place(kA2, kAaaBbb, maker(), 1, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 5, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], other, t, 1, Away(0));
  auto cancels = OfType(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.offer, t);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kSelfMatch);
  EXPECT_EQ(cancels[0].cancelled.lots, 4);
  EXPECT_EQ(engine_.GetOffer(own)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, NonCrossingOwnOfferIsNoSelfMatch) {
  Place(kA2, kAaaBbb, maker(), 1, Away(2));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(1));
  EXPECT_TRUE(OfType(EventType::kCancelled).empty());
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, IocRemainderIsCancelled) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 2, Away(0));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 5, Away(0), TimeInForce::kIoc);
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 1u);
  ExpectFill(fills[0], m, t, 2, Away(0));
  auto cancels = OfType(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kIocRemainder);
  EXPECT_EQ(cancels[0].cancelled.lots, 3);
  EXPECT_EQ(engine_.OpenOfferCount(), 0u);
}

TEST_P(MatchTest, FokWithoutEnoughEligibleLiquidityCancelsWithoutFills) {
  Place(kA3, kAaaBbb, maker(), 2, Away(0));
  Place(kA1, kAaaBbb, maker(), 5, Away(0));  // ineligible for A4
  const OfferId t = Place(kA4, kAaaBbb, taker(), 3, Away(0), TimeInForce::kFok);
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  auto cancels = OfType(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.offer, t);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kFokUnfilled);
  EXPECT_TRUE(OfType(EventType::kBookLevel).empty());
}

TEST_P(MatchTest, FokWithEnoughLiquidityFillsCompletely) {
  Place(kA1, kAaaBbb, maker(), 2, Away(0));
  Place(kA3, kAaaBbb, maker(), 2, Away(1));
  const OfferId t = Place(kA2, kAaaBbb, taker(), 4, Away(1), TimeInForce::kFok);
  EXPECT_EQ(OfType(EventType::kFill).size(), 2u);
  EXPECT_TRUE(OfType(EventType::kCancelled).empty());
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kFilled);
}

TEST_P(MatchTest, FokStopsCountingAtOwnOffer) {
  Place(kA1, kAaaBbb, maker(), 1, Away(0));
  Place(kA2, kAaaBbb, maker(), 1, Away(0));
  Place(kA3, kAaaBbb, maker(), 1, Away(0));
  Place(kA2, kAaaBbb, taker(), 2, Away(0), TimeInForce::kFok);
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  ASSERT_EQ(OfType(EventType::kCancelled).size(), 1u);
  EXPECT_EQ(OfType(EventType::kCancelled)[0].cancelled.reason, CancelReason::kFokUnfilled);
}

TEST_P(MatchTest, MinFillUnmetCancelsWithoutFills) {
  Place(kA1, kAaaBbb, maker(), 2, Away(0));
  Command c = Submit(kA2, kAaaBbb, taker(), 10, Away(0), 9100);
  c.submit.min_fill = 3;
  Do(c);
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  auto cancels = OfType(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kMinFillUnmet);
  EXPECT_EQ(cancels[0].cancelled.lots, 10);
}

TEST_P(MatchTest, MinFillMetFillsAndRestsRemainder) {
  Place(kA1, kAaaBbb, maker(), 3, Away(0));
  Command c = Submit(kA2, kAaaBbb, taker(), 10, Away(0), 9101);
  c.submit.min_fill = 3;
  Do(c);
  const OfferId t = OfType(EventType::kAccepted)[0].accepted.offer;
  EXPECT_EQ(OfType(EventType::kFill).size(), 1u);
  EXPECT_EQ(engine_.GetOffer(t)->open_lots, 7);
  EXPECT_EQ(engine_.GetOffer(t)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, ReplaceReducingLotsKeepsPriority) {
  const OfferId first = Place(kA1, kAaaBbb, maker(), 5, Away(0));
  Place(kA3, kAaaBbb, maker(), 5, Away(0));
  Do(Replace(kA1, first, 2, Away(0)));
  auto rep = OfType(EventType::kReplaced);
  ASSERT_EQ(rep.size(), 1u);
  EXPECT_TRUE(rep[0].replaced.kept_priority);
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.lots, 7);
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(0));
  ExpectFill(OfType(EventType::kFill)[0], first, t, 1, Away(0));
}

TEST_P(MatchTest, ReplaceWithMoreLotsLosesPriority) {
  const OfferId first = Place(kA1, kAaaBbb, maker(), 5, Away(0));
  const OfferId second = Place(kA3, kAaaBbb, maker(), 5, Away(0));
  Do(Replace(kA1, first, 6, Away(0)));
  EXPECT_FALSE(OfType(EventType::kReplaced)[0].replaced.kept_priority);
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(0));
  ExpectFill(OfType(EventType::kFill)[0], second, t, 1, Away(0));
}

TEST_P(MatchTest, ReplaceWithNewPriceLosesPriorityAndMayCross) {
  const OfferId resting_taker_side = Place(kA2, kAaaBbb, taker(), 4, Away(2));
  const OfferId m = Place(kA1, kAaaBbb, maker(), 5, Away(4));
  EXPECT_TRUE(OfType(EventType::kFill).empty());
  // Move the maker-side offer through the other side: it becomes the aggressor.
  Do(Replace(kA1, m, 5, Away(1)));
  ASSERT_GE(events_.size(), 2u);
  EXPECT_EQ(events_[0].type, EventType::kReplaced);
  EXPECT_FALSE(events_[0].replaced.kept_priority);
  EXPECT_EQ(events_[1].type, EventType::kFill);
  ExpectFill(events_[1], resting_taker_side, m, 4, Away(2));
  EXPECT_EQ(events_[1].fill.aggressor_side, maker());
  EXPECT_EQ(engine_.GetOffer(m)->open_lots, 1);
  EXPECT_EQ(engine_.GetOffer(m)->price, Away(1));
}

// Issue 12, defect 7: `lots` of a replace is the new TOTAL. An agency that replaces
// 10 -> 8 after a fill of 6 it has not seen ends with 8 lots in all (2 open), not 6 + 8.
TEST_P(MatchTest, ReplaceAfterUnseenFillSetsTotalNotOpenLots) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
  const OfferId other = Place(kA3, kAaaBbb, maker(), 5, Away(0));
  Place(kA2, kAaaBbb, taker(), 6, Away(0));
  ASSERT_EQ(engine_.GetOffer(m)->filled_lots, 6);
  Do(Replace(kA1, m, 8, Away(0)));
  auto rep = OfType(EventType::kReplaced);
  ASSERT_EQ(rep.size(), 1u);
  EXPECT_EQ(rep[0].replaced.lots, 2);  // open after the replace
  EXPECT_TRUE(rep[0].replaced.kept_priority);  // 2 open <= 4 open, same price
  EXPECT_EQ(engine_.GetOffer(m)->open_lots, 2);
  EXPECT_EQ(engine_.GetOffer(m)->filled_lots + engine_.GetOffer(m)->open_lots, 8);
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.lots, 2 + 5);
  // Only 2 more lots of `m` can ever trade, ahead of `other` (priority kept).
  const OfferId t = Place(kA2, kAaaBbb, taker(), 4, Away(0));
  auto fills = OfType(EventType::kFill);
  ASSERT_EQ(fills.size(), 2u);
  ExpectFill(fills[0], m, t, 2, Away(0));
  ExpectFill(fills[1], other, t, 2, Away(0));
  EXPECT_EQ(engine_.GetOffer(m)->filled_lots, 8);
  EXPECT_EQ(engine_.GetOffer(m)->status, OfferStatus::kFilled);
}

// The meaning journals written before kReplaceOffer keep (kReplaceOfferOpenLots): the same
// sequence leaves 8 more lots open, 14 in all. Kept only so that those journals replay.
TEST_P(MatchTest, LegacyOpenLotsReplaceAfterFillStillSetsOpenLots) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
  Place(kA2, kAaaBbb, taker(), 6, Away(0));
  Do(ReplaceOpenLots(kA1, m, 8, Away(0)));
  ASSERT_EQ(OfType(EventType::kReplaced).size(), 1u);
  EXPECT_EQ(OfType(EventType::kReplaced)[0].replaced.lots, 8);
  EXPECT_FALSE(OfType(EventType::kReplaced)[0].replaced.kept_priority);  // 8 > 4 open
  EXPECT_EQ(engine_.GetOffer(m)->open_lots, 8);
  EXPECT_EQ(engine_.GetOffer(m)->filled_lots + engine_.GetOffer(m)->open_lots, 14);
}

TEST_P(MatchTest, ReplaceToTotalAtOrBelowFilledCancelsTheRest) {
  for (Lots total : {6, 5, 1}) {
    SCOPED_TRACE(total);
    const Amount aaa = Total(kAaa), bbb = Total(kBbb);
    const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
    Place(kA2, kAaaBbb, taker(), 6, Away(0));
    Do(Replace(kA1, m, total, Away(0)));
    EXPECT_TRUE(OfType(EventType::kReplaced).empty());
    EXPECT_TRUE(OfType(EventType::kFill).empty());
    auto cancelled = OfType(EventType::kCancelled);
    ASSERT_EQ(cancelled.size(), 1u);
    EXPECT_EQ(cancelled[0].cancelled.offer, m);
    EXPECT_EQ(cancelled[0].cancelled.agency, kA1);
    EXPECT_EQ(cancelled[0].cancelled.reason, CancelReason::kReplaceBelowFilled);
    EXPECT_EQ(cancelled[0].cancelled.lots, 4);
    auto levels = OfType(EventType::kBookLevel);
    ASSERT_EQ(levels.size(), 1u);
    EXPECT_EQ(levels[0].book_level.lots, 0);
    const std::optional<OfferInfo> info = engine_.GetOffer(m);
    EXPECT_EQ(info->status, OfferStatus::kCancelled);
    EXPECT_EQ(info->open_lots, 0);
    EXPECT_EQ(info->filled_lots, 6);
    EXPECT_EQ(engine_.OpenOfferCount(), 0u);
    // Everything reserved for the rest is available again.
    for (InstrumentId i : {kAaa, kBbb}) {
      EXPECT_EQ(engine_.GetHoldings(kA1, i).reserved, 0);
      EXPECT_EQ(engine_.GetHoldings(kA2, i).reserved, 0);
    }
    EXPECT_EQ(Total(kAaa), aaa);
    EXPECT_EQ(Total(kBbb), bbb);
  }
}

TEST_P(MatchTest, ReplaceToLargerTotalLosesPriorityAndSameTotalKeepsIt) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
  Place(kA2, kAaaBbb, taker(), 6, Away(0));  // m: 6 filled, 4 open
  const OfferId other = Place(kA3, kAaaBbb, maker(), 5, Away(0));
  Do(Replace(kA1, m, 10, Away(0)));  // the same total: 4 open, unchanged
  ASSERT_EQ(OfType(EventType::kReplaced).size(), 1u);
  EXPECT_TRUE(OfType(EventType::kReplaced)[0].replaced.kept_priority);
  EXPECT_EQ(OfType(EventType::kReplaced)[0].replaced.lots, 4);
  EXPECT_TRUE(OfType(EventType::kBookLevel).empty());  // nothing changed at the level
  Do(Replace(kA1, m, 11, Away(0)));  // 5 open > 4: behind `other`
  ASSERT_EQ(OfType(EventType::kReplaced).size(), 1u);
  EXPECT_FALSE(OfType(EventType::kReplaced)[0].replaced.kept_priority);
  EXPECT_EQ(engine_.GetOffer(m)->open_lots, 5);
  const OfferId t = Place(kA2, kAaaBbb, taker(), 1, Away(0));
  ExpectFill(OfType(EventType::kFill)[0], other, t, 1, Away(0));
}

TEST_P(MatchTest, ReplaceBelowFilledIsValidatedAndRejectedLikeAnyReplace) {
  const OfferId m = Place(kA1, kAaaBbb, maker(), 10, Away(0));
  Place(kA2, kAaaBbb, taker(), 6, Away(0));
  EXPECT_EQ(RejectOf(Do(Replace(kA1, m, 3, 200))), RejectReason::kPriceOutsideBand);
  EXPECT_EQ(RejectOf(Do(Replace(kA1, m, 0, Away(0)))), RejectReason::kInvalidLots);
  Do(Halt(kAaaBbb));
  EXPECT_EQ(RejectOf(Do(Replace(kA1, m, 3, Away(0)))), RejectReason::kPairHalted);
  EXPECT_EQ(engine_.GetOffer(m)->open_lots, 4);
  EXPECT_EQ(engine_.GetOffer(m)->status, OfferStatus::kOpen);
}

TEST_P(MatchTest, FillMovesBothLegsAndConservesTotals) {
  const Amount aaa = Total(kAaa), bbb = Total(kBbb);
  const OfferId m = Place(kA1, kAaaBbb, maker(), 3, Away(0));
  // The taker's limit is 2 ticks worse than the fill price: the buyer gets the difference
  // back in available.
  Place(kA2, kAaaBbb, taker(), 3, Away(2));
  ASSERT_EQ(OfType(EventType::kFill).size(), 1u);
  (void)m;
  const AgencyId seller = taker() == Side::kSell ? kA2 : kA1;
  const AgencyId buyer = taker() == Side::kBuy ? kA2 : kA1;
  EXPECT_EQ(engine_.GetHoldings(seller, kAaa).available, kFunding - 30);
  EXPECT_EQ(engine_.GetHoldings(seller, kAaa).reserved, 0);
  EXPECT_EQ(engine_.GetHoldings(seller, kBbb).available, kFunding + 300);
  EXPECT_EQ(engine_.GetHoldings(buyer, kAaa).available, kFunding + 30);
  EXPECT_EQ(engine_.GetHoldings(buyer, kBbb).available, kFunding - 300);
  EXPECT_EQ(engine_.GetHoldings(buyer, kBbb).reserved, 0);
  EXPECT_EQ(Total(kAaa), aaa);
  EXPECT_EQ(Total(kBbb), bbb);
}

// ---- Reservations and holdings ----

TEST_F(EngineTest, SellReservesBaseLotsAndBuyReservesQuoteAmount) {
  Place(kA1, kAaaBbb, Side::kSell, 4, 110);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).reserved, 40);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).available, kFunding - 40);
  Place(kA1, kAaaBbb, Side::kBuy, 3, 90);
  EXPECT_EQ(engine_.GetHoldings(kA1, kBbb).reserved, 270);
}

TEST_F(EngineTest, CancelReleasesReservation) {
  const OfferId id = Place(kA1, kAaaBbb, Side::kBuy, 3, 90);
  Do(Cancel(kA1, id));
  auto c = OfType(EventType::kCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].cancelled.reason, CancelReason::kRequested);
  EXPECT_EQ(c[0].cancelled.lots, 3);
  EXPECT_EQ(engine_.GetHoldings(kA1, kBbb).reserved, 0);
  EXPECT_EQ(engine_.GetHoldings(kA1, kBbb).available, kFunding);
  EXPECT_EQ(engine_.GetOffer(id)->status, OfferStatus::kCancelled);
  auto levels = OfType(EventType::kBookLevel);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.lots, 0);
}

TEST_F(EngineTest, SellBeyondAvailableHoldingsIsRejected) {
  Do(SetHolding(kA1, kAaa, 25));
  EXPECT_EQ(RejectOf(Do(Submit(kA1, kAaaBbb, Side::kSell, 3, 100, 1))),
            RejectReason::kInsufficientHoldings);
  EXPECT_NE(Place(kA1, kAaaBbb, Side::kSell, 2, 100), 0u);
  EXPECT_EQ(RejectOf(Do(Submit(kA1, kAaaBbb, Side::kSell, 1, 100, 2))),
            RejectReason::kInsufficientHoldings);
}

TEST_F(EngineTest, BuyBeyondAvailableHoldingsIsRejected) {
  Do(SetHolding(kA1, kBbb, 299));
  EXPECT_EQ(RejectOf(Do(Submit(kA1, kAaaBbb, Side::kBuy, 3, 100, 1))),
            RejectReason::kInsufficientHoldings);
}

TEST_F(EngineTest, SetHoldingsSetsTotalKeepingReservation) {
  Place(kA1, kAaaBbb, Side::kSell, 4, 110);
  Do(SetHolding(kA1, kAaa, 100));
  auto e = OfType(EventType::kHoldingsSet);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].holdings_set.available, 60);
  EXPECT_EQ(e[0].holdings_set.reserved, 40);
}

TEST_F(EngineTest, SetHoldingsBelowReservedIsRejected) {
  Place(kA1, kAaaBbb, Side::kSell, 4, 110);
  EXPECT_EQ(RejectOf(Do(SetHolding(kA1, kAaa, 39))), RejectReason::kHoldingsBelowReserved);
  EXPECT_EQ(RejectOf(Do(SetHolding(kA2, kAaa, -1))), RejectReason::kHoldingsBelowReserved);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).available, kFunding - 40);
}

TEST_F(EngineTest, SetHoldingsOfUnknownInstrumentOrAgencyIsRejected) {
  EXPECT_EQ(RejectOf(Do(SetHolding(kA1, 99, 1))), RejectReason::kUnknownInstrument);
  EXPECT_EQ(RejectOf(Do(SetHolding(99, kAaa, 1))), RejectReason::kUnknownAgency);
}

TEST_F(EngineTest, SetHoldingsOverflowingExchangeTotalIsRejected) {
  EXPECT_EQ(RejectOf(Do(SetHolding(kA1, kAaa, INT64_MAX))), RejectReason::kOverflow);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).available, kFunding);
}

// ---- Rejects ----

TEST_F(EngineTest, SubmitRejectReasonsAreSpecific) {
  struct Case {
    Command cmd;
    RejectReason want;
  };
  auto with = [](Command c, auto f) {
    f(c);
    return c;
  };
  const Command ok = Submit(kA1, kAaaBbb, Side::kBuy, 1, 100, 500);
  std::vector<Case> cases = {
      {with(ok, [](Command& c) { c.submit.agency = 42; }), RejectReason::kUnknownAgency},
      {with(ok, [](Command& c) { c.submit.pair = 42; }), RejectReason::kUnknownPair},
      {with(ok, [](Command& c) { c.submit.side = static_cast<Side>(9); }),
       RejectReason::kInvalidSide},
      {with(ok, [](Command& c) { c.submit.tif = static_cast<TimeInForce>(0); }),
       RejectReason::kInvalidTimeInForce},
      {with(ok, [](Command& c) { c.submit.lots = 0; }), RejectReason::kInvalidLots},
      {with(ok, [](Command& c) { c.submit.lots = -3; }), RejectReason::kInvalidLots},
      {with(ok, [](Command& c) { c.submit.lots = 1001; }), RejectReason::kLotsAboveMax},
      {with(ok, [](Command& c) { c.submit.price = 0; }), RejectReason::kInvalidPrice},
      {with(ok, [](Command& c) { c.submit.price = 116; }), RejectReason::kPriceOutsideBand},
      {with(ok, [](Command& c) { c.submit.price = 84; }), RejectReason::kPriceOutsideBand},
      {with(ok, [](Command& c) { c.submit.min_fill = 2; }), RejectReason::kInvalidMinFill},
      {with(ok, [](Command& c) { c.submit.min_fill = -1; }), RejectReason::kInvalidMinFill},
      {with(ok,
            [](Command& c) {
              c.submit.tif = TimeInForce::kGtd;
              c.submit.expiry = 1000;  // == now
            }),
       RejectReason::kExpiryInPast},
      {with(ok, [](Command& c) { c.submit.allow = AgencyMask{1} << 40; }),
       RejectReason::kUnknownCounterparty},
      {with(ok, [](Command& c) { c.submit.deny = AgencyMask{1} << 7; }),
       RejectReason::kUnknownCounterparty},
      {with(ok,
            [](Command& c) {
              c.submit.pair = ::msx::testing::kCccBbb;
              c.submit.price = 502;
            }),
       RejectReason::kPriceOffTick},
      {with(ok,
            [](Command& c) {
              c.submit.pair = ::msx::testing::kCccBbb;
              c.submit.price = 445;
            }),
       RejectReason::kBelowFloor},
  };
  for (const Case& c : cases) {
    const std::size_t open = engine_.OpenOfferCount();
    const auto& ev = Do(c.cmd);
    ASSERT_EQ(ev.size(), 1u) << static_cast<int>(c.want);
    EXPECT_EQ(ev[0].type, EventType::kRejected);
    EXPECT_EQ(ev[0].rejected.reason, c.want);
    EXPECT_EQ(ev[0].rejected.command, CommandType::kSubmitOffer);
    EXPECT_EQ(engine_.OpenOfferCount(), open);
  }
  EXPECT_NE(Place(kA1, kAaaBbb, Side::kBuy, 1, 100), 0u);
}

TEST_F(EngineTest, DuplicateClientIdIsRejectedWithOriginalOfferAndChangesNothing) {
  Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 77));
  const OfferId original = OfType(EventType::kAccepted)[0].accepted.offer;
  const std::uint64_t digest = engine_.StateDigest();
  const auto& ev = Do(Submit(kA1, kAaaBbb, Side::kSell, 9, 110, 77));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kDuplicateClientId);
  EXPECT_EQ(ev[0].rejected.offer, original);
  EXPECT_EQ(ev[0].rejected.client_id, 77u);
  // Same client id from another agency is fine.
  EXPECT_EQ(RejectOf(Do(Submit(kA2, kAaaBbb, Side::kSell, 1, 110, 77))), RejectReason::kNone);
  (void)digest;
}

TEST_F(EngineTest, DuplicateOfFinishedOfferIsStillDuplicate) {
  Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 78));
  const OfferId original = OfType(EventType::kAccepted)[0].accepted.offer;
  Do(Cancel(kA1, original));
  const auto& ev = Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 78));
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kDuplicateClientId);
  EXPECT_EQ(ev[0].rejected.offer, original);
}

TEST_F(EngineTest, DuplicateClientIdRejectedEvenOnHaltedPair) {
  Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 79));
  Do(Halt(kAaaBbb));
  EXPECT_EQ(RejectOf(Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 79))),
            RejectReason::kDuplicateClientId);
}

TEST_F(EngineTest, FindByClientIdFindsOpenAndFinishedOffers) {
  Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 105, 11));
  Do(Submit(kA1, kAaaBbb, Side::kSell, 2, 106, 12));
  const OfferId second = OfType(EventType::kAccepted)[0].accepted.offer;
  Do(Cancel(kA1, second));
  auto open = engine_.FindByClientId(kA1, 11);
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->status, OfferStatus::kOpen);
  EXPECT_EQ(open->price, 105);
  auto done = engine_.FindByClientId(kA1, 12);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->id, second);
  EXPECT_EQ(done->status, OfferStatus::kCancelled);
  EXPECT_FALSE(engine_.FindByClientId(kA2, 11).has_value());
}

TEST_F(EngineTest, ClientIdZeroIsNotDeduplicated) {
  EXPECT_NE(Place(kA1, kAaaBbb, Side::kSell, 1, 110), 0u);
  Do(Submit(kA1, kAaaBbb, Side::kSell, 1, 110, 0));
  Do(Submit(kA1, kAaaBbb, Side::kSell, 1, 110, 0));
  EXPECT_EQ(OfType(EventType::kAccepted).size(), 1u);
}

TEST(EngineOverflowTest, OfferWhoseQuoteAmountOverflowsIsRejected) {
  ReferenceDataBuilder b;
  b.AddInstrument({"BIG", "big", "test", "kg", 1, 1'000'000'000'000'000'000, 0});
  b.AddInstrument({"ONE", "one", "test", "kg", 1, 1, 0});
  b.AddPair({"BIG", "ONE", 100'000'000'000'000, 1, 100});
  b.AddAgency({"A0", "a0", "XX", Role::kAgency});
  b.AddAgency({"A1", "a1", "XX", Role::kAgency});
  absl::StatusOr<ReferenceData> ref = b.Build();
  ASSERT_TRUE(ref.ok()) << ref.status();
  const Price p = ref->pairs()[0].reference_price;
  ASSERT_EQ(p, 1'000'000'000'000'000'000);
  Engine engine(*ref, EngineOptions{.expected_offers = 16});
  std::vector<Event> ev;
  Command c = Submit(0, 0, Side::kBuy, 10, p, 1);
  c.seq = 1;
  engine.Apply(c, &ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kOverflow);
  c = Submit(0, 0, Side::kSell, 10, p, 2);
  c.seq = 2;
  engine.Apply(c, &ev);
  EXPECT_EQ(ev[1].rejected.reason, RejectReason::kOverflow);
  // One lot fits: rejected only for holdings.
  c = Submit(0, 0, Side::kBuy, 1, p, 3);
  c.seq = 3;
  engine.Apply(c, &ev);
  EXPECT_EQ(ev[2].rejected.reason, RejectReason::kInsufficientHoldings);
}

TEST_F(EngineTest, CancelOfUnknownOrForeignOrFinishedOfferIsRejected) {
  const OfferId id = Place(kA1, kAaaBbb, Side::kSell, 1, 110);
  EXPECT_EQ(RejectOf(Do(Cancel(kA2, id))), RejectReason::kUnknownOffer);
  EXPECT_EQ(RejectOf(Do(Cancel(kA1, 999))), RejectReason::kUnknownOffer);
  EXPECT_EQ(RejectOf(Do(Cancel(kA1, 0))), RejectReason::kUnknownOffer);
  EXPECT_EQ(RejectOf(Do(Cancel(42, id))), RejectReason::kUnknownAgency);
  Do(Cancel(kA1, id));
  const auto& ev = Do(Cancel(kA1, id));
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kUnknownOffer);
  EXPECT_EQ(ev[0].rejected.offer, id);
  EXPECT_EQ(ev[0].rejected.command, CommandType::kCancelOffer);
}

TEST_F(EngineTest, ReplaceRejectsChangeBeyondHoldingsAndLeavesOfferAlone) {
  Do(SetHolding(kA1, kAaa, 50));
  const OfferId id = Place(kA1, kAaaBbb, Side::kSell, 5, 110);
  EXPECT_EQ(RejectOf(Do(Replace(kA1, id, 6, 110))), RejectReason::kInsufficientHoldings);
  EXPECT_EQ(RejectOf(Do(Replace(kA1, id, 0, 110))), RejectReason::kInvalidLots);
  EXPECT_EQ(RejectOf(Do(Replace(kA1, id, 5, 200))), RejectReason::kPriceOutsideBand);
  EXPECT_EQ(RejectOf(Do(Replace(kA2, id, 5, 110))), RejectReason::kUnknownOffer);
  EXPECT_EQ(engine_.GetOffer(id)->open_lots, 5);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).reserved, 50);
}

TEST_F(EngineTest, ReplaceAdjustsBuyReservationToNewPrice) {
  const OfferId id = Place(kA1, kAaaBbb, Side::kBuy, 5, 90);
  Do(Replace(kA1, id, 4, 95));
  EXPECT_EQ(engine_.GetHoldings(kA1, kBbb).reserved, 380);
  EXPECT_EQ(engine_.GetHoldings(kA1, kBbb).available, kFunding - 380);
}

// ---- Halt, expiry ----

TEST_F(EngineTest, HaltedPairRejectsSubmitAndReplaceButAllowsCancel) {
  const OfferId id = Place(kA1, kAaaBbb, Side::kSell, 1, 110);
  const auto& h = Do(Halt(kAaaBbb));
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].type, EventType::kPairHalted);
  EXPECT_TRUE(engine_.IsHalted(kAaaBbb));
  EXPECT_EQ(RejectOf(Do(Submit(kA2, kAaaBbb, Side::kBuy, 1, 110, 1))), RejectReason::kPairHalted);
  EXPECT_EQ(RejectOf(Do(Replace(kA1, id, 1, 111))), RejectReason::kPairHalted);
  EXPECT_EQ(RejectOf(Do(Cancel(kA1, id))), RejectReason::kNone);
  Do(Resume(kAaaBbb));
  EXPECT_FALSE(engine_.IsHalted(kAaaBbb));
  EXPECT_NE(Place(kA2, kAaaBbb, Side::kBuy, 1, 110), 0u);
  EXPECT_EQ(RejectOf(Do(Halt(99))), RejectReason::kUnknownPair);
}

TEST_F(EngineTest, GtdOfferExpiresWhenTimeReachesExpiryInOrder) {
  Command a = Submit(kA1, kAaaBbb, Side::kSell, 1, 110, 1, TimeInForce::kGtd);
  a.submit.expiry = 3000;
  Command b = Submit(kA2, kAaaBbb, Side::kSell, 2, 111, 2, TimeInForce::kGtd);
  b.submit.expiry = 2000;
  Do(a);
  const OfferId ida = OfType(EventType::kAccepted)[0].accepted.offer;
  Do(b);
  const OfferId idb = OfType(EventType::kAccepted)[0].accepted.offer;
  time_ = 1999;
  EXPECT_TRUE(Do(AdvanceTime()).empty());
  time_ = 5000;
  Do(AdvanceTime());
  auto expired = OfType(EventType::kExpired);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].expired.offer, idb);
  EXPECT_EQ(expired[0].expired.lots, 2);
  EXPECT_EQ(expired[1].expired.offer, ida);
  EXPECT_EQ(OfType(EventType::kBookLevel).size(), 2u);
  EXPECT_EQ(engine_.GetOffer(ida)->status, OfferStatus::kExpired);
  EXPECT_EQ(engine_.GetHoldings(kA1, kAaa).reserved, 0);
}

TEST_F(EngineTest, NextExpiryIsTheEarliestOpenGtdExpiry) {
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
  Place(kA1, kAaaBbb, Side::kSell, 1, 120);  // GTC: never expires
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
  Command a = Submit(kA1, kAaaBbb, Side::kSell, 1, 110, 1, TimeInForce::kGtd);
  a.submit.expiry = 3000;
  Command b = Submit(kA2, kAaaBbb, Side::kSell, 2, 111, 2, TimeInForce::kGtd);
  b.submit.expiry = 2000;
  Do(a);
  Do(b);
  EXPECT_EQ(engine_.NextExpiry(), std::optional<TimeNs>(2000));
  time_ = 2500;
  Do(AdvanceTime());
  EXPECT_EQ(engine_.NextExpiry(), std::optional<TimeNs>(3000));
  time_ = 3000;
  Do(AdvanceTime());
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
}

TEST_F(EngineTest, ExpiredOfferNeverTradesEvenWithoutAdvanceTime) {
  Command a = Submit(kA1, kAaaBbb, Side::kSell, 1, 100, 1, TimeInForce::kGtd);
  a.submit.expiry = 1500;
  Do(a);
  time_ = 1500;
  const auto& ev = Do(Submit(kA2, kAaaBbb, Side::kBuy, 1, 100, 2));
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev[0].type, EventType::kExpired);
  EXPECT_TRUE(OfType(EventType::kFill).empty());
}

TEST_F(EngineTest, EveryEventCarriesCommandSeqAndTime) {
  Place(kA1, kAaaBbb, Side::kSell, 1, 100);
  time_ = 4242;
  Place(kA2, kAaaBbb, Side::kBuy, 2, 100);
  ASSERT_GE(events_.size(), 3u);
  for (const Event& e : events_) {
    EXPECT_EQ(e.seq, seq_);
    EXPECT_EQ(e.time, 4242);
  }
  EXPECT_EQ(engine_.last_seq(), seq_);
  EXPECT_EQ(engine_.last_time(), 4242);
}

TEST_F(EngineTest, ListOpenOffersReturnsAgencyOffersInIdOrder) {
  const OfferId a = Place(kA1, kAaaBbb, Side::kSell, 1, 110);
  Place(kA2, kAaaBbb, Side::kSell, 1, 109);
  const OfferId c = Place(kA1, kAaaBbb, Side::kBuy, 1, 90);
  const OfferId d = Place(kA1, kCccBbb, Side::kBuy, 1, 500);
  auto all = engine_.ListOpenOffers(kA1);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, a);
  EXPECT_EQ(all[1].id, c);
  EXPECT_EQ(all[2].id, d);
  EXPECT_EQ(engine_.ListOpenOffers(kA1, kCccBbb).size(), 1u);
}

TEST_F(EngineTest, SnapshotRoundTripGivesIdenticalFutureEvents) {
  Place(kA1, kAaaBbb, Side::kSell, 3, 101);
  Place(kA3, kAaaBbb, Side::kSell, 3, 101);
  Command g = Submit(kA1, kAaaBbb, Side::kBuy, 2, 90, 555, TimeInForce::kGtd);
  g.submit.expiry = 9000;
  Do(g);
  Do(Halt(::msx::testing::kAaaCcc));
  const std::string snap = engine_.SaveState();
  Engine restored(TestUniverse(), EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(restored.LoadState(snap).ok());
  EXPECT_EQ(restored.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(restored.SaveState(), snap);
  std::vector<Command> next = {Submit(kA2, kAaaBbb, Side::kBuy, 4, 101, 900),
                               Submit(kA1, kAaaBbb, Side::kSell, 1, 90, 555),
                               Submit(kA2, kAaaBbb, Side::kSell, 1, 90, 901)};
  next.push_back(AdvanceTime());
  for (std::size_t i = 0; i < next.size(); ++i) {
    Command c = next[i];
    c.seq = seq_ + 1 + i;
    c.time = 10000;
    std::vector<Event> a, b;
    engine_.Apply(c, &a);
    restored.Apply(c, &b);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
  }
}

TEST_F(EngineTest, PrefetchOfAnyCommandChangesNothing) {
  const OfferId id = Place(kA1, kAaaBbb, Side::kSell, 3, 101);
  Place(kA1, kAaaBbb, Side::kSell, 2, 102);  // a FIFO with a tail behind the first offer
  const std::uint64_t digest = engine_.StateDigest();
  // Every hop, including out-of-range ones (engine.h).
  for (int hop : {-3, 0, 1, 2, 3, 1000}) {
    engine_.Prefetch(Cancel(kA1, id), hop);
    engine_.Prefetch(Cancel(kA1, 999999), hop);
    engine_.Prefetch(Cancel(kA1, 0), hop);
    engine_.Prefetch(Replace(kA1, id, 1, 100), hop);
    engine_.Prefetch(Submit(kA2, kAaaBbb, Side::kBuy, 1, 100, 1), hop);   // rests
    engine_.Prefetch(Submit(kA1, kAaaBbb, Side::kSell, 1, 101, 1), hop);  // behind `id`
    engine_.Prefetch(Submit(kA2, kAaaBbb, Side::kBuy, 1, 101, 1), hop);   // crosses
    engine_.Prefetch(Submit(kA2, kAaaBbb, Side::kBuy, 1, -5, 1), hop);
    engine_.Prefetch(Submit(99, kAaaBbb, Side::kBuy, 1, 100, 1), hop);
    engine_.Prefetch(Submit(kA2, 77, Side::kBuy, 1, 100, 1), hop);
    engine_.Prefetch(::msx::testing::AdvanceTime(), hop);
  }
  engine_.Prefetch(Cancel(kA1, id));
  EXPECT_EQ(engine_.StateDigest(), digest);
}

// ---- Retention (issue 12): finished offers leave after the window, open ones never. ----
Command SetRetention(TimeNs retention) {
  Command c{};
  c.type = CommandType::kSetOfferRetention;
  c.set_retention.retention = retention;
  return c;
}

TEST_F(EngineTest, FinishedOfferIsPurgedOnceTheRetentionWindowHasPassed) {
  Do(SetRetention(100));
  EXPECT_EQ(engine_.offer_retention(), 100);
  Command sub = Submit(kA1, kAaaBbb, Side::kSell, 3, 101, 4242);
  Do(sub);
  const OfferId id = OfType(EventType::kAccepted)[0].accepted.offer;
  Do(Cancel(kA1, id));  // finishes at time_ = 1000
  time_ = 1099;
  Do(AdvanceTime());
  ASSERT_TRUE(engine_.GetOffer(id).has_value());  // 99 < 100: still kept
  EXPECT_EQ(RejectOf(Do(sub)), RejectReason::kDuplicateClientId);  // a retry is recognised
  EXPECT_EQ(OfType(EventType::kRejected)[0].rejected.offer, id);
  time_ = 1100;
  Do(AdvanceTime());
  EXPECT_FALSE(engine_.GetOffer(id).has_value());
  EXPECT_TRUE(engine_.IsPurged(id));
  EXPECT_FALSE(engine_.IsPurged(id + 1));  // never issued
  EXPECT_FALSE(engine_.FindByClientId(kA1, 4242).has_value());
  EXPECT_EQ(engine_.PurgedOfferCount(), 1u);
  EXPECT_EQ(RejectOf(Do(Cancel(kA1, id))), RejectReason::kUnknownOffer);
  // Past the window the client id is free: the same submit is a new offer.
  Do(sub);
  ASSERT_EQ(OfType(EventType::kAccepted).size(), 1u);
  EXPECT_GT(OfType(EventType::kAccepted)[0].accepted.offer, id);
}

// A server skips timer ticks before NextExpiry(): it must include the end of the oldest
// finished offer's window, or an idle exchange would never forget anything.
TEST_F(EngineTest, NextExpiryIncludesTheOldestFinishedOffersWindowEnd) {
  Do(SetRetention(100));
  const OfferId id = Place(kA1, kAaaBbb, Side::kSell, 3, 101);
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);  // open GTC: nothing time-driven
  Do(Cancel(kA1, id));                            // finishes at time_ = 1000
  EXPECT_EQ(engine_.NextExpiry(), std::optional<TimeNs>(1100));
  time_ = 1100;
  Do(AdvanceTime());
  EXPECT_TRUE(engine_.IsPurged(id));
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
}

TEST_F(EngineTest, OpenOffersAreNeverPurgedAndNoWindowKeepsEverything) {
  const OfferId open = Place(kA1, kAaaBbb, Side::kSell, 3, 101);
  const OfferId done = Place(kA2, kAaaBbb, Side::kSell, 3, 102);
  Do(Cancel(kA2, done));
  time_ += 1'000'000'000;
  for (int i = 0; i < 10; ++i) Do(AdvanceTime());  // retention 0 (the default): forever
  EXPECT_TRUE(engine_.GetOffer(done).has_value());
  Do(SetRetention(10));
  time_ += 1'000'000'000;
  Do(AdvanceTime());
  EXPECT_FALSE(engine_.GetOffer(done).has_value());  // finished before the window was set
  ASSERT_TRUE(engine_.GetOffer(open).has_value());
  EXPECT_EQ(engine_.GetOffer(open)->status, OfferStatus::kOpen);
  // It fills long after: it is purged only the window after that.
  const OfferId taker = Place(kA3, kAaaBbb, Side::kBuy, 3, 101);
  ASSERT_EQ(OfType(EventType::kFill).size(), 1u);
  EXPECT_TRUE(engine_.GetOffer(open).has_value());
  time_ += 10;
  Do(AdvanceTime());
  EXPECT_FALSE(engine_.GetOffer(open).has_value());
  EXPECT_FALSE(engine_.GetOffer(taker).has_value());
}

TEST_F(EngineTest, PurgeWorkIsBoundedPerCommand) {
  Do(SetRetention(5));
  std::vector<OfferId> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Place(kA1, kAaaBbb, Side::kSell, 1, 101, TimeInForce::kIoc));
  time_ += 5;
  Do(Cancel(kA1, 999'999));  // any command: 2 purges
  EXPECT_EQ(engine_.PurgedOfferCount(), 2u);
  Do(AdvanceTime());  // 64 more
  EXPECT_EQ(engine_.PurgedOfferCount(), 66u);
  Do(AdvanceTime());
  EXPECT_EQ(engine_.PurgedOfferCount(), 100u);
  for (OfferId id : ids) EXPECT_TRUE(engine_.IsPurged(id));  // oldest finish first
  EXPECT_EQ(engine_.RetainedOfferCount(), 0u);
}

TEST_F(EngineTest, SnapshotHoldsOnlyRetainedOffersAndRoundTrips) {
  Do(SetRetention(50));
  for (int i = 0; i < 200; ++i) Place(kA1, kAaaBbb, Side::kSell, 1, 101, TimeInForce::kIoc);
  const OfferId open = Place(kA2, kAaaBbb, Side::kBuy, 2, 99);
  const std::size_t before = engine_.SaveState().size();
  time_ += 50;
  for (int i = 0; i < 4; ++i) Do(AdvanceTime());
  ASSERT_EQ(engine_.PurgedOfferCount(), 200u);
  const std::string snap = engine_.SaveState();
  EXPECT_LT(snap.size() * 10, before);  // 1 offer record instead of 201
  Engine other(TestUniverse(), EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(other.LoadState(snap).ok());
  EXPECT_EQ(other.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(other.offer_retention(), 50);
  EXPECT_TRUE(other.IsPurged(1));
  EXPECT_EQ(other.GetOffer(open)->open_lots, 2);
  // The same future on both.
  std::vector<Event> a, b;
  Command c = Submit(kA3, kAaaBbb, Side::kSell, 1, 99, 777);
  c.seq = ++seq_;
  c.time = time_;
  engine_.Apply(c, &a);
  other.Apply(c, &b);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)), 0);
}

// Memory: a chunk of 65,536 offer records is freed once every offer in it is purged, and
// reused by the next chunk.
TEST_F(EngineTest, FullyPurgedChunksOfOfferRecordsAreFreed) {
  Do(SetRetention(1));
  constexpr int kChunk = 65536;
  for (int i = 0; i < 2 * kChunk; ++i) {
    Command c = Submit(kA1, kAaaBbb, Side::kSell, 1, 101, 0, TimeInForce::kIoc);
    c.seq = ++seq_;
    c.time = time_;
    events_.clear();
    engine_.Apply(c, &events_);
  }
  const std::size_t two_chunks = engine_.OfferMemoryBytes();
  EXPECT_GE(two_chunks, 2u * kChunk * 128);
  time_ += 1;
  while (engine_.RetainedOfferCount() > 0) Do(AdvanceTime());
  EXPECT_EQ(engine_.OfferMemoryBytes(), 0u);
  EXPECT_EQ(RejectOf(Do(Cancel(kA1, 5))), RejectReason::kUnknownOffer);
  EXPECT_FALSE(engine_.GetOffer(kChunk + 5).has_value());
  const std::string snap = engine_.SaveState();
  EXPECT_LT(snap.size(), 4096u);
  Engine other(TestUniverse(), EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(other.LoadState(snap).ok());
  EXPECT_EQ(other.OfferMemoryBytes(), 0u);
  // Ids go on from where they were.
  EXPECT_EQ(Place(kA1, kAaaBbb, Side::kSell, 1, 101), OfferId{2 * kChunk + 1});
  EXPECT_EQ(engine_.OfferMemoryBytes(), two_chunks / 2);
}

TEST_F(EngineTest, LoadStateRefusesAVersionOneSnapshotNamingTheReason) {
  std::string v1 = "MSXENGST";
  v1 += std::string("\x01\x00\x00\x00", 4);
  v1 += std::string(64, '\0');
  absl::Status st = engine_.LoadState(v1);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("version 1"), absl::string_view::npos) << st;
}

TEST_F(EngineTest, LoadStateRejectsCorruptSnapshot) {
  Place(kA1, kAaaBbb, Side::kSell, 3, 101);
  std::string snap = engine_.SaveState();
  Engine other(TestUniverse(), EngineOptions{.expected_offers = 64});
  EXPECT_EQ(other.LoadState(snap.substr(0, snap.size() - 3)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(other.LoadState("garbage").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(other.OpenOfferCount(), 0u);
}

// Holdings in a snapshot start after magic (8), version (4), nine u64/i64 header fields
// and one halt byte per pair; 16 bytes (available, reserved) per agency and instrument.
std::size_t ReservedOffset(AgencyId agency, InstrumentId instrument) {
  const ReferenceData& ref = TestUniverse();
  return 8 + 4 + 9 * 8 + ref.pairs().size() +
         16 * (std::size_t{agency} * ref.instruments().size() + instrument) + 8;
}

TEST_F(EngineTest, LoadStateRejectsReservedThatTheOpenOffersDoNotAddUpTo) {
  Place(kA1, kAaaBbb, Side::kSell, 3, 101);  // reserves 3 lots of AAA
  std::string snap = engine_.SaveState();
  const std::size_t at = ReservedOffset(kA1, kAaa);
  std::int64_t reserved;
  std::memcpy(&reserved, snap.data() + at, 8);
  ASSERT_GT(reserved, 0);
  const std::int64_t wrong = reserved + 1;
  std::memcpy(snap.data() + at, &wrong, 8);
  Engine other(TestUniverse(), EngineOptions{.expected_offers = 64});
  const absl::Status st = other.LoadState(snap);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find(absl::StrCat("holdings of agency ", kA1, " instrument ", kAaa,
                                           ": reserved ", wrong, " but its open offers reserve ",
                                           reserved)),
            absl::string_view::npos)
      << st;
  EXPECT_EQ(other.OpenOfferCount(), 0u);
}

TEST_F(EngineTest, LoadStateRejectsNegativeHoldingsNamingThem) {
  std::string snap = engine_.SaveState();
  const std::int64_t negative = -5;
  std::memcpy(snap.data() + ReservedOffset(kA2, kBbb) - 8, &negative, 8);  // available
  Engine other(TestUniverse(), EngineOptions{.expected_offers = 64});
  const absl::Status st = other.LoadState(snap);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find(absl::StrCat("holdings of agency ", kA2, " instrument ", kBbb,
                                           ": negative available (-5)")),
            absl::string_view::npos)
      << st;
}

}  // namespace
}  // namespace msx
