// The hot standby's promise, end to end with real processes: three nats-server (JetStream)
// on loopback, a primary and a standby msx-server (--replicate), swap traffic from four
// agencies whose clients fail over between the two addresses (retrying with the same
// client offer id on UNAVAILABLE), and kill -9 of the primary at a random moment. Then:
//   * the standby takes over (health SERVING, accepts commands);
//   * every fill any client was told about is present exactly once, unchanged, in the new
//     primary's execution history, and every acknowledged offer exists;
//   * the new primary's journal verifies gapless from seq 1 (and with msx-drill verify);
//   * the killed node restarts on a fresh data directory as a late standby, catches up to
//     the exact state of the primary, and is the standby of the next round.
// 2 rounds by default, 20 with MSX_LONG_TESTS=1; at the end the two nodes' journals replay
// to the same engine digest. Also: a stalled (SIGSTOP) old primary acknowledges nothing
// after the takeover; one NATS server killed costs no client error; without a NATS quorum
// nothing is acknowledged and the primary resumes afterwards; a damaged standby journal
// is repaired from the stream; msx-drill replay and msx-loadgen, given both addresses,
// ride out a kill -9 of the primary with every offer and fill exactly once; an old primary
// whose last local commits never reached the stream sets them aside when it rejoins.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/journal/reader.h"
#include "engine/testing/traffic_journal.h"
#include "gateway/replication/nats_connection.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/config_files.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;
using testing::TradeOffer;
using Clock = std::chrono::steady_clock;

// How long a wait for something the test caused (a takeover, a catch-up) may take before
// it counts as failed: a bound for a broken build only, generous for a loaded two-core
// machine. No assertion depends on how fast anything is.
constexpr std::chrono::seconds kPatience{60};

const char* const kAgencies[] = {"KOMIR", "JOGMEC", "DLA", "CMSR-AU"};
const char* const kTokens[] = {"demo-komir", "demo-jogmec", "demo-dla", "demo-cmsr-au"};
constexpr int kAgencyCount = 4;

int Rounds() {
  const char* long_tests = std::getenv("MSX_LONG_TESTS");
  return long_tests != nullptr && std::string(long_tests) == "1" ? 20 : 2;
}

// What the clients were told.
struct Told {
  std::mutex mu;
  std::map<std::pair<int, std::uint64_t>, std::string> fills;  // (agency, fill id) -> fill
  std::vector<std::pair<int, std::uint64_t>> offers;           // (agency, offer id)
  std::uint64_t max_seq = 0;
  std::uint64_t agency_max_seq[kAgencyCount] = {0, 0, 0, 0};  // its last accepted offer
  std::uint64_t failovers = 0;
  std::map<std::pair<int, std::uint64_t>, std::uint64_t> fill_seq;  // told in the reply of
};

bool WaitServing(const std::string& address, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (testing::HealthState(address) == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// One agency's traffic until `stop`: GTC and IOC offers around the fair price. A call
// that fails UNAVAILABLE or DEADLINE_EXCEEDED is retried, with the same client offer id,
// on the next address (the failover every MSX client does).
void Trade(std::vector<std::string> addresses, int agency, int round, std::int64_t price,
           const std::atomic<bool>* stop, Told* told) {
  std::vector<std::unique_ptr<AgencyClient>> clients;
  for (const std::string& a : addresses) {
    clients.push_back(std::make_unique<AgencyClient>(a, kTokens[agency]));
  }
  std::size_t at = 0;
  std::mt19937_64 rng(static_cast<std::uint64_t>(round * 100 + agency));
  const bool seller = agency < 2;  // KOMIR and JOGMEC sell gallium; the others pay cobalt
  for (std::uint64_t n = 1; !stop->load(); ++n) {
    const v1::SubmitOfferRequest req = TradeOffer(rng, seller, round, n, price);
    v1::SubmitOfferResponse resp;
    grpc::Status s;
    for (int attempt = 0;; ++attempt) {
      resp.Clear();
      s = clients[at]->exchange().SubmitOffer(clients[at]->Context(3000).get(), req, &resp);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        break;
      }
      at = (at + 1) % clients.size();
      {
        std::lock_guard<std::mutex> lock(told->mu);
        ++told->failovers;
      }
      if (stop->load() && attempt > 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!s.ok()) continue;  // a reject (holdings, band) or a retry of an IOC that is gone
    std::lock_guard<std::mutex> lock(told->mu);
    told->offers.push_back({agency, resp.offer().offer_id()});
    told->max_seq = std::max<std::uint64_t>(told->max_seq, resp.seq());
    told->agency_max_seq[agency] = std::max<std::uint64_t>(told->agency_max_seq[agency], resp.seq());
    for (const v1::Fill& f : resp.fills()) {
      told->fills[{agency, f.fill_id()}] = f.SerializeAsString();
      told->fill_seq[{agency, f.fill_id()}] = resp.seq();
    }
  }
}

v1::GetExchangeStatusResponse Status(const std::string& address) {
  AgencyClient admin(address, "demo-admin");
  v1::GetExchangeStatusResponse status;
  grpc::Status s = admin.admin().GetExchangeStatus(admin.Context().get(),
                                                   v1::GetExchangeStatusRequest(), &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return status;
}

class StandbyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nats_.Start().ok());
    scratch_ = testing::MakeTempDir("msx-standby");
    v1::ExchangeConfig config = DefaultConfig();
    for (auto& agency : *config.mutable_agencies()) {
      for (auto& h : *agency.mutable_holdings()) {
        if (h.instrument() == "GA-4N" || h.instrument() == "CO-99.8") h.set_amount(1000000000000);
      }
    }
    config_path_ = testing::WriteConfig(config, scratch_);
    config_ = config;
  }
  void TearDown() override { testing::RemoveTree(scratch_); }

  testing::ServerProcess::Options NodeOptions(const std::string& name, bool standby) {
    testing::ServerProcess::Options o;
    o.data_dir = scratch_ + "/" + name + "-" + std::to_string(++dirs_);
    o.extra_args = {"--config", config_path_, "--replicate", nats_.UrlList(), "--node-id", name};
    if (standby) {
      o.extra_args.push_back("--standby");
      o.wait_serving = false;
    }
    return o;
  }

  testing::NatsCluster nats_;
  std::string scratch_;
  std::string config_path_;
  v1::ExchangeConfig config_;
  int dirs_ = 0;
};

