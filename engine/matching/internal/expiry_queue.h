// Time-driven work of the engine: the min-heap entries of GTD expiries (lazy deletion:
// an entry whose offer finished earlier is skipped when it reaches the top) and the
// entries of the retention purge queue (finished offers in finishing order, a ChunkedFifo).
#ifndef MSX_ENGINE_INTERNAL_EXPIRY_QUEUE_H_
#define MSX_ENGINE_INTERNAL_EXPIRY_QUEUE_H_

#include <cstdint>

#include "engine/matching/types.h"

namespace msx::internal {

struct ExpiryEntry {
  TimeNs expiry;
  OfferId offer;
};
// Min-heap order: earliest expiry, then lowest offer id, on top.
struct ExpiryLater {
  bool operator()(const ExpiryEntry& a, const ExpiryEntry& b) const {
    if (a.expiry != b.expiry) return a.expiry > b.expiry;
    return a.offer > b.offer;
  }
};

// A finished offer waiting for its retention window to pass, in finishing order.
struct DoneEntry {
  TimeNs time;  // command time at which it stopped being open
  OfferId offer;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_EXPIRY_QUEUE_H_
