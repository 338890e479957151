// NaiveMatcher's time swaps: term books, the obligation ledger and collateral, re-stated
// from engine/matching/ENGINE.md ("Time swaps", "Collateral") as plainly as possible.
// Everything is a linear scan over two vectors (term offers, loans); nothing is kept
// incrementally (no heaps, no levels, no exposure counters, no overdue lists, no forfeit
// queue), so that the engine's bookkeeping of those is what the differential test checks.
#include <algorithm>
#include <tuple>

#include "engine/testing/naive_matcher.h"

namespace msx::testing {
namespace {

constexpr std::int64_t kMaxPremium = 10000;  // basis points: 100 %
constexpr TimeNs kDay = 86'400'000'000'000;

// principal + the premium rounded up to a whole unit; nullopt beyond int64.
std::optional<Amount> Due(Amount principal, std::int64_t bps) {
  const __int128 product = static_cast<__int128>(principal) * bps;
  __int128 premium = product / 10000;
  if (product % 10000 != 0) ++premium;
  const __int128 due = principal + premium;
  if (due > INT64_MAX) return std::nullopt;
  return static_cast<Amount>(due);
}

bool Member(const Agreement& ag, AgencyId a) { return (ag.members >> a) & 1; }

bool Accepts(AgencyMask allow, AgencyMask deny, AgencyId other) {
  const AgencyMask bit = AgencyMask{1} << other;
  if (allow != 0 && !(allow & bit)) return false;
  return (deny & bit) == 0;
}

}  // namespace

std::size_t NaiveMatcher::OpenTermOfferCount() const {
  std::size_t n = 0;
  for (const TermOffer& o : term_offers_) n += o.is_open;
  return n;
}

MicroUsd NaiveMatcher::Owed(std::uint32_t agreement, AgencyId borrower) const {
  MicroUsd owed = 0;
  for (const Loan& l : loans_) {
    if (l.agreement != agreement || l.borrower != borrower) continue;
    if (l.state == ObligationState::kClosed) continue;
    owed += Outstanding(l) * ref_.instruments()[l.instrument].reference_value;
  }
  return owed;
}

bool NaiveMatcher::OwesOverdue(AgencyId agency, MineralId mineral) const {
  for (const Loan& l : loans_) {
    if (l.borrower == agency && l.state == ObligationState::kOverdue &&
        ref_.instruments()[l.instrument].mineral == mineral) {
      return true;
    }
  }
  return false;
}

bool NaiveMatcher::SharesAgreement(AgencyId a, AgencyId b, MineralId mineral) const {
  for (const Agreement& ag : ref_.agreements()) {
    if (Member(ag, a) && Member(ag, b) && ReferenceData::Covers(ag, mineral)) return true;
  }
  return false;
}

std::optional<NaiveMatcher::Pledge> NaiveMatcher::PledgeFor(const Agreement& ag,
                                                            InstrumentId instrument,
                                                            AgencyId borrower, Amount due) const {
  if (ag.collateral_bps == 0) return Pledge{};
  const auto& insts = ref_.instruments();
  // Worth at least bps/10000 of the loan: the least u with
  // u * value(c) * 10000 >= due * value(loan) * bps.
  const __int128 want =
      static_cast<__int128>(due) * insts[instrument].reference_value * ag.collateral_bps;
  for (InstrumentId c : ag.collateral_instruments) {
    if (insts[c].mineral == insts[instrument].mineral) continue;
    const __int128 unit = static_cast<__int128>(insts[c].reference_value) * 10000;
    __int128 u = want / unit;
    if (u * unit < want) ++u;
    if (u > INT64_MAX) continue;
    if (GetHoldings(borrower, c).available >= u) return Pledge{c, static_cast<Amount>(u)};
  }
  return std::nullopt;
}

bool NaiveMatcher::HasRoom(std::uint32_t i, AgencyId borrower, InstrumentId instrument,
                           Amount due) const {
  const Agreement& ag = ref_.agreements()[i];
  const Instrument& inst = ref_.instruments()[instrument];
  if (!Member(ag, borrower) || !ReferenceData::Covers(ag, inst.mineral)) return false;
  return static_cast<__int128>(due) * inst.reference_value <=
         static_cast<__int128>(ag.credit_limit[borrower]) - Owed(i, borrower);
}

std::optional<std::pair<std::uint32_t, NaiveMatcher::Pledge>> NaiveMatcher::LoanAgreement(
    AgencyId lender, AgencyId borrower, InstrumentId instrument, Amount due, bool* room) const {
  *room = false;
  const auto& ags = ref_.agreements();
  for (std::uint32_t i = 0; i < ags.size(); ++i) {
    if (!Member(ags[i], lender) || !HasRoom(i, borrower, instrument, due)) continue;
    *room = true;
    if (const std::optional<Pledge> p = PledgeFor(ags[i], instrument, borrower, due)) {
      return std::make_pair(i, *p);
    }
  }
  return std::nullopt;
}

RejectReason NaiveMatcher::BorrowCheck(AgencyId borrower, InstrumentId instrument,
                                       Amount due) const {
  RejectReason r = RejectReason::kCreditLimitExceeded;
  for (std::uint32_t i = 0; i < ref_.agreements().size(); ++i) {
    if (!HasRoom(i, borrower, instrument, due)) continue;
    if (PledgeFor(ref_.agreements()[i], instrument, borrower, due)) return RejectReason::kNone;
    r = RejectReason::kInsufficientCollateral;
  }
  return r;
}

// Gives a lend's reserved open units back to its agency; the offer is done.
void NaiveMatcher::TermRelease(TermOffer& o) {
  if (o.side == Side::kSell) {
    const TermBook& tb = ref_.term_books()[o.book];
    const Amount units = o.open * ref_.instruments()[tb.instrument].lot_size;
    HoldingInfo& h = holdings_[o.agency * ref_.instruments().size() + tb.instrument];
    h.reserved -= units;
    h.available += units;
  }
  o.open = 0;
  o.is_open = false;
  o.resting = false;
}

void NaiveMatcher::EmitObligation(const Loan& l, ObligationEventKind kind, Amount amount) {
  Event& e = Emit(EventType::kObligation);
  e.obligation.obligation = l.id;
  e.obligation.kind = kind;
  e.obligation.state = l.state;
  e.obligation.lender = l.lender;
  e.obligation.borrower = l.borrower;
  e.obligation.instrument = l.instrument;
  e.obligation.amount = amount;
  e.obligation.outstanding = Outstanding(l);
  e.obligation.due_time = l.due_time;
}

void NaiveMatcher::EmitCollateral(const Loan& l, CollateralEventKind kind, Amount amount,
                                  Amount covered) {
  Event& e = Emit(EventType::kCollateral);
  e.collateral.obligation = l.id;
  e.collateral.kind = kind;
  e.collateral.state = l.state;
  e.collateral.lender = l.lender;
  e.collateral.borrower = l.borrower;
  e.collateral.instrument = l.collateral_instrument;
  e.collateral.amount = amount;
  e.collateral.covered = covered;
  e.collateral.outstanding = Outstanding(l);
}

void NaiveMatcher::ReleasePledge(Loan& l) {
  if (l.state != ObligationState::kClosed || l.collateral_state != CollateralState::kPledged) {
    return;
  }
  HoldingInfo& h = holdings_[l.borrower * ref_.instruments().size() + l.collateral_instrument];
  h.reserved -= l.collateral_amount;
  h.available += l.collateral_amount;
  l.collateral_state = CollateralState::kReleased;
  EmitCollateral(l, CollateralEventKind::kReleased, l.collateral_amount, 0);
}

// The grace period is over and `l` is still overdue: the lender takes the pledge units worth
// what is owed (rounded up), at most the whole pledge; the borrower gets the rest back.
void NaiveMatcher::ForfeitPledge(Loan& l) {
  const std::size_t ni = ref_.instruments().size();
  const MicroUsd v_loan = ref_.instruments()[l.instrument].reference_value;
  const MicroUsd v_coll = ref_.instruments()[l.collateral_instrument].reference_value;
  const Amount owed = Outstanding(l);
  // The least g with g * v_coll >= owed * v_loan.
  const __int128 worth = static_cast<__int128>(owed) * v_loan;
  __int128 enough = worth / v_coll;
  if (enough * v_coll < worth) ++enough;
  Amount give = l.collateral_amount;
  Amount covered;
  if (enough <= give) {
    give = static_cast<Amount>(enough);
    covered = owed;
  } else {  // the whole pledge, worth less than the debt: what it covers, rounded down
    covered = static_cast<Amount>(static_cast<__int128>(give) * v_coll / v_loan);
    covered = std::min(covered, owed);
  }
  HoldingInfo& b = holdings_[l.borrower * ni + l.collateral_instrument];
  b.reserved -= l.collateral_amount;
  b.available += l.collateral_amount - give;
  holdings_[l.lender * ni + l.collateral_instrument].available += give;
  l.covered += covered;
  l.collateral_state = CollateralState::kForfeited;
  l.collateral_forfeited = give;
  if (Outstanding(l) == 0) {
    l.state = ObligationState::kClosed;
    ++forfeits_closing_;
  } else {
    ++forfeits_short_;
  }
  EmitCollateral(l, CollateralEventKind::kForfeited, give, covered);
  if (give < l.collateral_amount) {
    EmitCollateral(l, CollateralEventKind::kReleased, l.collateral_amount - give, 0);
  }
}

// Moves min(want, the borrower's available units) to the lender; returns how many.
Amount NaiveMatcher::PayLoan(Loan& l, Amount want) {
  const std::size_t ni = ref_.instruments().size();
  HoldingInfo& from = holdings_[l.borrower * ni + l.instrument];
  const Amount x = std::max<Amount>(0, std::min(want, from.available));
  from.available -= x;
  holdings_[l.lender * ni + l.instrument].available += x;
  l.returned += x;
  return x;
}

// Start of every command, after the pair books' expiry: term offers expire in (expiry, id)
// order, then obligations due by now settle in (due time, id) order.
void NaiveMatcher::TermTimeStep() {
  std::vector<std::size_t> expiring;
  for (std::size_t i = 0; i < term_offers_.size(); ++i) {
    const TermOffer& o = term_offers_[i];
    if (o.is_open && o.tif == TimeInForce::kGtd && o.expiry <= cmd_->time) expiring.push_back(i);
  }
  std::sort(expiring.begin(), expiring.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(term_offers_[a].expiry, a) < std::make_tuple(term_offers_[b].expiry, b);
  });
  for (std::size_t i : expiring) {
    TermOffer& o = term_offers_[i];
    const Lots lots = o.open;
    TermRelease(o);
    Event& e = Emit(EventType::kTermExpired);
    e.expired.offer = o.id;
    e.expired.agency = o.agency;
    e.expired.lots = lots;
  }
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < loans_.size(); ++i) {
    const Loan& l = loans_[i];
    if (l.state == ObligationState::kOpen && l.due_time <= cmd_->time) due.push_back(i);
  }
  std::sort(due.begin(), due.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(loans_[a].due_time, a) < std::make_tuple(loans_[b].due_time, b);
  });
  for (std::size_t i : due) {
    Loan& l = loans_[i];
    const Amount x = PayLoan(l, Outstanding(l));
    const bool paid = Outstanding(l) == 0;
    l.state = paid ? ObligationState::kClosed : ObligationState::kOverdue;
    EmitObligation(l, paid ? ObligationEventKind::kSettled : ObligationEventKind::kOverdue, x);
    ReleasePledge(l);
  }
  // Then pledges of loans overdue for their whole grace period, in (due time + grace, id)
  // order.
  auto forfeit_at = [&](const Loan& l) {
    const TimeNs grace = ref_.agreements()[l.agreement].grace;
    return l.due_time > INT64_MAX - grace ? INT64_MAX : l.due_time + grace;
  };
  std::vector<std::size_t> forfeit;
  for (std::size_t i = 0; i < loans_.size(); ++i) {
    const Loan& l = loans_[i];
    if (l.state == ObligationState::kOverdue && l.collateral_state == CollateralState::kPledged &&
        forfeit_at(l) <= cmd_->time) {
      forfeit.push_back(i);
    }
  }
  std::sort(forfeit.begin(), forfeit.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(forfeit_at(loans_[a]), a) < std::make_tuple(forfeit_at(loans_[b]), b);
  });
  for (std::size_t i : forfeit) ForfeitPledge(loans_[i]);
}

