// Live reference data and emergency levels (ENGINE.md "Live reference data and emergency
// levels"): Engine::Impl's admin commands PublishReference, AdmitMember / SuspendMember and
// SetEmergencyLevel, the pending publications, the live eligibility table and the moving
// of a pair's band (Reband). Not the hot path: these may allocate. Submit and Replace
// (engine.cc) only test Book::guard, Apply only next_reference_time_.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/internal/engine_impl.h"

namespace msx {

void Engine::Impl::ResetLive() {
  const std::size_t num_instruments = ref_.instruments().size();
  live_.assign(num_instruments, LiveInstrument{});
  for (const Instrument& inst : ref_.instruments()) {
    live_[inst.id].value = inst.reference_value;
    live_[inst.id].floor = inst.floor;
  }
  next_reference_time_ = kNoTime;
  members_.clear();
  for (const Agreement& ag : ref_.agreements()) members_.push_back(ag.members);
  pairs_of_.assign(num_instruments, {});
  for (const PairBook& pb : ref_.pairs()) {
    pairs_of_[pb.base].push_back(pb.id);
    pairs_of_[pb.quote].push_back(pb.id);
  }
  RecomputeEligibility();
}

void Engine::Impl::RecomputeEligibility() {
  const std::size_t n = ref_.agencies().size();
  eligible_.assign(ref_.pairs().size() * num_agencies_, 0);
  for (const PairBook& pb : ref_.pairs()) {
    const MineralId mb = ref_.instruments()[pb.base].mineral;
    const MineralId mq = ref_.instruments()[pb.quote].mineral;
    for (std::size_t g = 0; g < members_.size(); ++g) {
      const Agreement& ag = ref_.agreements()[g];
      if (!ReferenceData::Covers(ag, mb) || !ReferenceData::Covers(ag, mq)) continue;
      for (std::size_t a = 0; a < n; ++a) {
        const AgencyMask bit = AgencyMask{1} << a;
        if (members_[g] & bit) eligible_[pb.id * num_agencies_ + a] |= members_[g] & ~bit;
      }
    }
  }
}

bool Engine::Impl::DeriveBand(PairId pair, PairBand* out, std::optional<InstrumentId> instrument,
                              MicroUsd value, MicroUsd floor) const {
  const PairBook& pb = ref_.pairs()[pair];
  MicroUsd base_value = live_[pb.base].value, base_floor = live_[pb.base].floor;
  MicroUsd quote_value = live_[pb.quote].value, quote_floor = live_[pb.quote].floor;
  if (instrument == pb.base) {
    base_value = value;
    base_floor = floor;
  }
  if (instrument == pb.quote) {
    quote_value = value;
    quote_floor = floor;
  }
  if (!ref_.quote_floors_cap_price()) quote_floor = 0;  // ENGINE.md "Reference data"
  std::int32_t band_bps = pb.band_bps;
  const std::int32_t control = ref_.level_policy(GetPairLevel(pair)).band_bps;
  if (control > 0 && control < band_bps) band_bps = control;
  const char* why = "";
  return DerivePairBand({base_value, base_floor, ref_.instruments()[pb.base].lot_size,
                         quote_value, quote_floor, pb.tick, band_bps,
                         /*collapse_empty_band=*/true},
                        out, &why);
}

EmergencyLevel Engine::Impl::GetPairLevel(PairId pair) const {
  if (pair >= books_.size()) return EmergencyLevel::kNormal;
  const PairBook& pb = ref_.pairs()[pair];
  return std::max(live_[pb.base].level, live_[pb.quote].level);
}

std::uint8_t Engine::Impl::GuardOf(PairId pair) const {
  const PairBook& pb = ref_.pairs()[pair];
  const LevelPolicy& base = ref_.level_policy(live_[pb.base].level);
  const LevelPolicy& quote = ref_.level_policy(live_[pb.quote].level);
  std::uint8_t g = 0;
  if (base.mode == MatchingMode::kCallAuction || quote.mode == MatchingMode::kCallAuction) {
    g |= internal::kGuardCallAuction;
  }
  if (!base.sales_below_minimum_stock_allowed) g |= internal::kGuardBaseStock;
  if (!quote.sales_below_minimum_stock_allowed) g |= internal::kGuardQuoteStock;
  // Deliveries follow the levels themselves, not a configurable policy (issue 15 s.3).
  if (GetPairLevel(pair) >= EmergencyLevel::kWarning) g |= internal::kGuardDeliverBy;
  return g;
}

void Engine::Impl::SetGrid(Book& b, const PairBand& band) {
  b.reference_price = band.reference_price;
  b.floor_price = band.floor_price;
  b.low = band.band_low;
  b.high = band.band_high;
  b.num_levels = (b.high - b.low) / b.tick + 1;
  if (!b.allocated) return;
  if (b.num_levels > b.capacity) {  // the old arrays stay in the arena until Reset
    b.bids.levels = level_arena_.Allocate(static_cast<std::size_t>(b.num_levels));
    b.asks.levels = level_arena_.Allocate(static_cast<std::size_t>(b.num_levels));
    b.capacity = b.num_levels;
  } else {
    std::memset(static_cast<void*>(b.bids.levels), 0, sizeof(Level) * b.capacity);
    std::memset(static_cast<void*>(b.asks.levels), 0, sizeof(Level) * b.capacity);
  }
  for (BookSide* side : {&b.bids, &b.asks}) {
    side->bits.Resize(b.num_levels);
    side->best = -1;
  }
}

void Engine::Impl::Reband(const Command& cmd, PairId pair, const PairBand& band,
                          std::vector<Event>* out) {
  Book& b = books_[pair];
  if (band.reference_price == b.reference_price && band.band_low == b.low &&
      band.band_high == b.high && band.floor_price == b.floor_price) {
    return;
  }
  {
    Event& e = NewEvent(cmd, EventType::kPairBandChanged, out);
    e.band.pair = pair;
    e.band.reference_price = band.reference_price;
    e.band.band_low = band.band_low;
    e.band.band_high = band.band_high;
    e.band.floor_price = band.floor_price;
  }
  if (band.band_low == b.low && band.band_high == b.high) {
    b.reference_price = band.reference_price;
    b.floor_price = band.floor_price;
    return;
  }
  // The levels change index: report what this command changed so far in the old grid,
  // and start a new touch generation (levels touched before must be recorded again).
  FlushLevels(cmd, out);
  touched_.clear();
  ++stamp_;
  std::vector<OfferId> open;
  if (b.allocated) {
    for (BookSide* side : {&b.bids, &b.asks}) {
      const Side s = side == &b.bids ? Side::kBuy : Side::kSell;
      for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
           i = side->bits.NextAtOrAfter(i + 1)) {
        const Level& l = side->levels[i];
        ForEachInPriority(l, [&](OfferId id) { open.push_back(id); });
        free_lists_.push_back(l.lists);
        Event& e = NewEvent(cmd, EventType::kBookLevel, out);
        e.book_level.pair = pair;
        e.book_level.side = s;
        e.book_level.price = b.low + i * b.tick;
      }
    }
  }
  // One time-priority order over the whole book: relinking in it keeps every offer's
  // place relative to the others at its price.
  std::sort(open.begin(), open.end(),
            [this](OfferId x, OfferId y) { return offers_[x].stamp < offers_[y].stamp; });
  SetGrid(b, band);
  for (OfferId id : open) {
    OfferRecord& o = offers_[id];
    o.prev = o.next = kNil;
    if (o.price < b.low || o.price > b.high || (o.price - b.low) % b.tick != 0) {
      const Lots lots = o.open;
      ReleaseReservation(b, o);
      o.open = 0;
      o.status = OfferStatus::kCancelled;
      --open_count_;
      Finished(cmd.time, id);
      Event& e = NewEvent(cmd, EventType::kCancelled, out);
      e.cancelled.offer = id;
      e.cancelled.agency = o.agency;
      e.cancelled.reason = CancelReason::kOutsideBand;
      e.cancelled.lots = lots;
      continue;
    }
    LinkTail(b, o.side == Side::kBuy ? b.bids : b.asks, id, o, (o.price - b.low) / b.tick);
  }
  if (!b.allocated) return;
  for (BookSide* side : {&b.bids, &b.asks}) {
    const Side s = side == &b.bids ? Side::kBuy : Side::kSell;
    for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
         i = side->bits.NextAtOrAfter(i + 1)) {
      Level& l = side->levels[i];
      l.touch = stamp_;  // reported here; a later change in this command reports again
      touched_.push_back({pair, s, i, l.lots, l.count});
      Event& e = NewEvent(cmd, EventType::kBookLevel, out);
      e.book_level.pair = pair;
      e.book_level.side = s;
      e.book_level.price = b.low + i * b.tick;
      e.book_level.lots = l.lots;
      e.book_level.offer_count = l.count;
    }
  }
}

