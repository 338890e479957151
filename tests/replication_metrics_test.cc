// What /metrics and the dashboard say about the hot standby, with real processes: three
// nats-server (JetStream) on loopback and two msx-server --replicate --http. The role, the
// leader, the lag, the JetStream publish latency and the takeover and fencing counters are
// checked against what the pair did (exact where the outcome is deterministic) and the
// exposition passes `promtool check metrics`.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config/config.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/event_client.h"
#include "tests/testing/http_client.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::EventClient;
using testing::HttpRequest;
using testing::kGaCo;
using testing::ParsePrometheus;
using Clock = std::chrono::steady_clock;
using Metrics = std::map<std::string, double>;

double Get(const Metrics& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? -1 : it->second;
}
std::string Role(const std::string& role) { return "msx_role{role=\"" + role + "\"}"; }
std::string LeaderInfo(const std::string& node, const std::string& address) {
  return "msx_replication_leader_info{node=\"" + node + "\",address=\"" + address + "\"}";
}
const char kPublishCount[] = "msx_replication_publish_duration_seconds_count";
const char kFencedStream[] = "msx_replication_fenced_total{cause=\"stream\"}";
const char kFencedLease[] = "msx_replication_fenced_total{cause=\"lease\"}";

// One msx-server of the pair, with its HTTP port.
struct Node {
  testing::ServerProcess process;
  int http_port = 0;

  Metrics Scrape(std::string* text = nullptr) const {
    testing::HttpResult r = HttpRequest(http_port, "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    if (text != nullptr) *text = r.body;
    return ParsePrometheus(r.body);
  }
  // Scrapes until `done` holds or `timeout` passes; returns the last scrape.
  template <typename Pred>
  // The timeout only bounds a broken build (a loaded machine may take its time).
  Metrics ScrapeUntil(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + timeout;
    Metrics m = Scrape();
    while (!done(m) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      m = Scrape();
    }
    return m;
  }
  // The dashboard's newest status section, as the admin's stream carries it, once one
  // shows `role` (the node's role is known from its metrics by then; the stream sends the
  // status on connect and whenever it changes, however long a loaded machine takes).
  nlohmann::json DashboardStatus(const std::string& role) const {
    EventClient events(http_port, "demo-admin");
    EXPECT_TRUE(events.connected());
    auto newest = [](const EventClient& e) {
      auto status = e.Events("status");
      return status.empty() ? nlohmann::json() : status.back();
    };
    events.ReadUntil([&](const EventClient& e) {
      const nlohmann::json s = newest(e);
      return s.is_object() && s.value("role", "") == role;
    });
    return newest(events);
  }
};

void ExpectPromtoolClean(const std::string& text, const std::string& what) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    std::cout << "promtool is not installed (Debian package prometheus; scripts/setup.sh): "
                 "lint of the "
              << what << " exposition skipped\n";
    return;
  }
  const std::string path = testing::MakeTempDir("msx-replication-metrics") + "/metrics.txt";
  std::ofstream(path) << text;
  testing::CommandResult r =
      testing::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path});
  EXPECT_EQ(r.exit_code, 0) << what << ": " << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << what << ": promtool lint findings";
}

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

class ReplicationMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nats_.Start().ok());
    scratch_ = testing::MakeTempDir("msx-replication-metrics");
    // A lease of 5 s (renewed every second), not the default 500 ms: a loaded machine can
    // stall a primary's renewal for more than 500 ms, and the standby then takes over in
    // the middle of a test that counts takeovers (seen: role "primary" on the standby at
    // load 12). The takeover test waits for the expiry, however long.
    v1::ExchangeConfig config = DefaultConfig();
    config.mutable_server()->mutable_replication()->set_lease_ttl_ms(5000);
    config_path_ = testing::WriteConfig(config, scratch_);
  }
  void TearDown() override { testing::RemoveTree(scratch_); }

  // Starts node `name` (a primary when the lease is vacant, else a standby).
  void StartNode(Node* node, const std::string& name, bool standby) {
    testing::ServerProcess::Options o;
    o.extra_args = {"--config",    config_path_, "--replicate", nats_.UrlList(), "--node-id",
                    name,          "--http",     "127.0.0.1:0"};
    if (standby) {
      o.extra_args.push_back("--standby");
      o.wait_serving = false;
    }
    ASSERT_TRUE(node->process.Start(o).ok()) << node->process.Output();
    node->http_port = testing::HttpPortFromBanner(node->process.Output());
    ASSERT_GT(node->http_port, 0) << node->process.Output();
  }

  testing::NatsCluster nats_;
  std::string scratch_;
  std::string config_path_;
};

