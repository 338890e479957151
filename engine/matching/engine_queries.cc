// The MSX matching engine's queries: Engine::Impl's read-only look-ups (offers, holdings,
// depth, open offers, the next due time) and the Engine methods that forward to them. They
// run between commands, on the engine's thread, and change nothing. See engine.h for the
// contract and engine.cc for the data layout they read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/internal/engine_impl.h"

namespace msx {

inline std::optional<OfferInfo> Engine::Impl::GetOffer(OfferId id) const {
  if (id == kNil || id > offers_.size() || offers_.Purged(id)) return std::nullopt;
  return Info(id);
}

inline bool Engine::Impl::IsPurged(OfferId id) const {
  return id != kNil && id <= offers_.size() && offers_.Purged(id);
}

inline std::size_t Engine::Impl::OfferMemoryBytes() const {
  return offers_.resident_chunks() * OfferStore::kChunk * (sizeof(OfferRecord) + sizeof(ColdRecord));
}

inline std::optional<OfferInfo> Engine::Impl::FindByClientId(AgencyId agency, ClientOfferId client_id) const {
  if (agency >= ref_.agencies().size() || client_id == 0) return std::nullopt;
  const OfferId id = client_index_.Find(agency, client_id);
  if (id == kNil) return std::nullopt;
  return Info(id);
}

inline std::vector<OfferInfo> Engine::Impl::ListOpenOffers(AgencyId agency, std::optional<PairId> pair) const {
  std::vector<OfferInfo> result;
  for (PairId p = 0; p < books_.size(); ++p) {
    if (pair && *pair != p) continue;
    const Book& b = books_[p];
    if (!b.allocated) continue;
    for (const BookSide* side : {&b.bids, &b.asks}) {
      for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
           i = side->bits.NextAtOrAfter(i + 1)) {
        const Level& l = side->levels[i];
        if (agency >= kMaxAgencies || ((l.agencies >> agency) & 1) == 0) continue;
        for (OfferId id = Lists(l)[agency].head; id != kNil; id = offers_[id].next) {
          if (offers_[id].status == OfferStatus::kOpen) result.push_back(Info(id));
        }
      }
    }
  }
  std::sort(result.begin(), result.end(),
            [](const OfferInfo& a, const OfferInfo& b) { return a.id < b.id; });
  return result;
}

inline HoldingInfo Engine::Impl::GetHoldings(AgencyId agency, InstrumentId instrument) const {
  if (agency >= ref_.agencies().size() || instrument >= num_instruments_) return {};
  return holdings_[agency * num_instruments_ + instrument];
}

inline DepthInfo Engine::Impl::GetDepth(PairId pair, int max_levels) const {
  DepthInfo d;
  if (pair >= books_.size()) return d;
  const Book& b = books_[pair];
  if (!b.allocated) return d;
  for (std::int64_t i = b.bids.best; i >= 0 && static_cast<int>(d.bids.size()) < max_levels;
       i = b.bids.bits.PrevAtOrBefore(i - 1)) {
    d.bids.push_back({b.low + i * b.tick, b.bids.levels[i].lots, b.bids.levels[i].count});
  }
  for (std::int64_t i = b.asks.best; i >= 0 && static_cast<int>(d.asks.size()) < max_levels;
       i = b.asks.bits.NextAtOrAfter(i + 1)) {
    d.asks.push_back({b.low + i * b.tick, b.asks.levels[i].lots, b.asks.levels[i].count});
  }
  return d;
}

inline std::optional<TimeNs> Engine::Impl::NextExpiry() const {
  std::optional<TimeNs> next;
  if (!expiries_.empty()) next = expiries_.front().expiry;
  if (retention_ > 0 && !done_.empty()) {
    TimeNs purge;  // the first command time at which PurgeDue takes done_.front()
    if (!__builtin_add_overflow(done_.front().time, retention_, &purge)) {
      if (!next.has_value() || purge < *next) next = purge;
    }
  }
  if (std::optional<TimeNs> t = time_swaps_.NextDue(); t && (!next || *t < *next)) next = t;
  if (next_reference_time_ != kNoTime && (!next || next_reference_time_ < *next)) {
    next = next_reference_time_;  // a pending publication takes effect
  }
  if (const TimeNs by = deliveries_.NextDeliverBy(); by != kNoTime) {
    const TimeNs overdue = by + 1;  // by < kNoTime: no overflow
    if (!next || overdue < *next) next = overdue;  // a delivery falls overdue
  }
  return next;
}

std::optional<OfferInfo> Engine::GetOffer(OfferId id) const { return impl_->GetOffer(id); }
bool Engine::IsPurged(OfferId id) const { return impl_->IsPurged(id); }
TimeNs Engine::offer_retention() const { return impl_->offer_retention(); }
std::uint64_t Engine::PurgedOfferCount() const { return impl_->PurgedOfferCount(); }
std::size_t Engine::RetainedOfferCount() const { return impl_->RetainedOfferCount(); }
std::size_t Engine::OfferMemoryBytes() const { return impl_->OfferMemoryBytes(); }
std::optional<OfferInfo> Engine::FindByClientId(AgencyId agency,
                                                ClientOfferId client_id) const {
  return impl_->FindByClientId(agency, client_id);
}
std::vector<OfferInfo> Engine::ListOpenOffers(AgencyId agency,
                                              std::optional<PairId> pair) const {
  return impl_->ListOpenOffers(agency, pair);
}
HoldingInfo Engine::GetHoldings(AgencyId agency, InstrumentId instrument) const {
  return impl_->GetHoldings(agency, instrument);
}
DepthInfo Engine::GetDepth(PairId pair, int max_levels) const {
  return impl_->GetDepth(pair, max_levels);
}
bool Engine::IsHalted(PairId pair) const { return impl_->IsHalted(pair); }
std::size_t Engine::OpenOfferCount() const { return impl_->OpenOfferCount(); }
std::optional<TimeNs> Engine::NextExpiry() const { return impl_->NextExpiry(); }
std::optional<OfferInfo> Engine::GetTermOffer(OfferId id) const {
  return impl_->time_swaps().GetTermOffer(id);
}
std::optional<ObligationInfo> Engine::GetObligation(ObligationId id) const {
  return impl_->time_swaps().GetObligation(id);
}
std::vector<ObligationInfo> Engine::ListObligations(std::optional<AgencyId> agency) const {
  return impl_->time_swaps().ListObligations(agency);
}
bool Engine::TermsFollowLive() const { return impl_->time_swaps().FollowsLive(); }
MicroUsd Engine::CreditUsed(std::uint32_t agreement, AgencyId borrower) const {
  return impl_->time_swaps().CreditUsed(agreement, borrower);
}
Seq Engine::last_seq() const { return impl_->last_seq(); }
TimeNs Engine::last_time() const { return impl_->last_time(); }
const ReferenceData& Engine::reference_data() const { return impl_->ref(); }

}  // namespace msx