void Engine::Impl::ApplyReference(const Command& cmd, InstrumentId instrument, MicroUsd value,
                                  MicroUsd floor, std::vector<Event>* out) {
  live_[instrument].value = value;
  live_[instrument].floor = floor;
  // Checked before (TermCreditFits).
  if (time_swaps_.FollowsLive()) time_swaps_.SetValue(instrument, value);
  for (PairId p : pairs_of_[instrument]) {
    PairBand band;
    if (DeriveBand(p, &band)) Reband(cmd, p, band, out);  // checked before: always true
  }
}

void Engine::Impl::RecomputeNextReferenceTime() {
  next_reference_time_ = kNoTime;
  for (const LiveInstrument& li : live_) {
    if (li.pending) next_reference_time_ = std::min(next_reference_time_, li.next.effective_time);
  }
}

bool Engine::Impl::LiveAsConfigured() const {
  for (const Instrument& inst : ref_.instruments()) {
    const LiveInstrument& li = live_[inst.id];
    if (li.value != inst.reference_value || li.floor != inst.floor ||
        li.level != EmergencyLevel::kNormal || li.pending) {
      return false;
    }
  }
  for (std::size_t g = 0; g < members_.size(); ++g) {
    if (members_[g] != ref_.agreements()[g].members) return false;
  }
  return true;
}

