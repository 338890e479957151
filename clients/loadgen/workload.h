// The load generator's order mix, as a pure function of the operation index, so that the
// two halves of a crossing pair agree on price and size without talking to each other.
//
// Every period of 20 operations holds 20 - 2k crossing operations, k passive offers and k
// cancels (k = cancel_percent of 20, rounded). Crossing operations come in rounds of two
// offers on one pair book, same price and lots, opposite sides, from two different
// eligible agencies: whichever arrives first rests, the second fills it. Per pair book,
// blocks of kBlock rounds alternate which agency sells, the selling-back block repeating
// the prices and sizes of the block before, so that holdings flow back and forth instead
// of draining (a cycle of two blocks leaves both agencies as they were). Crossing
// prices stay within +/-2 ticks of the reference price and strictly inside the band;
// passive offers rest at the band's edges (buy at band_low, sell at band_high), where
// crossing offers do not reach them, until a cancel takes them off.
//
// Thread-safety: immutable after construction; At() may be called from any thread.
#ifndef MSX_CLIENTS_LOADGEN_WORKLOAD_H_
#define MSX_CLIENTS_LOADGEN_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace msx::loadgen {

enum class Side { kBuy, kSell };

// What the exchange says about a pair book (from ListPairs and ListInstruments).
struct PairInfo {
  std::string symbol, base, quote;
  std::int64_t tick = 1;
  std::int64_t band_low = 0, band_high = 0, reference_price = 0;
  std::int64_t max_lots = 1;
  std::int64_t base_lot_size = 1;
  bool halted = false;
};

// One pair book in the mix and its two agencies (indices into the agency list).
struct PairPlan {
  std::string symbol;
  std::int64_t tick = 1;
  std::int64_t center = 0;  // crossing prices are center + {-2..2} * tick * spread
  std::int64_t spread = 1;  // 0 when the band is too narrow for +/-2 ticks
  std::int64_t band_low = 0, band_high = 0;
  std::int64_t max_lots = 1;
  int first = 0;   // holds the base: sells in even rounds
  int second = 1;  // holds the quote: buys in even rounds
};

// Available holdings per agency: instrument symbol -> units.
using HoldingsMap = absl::flat_hash_map<std::string, std::int64_t>;

// Chooses the pairs to trade and their agencies. For each candidate pair (all of `pairs`,
// or only those named in `only`), `first` holds the base and `second`, another agency,
// the quote, each at least `reserve_rounds` rounds of max_lots; couples where each also
// holds the other side are preferred (selling back then never waits for fills), then the
// deepest holdings. A pair is skipped when no couple qualifies (or it is halted). Skipped pairs are listed
// in `skipped` with the reason. NotFoundError if `only` names an unknown pair;
// FailedPreconditionError if no pair is left.
absl::StatusOr<std::vector<PairPlan>> PlanPairs(const std::vector<PairInfo>& pairs,
                                                const std::vector<HoldingsMap>& holdings,
                                                const std::vector<std::string>& only,
                                                std::int64_t max_lots,
                                                std::int64_t reserve_rounds,
                                                std::vector<std::string>* skipped);

enum class OpKind { kCross, kPassive, kCancel };

struct Op {
  OpKind kind = OpKind::kCross;
  int pair = 0;     // index into the plans
  int agency = 0;   // index into the agency list (kCancel: the runner picks the offer)
  Side side = Side::kBuy;
  std::int64_t lots = 0;
  std::int64_t price = 0;
  bool maker = false;  // kCross: first half of its round
};

class Workload {
 public:
  static constexpr int kPeriod = 20;
  // Rounds per pair book before the seller changes; the second agency needs the first
  // block's fills before it can sell back, so blocks leave time for replies.
  static constexpr std::uint64_t kBlock = 8;

  // REQUIRES: !plans.empty(), 0 <= cancel_percent <= 45, max_lots >= 1.
  Workload(std::vector<PairPlan> plans, int cancel_percent, std::int64_t max_lots);

  Op At(std::uint64_t index) const;

  const std::vector<PairPlan>& plans() const { return plans_; }
  int cancels_per_period() const { return cancels_; }

 private:
  std::vector<PairPlan> plans_;
  int cancels_;   // k
  int crossing_;  // kPeriod - 2k, even
  std::int64_t max_lots_;
};

}  // namespace msx::loadgen

#endif  // MSX_CLIENTS_LOADGEN_WORKLOAD_H_
