// Verification of one replicated message's payload before a standby appends and applies
// it: the payload must be whole journal command groups (engine/journal/FORMAT.md,
// "Command groups") back to back, with valid record framing and CRCs and command sequence
// numbers that continue the standby's journal without a gap. Decoding the command and
// event bodies is left to the apply step (the engine's codec checks them there).
//
// Thread-safety: a pure function.
#ifndef MSX_GATEWAY_REPLICATION_REPLICATED_BATCH_H_
#define MSX_GATEWAY_REPLICATION_REPLICATED_BATCH_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace msx::replication {

struct ReplicatedBatch {
  uint64_t first_seq = 0;  // command sequence of the first group
  uint64_t last_seq = 0;   // command sequence of the last group
  uint32_t commands = 0;   // command groups (COMMAND records)
  uint32_t records = 0;    // COMMAND + EVENT records
};

// Checks `payload` (one stream message) against the journal format: each record's length
// within the payload and kMaxPayload, its masked CRC32C, its type (COMMAND or EVENT only:
// no CONFIG, which belongs to segment starts the standby writes itself), every COMMAND
// followed by exactly its event_count EVENT records with its seq and indices 0..n-1, and
// command seqs consecutive from `expected_first_seq`.
// Errors: DATA_LOSS naming the byte offset within the payload and what is wrong (e.g.
// "offset 46: command seq 9, expected 8" for a gap).
absl::StatusOr<ReplicatedBatch> VerifyReplicatedBatch(absl::string_view payload,
                                                      uint64_t expected_first_seq);

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_REPLICATED_BATCH_H_
