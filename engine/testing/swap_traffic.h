// Deterministic swap traffic over the engine's test universe (engine/testing), for the
// recovery tests and benchmark: first every trading agency's holdings, then a random mix
// of submits inside each pair's band (many of them crossing, so fills happen), cancels
// and replaces of recent offers, and time advances. The agencies are those of the CORE
// agreement (A0..A3, eligible with each other for everything), as on a busy day between
// allies; eligibility itself is the engine tests' business. Test and benchmark code only.
#ifndef MSX_ENGINE_TESTING_SWAP_TRAFFIC_H_
#define MSX_ENGINE_TESTING_SWAP_TRAFFIC_H_

#include <cstdint>
#include <random>

#include "engine/matching/command.h"
#include "engine/matching/types.h"
#include "engine/testing/test_universe.h"

namespace msx::testing {

class SwapTraffic {
 public:
  explicit SwapTraffic(std::uint64_t seed) : rng_(seed) {}

  // The command for sequence number `seq` (stamped with seq and a time after the last).
  Command Next(Seq seq) {
    Command c = Make();
    c.seq = seq;
    time_ += 1000 + static_cast<TimeNs>(rng_() % 1000);
    c.time = time_;
    return c;
  }

 private:
  struct Band {
    PairId pair;
    Price low, high, tick;
  };
  static constexpr Band kBands[] = {{kAaaBbb, 85, 115, 1},
                                    {kCccBbb, 450, 575, 5},
                                    {kAaaCcc, 17, 23, 1},
                                    {kDddBbb, 850, 1150, 10}};

  Command Make() {
    if (holdings_ < 4 * 4) {  // agencies A0..A3 x instruments AAA..DDD
      AgencyId agency = holdings_ / 4;
      InstrumentId instrument = holdings_ % 4;
      ++holdings_;
      return SetHolding(agency, instrument, Amount{1} << 40);
    }
    std::uint64_t r = rng_() % 100;
    if (r < 75) {
      const Band& b = kBands[rng_() % 4];
      // Prices cluster around the middle of the band so that buys and sells cross.
      Price steps = (b.high - b.low) / b.tick;
      Price mid = b.low + steps / 2 * b.tick;
      Price off = static_cast<Price>(rng_() % 5) - 2;
      Price price = mid + off * b.tick;
      Side side = rng_() % 2 ? Side::kBuy : Side::kSell;
      Lots lots = 1 + static_cast<Lots>(rng_() % 20);
      TimeInForce tif = rng_() % 10 == 0 ? TimeInForce::kIoc : TimeInForce::kGtc;
      AgencyId agency = static_cast<AgencyId>(rng_() % 4);
      return Submit(agency, b.pair, side, lots, price, ++client_id_, tif);
    }
    if (r < 88) {
      return Cancel(static_cast<AgencyId>(rng_() % 4), RecentOffer());
    }
    if (r < 96) {
      OfferId offer = RecentOffer();
      const Band& b = kBands[rng_() % 4];
      return Replace(static_cast<AgencyId>(rng_() % 4), offer, 1 + rng_() % 10,
                     b.low + (b.high - b.low) / b.tick / 2 * b.tick);
    }
    return AdvanceTime();
  }

  // One of the last ~64 offers (offer ids follow acceptance order, close to client ids).
  OfferId RecentOffer() {
    std::uint64_t back = rng_() % 64;
    return client_id_ > back ? client_id_ - back : 1;
  }

  std::mt19937_64 rng_;
  int holdings_ = 0;
  ClientOfferId client_id_ = 0;
  TimeNs time_ = 1'700'000'000'000'000'000;
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_SWAP_TRAFFIC_H_
