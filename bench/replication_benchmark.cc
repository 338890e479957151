// Replication benchmark (msx_replication_bench): the floor that issue 16's latency bar is
// measured against. Starts its own 3-node NATS JetStream cluster on 127.0.0.1 (or uses
// --servers=URL,URL,URL) and prints one JSON line per case:
//   sync        ReplicatedLog::Publish, one at a time: latency of a 3-replica publish
//   async/W     PublishAsync with at most W in flight (a pipelined group commit): latency
//               from the call to the in-order callback, and throughput
//   lease       LeaderLease: from the holder's last renewal to a second node's successful
//               TryClaim (polling every 10 ms), TTL 500 ms: the lease part of a takeover
// Payloads: --sizes (default 200,4096 bytes: a small and a large command group).
// --no-send-asap leaves writes to the NATS client's flusher thread (ConnectionOptions).
// Latencies in microseconds (p50, p99, max over --count publishes per case).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gateway/replication/leader_lease.h"
#include "gateway/replication/replicated_log.h"
#include "tests/testing/nats_cluster.h"

namespace {

using Clock = std::chrono::steady_clock;
using msx::replication::ConnectionOptions;
using msx::replication::LeaderLease;
using msx::replication::ReplicatedLog;

struct Summary {
  double p50 = 0, p99 = 0, max = 0;
};

Summary Summarize(std::vector<double> us) {
  Summary s;
  if (us.empty()) return s;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = us.back();
  return s;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void PrintLine(const std::string& name, size_t payload, size_t n, const Summary& s,
               double per_second) {
  std::printf(
      "{\"case\":\"%s\",\"payload_bytes\":%zu,\"n\":%zu,\"p50_us\":%.0f,\"p99_us\":%.0f,"
      "\"max_us\":%.0f,\"msgs_per_s\":%.0f}\n",
      name.c_str(), payload, n, s.p50, s.p99, s.max, per_second);
  std::fflush(stdout);
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "msx_replication_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string servers;
  size_t count = 2000;
  std::vector<size_t> sizes = {200, 4096};
  std::vector<int> windows = {8, 64};
  int lease_rounds = 5;
  bool send_asap = true;
  int pace_us = 0;  // > 0: also the "sync_paced" case
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--servers=")) {
      servers = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--count=")) {
      if (!absl::SimpleAtoi(arg, &count) || count == 0)
        return Fail(absl::InvalidArgumentError("--count"));
    } else if (absl::ConsumePrefix(&arg, "--sizes=")) {
      sizes.clear();
      for (absl::string_view v : absl::StrSplit(arg, ',')) {
        size_t n = 0;
        if (!absl::SimpleAtoi(v, &n)) return Fail(absl::InvalidArgumentError("--sizes"));
        sizes.push_back(n);
      }
    } else if (absl::ConsumePrefix(&arg, "--pace-us=")) {
      if (!absl::SimpleAtoi(arg, &pace_us)) return Fail(absl::InvalidArgumentError("--pace-us"));
    } else if (arg == "--no-send-asap") {
      send_asap = false;
    } else if (absl::ConsumePrefix(&arg, "--lease-rounds=")) {
      if (!absl::SimpleAtoi(arg, &lease_rounds))
        return Fail(absl::InvalidArgumentError("--lease-rounds"));
    } else {
      std::fprintf(stderr,
                   "usage: msx_replication_bench [--servers=nats://h:p,...] [--count=N] "
                   "[--sizes=200,4096] [--lease-rounds=N] [--pace-us=N] [--no-send-asap]\n");
      return 2;
    }
  }

  msx::testing::NatsCluster cluster;
  ConnectionOptions conn;
  conn.send_asap = send_asap;
  if (servers.empty()) {
    absl::Status s = cluster.Start();
    if (!s.ok()) return Fail(s);
    conn.servers = cluster.Urls();
  } else {
    conn.servers = msx::replication::SplitServerList(servers);
  }

