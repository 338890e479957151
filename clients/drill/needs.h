// Declared needs in a drill report (issue 15, section 5): per instrument and emergency
// level, what the agencies' need-declaring buys asked for, what they got, how fast, and
// what continuous matching would have given them instead. Built from the engine's
// events, never from the commands' intent alone.
//
// Definitions (exact integers, base units of the instrument):
// - A need buy is an accepted SubmitOfferWithNeed (its Accepted event): a buy on a pair
//   whose base is the instrument, declaring `need` units in a priority tier. Plain buys
//   (SubmitOffer) declare no need and count nowhere here.
// - Level: the instrument's emergency level when the need buy was accepted (from the
//   EmergencyLevelSet events before it; NORMAL until the first). A row keeps that level
//   even when the buy fills after the level changed.
// - Need declared: the sum of the needs of the need buys.
// - Allocated: base units the need buys received in call auctions (the Fill events of a
//   RunAuction command), per agency and tier as allocated.
// - Need met: per need buy, the base units it received in any fill (auction or
//   continuous), at most its need; summed. A buy that received more than its need (whole
//   lots round up) counts its need.
// - Met within 8 days: the same, counting only fills at most kNeedWindowNs (8 days: the
//   default delivery window of fills under WARNING and SERIOUS, issue 15 section 3) after
//   the buy was accepted. Share: met within 8 days x 10000 / declared, rounded down, in
//   basis points (0 when nothing was declared).
// - Continuous: the same journal's commands replayed through a fresh engine whose level
//   policies all match continuously (every other part of each policy kept: bands, minimum
//   stock, recalls; RunAuction commands are then refused), with offer ids translated as a
//   drill does (scenario.h). "Would have got" is that replay's need met (and met within 8
//   days) of the same agency's need buys of the same instrument and level; the
//   difference is as run minus continuous.
//
// Thread-safety: a NeedLedger is used by one thread; NeedReport is a value.
#ifndef MSX_CLIENTS_DRILL_NEEDS_H_
#define MSX_CLIENTS_DRILL_NEEDS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/emergency.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::drill {

inline constexpr TimeNs kNeedWindowNs = TimeNs{8} * 86'400 * 1'000'000'000;

struct NeedFigures {
  std::uint64_t buys = 0;  // need buys accepted
  Amount declared = 0;
  Amount allocated = 0;
  Amount met = 0;
  Amount met_within_window = 0;
};

// Per instrument and level (instruments in configuration order, levels ascending).
struct NeedLevelRow {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  EmergencyLevel level = EmergencyLevel::kNormal;
  NeedFigures figures;
  std::int64_t share_within_window_bps = 0;
};

// Per instrument, level, agency and tier (in that order).
struct NeedAgencyRow {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  EmergencyLevel level = EmergencyLevel::kNormal;
  AgencyId agency = 0;
  std::string code;
  PriorityTier tier = PriorityTier::kGeneral;
  NeedFigures figures;
};

// Per instrument, level and agency: as run beside continuous matching.
struct NeedContinuousRow {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  EmergencyLevel level = EmergencyLevel::kNormal;
  AgencyId agency = 0;
  std::string code;
  Amount declared = 0;
  Amount met = 0, met_within_window = 0;                        // as run
  Amount continuous_met = 0, continuous_met_within_window = 0;  // continuous replay
};

struct NeedReport {
  std::vector<NeedLevelRow> levels;
  std::vector<NeedAgencyRow> agencies;
  bool has_continuous = false;  // the continuous replay ran (there were need buys)
  std::vector<NeedContinuousRow> continuous;
  bool empty() const { return levels.empty(); }
};

class NeedLedger {
 public:
  // REQUIRES: `ref` outlives the ledger.
  explicit NeedLedger(const ReferenceData& ref);
  // Accounts one command and its events (in sequence order).
  void Add(const Command& cmd, absl::Span<const Event> events);
  // The rows; `continuous` stays empty (CompareWithContinuous fills it).
  NeedReport Finish() const;

 private:
  struct Buy {
    AgencyId agency = 0;
    InstrumentId instrument = 0;
    EmergencyLevel level = EmergencyLevel::kNormal;
    PriorityTier tier = PriorityTier::kGeneral;
    Amount need = 0;
    TimeNs accepted = 0;
    Amount received = 0, received_within_window = 0, allocated = 0;
  };
  const ReferenceData& ref_;
  std::vector<EmergencyLevel> levels_;             // [instrument], now
  std::unordered_map<OfferId, std::size_t> index_;  // offer id -> buys_
  std::vector<Buy> buys_;                          // in acceptance order
};

// Fills as_run->continuous: one row per (instrument, level, agency) of either report.
void CompareWithContinuous(NeedReport* as_run, const NeedReport& continuous);

// {"levels": [...], "agencies": [...], "continuous": [...] or null}.
nlohmann::ordered_json NeedsJson(const NeedReport& r);
// The three tables; "" when the report is empty.
std::string RenderNeedsText(const NeedReport& r);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_NEEDS_H_
