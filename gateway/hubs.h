// Fan-out of durable results to streaming subscribers: ExecHub (execution reports, per
// agency) and BookHub (book updates, per pair).
//
// Whoever releases a group commit (Sequencer::PublishReady, one at a time) is the only
// publisher, and it publishes strictly in sequence order, so every subscriber sees its
// messages in seq order. A subscriber (a stream reactor) implements Sink: Enqueue queues a
// message and never blocks; a sink over its limits closes itself (RESOURCE_EXHAUSTED, the
// client resumes with after_seq).
//
// Exactly once: a subscriber is added with a floor (the seq of the state it was shown, or
// the client's after_seq if that is higher) and receives only messages with seq > floor.
// The subscription's answer is released in the same group commit as the commands before
// it, and the hub is handed that group commit's messages after the answer, so without the
// floor those commands' messages would reach it a second time.
//
// Cost: PublishBatch is O(messages x subscribers of each message's key): each subscriber
// entry carries a "touched in this batch" mark instead of a search, and closed sinks are
// swept only from the keys where one was met.
//
// Thread-safety: all methods are thread-safe (one mutex per hub; Sink methods called under
// it must not call back into the hub).
#ifndef MSX_GATEWAY_HUBS_H_
#define MSX_GATEWAY_HUBS_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "engine/matching/types.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway {

template <typename Msg>
class Sink {
 public:
  virtual ~Sink() = default;
  // Queues `msg`, whose serialized size is `bytes`, without starting a write; never
  // blocks. A sink whose queue would exceed its limits closes itself instead.
  virtual void Enqueue(const std::shared_ptr<const Msg>& msg, std::size_t bytes) = 0;
  // Starts a write if none is in flight and something is queued.
  virtual void Kick() = 0;
  // Ends the stream with `status` (idempotent).
  virtual void Close(const grpc::Status& status) = 0;
  virtual bool closed() const = 0;
};

struct ExecOut {
  AgencyId agency;
  std::shared_ptr<const v1::ExecutionReport> report;
};

struct BookOut {
  PairId pair;
  std::shared_ptr<const v1::BookUpdate> update;
};

// Subscribers keyed by a dense id (agency id or pair id). `Msg` has a `seq()`.
template <typename Msg>
class Hub {
 public:
  explicit Hub(std::size_t keys) : subscribers_(keys), dirty_(keys, 0), interest_(keys) {
    for (auto& i : interest_) i.store(0, std::memory_order_relaxed);
  }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Registers `sink` for the messages of `key` with seq > `floor` published from now on.
  // After shutdown began, closes it with UNAVAILABLE instead. REQUIRES: key < keys().
  void Add(std::size_t key, std::shared_ptr<Sink<Msg>> sink, Seq floor) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      sink->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
      return;
    }
    subscribers_[key].push_back(Subscriber{std::move(sink), floor, false});
  }

  // Unregisters `sink` (a stream that ended). O(subscribers of key).
  void Remove(std::size_t key, const Sink<Msg>* sink) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& subs = subscribers_[key];
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [sink](const Subscriber& s) { return s.sink.get() == sink; }),
               subs.end());
  }

  // Publishes several (key, message) pairs in order: every message is queued first, then
  // each sink that received any starts one write (so a batching stream sends them together).
  void PublishBatch(const std::vector<std::pair<std::size_t, std::shared_ptr<const Msg>>>& items) {
    if (items.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    touched_.clear();
    dirty_keys_.clear();
    for (const auto& [key, msg] : items) {
      auto& subs = subscribers_[key];
      if (subs.empty()) continue;
      const std::size_t bytes = msg->ByteSizeLong();  // once, not per subscriber
      const Seq seq = msg->seq();
      for (std::size_t i = 0; i < subs.size(); ++i) {
        Subscriber& s = subs[i];
        if (s.sink->closed()) {
          if (!dirty_[key]) {
            dirty_[key] = 1;
            dirty_keys_.push_back(key);
          }
          continue;
        }
        if (seq <= s.floor) continue;
        s.sink->Enqueue(msg, bytes);
        if (!s.touched) {
          s.touched = true;
          touched_.emplace_back(key, i);
        }
      }
    }
    // No Add/Remove can run between the loops (mu_ is held), so the indexes are valid.
    for (const auto& [key, i] : touched_) {
      Subscriber& s = subscribers_[key][i];
      s.touched = false;
      s.sink->Kick();
    }
    for (std::size_t key : dirty_keys_) {
      dirty_[key] = 0;
      auto& subs = subscribers_[key];
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [](const Subscriber& s) { return s.sink->closed(); }),
                 subs.end());
    }
  }

  // Closes every stream and refuses new ones (shutdown).
  void CloseAll(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    for (auto& subs : subscribers_) {
      for (auto& s : subs) s.sink->Close(status);
      subs.clear();
    }
  }

  // Interest counters: how many subscribers want `key` (maintained by the subscribers, read
  // by the sequencer to skip building messages nobody wants). Any thread.
  std::atomic<int>& interest(std::size_t key) { return interest_[key]; }
  bool interested(std::size_t key) const {
    return interest_[key].load(std::memory_order_acquire) > 0;
  }
  std::size_t keys() const { return subscribers_.size(); }

 private:
  struct Subscriber {
    std::shared_ptr<Sink<Msg>> sink;
    Seq floor;     // deliver only seq > floor
    bool touched;  // received a message in the current PublishBatch
  };

  std::mutex mu_;
  std::vector<std::vector<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  // PublishBatch scratch (kept to reuse their capacity).
  std::vector<std::pair<std::size_t, std::size_t>> touched_ ABSL_GUARDED_BY(mu_);
  std::vector<std::size_t> dirty_keys_ ABSL_GUARDED_BY(mu_);
  std::vector<char> dirty_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::atomic<int>> interest_;
};

using ExecHub = Hub<v1::ExecutionReport>;
using BookHub = Hub<v1::BookUpdate>;

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_HUBS_H_
