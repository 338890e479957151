// Allocation auctions inside the engine (AUCTION.md "In the engine"; issue 15 s.3):
// Engine::Impl's RunAuction command and one book's call auction, which hands the book's
// resting offers to internal::CallAuction and applies its fills. Not the hot path: an
// auction runs once per book per tick and may grow its scratch buffers. Submit and Replace
// (engine.cc) only rest offers on a book in call-auction mode; ResumeContinuous (engine.cc,
// as it matches) uncrosses a book leaving that mode.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/matching/engine.h"
#include "engine/matching/internal/engine_impl.h"

namespace msx {

InstrumentId Engine::Impl::AuctionDriver(PairId pair) const {
  const PairBook& pb = ref_.pairs()[pair];
  return ref_.level_policy(live_[pb.base].level).mode == MatchingMode::kCallAuction ? pb.base
                                                                                     : pb.quote;
}

void Engine::Impl::RunAuctionCmd(const Command& cmd, std::vector<Event>* out) {
  const InstrumentId instrument = cmd.run_auction.instrument;
  if (instrument >= num_instruments_) {
    return Reject(cmd, RejectReason::kUnknownInstrument, 0, kNil, 0, out);
  }
  if (ref_.level_policy(live_[instrument].level).mode != MatchingMode::kCallAuction) {
    return Reject(cmd, RejectReason::kNoCallAuction, 0, kNil, 0, out);
  }
  for (PairId pair : pairs_of_[instrument]) {  // in pair id order
    const Book& b = books_[pair];
    if (CallAuctionMode(b) && !b.halted && AuctionDriver(pair) == instrument) {
      AuctionBook(cmd, pair, out);
    }
  }
}

void Engine::Impl::AuctionBook(const Command& cmd, PairId pair, std::vector<Event>* out) {
  Book& b = books_[pair];
  auction_buys_.clear();
  auction_sells_.clear();
  // Every open offer of the book takes part except those with an allow or deny list (only
  // offers resting since before the level rose have one: the algorithm knows eligibility
  // by agency only) and buy offers without a declared need, or whose need its fills have
  // met (they claim nothing). Time
  // priority is acceptance order, the offer id, which a snapshot keeps (it does not keep
  // the priority stamps' order across levels).
  if (b.allocated) {
    for (std::int64_t i = b.bids.best; i >= 0; i = b.bids.bits.PrevAtOrBefore(i - 1)) {
      ForEachInPriority(b.bids.levels[i], [&](OfferId id) {
        const OfferRecord& o = offers_[id];
        if (o.accept != kAllAgencies) return;
        const auto it = needs_.find(id);
        if (it == needs_.end()) return;
        // The need not yet met: what the offer has received (in any auction or continuous
        // fill) counts against it. No overflow: filled x lot size <= the base the offer
        // could receive, within the instrument's total.
        const Amount left = it->second.need - o.filled * b.lot_size;
        if (left <= 0) return;
        auction_buys_.push_back({id, o.agency, it->second.tier, o.open, o.price, left, id});
      });
    }
    for (std::int64_t i = b.asks.best; i >= 0; i = b.asks.bits.NextAtOrAfter(i + 1)) {
      ForEachInPriority(b.asks.levels[i], [&](OfferId id) {
        const OfferRecord& o = offers_[id];
        if (o.accept != kAllAgencies) return;
        auction_sells_.push_back({id, o.agency, o.open, o.price, id});
      });
    }
  }
  for (AgencyId a = 0; a < auction_eligible_.size(); ++a) {
    auction_eligible_[a] = a < ref_.agencies().size() ? Eligible(pair, a) : 0;
  }
  // The policy of the pair's level (the higher of its instruments' levels), as for its
  // band: a price control prices the auction at the reference, on the tick nearest to it
  // (half up) within the band, which lies at or above the floor.
  const LevelPolicy& policy = ref_.level_policy(GetPairLevel(pair));
  internal::AuctionParams params;
  params.lot_size = b.lot_size;
  params.tick = b.tick;
  const Price nearest = (b.reference_price + b.tick / 2) / b.tick * b.tick;
  params.reference = std::clamp(nearest, b.low, b.high);
  params.price_control = policy.band_bps > 0;
  params.agency_cap_bps = policy.agency_cap_bps;
  params.eligible = auction_eligible_;
  // The inputs come from accepted offers (lots and limits on the book's grid, needs > 0,
  // valid tiers, reservations within int64), so the algorithm does not refuse them; if it
  // ever did, the auction does not cross and nothing trades.
  const absl::Status status =
      auction_.Run(auction_buys_, auction_sells_, params, &auction_result_);
  const internal::AuctionResult& r = auction_result_;
  {
    Event& e = NewEvent(cmd, EventType::kAuction, out);
    e.auction.pair = pair;
    e.auction.crossed = status.ok() && r.crossed;
    if (e.auction.crossed) {
      e.auction.price = r.price;
      e.auction.executable = r.executable;
      e.auction.executed = r.executed;
      e.auction.supply = r.supply;
      e.auction.demand = r.demand;
      e.auction.agency_cap = r.agency_cap;
    }
  }
  if (!status.ok() || !r.crossed) return;
  for (const internal::AuctionFill& f : r.fills) {
    OfferRecord& buy = offers_[f.buy_offer];
    OfferRecord& sell = offers_[f.sell_offer];
    const std::int64_t bi = (buy.price - b.low) / b.tick;
    const std::int64_t si = (sell.price - b.low) / b.tick;
    Level& bl = b.bids.levels[bi];
    Level& sl = b.asks.levels[si];
    Touch(pair, Side::kBuy, bi, bl);
    Touch(pair, Side::kSell, si, sl);
    const Lots q = f.lots;
    // No overflow: q <= both offers' open lots, and the price <= the buyer's limit, whose
    // reservation (open x limit) fit at acceptance.
    const Amount base_amount = q * b.lot_size;
    const Amount quote_amount = q * f.price;
    H(sell.agency, b.base).reserved -= base_amount;
    H(sell.agency, b.quote).available += quote_amount;
    H(buy.agency, b.base).available += base_amount;
    // The buyer reserved its limit; what the auction price saves returns to available.
    HoldingInfo& bq = H(buy.agency, b.quote);
    const Amount buyer_reserved = q * buy.price;
    bq.reserved -= buyer_reserved;
    bq.available += buyer_reserved - quote_amount;
    buy.open -= q;
    buy.filled += q;
    sell.open -= q;
    sell.filled += q;
    bl.lots -= q;
    sl.lots -= q;

    Event& e = NewEvent(cmd, EventType::kFill, out);
    e.fill.fill_id = next_fill_id_++;
    e.fill.pair = pair;
    e.fill.aggressor_side = Side::kBuy;  // no aggressor in an auction: the allocated side
    e.fill.maker_offer = f.sell_offer;
    e.fill.taker_offer = f.buy_offer;
    e.fill.maker_agency = sell.agency;
    e.fill.taker_agency = buy.agency;
    e.fill.lots = q;
    e.fill.price = f.price;
    e.fill.base_amount = base_amount;
    e.fill.quote_amount = quote_amount;
    e.fill.maker_open = sell.open;
    e.fill.taker_open = buy.open;

    // A filled offer leaves its level (Detach takes its 0 open lots off the total).
    if (sell.open == 0) {
      Unlink(b, b.asks, f.sell_offer, sell, si);
      sell.status = OfferStatus::kFilled;
      --open_count_;
      Finished(cmd.time, f.sell_offer);
    }
    if (buy.open == 0) {
      Unlink(b, b.bids, f.buy_offer, buy, bi);
      buy.status = OfferStatus::kFilled;
      --open_count_;
      Finished(cmd.time, f.buy_offer);
    }
  }
}

}  // namespace msx
