#include "engine/testing/naive_matcher.h"

#include <algorithm>
#include <cstring>

namespace msx::testing {

NaiveMatcher::NaiveMatcher(const ReferenceData& ref)
    : ref_(ref),
      holdings_(ref.agencies().size() * ref.instruments().size()),
      halted_(ref.pairs().size(), false) {}

HoldingInfo NaiveMatcher::GetHoldings(AgencyId agency, InstrumentId instrument) const {
  return holdings_[agency * ref_.instruments().size() + instrument];
}

std::size_t NaiveMatcher::OpenOfferCount() const {
  std::size_t n = 0;
  for (const Offer& o : offers_) n += o.is_open;
  return n;
}

Event& NaiveMatcher::Emit(EventType type) {
  Event& e = out_->emplace_back();
  std::memset(static_cast<void*>(&e), 0, sizeof e);
  e.seq = cmd_->seq;
  e.time = cmd_->time;
  e.type = type;
  return e;
}

void NaiveMatcher::Reject(RejectReason reason, AgencyId agency, OfferId offer,
                          ClientOfferId client_id) {
  Event& e = Emit(EventType::kRejected);
  e.rejected.command = cmd_->type;
  e.rejected.reason = reason;
  e.rejected.agency = agency;
  e.rejected.offer = offer;
  e.rejected.client_id = client_id;
}

std::pair<Lots, std::uint32_t> NaiveMatcher::LevelTotals(PairId pair, Side side,
                                                         Price price) const {
  Lots lots = 0;
  std::uint32_t count = 0;
  for (const Offer& o : offers_) {
    if (o.in_book && o.pair == pair && o.side == side && o.price == price) {
      lots += o.open;
      ++count;
    }
  }
  return {lots, count};
}

void NaiveMatcher::Touch(PairId pair, Side side, Price price) {
  for (const Touched& t : touched_) {
    if (t.pair == pair && t.side == side && t.price == price) return;
  }
  auto [lots, count] = LevelTotals(pair, side, price);
  touched_.push_back({pair, side, price, lots, count});
}

bool NaiveMatcher::Eligible(const Offer& a, const Offer& b) const {
  if (!(ref_.EligiblePartners(a.pair, a.agency) & (AgencyMask{1} << b.agency))) return false;
  auto accepts = [](const Offer& x, AgencyId other) {
    const AgencyMask bit = AgencyMask{1} << other;
    if (x.allow != 0 && !(x.allow & bit)) return false;
    return (x.deny & bit) == 0;
  };
  return accepts(a, b.agency) && accepts(b, a.agency);
}

// Resting offers that cross `taker`, best price first, then arrival.
std::vector<std::size_t> NaiveMatcher::Candidates(const Offer& taker) const {
  std::vector<std::size_t> c;
  for (std::size_t i = 0; i < offers_.size(); ++i) {
    const Offer& o = offers_[i];
    if (!o.in_book || o.pair != taker.pair || o.side == taker.side) continue;
    if (taker.side == Side::kBuy ? o.price <= taker.price : o.price >= taker.price) c.push_back(i);
  }
  const bool asks = taker.side == Side::kBuy;
  std::sort(c.begin(), c.end(), [&](std::size_t a, std::size_t b) {
    const Offer& x = offers_[a];
    const Offer& y = offers_[b];
    if (x.price != y.price) return asks ? x.price < y.price : x.price > y.price;
    return x.priority < y.priority;
  });
  return c;
}

Amount NaiveMatcher::Reservation(const Offer& o) const {
  const PairBook& pb = ref_.pairs()[o.pair];
  return o.side == Side::kSell ? o.open * ref_.instruments()[pb.base].lot_size : o.open * o.price;
}

// sign = +1 reserves the offer's current reservation, -1 releases it.
void NaiveMatcher::ReserveDelta(const Offer& o, Amount sign) {
  const PairBook& pb = ref_.pairs()[o.pair];
  const InstrumentId inst = o.side == Side::kSell ? pb.base : pb.quote;
  HoldingInfo& h = holdings_[o.agency * ref_.instruments().size() + inst];
  const Amount amount = Reservation(o);
  h.reserved += sign * amount;
  h.available -= sign * amount;
}

void NaiveMatcher::Finish(Offer& o, CancelReason reason) {
  Event& e = Emit(EventType::kCancelled);
  e.cancelled.offer = o.id;
  e.cancelled.agency = o.agency;
  e.cancelled.reason = reason;
  e.cancelled.lots = o.open;
  ReserveDelta(o, -1);
  o.open = 0;
  o.is_open = false;
  Done(o);
}

void NaiveMatcher::Done(const Offer& o) {
  if (retention_ > 0) done_.push_back({cmd_->time, o.id - 1});
}

void NaiveMatcher::Purge() {
  if (retention_ <= 0) return;
  int budget = cmd_->type == CommandType::kAdvanceTime ? 64 : 2;
  while (budget-- > 0 && done_head_ < done_.size() &&
         cmd_->time - done_[done_head_].first >= retention_) {
    offers_[done_[done_head_++].second].purged = true;
  }
}

void NaiveMatcher::MatchAndRest(std::size_t ti) {
  const PairBook& pb = ref_.pairs()[offers_[ti].pair];
  const Amount lot = ref_.instruments()[pb.base].lot_size;
  bool self = false;
  for (std::size_t ci : Candidates(offers_[ti])) {
    Offer& t = offers_[ti];
    Offer& m = offers_[ci];
    if (t.open == 0) break;
    if (m.agency == t.agency) {
      self = true;
      break;
    }
    if (!Eligible(t, m)) continue;
    Touch(m.pair, m.side, m.price);
    const Lots q = std::min(t.open, m.open);
    const Offer& seller = t.side == Side::kSell ? t : m;
    const Offer& buyer = t.side == Side::kBuy ? t : m;
    const std::size_t ni = ref_.instruments().size();
    holdings_[seller.agency * ni + pb.base].reserved -= q * lot;
    holdings_[buyer.agency * ni + pb.base].available += q * lot;
    holdings_[buyer.agency * ni + pb.quote].reserved -= q * buyer.price;
    holdings_[buyer.agency * ni + pb.quote].available += q * (buyer.price - m.price);
    holdings_[seller.agency * ni + pb.quote].available += q * m.price;
    t.open -= q;
    m.open -= q;
    t.filled += q;
    m.filled += q;
    Event& e = Emit(EventType::kFill);
    e.fill.fill_id = next_fill_id_++;
    e.fill.pair = t.pair;
    e.fill.aggressor_side = t.side;
    e.fill.maker_offer = m.id;
    e.fill.taker_offer = t.id;
    e.fill.maker_agency = m.agency;
    e.fill.taker_agency = t.agency;
    e.fill.lots = q;
    e.fill.price = m.price;
    e.fill.base_amount = q * lot;
    e.fill.quote_amount = q * m.price;
    e.fill.maker_open = m.open;
    e.fill.taker_open = t.open;
    if (m.open == 0) {
      m.in_book = false;
      m.is_open = false;
      Done(m);
    }
  }
  Offer& t = offers_[ti];
  if (t.open == 0) {
    t.is_open = false;
    Done(t);
    return;
  }
  if (self) return Finish(t, CancelReason::kSelfMatch);
  if (t.tif == TimeInForce::kIoc) return Finish(t, CancelReason::kIocRemainder);
  if (t.tif == TimeInForce::kFok) return Finish(t, CancelReason::kFokUnfilled);
  Touch(t.pair, t.side, t.price);
  t.in_book = true;
  t.priority = next_priority_++;
}

RejectReason NaiveMatcher::CheckLotsPrice(const PairBook& pb, Lots lots, Price price) const {
  if (lots <= 0) return RejectReason::kInvalidLots;
  if (lots > pb.max_lots) return RejectReason::kLotsAboveMax;
  if (price <= 0) return RejectReason::kInvalidPrice;
  if (price % pb.tick != 0) return RejectReason::kPriceOffTick;
  // The floor, in its defining form: price * quote value >= floor * lot size.
  const Instrument& base = ref_.instruments()[pb.base];
  const Instrument& quote = ref_.instruments()[pb.quote];
  if (static_cast<__int128>(price) * quote.reference_value <
      static_cast<__int128>(base.floor) * base.lot_size) {
    return RejectReason::kBelowFloor;
  }
  if (price < pb.band_low || price > pb.band_high) return RejectReason::kPriceOutsideBand;
  return RejectReason::kNone;
}

bool NaiveMatcher::Fits(const PairBook& pb, Lots lots, Price price) const {
  const __int128 base = static_cast<__int128>(lots) * ref_.instruments()[pb.base].lot_size;
  const __int128 quote = static_cast<__int128>(lots) * price;
  return base <= INT64_MAX && quote <= INT64_MAX;
}

void NaiveMatcher::Submit() {
  const SubmitOffer& s = cmd_->submit;
  auto reject = [&](RejectReason r, OfferId o = 0) { Reject(r, s.agency, o, s.client_id); };
  if (s.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (s.client_id != 0) {
    for (const Offer& o : offers_) {
      if (o.agency == s.agency && o.client_id == s.client_id && !o.purged) {
        return reject(RejectReason::kDuplicateClientId, o.id);
      }
    }
  }
  if (s.pair >= ref_.pairs().size()) return reject(RejectReason::kUnknownPair);
  if (s.side != Side::kBuy && s.side != Side::kSell) return reject(RejectReason::kInvalidSide);
  if (s.tif != TimeInForce::kGtc && s.tif != TimeInForce::kGtd && s.tif != TimeInForce::kIoc &&
      s.tif != TimeInForce::kFok) {
    return reject(RejectReason::kInvalidTimeInForce);
  }
  if (halted_[s.pair]) return reject(RejectReason::kPairHalted);
  const PairBook& pb = ref_.pairs()[s.pair];
  const RejectReason r = CheckLotsPrice(pb, s.lots, s.price);
  if (r != RejectReason::kNone) return reject(r);
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
  if (!Fits(pb, s.lots, s.price)) return reject(RejectReason::kOverflow);
  // An agency that owes an overdue obligation of a mineral may not give that mineral away.
  const InstrumentId gives = s.side == Side::kSell ? pb.base : pb.quote;
  if (OwesOverdue(s.agency, ref_.instruments()[gives].mineral)) {
    return reject(RejectReason::kObligationOverdue);
  }
  Offer o{};
  o.id = offers_.size() + 1;
  o.agency = s.agency;
  o.pair = s.pair;
  o.side = s.side;
  o.tif = s.tif;
  o.price = s.price;
  o.open = s.lots;
  o.expiry = s.tif == TimeInForce::kGtd ? s.expiry : 0;
  o.allow = s.allow;
  o.deny = s.deny;
  o.client_id = s.client_id;
  o.is_open = true;
  const InstrumentId inst = s.side == Side::kSell ? pb.base : pb.quote;
  if (Reservation(o) > GetHoldings(s.agency, inst).available) {
    return reject(RejectReason::kInsufficientHoldings);
  }
  offers_.push_back(o);
  ReserveDelta(o, +1);
  Event& e = Emit(EventType::kAccepted);
  e.accepted.offer = o.id;
  e.accepted.agency = o.agency;
  e.accepted.pair = o.pair;
  e.accepted.side = o.side;
  e.accepted.tif = o.tif;
  e.accepted.lots = s.lots;
  e.accepted.price = s.price;
  e.accepted.client_id = s.client_id;
  const Lots need = s.tif == TimeInForce::kFok ? s.lots : s.min_fill;
  if (need > 0) {
    Lots avail = 0;
    for (std::size_t ci : Candidates(o)) {
      const Offer& m = offers_[ci];
      if (m.agency == o.agency) break;
      if (Eligible(o, m)) avail += m.open;
    }
    if (avail < need) {
      return Finish(offers_.back(), s.tif == TimeInForce::kFok ? CancelReason::kFokUnfilled
                                                               : CancelReason::kMinFillUnmet);
    }
  }
  MatchAndRest(offers_.size() - 1);
}

void NaiveMatcher::CancelCmd() {
  const CancelOffer& c = cmd_->cancel;
  if (c.agency >= ref_.agencies().size()) return Reject(RejectReason::kUnknownAgency, c.agency, c.offer, 0);
  if (c.offer == 0 || c.offer > offers_.size() || offers_[c.offer - 1].agency != c.agency ||
      !offers_[c.offer - 1].is_open) {
    return Reject(RejectReason::kUnknownOffer, c.agency, c.offer, 0);
  }
  Offer& o = offers_[c.offer - 1];
  Touch(o.pair, o.side, o.price);
  const Lots lots = o.open;
  ReserveDelta(o, -1);
  o.open = 0;
  o.is_open = false;
  o.in_book = false;
  Done(o);
  Event& e = Emit(EventType::kCancelled);
  e.cancelled.offer = o.id;
  e.cancelled.agency = o.agency;
  e.cancelled.reason = CancelReason::kRequested;
  e.cancelled.lots = lots;
}

void NaiveMatcher::ReplaceCmd() {
  const ReplaceOffer& c = cmd_->replace;
  auto reject = [&](RejectReason r) { Reject(r, c.agency, c.offer, 0); };
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  if (c.offer == 0 || c.offer > offers_.size() || offers_[c.offer - 1].agency != c.agency ||
      !offers_[c.offer - 1].is_open) {
    return reject(RejectReason::kUnknownOffer);
  }
  const std::size_t i = c.offer - 1;
  const PairBook& pb = ref_.pairs()[offers_[i].pair];
  if (halted_[pb.id]) return reject(RejectReason::kPairHalted);
  const RejectReason r = CheckLotsPrice(pb, c.lots, c.price);
  if (r != RejectReason::kNone) return reject(r);
  // kReplaceOffer: `lots` is the new total, so what may still be open is total - filled;
  // the legacy kReplaceOfferOpenLots sets the open lots.
  const Lots open = cmd_->type == CommandType::kReplaceOffer ? c.lots - offers_[i].filled : c.lots;
  if (open <= 0) {
    Offer& o = offers_[i];
    Touch(o.pair, o.side, o.price);
    o.in_book = false;
    return Finish(o, CancelReason::kReplaceBelowFilled);
  }
  if (!Fits(pb, open, c.price)) return reject(RejectReason::kOverflow);
  Offer changed = offers_[i];
  changed.open = open;
  changed.price = c.price;
  const InstrumentId inst = changed.side == Side::kSell ? pb.base : pb.quote;
  if (Reservation(changed) - Reservation(offers_[i]) > GetHoldings(c.agency, inst).available) {
    return reject(RejectReason::kInsufficientHoldings);
  }
  const bool keep = c.price == offers_[i].price && open <= offers_[i].open;
  Event& e = Emit(EventType::kReplaced);
  e.replaced.offer = c.offer;
  e.replaced.agency = c.agency;
  e.replaced.lots = open;
  e.replaced.price = c.price;
  e.replaced.kept_priority = keep;
  Touch(offers_[i].pair, offers_[i].side, offers_[i].price);
  ReserveDelta(offers_[i], -1);
  offers_[i].open = open;
  offers_[i].price = c.price;
  ReserveDelta(offers_[i], +1);
  if (keep) return;
  offers_[i].in_book = false;
  MatchAndRest(i);
}

void NaiveMatcher::SetHoldingsCmd() {
  const SetHoldings& c = cmd_->set_holdings;
  if (c.agency >= ref_.agencies().size()) return Reject(RejectReason::kUnknownAgency, c.agency, 0, 0);
  if (c.instrument >= ref_.instruments().size()) {
    return Reject(RejectReason::kUnknownInstrument, c.agency, 0, 0);
  }
  HoldingInfo& h = holdings_[c.agency * ref_.instruments().size() + c.instrument];
  if (c.total < h.reserved) return Reject(RejectReason::kHoldingsBelowReserved, c.agency, 0, 0);
  __int128 sum = c.total;
  for (AgencyId a = 0; a < ref_.agencies().size(); ++a) {
    if (a == c.agency) continue;
    const HoldingInfo& x = GetHoldings(a, c.instrument);
    sum += x.available + x.reserved;
  }
  if (sum > INT64_MAX) return Reject(RejectReason::kOverflow, c.agency, 0, 0);
  h.available = c.total - h.reserved;
  Event& e = Emit(EventType::kHoldingsSet);
  e.holdings_set.agency = c.agency;
  e.holdings_set.instrument = c.instrument;
  e.holdings_set.available = h.available;
  e.holdings_set.reserved = h.reserved;
}

void NaiveMatcher::Expire() {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < offers_.size(); ++i) {
    const Offer& o = offers_[i];
    if (o.is_open && o.tif == TimeInForce::kGtd && o.expiry <= cmd_->time) due.push_back(i);
  }
  std::sort(due.begin(), due.end(), [&](std::size_t a, std::size_t b) {
    return std::make_tuple(offers_[a].expiry, a) < std::make_tuple(offers_[b].expiry, b);
  });
  for (std::size_t i : due) {
    Offer& o = offers_[i];
    Touch(o.pair, o.side, o.price);
    const Lots lots = o.open;
    ReserveDelta(o, -1);
    o.open = 0;
    o.is_open = false;
    o.in_book = false;
    Done(o);
    Event& e = Emit(EventType::kExpired);
    e.expired.offer = o.id;
    e.expired.agency = o.agency;
    e.expired.lots = lots;
  }
}

void NaiveMatcher::Apply(const Command& cmd, std::vector<Event>* out) {
  cmd_ = &cmd;
  out_ = out;
  touched_.clear();
  Expire();
  Purge();
  TermTimeStep();
  switch (cmd.type) {
    case CommandType::kSubmitOffer:
      Submit();
      break;
    case CommandType::kCancelOffer:
      CancelCmd();
      break;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
      ReplaceCmd();
      break;
    case CommandType::kAdvanceTime:
      break;
    case CommandType::kSetOfferRetention: {
      const TimeNs r = std::max<TimeNs>(cmd.set_retention.retention, 0);
      if (r == 0) {
        done_.clear();
        done_head_ = 0;
      } else if (retention_ == 0) {
        for (const Offer& o : offers_) {
          if (!o.is_open && !o.purged) done_.push_back({cmd.time, o.id - 1});
        }
      }
      retention_ = r;
      break;
    }
    case CommandType::kSetHoldings:
      SetHoldingsCmd();
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      if (cmd.pair.pair >= ref_.pairs().size()) {
        Reject(RejectReason::kUnknownPair, 0, 0, 0);
      } else {
        halted_[cmd.pair.pair] = cmd.type == CommandType::kHaltPair;
        Event& e = Emit(cmd.type == CommandType::kHaltPair ? EventType::kPairHalted
                                                           : EventType::kPairResumed);
        e.pair.pair = cmd.pair.pair;
      }
      break;
    case CommandType::kSubmitTermOffer:
      TermSubmit();
      break;
    case CommandType::kCancelTermOffer:
      TermCancel();
      break;
    case CommandType::kReplaceTermOffer:
      TermReplace();
      break;
    case CommandType::kReturnObligation:
      ReturnCmd();
      break;
    case CommandType::kRecallObligation:
      RecallCmd();
      break;
    default:
      Reject(RejectReason::kNone, 0, 0, 0);
      break;
  }
  Collect();
  for (const Touched& t : touched_) {
    auto [lots, count] = LevelTotals(t.pair, t.side, t.price);
    if (lots == t.lots && count == t.count) continue;
    Event& e = Emit(EventType::kBookLevel);
    e.book_level.pair = t.pair;
    e.book_level.side = t.side;
    e.book_level.price = t.price;
    e.book_level.lots = lots;
    e.book_level.offer_count = count;
  }
}

}  // namespace msx::testing