  int stream_no = 0;
  for (size_t size : sizes) {
    std::string payload(size, 'x');
    // --- sync ---
    {
      ReplicatedLog::Options o;
      o.connection = conn;
      o.stream.name = absl::StrCat("BENCH", ++stream_no);
      o.stream.subject = absl::StrCat("bench.", stream_no);
      o.epoch = 1;
      auto log = ReplicatedLog::Open(o);
      if (!log.ok()) return Fail(log.status());
      uint64_t last = 0;
      for (int i = 0; i < 100; ++i) {  // warm-up
        auto seq = (*log)->Publish(payload, last);
        if (!seq.ok()) return Fail(seq.status());
        last = *seq;
      }
      std::vector<double> us;
      us.reserve(count);
      auto start = Clock::now();
      for (size_t i = 0; i < count; ++i) {
        auto t0 = Clock::now();
        auto seq = (*log)->Publish(payload, last);
        us.push_back(Micros(Clock::now() - t0));
        if (!seq.ok()) return Fail(seq.status());
        last = *seq;
      }
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      PrintLine("sync", size, count, Summarize(us), count / secs);
      if (pace_us > 0) {
        // The same, one publish every pace_us (as a server at a low command rate sends
        // them): the NATS servers go idle in between.
        us.clear();
        start = Clock::now();
        for (size_t i = 0; i < count; ++i) {
          std::this_thread::sleep_until(start + std::chrono::microseconds(pace_us) * (i + 1));
          auto t0 = Clock::now();
          auto seq = (*log)->Publish(payload, last);
          us.push_back(Micros(Clock::now() - t0));
          if (!seq.ok()) return Fail(seq.status());
          last = *seq;
        }
        secs = std::chrono::duration<double>(Clock::now() - start).count();
        PrintLine("sync_paced", size, count, Summarize(us), count / secs);
      }
    }
    // --- async, bounded window ---
    for (int window : windows) {
      ReplicatedLog::Options o;
      o.connection = conn;
      o.stream.name = absl::StrCat("BENCH", ++stream_no);
      o.stream.subject = absl::StrCat("bench.", stream_no);
      o.epoch = 1;
      auto log = ReplicatedLog::Open(o);
      if (!log.ok()) return Fail(log.status());
      absl::Mutex mu;
      int in_flight = 0;
      std::vector<double> us(count + 100, 0);
      absl::Status first_error;
      auto start = Clock::now();
      for (size_t i = 0; i < count + 100; ++i) {  // first 100 are warm-up
        {
          absl::MutexLock lock(&mu);
          auto room = [&]() { return in_flight < window; };
          mu.Await(absl::Condition(&room));
          ++in_flight;
        }
        if (i == 100) start = Clock::now();
        auto t0 = Clock::now();
        absl::Status s = (*log)->PublishAsync(payload, i, [&, i, t0](absl::StatusOr<uint64_t> r) {
          absl::MutexLock lock(&mu);
          us[i] = Micros(Clock::now() - t0);
          if (!r.ok() && first_error.ok()) first_error = r.status();
          --in_flight;
        });
        if (!s.ok()) return Fail(s);
      }
      absl::Status flushed = (*log)->Flush(std::chrono::seconds(60));
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      if (!flushed.ok()) return Fail(flushed);
      if (!first_error.ok()) return Fail(first_error);
      std::vector<double> measured(us.begin() + 100, us.end());
      PrintLine(absl::StrCat("async/", window), size, count, Summarize(measured), count / secs);
    }
  }

  // --- lease expiry to takeover ---
  if (lease_rounds > 0) {
    LeaderLease::Options lo;
    lo.connection = conn;
    lo.bucket = "BENCH_LEASE";
    lo.ttl = std::chrono::milliseconds(500);
    auto holder = LeaderLease::Open(lo);
    auto standby = LeaderLease::Open(lo);
    if (!holder.ok()) return Fail(holder.status());
    if (!standby.ok()) return Fail(standby.status());
    std::vector<double> us;
    for (int round = 0; round < lease_rounds; ++round) {
      LeaderLease* a = round % 2 == 0 ? holder->get() : standby->get();
      LeaderLease* b = round % 2 == 0 ? standby->get() : holder->get();
      // Wait until the lease is vacant, claim with `a`, renew a few times, stop.
      while (!a->TryClaim("a", "a:1").ok())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (!a->Renew().ok()) break;
      }
      auto last_write = Clock::now();
      while (!b->TryClaim("b", "b:1").ok())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      us.push_back(Micros(Clock::now() - last_write));
      (void)b->Release();
    }
    PrintLine("lease_takeover_ttl500ms", 0, us.size(), Summarize(us), 0);
  }
  return 0;
}
