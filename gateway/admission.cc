#include "gateway/admission.h"

#include "absl/strings/str_cat.h"

namespace msx::gateway {

Admission::Admission(std::size_t agencies, std::int32_t limit)
    : agencies_(agencies), limit_(limit), counters_(new Counter[agencies == 0 ? 1 : agencies]) {}

bool Admission::TryAcquire(AgencyId agency) noexcept {
  if (agency >= agencies_) return false;
  std::atomic<std::int32_t>& n = counters_[agency].n;
  // Optimistic increment: at most one extra slot per racing caller is held for an instant
  // and given back at once, so the count never stays above the limit.
  if (n.fetch_add(1, std::memory_order_relaxed) >= limit_) {
    n.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Admission::Release(AgencyId agency) noexcept {
  if (agency < agencies_) counters_[agency].n.fetch_sub(1, std::memory_order_relaxed);
}

std::int32_t Admission::in_flight(AgencyId agency) const {
  return agency < agencies_ ? counters_[agency].n.load(std::memory_order_relaxed) : 0;
}

absl::Status Admission::Refusal(absl::string_view agency_code) const {
  return absl::ResourceExhaustedError(
      absl::StrCat("agency ", agency_code, " has ", limit_,
                   " calls in flight (server.max_in_flight_per_agency); wait for replies or "
                   "retry with backoff"));
}

}  // namespace msx::gateway
