// Helpers for journal tests: temporary directories and file corruption (flip a byte,
// truncate, zero a range, cut and splice). The synthetic command groups they write come
// from engine/testing/command_groups.h.
#ifndef MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_
#define MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/journal/crc32c.h"
#include "gtest/gtest.h"

namespace msx::journal::testing {

// A fresh directory under $TMPDIR, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msx-journal-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline void FlipByte(const std::string& path, std::uint64_t offset) {
  std::string d = ReadAll(path);
  ASSERT_LT(offset, d.size());
  d[offset] ^= 0x5a;
  WriteAll(path, d);
}

inline void TruncateTo(const std::string& path, std::uint64_t size) {
  std::filesystem::resize_file(path, size);
}

inline void ZeroRange(const std::string& path, std::uint64_t offset, std::uint64_t n) {
  std::string d = ReadAll(path);
  ASSERT_LE(offset + n, d.size());
  for (std::uint64_t i = 0; i < n; ++i) d[offset + i] = 0;
  WriteAll(path, d);
}

// Copies bytes [from, to) and inserts the copy at `at`.
inline void DuplicateRange(const std::string& path, std::uint64_t from, std::uint64_t to,
                           std::uint64_t at) {
  std::string d = ReadAll(path);
  std::string piece = d.substr(from, to - from);
  d.insert(at, piece);
  WriteAll(path, d);
}

// Removes bytes [from, to).
inline void RemoveRange(const std::string& path, std::uint64_t from, std::uint64_t to) {
  std::string d = ReadAll(path);
  d.erase(from, to - from);
  WriteAll(path, d);
}

// Recomputes the CRC of the record at `offset` after its payload was edited on purpose, so
// that only the higher-level checks (sequence, replay) can catch the change.
inline void FixRecordCrc(const std::string& path, std::uint64_t offset) {
  std::string d = ReadAll(path);
  std::uint32_t length;
  std::memcpy(&length, d.data() + offset + 4, 4);
  std::uint32_t crc = crc32c::Mask(crc32c::Value(d.data() + offset + 8, 1 + length));
  std::memcpy(d.data() + offset, &crc, 4);
  WriteAll(path, d);
}

inline std::uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

// Appends `n` zero bytes: the space a preallocating writer keeps ahead of its data.
inline void AppendZeros(const std::string& path, std::uint64_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  const std::string zeros(n, '\0');
  f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

// Lowers this process's file-size limit (RLIMIT_FSIZE) to `bytes`, so that a write beyond
// it fails with EFBIG (SIGXFSZ is ignored meanwhile): a disk that refuses writes, for
// fail-closed tests. Restore() (or the destructor) puts the limit and the signal back.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    if (getrlimit(RLIMIT_FSIZE, &old_) != 0) return;
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_;
    small.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &small) == 0;
  }
  ~ScopedFileSizeLimit() { Restore(); }
  ScopedFileSizeLimit(const ScopedFileSizeLimit&) = delete;
  ScopedFileSizeLimit& operator=(const ScopedFileSizeLimit&) = delete;

  // Whether the limit is in force.
  bool ok() const { return ok_; }
  // Puts the old limit back; false if that failed.
  bool Restore() {
    if (!ok_) return true;
    ok_ = false;
    signal(SIGXFSZ, old_handler_);
    return setrlimit(RLIMIT_FSIZE, &old_) == 0;
  }

 private:
  struct rlimit old_ {};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

}  // namespace msx::journal::testing

#endif  // MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_
