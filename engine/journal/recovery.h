// Recovery: rebuild an engine from the journal at start-up, verifying as it goes.
//
//   1. Build a fresh engine with the factory (from the journal's CONFIG, which the caller
//      reads with ReadJournalConfig() to build the ReferenceData the factory uses).
//   2. Load the newest usable snapshot (unreadable or failing LoadState: fall back to the
//      previous one, then to the full journal, each time with a fresh engine from the
//      factory). A snapshot ahead of the journal's end is data loss: recovery fails.
//   3. Verify the framing, CRCs and sequence chain of the segments before the one
//      holding snapshot seq + 1 (damage there fails the start at once, not a client's
//      resume later), then read every segment from that one, verifying CRCs and the
//      sequence chain; re-apply each later command through Engine::Apply and check that
//      the regenerated journaled events (all but kBookLevel) equal the journaled ones,
//      byte for byte in the journal encoding. Fills are thereby checked one by one.
//   4. Truncate a torn tail (by default) and report what was cut: torn bytes (a group that
//      was never acknowledged) apart from zero fill (space a preallocating writer kept
//      ahead of its data, FORMAT.md "Torn tail"), which is no data at all.
//
// Thread-safety: not thread-safe; run before the writer is opened on the directory.
#ifndef MSX_ENGINE_JOURNAL_RECOVERY_H_
#define MSX_ENGINE_JOURNAL_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/matching/engine.h"
#include "engine/journal/reader.h"
#include "engine/matching/types.h"

namespace msx::journal {

// Returns a fresh engine built from the journal's reference data. The caller keeps the
// ReferenceData alive as long as any engine it returns. Called once, plus once per
// snapshot that had to be given up.
using EngineFactory = std::function<std::unique_ptr<Engine>()>;

struct RecoveryOptions {
  bool use_snapshots = true;
  bool truncate_torn_tail = true;
  // Operator override (msx-server --truncate-at-corruption): see ReaderOptions.
  bool truncate_at_corruption = false;
  // If non-empty, every CONFIG record must equal it (else FailedPrecondition).
  std::string expected_config;
  // Called for each replayed command group with the journaled events (e.g. to rebuild
  // the gateway's per-agency execution index). May be empty.
  std::function<void(const JournalEntry& entry)> on_entry;
};

struct RecoveryResult {
  std::unique_ptr<Engine> engine;  // holds the recovered state
  Seq last_seq = 0;                // last command in the journal (0 = empty journal)
  TimeNs last_time = 0;            // the recovered engine's last_time()
  Seq snapshot_seq = 0;            // 0 = no snapshot used
  std::string snapshot_path;
  std::vector<std::string> rejected_snapshots;  // "path: reason", newest first
  std::uint64_t commands_replayed = 0;
  std::uint64_t events_verified = 0;
  std::uint64_t fills_verified = 0;
  // torn_*, error_*, cut_file and discarded_segments say what was truncated.
  ReadStats read;
};

// Recovers `dir` (which may be empty or missing: then last_seq = 0 and the engine is
// fresh). Fails with DataLossError "<path>:<offset>: ..." on corruption; DataLossError
// naming the snapshot and the journal's end if a snapshot holds a seq beyond the end of
// the journal (nothing is renamed or cut then); InternalError
// "replay diverged at seq N (<path>:<offset>): ..." if a regenerated event differs,
// FailedPrecondition if the configuration differs from expected_config.
absl::StatusOr<RecoveryResult> Recover(const std::string& dir, const EngineFactory& factory,
                                       const RecoveryOptions& options);

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_RECOVERY_H_
