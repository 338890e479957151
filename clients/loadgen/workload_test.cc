#include "clients/loadgen/workload.h"

#include <map>
#include <set>

#include "gtest/gtest.h"

namespace msx::loadgen {
namespace {

PairInfo CobaltGallium() {
  PairInfo p;
  p.symbol = "GA-4N/CO-99.8";
  p.base = "GA-4N";
  p.quote = "CO-99.8";
  p.tick = 1;
  p.reference_price = 2121;
  p.band_low = 1803;
  p.band_high = 2439;
  p.max_lots = 200;
  p.base_lot_size = 100000;
  return p;
}

PairInfo NarrowBand() {
  PairInfo p;
  p.symbol = "AA/BB";
  p.base = "AA";
  p.quote = "BB";
  p.tick = 10;
  p.reference_price = 1005;
  p.band_low = 990;
  p.band_high = 1020;
  p.max_lots = 1;
  p.base_lot_size = 1;
  return p;
}

std::vector<HoldingsMap> Holdings() {
  std::vector<HoldingsMap> h(3);
  h[0]["GA-4N"] = 100000000;  // holds base
  h[1]["CO-99.8"] = 1000000;  // holds quote
  h[2]["CO-99.8"] = 10;       // too little
  h[0]["AA"] = 1000;
  h[2]["BB"] = 1000000;
  return h;
}

class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> skipped;
    auto plans = PlanPairs({CobaltGallium(), NarrowBand()}, Holdings(), {}, 3, 4, &skipped);
    ASSERT_TRUE(plans.ok()) << plans.status();
    plans_ = *plans;
  }
  std::vector<PairPlan> plans_;
};

TEST_F(WorkloadTest, PlanPicksTheBaseHolderAndAnotherQuoteHolder) {
  ASSERT_EQ(plans_.size(), 2u);
  EXPECT_EQ(plans_[0].first, 0);
  EXPECT_EQ(plans_[0].second, 1);
  EXPECT_EQ(plans_[0].center, 2121);
  EXPECT_EQ(plans_[0].spread, 1);
  EXPECT_EQ(plans_[1].first, 0);
  EXPECT_EQ(plans_[1].second, 2);
  EXPECT_EQ(plans_[1].spread, 0);  // 990..1020 has no room for +/-2 ticks inside
  EXPECT_EQ(plans_[1].max_lots, 1);
}

TEST_F(WorkloadTest, PlanPrefersACoupleThatHoldsBothSides) {
  std::vector<HoldingsMap> h(3);
  h[0]["GA-4N"] = 900000000;  // the most base, no quote
  h[1]["CO-99.8"] = 5000000;
  h[1]["GA-4N"] = 100000000;  // both sides
  h[2]["CO-99.8"] = 9000000;
  h[2]["GA-4N"] = 100000000;  // both sides, more quote
  auto plans = PlanPairs({CobaltGallium()}, h, {}, 3, 4, nullptr);
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 1u);
  EXPECT_NE((*plans)[0].first, 0);
  EXPECT_NE((*plans)[0].second, 0);
  EXPECT_NE((*plans)[0].first, (*plans)[0].second);
}

