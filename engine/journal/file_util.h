// POSIX file helpers shared by the writer, reader and snapshots. Every error is an
// absl::Status naming the operation, the path and strerror(errno).
//
// Thread-safety: the functions are thread-safe (they share no state).
#ifndef MSX_ENGINE_JOURNAL_FILE_UTIL_H_
#define MSX_ENGINE_JOURNAL_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
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

// Writes all of `data` to `fd` at `offset` (pwrite), retrying short writes and EINTR.
absl::Status PwriteAll(int fd, absl::string_view data, std::uint64_t offset,
                       const std::string& path);

// Reads the whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A read-only, private memory map of a whole file (populated up front, read sequentially):
// reading a segment this way costs neither a zero-filled buffer nor a copy.
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  // The file's bytes as of Open(). Valid while this object lives.
  absl::string_view data() const { return absl::string_view(data_, size_); }

 private:
  MappedFile(const char* data, std::size_t size) : data_(data), size_(size) {}
  const char* data_;
  std::size_t size_;
};

// Creates `dir` if missing (one level; the parent must exist). If it created it, fsyncs
// the parent so that the new entry is durable.
absl::Status EnsureDir(const std::string& dir);

// Creates `dir` and any missing parents (mkdir -p), each made durable in its parent.
absl::Status CreateDirs(const std::string& dir);

// fsync()s the directory so that entries created/renamed/removed in it are durable.
absl::Status SyncDir(const std::string& dir);

// Creates `path` (which must not exist) holding `data`, and fsyncs it. The caller
// fsyncs the directory.
absl::Status WriteFileDurably(const std::string& path, absl::string_view data);

// Truncates `path` to `size` bytes and fsyncs it.
absl::Status TruncateFile(const std::string& path, std::uint64_t size);

std::string JoinPath(const std::string& dir, absl::string_view name);

// `path` + `suffix`, or + `suffix` + "-N" (N = 2, 3, ...) when that name is taken, so that
// setting a file aside never replaces one set aside earlier (a segment name recurs after
// a cut: the writer continues at a sequence number it had already reached).
std::string FreeFileName(const std::string& path, absl::string_view suffix);

}  // namespace msx::journal::internal

#endif  // MSX_ENGINE_JOURNAL_FILE_UTIL_H_
