// msx-server --http: /metrics moves by exactly what a known command sequence does and
// passes `promtool check metrics`; the page and the event stream answer as documented.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/journal/reader.h"
#include "engine/journal/snapshot.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/event_client.h"
#include "tests/testing/http_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::HttpRequest;
using testing::kGaCo;
using testing::ParsePrometheus;

class HttpMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcess::Options opts;
    opts.extra_args = {"--http", "127.0.0.1:0"};
    ASSERT_TRUE(server_.Start(opts).ok()) << server_.Output();
    http_port_ = testing::HttpPortFromBanner(server_.Output());
    ASSERT_GT(http_port_, 0) << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
  }

  std::map<std::string, double> Scrape(std::string* text = nullptr) {
    testing::HttpResult r = HttpRequest(http_port_, "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    if (text != nullptr) *text = r.body;
    return ParsePrometheus(r.body);
  }

  testing::ServerProcess server_;
  int http_port_ = 0;
  std::unique_ptr<AgencyClient> komir_, jogmec_;
};

std::string Commands(const std::string& type, const std::string& result) {
  return "msx_commands_total{type=\"" + type + "\",result=\"" + result + "\"}";
}

TEST_F(HttpMetricsTest, CountersMoveByExactlyWhatAKnownSequenceOfCommandsDoes) {
  const std::int64_t price = komir_->FairPrice(kGaCo);
  const std::int64_t ga_lot = komir_->Instrument("GA-4N").lot_size();
  const v1::Pair pair = komir_->Pair(kGaCo);
  ASSERT_GT(price, 0);
  const std::string pair_label = std::string("pair=\"") + kGaCo + "\"";
  const std::string resting_sell = "msx_book_resting_offers{" + pair_label + ",side=\"sell\"}";
  const std::string fills = "msx_fills_total{" + pair_label + "}";
  const std::string lots = "msx_filled_lots_total{" + pair_label + "}";
  const std::string base = "msx_filled_base_amount_total{" + pair_label + ",unit=\"" +
                           komir_->Instrument("GA-4N").unit() + "\"}";
  const std::string quote = "msx_filled_quote_amount_total{" + pair_label + ",unit=\"" +
                            komir_->Instrument("CO-99.8").unit() + "\"}";

  std::map<std::string, double> before = Scrape();
  ASSERT_TRUE(before.count(Commands("submit_offer", "accepted"))) << "no command counters";
  ASSERT_TRUE(before.count(resting_sell)) << "no resting offers per book";

  // 1. KOMIR rests a sell of 3 lots.
  v1::SubmitOfferResponse sell, buy, bad;
  ASSERT_TRUE(komir_->Submit(1, kGaCo, v1::SIDE_SELL, 3, price, &sell).ok());
  std::map<std::string, double> resting = Scrape();
  EXPECT_EQ(resting[resting_sell] - before[resting_sell], 1);
  // 2. JOGMEC takes 2 of them: one fill.
  ASSERT_TRUE(jogmec_->Submit(1, kGaCo, v1::SIDE_BUY, 2, price, &buy).ok());
  ASSERT_EQ(buy.fills_size(), 1);
  // 3. A sell above the band: rejected by the engine.
  EXPECT_FALSE(komir_->Submit(2, kGaCo, v1::SIDE_SELL, 1, pair.band_high() + pair.tick(), &bad).ok());
  // 4. A cancel of an offer that does not exist: rejected.
  v1::CancelOfferResponse cancel;
  EXPECT_FALSE(komir_->Cancel(987654321, &cancel).ok());
  // 5. KOMIR cancels the rest of its sell.
  ASSERT_TRUE(komir_->Cancel(sell.offer().offer_id(), &cancel).ok());

  std::map<std::string, double> after = Scrape();
  auto delta = [&](const std::string& k) { return after[k] - before[k]; };
  EXPECT_EQ(delta(Commands("submit_offer", "accepted")), 2);
  EXPECT_EQ(delta(Commands("submit_offer", "rejected")), 1);
  EXPECT_EQ(delta(Commands("cancel_offer", "accepted")), 1);
  EXPECT_EQ(delta(Commands("cancel_offer", "rejected")), 1);
  EXPECT_EQ(delta(Commands("set_holdings", "accepted")), 0);
  EXPECT_EQ(delta("msx_rejects_total{reason=\"price_outside_band\"}"), 1);
  EXPECT_EQ(delta("msx_rejects_total{reason=\"unknown_offer\"}"), 1);
  EXPECT_EQ(delta("msx_rejects_total{reason=\"insufficient_holdings\"}"), 0);
  EXPECT_EQ(delta(fills), 1);
  EXPECT_EQ(delta(lots), 2);
  EXPECT_EQ(delta(base), 2 * ga_lot);
  EXPECT_EQ(delta(quote), 2 * price);
  EXPECT_EQ(after[resting_sell], before[resting_sell]);
  EXPECT_EQ(delta("msx_sequencer_last_seq"), 5);
  EXPECT_EQ(after["msx_journal_durable_seq"], after["msx_sequencer_last_seq"]);
  // Five commands, each a unary call under durability sync: at least one group commit each
  // way they were grouped, every one with an fdatasync.
  EXPECT_GE(delta("msx_sequencer_group_commands_count"), 1);
  EXPECT_EQ(delta("msx_sequencer_group_commands_sum"), 5);
  EXPECT_EQ(delta("msx_journal_group_commit_commands_sum"), 5);
  EXPECT_GE(delta("msx_journal_fdatasync_duration_seconds_count"), 1);
  EXPECT_EQ(after["msx_journal_fdatasync_duration_seconds_count"],
            after["msx_journal_fdatasync_duration_seconds_bucket{le=\"+Inf\"}"]);
  EXPECT_GT(delta("msx_journal_appended_bytes_total"), 0);
  EXPECT_GE(after["msx_journal_segments"], 1);
  EXPECT_EQ(after["msx_accepting"], 1);
  EXPECT_GT(after["msx_process_start_time_seconds"], 1.7e9);
  EXPECT_TRUE(after.count("msx_recovery_duration_seconds"));
  EXPECT_TRUE(after.count("msx_stream_subscribers{agency=\"KOMIR\"}"));
  EXPECT_EQ(after["msx_sequencer_queue_capacity"], 65536);
  // Without replication the server is its own primary, and says nothing of a stream.
  EXPECT_EQ(after["msx_role{role=\"primary\"}"], 1);
  EXPECT_EQ(after["msx_role{role=\"standby\"}"], 0);
  EXPECT_EQ(after["msx_role{role=\"failed\"}"], 0);
  for (const auto& [name, value] : after) {
    EXPECT_NE(name.rfind("msx_replication_", 0), 0u) << name;
  }
}