void NaiveMatcher::TermSubmit() {
  const SubmitOffer& s = cmd_->submit;
  auto reject = [&](RejectReason r, OfferId o = 0) { Reject(r, s.agency, o, s.client_id); };
  if (s.agency >= ref_.agencies().size() || ref_.agencies()[s.agency].role != Role::kAgency) {
    return reject(RejectReason::kUnknownAgency);
  }
  if (s.client_id != 0) {
    for (const TermOffer& o : term_offers_) {
      if (o.agency == s.agency && o.client_id == s.client_id) {
        return reject(RejectReason::kDuplicateClientId, o.id);
      }
    }
  }
  if (s.pair >= ref_.term_books().size()) return reject(RejectReason::kUnknownTermBook);
  if (s.side != Side::kBuy && s.side != Side::kSell) return reject(RejectReason::kInvalidSide);
  if (s.tif != TimeInForce::kGtc && s.tif != TimeInForce::kGtd && s.tif != TimeInForce::kIoc &&
      s.tif != TimeInForce::kFok) {
    return reject(RejectReason::kInvalidTimeInForce);
  }
  const TermBook& tb = ref_.term_books()[s.pair];
  const Instrument& inst = ref_.instruments()[tb.instrument];
  if (s.lots <= 0) return reject(RejectReason::kInvalidLots);
  if (s.lots > tb.max_lots) return reject(RejectReason::kLotsAboveMax);
  if (s.price < 0 || s.price > kMaxPremium) return reject(RejectReason::kInvalidPrice);
  if (s.min_fill < 0 || s.min_fill > s.lots) return reject(RejectReason::kInvalidMinFill);
  if (s.tif == TimeInForce::kGtd && s.expiry <= cmd_->time) {
    return reject(RejectReason::kExpiryInPast);
  }
  for (AgencyMask m : {s.allow, s.deny}) {
    for (int bit = 0; bit < 64; ++bit) {
      if ((m >> bit & 1) && static_cast<std::size_t>(bit) >= ref_.agencies().size()) {
        return reject(RejectReason::kUnknownCounterparty);
      }
    }
  }
  const Amount principal = s.lots * inst.lot_size;
  const std::optional<Amount> due = Due(principal, s.price);
  if (!due) return reject(RejectReason::kOverflow);
  const std::size_t ni = ref_.instruments().size();
  HoldingInfo& h = holdings_[s.agency * ni + tb.instrument];
  if (s.side == Side::kSell) {
    if (OwesOverdue(s.agency, inst.mineral)) return reject(RejectReason::kObligationOverdue);
    if (principal > h.available) return reject(RejectReason::kInsufficientHoldings);
  } else if (const RejectReason r = BorrowCheck(s.agency, tb.instrument, *due);
             r != RejectReason::kNone) {
    return reject(r);
  }

  TermOffer t{};
  t.id = term_offers_.size() + 1;
  t.agency = s.agency;
  t.book = s.pair;
  t.side = s.side;
  t.tif = s.tif;
  t.premium = s.price;
  t.open = s.lots;
  t.min_fill = s.min_fill;
  t.expiry = s.tif == TimeInForce::kGtd ? s.expiry : 0;
  t.allow = s.allow;
  t.deny = s.deny;
  t.client_id = s.client_id;
  t.is_open = true;
  if (s.side == Side::kSell) {
    h.available -= principal;
    h.reserved += principal;
  }
  term_offers_.push_back(t);
  const std::size_t ti = term_offers_.size() - 1;
  Event& acc = Emit(EventType::kTermAccepted);
  acc.accepted.offer = t.id;
  acc.accepted.agency = t.agency;
  acc.accepted.pair = t.book;
  acc.accepted.side = t.side;
  acc.accepted.tif = t.tif;
  acc.accepted.lots = s.lots;
  acc.accepted.price = s.price;
  acc.accepted.client_id = s.client_id;

  // FOK and minimum fill: try the whole match; if it lends or borrows fewer lots than
  // needed, forget everything it did (a copy of the state, not a dry walk) and cancel the
  // offer whole.
  const Lots need = s.tif == TimeInForce::kFok ? s.lots : s.min_fill;
  if (need > 0) {
    const std::vector<TermOffer> offers = term_offers_;
    const std::vector<Loan> loans = loans_;
    const std::vector<HoldingInfo> holdings = holdings_;
    const std::size_t events = out_->size();
    const std::uint64_t skips = credit_skips_, rounded = rounded_premiums_,
                        coll_skips = collateral_skips_;
    const bool self = TermMatch(ti);
    if (term_offers_[ti].filled < need) {
      if (credit_skips_ != skips) ++unmet_by_credit_;
      term_offers_ = offers;
      loans_ = loans;
      holdings_ = holdings;
      out_->resize(events);
      credit_skips_ = skips;
      rounded_premiums_ = rounded;
      collateral_skips_ = coll_skips;
      TermOffer& tk = term_offers_[ti];
      const Lots lots = tk.open;
      TermRelease(tk);
      Event& e = Emit(EventType::kTermCancelled);
      e.cancelled.offer = tk.id;
      e.cancelled.agency = tk.agency;
      e.cancelled.reason =
          s.tif == TimeInForce::kFok ? CancelReason::kFokUnfilled : CancelReason::kMinFillUnmet;
      e.cancelled.lots = lots;
      return;
    }
    return TermFinish(ti, self);  // met: the match stands
  }
  const bool self = TermMatch(ti);
  TermFinish(ti, self);
}

