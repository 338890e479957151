#include "engine/matching/emergency.h"

namespace msx {

LevelPolicy DefaultLevelPolicy(EmergencyLevel level) {
  LevelPolicy p;
  switch (level) {
    case EmergencyLevel::kNormal:
      break;
    case EmergencyLevel::kInterest:
      p.sales_below_minimum_stock_allowed = false;
      break;
    case EmergencyLevel::kCaution:
      p.band_bps = 1000;
      p.sales_below_minimum_stock_allowed = false;
      break;
    case EmergencyLevel::kWarning:
      p.mode = MatchingMode::kCallAuction;
      p.auction_interval_seconds = 60;
      p.band_bps = 500;
      p.agency_cap_bps = 4000;
      p.recall_allowed = false;
      p.sales_below_minimum_stock_allowed = false;
      break;
    case EmergencyLevel::kSerious:
      p.mode = MatchingMode::kCallAuction;
      p.auction_interval_seconds = 60;
      p.band_bps = 200;
      p.agency_cap_bps = 2500;
      p.recall_allowed = false;
      p.sales_below_minimum_stock_allowed = false;
      break;
  }
  return p;
}

absl::string_view EmergencyLevelName(EmergencyLevel level) {
  switch (level) {
    case EmergencyLevel::kNormal:
      return "NORMAL";
    case EmergencyLevel::kInterest:
      return "INTEREST";
    case EmergencyLevel::kCaution:
      return "CAUTION";
    case EmergencyLevel::kWarning:
      return "WARNING";
    case EmergencyLevel::kSerious:
      return "SERIOUS";
  }
  return "?";
}

std::optional<EmergencyLevel> ParseEmergencyLevel(absl::string_view name) {
  for (int i = 0; i < kNumEmergencyLevels; ++i) {
    const auto level = static_cast<EmergencyLevel>(i);
    if (EmergencyLevelName(level) == name) return level;
  }
  return std::nullopt;
}

absl::string_view PriorityTierName(PriorityTier tier) {
  switch (tier) {
    case PriorityTier::kDefence:
      return "DEFENCE";
    case PriorityTier::kEssential:
      return "ESSENTIAL";
    case PriorityTier::kGeneral:
      return "GENERAL";
  }
  return "?";
}

}  // namespace msx
