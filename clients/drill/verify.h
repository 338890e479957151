// Replay verification: every command of a journal goes through a fresh engine built from
// the journal's own configuration, and every regenerated journaled event (all but
// kBookLevel) must equal the journaled one byte for byte in the journal encoding.
//
// Thread-safety: functions are reentrant; each call owns its engine and reader.
#ifndef MSX_CLIENTS_DRILL_VERIFY_H_
#define MSX_CLIENTS_DRILL_VERIFY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "engine/journal/reader.h"
#include "engine/matching/types.h"

namespace msx::drill {

struct Divergence {
  Seq seq = 0;                      // the command whose events differ
  std::uint32_t index = 0;          // index of the first differing event within the command
  std::string file;                 // segment holding the command
  std::uint64_t offset = 0;         // offset of the differing EVENT record (or of the COMMAND
                                    // record when the engine produced more events than journaled)
  nlohmann::ordered_json command;   // the command, as journaled (journal::CommandJson)
  nlohmann::ordered_json expected;  // the journaled event, or null
  nlohmann::ordered_json actual;    // the regenerated event, or null
};

struct VerifyResult {
  bool diverged = false;
  Divergence divergence;           // set when diverged
  std::uint64_t commands = 0;      // commands replayed (up to and including a divergence)
  std::uint64_t events = 0;        // journaled events compared equal
  std::uint64_t fills = 0;         // of which fills
  std::uint64_t state_digest = 0;  // Engine::StateDigest() at the end, when asked for
                                   // (0 if not asked for or diverged)
  journal::ReadStats read;         // records, bytes, segments, torn tail
};

// Verifies `dir`. Returns a VerifyResult (diverged or not) when the journal reads cleanly
// up to the end or the divergence; an error status when it cannot be read: NotFound (no
// directory or no segment), DataLossError "<path>:<offset>: ..." for corruption (the
// reader's own message), or the configuration error of OpenDrillJournal.
// With `state_digest` the engine's final state is also digested (it serializes the whole
// state, which costs extra time on a large journal).
absl::StatusOr<VerifyResult> VerifyReplay(const std::string& dir, bool state_digest = false);

// One line: "OK: 1234 commands, 5678 events (90 fills) in 2 segments replayed and match
// byte for byte; last seq 1234", plus the state digest when computed and a torn-tail note
// when present.
std::string VerifySummary(const std::string& dir, const VerifyResult& result);
// Several lines naming the sequence number, file:offset, command, expected and actual event
// ("(none)" for a missing one).
std::string DivergenceMessage(const Divergence& d);
// One JSON object: {"dir", "ok", "commands", "events", "fills", "records", "segments",
// "last_seq", "torn_bytes"}, then "divergence": {"seq", "index", "file", "offset",
// "command", "expected", "actual"} (null for a missing event) when diverged, else
// "state_digest" when it was computed.
std::string RenderVerifyJson(const std::string& dir, const VerifyResult& result);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_VERIFY_H_
