// The file-system operations the journal writer and the snapshot writer make, behind an
// interface in the spirit of LevelDB's Env: open a file, pwrite, fdatasync, ftruncate,
// close, create and fsync a directory, rename, remove. Env::Default() is the real POSIX implementation; tests
// substitute a fault-injecting one (fault_env.h) that can fail the Nth call or simulate a
// power loss by dropping everything that was not synced.
//
// One virtual call per system call; the writer makes a handful per group commit.
//
// Thread-safety: an Env is used by many threads at once (implementations are
// thread-safe). A WritableFile is used by one thread at a time.
#ifndef MSX_ENGINE_JOURNAL_ENV_H_
#define MSX_ENGINE_JOURNAL_ENV_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace msx::journal {

// A file open for writing. Every error names the operation, the path and the errno
// (absl::Status from internal::ErrnoError: UNAVAILABLE, NOT_FOUND for ENOENT).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at `offset` (pwrite, retrying short writes and EINTR).
  virtual absl::Status Pwrite(absl::string_view data, std::uint64_t offset) = 0;
  // fdatasync: the data written so far (and the file size) reach stable storage.
  virtual absl::Status Datasync() = 0;
  // ftruncate to `size` bytes (not synced).
  virtual absl::Status Truncate(std::uint64_t size) = 0;
  // Closes the file; later calls fail. Called by the destructor if not called before.
  virtual absl::Status Close() = 0;
  virtual const std::string& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The POSIX implementation. Never deleted; thread-safe.
  static Env* Default();

  // Opens `path` for writing, created if missing and truncated to zero length. The new
  // directory entry is durable only after SyncDir of its directory.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Creates `dir` if missing (one level; the parent must exist) and, if it created it,
  // fsyncs the parent so that the new entry is durable. FailedPrecondition if `dir`
  // exists and is not a directory.
  virtual absl::Status CreateDir(const std::string& dir) = 0;
  // fsync()s the directory so that entries created/renamed/removed in it are durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // rename(2); the caller syncs the directory.
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // unlink(2); the removal is durable only after SyncDir of its directory.
  virtual absl::Status RemoveFile(const std::string& path) = 0;
};

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_ENV_H_
