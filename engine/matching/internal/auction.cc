#include "engine/matching/internal/auction.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"

namespace msx::internal {
namespace {

constexpr __int128 kInt64Max = std::numeric_limits<std::int64_t>::max();

// A buyer and a seller may trade when each lets the other (AuctionParams::eligible) and
// they are different agencies (an agency never trades with itself).
bool MayTrade(absl::Span<const AgencyMask> eligible, AgencyId buyer, AgencyId seller) {
  return buyer != seller && ((eligible[buyer] >> seller) & 1) != 0 &&
         ((eligible[seller] >> buyer) & 1) != 0;
}

// The price in [lo, hi] (multiples of tick, lo <= hi) nearest to `reference`; of two at
// the same distance, the lower.
Price NearestOnTick(Price reference, Price lo, Price hi, Price tick) {
  if (reference <= lo) return lo;
  if (reference >= hi) return hi;
  const Price down = reference - reference % tick;  // >= lo: lo is a multiple below
  if (down == reference) return down;
  const Price up = down + tick;                      // <= hi: hi is a multiple above
  return reference - down <= up - reference ? down : up;
}

std::uint64_t Distance(Price a, Price b) {
  return a >= b ? static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b)
                : static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);
}

}  // namespace

absl::Status CallAuction::Run(absl::Span<const AuctionBuy> buys,
                              absl::Span<const AuctionSell> sells,
                              const AuctionParams& params, AuctionResult* result) {
  std::vector<AuctionFill> fills = std::move(result->fills);
  fills.clear();
  *result = AuctionResult{};
  result->fills = std::move(fills);
  auto invalid = [](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("auction: ", parts...));
  };

  if (params.lot_size <= 0) return invalid("lot_size ", params.lot_size, " is not positive");
  if (params.tick <= 0) return invalid("tick ", params.tick, " is not positive");
  if (params.reference <= 0) {
    return invalid("reference ", params.reference, " is not positive");
  }
  if (params.agency_cap_bps < 0 || params.agency_cap_bps > kFullShareBps) {
    return invalid("agency_cap_bps ", params.agency_cap_bps, " is outside 0..10000");
  }
  if (params.eligible.size() > static_cast<std::size_t>(kMaxAgencies)) {
    return invalid("eligible has ", params.eligible.size(), " agencies, more than ",
                   kMaxAgencies);
  }
  if (buys.size() > std::numeric_limits<std::uint32_t>::max() ||
      sells.size() > std::numeric_limits<std::uint32_t>::max()) {
    return invalid("more than 2^32 offers");
  }
  const std::size_t num_agencies = params.eligible.size();

  // Validate, and turn each declared need into a claim in whole lots. The three sums are
  // checked against int64 so that every later sum of lots or of needs fits in 64 bits and
  // every product of a lot count and a need fits in 127.
  claims_.resize(buys.size());
  __int128 total_claim = 0;
  __int128 total_need = 0;
  for (std::size_t i = 0; i < buys.size(); ++i) {
    const AuctionBuy& b = buys[i];
    if (b.agency >= num_agencies) {
      return invalid("buy offer ", b.offer, ": agency ", b.agency, " is not below ",
                     num_agencies);
    }
    if (static_cast<int>(b.tier) < 1 || static_cast<int>(b.tier) > kNumPriorityTiers) {
      return invalid("buy offer ", b.offer, ": tier ", static_cast<int>(b.tier),
                     " is not 1..", kNumPriorityTiers);
    }
    if (b.lots <= 0) return invalid("buy offer ", b.offer, ": lots ", b.lots, " not positive");
    if (b.limit <= 0 || b.limit % params.tick != 0) {
      return invalid("buy offer ", b.offer, ": limit ", b.limit,
                     " is not a positive multiple of the tick ", params.tick);
    }
    if (b.need < 0) return invalid("buy offer ", b.offer, ": need ", b.need, " is negative");
    const Lots need_lots = b.need / params.lot_size + (b.need % params.lot_size != 0 ? 1 : 0);
    claims_[i] = std::min(b.lots, need_lots);
    total_claim += claims_[i];
    total_need += b.need;
  }
  if (total_claim > kInt64Max) return invalid("the buy offers' claimed lots exceed int64");
  if (total_need > kInt64Max) return invalid("the buy offers' declared needs exceed int64");
  __int128 total_sell = 0;
  for (const AuctionSell& s : sells) {
    if (s.agency >= num_agencies) {
      return invalid("sell offer ", s.offer, ": agency ", s.agency, " is not below ",
                     num_agencies);
    }
    if (s.lots <= 0) return invalid("sell offer ", s.offer, ": lots ", s.lots, " not positive");
    if (s.limit <= 0 || s.limit % params.tick != 0) {
      return invalid("sell offer ", s.offer, ": limit ", s.limit,
                     " is not a positive multiple of the tick ", params.tick);
    }
    total_sell += s.lots;
  }
  if (total_sell > kInt64Max) return invalid("the sell offers' lots exceed int64");

  // The aggregate curves: one point per distinct limit price, in price order. When the
  // limits span few ticks (always in the engine, whose bands span at most 2^18 ticks),
  // one bucket per tick replaces the sort.
  points_.clear();
  Price lowest = std::numeric_limits<Price>::max();
  Price highest = 0;
  for (std::size_t i = 0; i < buys.size(); ++i) {
    if (claims_[i] == 0) continue;
    lowest = std::min(lowest, buys[i].limit);
    highest = std::max(highest, buys[i].limit);
  }
  for (const AuctionSell& s : sells) {
    lowest = std::min(lowest, s.limit);
    highest = std::max(highest, s.limit);
  }
  if (highest == 0) return absl::OkStatus();  // no claims and no supply
  const std::uint64_t span = static_cast<std::uint64_t>((highest - lowest) / params.tick) + 1;
  if (span <= 4 * (buys.size() + sells.size()) + (1u << 16)) {
    buckets_.assign(span, PricePoint{0, 0, 0});
    for (std::size_t i = 0; i < buys.size(); ++i) {
      if (claims_[i] > 0) buckets_[(buys[i].limit - lowest) / params.tick].buy += claims_[i];
    }
    for (const AuctionSell& s : sells) buckets_[(s.limit - lowest) / params.tick].sell += s.lots;
    for (std::uint64_t k = 0; k < span; ++k) {
      const PricePoint& b = buckets_[k];
      if (b.buy != 0 || b.sell != 0) {
        points_.push_back({lowest + static_cast<Price>(k) * params.tick, b.buy, b.sell});
      }
    }
  } else {
    for (std::size_t i = 0; i < buys.size(); ++i) {
      if (claims_[i] > 0) points_.push_back({buys[i].limit, claims_[i], 0});
    }
    for (const AuctionSell& s : sells) points_.push_back({s.limit, 0, s.lots});
    std::sort(points_.begin(), points_.end(),
              [](const PricePoint& a, const PricePoint& b) { return a.price < b.price; });
    std::size_t distinct = 0;
    for (const PricePoint& p : points_) {
      if (distinct > 0 && points_[distinct - 1].price == p.price) {
        points_[distinct - 1].buy += p.buy;
        points_[distinct - 1].sell += p.sell;
      } else {
        points_[distinct++] = p;
      }
    }
    points_.resize(distinct);
  }
  Uncross(static_cast<Lots>(total_claim), params, result);
  if (!result->crossed) return absl::OkStatus();
  const Price price = result->price;
  result->agency_cap = static_cast<Lots>(static_cast<__int128>(result->supply) *
                                         params.agency_cap_bps / kFullShareBps);

  // Bids at or above the price, grouped by (tier, agency), each group in time priority.
  bids_.clear();
  AgencyMask buyers = 0;
  for (std::size_t i = 0; i < buys.size(); ++i) {
    if (claims_[i] > 0 && buys[i].limit >= price) {
      const AuctionBuy& b = buys[i];
      const auto group = static_cast<std::uint32_t>(static_cast<std::uint32_t>(b.tier) *
                                                        kMaxAgencies + b.agency);
      bids_.push_back({group, static_cast<std::uint32_t>(i), b.priority, b.offer, claims_[i]});
      buyers |= AgencyMask{1} << b.agency;
    }
  }
  std::sort(bids_.begin(), bids_.end(), [](const Bid& x, const Bid& y) {
    if (x.group != y.group) return x.group < y.group;
    if (x.priority != y.priority) return x.priority < y.priority;
    if (x.offer != y.offer) return x.offer < y.offer;
    return x.index < y.index;
  });
  claimants_.clear();
  for (std::uint32_t i = 0; i < bids_.size(); ++i) {
    const AuctionBuy& b = buys[bids_[i].index];
    if (claimants_.empty() || claimants_.back().tier != b.tier ||
        claimants_.back().agency != b.agency) {
      claimants_.push_back({i, i, i, b.agency, b.tier, b.priority, b.offer, 0, 0});
    }
    Claimant& c = claimants_.back();
    c.end = i + 1;
    c.need += b.need;
    c.claim_left += bids_[i].left;
  }

  // Asks at or below the price, pooled by the set of buying agencies their seller may
  // trade with, each pool in time priority.
  AgencyMask pool_of[kMaxAgencies] = {};
  for (AgencyId s = 0; s < num_agencies; ++s) {
    for (AgencyId b = 0; b < num_agencies; ++b) {
      if (((buyers >> b) & 1) != 0 && MayTrade(params.eligible, b, s)) {
        pool_of[s] |= AgencyMask{1} << b;
      }
    }
  }
  asks_.clear();
  for (std::size_t i = 0; i < sells.size(); ++i) {
    const AuctionSell& s = sells[i];
    if (s.limit <= price) {
      asks_.push_back({pool_of[s.agency], s.priority, s.offer, static_cast<std::uint32_t>(i),
                       s.lots});
    }
  }
  std::sort(asks_.begin(), asks_.end(), [](const Ask& x, const Ask& y) {
    if (x.pool != y.pool) return x.pool < y.pool;
    if (x.priority != y.priority) return x.priority < y.priority;
    if (x.offer != y.offer) return x.offer < y.offer;
    return x.index < y.index;
  });
  pools_.clear();
  for (std::uint32_t i = 0; i < asks_.size(); ++i) {
    const AuctionSell& s = sells[asks_[i].index];
    if (pools_.empty() || pools_.back().buyers != pool_of[s.agency]) {
      pools_.push_back({pool_of[s.agency], i, i, i, s.priority, s.offer, 0});
    }
    pools_.back().end = i + 1;
    pools_.back().left += asks_[i].left;
  }
  // The most constrained supply first: pools whose sellers may trade with fewer buying
  // agencies are split before pools that could serve the same buyers from elsewhere.
  std::sort(pools_.begin(), pools_.end(), [](const Pool& a, const Pool& b) {
    const int na = __builtin_popcountll(a.buyers);
    const int nb = __builtin_popcountll(b.buyers);
    if (na != nb) return na < nb;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.offer < b.offer;
  });

  // Tier by tier, pool by pool: water-fill the pool among the tier's eligible claimants.
  Lots cap_left[kMaxAgencies];
  std::fill(cap_left, cap_left + kMaxAgencies, result->agency_cap);
  std::uint32_t tier_begin = 0;
  while (tier_begin < claimants_.size()) {
    const PriorityTier tier = claimants_[tier_begin].tier;
    std::uint32_t tier_end = tier_begin;
    while (tier_end < claimants_.size() && claimants_[tier_end].tier == tier) ++tier_end;
    for (Pool& pool : pools_) {
      if (pool.left == 0) continue;
      shares_.clear();
      for (std::uint32_t c = tier_begin; c < tier_end; ++c) {
        const Claimant& claimant = claimants_[c];
        if (((pool.buyers >> claimant.agency) & 1) == 0) continue;
        const Lots claim = std::min(claimant.claim_left, cap_left[claimant.agency]);
        if (claim > 0) shares_.push_back({c, claimant.need, claim, 0, 0});
      }
      if (shares_.empty()) continue;
      WaterFill(pool.left);
      std::sort(shares_.begin(), shares_.end(), [&](const Share& a, const Share& b) {
        const Claimant& x = claimants_[a.claimant];
        const Claimant& y = claimants_[b.claimant];
        if (x.priority != y.priority) return x.priority < y.priority;
        return x.offer < y.offer;
      });
      for (const Share& share : shares_) {
        if (share.lots == 0) continue;
        Claimant& claimant = claimants_[share.claimant];
        cap_left[claimant.agency] -= share.lots;
        claimant.claim_left -= share.lots;
        pool.left -= share.lots;
        result->executed += share.lots;
        EmitFills(claimant, pool, share.lots, price, buys, sells, &result->fills);
      }
    }
    tier_begin = tier_end;
  }
  return absl::OkStatus();
}

