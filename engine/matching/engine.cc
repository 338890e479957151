// The MSX matching engine's hot path: Engine::Impl's command handling (Apply, Submit,
// Match, Cancel, Replace, expiry, purges) and Prefetch, in one translation unit so that
// they inline into one another. See engine.h for the contract, ENGINE.md for the rules and
// the event order, internal/engine_impl.h for Impl's state, engine_queries.cc for the
// queries and engine_state.cc for SaveState / LoadState.
//
// Data layout (no allocation per offer in steady state):
// - Every accepted offer gets a record in `offers_`, a chunked array indexed by offer id
//   (ids are dense: 1, 2, 3, ...). Chunks of 65,536 records are allocated as ids grow
//   and never move. Records of finished offers stay until the retention window after
//   they finished has passed (queries and idempotency need them until then); then they
//   are purged, oldest finish first, a few per command, and a chunk whose offers are all
//   purged is freed (kept for reuse by later chunks).
// - Each pair book side is a dense array of price levels indexed by
//   (price - band_low) / tick (from a huge-page arena, allocated when the book is first
//   used), plus a two-level bitmap of non-empty levels for best-price and next-level lookups.
// - A non-empty level holds one intrusive doubly-linked FIFO per agency (prev/next live in
//   the offer record; the heads and tails in a recycled block of `lists_`); each offer's
//   `stamp` orders it across agencies. A match walk merges only the FIFOs of the agencies
//   the taker may trade with (and its own, for self-match), so makers it would skip are
//   never read. Cancel, expiry and fills unlink the offer at once (its two neighbours are
//   independent reads that Engine::Prefetch starts commands ahead), so every linked offer
//   is open and a walk never waits on an entry it cannot trade with: adding, cancelling
//   and filling are O(1) at any depth.
// - Client ids map to offer ids in internal::ClientIndex (sorted per-agency arrays for
//   increasing ids, a hash map for the rest).
// - GTD expiries sit in a binary min-heap of (expiry, offer id) with lazy deletion.
#include "engine/matching/engine.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "engine/matching/internal/engine_impl.h"
#include "engine/matching/internal/new_event.h"

