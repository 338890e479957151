// Snapshots: Engine::SaveState() bytes in a checksummed file, written atomically (write
// a temporary file, fdatasync it, rename it into place, fsync the directory), named by the
// sequence number of the last command they include. See FORMAT.md "Snapshots".
//
// Thread-safety: the functions are thread-compatible; do not write two snapshots into the
// same directory at once. Reading while a snapshot is being written is safe (a reader
// never sees a partial file under the final name).
#ifndef MSX_ENGINE_JOURNAL_SNAPSHOT_H_
#define MSX_ENGINE_JOURNAL_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/journal/env.h"
#include "engine/matching/types.h"

namespace msx::journal {

struct SnapshotInfo {
  std::string path;
  Seq seq = 0;  // from the file name
};

// "snapshot-00000000000000001000.msxs"
std::string SnapshotFileName(Seq seq);

// Writes `state` as the snapshot after command `seq` into `dir`, then deletes all but the
// `keep` newest snapshots and any leftover *.tmp files. Every file-system change goes
// through `env` (nullptr: Env::Default()). A failure, a power loss included, leaves the
// previous snapshots intact and returns the I/O error naming the path; after a power loss
// a file under a snapshot name is always whole (the data is synced before the rename).
// OK means the snapshot is durable. REQUIRES: keep >= 1.
absl::Status WriteSnapshot(const std::string& dir, Seq seq, absl::string_view state, int keep = 2,
                           Env* env = nullptr);

// The snapshots in `dir`, newest (highest seq) first. NotFound if `dir` does not exist.
absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots(const std::string& dir);

struct SnapshotData {
  Seq seq = 0;
  std::string state;
};

// Reads and verifies one snapshot file (magic, version, header CRC, length, state CRC,
// seq equal to the file name). DataLossError naming the path and offset on damage.
absl::StatusOr<SnapshotData> ReadSnapshot(const std::string& path);

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_SNAPSHOT_H_
