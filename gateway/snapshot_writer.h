// SnapshotWriter: the thread of msx-server that writes snapshots (snapshot-<seq>.msxs).
#ifndef MSX_GATEWAY_SNAPSHOT_WRITER_H_
#define MSX_GATEWAY_SNAPSHOT_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/journal/writer.h"
#include "engine/matching/types.h"

namespace msx::gateway {

// Writes snapshots off the sequencer thread: the sequencer serializes the engine (the only
// part that needs the engine), this thread waits until the journal holds that seq (a
// snapshot must never be ahead of the journal) and writes the file. One snapshot at a
// time; a newer one replaces a queued older one.
class SnapshotWriter {
 public:
  // `written_unix_ns` / `written` are updated after each snapshot written (metrics).
  // `on_disk_seq`: the newest snapshot already in `dir` (the one recovered from; 0 = none).
  SnapshotWriter(std::string dir, journal::JournalWriter* journal,
                 std::shared_ptr<std::atomic<std::int64_t>> written_unix_ns,
                 std::shared_ptr<std::atomic<std::uint64_t>> written, Seq on_disk_seq)
      : dir_(std::move(dir)),
        journal_(journal),
        on_disk_seq_(on_disk_seq),
        written_unix_ns_(std::move(written_unix_ns)),
        written_(std::move(written)),
        thread_([this] { Run(); }) {}
  ~SnapshotWriter() { Finish(); }
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Queues `state` (the engine serialized at `seq`), replacing any queued older one.
  void Offer(Seq seq, std::string state);

  // Writes whatever is queued, then stops the thread. Idempotent.
  void Finish();

  // After Finish, for the stop's log line: what is on disk for a journal ending at
  // `last_seq`: "wrote the snapshot at seq N", "no snapshot needed: ..." (a snapshot
  // already covers it), or "NO snapshot at ..." with what the next start replays.
  std::string Report(Seq last_seq) const;

 private:
  void Run();

  const std::string dir_;
  journal::JournalWriter* const journal_;
  const Seq on_disk_seq_;
  const std::shared_ptr<std::atomic<std::int64_t>> written_unix_ns_;
  const std::shared_ptr<std::atomic<std::uint64_t>> written_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Seq queued_seq_ = 0;
  std::string queued_;
  bool has_work_ = false;
  Seq written_seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SNAPSHOT_WRITER_H_
