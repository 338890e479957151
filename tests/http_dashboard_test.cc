// The dashboard's event stream under load: a browser that stops reading costs the server
// one message, not a queue (it is sent the latest state when it reads again, having
// skipped what changed meanwhile), and an agency's stream carries only its own section.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/gateway_test_client.h"
#include "tests/testing/event_client.h"
#include "tests/testing/http_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::EventClient;
using testing::HttpRequest;
using testing::ParsePrometheus;

class HttpDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcess::Options opts;
    opts.extra_args = {"--http", "127.0.0.1:0", "--durability", "none"};
    ASSERT_TRUE(server_.Start(opts).ok()) << server_.Output();
    http_port_ = testing::HttpPortFromBanner(server_.Output());
    ASSERT_GT(http_port_, 0) << server_.Output();
  }

  double Metric(const std::string& name) {
    return ParsePrometheus(HttpRequest(http_port_, "GET", "/metrics").body)[name];
  }

  testing::ServerProcess server_;
  int http_port_ = 0;
};

TEST_F(HttpDashboardTest, AStalledBrowserCostsOneMessageAndGetsTheLatestStateWhenItReads) {
  const auto started = std::chrono::steady_clock::now();
  EventClient stalled(http_port_, "demo-admin", /*rcvbuf=*/4096);
  EventClient reader(http_port_, "demo-admin");
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(reader.connected());
  std::atomic<bool> done{false};
  std::thread read_thread([&] {
    while (!done.load()) {
      reader.ReadUntilQuiet(std::chrono::milliseconds(100), std::chrono::milliseconds(200));
    }
  });
  // Traffic on every pair with holdings for a few seconds, while `stalled` reads nothing.
  testing::CommandResult load = testing::RunCommand(
      {testing::BuildPath("clients/loadgen/msx-loadgen"), "--server", server_.address(),
       "--rate", "1500", "--duration", "5", "--quiet", "--exec-stream", "none"});
  ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
  // Both streams are open; whatever the stalled one has not taken is at most one message.
  EXPECT_EQ(Metric("msx_dashboard_clients"), 2);
  const double buffered = Metric("msx_dashboard_buffered_bytes");
  EXPECT_LE(buffered, 512 * 1024) << "the server is queueing for the stalled stream";
  // Let the last changes reach the fast reader, then stop it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  done = true;
  read_thread.join();
  reader.ReadUntilQuiet(std::chrono::milliseconds(300));
  // The fast reader got each busy pair's section at most once per kPairSectionEveryNs
  // (changes in between folded in), not at every tick.
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::map<std::string, int> pair_messages;
  for (const auto& j : reader.Events("pair")) ++pair_messages[j["pair"]];
  int busiest = 0;
  for (const auto& [pair, n] : pair_messages) {
    busiest = std::max(busiest, n);
    EXPECT_LE(n, elapsed_s / 0.25 + 2) << pair << ": " << n << " sections in " << elapsed_s << " s";
  }
  EXPECT_GE(busiest, 3) << "no pair was busy: the bound was not tested";
  // The stalled browser reads again: it catches up with the newest state...
  stalled.ReadUntilQuiet(std::chrono::milliseconds(1500));
  std::map<std::string, nlohmann::json> fast_last, slow_last;
  for (const auto& j : reader.Events("pair")) fast_last[j["pair"]] = j;
  for (const auto& j : stalled.Events("pair")) slow_last[j["pair"]] = j;
  ASSERT_FALSE(fast_last.empty());
  std::size_t traded = 0;
  for (const auto& [pair, j] : fast_last) {
    ASSERT_TRUE(slow_last.count(pair)) << pair;
    EXPECT_EQ(slow_last[pair].dump(), j.dump()) << pair << ": the stalled stream is not current";
    if (!j["trades"].empty()) ++traded;
  }
  EXPECT_GT(traded, 0u) << "the load made no trades";
  // ...having skipped the versions it could not take: far fewer bytes than the reader got.
  // A server that queued every message for it would have sent it the same stream.
  EXPECT_LT(stalled.data().size() * 2, reader.data().size())
      << "stalled " << stalled.data().size() << " bytes, reader " << reader.data().size();
}