namespace msx {
namespace {

using internal::NewEvent;

// Purges per command once finished offers are due (ENGINE.md, "Retention"). Each offer
// finishes once and every offer takes a command to create, so two per command drain any
// backlog; AdvanceTime, which does nothing else, takes more.
constexpr int kPurgePerCommand = 2;
constexpr int kPurgePerAdvanceTime = 64;

}  // namespace

void Engine::Impl::Reset() {
  const std::size_t num_agencies = ref_.agencies().size();
  const std::size_t num_instruments = ref_.instruments().size();
  num_instruments_ = num_instruments;
  valid_agencies_ =
      num_agencies >= 64 ? kAllAgencies : ((AgencyMask{1} << num_agencies) - 1);
  books_.clear();
  level_arena_.Clear();
  books_.resize(ref_.pairs().size());
  num_agencies_ = std::max<std::size_t>(num_agencies, 1);
  ResetLive();
  for (const PairBook& pb : ref_.pairs()) {
    Book& b = books_[pb.id];
    b.tick = pb.tick;
    b.max_lots = pb.max_lots;
    b.lot_size = ref_.instruments()[pb.base].lot_size;
    b.base = pb.base;
    b.quote = pb.quote;
    b.guard = GuardOf(pb.id);
    // The reference data's prices, narrowed when the configured NORMAL policy controls
    // prices (DeriveBand never fails on values the builder accepted).
    PairBand band;
    if (!DeriveBand(pb.id, &band)) {
      band = {pb.reference_price, pb.band_low, pb.band_high, pb.floor_price};
    }
    SetGrid(b, band);
  }
  holdings_.assign(num_agencies * num_instruments, HoldingInfo{});
  totals_.assign(num_instruments, 0);
  offers_.Clear();
  offers_.Reserve(options_.expected_offers, options_.prefault);
  client_index_.Reset(num_agencies, options_.expected_offers, options_.prefault);
  expiries_.clear();
  expiries_.reserve(1024);
  done_.clear();
  retention_ = 0;
  purged_ = 0;
  touched_.clear();
  touched_.reserve(4096);
  num_agencies_ = std::max<std::size_t>(num_agencies, 1);
  lists_.clear();
  lists_.reserve(num_agencies_ * kInitialListBlocks);
  AdviseHugePages(lists_.data(), lists_.capacity() * sizeof(AgencyList));
  free_lists_.clear();
  free_lists_.reserve(kInitialListBlocks);
  next_priority_ = 1;
  open_count_ = 0;
  next_fill_id_ = 1;
  last_seq_ = 0;
  last_time_ = 0;
  stamp_ = 0;
  time_swaps_.Reset(options_.expected_offers);
  needs_.clear();
  auction_eligible_.assign(num_agencies_, 0);
  deliveries_.Reset();
  RecountDeliverBy();
}

inline void Engine::Impl::Apply(const Command& cmd, std::vector<Event>* out) noexcept {
  ++stamp_;
  touched_.clear();
  last_seq_ = cmd.seq;
  last_time_ = cmd.time;
  ExpireDue(cmd, out);
  if (retention_ > 0 && !done_.empty()) PurgeDue(cmd);
  if (cmd.time >= next_reference_time_) [[unlikely]] ApplyDueReferences(cmd, out);
  if (time_swaps_.Pending()) [[unlikely]] time_swaps_.AdvanceTime(cmd, out);
  if (cmd.time > deliveries_.NextDeliverBy()) [[unlikely]] deliveries_.MarkOverdue(cmd, out);
  // The fills of this command start here (ENGINE.md "Deliveries").
  const std::size_t first = out->size();
  switch (cmd.type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitOfferWithNeed:
      Submit(cmd, out);
      break;
    case CommandType::kCancelOffer:
      Cancel(cmd, out);
      break;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
      Replace(cmd, out);
      break;
    case CommandType::kAdvanceTime:
      break;  // expiry already ran
    case CommandType::kSetHoldings:
      SetHoldingsCmd(cmd, out);
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      HaltResume(cmd, out);
      break;
    case CommandType::kSetOfferRetention:
      SetRetention(cmd);
      break;
    case CommandType::kSubmitTermOffer:
    case CommandType::kCancelTermOffer:
    case CommandType::kReplaceTermOffer:
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      time_swaps_.Apply(cmd, out);
      break;
    case CommandType::kPublishReference:
      PublishReferenceCmd(cmd, out);
      break;
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
      MemberCmd(cmd, out);
      break;
    case CommandType::kSetEmergencyLevel:
      SetLevelCmd(cmd, out);
      break;
    case CommandType::kRunAuction:
      RunAuctionCmd(cmd, out);
      break;
    case CommandType::kConfirmDelivery:
      ConfirmDeliveryCmd(cmd, out);
      break;
    case CommandType::kFollowLiveReference:
      FollowLiveCmd(cmd, out);
      break;
    default: {
      Event& e = NewEvent(cmd, EventType::kRejected, out);
      e.rejected.command = cmd.type;
      e.rejected.reason = RejectReason::kNone;
      break;
    }
  }
  // After the switch: a term command may have opened the first loan.
  if (time_swaps_.Pending()) [[unlikely]] time_swaps_.CollectOverdue(cmd, out);
  // At NORMAL to CAUTION this is one load and branch per command: no fill is looked at.
  if (any_deliver_by_) [[unlikely]] OpenDeliveries(cmd, first, out);
  FlushLevels(cmd, out);
}

void Engine::Impl::Prefetch(const Command& c, int hop) const noexcept {
  const int step = hop <= 0 ? 0 : hop == 1 ? 1 : 2;
  OfferId id = kNil;
  if (c.type == CommandType::kCancelOffer) id = c.cancel.offer;
  if (c.type == CommandType::kReplaceOffer || c.type == CommandType::kReplaceOfferOpenLots) {
    id = c.replace.offer;
  }
  if (id != kNil && id <= offers_.size() && offers_.Resident(id)) {
    const OfferRecord& o = offers_[id];
    if (step != 1) {
      // Hop 2 does not read the record: as the single call of a caller without a queue,
      // the record is all it can start loading without waiting for it.
      __builtin_prefetch(&o);
      return;
    }
    // From the record: the level the cancel or replace updates and the FIFO neighbours it
    // is unlinked from (independent lines, loaded together).
    if (o.status != OfferStatus::kOpen || o.pair >= books_.size()) return;
    const Book& b = books_[o.pair];
    if (!b.allocated || o.price < b.low || o.price > b.high) return;
    __builtin_prefetch(
        &(o.side == Side::kBuy ? b.bids : b.asks).levels[(o.price - b.low) / b.tick]);
    if (o.prev != kNil && o.prev <= offers_.size()) __builtin_prefetch(&offers_[o.prev], 1);
    if (o.next != kNil && o.next <= offers_.size()) __builtin_prefetch(&offers_[o.next], 1);
    return;
  }
  if ((c.type != CommandType::kSubmitOffer && c.type != CommandType::kSubmitOfferWithNeed) ||
      SubmitBody(c).pair >= books_.size()) {
    return;
  }
  const SubmitOffer& s = SubmitBody(c);
  const Book& b = books_[s.pair];
  if (!b.allocated || s.price < b.low || s.price > b.high) return;
  if (s.agency >= ref_.agencies().size()) return;
  const bool buys = s.side == Side::kBuy;
  const BookSide& own = buys ? b.bids : b.asks;
  const BookSide& opp = buys ? b.asks : b.bids;
  const std::int64_t index = (s.price - b.low) / b.tick;
  const bool crosses = opp.best >= 0 && (buys ? opp.best <= index : opp.best >= index);
  const Level& l = crosses ? opp.levels[opp.best] : own.levels[index];
  if (step == 0) {
    __builtin_prefetch(&l);  // books_ is small and hot: no wait for the address
    return;
  }
  if (l.count == 0) return;
  const AgencyList* lists = Lists(l);
  if (crosses) {
    // The first maker of each agency the walk will merge.
    AgencyMask m = l.agencies & (Eligible(s.pair, s.agency) |
                                 (AgencyMask{1} << s.agency));
    for (; m != 0; m &= m - 1) {
      const AgencyList& al = lists[__builtin_ctzll(m)];
      if (step == 1) {
        __builtin_prefetch(&al);
      } else {
        __builtin_prefetch(&offers_[al.head]);
      }
    }
    return;
  }
  // Rests: the offer it will be linked behind.
  if ((l.agencies >> s.agency) & 1) {
    const AgencyList& al = lists[s.agency];
    if (step == 1) {
      __builtin_prefetch(&al);
    } else {
      __builtin_prefetch(&offers_[al.tail], 1);
    }
  }
}

inline RejectReason Engine::Impl::CheckPrice(const Book& b, Price price) noexcept {
  if (price <= 0) return RejectReason::kInvalidPrice;
  if (price % b.tick != 0) return RejectReason::kPriceOffTick;
  if (price < b.floor_price) return RejectReason::kBelowFloor;
  if (price < b.low || price > b.high) return RejectReason::kPriceOutsideBand;
  return RejectReason::kNone;
}

inline RejectReason Engine::Impl::CheckLots(const Book& b, Lots lots) noexcept {
  if (lots <= 0) return RejectReason::kInvalidLots;
  if (lots > b.max_lots) return RejectReason::kLotsAboveMax;
  return RejectReason::kNone;
}

inline void Engine::Impl::Submit(const Command& cmd, std::vector<Event>* out) noexcept {
  const SubmitOffer& s = SubmitBody(cmd);
  auto reject = [&](RejectReason reason, OfferId offer = kNil) {
    Reject(cmd, reason, s.agency, offer, s.client_id, out);
  };
  if (s.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (s.client_id != 0) {
    const OfferId original = client_index_.Find(s.agency, s.client_id);
    if (original != kNil) return reject(RejectReason::kDuplicateClientId, original);
  }
  if (s.pair >= books_.size()) return reject(RejectReason::kUnknownPair);
  if (s.side != Side::kBuy && s.side != Side::kSell) return reject(RejectReason::kInvalidSide);
  if (s.tif < TimeInForce::kGtc || s.tif > TimeInForce::kFok) {
    return reject(RejectReason::kInvalidTimeInForce);
  }
  Book& b = books_[s.pair];
  if (b.halted) return reject(RejectReason::kPairHalted);
  RejectReason r = CheckLots(b, s.lots);
  if (r != RejectReason::kNone) return reject(r);
  r = CheckPrice(b, s.price);
  if (r != RejectReason::kNone) return reject(r);
  if (s.min_fill < 0 || s.min_fill > s.lots) return reject(RejectReason::kInvalidMinFill);
  if (s.tif == TimeInForce::kGtd && s.expiry <= cmd.time) {
    return reject(RejectReason::kExpiryInPast);
  }
  if (((s.allow | s.deny) & ~valid_agencies_) != 0) {
    return reject(RejectReason::kUnknownCounterparty);
  }
  const bool with_need = cmd.type == CommandType::kSubmitOfferWithNeed;
  if (with_need) [[unlikely]] {
    const SubmitOfferWithNeed& n = cmd.submit_need;
    if (s.side != Side::kBuy || n.need <= 0 ||
        !ValidPriorityTier(static_cast<std::uint8_t>(n.tier))) {
      return reject(RejectReason::kInvalidNeed);
    }
    if ((ref_.AllowedTiers(s.agency) & TierBit(n.tier)) == 0) {
      return reject(RejectReason::kTierNotAllowed);
    }
  }
  // A book in call-auction mode takes only offers that rest and that the auction can
  // allocate by agency (AUCTION.md "In the engine").
  if (CallAuctionMode(b) && (s.tif == TimeInForce::kIoc || s.tif == TimeInForce::kFok ||
                             s.min_fill > 0 || s.allow != 0 || s.deny != 0)) {
    return reject(RejectReason::kCallAuctionOnly);
  }
  Amount reserve;
  if (!Reservation(b, s.side, s.lots, s.price, &reserve)) return reject(RejectReason::kOverflow);
  const InstrumentId gives = s.side == Side::kSell ? b.base : b.quote;
  if (time_swaps_.SaleBlocked(s.agency, ref_.instruments()[gives].mineral)) {
    return reject(RejectReason::kObligationOverdue);
  }
  HoldingInfo& h = H(s.agency, gives);
  if (reserve > h.available) return reject(RejectReason::kInsufficientHoldings);
  if (b.guard != 0) {  // an emergency level asks something of this pair's offers
    r = CheckStockGuard(b, s.agency, s.side, reserve, h);
    if (r != RejectReason::kNone) return reject(r);
  }

  // Accepted.
  EnsureAllocated(b);
  h.available -= reserve;
  h.reserved += reserve;
  OfferRecord& o = offers_.Append(
      OfferRecord{.prev = kNil,
                  .next = kNil,
                  .open = s.lots,
                  .price = s.price,
                  .accept = (s.allow != 0 ? s.allow : kAllAgencies) & ~s.deny,
                  .filled = 0,
                  .stamp = 0,
                  .pair = s.pair,
                  .agency = static_cast<std::uint8_t>(s.agency),  // < kMaxAgencies
                  .side = s.side,
                  .tif = s.tif,
                  .status = OfferStatus::kOpen},
      ColdRecord{.original = s.lots,
                 .min_fill = s.min_fill,
                 .expiry = s.tif == TimeInForce::kGtd ? s.expiry : 0,
                 .allow = s.allow,
                 .deny = s.deny,
                 .client_id = s.client_id,
                 .accepted_seq = cmd.seq,
                 .accepted_time = cmd.time});
  const OfferId id = offers_.size();
  if (s.client_id != 0) client_index_.Insert(s.agency, s.client_id, id);
  ++open_count_;
  internal::AppendAccepted(cmd, EventType::kAccepted, id, out);
  if (with_need) [[unlikely]] {
    needs_[id] = DeclaredNeed{cmd.submit_need.need, cmd.submit_need.tier};
  }
  if (CallAuctionMode(b)) [[unlikely]] return Rest(cmd, b, id, o);

  const AgencyMask partners = Eligible(s.pair, s.agency) & o.accept;
  Lots need = 0;
  CancelReason unmet = CancelReason::kMinFillUnmet;
  if (s.tif == TimeInForce::kFok) {
    need = s.lots;
    unmet = CancelReason::kFokUnfilled;
  } else if (s.min_fill > 0) {
    need = s.min_fill;
  }
  if (need > 0 && Available(b, o, partners, need) < need) {
    FinishTaker(cmd, b, id, o, unmet, out);
    return;
  }
  Match(cmd, b, id, o, partners, out);
}

inline Lots Engine::Impl::Available(const Book& b, const OfferRecord& taker, AgencyMask partners,
               Lots need) const noexcept {
  const bool taker_buys = taker.side == Side::kBuy;
  const BookSide& opp = taker_buys ? b.asks : b.bids;
  const std::int64_t limit = (taker.price - b.low) / b.tick;
  const AgencyMask walk = partners | (AgencyMask{1} << taker.agency);
  Lots sum = 0;
  LevelMerge mg;
  for (std::int64_t i = opp.best; i >= 0;
       i = taker_buys ? opp.bits.NextAtOrAfter(i + 1) : opp.bits.PrevAtOrBefore(i - 1)) {
    if (taker_buys ? i > limit : i < limit) break;
    const Level& l = opp.levels[i];
    MergeStartConst(l, walk, &mg);
    for (int a = mg.Front(); a >= 0; a = mg.Front()) {
      if (a == static_cast<int>(taker.agency)) return sum;  // self-match stops here
      const OfferRecord& r = offers_[mg.cur[a]];
      if ((r.accept >> taker.agency) & 1) {
        sum += r.open;
        if (sum >= need) return sum;
      }
      MergeAdvanceConst(l, &mg, a, r.next);
    }
  }
  return sum;
}

inline void Engine::Impl::FinishTaker(const Command& cmd, const Book& b, OfferId id, OfferRecord& o,
                 CancelReason reason, std::vector<Event>* out) noexcept {
  Event& e = NewEvent(cmd, EventType::kCancelled, out);
  e.cancelled.offer = id;
  e.cancelled.agency = o.agency;
  e.cancelled.reason = reason;
  e.cancelled.lots = o.open;
  ReleaseReservation(b, o);
  o.open = 0;
  o.status = OfferStatus::kCancelled;
  --open_count_;
  Finished(cmd.time, id);
}

inline void Engine::Impl::Match(const Command& cmd, Book& b, OfferId id, OfferRecord& o, AgencyMask partners,
           std::vector<Event>* out) noexcept {
  const bool taker_buys = o.side == Side::kBuy;
  BookSide& opp = taker_buys ? b.asks : b.bids;
  const std::int64_t limit = (o.price - b.low) / b.tick;
  const std::int64_t best = opp.best;
  const bool self_match =
      best >= 0 && (taker_buys ? best <= limit : best >= limit) &&
      (taker_buys ? Sweep<true>(cmd, b, opp, limit, id, o, partners, out)
                  : Sweep<false>(cmd, b, opp, limit, id, o, partners, out));
  if (o.open == 0) {
    o.status = OfferStatus::kFilled;
    --open_count_;
    Finished(cmd.time, id);
    return;
  }
  if (self_match) return FinishTaker(cmd, b, id, o, CancelReason::kSelfMatch, out);
  if (o.tif == TimeInForce::kIoc) return FinishTaker(cmd, b, id, o, CancelReason::kIocRemainder, out);
  if (o.tif == TimeInForce::kFok) return FinishTaker(cmd, b, id, o, CancelReason::kFokUnfilled, out);
  // Rest, at the level of index `limit` (its own price's; a division saved).
  BookSide& own = taker_buys ? b.bids : b.asks;
  const std::int64_t index = limit;
  Touch(o.pair, o.side, index, own.levels[index]);
  LinkTail(b, own, id, o, index);
  if (o.tif == TimeInForce::kGtd) {
    const ColdRecord& c = offers_.Cold(id);
    if (c.accepted_seq == cmd.seq) PushExpiry(c.expiry, id);  // new now, not replaced
  }
}

inline void Engine::Impl::Rest(const Command& cmd, Book& b, OfferId id,
                               OfferRecord& o) noexcept {
  BookSide& own = o.side == Side::kBuy ? b.bids : b.asks;
  const std::int64_t index = (o.price - b.low) / b.tick;
  Touch(o.pair, o.side, index, own.levels[index]);
  LinkTail(b, own, id, o, index);
  if (o.tif == TimeInForce::kGtd) {
    const ColdRecord& c = offers_.Cold(id);
    if (c.accepted_seq == cmd.seq) PushExpiry(c.expiry, id);  // new now, not replaced
  }
}

template <bool kTakerBuys>
inline bool Engine::Impl::Sweep(const Command& cmd, Book& b, BookSide& opp, std::int64_t limit,
                                OfferId taker_id, OfferRecord& taker, AgencyMask partners,
                                std::vector<Event>* out) noexcept {
  constexpr Side kOppSide = kTakerBuys ? Side::kSell : Side::kBuy;
  const int taker_agency = taker.agency;
  const PairId pair = taker.pair;
  // Only the FIFOs of agencies the taker may trade with, and its own (self-match), are
  // merged: offers of any other agency would be skipped, so they are never read.
  const AgencyMask walk = partners | (AgencyMask{1} << taker_agency);
  // What the walk changes is kept in locals (stores through the records and holdings would
  // otherwise make the compiler reload every member after each of them) and written back
  // once at the end.
  const Amount lot_size = b.lot_size;
  const bool retain = retention_ > 0;
  const Lots open_before = taker.open;
  Lots open = open_before;
  // The sum of the fills' quote amounts (prices differ between levels). Their lots and
  // base amounts are not summed per fill: they are open_before - open and that times the
  // lot size, derived once at the end (a sum kept in the loop is one more value competing
  // for a register, and spilled, it was a load and a store per fill).
  Amount quote_sum = 0;
  std::uint64_t fill_id = next_fill_id_;
  std::size_t makers_filled = 0;
  // The maker's holdings move per fill (each maker's row is another agency's: the walk
  // stops at a self-match). A maker that sells gives base from its reservation and gets
  // quote; one that buys gives quote from its reservation, made at its own price, which is
  // the fill's price: all of it pays. gives[k * instruments] is agency k's entry of the
  // instrument the makers give, gets[...] of the one they get.
  const std::size_t instruments = num_instruments_;
  HoldingInfo* const gives = &holdings_[kTakerBuys ? b.base : b.quote];
  HoldingInfo* const gets = &holdings_[kTakerBuys ? b.quote : b.base];

  bool self_match = false;
  LevelMerge mg;
  std::int64_t i = opp.best;
  for (;;) {
    Level& l = opp.levels[i];
    const bool at_best = i == opp.best;
    bool emptied = false;  // as Detach reported (l.count is not read back after the stores)
    // Before the level's first change (a level the walk leaves unchanged emits nothing).
    Touch(pair, kOppSide, i, l);
    MergeStart<true>(l, walk, &mg);
    for (int a = mg.Front(); a >= 0; a = mg.Front()) {
      if (a == taker_agency) {
        self_match = true;
        break;
      }
      OfferRecord& r = *mg.rec[a];
      const OfferId m = mg.cur[a];
      const OfferId next = r.next;
      if (next != kNil) __builtin_prefetch(&offers_[next]);
      if (((r.accept >> taker_agency) & 1) == 0) {  // its agency is not in `partners`
        MergeAdvance<true>(l, &mg, a, next);
        continue;
      }
      // No overflow: q <= validated lots, and lots * lot_size, lots * price (price <= the
      // taker's or maker's validated limit) were checked at acceptance; the sums are
      // bounded by the instruments' exchange-wide totals.
      const Lots q = std::min(r.open, open);
      const Price price = r.price;
      const Amount base_amount = q * lot_size;
      const Amount quote_amount = q * price;
      const std::size_t row = static_cast<std::size_t>(a) * instruments;  // a == r.agency
      gives[row].reserved -= kTakerBuys ? base_amount : quote_amount;
      gets[row].available += kTakerBuys ? quote_amount : base_amount;
      const Lots maker_open = r.open - q;
      r.open = maker_open;
      r.filled += q;
      open -= q;
      quote_sum += quote_amount;
      l.lots -= q;

      Event& e = NewEvent(cmd, EventType::kFill, out);
      e.fill.fill_id = fill_id++;
      e.fill.pair = pair;
      e.fill.aggressor_side = kTakerBuys ? Side::kBuy : Side::kSell;
      e.fill.maker_offer = m;
      e.fill.taker_offer = taker_id;
      e.fill.maker_agency = static_cast<AgencyId>(a);
      e.fill.taker_agency = static_cast<AgencyId>(taker_agency);
      e.fill.lots = q;
      e.fill.price = price;
      e.fill.base_amount = base_amount;
      e.fill.quote_amount = quote_amount;
      e.fill.maker_open = maker_open;
      e.fill.taker_open = open;

      if (maker_open == 0) {
        UnlinkFromList(l, r);
        r.status = OfferStatus::kFilled;
        ++makers_filled;
        if (retain) done_.push_back({cmd.time, m});
        if (!needs_.empty()) [[unlikely]] needs_.erase(m);  // a maker with a declared need
        // Its open is 0: the level's lots were reduced above.
        if (Detach(b, opp, r, i)) {
          emptied = true;  // the level released its FIFOs
          break;
        }
      }
      if (open == 0) break;
      MergeAdvance<true>(l, &mg, a, next);
    }
    if (self_match || open == 0) break;
    // Continue from the next level after `i`. When `i` was the best and emptied, Detach has
    // just found that level (the new best, or -1); otherwise look it up.
    if (at_best && emptied) {
      i = opp.best;
    } else {
      i = kTakerBuys ? opp.bits.NextAtOrAfter(i + 1) : opp.bits.PrevAtOrBefore(i - 1);
    }
    if (i < 0 || (kTakerBuys ? i > limit : i < limit)) break;
  }

  const Lots taken = open_before - open;
  const Amount base_sum = taken * lot_size;  // no overflow: <= the taker's validated lots
  taker.open = open;
  taker.filled += taken;
  next_fill_id_ = fill_id;
  open_count_ -= makers_filled;
  // The taker's two entries move by the sums of its fills: the same final values as moving
  // them fill by fill, as nothing reads them in between. A buyer's quote was reserved at
  // its own limit: any improvement returns to available.
  HoldingInfo& taker_base = H(taker.agency, b.base);
  HoldingInfo& taker_quote = H(taker.agency, b.quote);
  if (kTakerBuys) {
    taker_base.available += base_sum;
    const Amount reserved = taken * taker.price;
    taker_quote.reserved -= reserved;
    taker_quote.available += reserved - quote_sum;
  } else {
    taker_base.reserved -= base_sum;
    taker_quote.available += quote_sum;
  }
  return self_match;
}

inline RejectReason Engine::Impl::CheckTarget(AgencyId agency, OfferId id) const noexcept {
  if (agency >= ref_.agencies().size()) return RejectReason::kUnknownAgency;
  // A purged offer had finished (not open): unknown, as before it was purged.
  if (id == kNil || id > offers_.size() || !offers_.Resident(id)) {
    return RejectReason::kUnknownOffer;
  }
  const OfferRecord& o = offers_[id];
  if (o.agency != agency || o.status != OfferStatus::kOpen) return RejectReason::kUnknownOffer;
  return RejectReason::kNone;
}

inline void Engine::Impl::SetRetention(const Command& cmd) {
  const TimeNs retention = std::max<TimeNs>(cmd.set_retention.retention, 0);
  if (retention == 0) {
    done_.clear();
  } else if (retention_ == 0) {
    for (OfferId id = 1; id <= offers_.size(); ++id) {
      if (!offers_.Resident(id)) {
        id = ((id - 1) | (OfferStore::kChunk - 1)) + 1;
        continue;
      }
      if (!offers_.Purged(id) && offers_[id].status != OfferStatus::kOpen) {
        done_.push_back({cmd.time, id});
      }
    }
  }
  retention_ = retention;
}

inline void Engine::Impl::PurgeDue(const Command& cmd) noexcept {
  TimeNs cutoff;  // finished at or before: due
  if (__builtin_sub_overflow(cmd.time, retention_, &cutoff)) return;
  int budget =
      cmd.type == CommandType::kAdvanceTime ? kPurgePerAdvanceTime : kPurgePerCommand;
  while (budget-- > 0 && !done_.empty() && done_.front().time <= cutoff) {
    const OfferId id = done_.front().offer;
    done_.pop_front();
    const ClientOfferId client_id = offers_.Cold(id).client_id;
    if (client_id != 0) client_index_.Erase(offers_[id].agency, client_id, id);
    offers_.Purge(id);
    ++purged_;
  }
}

inline void Engine::Impl::Cancel(const Command& cmd, std::vector<Event>* out) noexcept {
  const CancelOffer& c = cmd.cancel;
  const RejectReason r = CheckTarget(c.agency, c.offer);
  if (r != RejectReason::kNone) return Reject(cmd, r, c.agency, c.offer, 0, out);
  OfferRecord& o = offers_[c.offer];
  const Lots lots = o.open;
  RemoveOpen(cmd.time, c.offer, o, OfferStatus::kCancelled);
  Event& e = NewEvent(cmd, EventType::kCancelled, out);
  e.cancelled.offer = c.offer;
  e.cancelled.agency = c.agency;
  e.cancelled.reason = CancelReason::kRequested;
  e.cancelled.lots = lots;
}

inline void Engine::Impl::ExpireDue(const Command& cmd, std::vector<Event>* out) noexcept {
  while (!expiries_.empty() && expiries_.front().expiry <= cmd.time) {
    const ExpiryEntry top = expiries_.front();
    std::pop_heap(expiries_.begin(), expiries_.end(), ExpiryLater{});
    expiries_.pop_back();
    // Finished earlier (perhaps purged since): a stale entry.
    if (!offers_.Resident(top.offer)) continue;
    OfferRecord& o = offers_[top.offer];
    if (o.status != OfferStatus::kOpen) continue;
    const Lots lots = o.open;
    RemoveOpen(cmd.time, top.offer, o, OfferStatus::kExpired);
    Event& e = NewEvent(cmd, EventType::kExpired, out);
    e.expired.offer = top.offer;
    e.expired.agency = o.agency;
    e.expired.lots = lots;
  }
}

inline void Engine::Impl::Replace(const Command& cmd, std::vector<Event>* out) noexcept {
  const ReplaceOffer& c = cmd.replace;
  auto reject = [&](RejectReason reason) { Reject(cmd, reason, c.agency, c.offer, 0, out); };
  RejectReason r = CheckTarget(c.agency, c.offer);
  if (r != RejectReason::kNone) return reject(r);
  OfferRecord& o = offers_[c.offer];
  Book& b = books_[o.pair];
  if (b.halted) return reject(RejectReason::kPairHalted);
  r = CheckLots(b, c.lots);
  if (r != RejectReason::kNone) return reject(r);
  r = CheckPrice(b, c.price);
  if (r != RejectReason::kNone) return reject(r);
  // No overflow: 0 < c.lots <= max_lots and 0 <= filled.
  const Lots open =
      cmd.type == CommandType::kReplaceOfferOpenLots ? c.lots : c.lots - o.filled;
  if (open <= 0) {
    // The total is already filled (the agency had not seen some fill): nothing more may
    // trade. Cancelling the rest is what a total at or below the filled lots means.
    const Lots lots = o.open;
    RemoveOpen(cmd.time, c.offer, o, OfferStatus::kCancelled);
    Event& e = NewEvent(cmd, EventType::kCancelled, out);
    e.cancelled.offer = c.offer;
    e.cancelled.agency = c.agency;
    e.cancelled.reason = CancelReason::kReplaceBelowFilled;
    e.cancelled.lots = lots;
    return;
  }
  Amount new_reserve;
  if (!Reservation(b, o.side, open, c.price, &new_reserve)) {
    return reject(RejectReason::kOverflow);
  }
  const Amount old_reserve = o.side == Side::kSell ? o.open * b.lot_size : o.open * o.price;
  HoldingInfo& h = H(o.agency, o.side == Side::kSell ? b.base : b.quote);
  const Amount delta = new_reserve - old_reserve;
  if (delta > h.available) return reject(RejectReason::kInsufficientHoldings);
  if (b.guard != 0 && delta > 0) {
    r = CheckStockGuard(b, o.agency, o.side, delta, h);
    if (r != RejectReason::kNone) return reject(r);
  }

  BookSide& own = o.side == Side::kBuy ? b.bids : b.asks;
  const std::int64_t old_index = (o.price - b.low) / b.tick;
  const bool keep = c.price == o.price && open <= o.open;
  h.available -= delta;
  h.reserved += delta;
  {
    Event& e = NewEvent(cmd, EventType::kReplaced, out);
    e.replaced.offer = c.offer;
    e.replaced.agency = c.agency;
    e.replaced.lots = open;
    e.replaced.price = c.price;
    e.replaced.kept_priority = keep;
  }
  Level& old_level = own.levels[old_index];
  Touch(o.pair, o.side, old_index, old_level);
  if (keep) {
    old_level.lots -= o.open - open;
    o.open = open;
    return;
  }
  Unlink(b, own, c.offer, o, old_index);
  o.open = open;
  o.price = c.price;
  if (CallAuctionMode(b)) [[unlikely]] return Rest(cmd, b, c.offer, o);
  const AgencyMask partners = Eligible(o.pair, o.agency) & o.accept;
  Match(cmd, b, c.offer, o, partners, out);
}

inline void Engine::Impl::SetHoldingsCmd(const Command& cmd, std::vector<Event>* out) noexcept {
  const SetHoldings& c = cmd.set_holdings;
  auto reject = [&](RejectReason reason) { Reject(cmd, reason, c.agency, kNil, 0, out); };
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (c.instrument >= num_instruments_) return reject(RejectReason::kUnknownInstrument);
  HoldingInfo& h = H(c.agency, c.instrument);
  if (c.total < h.reserved) return reject(RejectReason::kHoldingsBelowReserved);
  // Keep the exchange-wide total of the instrument within 64 bits; then no single
  // holding can overflow when fills move amounts between agencies.
  Amount new_total;
  if (__builtin_sub_overflow(totals_[c.instrument], h.available + h.reserved, &new_total) ||
      __builtin_add_overflow(new_total, c.total, &new_total)) {
    return reject(RejectReason::kOverflow);
  }
  totals_[c.instrument] = new_total;
  h.available = c.total - h.reserved;
  Event& e = NewEvent(cmd, EventType::kHoldingsSet, out);
  e.holdings_set.agency = c.agency;
  e.holdings_set.instrument = c.instrument;
  e.holdings_set.available = h.available;
  e.holdings_set.reserved = h.reserved;
}

inline void Engine::Impl::HaltResume(const Command& cmd, std::vector<Event>* out) noexcept {
  if (cmd.pair.pair >= books_.size()) {
    return Reject(cmd, RejectReason::kUnknownPair, 0, kNil, 0, out);
  }
  const bool halt = cmd.type == CommandType::kHaltPair;
  Book& b = books_[cmd.pair.pair];
  b.halted = halt;
  Event& e = NewEvent(cmd, halt ? EventType::kPairHalted : EventType::kPairResumed, out);
  e.pair.pair = cmd.pair.pair;
  // The pair left call-auction mode while halted: it resumes continuous matching now.
  if (!halt && b.uncross_pending) [[unlikely]] {
    b.uncross_pending = false;
    ResumeContinuous(cmd, cmd.pair.pair, out);
  }
}

void Engine::Impl::ResumeContinuous(const Command& cmd, PairId pair, std::vector<Event>* out) {
  Book& b = books_[pair];
  // Not crossed (as every book is after continuous matching): nothing to do, and every
  // offer keeps its place.
  if (!b.allocated || b.bids.best < 0 || b.asks.best < 0 || b.bids.best < b.asks.best) return;
  std::vector<OfferId> open;
  for (const BookSide* side : {&b.bids, &b.asks}) {
    for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
         i = side->bits.NextAtOrAfter(i + 1)) {
      ForEachInPriority(side->levels[i], [&](OfferId id) { open.push_back(id); });
    }
  }
  // Acceptance order, which a snapshot keeps (the priority stamps' order across levels it
  // does not).
  std::sort(open.begin(), open.end());
  for (OfferId id : open) {
    OfferRecord& o = offers_[id];
    BookSide& own = o.side == Side::kBuy ? b.bids : b.asks;
    const std::int64_t index = (o.price - b.low) / b.tick;
    Touch(pair, o.side, index, own.levels[index]);
    Unlink(b, own, id, o, index);
  }
  // Each re-enters as a taker against those before it, then rests. Unlike a new offer it
  // is not cancelled at a self-match: it rests behind its agency's offer (continuous
  // matching never reaches past it, as for an ineligible pair).
  for (OfferId id : open) {
    OfferRecord& o = offers_[id];
    const bool buys = o.side == Side::kBuy;
    BookSide& opp = buys ? b.asks : b.bids;
    const std::int64_t limit = (o.price - b.low) / b.tick;
    const AgencyMask partners = Eligible(pair, o.agency) & o.accept;
    if (opp.best >= 0 && (buys ? opp.best <= limit : opp.best >= limit)) {
      if (buys) {
        Sweep<true>(cmd, b, opp, limit, id, o, partners, out);
      } else {
        Sweep<false>(cmd, b, opp, limit, id, o, partners, out);
      }
    }
    if (o.open == 0) {
      o.status = OfferStatus::kFilled;
      --open_count_;
      Finished(cmd.time, id);
      continue;
    }
    BookSide& own = buys ? b.bids : b.asks;
    Touch(pair, o.side, limit, own.levels[limit]);
    LinkTail(b, own, id, o, limit);
  }
}

Engine::Engine(const ReferenceData& ref, const EngineOptions& options)
    : impl_(std::make_unique<Impl>(ref, options)) {}
Engine::~Engine() = default;

void Engine::Apply(const Command& cmd, std::vector<Event>* out) noexcept {
  impl_->Apply(cmd, out);
}
void Engine::Prefetch(const Command& next, int hop) const noexcept {
  impl_->Prefetch(next, hop);
}
}  // namespace msx
