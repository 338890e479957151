#include "gateway/snapshot_writer.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "absl/status/status.h"
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
    }
    if (!s.ok()) {
      std::fprintf(stderr, "msx-server: snapshot at seq %llu not written: %s\n",
                   static_cast<unsigned long long>(seq), std::string(s.message()).c_str());
    }
  }
}

}  // namespace msx::gateway
