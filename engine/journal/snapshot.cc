#include "engine/journal/snapshot.h"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/file_util.h"
#include "engine/journal/journal_format.h"

namespace msx::journal {
namespace {

using internal::ErrnoError;
using internal::JoinPath;

bool ParseSnapshotFileName(absl::string_view name, Seq* seq) {
  constexpr std::size_t kPrefix = sizeof(kSnapshotPrefix) - 1;
  constexpr std::size_t kSuffix = sizeof(kSnapshotSuffix) - 1;
  if (name.size() != kPrefix + kSeqDigits + kSuffix) return false;
  if (!absl::StartsWith(name, kSnapshotPrefix) || !absl::EndsWith(name, kSnapshotSuffix)) {
    return false;
  }
  unsigned __int128 v = 0;
  for (std::size_t i = kPrefix; i < kPrefix + kSeqDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(name[i] - '0');
  }
  if (v > static_cast<unsigned __int128>(~std::uint64_t{0})) return false;
  *seq = static_cast<Seq>(v);
  return true;
}

}  // namespace

std::string SnapshotFileName(Seq seq) {
  std::string digits = std::to_string(seq);
  return absl::StrCat(kSnapshotPrefix, std::string(kSeqDigits - digits.size(), '0'), digits,
                      kSnapshotSuffix);
}

absl::Status WriteSnapshot(const std::string& dir, Seq seq, absl::string_view state, int keep,
                           Env* env) {
  if (keep < 1) return absl::InvalidArgumentError("keep: must be >= 1");
  if (env == nullptr) env = Env::Default();
  if (absl::Status s = env->CreateDir(dir); !s.ok()) return s;
  std::string header;
  header.append(kSnapshotMagic, sizeof(kSnapshotMagic));
  PutFixed16(&header, kSnapshotFormatVersion);
  PutFixed16(&header, static_cast<std::uint16_t>(kSnapshotHeaderSize));
  PutFixed32(&header, 0);
  PutFixed64(&header, seq);
  PutFixed64(&header, state.size());
  PutFixed32(&header, crc32c::Mask(crc32c::Value(state.data(), state.size())));
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), kSnapshotHeaderCrcOffset)));

  // The file is whole and synced before it gets its final name, and the name is durable
  // before older snapshots go: a power loss at any point leaves either the new snapshot
  // whole under its name, or no file of that name (a *.tmp, removed by the next write),
  // and the previous snapshots in any case.
  const std::string path = JoinPath(dir, SnapshotFileName(seq));
  const std::string tmp = path + ".tmp";
  absl::Status s;
  {
    absl::StatusOr<std::unique_ptr<WritableFile>> file = env->NewWritableFile(tmp);
    if (!file.ok()) return file.status();
    s = (*file)->Pwrite(header, 0);
    if (s.ok()) s = (*file)->Pwrite(state, header.size());
    if (s.ok()) s = (*file)->Datasync();
    absl::Status closed = (*file)->Close();
    if (s.ok()) s = closed;
  }
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (!s.ok()) {
    env->RemoveFile(tmp).IgnoreError();  // best effort; the next write removes leftovers
    return s;
  }
  if (s = env->SyncDir(dir); !s.ok()) return s;

  // Retire old snapshots and leftovers of interrupted writes.
  absl::StatusOr<std::vector<SnapshotInfo>> all = ListSnapshots(dir);
  if (!all.ok()) return all.status();
  for (std::size_t i = static_cast<std::size_t>(keep); i < all->size(); ++i) {
    if (s = env->RemoveFile((*all)[i].path); !s.ok()) return s;
  }
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> stale;
    while (struct dirent* e = ::readdir(d)) {
      absl::string_view name = e->d_name;
      if (absl::StartsWith(name, kSnapshotPrefix) && absl::EndsWith(name, ".msxs.tmp")) {
        stale.push_back(JoinPath(dir, name));
      }
    }
    ::closedir(d);
    for (const std::string& p : stale) env->RemoveFile(p).IgnoreError();
  }
  return env->SyncDir(dir);
}

absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("opendir", dir);
  std::vector<SnapshotInfo> out;
  while (struct dirent* e = ::readdir(d)) {
    Seq seq;
    if (ParseSnapshotFileName(e->d_name, &seq)) out.push_back({JoinPath(dir, e->d_name), seq});
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.seq > b.seq; });
  return out;
}

absl::StatusOr<SnapshotData> ReadSnapshot(const std::string& path) {
  absl::StatusOr<std::string> bytes = internal::ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  auto loss = [&path](std::uint64_t offset, absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ":", offset, ": ", what));
  };
  const std::string& b = *bytes;
  if (b.size() < kSnapshotHeaderSize) return loss(0, "snapshot header cut short");
  const char* h = b.data();
  if (std::memcmp(h, kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) {
    return loss(0, "bad snapshot magic");
  }
  if (crc32c::Unmask(GetFixed32(h + kSnapshotHeaderCrcOffset)) !=
      crc32c::Value(h, kSnapshotHeaderCrcOffset)) {
    return loss(0, "snapshot header checksum mismatch");
  }
  if (GetFixed16(h + 8) != kSnapshotFormatVersion || GetFixed16(h + 10) != kSnapshotHeaderSize) {
    return loss(0, absl::StrCat("snapshot version ", GetFixed16(h + 8), " not supported"));
  }
  SnapshotData out;
  out.seq = GetFixed64(h + 16);
  std::uint64_t length = GetFixed64(h + 24);
  if (length != b.size() - kSnapshotHeaderSize) {
    return loss(kSnapshotHeaderSize,
                absl::StrCat("snapshot state is ", b.size() - kSnapshotHeaderSize,
                             " bytes, header says ", length));
  }
  if (crc32c::Unmask(GetFixed32(h + 32)) != crc32c::Value(h + kSnapshotHeaderSize, length)) {
    return loss(kSnapshotHeaderSize, "snapshot state checksum mismatch");
  }
  Seq named = 0;
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (ParseSnapshotFileName(name, &named) && named != out.seq) {
    return loss(16, absl::StrCat("snapshot seq ", out.seq, " does not match the file name"));
  }
  out.state = b.substr(kSnapshotHeaderSize);
  return out;
}

}  // namespace msx::journal