void CallAuction::Uncross(Lots total_buy, const AuctionParams& params,
                          AuctionResult* result) {
  if (params.price_control) {
    Lots demand = 0;
    Lots supply = 0;
    for (const PricePoint& p : points_) {
      if (p.price >= params.reference) demand += p.buy;
      if (p.price <= params.reference) supply += p.sell;
    }
    const Lots volume = std::min(demand, supply);
    if (volume == 0) return;
    result->crossed = true;
    result->price = params.reference;
    result->executable = volume;
    result->supply = supply;
    result->demand = demand;
    return;
  }
  // Demand D(p) (claimed lots bid at or above p) only falls and supply S(p) (lots offered
  // at or below p) only rises with p, and both change only at limit prices. So it is
  // enough to look at each limit price x_k and, between two neighbours x_k < x_{k+1}, at
  // the open gap where D = D(x_{k+1}) and S = S(x_k): there the volume is never above
  // either neighbour's, but it can tie with them, and then the gap's price nearest to the
  // reference may be the nearest of all.
  bool have = false;
  Lots best_volume = 0;
  Lots best_imbalance = 0;
  std::uint64_t best_distance = 0;
  Price best_price = 0;
  Lots best_demand = 0;
  Lots best_supply = 0;
  auto consider = [&](Lots demand, Lots supply, Price price) {
    const Lots volume = std::min(demand, supply);
    if (volume == 0) return;
    const Lots imbalance = demand > supply ? demand - supply : supply - demand;
    const std::uint64_t distance = Distance(price, params.reference);
    const bool better =
        !have || volume > best_volume ||
        (volume == best_volume &&
         (imbalance < best_imbalance ||
          (imbalance == best_imbalance &&
           (distance < best_distance || (distance == best_distance && price < best_price)))));
    if (!better) return;
    have = true;
    best_volume = volume;
    best_imbalance = imbalance;
    best_distance = distance;
    best_price = price;
    best_demand = demand;
    best_supply = supply;
  };
  Lots sell_at_or_below = 0;
  Lots buy_below = 0;
  for (std::size_t k = 0; k < points_.size(); ++k) {
    const PricePoint& x = points_[k];
    sell_at_or_below += x.sell;
    consider(total_buy - buy_below, sell_at_or_below, x.price);
    buy_below += x.buy;
    if (k + 1 < points_.size()) {
      // Both neighbours are multiples of the tick, so neither bound overflows.
      const Price lo = x.price + params.tick;
      const Price hi = points_[k + 1].price - params.tick;
      if (lo <= hi) {
        consider(total_buy - buy_below, sell_at_or_below,
                 NearestOnTick(params.reference, lo, hi, params.tick));
      }
    }
  }
  if (!have) return;
  result->crossed = true;
  result->price = best_price;
  result->executable = best_volume;
  result->supply = best_supply;
  result->demand = best_demand;
}

