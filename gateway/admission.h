// Admission: how many calls each agency may have in flight at once.
//
// A call is in flight from the moment its handler hands it to the sequencer until its
// reply is released (after the journal made it durable), so the count covers both the
// sequencer's queue and the commands waiting for the disk. The limit is the same for every
// agency (server.max_in_flight_per_agency); as long as limit x agencies fits in the
// sequencer's queue, every agency's share of the queue is reserved and one agency's flood
// gets RESOURCE_EXHAUSTED for itself without ever taking another agency's slot.
//
// One atomic counter per agency, each on its own cache line: TryAcquire and Release are a
// fetch_add each, uncontended between agencies.
//
// Thread-safety: every method may be called from any thread.
#ifndef MSX_GATEWAY_ADMISSION_H_
#define MSX_GATEWAY_ADMISSION_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "engine/matching/types.h"

namespace msx::gateway {

class Admission {
 public:
  // `agencies`: the number of agency ids (ReferenceData::agencies().size()).
  // REQUIRES: limit >= 1.
  Admission(std::size_t agencies, std::int32_t limit);
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Takes one in-flight slot of `agency`; false (nothing taken) when it holds `limit`
  // already. Each true must be matched by one Release. An unknown agency id is refused.
  bool TryAcquire(AgencyId agency) noexcept;
  void Release(AgencyId agency) noexcept;

  // The RESOURCE_EXHAUSTED status for a refused TryAcquire (built off the hot path).
  absl::Status Refusal(absl::string_view agency_code) const;

  std::int32_t limit() const { return limit_; }
  // Calls of `agency` in flight now (approximate while calls come and go).
  std::int32_t in_flight(AgencyId agency) const;

 private:
  struct alignas(64) Counter {
    std::atomic<std::int32_t> n{0};
  };
  const std::size_t agencies_;
  const std::int32_t limit_;
  std::unique_ptr<Counter[]> counters_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_ADMISSION_H_