TEST_F(WorkloadTest, PlanSkipsPairsNobodyCanTradeAndNamesThem) {
  PairInfo halted = CobaltGallium();
  halted.symbol = "HALTED";
  halted.halted = true;
  PairInfo orphan = CobaltGallium();
  orphan.symbol = "ZZ/CO-99.8";
  orphan.base = "ZZ";
  std::vector<std::string> skipped;
  auto plans = PlanPairs({halted, orphan, CobaltGallium()}, Holdings(), {}, 3, 4, &skipped);
  ASSERT_TRUE(plans.ok());
  EXPECT_EQ(plans->size(), 1u);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0], "HALTED: halted");
  EXPECT_EQ(skipped[1], "ZZ/CO-99.8: no agency holds enough base");
  EXPECT_EQ(PlanPairs({orphan}, Holdings(), {}, 3, 4, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(WorkloadTest, PlanHonoursThePairFilterAndRejectsUnknownNames) {
  auto only = PlanPairs({CobaltGallium(), NarrowBand()}, Holdings(), {"AA/BB"}, 3, 4, nullptr);
  ASSERT_TRUE(only.ok());
  ASSERT_EQ(only->size(), 1u);
  EXPECT_EQ((*only)[0].symbol, "AA/BB");
  auto unknown = PlanPairs({CobaltGallium()}, Holdings(), {"NOPE/X"}, 3, 4, nullptr);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(WorkloadTest, CrossingRoundsPairOppositeSidesOfTwoAgenciesAtOnePrice) {
  Workload w(plans_, 10, 3);
  int rounds = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    Op maker = w.At(i);
    if (maker.kind != OpKind::kCross || !maker.maker) continue;
    Op taker = w.At(i + 1);
    ASSERT_EQ(taker.kind, OpKind::kCross);
    EXPECT_FALSE(taker.maker);
    EXPECT_EQ(maker.pair, taker.pair);
    EXPECT_EQ(maker.price, taker.price);
    EXPECT_EQ(maker.lots, taker.lots);
    EXPECT_NE(maker.side, taker.side);
    EXPECT_NE(maker.agency, taker.agency);
    const PairPlan& p = plans_[maker.pair];
    EXPECT_EQ(maker.price % p.tick, 0);
    EXPECT_GE(maker.lots, 1);
    EXPECT_LE(maker.lots, p.max_lots);
    if (p.spread > 0) {
      // Strictly inside the band: never at the passive offers' prices.
      EXPECT_GT(maker.price, p.band_low);
      EXPECT_LT(maker.price, p.band_high);
      EXPECT_LE(std::abs(maker.price - p.center), 2 * p.tick);
    } else {
      EXPECT_EQ(maker.price, p.center);
    }
    ++rounds;
  }
  EXPECT_GT(rounds, 700);
}

TEST_F(WorkloadTest, BlocksAlternateTheSellerSoHoldingsFlowBack) {
  Workload w(plans_, 0, 3);
  std::map<int, std::map<int, int>> sells;  // pair -> agency -> sells
  // 10 rounds per 20 ops; 2 pairs -> a cycle is 32 rounds = 64 ops.
  for (std::uint64_t i = 0; i < 64 * 50; ++i) {
    Op op = w.At(i);
    if (op.side == Side::kSell) ++sells[op.pair][op.agency];
  }
  for (const auto& [pair, by_agency] : sells) {
    ASSERT_EQ(by_agency.size(), 2u) << pair;
    EXPECT_EQ(by_agency.begin()->second, by_agency.rbegin()->second) << pair;
  }
}

TEST_F(WorkloadTest, ACycleOfTwoBlocksLeavesHoldingsUnchanged) {
  Workload w(plans_, 10, 3);
  // Net base and quote per (pair, agency) over whole cycles: sells give base, get quote.
  std::map<std::pair<int, int>, std::pair<std::int64_t, std::int64_t>> net;
  // 8 rounds per 20 ops; 2 pairs -> a cycle is 2 x 8 rounds per pair = 32 rounds = 80 ops.
  for (std::uint64_t i = 0; i < 80 * 25; ++i) {
    Op op = w.At(i);
    if (op.kind != OpKind::kCross) continue;
    auto& [base, quote] = net[{op.pair, op.agency}];
    std::int64_t sign = op.side == Side::kSell ? -1 : 1;
    base += sign * op.lots;
    quote -= sign * op.lots * op.price;
  }
  for (const auto& [key, amounts] : net) {
    EXPECT_EQ(amounts.first, 0) << key.first << "/" << key.second;
    EXPECT_EQ(amounts.second, 0) << key.first << "/" << key.second;
  }
}

TEST_F(WorkloadTest, WithinABlockNoAgencyBothBuysAndSellsOnABook) {
  Workload w(plans_, 0, 3);
  // Rounds 0..15 are block 0 of both pairs (8 rounds each): 32 ops.
  std::map<std::pair<int, int>, std::set<int>> sides;  // (pair, agency) -> sides
  for (std::uint64_t i = 0; i < 32; ++i) {
    Op op = w.At(i);
    sides[{op.pair, op.agency}].insert(static_cast<int>(op.side));
  }
  for (const auto& [key, s] : sides) EXPECT_EQ(s.size(), 1u) << key.first << "/" << key.second;
}

TEST_F(WorkloadTest, EveryRoundOfABlockAndItsSellBackHasOnePriceAndSize) {
  // So rounds that overtake each other on the way to the book still fill each other.
  Workload w(plans_, 10, 3);
  // (pair, cycle) -> the prices and sizes seen; 8 rounds per 20 ops, 2 pairs: a cycle is
  // 80 ops.
  std::map<std::pair<int, std::uint64_t>, std::set<std::pair<std::int64_t, std::int64_t>>> seen;
  std::set<std::int64_t> prices;
  for (std::uint64_t i = 0; i < 80 * 40; ++i) {
    Op op = w.At(i);
    if (op.kind != OpKind::kCross) continue;
    seen[{op.pair, i / 80}].insert({op.price, op.lots});
    if (op.pair == 0) prices.insert(op.price);
  }
  for (const auto& [key, s] : seen) EXPECT_EQ(s.size(), 1u) << key.first << "/" << key.second;
  EXPECT_GT(prices.size(), 1u);  // still varies from cycle to cycle
}

TEST_F(WorkloadTest, CancelShareMatchesTheRequestedPercentage) {
  Workload w(plans_, 10, 3);
  int cancels = 0, passives = 0, crosses = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    switch (w.At(i).kind) {
      case OpKind::kCancel: ++cancels; break;
      case OpKind::kPassive: ++passives; break;
      case OpKind::kCross: ++crosses; break;
    }
  }
  EXPECT_EQ(cancels, 1000);
  EXPECT_EQ(passives, 1000);
  EXPECT_EQ(crosses, 8000);
}

TEST_F(WorkloadTest, PassiveOffersRestOnTheBandEdgesWithTheRightHolder) {
  Workload w(plans_, 20, 3);
  std::set<int> seen_sides;
  for (std::uint64_t i = 0; i < 400; ++i) {
    Op op = w.At(i);
    if (op.kind != OpKind::kPassive) continue;
    const PairPlan& p = plans_[op.pair];
    if (op.side == Side::kSell) {
      EXPECT_EQ(op.price, p.band_high);
      EXPECT_EQ(op.agency, p.first);
    } else {
      EXPECT_EQ(op.price, p.band_low);
      EXPECT_EQ(op.agency, p.second);
    }
    EXPECT_EQ(op.lots, 1);
    seen_sides.insert(static_cast<int>(op.side));
  }
  EXPECT_EQ(seen_sides.size(), 2u);
}

}  // namespace
}  // namespace msx::loadgen
