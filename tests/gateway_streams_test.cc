// End to end on the streams' guarantees: every report exactly once and in order for a
// subscriber that joins while commands flow, only reports after after_seq for a resume
// ahead of the exchange, a resume from seq 0 over a large journal that completes without
// holding up other agencies, and the per-stream and per-agency limits.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;

// Enough gallium and cobalt that holdings never limit a test's trading.
v1::ExchangeConfig RichConfig() {
  v1::ExchangeConfig config = DefaultConfig();
  for (auto& agency : *config.mutable_agencies()) {
    for (auto& h : *agency.mutable_holdings()) h.set_amount(1000000000000);
  }
  return config;
}

class GatewayStreamsTest : public ::testing::Test {
 protected:
  void SetUp() override { scratch_ = testing::MakeTempDir("msx-streams"); }
  void TearDown() override { testing::RemoveTree(scratch_); }

  void StartServer(const v1::ExchangeConfig& config, const std::string& durability,
                   const std::string& data_dir = "") {
    testing::ServerProcess::Options options;
    options.data_dir = data_dir;
    options.extra_args = {"--config", testing::WriteConfig(config, scratch_), "--durability",
                          durability};
    ASSERT_TRUE(server_.Start(options).ok()) << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
    dla_ = std::make_unique<AgencyClient>(server_.address(), "demo-dla");
  }

  // A resting KOMIR sell and a JOGMEC buy that takes it: two reports for KOMIR (accept,
  // fill) in two commands. Returns the buy's seq (0 on failure).
  std::uint64_t Trade(std::uint64_t client_id, std::int64_t lots, std::int64_t price) {
    v1::SubmitOfferResponse sell, buy;
    if (!komir_->Submit(client_id, kGaCo, v1::SIDE_SELL, lots, price, &sell).ok()) return 0;
    if (!jogmec_->Submit(client_id, kGaCo, v1::SIDE_BUY, lots, price, &buy).ok()) return 0;
    return buy.seq();
  }

  std::string scratch_;
  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_, dla_;
};

// (seq, kind, fill or offer id): what identifies a report.
std::string KeyOf(const v1::ExecutionReport& r) {
  std::string kind = r.has_fill() ? "fill" : r.has_accepted() ? "accepted" : "other";
  std::uint64_t id = r.has_fill() ? r.fill().fill_id()
                     : r.has_accepted() ? r.accepted().offer().offer_id()
                                        : 0;
  return std::to_string(r.seq()) + "/" + kind + "/" + std::to_string(id);
}

// Every report of `got` exactly once and in order, and nothing else: `got` must equal
// `want` (the whole history) from its first report with seq > after on.
void ExpectExactlyTheReportsAfter(const std::vector<v1::ExecutionReport>& want,
                                  const std::vector<v1::ExecutionReport>& got, std::uint64_t after,
                                  const std::string& what) {
  std::set<std::string> seen;
  for (const auto& r : got) {
    EXPECT_TRUE(seen.insert(KeyOf(r)).second) << what << ": delivered twice: " << KeyOf(r);
    EXPECT_GT(r.seq(), after) << what << ": at or below after_seq: " << KeyOf(r);
  }
  std::vector<std::string> expected;
  for (const auto& r : want) {
    if (r.seq() > after) expected.push_back(KeyOf(r));
  }
  std::vector<std::string> actual;
  for (const auto& r : got) actual.push_back(KeyOf(r));
  EXPECT_EQ(actual, expected) << what;
}