void Engine::Impl::ApplyDueReferences(const Command& cmd, std::vector<Event>* out) {
  for (InstrumentId i = 0; i < live_.size(); ++i) {
    LiveInstrument& li = live_[i];
    if (!li.pending || li.next.effective_time > cmd.time) continue;
    li.pending = false;
    const PublishReference next = li.next;
    li.next = PublishReference{};
    // Checked when published; another instrument's publication since may have made a pair
    // of this one impossible to price (DeriveBand never fails otherwise), or loans since
    // may make re-valued credit used overflow.
    RejectReason reason = RejectReason::kNone;
    for (PairId p : pairs_of_[i]) {
      PairBand band;
      if (!DeriveBand(p, &band, i, next.reference_value, next.floor)) {
        reason = RejectReason::kNoValidPrice;
        break;
      }
    }
    if (reason == RejectReason::kNone && !TermCreditFits(i, next.reference_value)) {
      reason = RejectReason::kOverflow;
    }
    if (reason != RejectReason::kNone) {
      Event& e = NewEvent(cmd, EventType::kRejected, out);
      e.rejected.command = CommandType::kPublishReference;
      e.rejected.reason = reason;
      continue;
    }
    ApplyReference(cmd, i, next.reference_value, next.floor, out);
  }
  RecomputeNextReferenceTime();
}

void Engine::Impl::PublishReferenceCmd(const Command& cmd, std::vector<Event>* out) {
  const PublishReference& c = cmd.publish_reference;
  auto reject = [&](RejectReason reason) { Reject(cmd, reason, 0, kNil, 0, out); };
  if (c.instrument >= num_instruments_) return reject(RejectReason::kUnknownInstrument);
  // A floor may lie above the value (ENGINE.md "Reference data"): it then binds.
  if (c.reference_value <= 0 || c.floor < 0) return reject(RejectReason::kInvalidReference);
  for (PairId p : pairs_of_[c.instrument]) {
    PairBand band;
    if (!DeriveBand(p, &band, c.instrument, c.reference_value, c.floor)) {
      return reject(RejectReason::kNoValidPrice);
    }
  }
  if (!TermCreditFits(c.instrument, c.reference_value)) return reject(RejectReason::kOverflow);
  Event& e = NewEvent(cmd, EventType::kReferencePublished, out);
  e.reference_published = c;
  LiveInstrument& li = live_[c.instrument];
  if (c.effective_time > cmd.time) {
    li.pending = true;
    li.next = c;
  } else {
    li.pending = false;
    li.next = PublishReference{};
    ApplyReference(cmd, c.instrument, c.reference_value, c.floor, out);
  }
  RecomputeNextReferenceTime();
}

