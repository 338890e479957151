#include "engine/journal/fault_env.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/file_util.h"
#include "engine/journal/journal_format.h"

namespace msx::journal {
namespace {

absl::Status InjectedError(absl::string_view op, const std::string& path, int err) {
  return absl::UnavailableError(
      absl::StrCat(op, "(", path, "): ", strerror(err), " (injected)"));
}

std::string DirName(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string StripTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

bool AllZero(absl::string_view data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

}  // namespace

class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}
  ~File() override { Close().IgnoreError(); }

  absl::Status Pwrite(absl::string_view data, std::uint64_t offset) override {
    absl::MutexLock l(&env_->mu_);
    if (absl::Status s = env_->BeginMutation("pwrite", path()); !s.ok()) return s;
    if (++env_->pwrite_calls_ == env_->fail_pwrite_at_) {
      return InjectedError("pwrite", path(), env_->fail_pwrite_errno_);
    }
    if (absl::Status s = base_->Pwrite(data, offset); !s.ok()) return s;
    FileState& f = env_->files_[path()];
    f.pending.push_back(Op{false, offset, std::string(data)});
    if (!AllZero(data)) f.unsynced_data += data.size();
    env_->max_unsynced_ = std::max(env_->max_unsynced_, f.unsynced_data);
    return absl::OkStatus();
  }

  absl::Status Datasync() override {
    absl::MutexLock l(&env_->mu_);
    if (absl::Status s = env_->BeginMutation("fdatasync", path()); !s.ok()) return s;
    if (++env_->datasync_calls_ == env_->fail_datasync_at_) {
      // Nothing becomes durable (the kernel may even drop the dirty pages).
      return InjectedError("fdatasync", path(), env_->fail_datasync_errno_);
    }
    if (absl::Status s = base_->Datasync(); !s.ok()) return s;
    FileState& f = env_->files_[path()];
    for (const Op& op : f.pending) Apply(op, &f.synced);
    f.pending.clear();
    f.unsynced_data = 0;
    ++env_->datasyncs_;
    return absl::OkStatus();
  }

  absl::Status Truncate(std::uint64_t size) override {
    absl::MutexLock l(&env_->mu_);
    if (absl::Status s = env_->BeginMutation("ftruncate", path()); !s.ok()) return s;
    if (absl::Status s = base_->Truncate(size); !s.ok()) return s;
    env_->files_[path()].pending.push_back(Op{true, size, std::string()});
    return absl::OkStatus();
  }

