#include "gateway/auction_schedule.h"

#include <cstdint>

#include "engine/matching/emergency.h"

namespace {
constexpr std::int64_t kNsPerSecond = 1000000000;
}  // namespace

namespace msx::gateway {

void AuctionSchedule::Due(const ReferenceData& ref, const Engine& engine, TimeNs now,
                          std::vector<InstrumentId>* due) {
  if (now <= consulted_until_) return;
  for (const Instrument& instrument : ref.instruments()) {
    const LevelPolicy& policy = ref.level_policy(engine.GetLevel(instrument.id));
    if (policy.mode != MatchingMode::kCallAuction || policy.auction_interval_seconds <= 0) {
      continue;
    }
    // The configuration bounds the interval to 1..86400 s, so this does not overflow.
    const TimeNs interval = policy.auction_interval_seconds * kNsPerSecond;
    // A grid time t = k x interval with consulted_until < t <= now (times are >= 0).
    if (now / interval > consulted_until_ / interval) due->push_back(instrument.id);
  }
  consulted_until_ = now;
}

}  // namespace msx::gateway
