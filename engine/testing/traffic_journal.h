// Synthetic but valid exchange traffic for drill tests and benchmarks: random swap offers,
// cancels, replaces, time advances, holdings top-ups and halts between eligible agencies,
// applied to a real engine and written with the real JournalWriter, exactly as the
// sequencer would. The result is a journal that msx-drill verifies.
//
// Thread-safety: reentrant.
#ifndef MSX_ENGINE_TESTING_TRAFFIC_JOURNAL_H_
#define MSX_ENGINE_TESTING_TRAFFIC_JOURNAL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/journal/journal_format.h"
#include "engine/matching/types.h"
#include "msx/v1/config.pb.h"

namespace msx::testing {

struct TrafficOptions {
  std::uint64_t commands = 10'000;  // after the initial SetHoldings commands
  std::uint64_t seed = 1;
  TimeNs start_time = 1'790'000'000'000'000'000;  // 2026-09-21
  TimeNs mean_gap_ns = 20'000'000;                // 20 ms between commands on average
  std::uint64_t segment_bytes = journal::kDefaultSegmentBytes;
  // GTD offers (about 1 in 20 submits) expire as AdvanceTime commands pass their expiry;
  // false gives a journal whose outcome does not depend on when time advances.
  bool gtd = true;
};

struct TrafficStats {
  std::uint64_t commands = 0;  // all commands written, including SetHoldings
  std::uint64_t records = 0;   // COMMAND + EVENT records (CONFIG excluded)
  std::uint64_t fills = 0;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
};

// Writes a new journal to `dir` (created; must hold no journal) from `config`: first the
// configuration's initial holdings, then a top-up of every trading agency's holdings of
// every instrument, then `options.commands` random commands. Durability none.
absl::StatusOr<TrafficStats> WriteTrafficJournal(const std::string& dir,
                                                 const msx::v1::ExchangeConfig& config,
                                                 const TrafficOptions& options);

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_TRAFFIC_JOURNAL_H_
