// POSIX file helpers shared by the writer, reader and snapshots. Every error is an
// absl::Status naming the operation, the path and strerror(errno).
//
// Thread-safety: the functions are thread-safe (they share no state).
#ifndef MSX_ENGINE_JOURNAL_FILE_UTIL_H_
#define MSX_ENGINE_JOURNAL_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace msx::journal::internal {

// An error status for the failed system call `op` on `path` with the current errno:
// NotFound for ENOENT, Unavailable otherwise (I/O failures are retriable by an operator,
// not by the caller).
absl::Status ErrnoError(absl::string_view op, const std::string& path);

// Writes all of `data` to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

// Reads the whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Creates `dir` if missing (one level; the parent must exist).
absl::Status EnsureDir(const std::string& dir);

// fsync()s the directory so that entries created/renamed/removed in it are durable.
absl::Status SyncDir(const std::string& dir);

// Truncates `path` to `size` bytes and fsyncs it.
absl::Status TruncateFile(const std::string& path, std::uint64_t size);

std::string JoinPath(const std::string& dir, absl::string_view name);

}  // namespace msx::journal::internal

#endif  // MSX_ENGINE_JOURNAL_FILE_UTIL_H_
