// msx_auction_bench: the allocation auction's call-auction algorithm alone (Google
// Benchmark, one thread): uncross and allocate one pair book's auction.
//
//   BM_Auction/shape:0   10,000 bids from 7 buying agencies against 2,000 sell offers
//                        from 3 other agencies, every pair eligible: one supply pool
//   BM_Auction/shape:1   the same 7 agencies both bid and sell, one pair of them
//                        ineligible: 7 pools (each seller's buyers exclude itself)
//   BM_Auction/shape:2   shape 0 under a price control (the price is the reference)
//
// Bids: limits uniform in the band 9,500..10,500 (tick 1, reference 10,000), 1..100 lots,
// needs 1..120 lots' worth, tiers 20 % DEFENCE, 30 % ESSENTIAL, 50 % GENERAL; per-agency
// cap 25 %. Offers: limits uniform in the same band, 1..100 lots. The inputs are built
// outside the timed loop; each iteration is one CallAuction::Run on the same CallAuction
// (its scratch buffers and the result's fill vector reused, as in the engine).
// Bar (issue 15): <= 2 ms per auction on one core. Results: bench/README.md.
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/matching/internal/auction.h"

namespace msx::internal {
namespace {

constexpr int kBids = 10'000;
constexpr int kOffers = 2'000;
constexpr int kBuyingAgencies = 7;

struct Input {
  std::vector<AuctionBuy> buys;
  std::vector<AuctionSell> sells;
  std::vector<AgencyMask> eligible;
  AuctionParams params;
};

Input MakeInput(int shape) {
  std::mt19937_64 rng(15);
  auto uniform = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  Input in;
  const int agencies = shape == 1 ? kBuyingAgencies : kBuyingAgencies + 3;
  in.eligible.assign(agencies, (AgencyMask{1} << agencies) - 1);
  if (shape == 1) {
    in.eligible[0] &= ~AgencyMask{1 << 6};
    in.eligible[6] &= ~AgencyMask{1 << 0};
  }
  in.params.lot_size = 10;
  in.params.tick = 1;
  in.params.reference = 10'000;
  in.params.price_control = shape == 2;
  in.params.agency_cap_bps = 2500;
  std::uint64_t priority = 1;
  OfferId id = 1;
  // Bids and offers interleave in time, as they arrived.
  for (int i = 0, b = 0, s = 0; b < kBids || s < kOffers; ++i) {
    if (b < kBids && (s == kOffers || uniform(0, 5) != 0)) {
      const std::int64_t t = uniform(0, 9);
      const auto tier = static_cast<PriorityTier>(t < 2 ? 1 : t < 5 ? 2 : 3);
      const Lots lots = uniform(1, 100);
      in.buys.push_back({id++, static_cast<AgencyId>(uniform(0, kBuyingAgencies - 1)), tier, lots,
                         uniform(9'500, 10'500), uniform(1, 1'200), priority++});
      ++b;
    } else {
      const AgencyId seller = shape == 1 ? static_cast<AgencyId>(uniform(0, kBuyingAgencies - 1))
                                         : static_cast<AgencyId>(uniform(kBuyingAgencies, agencies - 1));
      in.sells.push_back({id++, seller, uniform(1, 100), uniform(9'500, 10'500), priority++});
      ++s;
    }
  }
  in.params.eligible = in.eligible;
  return in;
}

void BM_Auction(benchmark::State& state) {
  const Input in = MakeInput(static_cast<int>(state.range(0)));
  CallAuction auction;
  AuctionResult result;
  for (auto _ : state) {
    const absl::Status status = auction.Run(in.buys, in.sells, in.params, &result);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(result.fills.data());
    benchmark::ClobberMemory();
  }
  state.counters["price"] = static_cast<double>(result.price);
  state.counters["executed_lots"] = static_cast<double>(result.executed);
  state.counters["supply_lots"] = static_cast<double>(result.supply);
  state.counters["fills"] = static_cast<double>(result.fills.size());
  state.SetItemsProcessed(state.iterations() * (kBids + kOffers));
}
BENCHMARK(BM_Auction)->ArgName("shape")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace msx::internal

BENCHMARK_MAIN();
