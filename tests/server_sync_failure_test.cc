// End to end: a real msx-server whose journal fdatasync fails stops acknowledging, prints
// its notice and exits with status 3 (gateway/README.md), and a restart recovers every
// command it acknowledged before.
//
// How the failure gets in: an LD_PRELOAD shim (tests/testing/fail_fdatasync.cc) makes
// fdatasync return EIO once a trigger file exists. The server binary is the production
// one, and the error arrives where a real one does (the libc call). The alternatives
// were weighed: RLIMIT_FSIZE fails the write, not the sync (gateway_limits_test covers
// that path: fail closed without exiting); tmpfs never fails a sync (it has no
// writeback); a device-mapper "error" target under a loop mount fails real writeback, but
// needs root, loop devices and device-mapper, which CI containers usually lack, so it
// would mostly be skipped; a FaultInjectionEnv chosen by an environment variable would put
// a test-only path into the production binary.
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;

TEST(ServerSyncFailureTest, FailedFdatasyncStopsAcknowledgingAndExitsWithStatus3) {
  const std::string scratch = testing::MakeTempDir("msx-syncfail");
  const std::string trigger = scratch + "/fail-fdatasync-now";
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.extra_env = {
      "LD_PRELOAD=" + testing::BuildPath("tests/libmsx_fail_fdatasync.so"),
      "MSX_FAIL_FDATASYNC_IF_EXISTS=" + trigger,
      // A sanitizer runtime linked dynamically must come first in the library list;
      // the shim comes before it, which is harmless here.
      "ASAN_OPTIONS=verify_asan_link_order=0",
  };
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();

  AgencyClient probe(server.address(), "demo-komir");
  const std::int64_t price = probe.FairPrice(kGaCo) + 40;  // sells that rest, never cross

  // Three agencies' desks submit as fast as they can until the server stops answering.
  std::mutex mu;
  std::vector<std::uint64_t> acknowledged;  // offer ids answered OK
  std::atomic<int> acked{0};
  std::vector<std::thread> desks;
  // On every way out (a failed ASSERT returns early): stop the server, so that the desks'
  // calls fail, then join them; a joinable thread left behind would abort the test binary
  // and leak the server.
  struct JoinDesks {
    testing::ServerProcess* server;
    std::vector<std::thread>* desks;
    ~JoinDesks() {
      if (server->running()) server->Kill();
      for (std::thread& d : *desks) {
        if (d.joinable()) d.join();
      }
    }
  } join_desks{&server, &desks};
  for (int t = 0; t < 3; ++t) {
    desks.emplace_back([&, t] {
      AgencyClient client(server.address(), "demo-komir");
      for (int i = 1; i <= 5000; ++i) {
        v1::SubmitOfferResponse resp;
        grpc::Status s = client.Submit(static_cast<std::uint64_t>(t) * 100000 + i, kGaCo,
                                       v1::SIDE_SELL, 1, price, &resp);
        if (!s.ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(resp.offer().offer_id());
        acked.fetch_add(1);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acked.load() < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(acked.load(), 100) << server.Output();

  // From now on every fdatasync fails. A command sent after that is never acknowledged.
  { std::ofstream(trigger) << "now\n"; }
  v1::SubmitOfferResponse late;
  grpc::Status late_status = probe.Submit(900001, kGaCo, v1::SIDE_SELL, 1, price, &late);
  EXPECT_FALSE(late_status.ok()) << "acknowledged offer " << late.offer().offer_id()
                                 << " after fdatasync started failing";

  absl::StatusOr<int> exit = server.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status().message() << "\n" << server.Output();
  ASSERT_TRUE(WIFEXITED(*exit)) << "status " << *exit << "\n" << server.Output();
  EXPECT_EQ(WEXITSTATUS(*exit), 3) << server.Output();
  const std::string output = server.Output();
  EXPECT_NE(output.find("JOURNAL SYNC FAILED"), std::string::npos) << output;
  EXPECT_NE(output.find("fdatasync"), std::string::npos) << output;
  EXPECT_NE(output.find("reboot the machine"), std::string::npos) << output;
  for (std::thread& d : desks) d.join();
  desks.clear();

  // The restart (without the shim; the reboot the notice asks for is not needed here: the
  // shim dropped no page) recovers every acknowledged offer.
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  AgencyClient again(server.address(), "demo-komir");
  v1::ListOffersResponse list;
  ASSERT_TRUE(again.ListOffers(&list).ok());
  std::set<std::uint64_t> open;
  for (const v1::Offer& o : list.offers()) open.insert(o.offer_id());
  std::size_t lost = 0;
  for (std::uint64_t id : acknowledged) lost += open.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged offers";
  // The journal goes on after the recovered commands.
  v1::SubmitOfferResponse after;
  EXPECT_TRUE(again.Submit(900002, kGaCo, v1::SIDE_SELL, 1, price, &after).ok());
  testing::RemoveTree(scratch);
}

}  // namespace
}  // namespace msx
