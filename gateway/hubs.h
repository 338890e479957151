// Fan-out of durable results to streaming subscribers: ExecHub (execution reports, per
// agency) and BookHub (book updates, per pair).
//
// The publisher thread is the only one that publishes, and it publishes strictly in
// sequence order, so every subscriber sees its messages in seq order. A subscriber (a
// stream reactor) implements Sink: Deliver queues a message and never blocks; a sink that
// falls too far behind closes itself (RESOURCE_EXHAUSTED, the client resumes with
// after_seq). Closed sinks are dropped on the next publish.
//
// Thread-safety: all methods are thread-safe (one mutex per hub; Deliver/Close must not
// call back into the hub).
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
#include "engine/types.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway {

template <typename Msg>
class Sink {
 public:
  virtual ~Sink() = default;
  // Queues `msg` for the client and starts a write if none is in flight; never blocks.
  virtual void Deliver(const std::shared_ptr<const Msg>& msg) = 0;
  // Queues `msg` without starting a write; Kick() starts one. Used by Hub::PublishBatch so
  // that a stream's write takes everything a batch of commands produced for it.
  virtual void Enqueue(const std::shared_ptr<const Msg>& msg) { Deliver(msg); }
  virtual void Kick() {}
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

// Subscribers keyed by a dense id (agency id or pair id).
template <typename Msg>
class Hub {
 public:
  explicit Hub(std::size_t keys) : subscribers_(keys), interest_(keys) {
    for (auto& i : interest_) i.store(0, std::memory_order_relaxed);
  }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // REQUIRES: key < keys.
  void Add(std::size_t key, std::shared_ptr<Sink<Msg>> sink) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      sink->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
      return;
    }
    subscribers_[key].push_back(std::move(sink));
  }

  void Publish(std::size_t key, const std::shared_ptr<const Msg>& msg) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& subs = subscribers_[key];
    bool any_closed = false;
    for (auto& s : subs) {
      if (s->closed()) {
        any_closed = true;
      } else {
        s->Deliver(msg);
      }
    }
    if (any_closed) {
      subs.erase(std::remove_if(subs.begin(), subs.end(), [](const auto& s) { return s->closed(); }),
                 subs.end());
    }
  }

  // Publish for several (key, message) pairs in order: every message is queued first, then
  // each sink that received any starts one write (so a batching stream sends them together).
  void PublishBatch(const std::vector<std::pair<std::size_t, std::shared_ptr<const Msg>>>& items) {
    if (items.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Sink<Msg>*> touched;
    bool any_closed = false;
    for (const auto& [key, msg] : items) {
      for (auto& s : subscribers_[key]) {
        if (s->closed()) {
          any_closed = true;
          continue;
        }
        s->Enqueue(msg);
        if (std::find(touched.begin(), touched.end(), s.get()) == touched.end()) {
          touched.push_back(s.get());
        }
      }
    }
    for (Sink<Msg>* s : touched) s->Kick();
    if (any_closed) {
      for (auto& subs : subscribers_) {
        subs.erase(std::remove_if(subs.begin(), subs.end(),
                                  [](const auto& s) { return s->closed(); }),
                   subs.end());
      }
    }
  }

  // Closes every stream and refuses new ones (shutdown).
  void CloseAll(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    for (auto& subs : subscribers_) {
      for (auto& s : subs) s->Close(status);
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
  std::mutex mu_;
  std::vector<std::vector<std::shared_ptr<Sink<Msg>>>> subscribers_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::atomic<int>> interest_;
};

using ExecHub = Hub<v1::ExecutionReport>;
using BookHub = Hub<v1::BookUpdate>;

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_HUBS_H_
