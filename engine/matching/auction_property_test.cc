// Property test of the engine's allocation auctions (issue 15 s.3; AUCTION.md "In the
// engine") over random books: for every RunAuction, checked against the books as they
// stood before it (read through the engine's queries, not its internals),
// - the uncross price is the rule's: under a price control the pair's reference; else the
//   most executable volume, then the least imbalance, then the nearest to the reference,
//   then the lower (recomputed naively over every price of the band), with the demand and
//   supply the event reports;
// - the buyers' allocations sum exactly to the lots the sellers delivered, which is the
//   event's `executed`, at most its `executable`; every fill is at the auction price;
// - no agency receives more than the cap (floor(supply x cap_bps / 10000));
// - no offer receives more than its claim (its open lots, and its need not yet met in whole
//   lots), and no seller delivers more than it offered;
// - no lower tier is served by a seller while an agency of a higher tier that may trade
//   with that seller still has an unmet claim at the price and is below its cap;
// - nothing left could still trade: no seller at or below the price keeps lots while an
//   eligible buying agency below its cap keeps an unmet claim at the price;
// - an ineligible pair (no common agreement) never trades, nor does an agency with itself;
// and the same commands on a fresh engine give the same events byte for byte, also when
// the second engine restarts from a snapshot taken midway.
//
// 200 seeds by default; MSX_LONG_TESTS=1 runs 5,000.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

constexpr InstrumentId kCo = 0;
constexpr PairId kCoLi = 0;
constexpr Amount kLot = 10;        // kg of cobalt per lot: needs round up to whole lots
constexpr Price kTick = 5;
constexpr int kAgencies = 8;
constexpr Amount kStart = 1'000'000'000;