bool NaiveMatcher::TermMatch(std::size_t ti) {
  const TermOffer& t = term_offers_[ti];
  const TermBook& tb = ref_.term_books()[t.book];
  const Instrument& inst = ref_.instruments()[tb.instrument];
  const std::size_t ni = ref_.instruments().size();
  // Resting offers on the other side that cross, best premium first, then arrival.
  const bool lend = t.side == Side::kSell;
  std::vector<std::size_t> cand;
  for (std::size_t i = 0; i < term_offers_.size(); ++i) {
    const TermOffer& m = term_offers_[i];
    if (i == ti || !m.resting || m.book != t.book || m.side == t.side) continue;
    if (lend ? m.premium >= t.premium : m.premium <= t.premium) cand.push_back(i);
  }
  std::sort(cand.begin(), cand.end(), [&](std::size_t a, std::size_t b) {
    const TermOffer& x = term_offers_[a];
    const TermOffer& y = term_offers_[b];
    if (x.premium != y.premium) return lend ? x.premium > y.premium : x.premium < y.premium;
    return x.priority < y.priority;
  });
  bool self = false;
  for (std::size_t ci : cand) {
    TermOffer& tk = term_offers_[ti];
    TermOffer& m = term_offers_[ci];
    if (tk.open == 0) break;
    if (m.agency == tk.agency) {
      self = true;
      break;
    }
    if (!SharesAgreement(m.agency, tk.agency, inst.mineral) ||
        !Accepts(tk.allow, tk.deny, m.agency) || !Accepts(m.allow, m.deny, tk.agency)) {
      continue;
    }
    const Lots q = std::min(tk.open, m.open);
    const AgencyId lender = lend ? tk.agency : m.agency;
    const AgencyId borrower = lend ? m.agency : tk.agency;
    const Amount p = q * inst.lot_size;
    const Amount owe = *Due(p, m.premium);
    bool room = false;
    const std::optional<std::pair<std::uint32_t, Pledge>> ag =
        LoanAgreement(lender, borrower, tb.instrument, owe, &room);
    if (!ag) {
      ++(room ? collateral_skips_ : credit_skips_);
      continue;
    }
    if (p * m.premium % 10000 != 0) ++rounded_premiums_;
    // The near leg: from the lender's reservation to the borrower's available units.
    holdings_[lender * ni + tb.instrument].reserved -= p;
    holdings_[borrower * ni + tb.instrument].available += p;
    tk.open -= q;
    tk.filled += q;
    m.open -= q;
    m.filled += q;
    if (m.open == 0) {
      m.is_open = false;
      m.resting = false;
    }
    Loan l{};
    l.id = loans_.size() + 1;
    l.book = tk.book;
    l.instrument = tb.instrument;
    l.agreement = ag->first;
    l.lender = lender;
    l.borrower = borrower;
    l.lots = q;
    l.premium_bps = m.premium;
    l.principal = p;
    l.due_amount = owe;
    l.fill_time = cmd_->time;
    l.due_time = cmd_->time + static_cast<TimeNs>(tb.tenor_days) * kDay;
    l.state = ObligationState::kOpen;
    const Pledge pledge = ag->second;
    if (pledge.amount > 0) {
      HoldingInfo& hc = holdings_[borrower * ni + pledge.instrument];
      hc.available -= pledge.amount;
      hc.reserved += pledge.amount;
      l.collateral_state = CollateralState::kPledged;
      l.collateral_instrument = pledge.instrument;
      l.collateral_amount = pledge.amount;
    }
    loans_.push_back(l);
    Event& e = Emit(EventType::kLoanFill);
    e.loan_fill.obligation = l.id;
    e.loan_fill.book = tk.book;
    e.loan_fill.agreement = ag->first;
    e.loan_fill.maker_offer = m.id;
    e.loan_fill.taker_offer = tk.id;
    e.loan_fill.lender = lender;
    e.loan_fill.borrower = borrower;
    e.loan_fill.lots = q;
    e.loan_fill.premium_bps = m.premium;
    e.loan_fill.due_amount = owe;
    e.loan_fill.maker_open = m.open;
    e.loan_fill.taker_open = tk.open;
    e.loan_fill.aggressor_side = tk.side;
    if (pledge.amount > 0) EmitCollateral(l, CollateralEventKind::kPledged, pledge.amount, 0);
  }
  return self;
}