TEST_F(HttpDashboardTest, AnAgencyStreamCarriesOnlyThatAgencysSection) {
  EventClient komir(http_port_, "demo-komir");
  EventClient admin(http_port_, "demo-admin");
  ASSERT_TRUE(komir.connected() && admin.connected());
  testing::AgencyClient client(server_.address(), "demo-komir");
  v1::SubmitOfferResponse resp;
  const std::int64_t price = client.FairPrice(testing::kGaCo);
  ASSERT_TRUE(client.Submit(1, testing::kGaCo, v1::SIDE_SELL, 1, price, &resp).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  komir.ReadUntilQuiet(std::chrono::milliseconds(300));
  admin.ReadUntilQuiet(std::chrono::milliseconds(300));
  auto hello = komir.Events("hello");
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(hello[0]["agency"], "KOMIR");
  EXPECT_EQ(hello[0]["agencies"], nlohmann::json::array({"KOMIR"}));
  std::set<std::string> seen;
  for (const auto& j : komir.Events("agency")) seen.insert(j["agency"]);
  EXPECT_EQ(seen, std::set<std::string>{"KOMIR"});
  bool has_offer = false;
  for (const auto& j : komir.Events("agency")) {
    for (const auto& o : j["offers"]) has_offer |= o["offer_id"] == resp.offer().offer_id();
  }
  EXPECT_TRUE(has_offer) << "KOMIR's open offer is not on its dashboard";
  // The status panel: a server without replication is its own primary.
  auto status = admin.Events("status");
  ASSERT_FALSE(status.empty());
  EXPECT_EQ(status.back()["role"], "primary");
  EXPECT_TRUE(status.back()["replication"].is_null());
  std::set<std::string> admin_seen;
  for (const auto& j : admin.Events("agency")) admin_seen.insert(j["agency"]);
  EXPECT_GT(admin_seen.size(), 1u) << "the admin sees every agency";
  // Public sections carry no agency: a book is prices and lots, as GetBook.
  for (const auto& j : komir.Events("pair")) {
    EXPECT_EQ(j.dump().find("KOMIR"), std::string::npos);
    EXPECT_EQ(j.dump().find("counterparty"), std::string::npos);
  }
}

// Time swaps: both parties of a loan see it on their own card, naming each other, with
// what is owed; a third agency's stream does not carry it.
TEST_F(HttpDashboardTest, ALoanIsOnTheLendersAndTheBorrowersCardsOnly) {
  EventClient komir(http_port_, "demo-komir");
  EventClient jogmec(http_port_, "demo-jogmec");
  EventClient dla(http_port_, "demo-dla");
  ASSERT_TRUE(komir.connected() && jogmec.connected() && dla.connected());
  auto msx = [&](const std::string& token, std::vector<std::string> args) {
    args.insert(args.begin(), testing::BuildPath("clients/msx/msx"));
    return testing::RunCommand(args, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                               std::chrono::seconds(20));
  };
  ASSERT_EQ(msx("demo-komir", {"lend", "CO-99.8@30D", "3", "150"}).exit_code, 0);
  ASSERT_EQ(msx("demo-jogmec", {"borrow", "CO-99.8@30D", "3", "150"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (EventClient* c : {&komir, &jogmec, &dla}) c->ReadUntilQuiet(std::chrono::milliseconds(300));
  auto last_obligations = [](EventClient& c) {
    auto sections = c.Events("agency");
    return sections.empty() ? nlohmann::json() : sections.back()["obligations"];
  };
  const nlohmann::json lent = last_obligations(komir);
  const nlohmann::json owed = last_obligations(jogmec);
  ASSERT_EQ(lent.size(), 1u) << lent.dump();
  ASSERT_EQ(owed.size(), 1u) << owed.dump();
  EXPECT_EQ(lent[0]["role"], "lender");
  EXPECT_EQ(lent[0]["counterparty"], "JOGMEC");
  EXPECT_EQ(owed[0]["role"], "borrower");
  EXPECT_EQ(owed[0]["counterparty"], "KOMIR");
  EXPECT_EQ(lent[0]["obligation_id"], owed[0]["obligation_id"]);
  EXPECT_EQ(lent[0]["term_book"], "CO-99.8@30D");
  EXPECT_EQ(lent[0]["state"], "open");
  EXPECT_GT(lent[0]["due_amount"].get<std::int64_t>(), 0);
  EXPECT_EQ(lent[0]["outstanding"], lent[0]["due_amount"]);
  EXPECT_EQ(last_obligations(dla), nlohmann::json::array()) << "DLA is not a party";
}

// Each pair's section carries its emergency level and live band, read from the engine (the
// same values ListPairs gives), so the emergency regime shows beside the book.
TEST_F(HttpDashboardTest, APairsSectionCarriesItsLevelAndLiveBand) {
  EventClient admin(http_port_, "demo-admin");
  ASSERT_TRUE(admin.connected());
  // Past one query period (the first sections may predate the first query).
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  admin.ReadUntilQuiet(std::chrono::milliseconds(300));
  std::map<std::string, nlohmann::json> latest;
  for (const nlohmann::json& p : admin.Events("pair")) latest[p["pair"]] = p;
  ASSERT_FALSE(latest.empty());
  testing::AgencyClient grpc_client(server_.address(), "demo-admin");
  for (const auto& [symbol, section] : latest) {
    const v1::Pair pair = grpc_client.Pair(symbol);
    ASSERT_EQ(pair.symbol(), symbol);
    EXPECT_EQ(section["emergency_level"], "NORMAL") << symbol;
    EXPECT_EQ(section["band"]["reference"], pair.reference_price()) << symbol;
    EXPECT_EQ(section["band"]["low"], pair.band_low()) << symbol;
    EXPECT_EQ(section["band"]["high"], pair.band_high()) << symbol;
  }
}

}  // namespace
}  // namespace msx
