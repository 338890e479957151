// DirLock: one process at a time per journal directory. msx-server (and anything else that
// writes or truncates a journal, e.g. `msx-journal verify --truncate-*`) holds an
// exclusive flock(2) on DIR/LOCK for as long as it uses the directory. Two writers on one
// journal would interleave segments (sequence overlap, duplicate offer ids); the lock
// turns that into a clear start-up error. Readers (verify, dump, drills) do not take it.
//
// The lock belongs to the open file description: it is released when the DirLock is
// destroyed or the process dies (also by SIGKILL), never left behind. The LOCK file
// itself stays; it holds the pid of the last holder, for operators.
//
// Thread-safety: a DirLock is not shared between threads; Acquire is thread-safe.
#ifndef MSX_ENGINE_JOURNAL_DIR_LOCK_H_
#define MSX_ENGINE_JOURNAL_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace msx::journal {

inline constexpr char kLockFileName[] = "LOCK";

class DirLock {
 public:
  // Creates DIR/LOCK if missing and locks it without waiting. Fails with
  // FailedPreconditionError "<dir> is in use: another msx-server holds its lock <dir>/LOCK
  // ..." when another process (or another DirLock in this process) holds it, NotFound if
  // `dir` does not exist, Unavailable for other I/O errors (naming the path).
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  DirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;
  const int fd_;
};

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_DIR_LOCK_H_