TEST_F(ReplicationMetricsTest, PrimaryAndStandbyReportRoleLeaderLagAndPublishLatency) {
  Node a, b;
  StartNode(&a, "a", false);
  StartNode(&b, "b", true);
  const std::string a_leads = LeaderInfo("a", a.process.address());
  // The standby has read the lease once it names the leader.
  Metrics bm = b.ScrapeUntil([&](const Metrics& m) { return m.count(a_leads) != 0; });
  ASSERT_EQ(bm[a_leads], 1) << "the standby does not name the leader";

  // Three commands on the primary, one after the other.
  AgencyClient komir(a.process.address(), "demo-komir");
  AgencyClient jogmec(a.process.address(), "demo-jogmec");
  const std::int64_t price = komir.FairPrice(kGaCo);
  Metrics before = a.Scrape();
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir.Submit(1, kGaCo, v1::SIDE_SELL, 2, price, &resp).ok());
  ASSERT_TRUE(jogmec.Submit(1, kGaCo, v1::SIDE_BUY, 1, price, &resp).ok());
  ASSERT_EQ(resp.fills_size(), 1);
  v1::CancelOfferResponse cancel;
  EXPECT_FALSE(komir.Cancel(987654321, &cancel).ok());  // a reject is replicated too

  std::string a_text;
  Metrics am = a.Scrape(&a_text);
  // The primary: its role, itself as the leader, nothing unacknowledged.
  EXPECT_EQ(am[Role("primary")], 1);
  EXPECT_EQ(am[Role("standby")], 0);
  EXPECT_EQ(am[Role("taking-over")], 0);
  EXPECT_EQ(am[Role("failed")], 0);
  EXPECT_EQ(am[a_leads], 1);
  EXPECT_GE(am["msx_replication_leader_epoch"], 1);
  EXPECT_EQ(am["msx_replication_takeovers_total"], 1) << "its first start as primary";
  EXPECT_EQ(am[kFencedStream], 0);
  EXPECT_EQ(am[kFencedLease], 0);
  EXPECT_EQ(am["msx_replication_lag_messages"], 0);
  EXPECT_EQ(am["msx_replication_lag_seconds"], 0);
  EXPECT_EQ(am["msx_replication_unacknowledged_bytes"], 0);
  EXPECT_EQ(am["msx_replication_no_quorum"], 0);
  EXPECT_EQ(am["msx_replication_resends_total"], 0);
  // Replies wait for the stream: every sequenced command is in it.
  EXPECT_EQ(am["msx_sequencer_last_seq"] - before["msx_sequencer_last_seq"], 3);
  EXPECT_EQ(am["msx_replication_replicated_seq"], am["msx_sequencer_last_seq"]);
  // One publish observed per stream message this node wrote: all of them but its
  // leadership marker (stream seq 1, a fresh stream). Each sequential command is a group.
  EXPECT_EQ(am[kPublishCount], am["msx_replication_stream_seq"] - 1);
  EXPECT_EQ(am[kPublishCount] - before[kPublishCount],
            am["msx_replication_stream_seq"] - before["msx_replication_stream_seq"]);
  EXPECT_GE(am[kPublishCount] - before[kPublishCount], 1);
  EXPECT_EQ(am["msx_replication_publish_duration_seconds_bucket{le=\"+Inf\"}"], am[kPublishCount]);
  EXPECT_GT(am["msx_replication_publish_duration_seconds_sum"], 0);

  // The standby catches up to the exact stream position and command seq.
  std::string b_text;
  bm = b.ScrapeUntil([&](const Metrics& m) {
    return Get(m, "msx_replication_stream_seq") >= am["msx_replication_stream_seq"] &&
           Get(m, "msx_journal_durable_seq") >= am["msx_sequencer_last_seq"];
  });
  b.Scrape(&b_text);
  EXPECT_EQ(bm[Role("standby")], 1);
  EXPECT_EQ(bm[Role("primary")], 0);
  EXPECT_EQ(bm[a_leads], 1);
  EXPECT_EQ(bm["msx_replication_leader_epoch"], am["msx_replication_leader_epoch"]);
  EXPECT_EQ(bm["msx_replication_stream_seq"], am["msx_replication_stream_seq"]);
  EXPECT_EQ(bm["msx_replication_replicated_seq"], am["msx_sequencer_last_seq"]);
  EXPECT_EQ(bm["msx_sequencer_last_seq"], am["msx_sequencer_last_seq"]);
  EXPECT_EQ(bm["msx_replication_takeovers_total"], 0);
  EXPECT_EQ(bm[kPublishCount], 0) << "a standby publishes nothing";
  // Caught up: no lag, in messages or in seconds, once the standby has seen the last
  // stream sequence again (it reads it every poll).
  bm = b.ScrapeUntil([](const Metrics& m) { return Get(m, "msx_replication_lag_messages") == 0; });
  EXPECT_EQ(bm["msx_replication_lag_messages"], 0);
  EXPECT_EQ(bm["msx_replication_lag_seconds"], 0);
  // The standby's commands are counted as the primary's were (same engine, same events).
  EXPECT_EQ(bm["msx_commands_total{type=\"submit_offer\",result=\"accepted\"}"],
            am["msx_commands_total{type=\"submit_offer\",result=\"accepted\"}"]);
  EXPECT_EQ(bm["msx_fills_total{pair=\"" + std::string(kGaCo) + "\"}"], 1);

  // The dashboard's status panel: role, leader and lag on both.
  nlohmann::json as = a.DashboardStatus("primary");
  ASSERT_TRUE(as.is_object()) << "no status section from the primary";
  EXPECT_EQ(as["role"], "primary");
  EXPECT_EQ(as["replication"]["node"], "a");
  EXPECT_EQ(as["replication"]["leader"], "a");
  EXPECT_EQ(as["replication"]["takeovers"], 1);
  nlohmann::json bs = b.DashboardStatus("standby");
  ASSERT_TRUE(bs.is_object()) << "no status section from the standby";
  EXPECT_EQ(bs["role"], "standby");
  EXPECT_EQ(bs["replication"]["node"], "b");
  EXPECT_EQ(bs["replication"]["leader"], "a");
  EXPECT_EQ(bs["replication"]["leader_address"], a.process.address());
  EXPECT_EQ(bs["replication"]["lag_messages"], 0);
  EXPECT_EQ(bs["replication"]["replicated_seq"], am["msx_sequencer_last_seq"]);

  ExpectPromtoolClean(a_text, "primary");
  ExpectPromtoolClean(b_text, "standby");
}

