// RandomCommands: a seeded stream of engine commands over the TestUniverse that exercises
// every command kind and most reject reasons (unknown ids, off-band and off-tick prices,
// duplicate client ids, insufficient holdings, halts, GTD expiry), with partial
// eligibility between agencies. Deterministic for a given seed. Test-only.
#ifndef MSX_ENGINE_TESTING_RANDOM_COMMANDS_H_
#define MSX_ENGINE_TESTING_RANDOM_COMMANDS_H_

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"

namespace msx::testing {

class RandomCommands {
 public:
  struct Options {
    // Probability weights per command kind (out of their sum).
    int submit = 60;
    int cancel = 20;
    int replace = 8;
    int advance_time = 4;
    int set_holdings = 5;
    int halt_resume = 1;
    int set_retention = 0;  // kSetOfferRetention with a short window (0..199, 0 = forever)
    int garbage = 2;  // malformed commands (unknown ids, bad fields)
    Amount max_holding = 20'000;
  };

  RandomCommands(std::uint64_t seed, Options options);
  explicit RandomCommands(std::uint64_t seed) : RandomCommands(seed, Options{}) {}

  // The next command, stamped with seq and time.
  Command Next();
  // Feeds back the events of the last command so that cancels and replaces can target
  // real offers.
  void Observe(const std::vector<Event>& events, std::size_t from);

 private:
  std::uint64_t Uniform(std::uint64_t n) { return rng_() % n; }
  Price RandomPrice(std::uint32_t pair);

  std::mt19937_64 rng_;
  Options options_;
  Seq seq_ = 0;
  TimeNs time_ = 1'000'000;
  ClientOfferId client_id_ = 0;
  struct Seen {
    AgencyId agency;
    OfferId offer;
    PairId pair;
    Price price;
  };
  void Forget(OfferId id);
  std::vector<Seen> offers_;  // open offers (as far as the events told)
  std::unordered_map<OfferId, std::size_t> index_;  // offer id -> position in offers_
  OfferId max_offer_ = 0;
  std::uint32_t funded_ = 0;  // initial SetHoldings commands emitted
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_RANDOM_COMMANDS_H_