TEST_F(GatewayStreamsTest, SubscribersJoiningUnderLoadGetEveryReportExactlyOnce) {
  // Under `sync` commands queue behind each fdatasync, so a subscription lands in a group
  // commit together with commands sequenced before it: the case that duplicated reports.
  StartServer(RichConfig(), "sync");
  const std::int64_t price = komir_->FairPrice(kGaCo);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> next_id{1};
  std::vector<std::thread> traders;
  for (int t = 0; t < 4; ++t) {
    traders.emplace_back([&] {
      while (!stop.load()) Trade(next_id.fetch_add(1), 1, price);
    });
  }
  std::vector<std::unique_ptr<testing::ExecWatcher>> watchers;
  std::vector<std::unique_ptr<testing::BookWatcher>> books;
  for (int i = 0; i < 24; ++i) {
    watchers.push_back(testing::WatchExecutions(*komir_, "demo-komir"));
    v1::Exchange::Stub* stub = &komir_->exchange();
    books.push_back(std::make_unique<testing::BookWatcher>(
        "demo-komir", [stub](grpc::ClientContext* ctx) {
          v1::StreamBookRequest req;
          req.set_pair(kGaCo);
          return stub->StreamBook(ctx, req);
        }));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  stop.store(true);
  for (auto& t : traders) t.join();
  // The final history, read once everything is durable.
  auto full = testing::WatchExecutions(*komir_, "demo-komir");
  const std::uint64_t last = Trade(next_id.fetch_add(1), 1, price);
  ASSERT_NE(last, 0u);
  ASSERT_TRUE(full->WaitFor([&](const auto& m) { return !m.empty() && m.back().seq() >= last; }));
  const std::vector<v1::ExecutionReport> all = full->messages();
  ASSERT_GT(all.size(), 200u) << "too little load to test anything";
  for (std::size_t i = 0; i < watchers.size(); ++i) {
    ASSERT_TRUE(watchers[i]->WaitFor(
        [&](const auto& m) { return !m.empty() && m.back().seq() >= last; }))
        << "subscriber " << i << " stalled";
    ExpectExactlyTheReportsAfter(all, watchers[i]->messages(), 0,
                                 "subscriber " + std::to_string(i));
  }
  // Book streams: a snapshot at seq L, then each later command's updates once: no trade
  // print at or below the snapshot's seq, and no seq's trades printed twice.
  for (std::size_t i = 0; i < books.size(); ++i) {
    ASSERT_TRUE(books[i]->WaitFor(
        [&](const auto& m) { return !m.empty() && m.back().seq() >= last; }));
    std::vector<v1::BookUpdate> updates = books[i]->messages();
    ASSERT_TRUE(updates.front().has_snapshot());
    const std::uint64_t snapshot_seq = updates.front().seq();
    std::uint64_t previous = snapshot_seq;
    std::set<std::uint64_t> trade_seqs;
    for (std::size_t k = 1; k < updates.size(); ++k) {
      const v1::BookUpdate& u = updates[k];
      EXPECT_GT(u.seq(), snapshot_seq) << "book " << i << ": update " << k << " repeats";
      EXPECT_GE(u.seq(), previous) << "book " << i << ": out of order";
      previous = u.seq();
      // One trade (lots 1) per buy command in this test.
      if (u.has_trade()) {
        EXPECT_TRUE(trade_seqs.insert(u.seq()).second)
            << "book " << i << ": trade of seq " << u.seq() << " printed twice";
      }
    }
  }
}

TEST_F(GatewayStreamsTest, ResumeAheadOfTheExchangeGetsOnlyLaterReports) {
  StartServer(RichConfig(), "none");
  const std::int64_t price = komir_->FairPrice(kGaCo);
  const std::uint64_t now = Trade(1, 1, price);
  ASSERT_NE(now, 0u);
  // Ahead by 5 commands: the next two trades (seq now+1..now+4) and the first command of
  // the third (now+5) are at or below after_seq; the buy at now+6 is the first report after.
  const std::uint64_t after = now + 5;
  auto ahead = testing::WatchExecutions(*komir_, "demo-komir", after);
  std::uint64_t last = 0;
  for (std::uint64_t id = 2; id <= 6; ++id) last = Trade(id, 1, price);
  ASSERT_EQ(last, now + 10);
  auto full = testing::WatchExecutions(*komir_, "demo-komir");
  ASSERT_TRUE(full->WaitFor([&](const auto& m) { return !m.empty() && m.back().seq() >= last; }));
  ASSERT_TRUE(ahead->WaitFor([&](const auto& m) { return !m.empty() && m.back().seq() >= last; }));
  ExpectExactlyTheReportsAfter(full->messages(), ahead->messages(), after, "resume ahead");
}

}  // namespace
}  // namespace msx
