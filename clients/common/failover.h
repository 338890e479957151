// Client-side failover between a primary and its hot standbys, shared by msx, msx-loadgen
// and msx-drill replay.
//
// A client is given several servers ("A,B", from --server or MSX_SERVER). A call answered
// UNAVAILABLE (a standby refusing writes, a fenced or stopped primary, a dead address) is
// made again on the next server, in turn, until one answers otherwise or the failover
// window (counted from the call's first UNAVAILABLE) has passed; after each full turn over
// the list the caller pauses briefly, so a takeover in progress (about half a second with
// the default lease) is waited out without hammering the standby. Every other answer,
// DEADLINE_EXCEEDED included, is the call's answer: only UNAVAILABLE means "not here".
//
// What may be sent again is the caller's decision, and the rule is: a request is resent
// unchanged (a submit keeps its client_offer_id, so the server answers a retry of a
// command it already executed with the original offer instead of executing it twice;
// cancels, replaces and holdings are absolute, so a repeat changes nothing or is refused).
//
// Thread-safety: ServerFailover is thread-safe; one instance may be shared by every
// thread of a client (the server found willing is remembered for all of them).
#ifndef MSX_CLIENTS_COMMON_FAILOVER_H_
#define MSX_CLIENTS_COMMON_FAILOVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

namespace msx::clients {

// "A, B,,C" -> {"A", "B", "C"}: split at commas, blanks trimmed, empty entries dropped.
std::vector<std::string> SplitServerList(absl::string_view list);

// The server list a client uses: `flag` when non-empty, else the environment's MSX_SERVER
// (`env_value`, may be nullptr) when non-empty, else `fallback`.
std::string ChooseServerList(const std::string& flag, const char* env_value,
                             const std::string& fallback);

struct FailoverPolicy {
  // How long after a call's first UNAVAILABLE the servers are tried in turn before the
  // call fails with it. Above a takeover (lease TTL + drain + marker) with a wide margin.
  std::chrono::milliseconds window{10000};
  // Pause after each full turn over the list that found no willing server.
  std::chrono::milliseconds pause{50};
};

class ServerFailover {
 public:
  using Clock = std::chrono::steady_clock;

  // REQUIRES: !servers.empty().
  explicit ServerFailover(std::vector<std::string> servers, FailoverPolicy policy = {});
  ServerFailover(const ServerFailover&) = delete;
  ServerFailover& operator=(const ServerFailover&) = delete;

  std::size_t size() const { return servers_.size(); }
  const std::string& server(std::size_t index) const { return servers_[index]; }
  const std::vector<std::string>& servers() const { return servers_; }
  // The index of the server last found willing (where new calls should go).
  std::size_t current() const { return current_.load(std::memory_order_acquire); }

  // One call's progress through the list.
  struct Attempt {
    std::size_t index = 0;  // the server to call now
    int unavailable = 0;    // UNAVAILABLE answers so far
    Clock::time_point first_unavailable{};
    Clock::time_point not_before{};  // when the next attempt may start
  };
  // A fresh call: at current().
  Attempt Start() const;
  // The server at `a->index` answered UNAVAILABLE. Returns false when the call must give
  // up (a single server, or the window has passed): report the UNAVAILABLE. Otherwise
  // moves `a` (and current(), if nobody moved it meanwhile) to the next server and sets
  // `a->not_before` (now, or now + pause after a full turn).
  bool OnUnavailable(Attempt* a);
  // The server at `a.index` answered (anything but UNAVAILABLE): new calls go there.
  void OnAnswered(const Attempt& a);

  // Runs `call(index)` (the index of the server to call; it returns a grpc::Status or any
  // outcome) until `is_unavailable(outcome)` is false or OnUnavailable gives up, sleeping
  // between turns; returns the last outcome. Blocks the calling thread.
  template <typename Call, typename IsUnavailable>
  auto Run(Call&& call, IsUnavailable&& is_unavailable) {
    Attempt a = Start();
    for (;;) {
      std::this_thread::sleep_until(a.not_before);
      auto status = call(a.index);
      if (!is_unavailable(status)) {
        OnAnswered(a);
        return status;
      }
      if (!OnUnavailable(&a)) return status;
    }
  }

  // How many times calls moved on to another server.
  std::uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }

 private:
  const std::vector<std::string> servers_;
  const FailoverPolicy policy_;
  std::atomic<std::size_t> current_{0};
  std::atomic<std::uint64_t> failovers_{0};
};

}  // namespace msx::clients

#endif  // MSX_CLIENTS_COMMON_FAILOVER_H_
