#include "engine/journal/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <utility>

#include "engine/journal/file_util.h"

namespace msx::journal {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { Close().IgnoreError(); }

  absl::Status Pwrite(absl::string_view data, std::uint64_t offset) override {
    return internal::PwriteAll(fd_, data, offset, path_);
  }
  absl::Status Datasync() override {
    if (::fdatasync(fd_) != 0) return internal::ErrnoError("fdatasync", path_);
    return absl::OkStatus();
  }
  absl::Status Truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return internal::ErrnoError("ftruncate", path_);
    }
    return absl::OkStatus();
  }
  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return internal::ErrnoError("close", path_);
    return absl::OkStatus();
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return internal::ErrnoError("open", path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }
  absl::Status CreateDir(const std::string& dir) override { return internal::EnsureDir(dir); }
  absl::Status SyncDir(const std::string& dir) override { return internal::SyncDir(dir); }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return internal::ErrnoError("rename", from);
    return absl::OkStatus();
  }
  absl::Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return internal::ErrnoError("unlink", path);
    return absl::OkStatus();
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

}  // namespace msx::journal
