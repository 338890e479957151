// Basic value types of the MSX engine. Everything is an exact integer.
#ifndef MSX_ENGINE_TYPES_H_
#define MSX_ENGINE_TYPES_H_

#include <cstdint>

namespace msx {

// Dense indices assigned by ReferenceData in configuration order, 0..N-1.
using AgencyId = std::uint32_t;
using InstrumentId = std::uint32_t;
using PairId = std::uint32_t;
using MineralId = std::uint32_t;
using TermBookId = std::uint32_t;

// Exchange-assigned offer id: 1, 2, 3, ... in acceptance order (0 = none).
using OfferId = std::uint64_t;
// The agency's own id for an offer; non-zero, unique per agency.
using ClientOfferId = std::uint64_t;
// Journal sequence number of a command: gapless, starts at 1.
using Seq = std::uint64_t;
// One day in TimeNs.
inline constexpr std::int64_t kNsPerDay = 86'400'000'000'000;
// Nanoseconds since the Unix epoch, stamped by the sequencer (never read from a clock
// inside the engine).
using TimeNs = std::int64_t;

// Whole base lots.
using Lots = std::int64_t;
// Quote units per base lot.
using Price = std::int64_t;
// Units of one instrument (kg, t, mtu).
using Amount = std::int64_t;
// Exchange-assigned obligation id: 1, 2, 3, ... in the order loans are made (0 = none).
using ObligationId = std::uint64_t;
// Exchange-assigned delivery id (ENGINE.md "Deliveries"): 1, 2, 3, ... in the order
// emergency fills open them (0 = none).
using DeliveryId = std::uint64_t;
// Micro-US-dollars.
using MicroUsd = std::int64_t;

// Agencies are identified in masks (agreements, allow/deny lists) by bit `1 << id`, so an
// exchange has at most this many agencies.
inline constexpr int kMaxAgencies = 64;
using AgencyMask = std::uint64_t;

enum class Side : std::uint8_t { kBuy = 1, kSell = 2 };
enum class TimeInForce : std::uint8_t { kGtc = 1, kGtd = 2, kIoc = 3, kFok = 4 };

}  // namespace msx

#endif  // MSX_ENGINE_TYPES_H_