void NaiveMatcher::TermFinish(std::size_t ti, bool self) {
  TermOffer& tk = term_offers_[ti];
  if (tk.open == 0) {
    tk.is_open = false;
    return;
  }
  if (self || tk.tif == TimeInForce::kIoc || tk.tif == TimeInForce::kFok) {
    const Lots lots = tk.open;
    TermRelease(tk);
    Event& e = Emit(EventType::kTermCancelled);
    e.cancelled.offer = tk.id;
    e.cancelled.agency = tk.agency;
    e.cancelled.reason = self                          ? CancelReason::kSelfMatch
                         : tk.tif == TimeInForce::kFok ? CancelReason::kFokUnfilled
                                                       : CancelReason::kIocRemainder;
    e.cancelled.lots = lots;
    return;
  }
  tk.resting = true;
  tk.priority = next_priority_++;
}

// ReplaceTermOffer: the rules of a pair book's ReplaceOffer, for a term offer.
void NaiveMatcher::TermReplace() {
  const ReplaceOffer& c = cmd_->replace;
  auto reject = [&](RejectReason r) { Reject(r, c.agency, c.offer, 0); };
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (c.offer == 0 || c.offer > term_offers_.size() ||
      term_offers_[c.offer - 1].agency != c.agency || !term_offers_[c.offer - 1].is_open) {
    return reject(RejectReason::kUnknownOffer);
  }
  const std::size_t ti = c.offer - 1;
  TermOffer& o = term_offers_[ti];
  const TermBook& tb = ref_.term_books()[o.book];
  const Instrument& inst = ref_.instruments()[tb.instrument];
  if (c.lots <= 0) return reject(RejectReason::kInvalidLots);
  if (c.lots > tb.max_lots) return reject(RejectReason::kLotsAboveMax);
  if (c.price < 0 || c.price > kMaxPremium) return reject(RejectReason::kInvalidPrice);
  const Lots open = c.lots - o.filled;  // the new total counts what was lent already
  if (open <= 0) {
    const Lots lots = o.open;
    TermRelease(o);
    Event& e = Emit(EventType::kTermCancelled);
    e.cancelled.offer = o.id;
    e.cancelled.agency = o.agency;
    e.cancelled.reason = CancelReason::kReplaceBelowFilled;
    e.cancelled.lots = lots;
    return;
  }
  const std::optional<Amount> due = Due(open * inst.lot_size, c.price);
  if (!due) return reject(RejectReason::kOverflow);
  HoldingInfo& h = holdings_[o.agency * ref_.instruments().size() + tb.instrument];
  const Amount more = (open - o.open) * inst.lot_size;
  if (o.side == Side::kSell) {
    if (more > h.available) return reject(RejectReason::kInsufficientHoldings);
  } else if (open > o.open || c.price > o.premium) {
    if (const RejectReason r = BorrowCheck(o.agency, tb.instrument, *due);
        r != RejectReason::kNone) {
      return reject(r);
    }
  }
  const bool keep = c.price == o.premium && open <= o.open;
  if (o.side == Side::kSell) {
    h.available -= more;
    h.reserved += more;
  }
  Event& e = Emit(EventType::kTermReplaced);
  e.replaced.offer = o.id;
  e.replaced.agency = o.agency;
  e.replaced.lots = open;
  e.replaced.price = c.price;
  e.replaced.kept_priority = keep;
  o.open = open;
  if (keep) return;
  o.premium = c.price;
  o.resting = false;  // out of the book; in again as an incoming offer
  const bool self = TermMatch(ti);
  TermFinish(ti, self);
}

