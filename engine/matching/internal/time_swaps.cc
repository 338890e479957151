#include "engine/matching/internal/time_swaps.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/matching/internal/new_event.h"

namespace msx::internal {
namespace {

using i128 = __int128;
constexpr i128 kInt64Max = INT64_MAX;
constexpr AgencyMask kAllAgencies = ~AgencyMask{0};
constexpr std::size_t kLevels = kMaxPremiumBps + 1;

}  // namespace

std::optional<Amount> AmountDue(Amount principal, std::int64_t premium_bps) {
  // ceil(p * bps / 10000) for p, bps >= 0, in 128 bits (p * bps can exceed int64).
  const i128 premium = (static_cast<i128>(principal) * premium_bps + 9999) / 10000;
  const i128 due = static_cast<i128>(principal) + premium;
  if (due > kInt64Max) return std::nullopt;
  return static_cast<Amount>(due);
}

TimeSwaps::TimeSwaps(const ReferenceData& ref, std::vector<HoldingInfo>* holdings)
    : ref_(ref), holdings_(holdings) {}

void TimeSwaps::Reset(std::size_t expected_offers) {
  num_agencies_ = ref_.agencies().size();
  num_instruments_ = ref_.instruments().size();
  num_minerals_ = 0;
  for (const Instrument& i : ref_.instruments()) {
    num_minerals_ = std::max<std::size_t>(num_minerals_, i.mineral + 1);
  }
  valid_agencies_ =
      num_agencies_ >= 64 ? kAllAgencies : ((AgencyMask{1} << num_agencies_) - 1);
  const std::size_t nb = ref_.term_books().size();
  live_ = false;
  members_.clear();
  for (const Agreement& ag : ref_.agreements()) members_.push_back(ag.members);
  values_.clear();
  for (const Instrument& i : ref_.instruments()) values_.push_back(i.reference_value);
  RecomputeEligibility();
  books_.clear();
  books_.resize(nb);
  // Only the term books' share of the engine's reservation: loans are rarer than offers.
  const std::size_t reserve = std::min<std::size_t>(expected_offers, 1 << 16);
  offers_.clear();
  offers_.reserve(reserve);
  obligations_.clear();
  obligations_.reserve(reserve);
  client_index_.Reset(num_agencies_, reserve);
  expiries_.clear();
  expiries_.reserve(1024);
  dues_.clear();
  dues_.reserve(reserve);
  forfeits_.clear();
  pledges_ = 0;
  order_types_ = 0;
  change_seqs_ = 0;
  dry_.clear();
  dry_.reserve(1024);
  groups_.clear();
  groups_.reserve(1024);
  group_of_.assign(num_agencies_ * num_instruments_, 0);
  collectable_.clear();
  collectable_.reserve(1024);
  overdue_by_mineral_.assign(num_agencies_ * num_minerals_, 0);
  exposure_.assign(ref_.agreements().size() * num_agencies_, 0);
  levels_.assign(num_instruments_, EmergencyLevel::kNormal);
}

void TimeSwaps::RecomputeEligibility() {
  eligible_.assign(ref_.term_books().size() * num_agencies_, 0);
  for (const TermBook& tb : ref_.term_books()) {
    const MineralId m = ref_.instruments()[tb.instrument].mineral;
    for (std::size_t g = 0; g < members_.size(); ++g) {
      if (!ReferenceData::Covers(ref_.agreements()[g], m)) continue;
      const AgencyMask members = members_[g];
      for (std::size_t a = 0; a < num_agencies_; ++a) {
        if (members & (AgencyMask{1} << a)) {
          eligible_[tb.id * num_agencies_ + a] |= members & ~(AgencyMask{1} << a);
        }
      }
    }
  }
}

std::optional<TimeNs> TimeSwaps::NextDue() const {
  std::optional<TimeNs> t;
  if (!expiries_.empty()) t = expiries_.front().time;
  if (!dues_.empty() && (!t || dues_.front().time < *t)) t = dues_.front().time;
  if (!forfeits_.empty() && (!t || forfeits_.front().time < *t)) t = forfeits_.front().time;
  return t;
}

// ------------------------------------------------------------------ credit

bool TimeSwaps::CollateralFor(const Agreement& ag, InstrumentId instrument, AgencyId borrower,
                              Amount due, Pledge* pledge) const noexcept {
  *pledge = Pledge{};
  if (ag.collateral_bps == 0) return true;
  const auto& insts = ref_.instruments();
  const MineralId m = insts[instrument].mineral;
  // The loan's worth times the requirement, in micro-USD x bps: < 2^63 * 2^63 * 1e5 would
  // not fit 128 bits in general, but due * value fits int64 (the credit check passed
  // first) and bps <= 100000 < 2^17.
  const i128 need = static_cast<i128>(due) * values_[instrument] * ag.collateral_bps;
  for (InstrumentId c : ag.collateral_instruments) {
    if (insts[c].mineral == m) continue;  // another mineral, never the lent one
    const i128 per_unit = static_cast<i128>(values_[c]) * 10000;
    const i128 units = (need + per_unit - 1) / per_unit;  // rounded up: the lender's favour
    if (units > kInt64Max) continue;
    if (H(borrower, c).available >= units) {
      *pledge = Pledge{c, static_cast<Amount>(units)};
      return true;
    }
  }
  return false;
}

int TimeSwaps::PickAgreement(TermBookId book, AgencyId lender, AgencyId borrower, Amount due,
                             Pledge* pledge) const noexcept {
  const MineralId m = MineralOf(book);
  const InstrumentId instrument = ref_.term_books()[book].instrument;
  const i128 value = static_cast<i128>(due) * values_[instrument];
  const AgencyMask both = (AgencyMask{1} << lender) | (AgencyMask{1} << borrower);
  const auto& ags = ref_.agreements();
  for (std::size_t i = 0; i < ags.size(); ++i) {
    const Agreement& ag = ags[i];
    if ((members_[i] & both) != both || !ReferenceData::Covers(ag, m)) continue;
    const i128 room = static_cast<i128>(CreditLimit(i, borrower)) -
                      exposure_[i * num_agencies_ + borrower];
    if (value <= room && CollateralFor(ag, instrument, borrower, due, pledge)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

RejectReason TimeSwaps::BorrowCheck(TermBookId book, AgencyId borrower,
                                    Amount due) const noexcept {
  const MineralId m = MineralOf(book);
  const InstrumentId instrument = ref_.term_books()[book].instrument;
  const i128 value = static_cast<i128>(due) * values_[instrument];
  const auto& ags = ref_.agreements();
  RejectReason reason = RejectReason::kCreditLimitExceeded;
  for (std::size_t i = 0; i < ags.size(); ++i) {
    const Agreement& ag = ags[i];
    if (!(members_[i] & (AgencyMask{1} << borrower)) || !ReferenceData::Covers(ag, m)) continue;
    const i128 room = static_cast<i128>(CreditLimit(i, borrower)) -
                      exposure_[i * num_agencies_ + borrower];
    if (value > room) continue;
    Pledge pledge;
    if (CollateralFor(ag, instrument, borrower, due, &pledge)) return RejectReason::kNone;
    reason = RejectReason::kInsufficientCollateral;
  }
  return reason;
}

// ------------------------------------------------------------------ books

void TimeSwaps::EnsureAllocated(TermBookId book) {
  Book& b = books_[book];
  if (!b.lends.levels.empty()) return;
  for (Side_* s : {&b.lends, &b.borrows}) {
    s->levels.assign(kLevels, Level{});
    s->bits.Resize(static_cast<std::int64_t>(kLevels));
  }
}

void TimeSwaps::Link(OfferId id, TermOffer& o) noexcept {
  Side_& side = SideOf(o.book, o.side);
  Level& l = side.levels[o.premium];
  o.prev = l.tail;
  o.next = 0;
  if (l.tail != 0) {
    Offer(l.tail).next = id;
  } else {
    l.head = id;
  }
  l.tail = id;
  l.lots += o.open;
  if (l.count++ == 0) side.bits.Set(o.premium);
}

void TimeSwaps::Unlink(OfferId id, TermOffer& o) noexcept {
  Side_& side = SideOf(o.book, o.side);
  Level& l = side.levels[o.premium];
  if (o.prev != 0) {
    Offer(o.prev).next = o.next;
  } else {
    l.head = o.next;
  }
  if (o.next != 0) {
    Offer(o.next).prev = o.prev;
  } else {
    l.tail = o.prev;
  }
  (void)id;
  o.prev = o.next = 0;
  l.lots -= o.open;
  if (--l.count == 0) side.bits.Clear(o.premium);
}

void TimeSwaps::Remove(OfferId id, TermOffer& o, OfferStatus status) noexcept {
  Unlink(id, o);
  if (o.side == Side::kSell) {
    const Amount units =
        o.open * ref_.instruments()[ref_.term_books()[o.book].instrument].lot_size;
    HoldingInfo& h = H(o.agency, ref_.term_books()[o.book].instrument);
    h.reserved -= units;
    h.available += units;
  }
  o.open = 0;
  o.status = status;
}

// ------------------------------------------------------------------ commands

void TimeSwaps::Reject(const Command& cmd, RejectReason reason, AgencyId agency,
                       std::uint64_t target, ClientOfferId client_id,
                       std::vector<Event>* out) noexcept {
  Event& e = NewEvent(cmd, EventType::kRejected, out);
  e.rejected.command = cmd.type;
  e.rejected.reason = reason;
  e.rejected.agency = agency;
  e.rejected.offer = target;
  e.rejected.client_id = client_id;
}

void TimeSwaps::Apply(const Command& cmd, std::vector<Event>* out) noexcept {
  switch (cmd.type) {
    case CommandType::kSubmitTermOffer:
      return Submit(cmd, out);
    case CommandType::kCancelTermOffer:
      return Cancel(cmd, out);
    case CommandType::kReplaceTermOffer:
      return Replace(cmd, out);
    case CommandType::kReturnObligation:
      return Return(cmd, out);
    case CommandType::kRecallObligation:
      return Recall(cmd, out);
    default:
      return Reject(cmd, RejectReason::kNone, 0, 0, 0, out);
  }
}

void TimeSwaps::Submit(const Command& cmd, std::vector<Event>* out) noexcept {
  const SubmitOffer& s = cmd.submit;
  auto reject = [&](RejectReason reason, OfferId offer = 0) {
    Reject(cmd, reason, s.agency, offer, s.client_id, out);
  };
  if (s.agency >= num_agencies_ || ref_.agencies()[s.agency].role != Role::kAgency) {
    return reject(RejectReason::kUnknownAgency);
  }
  if (s.client_id != 0) {
    const OfferId original = client_index_.Find(s.agency, s.client_id);
    if (original != 0) return reject(RejectReason::kDuplicateClientId, original);
  }
  if (s.pair >= books_.size()) return reject(RejectReason::kUnknownTermBook);
  if (s.side != Side::kBuy && s.side != Side::kSell) return reject(RejectReason::kInvalidSide);
  if (s.tif < TimeInForce::kGtc || s.tif > TimeInForce::kFok) {
    return reject(RejectReason::kInvalidTimeInForce);
  }
  const TermBook& tb = ref_.term_books()[s.pair];
  if (s.lots <= 0) return reject(RejectReason::kInvalidLots);
  if (s.lots > tb.max_lots) return reject(RejectReason::kLotsAboveMax);
  if (s.price < 0 || s.price > kMaxPremiumBps) return reject(RejectReason::kInvalidPrice);
  if (s.min_fill < 0 || s.min_fill > s.lots) return reject(RejectReason::kInvalidMinFill);
  if (s.tif == TimeInForce::kGtd && s.expiry <= cmd.time) {
    return reject(RejectReason::kExpiryInPast);
  }
  if (((s.allow | s.deny) & ~valid_agencies_) != 0) {
    return reject(RejectReason::kUnknownCounterparty);
  }
  // max_lots * lot_size fits int64 (configuration); the amount due at this premium and its
  // reference value may not.
  const Amount principal = s.lots * ref_.instruments()[tb.instrument].lot_size;
  const std::optional<Amount> due = AmountDue(principal, s.price);
  if (!due) return reject(RejectReason::kOverflow);
  if (s.side == Side::kSell) {
    if (SaleBlocked(s.agency, MineralOf(s.pair))) return reject(RejectReason::kObligationOverdue);
    if (H(s.agency, tb.instrument).available < principal) {
      return reject(RejectReason::kInsufficientHoldings);
    }
  } else if (const RejectReason r = BorrowCheck(s.pair, s.agency, *due);
             r != RejectReason::kNone) {
    return reject(r);
  }

  // Accepted.
  EnsureAllocated(s.pair);
  if (s.side == Side::kSell) {
    HoldingInfo& h = H(s.agency, tb.instrument);
    h.available -= principal;
    h.reserved += principal;
  }
  TermOffer o;
  o.open = s.lots;
  o.original = s.lots;
  o.min_fill = s.min_fill;
  o.premium = s.price;
  o.expiry = s.tif == TimeInForce::kGtd ? s.expiry : 0;
  o.allow = s.allow;
  o.deny = s.deny;
  o.accept = (s.allow != 0 ? s.allow : kAllAgencies) & ~s.deny;
  o.client_id = s.client_id;
  o.accepted_seq = cmd.seq;
  o.accepted_time = cmd.time;
  o.book = s.pair;
  o.agency = s.agency;
  o.side = s.side;
  o.tif = s.tif;
  offers_.push_back(o);
  const OfferId id = offers_.size();
  if (s.client_id != 0) client_index_.Insert(s.agency, s.client_id, id);
  AppendAccepted(cmd, EventType::kTermAccepted, id, out);
  // FOK and minimum fill, as on pair books: checked before any loan by the walk Match
  // would make; unmet, the offer is cancelled whole with no loan.
  const Lots need = s.tif == TimeInForce::kFok ? s.lots : s.min_fill;
  if (need > 0) {
    ++order_types_;  // the snapshot must say so (version 7)
    if (Fillable(id, need) < need) {
      return CancelTaker(cmd, id,
                         s.tif == TimeInForce::kFok ? CancelReason::kFokUnfilled
                                                    : CancelReason::kMinFillUnmet,
                         out);
    }
  }
  Match(cmd, id, out);
}

void TimeSwaps::Match(const Command& cmd, OfferId taker_id, std::vector<Event>* out) noexcept {
  TermOffer* t = &Offer(taker_id);
  const bool lend = t->side == Side::kSell;
  Side_& opp = lend ? books_[t->book].borrows : books_[t->book].lends;
  const AgencyMask partners = eligible_[t->book * num_agencies_ + t->agency] & t->accept;
  const Amount lot_size = ref_.instruments()[ref_.term_books()[t->book].instrument].lot_size;
  CancelReason cancel = CancelReason::kIocRemainder;
  bool self_match = false;
  // Levels in priority: a lend meets the highest borrow premiums first (down to its own),
  // a borrow the lowest lend premiums first (up to its own).
  std::int64_t p = lend ? opp.bits.PrevAtOrBefore(kMaxPremiumBps) : opp.bits.NextAtOrAfter(0);
  while (p >= 0 && t->open > 0 && !self_match) {
    if (lend ? p < t->premium : p > t->premium) break;
    OfferId m_id = opp.levels[p].head;
    while (m_id != 0 && t->open > 0) {
      TermOffer& m = Offer(m_id);
      const OfferId next = m.next;
      if (m.agency == t->agency) {  // self-match: cancel the taker's remainder
        self_match = true;
        cancel = CancelReason::kSelfMatch;
        break;
      }
      if ((partners & (AgencyMask{1} << m.agency)) == 0 ||
          (m.accept & (AgencyMask{1} << t->agency)) == 0) {
        m_id = next;  // not eligible: skipped in place
        continue;
      }
      const Lots q = std::min(t->open, m.open);
      const AgencyId lender = lend ? t->agency : m.agency;
      const AgencyId borrower = lend ? m.agency : t->agency;
      // The loan is made at the maker's premium; its due amount fits int64 because the
      // maker's own offer (q <= its lots) passed the same check at acceptance.
      const Amount due = *AmountDue(q * lot_size, m.premium);
      Pledge pledge;
      const int ag = PickAgreement(t->book, lender, borrower, due, &pledge);
      if (ag < 0) {
        m_id = next;  // beyond the borrower's credit or collateral: skipped in place
        continue;
      }
      Lend(cmd, m_id, taker_id, q, static_cast<std::uint32_t>(ag), pledge, out);
      t = &Offer(taker_id);
      m_id = next;
    }
    if (self_match) break;
    p = lend ? opp.bits.PrevAtOrBefore(p - 1) : opp.bits.NextAtOrAfter(p + 1);
  }
  if (t->open == 0) {
    t->status = OfferStatus::kFilled;
    return;
  }
  // FOK: Fillable said it fills whole, so this is unreachable; kept as on pair books.
  if (!self_match && t->tif == TimeInForce::kFok) cancel = CancelReason::kFokUnfilled;
  if (!self_match && t->tif != TimeInForce::kIoc && t->tif != TimeInForce::kFok) {
    Link(taker_id, *t);  // rests
    // A new GTD offer joins the expiry heap; a replaced one is in it already.
    if (t->tif == TimeInForce::kGtd && t->accepted_seq == cmd.seq) {
      expiries_.push_back({t->expiry, taker_id});
      std::push_heap(expiries_.begin(), expiries_.end(), TimedLater{});
    }
    return;
  }
  // Not linked: release what is left without touching any level.
  CancelTaker(cmd, taker_id, cancel, out);
}

void TimeSwaps::Lend(const Command& cmd, OfferId maker_id, OfferId taker_id, Lots lots,
                     std::uint32_t agreement, const Pledge& pledge,
                     std::vector<Event>* out) noexcept {
  TermOffer& m = Offer(maker_id);
  TermOffer& t = Offer(taker_id);
  const TermBook& tb = ref_.term_books()[m.book];
  const Instrument& inst = ref_.instruments()[tb.instrument];
  const bool taker_lends = t.side == Side::kSell;
  const AgencyId lender = taker_lends ? t.agency : m.agency;
  const AgencyId borrower = taker_lends ? m.agency : t.agency;
  const Amount principal = lots * inst.lot_size;
  const Amount due = *AmountDue(principal, m.premium);
  // The near leg: out of the lender's reservation, into the borrower's available units.
  HoldingInfo& hl = H(lender, tb.instrument);
  hl.reserved -= principal;
  H(borrower, tb.instrument).available += principal;
  // The maker stays linked (in place) unless it is done.
  if (lots == m.open) {
    Unlink(maker_id, m);  // takes its open lots off the level
    m.status = OfferStatus::kFilled;
  } else {
    SideOf(m.book, m.side).levels[m.premium].lots -= lots;
  }
  m.open -= lots;
  m.filled += lots;
  t.open -= lots;
  t.filled += lots;
  // PickAgreement checked that this fits under the limit (an int64).
  Exposure(agreement, borrower) += static_cast<MicroUsd>(static_cast<i128>(due) *
                                                         values_[tb.instrument]);

  Obligation ob;
  ob.id = obligations_.size() + 1;
  ob.book = m.book;
  ob.instrument = tb.instrument;
  ob.agreement = agreement;
  ob.lender = lender;
  ob.borrower = borrower;
  ob.lend_offer = taker_lends ? taker_id : maker_id;
  ob.borrow_offer = taker_lends ? maker_id : taker_id;
  ob.lots = lots;
  ob.premium = m.premium;
  ob.principal = principal;
  ob.due_amount = due;
  ob.fill_time = cmd.time;
  ob.due_time = cmd.time + tb.tenor;
  if (pledge.amount > 0) {
    // CollateralFor checked the borrower's available units a moment ago; the near leg
    // above moved only units of the lent mineral, never of the collateral.
    HoldingInfo& hc = H(borrower, pledge.instrument);
    hc.available -= pledge.amount;
    hc.reserved += pledge.amount;
    ob.collateral_state = CollateralState::kPledged;
    ob.collateral_instrument = pledge.instrument;
    ob.collateral_amount = pledge.amount;
    ++pledges_;
  }
  obligations_.push_back(ob);
  dues_.push_back({ob.due_time, ob.id});
  std::push_heap(dues_.begin(), dues_.end(), TimedLater{});

  Event& e = NewEvent(cmd, EventType::kLoanFill, out);
  LoanFillEvent& f = e.loan_fill;
  f.obligation = ob.id;
  f.book = m.book;
  f.agreement = agreement;
  f.maker_offer = maker_id;
  f.taker_offer = taker_id;
  f.lender = lender;
  f.borrower = borrower;
  f.lots = lots;
  f.premium_bps = m.premium;
  f.due_amount = due;
  f.maker_open = m.open;
  f.taker_open = t.open;
  f.aggressor_side = t.side;
  if (pledge.amount > 0) {
    CollateralEventFor(cmd, obligations_.back(), CollateralEventKind::kPledged, pledge.amount,
                       0, out);
  }
}

void TimeSwaps::Cancel(const Command& cmd, std::vector<Event>* out) noexcept {
  const CancelOffer& c = cmd.cancel;
  if (c.agency >= num_agencies_) {
    return Reject(cmd, RejectReason::kUnknownAgency, c.agency, c.offer, 0, out);
  }
  if (c.offer == 0 || c.offer > offers_.size() || Offer(c.offer).agency != c.agency ||
      Offer(c.offer).status != OfferStatus::kOpen) {
    return Reject(cmd, RejectReason::kUnknownOffer, c.agency, c.offer, 0, out);
  }
  TermOffer& o = Offer(c.offer);
  const Lots lots = o.open;
  Remove(c.offer, o, OfferStatus::kCancelled);
  Event& e = NewEvent(cmd, EventType::kTermCancelled, out);
  e.cancelled.offer = c.offer;
  e.cancelled.agency = c.agency;
  e.cancelled.reason = CancelReason::kRequested;
  e.cancelled.lots = lots;
}

// ------------------------------------------------------------------ obligations

Amount TimeSwaps::Pay(Obligation& ob, Amount want) noexcept {
  HoldingInfo& hb = H(ob.borrower, ob.instrument);
  const Amount x = std::min(want, hb.available);
  if (x <= 0) return 0;
  hb.available -= x;
  H(ob.lender, ob.instrument).available += x;
  ob.returned += x;
  // outstanding x value <= credit used <= int64 (kept so by re-valuation's check).
  Exposure(ob.agreement, ob.borrower) -= static_cast<MicroUsd>(x * values_[ob.instrument]);
  return x;
}

Event& TimeSwaps::ObligationEventFor(const Command& cmd, const Obligation& ob,
                                     ObligationEventKind kind, Amount amount,
                                     std::vector<Event>* out) noexcept {
  Event& e = NewEvent(cmd, EventType::kObligation, out);
  ObligationEvent& o = e.obligation;
  o.obligation = ob.id;
  o.kind = kind;
  o.state = ob.state;
  o.lender = ob.lender;
  o.borrower = ob.borrower;
  o.instrument = ob.instrument;
  o.amount = amount;
  o.outstanding = Outstanding(ob);
  o.due_time = ob.due_time;
  return e;
}

Event& TimeSwaps::CollateralEventFor(const Command& cmd, const Obligation& ob,
                                     CollateralEventKind kind, Amount amount, Amount covered,
                                     std::vector<Event>* out) noexcept {
  Event& e = NewEvent(cmd, EventType::kCollateral, out);
  CollateralEvent& c = e.collateral;
  c.obligation = ob.id;
  c.kind = kind;
  c.state = ob.state;
  c.lender = ob.lender;
  c.borrower = ob.borrower;
  c.instrument = ob.collateral_instrument;
  c.amount = amount;
  c.covered = covered;
  c.outstanding = Outstanding(ob);
  return e;
}

void TimeSwaps::ReleasePledge(const Command& cmd, Obligation& ob,
                              std::vector<Event>* out) noexcept {
  if (ob.collateral_state != CollateralState::kPledged) return;
  HoldingInfo& hc = H(ob.borrower, ob.collateral_instrument);
  hc.reserved -= ob.collateral_amount;
  hc.available += ob.collateral_amount;
  ob.collateral_state = CollateralState::kReleased;
  if (ob.released_seq == 0 && ob.recalled_seq == 0 && ob.forfeited_seq == 0) ++change_seqs_;
  ob.released_seq = cmd.seq;
  CollateralEventFor(cmd, ob, CollateralEventKind::kReleased, ob.collateral_amount, 0, out);
}

void TimeSwaps::ScheduleForfeit(const Obligation& ob) {
  const TimeNs grace = ref_.agreements()[ob.agreement].grace;
  TimeNs at;
  if (__builtin_add_overflow(ob.due_time, grace, &at)) at = INT64_MAX;
  forfeits_.push_back({at, ob.id});
  std::push_heap(forfeits_.begin(), forfeits_.end(), TimedLater{});
}

void TimeSwaps::Forfeit(const Command& cmd, Obligation& ob, std::vector<Event>* out) noexcept {
  const MicroUsd v_loan = values_[ob.instrument];
  const MicroUsd v_coll = values_[ob.collateral_instrument];
  const Amount owed = Outstanding(ob);
  // The pledge units that cover what is owed at reference values, rounded up (the
  // lender's favour); values and amounts are int64, so the product fits 128 bits.
  const i128 needed = (static_cast<i128>(owed) * v_loan + v_coll - 1) / v_coll;
  const Amount give = needed < ob.collateral_amount ? static_cast<Amount>(needed)
                                                    : ob.collateral_amount;
  // Covered: all that is owed when the lender got all it needed, else what the whole
  // pledge is worth in units of the loan, rounded down (the borrower still owes the rest).
  const Amount covered =
      give == needed ? owed
                     : std::min<Amount>(owed, static_cast<Amount>(static_cast<i128>(give) *
                                                                  v_coll / v_loan));
  HoldingInfo& hc = H(ob.borrower, ob.collateral_instrument);
  hc.reserved -= ob.collateral_amount;
  hc.available += ob.collateral_amount - give;
  H(ob.lender, ob.collateral_instrument).available += give;
  ob.covered += covered;
  Exposure(ob.agreement, ob.borrower) -= static_cast<MicroUsd>(covered * v_loan);
  ob.collateral_state = CollateralState::kForfeited;
  ob.collateral_forfeited = give;
  if (ob.released_seq == 0 && ob.recalled_seq == 0 && ob.forfeited_seq == 0) ++change_seqs_;
  ob.forfeited_seq = cmd.seq;
  if (Outstanding(ob) == 0) CloseOverdue(ob);
  CollateralEventFor(cmd, ob, CollateralEventKind::kForfeited, give, covered, out);
  if (give < ob.collateral_amount) {
    CollateralEventFor(cmd, ob, CollateralEventKind::kReleased, ob.collateral_amount - give, 0,
                       out);
  }
}

void TimeSwaps::MarkOverdue(Obligation& ob) noexcept {
  ob.state = ObligationState::kOverdue;
  ++overdue_by_mineral_[ob.borrower * num_minerals_ + ref_.instruments()[ob.instrument].mineral];
  const std::uint32_t key = static_cast<std::uint32_t>(ob.borrower * num_instruments_ + ob.instrument);
  if (group_of_[key] == 0) {
    groups_.push_back({key, 0, 0});
    group_of_[key] = static_cast<std::uint32_t>(groups_.size());
  }
  OverdueGroup& g = groups_[group_of_[key] - 1];
  // Walk back from the tail to keep (due_time, id) order. Obligations fall overdue in that
  // order (settlement pops them so, and a recall's due time is later than any settled
  // one), so this stops at once; the walk only makes the order a fact, not an assumption,
  // because LoadState rebuilds the lists by sorting.
  ObligationId after = g.tail;
  while (after != 0) {
    const Obligation& a = Ob(after);
    if (a.due_time < ob.due_time || (a.due_time == ob.due_time && a.id < ob.id)) break;
    after = a.ov_prev;
  }
  ob.ov_prev = after;
  ob.ov_next = after == 0 ? g.head : Ob(after).ov_next;
  if (ob.ov_prev != 0) Ob(ob.ov_prev).ov_next = ob.id; else g.head = ob.id;
  if (ob.ov_next != 0) Ob(ob.ov_next).ov_prev = ob.id; else g.tail = ob.id;
}

void TimeSwaps::CloseOverdue(Obligation& ob) noexcept {
  ob.state = ObligationState::kClosed;
  --overdue_by_mineral_[ob.borrower * num_minerals_ + ref_.instruments()[ob.instrument].mineral];
  const std::uint32_t key = static_cast<std::uint32_t>(ob.borrower * num_instruments_ + ob.instrument);
  const std::uint32_t gi = group_of_[key] - 1;
  OverdueGroup& g = groups_[gi];
  if (ob.ov_prev != 0) Ob(ob.ov_prev).ov_next = ob.ov_next; else g.head = ob.ov_next;
  if (ob.ov_next != 0) Ob(ob.ov_next).ov_prev = ob.ov_prev; else g.tail = ob.ov_prev;
  ob.ov_prev = ob.ov_next = 0;
  if (g.head == 0) {  // emptied: swap-remove (groups_ order carries no meaning)
    group_of_[key] = 0;
    if (gi + 1 != groups_.size()) {
      groups_[gi] = groups_.back();
      group_of_[groups_[gi].key] = gi + 1;
    }
    groups_.pop_back();
  }
}

void TimeSwaps::Settle(const Command& cmd, Obligation& ob, std::vector<Event>* out) noexcept {
  const Amount x = Pay(ob, Outstanding(ob));
  if (Outstanding(ob) == 0) {
    ob.state = ObligationState::kClosed;
    ObligationEventFor(cmd, ob, ObligationEventKind::kSettled, x, out);
    ReleasePledge(cmd, ob, out);
  } else {
    MarkOverdue(ob);
    if (ob.collateral_state == CollateralState::kPledged) ScheduleForfeit(ob);
    ObligationEventFor(cmd, ob, ObligationEventKind::kOverdue, x, out);
  }
}

void TimeSwaps::AdvanceTime(const Command& cmd, std::vector<Event>* out) noexcept {
  while (!expiries_.empty() && expiries_.front().time <= cmd.time) {
    const TimedEntry top = expiries_.front();
    std::pop_heap(expiries_.begin(), expiries_.end(), TimedLater{});
    expiries_.pop_back();
    TermOffer& o = Offer(top.id);
    if (o.status != OfferStatus::kOpen) continue;  // finished earlier: stale entry
    const Lots lots = o.open;
    Remove(top.id, o, OfferStatus::kExpired);
    Event& e = NewEvent(cmd, EventType::kTermExpired, out);
    e.expired.offer = top.id;
    e.expired.agency = o.agency;
    e.expired.lots = lots;
  }
  while (!dues_.empty() && dues_.front().time <= cmd.time) {
    const TimedEntry top = dues_.front();
    std::pop_heap(dues_.begin(), dues_.end(), TimedLater{});
    dues_.pop_back();
    Obligation& ob = Ob(top.id);
    // Stale: returned in full already, or recalled (its new due time has its own entry).
    if (ob.state != ObligationState::kOpen || ob.due_time != top.time) continue;
    Settle(cmd, ob, out);
  }
  while (!forfeits_.empty() && forfeits_.front().time <= cmd.time) {
    const TimedEntry top = forfeits_.front();
    std::pop_heap(forfeits_.begin(), forfeits_.end(), TimedLater{});
    forfeits_.pop_back();
    Obligation& ob = Ob(top.id);
    // Stale: paid (and its pledge released) before the grace period ended.
    if (ob.state != ObligationState::kOverdue ||
        ob.collateral_state != CollateralState::kPledged) {
      continue;
    }
    Forfeit(cmd, ob, out);
  }
}

void TimeSwaps::CollectOverdue(const Command& cmd, std::vector<Event>* out) noexcept {
  if (groups_.empty()) return;
  // Invariant: after this function, no group's borrower holds available units of its
  // instrument (Pay takes all it can, and a group stays only while something is owed). So
  // a group needs work exactly when its holding rose during the command: one check each.
  // The groups to collect are chosen first, so units a lender receives here are collected
  // from it (if it is itself overdue in that instrument) at the end of the next command,
  // whatever the groups' order; they are then taken in key order, for a deterministic
  // event order (groups_ order depends on history, LoadState rebuilds it differently).
  collectable_.clear();
  for (const OverdueGroup& g : groups_) {
    const Amount held = (*holdings_)[g.key].available;
    if (held > 0) collectable_.emplace_back(g.key, held);
  }
  if (collectable_.empty()) return;
  std::sort(collectable_.begin(), collectable_.end());
  for (auto& [key, budget] : collectable_) {
    // Only what the borrower held when the pass began: units it receives from a
    // collection earlier in this pass wait for the next command.
    ObligationId id = groups_[group_of_[key] - 1].head;
    while (id != 0 && budget > 0 && (*holdings_)[key].available > 0) {
      Obligation& ob = Ob(id);
      id = ob.ov_next;
      const Amount x = Pay(ob, std::min(Outstanding(ob), budget));
      budget -= x;
      if (Outstanding(ob) == 0) CloseOverdue(ob);  // may drop the group: id is kept
      ObligationEventFor(cmd, ob, ObligationEventKind::kCollected, x, out);
      if (ob.state == ObligationState::kClosed) ReleasePledge(cmd, ob, out);
    }
  }
}

void TimeSwaps::Return(const Command& cmd, std::vector<Event>* out) noexcept {
  const ObligationCommand& c = cmd.obligation;
  auto reject = [&](RejectReason r) { Reject(cmd, r, c.agency, c.obligation, 0, out); };
  if (c.agency >= num_agencies_) return reject(RejectReason::kUnknownAgency);
  if (c.obligation == 0 || c.obligation > obligations_.size() ||
      Ob(c.obligation).borrower != c.agency) {
    return reject(RejectReason::kUnknownObligation);
  }
  Obligation& ob = Ob(c.obligation);
  if (ob.state == ObligationState::kClosed) return reject(RejectReason::kObligationNotOpen);
  if (c.amount <= 0 || c.amount > Outstanding(ob)) {
    return reject(RejectReason::kInvalidAmount);
  }
  if (H(ob.borrower, ob.instrument).available < c.amount) {
    return reject(RejectReason::kInsufficientHoldings);
  }
  Pay(ob, c.amount);
  if (Outstanding(ob) == 0) {
    if (ob.state == ObligationState::kOverdue) {
      CloseOverdue(ob);
    } else {
      ob.state = ObligationState::kClosed;
    }
  }
  ObligationEventFor(cmd, ob, ObligationEventKind::kReturned, c.amount, out);
  if (ob.state == ObligationState::kClosed) ReleasePledge(cmd, ob, out);
}

void TimeSwaps::Recall(const Command& cmd, std::vector<Event>* out) noexcept {
  const ObligationCommand& c = cmd.obligation;
  auto reject = [&](RejectReason r) { Reject(cmd, r, c.agency, c.obligation, 0, out); };
  if (c.agency >= num_agencies_) return reject(RejectReason::kUnknownAgency);
  if (c.obligation == 0 || c.obligation > obligations_.size() ||
      Ob(c.obligation).lender != c.agency) {
    return reject(RejectReason::kUnknownObligation);
  }
  Obligation& ob = Ob(c.obligation);
  if (ob.state != ObligationState::kOpen) return reject(RejectReason::kObligationNotOpen);
  const Agreement& ag = ref_.agreements()[ob.agreement];
  if (!ag.recall_allowed) return reject(RejectReason::kRecallNotAllowed);
  if (!ref_.level_policy(levels_[ob.instrument]).recall_allowed) {
    return reject(RejectReason::kRecallForbiddenAtLevel);
  }
  const TimeNs due = cmd.time + ag.recall_notice;
  // The first recall is the one that can move the due time (a later one's is later).
  if (!ob.recalled) {
    if (ob.released_seq == 0 && ob.recalled_seq == 0 && ob.forfeited_seq == 0) ++change_seqs_;
    ob.recalled_seq = cmd.seq;
  }
  ob.recalled = true;
  if (due < ob.due_time) {
    ob.due_time = due;
    dues_.push_back({due, ob.id});
    std::push_heap(dues_.begin(), dues_.end(), TimedLater{});
  }
  ObligationEventFor(cmd, ob, ObligationEventKind::kRecalled, 0, out);
}

// ------------------------------------------------------------------ queries

OfferInfo TimeSwaps::Info(OfferId id) const {
  const TermOffer& o = Offer(id);
  OfferInfo i;
  i.id = id;
  i.client_id = o.client_id;
  i.agency = o.agency;
  i.pair = o.book;
  i.side = o.side;
  i.tif = o.tif;
  i.price = o.premium;
  i.original_lots = o.original;
  i.open_lots = o.open;
  i.filled_lots = o.filled;
  i.min_fill = o.min_fill;
  i.expiry = o.expiry;
  i.allow = o.allow;
  i.deny = o.deny;
  i.status = o.status;
  i.accepted_seq = o.accepted_seq;
  i.accepted_time = o.accepted_time;
  return i;
}

ObligationInfo TimeSwaps::Info(const Obligation& ob) const {
  ObligationInfo i;
  i.id = ob.id;
  i.book = ob.book;
  i.instrument = ob.instrument;
  i.agreement = ob.agreement;
  i.lender = ob.lender;
  i.borrower = ob.borrower;
  i.lend_offer = ob.lend_offer;
  i.borrow_offer = ob.borrow_offer;
  i.lots = ob.lots;
  i.premium_bps = ob.premium;
  i.principal = ob.principal;
  i.due_amount = ob.due_amount;
  i.returned = ob.returned;
  i.covered = ob.covered;
  i.outstanding = Outstanding(ob);
  i.fill_time = ob.fill_time;
  i.due_time = ob.due_time;
  i.state = ob.state;
  i.recalled = ob.recalled;
  i.collateral_state = ob.collateral_state;
  i.collateral_instrument = ob.collateral_instrument;
  i.collateral_amount = ob.collateral_amount;
  i.collateral_forfeited = ob.collateral_forfeited;
  i.recalled_seq = ob.recalled_seq;
  i.forfeited_seq = ob.forfeited_seq;
  i.released_seq = ob.released_seq;
  return i;
}

std::optional<OfferInfo> TimeSwaps::GetTermOffer(OfferId id) const {
  if (id == 0 || id > offers_.size()) return std::nullopt;
  return Info(id);
}

std::optional<ObligationInfo> TimeSwaps::GetObligation(ObligationId id) const {
  if (id == 0 || id > obligations_.size()) return std::nullopt;
  return Info(obligations_[id - 1]);
}

std::vector<ObligationInfo> TimeSwaps::ListObligations(std::optional<AgencyId> agency) const {
  std::vector<ObligationInfo> v;
  for (const Obligation& ob : obligations_) {
    if (!agency || ob.lender == *agency || ob.borrower == *agency) v.push_back(Info(ob));
  }
  return v;
}

MicroUsd TimeSwaps::CreditUsed(std::uint32_t agreement, AgencyId borrower) const {
  if (agreement >= ref_.agreements().size() || borrower >= num_agencies_) return 0;
  return exposure_[agreement * num_agencies_ + borrower];
}

}  // namespace msx::internal