TEST_F(HttpMetricsTest, EmergencyLevelGaugeFollowsEachLevelSet) {
  const std::string cobalt = "msx_emergency_level{instrument=\"CO-99.8\"}";
  const std::string gallium = "msx_emergency_level{instrument=\"GA-4N\"}";
  std::map<std::string, double> m = Scrape();
  ASSERT_TRUE(m.count(cobalt)) << "no emergency level gauge";
  EXPECT_EQ(m[cobalt], 0);
  AgencyClient admin(server_.address(), "demo-admin");
  auto set = [&](v1::EmergencyLevel level) {
    v1::SetEmergencyLevelRequest req;
    req.set_instrument("CO-99.8");
    req.set_level(level);
    req.set_reason("drill");
    v1::AdminCommandResponse resp;
    const grpc::Status s = admin.admin().SetEmergencyLevel(admin.Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  set(v1::EMERGENCY_LEVEL_WARNING);
  m = Scrape();
  EXPECT_EQ(m[cobalt], 3);
  EXPECT_EQ(m[gallium], 0);
  set(v1::EMERGENCY_LEVEL_NORMAL);
  std::map<std::string, double> after = Scrape();
  EXPECT_EQ(after[cobalt], 0);
  EXPECT_EQ(after[Commands("set_emergency_level", "accepted")], 2);
}

TEST_F(HttpMetricsTest, PromtoolFindsNoProblemInTheExposition) {
  // Some traffic first, so that histograms and labelled series are populated.
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse sell, buy;
  ASSERT_TRUE(komir_->Submit(1, kGaCo, v1::SIDE_SELL, 1, price, &sell).ok());
  ASSERT_TRUE(jogmec_->Submit(1, kGaCo, v1::SIDE_BUY, 1, price, &buy).ok());
  std::string text;
  Scrape(&text);
  ASSERT_FALSE(text.empty());
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/setup.sh)";
  }
  const std::string path = testing::MakeTempDir("msx-metrics") + "/metrics.txt";
  std::ofstream(path) << text;
  testing::CommandResult r =
      testing::RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "promtool lint findings";
}