// One universe per seed: the policy of the auctioning level varies (cap, price control).
// A0..A7; A0 may use every tier, A1..A3 ESSENTIAL and GENERAL, the rest GENERAL only.
// CORE holds A0..A5; SIDE holds A5, A6, A7: A6 and A7 trade only with A5 (and each
// other), A0..A4 never with A6 or A7.
ReferenceData MakeRef(std::int32_t cap_bps, bool price_control) {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", kLot, 100'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 1'000, 0});
  b.AddPair({"CO", "LI", kTick, 1500, 100000});  // reference 1,000, band 850..1,150
  for (int a = 0; a < kAgencies; ++a) {
    std::string code = "A";
    code += std::to_string(a);
    AgencySpec spec{.code = code, .name = "a", .country = "US"};
    if (a == 0) {
      spec.priority_tiers = {PriorityTier::kDefence, PriorityTier::kEssential,
                             PriorityTier::kGeneral};
    } else if (a <= 3) {
      spec.priority_tiers = {PriorityTier::kEssential, PriorityTier::kGeneral};
    }
    b.AddAgency(spec);
  }
  b.AddAgreement({"CORE", {"A0", "A1", "A2", "A3", "A4", "A5"}, {}});
  b.AddAgreement({"SIDE", {"A5", "A6", "A7"}, {}});
  LevelPolicy warning;
  warning.mode = MatchingMode::kCallAuction;
  warning.auction_interval_seconds = 60;
  warning.band_bps = price_control ? 500 : 0;
  warning.agency_cap_bps = cap_bps;
  b.AddLevelPolicy({EmergencyLevel::kWarning, warning});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

// Applies commands and keeps them with their events, for the replay.
class Driver {
 public:
  explicit Driver(const ReferenceData& ref)
      : engine_(ref, EngineOptions{.expected_offers = 4096}) {}

  const std::vector<Event>& Do(Command c) {
    c.seq = ++seq_;
    c.time = time_ += 1'000'000'000;
    events_.clear();
    engine_.Apply(c, &events_);
    log_.push_back(c);
    all_events_.push_back(events_);
    return events_;
  }

  Engine& engine() { return engine_; }
  const std::vector<Command>& log() const { return log_; }
  const std::vector<std::vector<Event>>& all_events() const { return all_events_; }

 private:
  Engine engine_;
  Seq seq_ = 0;
  TimeNs time_ = 1'700'000'000'000'000'000;
  std::vector<Event> events_;
  std::vector<Command> log_;
  std::vector<std::vector<Event>> all_events_;
};

// What an open buy offer claims in an auction (AUCTION.md 1): its open lots, at most its
// need not yet met in whole lots.
Lots ClaimOf(const OfferInfo& o) {
  if (o.side != Side::kBuy || o.need <= 0) return 0;
  const Amount left = o.need - o.filled_lots * kLot;
  if (left <= 0) return 0;
  return std::min(o.open_lots, (left + kLot - 1) / kLot);
}

struct Uncross {
  bool crossed = false;
  Price price = 0;
  Lots volume = 0, demand = 0, supply = 0;
};

// The uncross rule, naively over every price of the band.
Uncross NaiveUncross(const std::vector<OfferInfo>& offers, const PairBand& band,
                     bool price_control) {
  auto curves = [&](Price p, Lots* demand, Lots* supply) {
    *demand = 0;
    *supply = 0;
    for (const OfferInfo& o : offers) {
      if (o.side == Side::kBuy && o.price >= p) *demand += ClaimOf(o);
      if (o.side == Side::kSell && o.price <= p) *supply += o.open_lots;
    }
  };
  const Price nearest = (band.reference_price + kTick / 2) / kTick * kTick;
  const Price reference = std::clamp(nearest, band.band_low, band.band_high);
  Uncross best;
  if (price_control) {
    curves(reference, &best.demand, &best.supply);
    best.volume = std::min(best.demand, best.supply);
    best.crossed = best.volume > 0;
    best.price = reference;
    return best;
  }
  Lots best_imbalance = 0;
  for (Price p = band.band_low; p <= band.band_high; p += kTick) {
    Lots d, s;
    curves(p, &d, &s);
    const Lots v = std::min(d, s);
    if (v == 0) continue;
    const Lots imbalance = d > s ? d - s : s - d;
    const Price dist = p > reference ? p - reference : reference - p;
    const Price best_dist = best.price > reference ? best.price - reference
                                                   : reference - best.price;
    const bool better = !best.crossed || v > best.volume ||
                        (v == best.volume && (imbalance < best_imbalance ||
                                              (imbalance == best_imbalance && dist < best_dist)));
    if (!better) continue;  // equal distance: the lower price, seen first, stays
    best = {true, p, v, d, s};
    best_imbalance = imbalance;
  }
  return best;
}

bool MayTrade(const Engine& engine, AgencyId buyer, AgencyId seller) {
  return buyer != seller && ((engine.EligiblePartners(kCoLi, buyer) >> seller) & 1) != 0 &&
         ((engine.EligiblePartners(kCoLi, seller) >> buyer) & 1) != 0;
}

std::vector<OfferInfo> OpenOffers(const Engine& engine) {
  std::vector<OfferInfo> all;
  for (AgencyId a = 0; a < kAgencies; ++a) {
    for (const OfferInfo& o : engine.ListOpenOffers(a, kCoLi)) all.push_back(o);
  }
  return all;
}

// How often the random auctions met each situation: the test checks it met them all.
struct Coverage {
  int auctions = 0, crossed = 0, price_controlled = 0, fills = 0;
  int cap_bound = 0;    // an agency received exactly the cap, below the supply
  int tiers_mixed = 0;  // fills to two tiers or more
  int side_pool = 0;    // a fill to or from an agency of the SIDE agreement only
};
Coverage coverage;

// Runs one auction and checks every rule against the books before it.
void AuctionAndCheck(Driver& d, bool price_control, int cap_bps, const std::string& where) {
  Engine& engine = d.engine();
  const std::vector<OfferInfo> before = OpenOffers(engine);
  std::map<OfferId, OfferInfo> by_id;
  for (const OfferInfo& o : before) by_id[o.id] = o;
  const Uncross want = NaiveUncross(before, engine.GetPairBand(kCoLi), price_control);

  Command tick{};
  tick.type = CommandType::kRunAuction;
  tick.run_auction.instrument = kCo;
  const std::vector<Event> events = d.Do(tick);
  ASSERT_FALSE(events.empty()) << where;
  ASSERT_EQ(events[0].type, EventType::kAuction) << where;
  const AuctionEvent& a = events[0].auction;
  ASSERT_EQ(a.crossed, want.crossed) << where;
  ++coverage.auctions;
  if (!a.crossed) {
    for (const Event& e : events) EXPECT_NE(e.type, EventType::kFill) << where;
    return;
  }
  ++coverage.crossed;
  coverage.price_controlled += price_control ? 1 : 0;
  EXPECT_EQ(a.price, want.price) << where;
  EXPECT_EQ(a.executable, want.volume) << where;
  EXPECT_EQ(a.demand, want.demand) << where;
  EXPECT_EQ(a.supply, want.supply) << where;
  const Lots cap = a.supply * cap_bps / kFullShareBps;
  EXPECT_EQ(a.agency_cap, cap) << where;

  std::map<AgencyId, Lots> bought, sold;
  std::map<OfferId, Lots> got;
  Lots total = 0;
  // The lowest tier any fill from seller s served so far, per seller, with the fill index.
  std::vector<std::pair<OfferId, OfferId>> pairs;  // (buy offer, sell offer) per fill
  unsigned tiers = 0;
  bool side = false;
  std::vector<std::uint64_t> fill_ids, delivered_fills;
  for (std::size_t i = 1; i < events.size(); ++i) {
    // The fills, and the market data of the levels they emptied or thinned.
    if (events[i].type == EventType::kBookLevel) continue;
    // The auction runs at WARNING: each fill opens two deliveries (ENGINE.md "Deliveries").
    if (events[i].type == EventType::kDelivery) {
      EXPECT_EQ(events[i].delivery.kind, DeliveryEventKind::kOpened) << where;
      delivered_fills.push_back(events[i].delivery.fill_id);
      continue;
    }
    ASSERT_EQ(events[i].type, EventType::kFill) << where << " event " << i;
    const FillEvent& f = events[i].fill;
    EXPECT_EQ(f.price, a.price) << where;
    EXPECT_GT(f.lots, 0) << where;
    ASSERT_TRUE(by_id.count(f.taker_offer) && by_id.count(f.maker_offer)) << where;
    const OfferInfo& buy = by_id[f.taker_offer];
    const OfferInfo& sell = by_id[f.maker_offer];
    EXPECT_EQ(buy.side, Side::kBuy) << where;
    EXPECT_EQ(sell.side, Side::kSell) << where;
    EXPECT_GE(buy.price, a.price) << where;
    EXPECT_LE(sell.price, a.price) << where;
    EXPECT_TRUE(MayTrade(engine, buy.agency, sell.agency))
        << where << ": " << buy.agency << " traded with " << sell.agency;
    bought[buy.agency] += f.lots;
    sold[sell.agency] += f.lots;
    got[f.taker_offer] += f.lots;
    got[f.maker_offer] += f.lots;
    total += f.lots;
    pairs.emplace_back(f.taker_offer, f.maker_offer);
    fill_ids.push_back(f.fill_id);
    fill_ids.push_back(f.fill_id);
    ++coverage.fills;
    tiers |= 1u << static_cast<unsigned>(buy.tier);
    side |= buy.agency >= 6 || sell.agency >= 6;
  }
  EXPECT_EQ(delivered_fills, fill_ids) << where;  // two per fill, in fill order
  coverage.tiers_mixed += __builtin_popcount(tiers) >= 2 ? 1 : 0;
  coverage.side_pool += side ? 1 : 0;
  EXPECT_EQ(total, a.executed) << where;
  EXPECT_LE(a.executed, a.executable) << where;
  Lots delivered = 0;
  for (const auto& [agency, lots] : sold) delivered += lots;
  EXPECT_EQ(delivered, total) << where;
  for (const auto& [agency, lots] : bought) {
    EXPECT_LE(lots, cap) << where << ": agency " << agency << " above the cap";
    coverage.cap_bound += lots == cap && cap < a.supply ? 1 : 0;
  }
  for (const auto& [id, lots] : got) {
    const OfferInfo& o = by_id[id];
    EXPECT_LE(lots, o.side == Side::kBuy ? ClaimOf(o) : o.open_lots) << where << " offer " << id;
  }

  // What is left unmet after the auction, at the price, per buy offer.
  auto unmet = [&](const OfferInfo& o) {
    if (o.side != Side::kBuy || o.price < a.price) return Lots{0};
    return ClaimOf(o) - (got.count(o.id) ? got[o.id] : 0);
  };
  auto below_cap = [&](AgencyId agency) {
    return (bought.count(agency) ? bought[agency] : 0) < cap;
  };
  // Tiers strictly ordered, seller by seller.
  for (const auto& [buy_id, sell_id] : pairs) {
    const OfferInfo& served = by_id[buy_id];
    const AgencyId seller = by_id[sell_id].agency;
    for (const OfferInfo& o : before) {
      if (o.side != Side::kBuy || o.need <= 0 || o.tier >= served.tier) continue;
      if (unmet(o) > 0 && below_cap(o.agency) && MayTrade(engine, o.agency, seller)) {
        ADD_FAILURE() << where << ": offer " << buy_id << " (tier " << int(served.tier)
                      << ") was served by agency " << seller << " while offer " << o.id
                      << " (tier " << int(o.tier) << ", agency " << o.agency
                      << ") still claims " << unmet(o);
        return;
      }
    }
  }
  // Nothing left could still trade.
  for (const OfferInfo& s : before) {
    if (s.side != Side::kSell || s.price > a.price) continue;
    if (s.open_lots - (got.count(s.id) ? got[s.id] : 0) == 0) continue;
    for (const OfferInfo& o : before) {
      if (o.need > 0 && unmet(o) > 0 && below_cap(o.agency) &&
          MayTrade(engine, o.agency, s.agency)) {
        ADD_FAILURE() << where << ": sell offer " << s.id << " keeps lots that offer " << o.id
                      << " could take";
        return;
      }
    }
  }
}

void RunSeed(std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  static constexpr std::int32_t kCaps[] = {10000, 5000, 4000, 2500, 1000, 500};
  const std::int32_t cap_bps = kCaps[pick(0, 5)];
  const bool price_control = pick(0, 2) == 0;
  const ReferenceData ref = MakeRef(cap_bps, price_control);
  Driver d(ref);
  for (AgencyId a = 0; a < kAgencies; ++a) {
    for (InstrumentId i : {InstrumentId{0}, InstrumentId{1}}) {
      Command c{};
      c.type = CommandType::kSetHoldings;
      c.set_holdings = {a, i, kStart};
      d.Do(c);
    }
  }
  Command warning{};
  warning.type = CommandType::kSetEmergencyLevel;
  warning.set_level.instrument = kCo;
  warning.set_level.level = EmergencyLevel::kWarning;
  d.Do(warning);
  const PairBand band = d.engine().GetPairBand(kCoLi);
  ClientOfferId client = 0;
  const int rounds = static_cast<int>(pick(1, 4));
  for (int round = 0; round < rounds; ++round) {
    const int offers = static_cast<int>(pick(0, 30));
    for (int k = 0; k < offers; ++k) {
      const AgencyId agency = static_cast<AgencyId>(pick(0, kAgencies - 1));
      // Limits concentrate around the reference so that books cross often.
      const Price price = std::clamp<Price>(
          (band.reference_price + pick(-12, 12) * kTick) / kTick * kTick, band.band_low,
          band.band_high);
      Command c{};
      SubmitOffer body{agency, kCoLi, pick(0, 2) == 0 ? Side::kSell : Side::kBuy,
                       TimeInForce::kGtc, pick(1, 25), price, 0, 0, 0, 0, ++client};
      if (body.side == Side::kBuy && pick(0, 5) != 0) {
        c.type = CommandType::kSubmitOfferWithNeed;
        c.submit_need.offer = body;
        c.submit_need.need = pick(1, 300);  // up to 30 lots, often not a whole lot
        c.submit_need.tier = static_cast<PriorityTier>(pick(1, 3));  // maybe not allowed
      } else {
        c.type = CommandType::kSubmitOffer;
        c.submit = body;
      }
      d.Do(c);
    }
    const std::string where = "seed " + std::to_string(seed) + " round " + std::to_string(round);
    ASSERT_NO_FATAL_FAILURE(AuctionAndCheck(d, price_control, cap_bps, where));
    if (::testing::Test::HasFailure()) return;
  }

  // Determinism: the same commands on a fresh engine give the same events, byte for byte,
  // also from a snapshot taken midway.
  const std::vector<Command>& log = d.log();
  const std::size_t cut = static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(log.size())));
  Engine replay(ref, EngineOptions{.expected_offers = 4096});
  std::vector<Event> ev;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (i == cut) {
      Engine restored(ref, EngineOptions{.expected_offers = 4096});
      ASSERT_TRUE(restored.LoadState(replay.SaveState()).ok());
      for (std::size_t j = i; j < log.size(); ++j) {
        ev.clear();
        restored.Apply(log[j], &ev);
        const std::vector<Event>& want = d.all_events()[j];
        ASSERT_EQ(ev.size(), want.size()) << "seed " << seed << " from snapshot, command " << j;
        ASSERT_EQ(0, std::memcmp(ev.data(), want.data(), ev.size() * sizeof(Event)))
            << "seed " << seed << " from snapshot, command " << j;
      }
      EXPECT_EQ(restored.StateDigest(), d.engine().StateDigest()) << "seed " << seed;
    }
    ev.clear();
    replay.Apply(log[i], &ev);
    const std::vector<Event>& want = d.all_events()[i];
    ASSERT_EQ(ev.size(), want.size()) << "seed " << seed << " command " << i;
    ASSERT_EQ(0, std::memcmp(ev.data(), want.data(), ev.size() * sizeof(Event)))
        << "seed " << seed << " command " << i;
  }
  EXPECT_EQ(replay.StateDigest(), d.engine().StateDigest()) << "seed " << seed;
}

TEST(AuctionPropertyTest, RandomAuctionsKeepEveryRuleAndReplayByteForByte) {
  const int seeds = std::getenv("MSX_LONG_TESTS") ? 5000 : 200;
  for (int s = 1; s <= seeds; ++s) {
    RunSeed(static_cast<std::uint32_t>(s));
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "first failing seed " << s;
      return;
    }
  }
  // The seeds met every situation the rules speak of, many times.
  EXPECT_GT(coverage.crossed, seeds) << coverage.auctions << " auctions";
  EXPECT_GT(coverage.price_controlled, seeds / 4);
  EXPECT_GT(coverage.cap_bound, seeds / 4);
  EXPECT_GT(coverage.tiers_mixed, seeds / 4);
  EXPECT_GT(coverage.side_pool, seeds / 10);
  std::printf("auctions %d, crossed %d (%d under a price control), fills %d; an agency at the "
              "cap %d times, several tiers served %d times, the SIDE pool %d times\n",
              coverage.auctions, coverage.crossed, coverage.price_controlled, coverage.fills,
              coverage.cap_bound, coverage.tiers_mixed, coverage.side_pool);
}

}  // namespace
}  // namespace msx
