// Emergency levels and their policies (DESIGN.md, "Emergency level"; issue 15).
//
// Each instrument is at one level at a time, NORMAL unless a SetEmergencyLevel command
// raised it (Korea's four-stage resource alert above normal). The configuration gives every
// level a LevelPolicy; ReferenceData holds the five policies, the per-agency mandated
// minimum stock and the per-agency allowed priority tiers. Plain values, no protobuf: the
// engine, the call-auction allocator (engine/matching/internal/auction.h) and the time-swap
// ledger (recall) read them.
#ifndef MSX_ENGINE_EMERGENCY_H_
#define MSX_ENGINE_EMERGENCY_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/matching/types.h"

namespace msx {

// Numbering mirrors msx.v1.EmergencyLevel minus one (the proto keeps 0 for UNSPECIFIED);
// the engine stores, journals and snapshots these values. Ordered: a higher value is a
// more severe level.
enum class EmergencyLevel : std::uint8_t {
  kNormal = 0,
  kInterest = 1,
  kCaution = 2,
  kWarning = 3,
  kSerious = 4,
};
inline constexpr int kNumEmergencyLevels = 5;

// How the books of an instrument at a level match: continuously (price-time priority, as
// always), or by a call auction every `auction_interval_seconds` (issue 15, section 3).
enum class MatchingMode : std::uint8_t { kContinuous = 1, kCallAuction = 2 };

// Priority of a buy offer's declared need in an allocation auction: DEFENCE is served
// before ESSENTIAL before GENERAL (US DPAS ratings: DX before DO). Numbering mirrors
// msx.v1.PriorityTier; a lower value is served first.
enum class PriorityTier : std::uint8_t { kDefence = 1, kEssential = 2, kGeneral = 3 };
inline constexpr int kNumPriorityTiers = 3;
// A set of tiers: bit (1 << tier).
using TierMask = std::uint8_t;
inline constexpr TierMask TierBit(PriorityTier t) {
  return static_cast<TierMask>(1u << static_cast<unsigned>(t));
}
inline constexpr TierMask kGeneralOnly = TierBit(PriorityTier::kGeneral);

// Basis points of 100 %.
inline constexpr std::int32_t kFullShareBps = 10000;

struct LevelPolicy {
  MatchingMode mode = MatchingMode::kContinuous;
  // kCallAuction: seconds between two auctions of an instrument's books (> 0); 0 for
  // kContinuous.
  std::int64_t auction_interval_seconds = 0;
  // The price control: each book that involves the instrument keeps prices within this
  // distance of its reference price, or within its own band_bps when that is narrower.
  // 0 = the pairs' own bands.
  std::int32_t band_bps = 0;
  // The largest share of one auction's supply a single agency may be allocated, in basis
  // points (10000 = no cap).
  std::int32_t agency_cap_bps = kFullShareBps;
  // Lenders may recall loans of the instrument early (time swaps).
  bool recall_allowed = true;
  // An agency may offer the instrument away below its mandated minimum stock. When false,
  // an offer that would leave the agency's available holdings of the instrument below its
  // mandated minimum (ReferenceData::MandatedMinimumStock) is rejected.
  bool sales_below_minimum_stock_allowed = true;
};

// The policies in force when the configuration does not list a level (and the values of
// the fields a listed level leaves out): NORMAL and INTEREST trade as always (INTEREST
// already protects mandated stock); CAUTION narrows bands to 10 %; WARNING allocates by a
// call auction every minute within 5 %, 40 % of an auction per agency at most, no recalls;
// SERIOUS the same every minute within 2 %, 25 % per agency.
LevelPolicy DefaultLevelPolicy(EmergencyLevel level);

// "NORMAL", "INTEREST", "CAUTION", "WARNING", "SERIOUS"; "?" for a value out of range.
absl::string_view EmergencyLevelName(EmergencyLevel level);
// The level named (upper case, as above); nullopt when unknown.
std::optional<EmergencyLevel> ParseEmergencyLevel(absl::string_view name);
// "DEFENCE", "ESSENTIAL", "GENERAL"; "?" for a value out of range.
absl::string_view PriorityTierName(PriorityTier tier);

inline constexpr bool ValidEmergencyLevel(std::uint8_t v) { return v < kNumEmergencyLevels; }
inline constexpr bool ValidPriorityTier(std::uint8_t v) {
  return v >= 1 && v <= kNumPriorityTiers;
}

}  // namespace msx

#endif  // MSX_ENGINE_EMERGENCY_H_