// Sum of the segment files' sizes in `dir`, as msx_journal_size_bytes should report it.
double SegmentBytes(const std::string& dir, double* count) {
  absl::StatusOr<std::vector<journal::SegmentInfo>> segments = journal::ListSegments(dir);
  EXPECT_TRUE(segments.ok()) << segments.status();
  double bytes = 0;
  *count = 0;
  if (!segments.ok()) return 0;
  for (const journal::SegmentInfo& seg : *segments) {
    bytes += static_cast<double>(std::filesystem::file_size(seg.path));
    *count += 1;
  }
  return bytes;
}

TEST_F(HttpMetricsTest, StreamSubscribersAndDashboardClientsCountWhatIsOpen) {
  const std::string komir = "msx_stream_subscribers{agency=\"KOMIR\"}";
  const std::string jogmec = "msx_stream_subscribers{agency=\"JOGMEC\"}";
  std::map<std::string, double> m = Scrape();
  EXPECT_EQ(m[komir], 0);
  EXPECT_EQ(m["msx_dashboard_clients"], 0);
  {
    auto exec = testing::WatchExecutions(*komir_, "demo-komir");
    auto exec2 = testing::WatchExecutions(*komir_, "demo-komir");
    testing::EventClient dashboard(http_port_, "demo-jogmec");
    ASSERT_TRUE(dashboard.connected());
    dashboard.ReadUntilQuiet(std::chrono::milliseconds(300), std::chrono::seconds(2));
    // The streams register asynchronously: wait for both (bounded), then exact values.
    for (int i = 0; i < 200 && (m[komir] != 2 || m["msx_dashboard_clients"] != 1); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      m = Scrape();
    }
    EXPECT_EQ(m[komir], 2);
    EXPECT_EQ(m[jogmec], 0) << "a dashboard is not a gRPC stream";
    EXPECT_EQ(m["msx_dashboard_clients"], 1);
    EXPECT_GE(m["msx_http_connections"], 1);
  }
  for (int i = 0; i < 200 && (m[komir] != 0 || m["msx_dashboard_clients"] != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    m = Scrape();
  }
  EXPECT_EQ(m[komir], 0) << "closed streams are still counted";
  EXPECT_EQ(m["msx_dashboard_clients"], 0);
}

// The metrics a restart sets: commands replayed at start (all of them after a crash with
// no snapshot, none after a clean stop, which writes one even when every command of its
// process came from recovery), the snapshot's age, and the journal's segment count and
// size on disk (which a process that appended nothing still reports). The stop's message
// says whether it wrote a snapshot or one already covered the journal.
TEST(HttpMetricsRestartTest, RecoveryAndSnapshotMetricsTellWhatTheLastStartDid) {
  const std::string dir = testing::MakeTempDir("msx-metrics-restart");
  testing::ServerProcess::Options opts;
  opts.data_dir = dir;
  opts.extra_args = {"--http", "127.0.0.1:0"};
  auto scrape = [](const testing::ServerProcess& server) {
    const int port = testing::HttpPortFromBanner(server.Output());
    EXPECT_GT(port, 0) << server.Output();
    return ParsePrometheus(HttpRequest(port, "GET", "/metrics").body);
  };
  double last_seq = 0;
  {
    testing::ServerProcess server;
    ASSERT_TRUE(server.Start(opts).ok()) << server.Output();
    std::map<std::string, double> m = scrape(server);
    EXPECT_EQ(m["msx_recovery_replayed_commands"], 0) << "a fresh data directory";
    EXPECT_EQ(m.count("msx_snapshot_age_seconds"), 0u) << "no snapshot yet";
    AgencyClient komir(server.address(), "demo-komir");
    v1::SubmitOfferResponse resp;
    ASSERT_TRUE(komir.Submit(1, kGaCo, v1::SIDE_SELL, 1, komir.FairPrice(kGaCo) + 30, &resp).ok());
    ASSERT_TRUE(komir.Submit(2, kGaCo, v1::SIDE_SELL, 1, komir.FairPrice(kGaCo) + 31, &resp).ok());
    m = scrape(server);
    last_seq = m["msx_sequencer_last_seq"];
    ASSERT_GT(last_seq, 2);
    double count = 0;
    EXPECT_EQ(m["msx_journal_size_bytes"], SegmentBytes(dir, &count));
    EXPECT_EQ(m["msx_journal_segments"], count);
    EXPECT_GT(m["msx_journal_size_bytes"], 0);
    server.Kill();  // no snapshot
  }
  {
    testing::ServerProcess server;
    ASSERT_TRUE(server.Start(opts).ok()) << server.Output();
    std::map<std::string, double> m = scrape(server);
    EXPECT_EQ(m["msx_recovery_replayed_commands"], last_seq) << server.Output();
    EXPECT_EQ(m.count("msx_snapshot_age_seconds"), 0u) << "still no snapshot";
    EXPECT_GT(m["msx_recovery_duration_seconds"], 0);
    double count = 0;
    EXPECT_EQ(m["msx_journal_size_bytes"], SegmentBytes(dir, &count))
        << "the journal's size counts what earlier processes wrote";
    EXPECT_GT(m["msx_journal_size_bytes"], 0);
    // No new command: the clean stop still writes the snapshot at the last seq, since
    // every command of this process came from recovery and no snapshot covers them.
    const int status = server.Stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
    EXPECT_TRUE(absl::StrContains(
        server.Output(),
        absl::StrCat("wrote the snapshot at seq ", static_cast<std::uint64_t>(last_seq))))
        << server.Output();
    absl::StatusOr<std::vector<journal::SnapshotInfo>> snaps = journal::ListSnapshots(dir);
    ASSERT_TRUE(snaps.ok()) << snaps.status();
    ASSERT_FALSE(snaps->empty()) << "the clean stop wrote no snapshot\n" << server.Output();
    EXPECT_EQ(static_cast<double>(snaps->front().seq), last_seq);
    EXPECT_TRUE(std::filesystem::exists(
        std::filesystem::path(dir) / journal::SnapshotFileName(static_cast<Seq>(last_seq))));
  }
  {
    testing::ServerProcess server;
    ASSERT_TRUE(server.Start(opts).ok()) << server.Output();
    std::map<std::string, double> m = scrape(server);
    EXPECT_EQ(m["msx_recovery_replayed_commands"], 0) << server.Output();
    ASSERT_EQ(m.count("msx_snapshot_age_seconds"), 1u) << "the clean stop's snapshot";
    EXPECT_GE(m["msx_snapshot_age_seconds"], 0);
    EXPECT_EQ(m["msx_snapshots_written_total"], 0) << "written by the previous process";
    EXPECT_EQ(m["msx_sequencer_last_seq"], last_seq);
    // The snapshot on disk covers the journal: this clean stop writes none and says so.
    const int status = server.Stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
    EXPECT_TRUE(absl::StrContains(
        server.Output(), absl::StrCat("no snapshot needed: the snapshot at seq ",
                                      static_cast<std::uint64_t>(last_seq),
                                      " covers the journal's last seq")))
        << server.Output();
    EXPECT_FALSE(absl::StrContains(server.Output(), "wrote the snapshot")) << server.Output();
  }
  testing::RemoveTree(dir);
}

TEST_F(HttpMetricsTest, ThePageIsStaticWithAStrictPolicyAndTheStreamNeedsAToken) {
  testing::HttpResult page = HttpRequest(http_port_, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<script src=\"/dashboard.js\""), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos) << "the page loads nothing from elsewhere";
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/dashboard.js").status, 200);
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/dashboard.css").status, 200);
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/nothing-here").status, 404);
  EXPECT_EQ(HttpRequest(http_port_, "POST", "/events").status, 405);
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/events").status, 401);
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/events", {{"Authorization", "Bearer wrong"}}).status,
            401);
  // A token in the URL is not a way in.
  EXPECT_EQ(HttpRequest(http_port_, "GET", "/events?token=demo-komir").status, 401);
}

}  // namespace
}  // namespace msx