void NaiveMatcher::TermCancel() {
  const CancelOffer& c = cmd_->cancel;
  if (c.agency >= ref_.agencies().size()) {
    return Reject(RejectReason::kUnknownAgency, c.agency, c.offer, 0);
  }
  if (c.offer == 0 || c.offer > term_offers_.size() ||
      term_offers_[c.offer - 1].agency != c.agency || !term_offers_[c.offer - 1].is_open) {
    return Reject(RejectReason::kUnknownOffer, c.agency, c.offer, 0);
  }
  TermOffer& o = term_offers_[c.offer - 1];
  const Lots lots = o.open;
  TermRelease(o);
  Event& e = Emit(EventType::kTermCancelled);
  e.cancelled.offer = o.id;
  e.cancelled.agency = o.agency;
  e.cancelled.reason = CancelReason::kRequested;
  e.cancelled.lots = lots;
}

void NaiveMatcher::ReturnCmd() {
  const ObligationCommand& c = cmd_->obligation;
  auto reject = [&](RejectReason r) { Reject(r, c.agency, c.obligation, 0); };
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (c.obligation == 0 || c.obligation > loans_.size() ||
      loans_[c.obligation - 1].borrower != c.agency) {
    return reject(RejectReason::kUnknownObligation);
  }
  Loan& l = loans_[c.obligation - 1];
  if (l.state == ObligationState::kClosed) return reject(RejectReason::kObligationNotOpen);
  if (c.amount <= 0 || c.amount > Outstanding(l)) {
    return reject(RejectReason::kInvalidAmount);
  }
  if (c.amount > GetHoldings(l.borrower, l.instrument).available) {
    return reject(RejectReason::kInsufficientHoldings);
  }
  PayLoan(l, c.amount);
  if (Outstanding(l) == 0) l.state = ObligationState::kClosed;  // cures an overdue
  EmitObligation(l, ObligationEventKind::kReturned, c.amount);
  ReleasePledge(l);
}

