// The synthetic market both in-process benchmarks trade in (bench/engine_benchmark.cc,
// bench/compare/compare_benchmark.cc), and their random numbers.
//
// 20 instruments I00..I19 (minerals m00..m19, lot 10,000 kg, reference value 1,000,000),
// 50 pair books (I[i] against I[i+k], k = 1..3), every one at reference price kRef, band
// 1,500 bps (8,500..11,500), tick 1, at most 100,000 lots per offer; 8 agencies AG0..AG7.
// Agreements are the caller's: they decide who may swap with whom.
#ifndef MSX_ENGINE_TESTING_BENCH_MARKET_H_
#define MSX_ENGINE_TESTING_BENCH_MARKET_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/matching/reference_data_builder.h"

namespace msx::testing {

inline constexpr int kInstruments = 20;
inline constexpr int kPairs = 50;
inline constexpr int kAgencies = 8;
inline constexpr Price kRef = 10'000;  // every pair's reference price; band 8,500..11,500, tick 1

// Adds the instruments, pair books and agencies above to `b`; returns the agency ids.
inline std::vector<std::string> AddBenchMarket(ReferenceDataBuilder& b) {
  for (int i = 0; i < kInstruments; ++i) {
    char sym[8], min[8];
    std::snprintf(sym, sizeof sym, "I%02d", i);
    std::snprintf(min, sizeof min, "m%02d", i);
    b.AddInstrument({sym, min, "bench", "kg", 10'000, 1'000'000, 0});
  }
  int n = 0;
  for (int k = 1; k <= 3 && n < kPairs; ++k) {
    for (int i = 0; i < kInstruments && n < kPairs; ++i, ++n) {
      char bs[8], qs[8];
      std::snprintf(bs, sizeof bs, "I%02d", i);
      std::snprintf(qs, sizeof qs, "I%02d", (i + k) % kInstruments);
      b.AddPair({bs, qs, 1, 1500, 100'000});
    }
  }
  std::vector<std::string> agencies;
  for (int a = 0; a < kAgencies; ++a) {
    agencies.push_back("AG" + std::to_string(a));
    b.AddAgency({agencies.back(), agencies.back(), "XX", Role::kAgency});
  }
  return agencies;
}

// Builds `b`; a benchmark cannot run on a market that does not build, so it stops there,
// saying which one and why.
inline const ReferenceData* BuildBenchMarketOrDie(ReferenceDataBuilder& b, const char* what) {
  absl::StatusOr<ReferenceData> built = b.Build();
  if (!built.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(built.status().message()).c_str());
    std::abort();
  }
  return new ReferenceData(*std::move(built));
}

// xorshift64*: cheap, deterministic.
struct Rng {
  std::uint64_t s;
  std::uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  // Uniform in [0, n) by a multiply-high (Lemire) instead of a 64-bit division.
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_BENCH_MARKET_H_
