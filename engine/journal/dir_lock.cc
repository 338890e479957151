#include "engine/journal/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/file_util.h"

namespace msx::journal {

absl::StatusOr<std::unique_ptr<DirLock>> DirLock::Acquire(const std::string& dir) {
  std::string path = internal::JoinPath(dir, kLockFileName);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return internal::ErrnoError("open", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " is in use: another msx-server holds its lock ", path,
          " (one process per data directory; stop it or use another --data-dir)"));
    }
    errno = err;
    return internal::ErrnoError("flock", path);
  }
  // The holder's pid, for an operator wondering who holds it (informative only: the lock
  // is the flock, not the content).
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0) {
    ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)n;
  }
  return std::unique_ptr<DirLock>(new DirLock(std::move(path), fd));
}

DirLock::~DirLock() { ::close(fd_); }  // closing the last descriptor releases the flock

}  // namespace msx::journal