  absl::Status Close() override { return base_->Close(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* const env_;
  const std::unique_ptr<WritableFile> base_;
};

absl::Status FaultInjectionEnv::BeginMutation(const std::string& op, const std::string& path) {
  ++mutating_calls_;
  if (cut_power_at_ != 0 && mutating_calls_ >= cut_power_at_) power_cut_ = true;
  if (power_cut_) return InjectedError(op, path, EIO);
  return absl::OkStatus();
}

void FaultInjectionEnv::Apply(const Op& op, std::string* image) {
  if (op.truncate) {
    image->resize(op.offset, '\0');
    return;
  }
  if (image->size() < op.offset + op.data.size()) image->resize(op.offset + op.data.size(), '\0');
  image->replace(op.offset, op.data.size(), op.data);
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  absl::MutexLock l(&mu_);
  if (power_cut_) return InjectedError("open", path, EIO);
  auto it = files_.find(path);
  if (it == files_.end()) {
    // A file this env has not seen: if it exists, it was there (durably) before.
    FileState f;
    absl::StatusOr<std::string> old = internal::ReadFile(path);
    if (old.ok()) {
      f.synced = *std::move(old);
      f.entry_durable = true;
    }
    it = files_.emplace(path, std::move(f)).first;
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> base = base_->NewWritableFile(path);
  if (!base.ok()) return base.status();
  it->second.pending.push_back(Op{true, 0, std::string()});  // O_TRUNC, not yet synced
  return std::unique_ptr<WritableFile>(new File(this, *std::move(base)));
}

absl::Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  if (power_cut_) return InjectedError("mkdir", dir, EIO);
  return base_->CreateDir(dir);
}

absl::Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  absl::MutexLock l(&mu_);
  if (absl::Status s = BeginMutation("fsync", dir); !s.ok()) return s;
  if (absl::Status s = base_->SyncDir(dir); !s.ok()) return s;
  const std::string d = StripTrailingSlashes(dir);
  for (auto& [path, f] : files_) {
    if (DirName(path) == d) f.entry_durable = true;
  }
  for (auto it = removed_.begin(); it != removed_.end();) {
    it = DirName(it->first) == d ? removed_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  absl::MutexLock l(&mu_);
  if (power_cut_) return InjectedError("rename", from, EIO);
  if (absl::Status s = base_->RenameFile(from, to); !s.ok()) return s;
  auto it = files_.find(from);
  if (it != files_.end()) {
    FileState f = std::move(it->second);
    files_.erase(it);
    f.entry_durable = false;  // until the directory is synced
    files_[to] = std::move(f);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  absl::MutexLock l(&mu_);
  if (power_cut_) return InjectedError("unlink", path, EIO);
  auto it = files_.find(path);
  std::string synced;
  bool durable = false;
  if (it != files_.end()) {
    synced = it->second.synced;
    durable = it->second.entry_durable;
  } else if (absl::StatusOr<std::string> old = internal::ReadFile(path); old.ok()) {
    // A file this env has not seen: it was there (durably) before.
    synced = *std::move(old);
    durable = true;
  }
  if (absl::Status s = base_->RemoveFile(path); !s.ok()) return s;
  if (it != files_.end()) files_.erase(it);
  if (durable) removed_[path] = std::move(synced);
  return absl::OkStatus();
}

void FaultInjectionEnv::FailDatasyncAt(int n, int err) {
  absl::MutexLock l(&mu_);
  fail_datasync_at_ = datasync_calls_ + n;
  fail_datasync_errno_ = err;
}

void FaultInjectionEnv::FailPwriteAt(int n, int err) {
  absl::MutexLock l(&mu_);
  fail_pwrite_at_ = pwrite_calls_ + n;
  fail_pwrite_errno_ = err;
}

void FaultInjectionEnv::CutPowerAfter(int n) {
  absl::MutexLock l(&mu_);
  cut_power_at_ = n == 0 ? 0 : mutating_calls_ + n;
}

void FaultInjectionEnv::CutPower() {
  absl::MutexLock l(&mu_);
  power_cut_ = true;
}

bool FaultInjectionEnv::power_cut() const {
  absl::MutexLock l(&mu_);
  return power_cut_;
}

int FaultInjectionEnv::mutating_calls() const {
  absl::MutexLock l(&mu_);
  return mutating_calls_;
}

int FaultInjectionEnv::datasyncs() const {
  absl::MutexLock l(&mu_);
  return datasyncs_;
}

std::uint64_t FaultInjectionEnv::max_unsynced_data_bytes() const {
  absl::MutexLock l(&mu_);
  return max_unsynced_;
}

absl::Status FaultInjectionEnv::DropUnsyncedData(const TearFn& tear) {
  absl::MutexLock l(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    const std::string& path = it->first;
    FileState& f = it->second;
    if (!f.entry_durable) {
      // The directory entry never reached the disk: the file is gone.
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return internal::ErrnoError("unlink", path);
      }
      it = files_.erase(it);
      continue;
    }
    std::uint64_t unsynced = 0;
    for (const Op& op : f.pending) unsynced += op.data.size();
    std::uint64_t keep = tear ? std::min(tear(path, unsynced), unsynced) : 0;
    std::string image = f.synced;
    for (const Op& op : f.pending) {
      if (op.truncate) {
        if (keep == 0 && unsynced > 0) break;  // the writes before it were not all kept
        Apply(op, &image);
        continue;
      }
      if (keep == 0) break;
      if (keep >= op.data.size()) {
        Apply(op, &image);
        keep -= op.data.size();
        continue;
      }
      // Torn inside this write: past the old end of the file at any byte (the size grew
      // to wherever the data got); over existing bytes only at a sector boundary.
      std::uint64_t end = op.offset + keep;
      if (end <= image.size()) {
        end = std::max(op.offset, end / kSectorSize * kSectorSize);
      }
      Apply(Op{false, op.offset, op.data.substr(0, end - op.offset)}, &image);
      keep = 0;
      break;
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return internal::ErrnoError("open", path);
    absl::Status s = internal::WriteAll(fd, image, path);
    ::close(fd);
    if (!s.ok()) return s;
    f.synced = std::move(image);
    f.pending.clear();
    f.unsynced_data = 0;
    ++it;
  }
  // Removals that never became durable: the file is back as it was last synced.
  for (auto& [path, synced] : removed_) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return internal::ErrnoError("open", path);
    absl::Status s = internal::WriteAll(fd, synced, path);
    ::close(fd);
    if (!s.ok()) return s;
    FileState f;
    f.synced = std::move(synced);
    f.entry_durable = true;
    files_[path] = std::move(f);
  }
  removed_.clear();
  power_cut_ = false;
  cut_power_at_ = 0;
  fail_datasync_at_ = fail_pwrite_at_ = 0;
  return absl::OkStatus();
}

}  // namespace msx::journal