TEST_F(StandbyTest, KillNineOfThePrimaryLosesNoToldFillAndTheStandbyTakesOver) {
  std::unique_ptr<testing::ServerProcess> nodes[2] = {
      std::make_unique<testing::ServerProcess>(), std::make_unique<testing::ServerProcess>()};
  testing::ServerProcess::Options opts[2] = {NodeOptions("a", false), NodeOptions("b", true)};
  ASSERT_TRUE(nodes[0]->Start(opts[0]).ok()) << nodes[0]->Output();
  ASSERT_TRUE(nodes[1]->Start(opts[1]).ok()) << nodes[1]->Output();
  EXPECT_EQ(Status(nodes[0]->address()).role(), "primary");
  EXPECT_EQ(Status(nodes[1]->address()).role(), "standby");
  {
    // The standby refuses writes, naming the primary.
    AgencyClient komir(nodes[1]->address(), "demo-komir");
    v1::SubmitOfferResponse resp;
    grpc::Status s = komir.Submit(1, kGaCo, v1::SIDE_SELL, 1, komir.FairPrice(kGaCo), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(s.error_message().find(nodes[0]->address()), std::string::npos)
        << s.error_message();
  }
  Told told;
  std::mt19937 rng(20261203);
  int primary = 0;
  const int rounds = Rounds();
  std::vector<double> takeover_ms;
  for (int round = 1; round <= rounds; ++round) {
    const int standby = 1 - primary;
    const std::vector<std::string> addresses = {nodes[primary]->address(),
                                                nodes[standby]->address()};
    std::int64_t price;
    {
      AgencyClient probe(addresses[0], "demo-komir");
      price = probe.FairPrice(kGaCo);
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> traders;
    for (int a = 0; a < kAgencyCount; ++a) {
      traders.emplace_back(Trade, addresses, a, round, price, &stop, &told);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
    nodes[primary]->Kill();
    const auto killed = Clock::now();
    const bool took_over = WaitServing(addresses[1], kPatience);
    takeover_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - killed).count());
    // Traffic continues on the new primary for a while.
    if (took_over) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (auto& t : traders) t.join();
    ASSERT_TRUE(took_over) << nodes[standby]->Output();
    std::cout << "round " << round << ": takeover " << static_cast<int>(takeover_ms.back())
              << " ms" << std::endl;
    EXPECT_EQ(Status(addresses[1]).role(), "primary");

    // Every told fill exactly once, unchanged, on the new primary; every told offer exists.
    for (int a = 0; a < kAgencyCount; ++a) {
      AgencyClient client(addresses[1], kTokens[a]);
      auto history = testing::WatchExecutions(client, kTokens[a], 0);
      // Complete once it holds every report of the agency's last acknowledged offer (the
      // command's last report for the agency carries seq_complete).
      const std::uint64_t last = told.agency_max_seq[a];
      EXPECT_TRUE(history->WaitFor(
          [&](const auto& m) {
            return !m.empty() && m.back().seq() >= last && m.back().seq_complete();
          },
          kPatience));
      auto [count, content] = testing::TallyFills(history->messages());
      std::lock_guard<std::mutex> lock(told.mu);
      for (const auto& [key, fill] : told.fills) {
        if (key.first != a) continue;
        EXPECT_EQ(count[key.second], 1) << kAgencies[a] << " fill " << key.second << " (reply seq "
                                        << told.fill_seq[key] << ")";
        EXPECT_EQ(content[key.second], fill) << kAgencies[a] << " fill " << key.second;
      }
      for (const auto& [agency, offer_id] : told.offers) {
        if (agency != a) continue;
        v1::Offer offer;
        EXPECT_TRUE(client.GetOffer(offer_id, &offer).ok()) << "acknowledged offer " << offer_id;
      }
    }
    // The new primary's journal: gapless from 1, holding everything told.
    absl::StatusOr<journal::ReadStats> stats = journal::VerifyJournal(opts[standby].data_dir);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->first_seq, 1u);
    EXPECT_EQ(stats->commands, stats->last_seq);
    EXPECT_GE(stats->last_seq, told.max_seq);
    testing::CommandResult verify = testing::RunCommand(
        {testing::BuildPath("clients/drill/msx-drill"), "verify", opts[standby].data_dir});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

    // The killed node comes back as a late standby on a fresh directory and catches up.
    opts[primary] = NodeOptions(primary == 0 ? "a" : "b", true);
    nodes[primary] = std::make_unique<testing::ServerProcess>();
    ASSERT_TRUE(nodes[primary]->Start(opts[primary]).ok()) << nodes[primary]->Output();
    const std::uint64_t target = Status(addresses[1]).last_seq();
    const auto deadline = Clock::now() + kPatience;
    v1::GetExchangeStatusResponse late;
    while (Clock::now() < deadline) {
      late = Status(nodes[primary]->address());
      if (late.last_seq() >= target && late.durable_seq() >= target) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(late.role(), "standby");
    EXPECT_GE(late.last_seq(), target);
    EXPECT_GE(late.durable_seq(), target);
    primary = standby;
  }
  // The late standby ends with the primary's exact engine state: both journals replay to
  // the same last seq and the same Engine::StateDigest.
  const std::uint64_t last = Status(nodes[primary]->address()).last_seq();
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline && Status(nodes[1 - primary]->address()).durable_seq() < last) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(Status(nodes[1 - primary]->address()).durable_seq(), last)
      << "the late standby did not catch up";
  nodes[0]->Kill();
  nodes[1]->Kill();
  std::string digests[2];
  for (int n = 0; n < 2; ++n) {
    testing::CommandResult r = testing::RunCommand({testing::BuildPath("clients/drill/msx-drill"),
                                                    "verify", opts[n].data_dir, "--digest"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::size_t at = r.out.find("last seq");
    digests[n] = at == std::string::npos ? r.out : r.out.substr(at);
  }
  EXPECT_NE(digests[0].find("digest"), std::string::npos) << digests[0];
  EXPECT_EQ(digests[0], digests[1]);
  std::lock_guard<std::mutex> lock(told.mu);
  EXPECT_GT(told.fills.size(), 0u) << "the traffic produced no fills: the test tested nothing";
  std::cout << rounds << " kill -9 rounds: " << told.fills.size() << " told fills, "
            << told.offers.size() << " acknowledged offers, " << told.failovers
            << " client failovers; takeover (kill to SERVING) ms:";
  for (double t : takeover_ms) std::cout << " " << static_cast<int>(t);
  std::cout << "\n";
}

// A stalled primary (SIGSTOP) loses its lease; the standby takes over and fences it with
// its leadership marker. Woken (SIGCONT), the old primary acknowledges nothing: it fails
// closed (UNAVAILABLE, health NOT_SERVING, role "failed").
TEST_F(StandbyTest, StalledOldPrimaryAcknowledgesNothingAfterTheTakeover) {
  testing::ServerProcess a, b;
  testing::ServerProcess::Options oa = NodeOptions("a", false), ob = NodeOptions("b", true);
  ASSERT_TRUE(a.Start(oa).ok()) << a.Output();
  ASSERT_TRUE(b.Start(ob).ok()) << b.Output();
  AgencyClient komir_a(a.address(), "demo-komir");
  AgencyClient komir_b(b.address(), "demo-komir");
  const std::int64_t price = komir_a.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir_a.Submit(1, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());

  ASSERT_EQ(kill(a.pid(), SIGSTOP), 0);
  const bool took_over = WaitServing(b.address(), kPatience);
  if (took_over) {
    grpc::Status s = komir_b.Submit(2, kGaCo, v1::SIDE_SELL, 1, price + 41, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(kill(a.pid(), SIGCONT), 0);
  ASSERT_TRUE(took_over) << b.Output();

  // Every write the old primary gets from now on is refused; none is acknowledged.
  for (std::uint64_t id = 3; id < 8; ++id) {
    v1::SubmitOfferRequest req;
    req.set_client_offer_id(id);
    req.set_pair(kGaCo);
    req.set_side(v1::SIDE_SELL);
    req.set_lots(1);
    req.set_price(price + 42);
    req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    grpc::Status s = komir_a.exchange().SubmitOffer(komir_a.Context(20000).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << id << ": " << s.error_message();
  }
  EXPECT_EQ(testing::HealthState(a.address()),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  v1::GetExchangeStatusResponse old = Status(a.address());
  EXPECT_EQ(old.role(), "failed");
  EXPECT_FALSE(old.accepting());
  // The new primary has both acknowledged offers and none of the refused ones.
  v1::ListOffersResponse offers;
  ASSERT_TRUE(komir_b.ListOffers(&offers).ok());
  std::set<std::uint64_t> client_ids;
  for (const v1::Offer& o : offers.offers()) client_ids.insert(o.client_offer_id());
  EXPECT_EQ(client_ids, (std::set<std::uint64_t>{1, 2}));
}

// No NATS quorum (two of three servers killed): the primary acknowledges nothing and
// refuses with UNAVAILABLE; when the servers return it resumes, and a command that was in
// flight during the outage is neither lost nor doubled (its retry with the same client
// offer id finds it).
TEST_F(StandbyTest, WithoutANatsQuorumThePrimaryAcknowledgesNothingThenResumes) {
  testing::ServerProcess a;
  ASSERT_TRUE(a.Start(NodeOptions("a", false)).ok()) << a.Output();
  AgencyClient komir(a.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir.Submit(1, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());
  nats_.Kill(1);
  nats_.Kill(2);
  auto submit = [&](std::uint64_t id, int deadline_ms) {
    v1::SubmitOfferRequest req;
    req.set_client_offer_id(id);
    req.set_pair(kGaCo);
    req.set_side(v1::SIDE_SELL);
    req.set_lots(1);
    req.set_price(price + 40 + static_cast<std::int64_t>(id % 5));
    req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    return komir.exchange().SubmitOffer(komir.Context(deadline_ms).get(), req, &resp);
  };
  // Until the primary says UNAVAILABLE, calls wait (their replies are held); none succeeds.
  std::vector<std::uint64_t> unanswered;
  bool refused = false;
  for (std::uint64_t id = 10; id < 60 && !refused; ++id) {
    grpc::Status s = submit(id, 2000);
    ASSERT_FALSE(s.ok()) << "acknowledged offer " << id << " without a NATS quorum";
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      refused = true;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
      unanswered.push_back(id);
    }
  }
  EXPECT_TRUE(refused) << a.Output();
  ASSERT_TRUE(nats_.Restart(1).ok());
  ASSERT_TRUE(nats_.Restart(2).ok());
  // Resumes: the retries of the unanswered calls and a new one succeed.
  grpc::Status s;
  for (int attempt = 0; attempt < 600; ++attempt) {
    s = submit(100, 5000);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << a.Output();
  for (std::uint64_t id : unanswered) {
    grpc::Status r = submit(id, 5000);
    EXPECT_TRUE(r.ok()) << id << ": " << r.error_message();
  }
  v1::ListOffersResponse offers;
  ASSERT_TRUE(komir.ListOffers(&offers).ok());
  std::map<std::uint64_t, int> count;
  for (const v1::Offer& o : offers.offers()) ++count[o.client_offer_id()];
  EXPECT_EQ(count[1], 1);
  EXPECT_EQ(count[100], 1);
  for (std::uint64_t id : unanswered) EXPECT_EQ(count[id], 1) << id;
  EXPECT_EQ(Status(a.address()).role(), "primary");
}

// One NATS server killed under traffic (the stream's leader, the worst case): the
// stream keeps its quorum, the primary re-sends what the dead leader did not acknowledge,
// and no client sees an error, only latency while a new leader is elected.
TEST_F(StandbyTest, OneNatsServerKilledUnderTrafficCausesNoClientError) {
  testing::ServerProcess a;
  ASSERT_TRUE(a.Start(NodeOptions("a", false)).ok()) << a.Output();
  const std::int64_t price = AgencyClient(a.address(), "demo-komir").FairPrice(kGaCo);
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, ok{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> traders;
  for (int agency = 0; agency < kAgencyCount; ++agency) {
    traders.emplace_back([&, agency] {
      AgencyClient client(a.address(), kTokens[agency]);
      for (std::uint64_t n = 1; !stop; ++n) {
        v1::SubmitOfferRequest req;
        req.set_client_offer_id(n);
        req.set_pair(kGaCo);
        req.set_side(agency < 2 ? v1::SIDE_SELL : v1::SIDE_BUY);
        req.set_lots(1);
        req.set_price(price + (agency < 2 ? 1 : -1) * static_cast<std::int64_t>(n % 3));
        req.set_time_in_force(v1::TIME_IN_FORCE_IOC);
        v1::SubmitOfferResponse resp;
        grpc::Status s = client.exchange().SubmitOffer(client.Context(60000).get(), req, &resp);
        if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
            s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
            s.error_code() == grpc::StatusCode::INTERNAL) {
          ++errors;
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.empty()) first_error = s.error_message();
        } else if (s.ok()) {
          ++ok;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::string leader;
  {
    replication::ConnectionOptions c;
    c.servers = nats_.Urls();
    auto conn = replication::NatsConnection::Connect(c);
    if (conn.ok()) {
      jsStreamInfo* raw = nullptr;
      if (js_GetStreamInfo(&raw, (*conn)->js(), "MSX_JOURNAL", nullptr, nullptr) == NATS_OK) {
        if (raw->Cluster != nullptr && raw->Cluster->Leader != nullptr) leader = raw->Cluster->Leader;
        jsStreamInfo_Destroy(raw);
      }
    }
  }
  const int victim = leader.empty() ? 0 : nats_.IndexOf(leader);
  nats_.Kill(victim);
  const int ok_at_kill = ok.load();
  // Until commands are acknowledged again after the kill, and then a little longer.
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline && ok.load() < ok_at_kill + 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : traders) t.join();
  EXPECT_EQ(errors.load(), 0) << first_error << "\n" << a.Output();
  EXPECT_GE(ok.load(), ok_at_kill + 200) << "no progress after killing " << leader;
  EXPECT_EQ(Status(a.address()).role(), "primary");
}

// A standby whose journal is damaged in the middle (a flipped byte) does not refuse to
// start, and does not lose the records after the damage either: it cuts its journal there
// and takes them from the stream (the stream is the tie-breaker), ending with the
// primary's sequence and a journal that verifies.
TEST_F(StandbyTest, DamagedStandbyJournalIsRepairedFromTheStream) {
  testing::ServerProcess a;
  ASSERT_TRUE(a.Start(NodeOptions("a", false)).ok()) << a.Output();
  testing::ServerProcess::Options ob = NodeOptions("b", true);
  auto b = std::make_unique<testing::ServerProcess>();
  ASSERT_TRUE(b->Start(ob).ok()) << b->Output();
  AgencyClient komir(a.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  for (std::uint64_t id = 1; id <= 60; ++id) {
    ASSERT_TRUE(komir.Submit(id, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());
  }
  const std::uint64_t last = Status(a.address()).last_seq();
  auto caught_up = [&](const std::string& address) {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      if (Status(address).durable_seq() >= last) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  ASSERT_TRUE(caught_up(b->address()));
  b->Kill();
  // Flip a byte in the middle of the standby's (only) segment.
  std::string segment;
  for (const auto& e : std::filesystem::directory_iterator(ob.data_dir)) {
    if (e.path().extension() == ".msxj") {
      if (segment.empty() || e.file_size() > std::filesystem::file_size(segment)) {
        segment = e.path().string();
      }
    }
  }
  ASSERT_FALSE(segment.empty());
  {
    // Halfway into the data (the segment ends in preallocated zeros).
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t data_end = bytes.find_last_not_of('\0') + 1;
    const std::size_t at = data_end / 2;
    f.clear();
    f.seekp(static_cast<std::streamoff>(at));
    const char c = static_cast<char>(bytes[at] ^ 0x5a);
    f.write(&c, 1);
  }
  ASSERT_FALSE(journal::VerifyJournal(ob.data_dir).ok()) << "the flip did not damage " << segment;
  b = std::make_unique<testing::ServerProcess>();
  ASSERT_TRUE(b->Start(ob).ok()) << b->Output();
  EXPECT_NE(b->Output().find("come from the replicated stream"), std::string::npos)
      << b->Output();
  ASSERT_TRUE(caught_up(b->address())) << b->Output();
  b->Kill();
  absl::StatusOr<journal::ReadStats> stats = journal::VerifyJournal(ob.data_dir);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->first_seq, 1u);
  EXPECT_EQ(stats->commands, stats->last_seq);
  EXPECT_GE(stats->last_seq, last);
}

// msx-drill replay --server PRIMARY,STANDBY with the primary killed (-9) a third of the way
// through, while a command is stored by the NATS quorum (so the standby applies it) but not
// yet answered (the primary's fdatasync is slowed by an LD_PRELOAD shim for the last
// moments): the replay moves on to the standby (the failover code msx uses), resends only
// what is safe (the same request: the submit keeps its client offer id and is answered
// with its original offer) and completes. The new primary then holds exactly the
// journal's offers and fills, each fill told to each side once: a double submit would
// add an offer, a lost one would lose offers and fills.
TEST_F(StandbyTest, DrillReplayFailsOverOnKillNineAndEveryFillLandsExactlyOnce) {
  const std::string source = scratch_ + "/traffic";
  testing::TrafficOptions traffic;
  traffic.commands = 3000;
  traffic.gtd = false;  // the outcome must not depend on when the live clock advances
  absl::StatusOr<testing::TrafficStats> stats =
      testing::WriteTrafficJournal(source, config_, traffic);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GT(stats->fills, 50u);

  testing::ServerProcess a, b;
  testing::ServerProcess::Options oa = NodeOptions("a", false), ob = NodeOptions("b", true);
  const std::string slow_disk = scratch_ + "/slow-disk-now";
  oa.extra_env = {"LD_PRELOAD=" + testing::BuildPath("tests/libmsx_fail_fdatasync.so"),
                  "MSX_SLOW_FDATASYNC_IF_EXISTS=" + slow_disk, "MSX_SLOW_FDATASYNC_MS=400"};
  absl::Status started = a.Start(oa);
  ASSERT_TRUE(started.ok()) << started << a.Output();
  ASSERT_TRUE(b.Start(ob).ok()) << b.Output();
  const std::uint64_t start_seq = Status(a.address()).last_seq();

  testing::CommandResult replay;
  std::atomic<bool> replay_done{false};
  std::thread drill([&] {
    replay = testing::RunCommand(
        {testing::BuildPath("clients/drill/msx-drill"), "replay", source, "--server",
         absl::StrCat(a.address(), ",", b.address())},  // the demo tokens, as config_'s
        {}, std::chrono::seconds(240));
    replay_done = true;
  });
  // A third of the way through, the primary's disk turns slow; once a command is
  // sequenced after that (stored by the quorum, its reply waiting for the fdatasync),
  // kill it.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  bool killed = false;
  std::uint64_t slow_from = 0;
  while (Clock::now() < deadline && !replay_done) {
    const std::uint64_t seq = Status(a.address()).last_seq();
    if (slow_from == 0 && seq >= start_seq + stats->commands / 3) {
      std::ofstream(slow_disk) << "slow\n";
      slow_from = Status(a.address()).last_seq();
    } else if (slow_from != 0 && seq > slow_from + 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the publish lands
      a.Kill();
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  drill.join();
  ASSERT_TRUE(killed) << "the replay never got a third of the way: " << replay.out << replay.err;
  ASSERT_EQ(replay.exit_code, 0) << replay.out << replay.err << b.Output();
  std::cout << replay.out;
  EXPECT_TRUE(absl::StrContains(replay.out, "calls moved on to the next server")) << replay.out;
  EXPECT_EQ(Status(b.address()).role(), "primary");

  // Every fill of the journal, once, on each side's execution stream of the new primary:
  // as many per agency as the source journal has (msx-drill report), each once.
  testing::CommandResult source_report = testing::RunCommand(
      {testing::BuildPath("clients/drill/msx-drill"), "report", source, "--json"});
  ASSERT_EQ(source_report.exit_code, 0) << source_report.out << source_report.err;
  const nlohmann::json source_json =
      nlohmann::json::parse(source_report.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(source_json.is_object()) << source_report.out.substr(0, 300);
  std::map<std::string, std::uint64_t> source_fills;  // agency -> fills it took part in
  for (const nlohmann::json& a : source_json.at("agencies")) {
    source_fills[a.at("agency").get<std::string>()] = a.at("fills").get<std::uint64_t>();
  }
  std::uint64_t told = 0;
  for (const v1::AgencyConfig& agency : config_.agencies()) {
    if (agency.role() == v1::ROLE_ADMIN || agency.tokens_size() == 0) continue;
    AgencyClient client(b.address(), agency.tokens(0));
    auto history = testing::WatchExecutions(client, agency.tokens(0), 0);
    // The replay is over: the history is complete once it holds the agency's fills (a
    // duplicate among them would show below; a missing one leaves the wait unfulfilled).
    const std::uint64_t want = source_fills[agency.id()];
    EXPECT_TRUE(history->WaitFor(
        [&](const auto& m) { return testing::TallyFills(m).count.size() >= want; }, kPatience))
        << agency.id() << ": " << testing::TallyFills(history->messages()).count.size()
        << " fills on its stream, the source journal has " << want;
    auto [count, content] = testing::TallyFills(history->messages());
    for (const auto& [fill_id, n] : count) {
      EXPECT_EQ(n, 1) << agency.id() << " fill " << fill_id;
      ++told;
    }
    EXPECT_EQ(count.size(), want) << agency.id();
  }
  EXPECT_EQ(told, 2 * stats->fills) << "each fill is told to its two agencies";
  b.Kill();
  testing::CommandResult verify = testing::RunCommand(
      {testing::BuildPath("clients/drill/msx-drill"), "verify", ob.data_dir});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(absl::StrContains(verify.out, absl::StrCat("(", stats->fills, " fills)")))
      << verify.out << " (the source journal has " << stats->fills << " fills)";
  testing::CommandResult report = testing::RunCommand(
      {testing::BuildPath("clients/drill/msx-drill"), "report", ob.data_dir, "--json"});
  EXPECT_TRUE(
      absl::StrContains(report.out, absl::StrCat("\"offers_accepted\":", stats->accepted, ",")))
      << report.out.substr(0, 300) << " (the source journal accepted " << stats->accepted << ")";
}

// msx-loadgen --server PRIMARY,STANDBY (--api unary) with the primary killed (-9) under
// load: every call answered UNAVAILABLE is sent again, unchanged, to the next server, the
// execution streams resume on it after the last seq they saw, and the run completes with
// no error; the streams told exactly the fills the new primary's journal holds (a gap or
// a duplicate after the resume would show as a difference).
TEST_F(StandbyTest, LoadgenFailsOverOnKillNineWithNoErrorAndEveryFillOnce) {
  testing::ServerProcess a, b;
  testing::ServerProcess::Options oa = NodeOptions("a", false), ob = NodeOptions("b", true);
  ASSERT_TRUE(a.Start(oa).ok()) << a.Output();
  ASSERT_TRUE(b.Start(ob).ok()) << b.Output();
  const std::uint64_t start_seq = Status(a.address()).last_seq();
  testing::CommandResult run;
  std::atomic<bool> done{false};
  std::thread loadgen([&] {
    run = testing::RunCommand({testing::BuildPath("clients/loadgen/msx-loadgen"), "--rate", "400",
                               "--count", "2400", "--concurrency", "2", "--json", "--quiet"},
                              {"MSX_SERVER=" + a.address() + "," + b.address()},
                              std::chrono::seconds(120));
    done = true;
  });
  bool killed = false;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && !done) {
    if (Status(a.address()).last_seq() >= start_seq + 600) {
      a.Kill();
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  loadgen.join();
  ASSERT_TRUE(killed) << run.out << run.err;
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << b.Output();
  // The summary's last line is one JSON object.
  const std::string body = std::string(absl::StripTrailingAsciiWhitespace(run.out));
  const std::string json = body.substr(body.rfind('\n') + 1);
  EXPECT_TRUE(absl::StrContains(run.out, "calls moved on to the next server")) << run.out;
  EXPECT_TRUE(absl::StrContains(json, "\"errors\":{}")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"sent\":2400,")) << json;
  const std::size_t at = json.find("\"exec_fills\":");
  ASSERT_NE(at, std::string::npos) << json;
  const std::uint64_t exec_fills = std::stoull(json.substr(at + 13));
  EXPECT_GT(exec_fills, 0u) << json;
  b.Kill();
  testing::CommandResult verify = testing::RunCommand(
      {testing::BuildPath("clients/drill/msx-drill"), "verify", ob.data_dir});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(absl::StrContains(verify.out, absl::StrCat("(", exec_fills, " fills)")))
      << verify.out << " (the load generator's streams told " << exec_fills << " fills)";
}

// The periodic digest check: the primary sends Engine::StateDigest() with the group of
// every 25th command (server.replication.digest_every_commands); a standby with the same
// configuration matches every one. A standby started with another configuration (one
// extra instrument nobody trades: the replicated commands produce the very same events,
// so the byte-for-byte check passes, but the engine state differs) exits with status 4
// at the first digest, naming it.
TEST_F(StandbyTest, StandbyChecksThePrimarysEngineDigestAndExitsOnADivergentState) {
  v1::ExchangeConfig same = config_;
  same.mutable_server()->mutable_replication()->set_digest_every_commands(25);
  v1::ExchangeConfig other = same;
  v1::InstrumentConfig* extra = other.add_instruments();
  *extra = other.instruments(0);
  extra->set_symbol("ZZ-DIVERGENT");
  std::filesystem::create_directories(scratch_ + "/same");
  std::filesystem::create_directories(scratch_ + "/other");
  const std::string same_path = testing::WriteConfig(same, scratch_ + "/same");
  const std::string other_path = testing::WriteConfig(other, scratch_ + "/other");
  auto with_config = [](testing::ServerProcess::Options o, const std::string& path) {
    for (std::size_t i = 0; i + 1 < o.extra_args.size(); ++i) {
      if (o.extra_args[i] == "--config") o.extra_args[i + 1] = path;
    }
    return o;
  };
  testing::ServerProcess a, b, c;
  absl::Status started_a = a.Start(with_config(NodeOptions("a", false), same_path));
  ASSERT_TRUE(started_a.ok()) << started_a << a.Output();
  absl::Status started_b = b.Start(with_config(NodeOptions("b", true), same_path));
  ASSERT_TRUE(started_b.ok()) << started_b << b.Output();
  AgencyClient komir(a.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  for (std::uint64_t id = 1; id <= 120; ++id) {
    ASSERT_TRUE(komir.Submit(id, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());
  }
  const std::uint64_t last = Status(a.address()).last_seq();
  const auto deadline = Clock::now() + kPatience;
  v1::GetExchangeStatusResponse sb;
  while (Clock::now() < deadline) {
    sb = Status(b.address());
    if (sb.durable_seq() >= last) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(sb.durable_seq(), last);
  EXPECT_GE(sb.digests_checked(), 4u) << "120 commands, a digest every 25";
  EXPECT_GT(sb.last_digest_seq(), last - 25);
  EXPECT_EQ(sb.role(), "standby");

  // The divergent standby catches up from the stream and stops at the first digest (it may
  // do so before its start is complete).
  absl::Status started = c.Start(with_config(NodeOptions("c", true), other_path));
  if (started.ok()) {
    absl::StatusOr<int> exited = c.WaitExit(kPatience);
    ASSERT_TRUE(exited.ok()) << "the divergent standby still runs: " << c.Output();
    EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 4) << *exited << c.Output();
  } else {
    EXPECT_FALSE(c.running()) << started;  // exited during its start
  }
  EXPECT_TRUE(absl::StrContains(c.Output(), "REPLICATION DIVERGED")) << c.Output();
  EXPECT_TRUE(absl::StrContains(c.Output(), "engine digest")) << c.Output();
}

// An old primary whose last commands reached its own journal (fdatasync'd) but never the
// stream (every NATS server died first, so no client was told "done") is killed; the
// standby takes over and writes other commands under the same sequence numbers. Restarted
// as a standby on its own data directory, the old primary must not keep that tail: it sets
// it aside (the bytes kept in "<segment>.cut-<offset>"), takes those seqs from the stream,
// and ends with the new primary's exact engine state.
TEST_F(StandbyTest, OldPrimarysUnreplicatedTailIsSetAsideWhenItRejoinsAsAStandby) {
  testing::ServerProcess a, b;
  testing::ServerProcess::Options oa = NodeOptions("a", false), ob = NodeOptions("b", true);
  ASSERT_TRUE(a.Start(oa).ok()) << a.Output();
  ASSERT_TRUE(b.Start(ob).ok()) << b.Output();
  AgencyClient komir_a(a.address(), "demo-komir");
  const std::int64_t price = komir_a.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  for (std::uint64_t id = 1; id <= 20; ++id) {
    ASSERT_TRUE(komir_a.Submit(id, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());
  }
  const std::uint64_t replicated = Status(a.address()).last_seq();
  auto caught_up = [&](const std::string& address, std::uint64_t seq) {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      if (Status(address).durable_seq() >= seq) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  ASSERT_TRUE(caught_up(b.address(), replicated));

  // Every NATS server dies: what the primary commits now reaches its own journal only.
  for (int i = 0; i < nats_.size(); ++i) nats_.Kill(i);
  for (std::uint64_t id = 21; id <= 23; ++id) {
    v1::SubmitOfferRequest req;
    req.set_client_offer_id(id);
    req.set_pair(kGaCo);
    req.set_side(v1::SIDE_SELL);
    req.set_lots(1);
    req.set_price(price + 45);
    req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    grpc::Status s = komir_a.exchange().SubmitOffer(komir_a.Context(1000).get(), req, &resp);
    ASSERT_FALSE(s.ok()) << "offer " << id << " acknowledged without any NATS server";
  }
  // The tail is durable in the old primary's journal.
  std::uint64_t local_end = 0;
  for (const auto deadline = Clock::now() + kPatience;
       Clock::now() < deadline && local_end <= replicated;) {
    absl::StatusOr<journal::ReadStats> st = journal::VerifyJournal(oa.data_dir);
    if (st.ok()) local_end = st->last_seq;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(local_end, replicated) << a.Output();
  a.Kill();

  // The servers return (with the stream as it was); the lease has lapsed: the standby takes
  // over and writes other commands under the old primary's tail's seqs, and beyond.
  ASSERT_TRUE(nats_.RestartAll().ok());
  ASSERT_TRUE(WaitServing(b.address(), kPatience)) << b.Output();
  AgencyClient komir_b(b.address(), "demo-komir");
  for (std::uint64_t id = 100; id < 100 + (local_end - replicated) + 5; ++id) {
    grpc::Status s = komir_b.Submit(id, kGaCo, v1::SIDE_SELL, 2, price + 41, &resp);
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
  }
  const std::uint64_t last = Status(b.address()).last_seq();
  ASSERT_GT(last, local_end);

  // The old primary rejoins as a standby on its own data directory.
  oa.extra_args.push_back("--standby");
  oa.wait_serving = false;
  absl::Status rejoined = a.Start(oa);
  ASSERT_TRUE(rejoined.ok()) << rejoined << a.Output();
  ASSERT_TRUE(caught_up(a.address(), last)) << a.Output();
  v1::GetExchangeStatusResponse sa = Status(a.address());
  EXPECT_EQ(sa.role(), "standby");
  EXPECT_TRUE(absl::StrContains(a.Output(), "set aside")) << a.Output();
  std::vector<std::string> cut_files;
  for (const auto& e : std::filesystem::directory_iterator(oa.data_dir)) {
    const std::string name = e.path().filename().string();
    if (absl::StrContains(name, ".cut-") || absl::EndsWith(name, ".discarded")) {
      cut_files.push_back(name);
    }
  }
  EXPECT_FALSE(cut_files.empty()) << "the tail was not set aside: " << a.Output();
  // None of the offers of the unreplicated tail survives on either node.
  for (const std::string& address : {a.address(), b.address()}) {
    AgencyClient komir(address, "demo-komir");
    v1::ListOffersResponse offers;
    ASSERT_TRUE(komir.ListOffers(&offers).ok()) << address;
    for (const v1::Offer& o : offers.offers()) {
      EXPECT_TRUE(o.client_offer_id() <= 20 || o.client_offer_id() >= 100)
          << address << " holds offer " << o.client_offer_id() << " of the unreplicated tail";
    }
  }
  // Both journals verify and replay to the same last seq and engine digest.
  a.Kill();
  b.Kill();
  std::string digests[2];
  const std::string dirs[2] = {oa.data_dir, ob.data_dir};
  for (int n = 0; n < 2; ++n) {
    testing::CommandResult r = testing::RunCommand(
        {testing::BuildPath("clients/drill/msx-drill"), "verify", dirs[n], "--digest"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::size_t at = r.out.find("last seq");
    digests[n] = at == std::string::npos ? r.out : r.out.substr(at);
  }
  EXPECT_NE(digests[0].find("digest"), std::string::npos) << digests[0];
  EXPECT_EQ(digests[0], digests[1]);
}

}  // namespace
}  // namespace msx