void Engine::Impl::MemberCmd(const Command& cmd, std::vector<Event>* out) {
  const MemberCommand& c = cmd.member;
  auto reject = [&](RejectReason reason) { Reject(cmd, reason, c.agency, kNil, 0, out); };
  if (c.agreement >= members_.size()) return reject(RejectReason::kUnknownAgreement);
  if (c.agency >= ref_.agencies().size()) return reject(RejectReason::kUnknownAgency);
  const AgencyMask bit = AgencyMask{1} << c.agency;
  const bool admit = cmd.type == CommandType::kAdmitMember;
  if (admit) {
    if (ref_.agencies()[c.agency].role == Role::kAdmin) {
      return reject(RejectReason::kAdminCannotTrade);
    }
    if (members_[c.agreement] & bit) return reject(RejectReason::kAlreadyMember);
  } else if ((members_[c.agreement] & bit) == 0) {
    return reject(RejectReason::kNotMember);
  }
  const std::vector<AgencyMask> before = eligible_;
  members_[c.agreement] ^= bit;
  RecomputeEligibility();
  Event& e = NewEvent(cmd, admit ? EventType::kMemberAdmitted : EventType::kMemberSuspended, out);
  e.member = c;
  // Term books after the pair books (their cancels follow the pair-book cancels).
  const bool terms = time_swaps_.FollowsLive();
  if (admit) {
    if (terms) time_swaps_.SetMembers(cmd, c.agreement, members_[c.agreement], std::nullopt, out);
    return;
  }
  // The agency's open offers that could trade with someone they accept before and with
  // nobody now: they relied on this agreement alone. Cancelled in offer id order.
  std::vector<OfferId> relied;
  for (PairId p = 0; p < books_.size(); ++p) {
    const std::size_t k = std::size_t{p} * num_agencies_ + c.agency;
    if ((before[k] & ~eligible_[k]) == 0 || !books_[p].allocated) continue;
    const Book& b = books_[p];
    for (const BookSide* side : {&b.bids, &b.asks}) {
      for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
           i = side->bits.NextAtOrAfter(i + 1)) {
        const Level& l = side->levels[i];
        if (((l.agencies >> c.agency) & 1) == 0) continue;
        for (OfferId id = Lists(l)[c.agency].head; id != kNil; id = offers_[id].next) {
          const AgencyMask accept = offers_[id].accept;
          if ((before[k] & accept) != 0 && (eligible_[k] & accept) == 0) relied.push_back(id);
        }
      }
    }
  }
  std::sort(relied.begin(), relied.end());
  for (OfferId id : relied) {
    OfferRecord& o = offers_[id];
    const Lots lots = o.open;
    RemoveOpen(cmd.time, id, o, OfferStatus::kCancelled);
    Event& ce = NewEvent(cmd, EventType::kCancelled, out);
    ce.cancelled.offer = id;
    ce.cancelled.agency = c.agency;
    ce.cancelled.reason = CancelReason::kMemberSuspended;
    ce.cancelled.lots = lots;
  }
  if (terms) time_swaps_.SetMembers(cmd, c.agreement, members_[c.agreement], c.agency, out);
}

std::vector<MicroUsd> Engine::Impl::LiveValues() const {
  std::vector<MicroUsd> values;
  values.reserve(live_.size());
  for (const LiveInstrument& li : live_) values.push_back(li.value);
  return values;
}

