// Building engine events: the one place that appends a zeroed event and the one place that
// writes an offer's Accepted record, shared by the pair books (engine.cc) and the term
// books (time_swaps.cc). Events are compared byte for byte (journal, golden files, the
// determinism test), hence every byte starts at zero.
#ifndef MSX_ENGINE_MATCHING_INTERNAL_NEW_EVENT_H_
#define MSX_ENGINE_MATCHING_INTERNAL_NEW_EVENT_H_

#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/matching/types.h"

namespace msx::internal {

// All bytes zero (static storage: padding and the union's unused bytes included).
inline constexpr Event kZeroEvent{};

// Appends an event whose bytes are all zero except the command's seq, time and `type`.
// The element is copy-constructed from kZeroEvent (a trivial copy: every byte, in plain
// vector stores); value-initialising it and then memset-ing it compiled to two `rep stos`.
inline Event& NewEvent(const Command& cmd, EventType type, std::vector<Event>* out) {
  Event& e = out->emplace_back(kZeroEvent);
  e.seq = cmd.seq;
  e.time = cmd.time;
  e.type = type;
  return e;
}

// Appends the `type` event (kAccepted on a pair book, kTermAccepted on a term book) for
// offer `id`, accepted from `cmd.submit` as submitted (lots = the whole offer, before any
// fill). REQUIRES: cmd.type is a submit (pair or term).
inline void AppendAccepted(const Command& cmd, EventType type, OfferId id,
                           std::vector<Event>* out) {
  const SubmitOffer& s = cmd.submit;
  Event& e = NewEvent(cmd, type, out);
  e.accepted.offer = id;
  e.accepted.agency = s.agency;
  e.accepted.pair = s.pair;
  e.accepted.side = s.side;
  e.accepted.tif = s.tif;
  e.accepted.lots = s.lots;
  e.accepted.price = s.price;
  e.accepted.client_id = s.client_id;
}

}  // namespace msx::internal

#endif  // MSX_ENGINE_MATCHING_INTERNAL_NEW_EVENT_H_
