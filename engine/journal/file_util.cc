#include "engine/journal/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace msx::journal::internal {

absl::Status ErrnoError(absl::string_view op, const std::string& path) {
  int err = errno;
  std::string msg = absl::StrCat(op, "(", path, "): ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::UnavailableError(msg);
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status PwriteAll(int fd, absl::string_view data, std::uint64_t offset,
                       const std::string& path) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::pwrite(fd, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pwrite", path);
    }
    p += n;
    offset += static_cast<std::uint64_t>(n);
    left -= static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status s = ErrnoError("fstat", path);
    ::close(fd);
    return s;
  }
  std::string data;
  data.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;  // the file shrank meanwhile
    got += static_cast<std::size_t>(n);
  }
  data.resize(got);
  ::close(fd);
  return data;
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status s = ErrnoError("fstat", path);
    ::close(fd);
    return s;
  }
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  absl::Status s = p == MAP_FAILED ? ErrnoError("mmap", path) : absl::OkStatus();
  ::close(fd);  // the mapping keeps the file open
  if (!s.ok()) return s;
  ::madvise(p, size, MADV_SEQUENTIAL);
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const char*>(p), size));
}

MappedFile::~MappedFile() {
  if (size_ > 0) ::munmap(const_cast<char*>(data_), size_);
}

namespace {

std::string ParentDir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const std::size_t slash = d.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : d.substr(0, slash);
}

}  // namespace

absl::Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return SyncDir(ParentDir(dir));
  if (errno == EEXIST) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return ErrnoError("stat", dir);
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
    }
    return absl::OkStatus();
  }
  return ErrnoError("mkdir", dir);
}

absl::Status CreateDirs(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return EnsureDir(dir);  // says if it is not a directory
  const std::string parent = ParentDir(dir);
  if (parent != dir && parent != "." && parent != "/") {
    if (absl::Status s = CreateDirs(parent); !s.ok()) return s;
  }
  return EnsureDir(dir);
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", dir);
  absl::Status s;
  if (::fsync(fd) != 0) s = ErrnoError("fsync", dir);
  ::close(fd);
  return s;
}

absl::Status WriteFileDurably(const std::string& path, absl::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", path);
  absl::Status s = WriteAll(fd, data, path);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoError("fsync", path);
  ::close(fd);
  return s;
}

absl::Status TruncateFile(const std::string& path, std::uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  absl::Status s;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    s = ErrnoError("ftruncate", path);
  } else if (::fsync(fd) != 0) {
    s = ErrnoError("fsync", path);
  }
  ::close(fd);
  return s;
}

std::string JoinPath(const std::string& dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

std::string FreeFileName(const std::string& path, absl::string_view suffix) {
  std::string to = absl::StrCat(path, suffix);
  for (int n = 2; ::access(to.c_str(), F_OK) == 0; ++n) to = absl::StrCat(path, suffix, "-", n);
  return to;
}

}  // namespace msx::journal::internal
