#include "gateway/snapshot_writer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/snapshot.h"

namespace msx::gateway {

void SnapshotWriter::Offer(Seq seq, std::string state) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_seq_ = seq;
    queued_ = std::move(state);
    has_work_ = true;
  }
  cv_.notify_one();
}

void SnapshotWriter::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

std::string SnapshotWriter::Report(Seq last_seq) const {
  Seq written;
  {
    std::lock_guard<std::mutex> lock(mu_);
    written = written_seq_;
  }
  const Seq newest = std::max(on_disk_seq_, written);
  if (written != 0 && written == last_seq) {
    return absl::StrCat("wrote the snapshot at seq ", last_seq);
  }
  if (last_seq == 0) return "no snapshot needed: the journal is empty";
  if (newest >= last_seq) {
    return absl::StrCat("no snapshot needed: the snapshot at seq ", newest,
                        " covers the journal's last seq");
  }
  return absl::StrCat("NO snapshot at the journal's last seq ", last_seq, " (newest at seq ",
                      newest, "): the next start replays ", last_seq - newest, " commands");
}

void SnapshotWriter::Run() {
  for (;;) {
    Seq seq;
    std::string state;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return has_work_ || stop_; });
      if (!has_work_) return;
      seq = queued_seq_;
      state = std::move(queued_);
      has_work_ = false;
    }
    absl::Status s = journal_->WaitDurable(seq);
    if (s.ok()) s = journal::WriteSnapshot(dir_, seq, state);
    if (s.ok()) {
      written_unix_ns_->store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count(),
                              std::memory_order_relaxed);
      written_->fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      written_seq_ = seq;
    }
    if (!s.ok()) {
      std::fprintf(stderr, "msx-server: snapshot at seq %llu not written: %s\n",
                   static_cast<unsigned long long>(seq), std::string(s.message()).c_str());
    }
  }
}

}  // namespace msx::gateway
