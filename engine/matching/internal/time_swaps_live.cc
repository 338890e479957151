// TimeSwaps' part of live reference data (engine/matching/ENGINE.md "Time swaps", "Live
// reference data"): once the engine applied kFollowLiveReference, the members and values
// term books use follow AdmitMember / SuspendMember and PublishReference, credit used is
// re-valued, and a suspension cancels the term offers that relied on the agreement. Admin
// commands, not the hot path: these may allocate.
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/matching/internal/new_event.h"
#include "engine/matching/internal/time_swaps.h"

namespace msx::internal {
namespace {

using i128 = __int128;
constexpr i128 kInt64Max = INT64_MAX;

}  // namespace

bool TimeSwaps::ComputeExposure(const std::vector<MicroUsd>& values,
                                std::vector<MicroUsd>* exposure) const {
  exposure->assign(ref_.agreements().size() * num_agencies_, 0);
  for (const Obligation& ob : obligations_) {
    if (ob.state == ObligationState::kClosed) continue;
    // Both factors fit int64, so the product fits 128 bits; the sum is checked at each
    // step against int64 (it starts below 2^63 and grows by less than 2^126).
    const i128 owed = static_cast<i128>(Outstanding(ob)) * values[ob.instrument];
    MicroUsd& used = (*exposure)[ob.agreement * num_agencies_ + ob.borrower];
    if (owed > kInt64Max - used) return false;
    used += static_cast<MicroUsd>(owed);
  }
  return true;
}

bool TimeSwaps::CanRevalue(const std::vector<MicroUsd>& values) const {
  std::vector<MicroUsd> exposure;  // an admin command's check: allocating is fine
  return ComputeExposure(values, &exposure);
}

void TimeSwaps::FollowLive(const std::vector<AgencyMask>& members,
                           const std::vector<MicroUsd>& values) {
  live_ = true;
  members_ = members;
  values_ = values;
  RecomputeEligibility();
  ComputeExposure(values_, &exposure_);  // the caller checked CanRevalue
}

void TimeSwaps::SetValue(InstrumentId instrument, MicroUsd value) {
  if (values_[instrument] == value) return;
  values_[instrument] = value;
  ComputeExposure(values_, &exposure_);  // the caller checked CanRevalue
}

void TimeSwaps::SetMembers(const Command& cmd, std::uint32_t agreement, AgencyMask members,
                           std::optional<AgencyId> suspended, std::vector<Event>* out) {
  const std::vector<AgencyMask> before = eligible_;
  members_[agreement] = members;
  RecomputeEligibility();
  if (!suspended) return;
  const AgencyId a = *suspended;
  // The rule of the pair books (engine_live.cc MemberCmd): offers that could trade with
  // some agency they accept before and with none now relied on this agreement alone.
  // Term offer ids are their order in offers_, so one pass yields id order.
  for (OfferId id = 1; id <= offers_.size(); ++id) {
    TermOffer& o = Offer(id);
    if (o.status != OfferStatus::kOpen || o.agency != a) continue;
    const std::size_t k = std::size_t{o.book} * num_agencies_ + a;
    if ((before[k] & o.accept) == 0 || (eligible_[k] & o.accept) != 0) continue;
    const Lots lots = o.open;
    Remove(id, o, OfferStatus::kCancelled);
    Event& e = NewEvent(cmd, EventType::kTermCancelled, out);
    e.cancelled.offer = id;
    e.cancelled.agency = a;
    e.cancelled.reason = CancelReason::kMemberSuspended;
    e.cancelled.lots = lots;
  }
}

}  // namespace msx::internal