void NaiveMatcher::RecallCmd() {
  const ObligationCommand& c = cmd_->obligation;
  auto reject = [&](RejectReason r) { Reject(r, c.agency, c.obligation, 0); };
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (c.obligation == 0 || c.obligation > loans_.size() ||
      loans_[c.obligation - 1].lender != c.agency) {
    return reject(RejectReason::kUnknownObligation);
  }
  Loan& l = loans_[c.obligation - 1];
  if (l.state != ObligationState::kOpen) return reject(RejectReason::kObligationNotOpen);
  const Agreement& ag = ref_.agreements()[l.agreement];
  if (!ag.recall_allowed) return reject(RejectReason::kRecallNotAllowed);
  l.due_time = std::min(l.due_time, cmd_->time + ag.recall_notice);
  l.recalled = true;
  EmitObligation(l, ObligationEventKind::kRecalled, 0);
}

// End of every command: each (borrower, instrument) with overdue obligations whose
// borrower holds available units pays them, (borrower, instrument) in order, oldest
// overdue first. Only the units held when the pass starts count: what a lender receives
// by a collection in this pass waits for the next command.
void NaiveMatcher::Collect() {
  const std::size_t na = ref_.agencies().size();
  const std::size_t ni = ref_.instruments().size();
  std::vector<Amount> budget(na * ni, 0);
  for (const Loan& l : loans_) {
    if (l.state != ObligationState::kOverdue) continue;
    budget[l.borrower * ni + l.instrument] = holdings_[l.borrower * ni + l.instrument].available;
  }
  for (std::size_t key = 0; key < na * ni; ++key) {
    if (budget[key] <= 0) continue;
    std::vector<std::size_t> owed;
    for (std::size_t i = 0; i < loans_.size(); ++i) {
      const Loan& l = loans_[i];
      if (l.state == ObligationState::kOverdue && l.borrower * ni + l.instrument == key) {
        owed.push_back(i);
      }
    }
    std::sort(owed.begin(), owed.end(), [&](std::size_t a, std::size_t b) {
      return std::make_tuple(loans_[a].due_time, a) < std::make_tuple(loans_[b].due_time, b);
    });
    for (std::size_t i : owed) {
      if (budget[key] <= 0) break;
      Loan& l = loans_[i];
      const Amount x = PayLoan(l, std::min(Outstanding(l), budget[key]));
      budget[key] -= x;
      if (Outstanding(l) == 0) l.state = ObligationState::kClosed;
      EmitObligation(l, ObligationEventKind::kCollected, x);
      ReleasePledge(l);
    }
  }
}

}  // namespace msx::testing