void CallAuction::WaterFill(Lots supply) {
  __int128 total_claim = 0;
  for (const Share& s : shares_) total_claim += s.claim;
  if (total_claim <= supply) {
    for (Share& s : shares_) s.lots = s.claim;
    return;
  }
  // Each share gets min(claim, lambda * weight) for the one lambda that hands out exactly
  // `supply`: visiting shares by claim / weight ascending, a share whose pro-rata quota
  // of what is left (left * weight / weight_left) reaches its claim is capped at the claim,
  // which raises the quota of those after it. The first share that is not capped ends the
  // capping: every later one has a larger claim / weight ratio, so its quota stays
  // strictly below its claim, and so does its quota rounded up (the largest remainder adds
  // at most one lot).
  std::sort(shares_.begin(), shares_.end(), [&](const Share& a, const Share& b) {
    const __int128 lhs = static_cast<__int128>(a.claim) * b.weight;
    const __int128 rhs = static_cast<__int128>(b.claim) * a.weight;
    if (lhs != rhs) return lhs < rhs;
    const Claimant& x = claimants_[a.claimant];
    const Claimant& y = claimants_[b.claimant];
    if (x.priority != y.priority) return x.priority < y.priority;
    return x.offer < y.offer;
  });
  Lots left = supply;
  __int128 weight_left = 0;
  for (const Share& s : shares_) weight_left += s.weight;
  std::size_t k = 0;
  for (; k < shares_.size(); ++k) {
    Share& s = shares_[k];
    if (static_cast<__int128>(left) * s.weight < static_cast<__int128>(s.claim) * weight_left) {
      break;
    }
    s.lots = s.claim;
    left -= s.claim;
    weight_left -= s.weight;
  }
  // Pro rata with the largest remainder among the rest. left * weight < 2^126; the
  // remainders share the denominator weight_left, so they compare as integers.
  Lots given = 0;
  for (std::size_t j = k; j < shares_.size(); ++j) {
    Share& s = shares_[j];
    const __int128 quota = static_cast<__int128>(left) * s.weight;
    s.lots = static_cast<Lots>(quota / weight_left);
    s.remainder = static_cast<unsigned __int128>(quota % weight_left);
    given += s.lots;
  }
  std::sort(shares_.begin() + static_cast<std::ptrdiff_t>(k), shares_.end(),
            [&](const Share& a, const Share& b) {
              if (a.remainder != b.remainder) return a.remainder > b.remainder;
              const Claimant& x = claimants_[a.claimant];
              const Claimant& y = claimants_[b.claimant];
              if (x.priority != y.priority) return x.priority < y.priority;
              return x.offer < y.offer;
            });
  // Fewer lots are left over than shares remain: each quota lost less than one lot.
  for (std::size_t j = k; given < left; ++j, ++given) ++shares_[j].lots;
}

void CallAuction::EmitFills(Claimant& claimant, Pool& pool, Lots lots, Price price,
                            absl::Span<const AuctionBuy> buys,
                            absl::Span<const AuctionSell> sells,
                            std::vector<AuctionFill>* fills) {
  // The claimant's bids still open from its cursor sum to at least claim_left + lots (its
  // lots were just taken off), and the pool's asks from its cursor to at least its lots.
  while (lots > 0) {
    Bid& bid = bids_[claimant.cursor];
    Ask& ask = asks_[pool.cursor];
    const Lots q = std::min({lots, bid.left, ask.left});
    const AuctionBuy& b = buys[bid.index];
    const AuctionSell& s = sells[ask.index];
    fills->push_back({b.offer, s.offer, b.agency, s.agency, b.tier, q, price});
    bid.left -= q;
    ask.left -= q;
    lots -= q;
    if (bid.left == 0) ++claimant.cursor;
    if (ask.left == 0) ++pool.cursor;
  }
}

}  // namespace msx::internal