bool Engine::Impl::TermCreditFits(InstrumentId instrument, MicroUsd value) const {
  if (!time_swaps_.FollowsLive()) return true;
  std::vector<MicroUsd> values = LiveValues();
  values[instrument] = value;
  return time_swaps_.CanRevalue(values);
}

void Engine::Impl::FollowLiveCmd(const Command& cmd, std::vector<Event>* out) {
  if (time_swaps_.FollowsLive()) return;  // one-way: again changes nothing
  // The live values may differ from the configuration's when the switch comes late (a
  // journal that had admin commands before it): credit used is re-valued, and must fit.
  const std::vector<MicroUsd> values = LiveValues();
  if (!time_swaps_.CanRevalue(values)) return Reject(cmd, RejectReason::kOverflow, 0, kNil, 0, out);
  time_swaps_.FollowLive(members_, values);
}

void Engine::Impl::SetLevelCmd(const Command& cmd, std::vector<Event>* out) {
  const SetEmergencyLevel& c = cmd.set_level;
  auto reject = [&](RejectReason reason) { Reject(cmd, reason, 0, kNil, 0, out); };
  if (c.instrument >= num_instruments_) return reject(RejectReason::kUnknownInstrument);
  if (!ValidEmergencyLevel(static_cast<std::uint8_t>(c.level)) ||
      c.reason_size > kMaxLevelReasonBytes) {
    return reject(RejectReason::kInvalidLevel);
  }
  LiveInstrument& li = live_[c.instrument];
  {
    Event& e = NewEvent(cmd, EventType::kEmergencyLevelSet, out);
    e.level_set.instrument = c.instrument;
    e.level_set.level = c.level;
    e.level_set.previous = li.level;
    e.level_set.reason_size = c.reason_size;
    std::memcpy(e.level_set.reason, c.reason, c.reason_size);
  }
  li.level = c.level;
  time_swaps_.SetLevel(c.instrument, c.level);
  for (PairId p : pairs_of_[c.instrument]) {
    const bool was_auction = CallAuctionMode(books_[p]);
    books_[p].guard = GuardOf(p);
    PairBand band;
    if (DeriveBand(p, &band)) Reband(cmd, p, band, out);  // collapsing: always true
    // A pair leaving call-auction mode resumes continuous matching on an uncrossed book
    // (AUCTION.md "In the engine"); a halted one when it is resumed.
    Book& b = books_[p];
    if (CallAuctionMode(b)) {
      b.uncross_pending = false;
    } else if (was_auction) {
      b.uncross_pending = b.halted;
      if (!b.halted) ResumeContinuous(cmd, p, out);
    }
  }
  RecountDeliverBy();
}

InstrumentState Engine::Impl::GetInstrumentState(InstrumentId instrument) const {
  InstrumentState s;
  if (instrument >= live_.size()) return s;
  const LiveInstrument& li = live_[instrument];
  s.reference_value = li.value;
  s.floor = li.floor;
  s.level = li.level;
  s.pending = li.pending;
  s.pending_value = li.next.reference_value;
  s.pending_floor = li.next.floor;
  s.pending_time = li.next.effective_time;
  return s;
}

PairBand Engine::Impl::GetPairBand(PairId pair) const {
  if (pair >= books_.size()) return {};
  const Book& b = books_[pair];
  return {b.reference_price, b.low, b.high, b.floor_price};
}

InstrumentState Engine::GetInstrumentState(InstrumentId instrument) const {
  return impl_->GetInstrumentState(instrument);
}
EmergencyLevel Engine::GetLevel(InstrumentId instrument) const noexcept {
  return impl_->GetLevel(instrument);
}
PairBand Engine::GetPairBand(PairId pair) const { return impl_->GetPairBand(pair); }
EmergencyLevel Engine::GetPairLevel(PairId pair) const { return impl_->GetPairLevel(pair); }
AgencyMask Engine::AgreementMembers(std::size_t agreement) const {
  return impl_->AgreementMembers(agreement);
}
AgencyMask Engine::EligiblePartners(PairId pair, AgencyId agency) const {
  return impl_->EligiblePartners(pair, agency);
}

}  // namespace msx