// A stalled (SIGSTOP) primary loses the lease; the standby takes over (counted once) and
// the old primary, woken, is fenced: role failed, one fencing counted, nothing else.
TEST_F(ReplicationMetricsTest, TakeoverAndFencingAreCountedOnceEach) {
  Node a, b;
  StartNode(&a, "a", false);
  StartNode(&b, "b", true);
  AgencyClient komir_a(a.process.address(), "demo-komir");
  const std::int64_t price = komir_a.FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir_a.Submit(1, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp).ok());

  ASSERT_EQ(kill(a.process.pid(), SIGSTOP), 0);
  const bool took_over = WaitServing(b.process.address(), std::chrono::seconds(30));
  Metrics bm;
  if (took_over) {
    bm = b.ScrapeUntil([](const Metrics& m) { return Get(m, Role("primary")) == 1; });
  }
  ASSERT_EQ(kill(a.process.pid(), SIGCONT), 0);
  ASSERT_TRUE(took_over) << b.process.Output();
  EXPECT_EQ(bm[Role("primary")], 1);
  EXPECT_EQ(bm[Role("standby")], 0);
  EXPECT_EQ(bm["msx_replication_takeovers_total"], 1);
  EXPECT_EQ(bm[LeaderInfo("b", b.process.address())], 1);
  EXPECT_EQ(bm.count(LeaderInfo("a", a.process.address())), 0u) << "one leader named";
  EXPECT_EQ(bm[kFencedStream] + bm[kFencedLease], 0);

  // The old primary's next command is refused; it fails closed, fenced once.
  AgencyClient komir_a2(a.process.address(), "demo-komir");
  v1::SubmitOfferRequest req;
  req.set_client_offer_id(2);
  req.set_pair(kGaCo);
  req.set_side(v1::SIDE_SELL);
  req.set_lots(1);
  req.set_price(price + 41);
  req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
  grpc::Status s = komir_a2.exchange().SubmitOffer(komir_a2.Context(20000).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  std::string a_text;
  Metrics am = a.ScrapeUntil([](const Metrics& m) { return Get(m, Role("failed")) == 1; });
  a.Scrape(&a_text);
  EXPECT_EQ(am[Role("failed")], 1);
  EXPECT_EQ(am[Role("primary")], 0);
  EXPECT_EQ(am[kFencedStream] + am[kFencedLease], 1) << a.process.Output();
  EXPECT_EQ(am["msx_replication_takeovers_total"], 1);
  EXPECT_EQ(am["msx_accepting"], 0);
  nlohmann::json as = a.DashboardStatus("failed");
  ASSERT_TRUE(as.is_object());
  EXPECT_EQ(as["role"], "failed");
  EXPECT_NE(as["replication"]["failure"].get<std::string>(), "");
  ExpectPromtoolClean(a_text, "fenced node");
}

}  // namespace
}  // namespace msx
