// The order types term books share with pair books (engine/matching/ENGINE.md "Time
// swaps": "FOK and minimum fill", "Replace"): the exact walk FOK and a minimum fill rest on,
// the cancel of a taker that does not rest, and ReplaceTermOffer.
#include <algorithm>
#include <optional>

#include "engine/matching/internal/new_event.h"
#include "engine/matching/internal/time_swaps.h"

namespace msx::internal {
namespace {

using i128 = __int128;

}  // namespace

Lots TimeSwaps::Fillable(OfferId taker_id, Lots need) noexcept {
  // Mirrors Match step for step; see it for the rules.
  const TermOffer& t = Offer(taker_id);
  const bool lend = t.side == Side::kSell;
  const Side_& opp = lend ? books_[t.book].borrows : books_[t.book].lends;
  const AgencyMask partners = eligible_[t.book * num_agencies_ + t.agency] & t.accept;
  const InstrumentId instrument = ref_.term_books()[t.book].instrument;
  const Amount lot_size = ref_.instruments()[instrument].lot_size;
  const MicroUsd value = values_[instrument];
  dry_.clear();
  Lots sum = 0;
  std::int64_t p = lend ? opp.bits.PrevAtOrBefore(kMaxPremiumBps) : opp.bits.NextAtOrAfter(0);
  bool stop = false;
  while (p >= 0 && !stop) {
    if (lend ? p < t.premium : p > t.premium) break;
    for (OfferId m_id = opp.levels[p].head; m_id != 0; m_id = Offer(m_id).next) {
      const TermOffer& m = Offer(m_id);
      if (m.agency == t.agency) {  // self-match: Match stops here
        stop = true;
        break;
      }
      if ((partners & (AgencyMask{1} << m.agency)) == 0 ||
          (m.accept & (AgencyMask{1} << t.agency)) == 0) {
        continue;
      }
      const Lots q = std::min(t.open - sum, m.open);
      const AgencyId lender = lend ? t.agency : m.agency;
      const AgencyId borrower = lend ? m.agency : t.agency;
      const Amount due = *AmountDue(q * lot_size, m.premium);
      Pledge pledge;
      const int ag = PickAgreement(t.book, lender, borrower, due, &pledge);
      if (ag < 0) continue;
      sum += q;
      if (sum >= need) {
        stop = true;
        break;
      }
      // Applied as Lend applies them, for the makers after this one.
      const MicroUsd used = static_cast<MicroUsd>(static_cast<i128>(due) * value);
      Exposure(static_cast<std::uint32_t>(ag), borrower) += used;
      if (pledge.amount > 0) H(borrower, pledge.instrument).available -= pledge.amount;
      dry_.push_back({static_cast<std::uint32_t>(ag), borrower, used, pledge});
    }
    p = lend ? opp.bits.PrevAtOrBefore(p - 1) : opp.bits.NextAtOrAfter(p + 1);
  }
  for (auto it = dry_.rbegin(); it != dry_.rend(); ++it) {
    Exposure(it->agreement, it->borrower) -= it->exposure;
    if (it->pledge.amount > 0) H(it->borrower, it->pledge.instrument).available += it->pledge.amount;
  }
  return sum;
}

void TimeSwaps::CancelTaker(const Command& cmd, OfferId id, CancelReason reason,
                            std::vector<Event>* out) noexcept {
  TermOffer& t = Offer(id);
  const Lots lots = t.open;
  if (t.side == Side::kSell) {
    const InstrumentId i = ref_.term_books()[t.book].instrument;
    const Amount units = lots * ref_.instruments()[i].lot_size;
    HoldingInfo& h = H(t.agency, i);
    h.reserved -= units;
    h.available += units;
  }
  t.open = 0;
  t.status = OfferStatus::kCancelled;
  Event& e = NewEvent(cmd, EventType::kTermCancelled, out);
  e.cancelled.offer = id;
  e.cancelled.agency = t.agency;
  e.cancelled.reason = reason;
  e.cancelled.lots = lots;
}


void TimeSwaps::Replace(const Command& cmd, std::vector<Event>* out) noexcept {
  const ReplaceOffer& c = cmd.replace;
  auto reject = [&](RejectReason r) { Reject(cmd, r, c.agency, c.offer, 0, out); };
  // The target, as CancelTermOffer checks it.
  if (c.agency >= num_agencies_) return reject(RejectReason::kUnknownAgency);
  if (c.offer == 0 || c.offer > offers_.size() || Offer(c.offer).agency != c.agency ||
      Offer(c.offer).status != OfferStatus::kOpen) {
    return reject(RejectReason::kUnknownOffer);
  }
  TermOffer& o = Offer(c.offer);
  const TermBook& tb = ref_.term_books()[o.book];
  // The total and the premium, as a submit checks them (whatever has filled).
  if (c.lots <= 0) return reject(RejectReason::kInvalidLots);
  if (c.lots > tb.max_lots) return reject(RejectReason::kLotsAboveMax);
  if (c.price < 0 || c.price > kMaxPremiumBps) return reject(RejectReason::kInvalidPrice);
  // No overflow: 0 < c.lots <= max_lots and 0 <= filled.
  const Lots open = c.lots - o.filled;
  if (open <= 0) {
    // The total is filled already (a loan the agency had not seen): nothing more may
    // trade, so the rest is cancelled, as a CancelTermOffer would.
    const Lots lots = o.open;
    Remove(c.offer, o, OfferStatus::kCancelled);
    Event& e = NewEvent(cmd, EventType::kTermCancelled, out);
    e.cancelled.offer = c.offer;
    e.cancelled.agency = c.agency;
    e.cancelled.reason = CancelReason::kReplaceBelowFilled;
    e.cancelled.lots = lots;
    return;
  }
  const Amount lot_size = ref_.instruments()[tb.instrument].lot_size;
  // open <= max_lots, whose principal fits int64 (configuration); the due may not.
  const std::optional<Amount> due = AmountDue(open * lot_size, c.price);
  if (!due) return reject(RejectReason::kOverflow);
  HoldingInfo& h = H(o.agency, tb.instrument);
  const Amount delta = (open - o.open) * lot_size;  // a lend's change of reservation
  if (o.side == Side::kSell) {
    if (delta > h.available) return reject(RejectReason::kInsufficientHoldings);
  } else if (open > o.open || c.price > o.premium) {
    // A borrow that could owe more than before passes the submit's credit and collateral
    // check for all it now asks (one that asks for less never fails: it reserves nothing).
    if (const RejectReason r = BorrowCheck(o.book, o.agency, *due); r != RejectReason::kNone) {
      return reject(r);
    }
  }

  const bool keep = c.price == o.premium && open <= o.open;
  if (o.side == Side::kSell) {
    h.available -= delta;
    h.reserved += delta;
  }
  {
    Event& e = NewEvent(cmd, EventType::kTermReplaced, out);
    e.replaced.offer = c.offer;
    e.replaced.agency = c.agency;
    e.replaced.lots = open;
    e.replaced.price = c.price;
    e.replaced.kept_priority = keep;
  }
  if (keep) {
    SideOf(o.book, o.side).levels[o.premium].lots -= o.open - open;
    o.open = open;
    return;
  }
  // Loses its place: out of its level, then in again as an incoming offer at the new
  // premium (it may lend or borrow as the taker, then rests at the back of its level).
  Unlink(c.offer, o);
  o.open = open;
  o.premium = c.price;
  Match(cmd, c.offer, out);
}

}  // namespace msx::internal
