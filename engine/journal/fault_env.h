// FaultInjectionEnv: an Env for tests (in the spirit of LevelDB's FaultInjectionTestEnv)
// that passes every call through to a real Env and, on the side, keeps what a disk would
// hold after a power loss:
//
//   * per file, the contents as of its last successful Datasync (the "synced image") and
//     the writes and truncations made since, in order;
//   * whether the file's directory entry is durable (its directory was synced after the
//     file was created or renamed);
//   * files removed since their directory was last synced (a power loss brings them back
//     with their synced contents).
//
// DropUnsyncedData() then rewrites every file to what survives a power cut: its synced
// image, plus optionally a prefix of the unsynced writes (a write torn at any byte past
// the old end of the file, or at a 512-byte sector boundary inside it: storage writes a
// sector whole or not at all); files whose entry was never made durable disappear, and
// files whose removal was never made durable come back.
//
// Faults: the Nth Datasync or Pwrite from now can fail with a chosen errno (the data of a
// failed Datasync is not synced: the page cache may have dropped it), and CutPower()
// makes every later call fail with EIO, as if the machine were off.
//
// Thread-safety: thread-safe (one mutex). Files must be closed before DropUnsyncedData.
#ifndef MSX_ENGINE_JOURNAL_FAULT_ENV_H_
#define MSX_ENGINE_JOURNAL_FAULT_ENV_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/journal/env.h"

namespace msx::journal {

class FaultInjectionEnv final : public Env {
 public:
  // REQUIRES: `base` outlives this env.
  explicit FaultInjectionEnv(Env* base = Env::Default()) : base_(base) {}
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::Status CreateDir(const std::string& dir) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status RenameFile(const std::string& from, const std::string& to) override;
  absl::Status RemoveFile(const std::string& path) override;

  // The nth Datasync (or Pwrite) from now, 1-based, fails with `err` (EIO, ENOSPC, ...).
  void FailDatasyncAt(int n, int err);
  void FailPwriteAt(int n, int err);
  // After `n` more mutating calls (Pwrite, Datasync, Truncate), CutPower() happens by
  // itself: the nth call and all later ones fail. 0 turns it off.
  void CutPowerAfter(int n);
  // The machine is off: every later call fails with EIO and changes nothing.
  void CutPower();
  bool power_cut() const;

  // Decides how much of a file's unsynced writes survive: given the path and the number
  // of unsynced bytes written (in order), returns how many of them to keep (clamped).
  using TearFn = std::function<std::uint64_t(const std::string& path, std::uint64_t unsynced)>;
  // Rewrites every file to what a power loss leaves (see above), keeping for each file
  // the prefix of its unsynced writes that `tear` says (all of them dropped when empty).
  // Then the env is powered on again with everything synced. REQUIRES: no open files.
  absl::Status DropUnsyncedData(const TearFn& tear = nullptr);

  // Mutating calls made so far (Pwrite, Datasync, Truncate), successful or not.
  int mutating_calls() const;
  int datasyncs() const;  // successful Datasync calls
  // The most bytes of non-zero data any file had written but not synced at one time.
  std::uint64_t max_unsynced_data_bytes() const;

 private:
  class File;
  struct Op {
    bool truncate = false;
    std::uint64_t offset = 0;  // write offset, or the truncated size
    std::string data;
  };
  struct FileState {
    std::string synced;        // contents as of the last successful Datasync
    bool entry_durable = false;  // its directory was synced after it was created
    std::vector<Op> pending;     // since the last Datasync, in order
    std::uint64_t unsynced_data = 0;  // non-zero bytes in pending writes
  };

  // Counts a mutating call; returns the error to fail it with (OK to go ahead).
  absl::Status BeginMutation(const std::string& op, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Apply(const Op& op, std::string* image);

  Env* const base_;
  mutable absl::Mutex mu_;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  // Durable files removed since their directory was last synced: path -> synced contents.
  std::map<std::string, std::string> removed_ ABSL_GUARDED_BY(mu_);
  bool power_cut_ ABSL_GUARDED_BY(mu_) = false;
  int mutating_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int cut_power_at_ ABSL_GUARDED_BY(mu_) = 0;  // mutating call number; 0 = off
  int datasync_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int pwrite_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_datasync_at_ ABSL_GUARDED_BY(mu_) = 0, fail_datasync_errno_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_pwrite_at_ ABSL_GUARDED_BY(mu_) = 0, fail_pwrite_errno_ ABSL_GUARDED_BY(mu_) = 0;
  int datasyncs_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t max_unsynced_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_FAULT_ENV_H_
