// msx_takeover_bench: how long a hot standby takes to take over (issue 16's bar: p50 < 1 s
// over >= 20 rounds with the default lease settings).
//
// Three nats-server (JetStream) on loopback, a primary and a standby msx-server
// (--replicate, durability sync). Each round: a client keeps submitting to the primary;
// at a random moment the primary is killed with SIGKILL; from that instant the client
// submits to the standby (retrying at once on UNAVAILABLE) and the round's figure is the
// time from the kill to the first acknowledged offer on the standby. The killed node then
// comes back as a standby on a fresh data directory (catching up from the stream) and the
// roles swap for the next round.
//
//   MSX_BUILD_DIR=build build/bench/msx_takeover_bench [rounds]   (default 20)
//
// Prints one line per round and a JSON summary line (p50, p90, max in ms).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "engine/config/config.h"
#include "msx/v1/exchange.grpc.pb.h"
#include "tests/testing/config_files.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/server_process.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPair = "GA-4N/CO-99.8";

struct Client {
  explicit Client(const std::string& address)
      : stub(msx::v1::Exchange::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}
  grpc::Status Submit(std::uint64_t id, std::int64_t price) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer demo-komir");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    msx::v1::SubmitOfferRequest req;
    req.set_client_offer_id(id);
    req.set_pair(kPair);
    req.set_side(msx::v1::SIDE_SELL);
    req.set_lots(1);
    req.set_price(price);
    req.set_time_in_force(msx::v1::TIME_IN_FORCE_IOC);
    msx::v1::SubmitOfferResponse resp;
    return stub->SubmitOffer(&ctx, req, &resp);
  }
  // The highest price the pair's band accepts now: an IOC sell there is accepted and, with
  // no bid that high, fills nothing. 0 when the pair is not listed.
  std::int64_t TopOfBand() {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer demo-komir");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    msx::v1::ListPairsResponse resp;
    if (!stub->ListPairs(&ctx, msx::v1::ListPairsRequest(), &resp).ok()) return 0;
    for (const auto& p : resp.pairs()) {
      if (p.symbol() == kPair) return p.band_high();
    }
    return 0;
  }
  std::unique_ptr<msx::v1::Exchange::Stub> stub;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  msx::testing::NatsCluster nats;
  if (absl::Status s = nats.Start(); !s.ok()) {
    std::fprintf(stderr, "nats: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const std::string scratch = msx::testing::MakeTempDir("msx-takeover");
  msx::v1::ExchangeConfig config = msx::DefaultConfig();
  const std::string config_path = scratch + "/config.textproto";
  {
    std::string text;
    google::protobuf::TextFormat::PrintToString(msx::testing::WithTokenDigests(config), &text);
    std::FILE* f = std::fopen(config_path.c_str(), "w");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  int dirs = 0;
  auto options = [&](const std::string& name, bool standby) {
    msx::testing::ServerProcess::Options o;
    o.data_dir = scratch + "/" + name + "-" + std::to_string(++dirs);
    o.extra_args = {"--config", config_path, "--replicate", nats.UrlList(), "--node-id", name};
    if (standby) {
      o.extra_args.push_back("--standby");
      o.wait_serving = false;
    }
    return o;
  };
  std::unique_ptr<msx::testing::ServerProcess> nodes[2] = {
      std::make_unique<msx::testing::ServerProcess>(),
      std::make_unique<msx::testing::ServerProcess>()};
  if (!nodes[0]->Start(options("a", false)).ok() || !nodes[1]->Start(options("b", true)).ok()) {
    std::fprintf(stderr, "start failed:\n%s\n%s\n", nodes[0]->Output().c_str(),
                 nodes[1]->Output().c_str());
    return 1;
  }
  const std::int64_t price = Client(nodes[0]->address()).TopOfBand();
  if (price <= 0) {
    std::fprintf(stderr, "pair %s not listed by the primary\n", kPair);
    return 1;
  }
  std::mt19937 rng(20261203);
  std::vector<double> ms;
  std::uint64_t id = 1;
  int primary = 0;
  for (int round = 1; round <= rounds; ++round) {
    const int standby = 1 - primary;
    Client to_primary(nodes[primary]->address());
    Client to_standby(nodes[standby]->address());
    // Traffic on the primary for a while (an IOC sell at the top of the band: accepted, no
    // fill).
    const auto until = Clock::now() + std::chrono::milliseconds(300 + rng() % 400);
    while (Clock::now() < until) (void)to_primary.Submit(id++, price).ok();
    nodes[primary]->Kill();
    const auto killed = Clock::now();
    grpc::Status s;
    for (;;) {
      s = to_standby.Submit(id, price);
      if (s.ok()) break;
      if (Clock::now() - killed > std::chrono::seconds(60)) break;
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) ++id;  // e.g. a reject: a new id
    }
    ++id;
    const double t = std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
    if (!s.ok()) {
      std::fprintf(stderr, "round %d: no takeover in 60 s: %s\n%s\n", round,
                   s.error_message().c_str(), nodes[standby]->Output().c_str());
      return 1;
    }
    ms.push_back(t);
    std::printf("round %d: kill -9 to first acknowledged offer on the standby %.1f ms\n", round, t);
    std::fflush(stdout);
    nodes[primary] = std::make_unique<msx::testing::ServerProcess>();
    if (!nodes[primary]->Start(options(primary == 0 ? "a" : "b", true)).ok()) {
      std::fprintf(stderr, "restart failed:\n%s\n", nodes[primary]->Output().c_str());
      return 1;
    }
    primary = standby;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * sorted.size()))];
  };
  std::printf("{\"bench\":\"takeover\",\"rounds\":%zu,\"p50_ms\":%.1f,\"p90_ms\":%.1f,"
              "\"max_ms\":%.1f,\"min_ms\":%.1f}\n",
              sorted.size(), pct(0.5), pct(0.9), sorted.back(), sorted.front());
  nodes[0].reset();
  nodes[1].reset();
  msx::testing::RemoveTree(scratch);
  return 0;
}
