#include "clients/loadgen/workload.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace msx::loadgen {
namespace {

// SplitMix64: a well-mixed hash of the round number, identical for both halves of a round.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::int64_t Available(const HoldingsMap& h, const std::string& instrument) {
  auto it = h.find(instrument);
  return it == h.end() ? 0 : it->second;
}

}  // namespace

absl::StatusOr<std::vector<PairPlan>> PlanPairs(const std::vector<PairInfo>& pairs,
                                                const std::vector<HoldingsMap>& holdings,
                                                const std::vector<std::string>& only,
                                                std::int64_t max_lots, std::int64_t reserve_rounds,
                                                std::vector<std::string>* skipped) {
  absl::flat_hash_set<std::string> wanted(only.begin(), only.end());
  for (const auto& name : only) {
    bool known = std::any_of(pairs.begin(), pairs.end(),
                             [&](const PairInfo& p) { return p.symbol == name; });
    if (!known) return absl::NotFoundError(absl::StrCat("--pairs: unknown pair ", name));
  }
  std::vector<PairPlan> plans;
  for (const PairInfo& p : pairs) {
    if (!wanted.empty() && !wanted.contains(p.symbol)) continue;
    auto skip = [&](const std::string& why) {
      if (skipped != nullptr) skipped->push_back(absl::StrCat(p.symbol, ": ", why));
    };
    if (p.halted) {
      skip("halted");
      continue;
    }
    if (p.tick <= 0 || p.band_low <= 0 || p.band_high < p.band_low) {
      skip("no valid band");
      continue;
    }
    std::int64_t lots = std::min(max_lots, p.max_lots);
    // Saturating: a pair whose round would overflow is simply not worth trading.
    std::int64_t base_need = 0, quote_need = 0;
    if (__builtin_mul_overflow(lots * reserve_rounds, p.base_lot_size, &base_need) ||
        __builtin_mul_overflow(lots * reserve_rounds, p.band_high, &quote_need)) {
      skip("amounts overflow");
      continue;
    }
    // Candidates: `first` holds the base, `second` another agency holding the quote. Prefer
    // a couple that also holds the other side, so that selling back does not depend on
    // the previous block's fills having landed; then the largest holdings.
    int first = -1, second = -1;
    bool best_both = false;
    std::int64_t best_depth = -1;
    bool any_base = false;
    const int agencies = static_cast<int>(holdings.size());
    for (int a = 0; a < agencies; ++a) {
      const std::int64_t a_base = Available(holdings[a], p.base);
      if (a_base < base_need) continue;
      any_base = true;
      for (int b = 0; b < agencies; ++b) {
        const std::int64_t b_quote = Available(holdings[b], p.quote);
        if (b == a || b_quote < quote_need) continue;
        const bool both = Available(holdings[a], p.quote) >= quote_need &&
                          Available(holdings[b], p.base) >= base_need;
        const std::int64_t depth = std::min(a_base / std::max<std::int64_t>(base_need, 1),
                                            b_quote / std::max<std::int64_t>(quote_need, 1));
        if (std::make_pair(both, depth) > std::make_pair(best_both, best_depth)) {
          first = a;
          second = b;
          best_both = both;
          best_depth = depth;
        }
      }
    }
    if (first < 0 || second < 0) {
      skip(!any_base ? "no agency holds enough base" : "no other agency holds enough quote");
      continue;
    }
    PairPlan plan;
    plan.symbol = p.symbol;
    plan.tick = p.tick;
    plan.band_low = p.band_low;
    plan.band_high = p.band_high;
    plan.max_lots = lots;
    plan.first = first;
    plan.second = second;
    // Crossing prices: the reference price on the tick, kept 2 ticks inside each band edge
    // so that they never meet the passive offers resting on the edges.
    std::int64_t center = p.reference_price / p.tick * p.tick;
    std::int64_t lo = p.band_low + 3 * p.tick, hi = p.band_high - 3 * p.tick;
    if (lo <= hi) {
      plan.center = std::clamp(center, lo, hi);
      plan.spread = 1;
    } else {
      plan.center = std::clamp(center, p.band_low, p.band_high);
      plan.spread = 0;
    }
    plans.push_back(plan);
  }
  if (plans.empty()) {
    return absl::FailedPreconditionError(
        "no pair can be traded: every candidate lacks holdings or is halted");
  }
  return plans;
}

Workload::Workload(std::vector<PairPlan> plans, int cancel_percent, std::int64_t max_lots)
    : plans_(std::move(plans)), max_lots_(max_lots) {
  cancels_ = (cancel_percent * kPeriod + 50) / 100;
  crossing_ = kPeriod - 2 * cancels_;
}

Op Workload::At(std::uint64_t index) const {
  const std::uint64_t period = index / kPeriod;
  const int pos = static_cast<int>(index % kPeriod);
  const std::uint64_t n = plans_.size();
  Op op;
  if (pos < crossing_) {
    const std::uint64_t round = period * (crossing_ / 2) + pos / 2;
    op.kind = OpKind::kCross;
    op.pair = static_cast<int>(round % n);
    const PairPlan& p = plans_[op.pair];
    // The pair's own k-th round. Blocks of kBlock rounds alternate the seller; round j of
    // a selling-back block repeats round j of the block before it (same price and lots),
    // so each agency ends a cycle of two blocks with the holdings it started with. Within
    // a block one agency only sells and the other only buys: no self-matches.
    const std::uint64_t k = round / n;
    const std::uint64_t block = k / kBlock;
    const bool flipped = block % 2 == 1;
    op.maker = pos % 2 == 0;
    const bool is_seller = op.maker;
    op.side = is_seller ? Side::kSell : Side::kBuy;
    const bool seller_is_first = !flipped;
    op.agency = (is_seller == seller_is_first) ? p.first : p.second;
    // One price and size per pair and cycle: every round of a block (and of the block that
    // sells it back) is alike, so however the rounds of a block overtake each other on
    // their way to the book (many requests in flight, --api order-entry), its buys and
    // sells still fill each other completely. With a price per round, a buy of one round
    // meeting the cheaper sell of the next left two offers resting apart, whose reserved
    // holdings then turned later offers into INSUFFICIENT_HOLDINGS rejects.
    const std::uint64_t cycle = block / 2;
    const std::uint64_t h = Mix(cycle * n + static_cast<std::uint64_t>(op.pair));
    op.price = p.center + (static_cast<std::int64_t>(h % 5) - 2) * p.tick * p.spread;
    op.lots = 1 + static_cast<std::int64_t>(
                      (h >> 8) % static_cast<std::uint64_t>(std::min(max_lots_, p.max_lots)));
    return op;
  }
  const std::uint64_t slot = period * cancels_ + (pos - crossing_) % std::max(cancels_, 1);
  if (pos < crossing_ + cancels_) {
    op.kind = OpKind::kPassive;
    op.pair = static_cast<int>(slot % n);
    const PairPlan& p = plans_[op.pair];
    op.lots = 1;
    if ((slot / n) % 2 == 0) {
      op.agency = p.first;
      op.side = Side::kSell;
      op.price = p.band_high;
    } else {
      op.agency = p.second;
      op.side = Side::kBuy;
      op.price = p.band_low;
    }
    return op;
  }
  op.kind = OpKind::kCancel;
  return op;
}

}  // namespace msx::loadgen
