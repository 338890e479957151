// The end of a journal as bytes, and setting it aside: what a replicated node needs at
// start-up to compare its journal with the replicated stream and to move aside the
// commands the stream does not hold (gateway/replication/README.md, "Bootstrap: the stream
// decides"). The cut follows the journal's own convention for cuts (FORMAT.md
// "Corruption"): the cut bytes of a segment are copied to "<segment>.cut-<offset>" first,
// the segment is then truncated, and every later segment is renamed "*.discarded"; nothing
// is ever deleted.
//
// Thread-safety: run before a JournalWriter is opened on the directory (hold its DirLock).
#ifndef MSX_ENGINE_JOURNAL_TAIL_H_
#define MSX_ENGINE_JOURNAL_TAIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/matching/types.h"

namespace msx::journal {

// One command group exactly as journaled: its COMMAND record and EVENT records, framing
// (length + CRC32C headers) included. The same bytes a primary replicates for it.
struct RawGroup {
  Seq seq = 0;
  std::string bytes;
};

// The command groups with after_seq < seq <= until_seq, in order, verified as JournalReader
// verifies them. Errors: the reader's (DataLossError naming file and offset; OutOfRange if
// the journal ends before until_seq); NotFound if `dir` does not exist.
absl::StatusOr<std::vector<RawGroup>> ReadRawGroups(const std::string& dir, Seq after_seq,
                                                    Seq until_seq);

struct CutResult {
  Seq end_seq = 0;             // the journal now ends at this command
  std::uint64_t commands = 0;  // commands set aside
  // "<segment>.cut-<offset>": the bytes cut from the segment that keeps end_seq; "" when
  // that segment lost nothing (every command set aside was in later segments).
  std::string cut_file;
  // Later segments, renamed "<segment>.discarded" (or "...discarded-N" if taken).
  std::vector<std::string> discarded_segments;
};

// Sets aside every command after `seq`, so that the journal ends at `seq` (a no-op when it
// already does). Made durable (files and directory entries fsync'd) before it returns.
// REQUIRES: no writer open on `dir`; the journal ends cleanly (Recover() ran).
// Errors: FailedPrecondition naming the snapshot if a snapshot holds a seq beyond `seq`
// (it proves those commands were applied here; nothing is changed); OutOfRange if the
// journal ends before `seq`; the reader's errors; I/O errors (UNAVAILABLE) naming the path.
absl::StatusOr<CutResult> CutJournalAfter(const std::string& dir, Seq seq);

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_TAIL_H_
