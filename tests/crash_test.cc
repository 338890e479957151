// The journal's promise, end to end: drive swap traffic from several agencies into a real
// msx-server (durability sync, periodic snapshots), kill -9 it at a random moment, restart
// it, and check that
//   * every fill any client was told about (in a reply or on its execution stream) is
//     present exactly once, unchanged, in the restarted server's execution history;
//   * every offer a client was told was accepted still exists;
//   * the journal verifies with a gapless sequence, and sequencing continues after it;
//   * the restarted server's holdings and book equal an offline full replay of the journal.
// 3 rounds by default, 100 with MSX_LONG_TESTS=1 (the soak: scripts/soak.sh).
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;
using testing::TradeOffer;

const char* const kAgencies[] = {"KOMIR", "JOGMEC", "DLA", "CMSR-AU"};
const char* const kTokens[] = {"demo-komir", "demo-jogmec", "demo-dla", "demo-cmsr-au"};
constexpr int kAgencyCount = 4;

// What the clients were told, across all rounds.
struct Told {
  std::mutex mu;
  // (agency index, fill id) -> the fill as told.
  std::map<std::pair<int, std::uint64_t>, std::string> fills;
  std::vector<std::pair<int, std::uint64_t>> offers;  // (agency index, offer id)
  std::uint64_t max_seq = 0;

  void Fill(int agency, const v1::Fill& fill) {
    std::lock_guard<std::mutex> lock(mu);
    fills[{agency, fill.fill_id()}] = fill.SerializeAsString();
  }
};

int Rounds() {
  const char* long_tests = std::getenv("MSX_LONG_TESTS");
  return long_tests != nullptr && std::string(long_tests) == "1" ? 100 : 3;
}

// One agency's traffic until the server goes away: GTC and IOC offers on both sides around
// the fair price, and an occasional cancel of its own last offer.
void Trade(const std::string& address, int agency, int round, std::int64_t price, Told* told) {
  AgencyClient client(address, kTokens[agency]);
  std::mt19937_64 rng(static_cast<std::uint64_t>(round * 100 + agency));
  std::uint64_t last_offer = 0;
  // KOMIR and JOGMEC hold gallium to sell; DLA and CMSR-AU pay with cobalt.
  const bool seller = agency < 2;
  for (std::uint64_t n = 1;; ++n) {
    if (last_offer != 0 && rng() % 5 == 0) {
      v1::CancelOfferResponse cancel;
      grpc::Status s = client.Cancel(last_offer, &cancel);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return;
      last_offer = 0;
      continue;
    }
    const v1::SubmitOfferRequest req = TradeOffer(rng, seller, round, n, price);
    v1::SubmitOfferResponse resp;
    grpc::Status s = client.exchange().SubmitOffer(client.Context(3000).get(), req, &resp);
    if (!s.ok()) {
      // Insufficient holdings and the like are expected; a dead server ends the traffic.
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
          s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return;
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(told->mu);
      told->offers.push_back({agency, resp.offer().offer_id()});
      told->max_seq = std::max<std::uint64_t>(told->max_seq, resp.seq());
    }
    for (const v1::Fill& f : resp.fills()) told->Fill(agency, f);
    if (resp.offer().state() == v1::OFFER_STATE_OPEN) last_offer = resp.offer().offer_id();
  }
}

// The engine state an offline full replay of the journal (no snapshots) arrives at.
struct Replayed {
  std::unique_ptr<ReferenceData> ref;
  std::unique_ptr<Engine> engine;
  Seq last_seq = 0;
};

Replayed ReplayCopy(const std::string& data_dir) {
  Replayed out;
  std::string copy = testing::MakeTempDir("msx-replay");
  std::filesystem::copy(data_dir, copy, std::filesystem::copy_options::recursive |
                                             std::filesystem::copy_options::overwrite_existing);
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  EXPECT_TRUE(ref.ok());
  out.ref = std::make_unique<ReferenceData>(*std::move(ref));
  const ReferenceData* r = out.ref.get();
  journal::RecoveryOptions options;
  options.use_snapshots = false;
  absl::StatusOr<journal::RecoveryResult> result = journal::Recover(
      copy, [r] { return std::make_unique<Engine>(*r, EngineOptions{1 << 16}); }, options);
  EXPECT_TRUE(result.ok()) << result.status();
  if (result.ok()) {
    out.engine = std::move(result->engine);
    out.last_seq = result->last_seq;
  }
  testing::RemoveTree(copy);
  return out;
}

void ExpectServerEqualsReplay(const std::string& address, const Replayed& replay) {
  ASSERT_NE(replay.engine, nullptr);
  AgencyClient admin(address, "demo-admin");
  for (int a = 0; a < kAgencyCount; ++a) {
    v1::GetAgencyHoldingsRequest req;
    req.set_agency(kAgencies[a]);
    v1::GetHoldingsResponse holdings;
    ASSERT_TRUE(admin.admin().GetAgencyHoldings(admin.Context().get(), req, &holdings).ok());
    AgencyId id = *replay.ref->FindAgency(kAgencies[a]);
    for (const v1::Holding& h : holdings.holdings()) {
      HoldingInfo expected =
          replay.engine->GetHoldings(id, *replay.ref->FindInstrument(h.instrument()));
      EXPECT_EQ(h.available(), expected.available) << kAgencies[a] << " " << h.instrument();
      EXPECT_EQ(h.reserved(), expected.reserved) << kAgencies[a] << " " << h.instrument();
    }
  }
  v1::GetBookRequest book_req;
  book_req.set_pair(kGaCo);
  book_req.set_depth(1000);
  v1::BookSnapshot book;
  ASSERT_TRUE(admin.exchange().GetBook(admin.Context().get(), book_req, &book).ok());
  DepthInfo depth = replay.engine->GetDepth(*replay.ref->FindPair(kGaCo), 1000);
  ASSERT_EQ(book.bids_size(), static_cast<int>(depth.bids.size()));
  ASSERT_EQ(book.asks_size(), static_cast<int>(depth.asks.size()));
  for (int i = 0; i < book.bids_size(); ++i) {
    EXPECT_EQ(book.bids(i).price(), depth.bids[i].price);
    EXPECT_EQ(book.bids(i).lots(), depth.bids[i].lots);
  }
  for (int i = 0; i < book.asks_size(); ++i) {
    EXPECT_EQ(book.asks(i).price(), depth.asks[i].price);
    EXPECT_EQ(book.asks(i).lots(), depth.asks[i].lots);
  }
}

TEST(CrashTest, KillNineLosesNoToldFillAndRecoveryEqualsReplay) {
  std::string scratch = testing::MakeTempDir("msx-crash");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_snapshot_every_records(300);  // snapshot + tail recovery
  // Deep holdings, so that the traffic trades instead of running out.
  for (auto& agency : *config.mutable_agencies()) {
    for (auto& h : *agency.mutable_holdings()) {
      if (h.instrument() == "GA-4N" || h.instrument() == "CO-99.8") h.set_amount(1000000000000);
    }
  }
  const std::string config_path = testing::WriteConfig(config, scratch);
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.data_dir = scratch + "/data";
  options.extra_args = {"--config", config_path};
  Told told;
  std::uint64_t stream_seen[kAgencyCount] = {0, 0, 0, 0};
  std::size_t offers_checked = 0;
  std::mt19937 rng(20261123);
  const int rounds = Rounds();

  for (int round = 1; round <= rounds; ++round) {
    ASSERT_TRUE(server.Start(options).ok()) << server.Output();
    const std::string address = server.address();
    {
      AgencyClient probe(address, "demo-komir");
      const std::int64_t price = probe.FairPrice(kGaCo);
      // Streams resume where the previous round's left off: maker fills arrive here.
      std::vector<std::unique_ptr<testing::ExecWatcher>> streams;
      std::vector<std::unique_ptr<AgencyClient>> stream_clients;
      for (int a = 0; a < kAgencyCount; ++a) {
        stream_clients.push_back(std::make_unique<AgencyClient>(address, kTokens[a]));
        streams.push_back(
            testing::WatchExecutions(*stream_clients.back(), kTokens[a], stream_seen[a]));
      }
      std::vector<std::thread> traders;
      for (int a = 0; a < kAgencyCount; ++a) {
        traders.emplace_back(Trade, address, a, round, price, &told);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 500));
      server.Kill();
      for (auto& t : traders) t.join();
      for (int a = 0; a < kAgencyCount; ++a) {
        streams[a]->WaitDone(std::chrono::seconds(10));
        const std::uint64_t resumed_after = stream_seen[a];
        std::uint64_t previous = 0;
        for (const v1::ExecutionReport& r : streams[a]->messages()) {
          EXPECT_GT(r.seq(), resumed_after) << "a resumed stream repeated a report";
          EXPECT_GE(r.seq(), previous) << "reports out of sequence order";
          previous = r.seq();
          // Resume after the last command whose reports arrived completely.
          if (r.seq_complete()) stream_seen[a] = r.seq();
          if (r.has_fill()) told.Fill(a, r.fill());
        }
      }
    }

    // The journal as the crash left it: verifies, gapless from 1, holds all that was told.
    absl::StatusOr<journal::ReadStats> stats = journal::VerifyJournal(options.data_dir);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->first_seq, 1u);
    EXPECT_EQ(stats->commands, stats->last_seq);
    EXPECT_GE(stats->last_seq, told.max_seq);
    Replayed replay = ReplayCopy(options.data_dir);
    EXPECT_EQ(replay.last_seq, stats->last_seq);

    // Restart: the same state as the replay, every told fill exactly once.
    ASSERT_TRUE(server.Start(options).ok()) << server.Output();
    ExpectServerEqualsReplay(server.address(), replay);
    for (int a = 0; a < kAgencyCount; ++a) {
      AgencyClient client(server.address(), kTokens[a]);
      auto history = testing::WatchExecutions(client, kTokens[a], 0);
      // The whole history up to the journal's end, then nothing new (no traffic).
      history->WaitFor([&](const auto& m) { return !m.empty() && m.back().seq() >= stream_seen[a]; },
                       std::chrono::seconds(10));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto [count, content] = testing::TallyFills(history->messages());
      std::lock_guard<std::mutex> lock(told.mu);
      for (const auto& [key, fill] : told.fills) {
        if (key.first != a) continue;
        EXPECT_EQ(count[key.second], 1) << kAgencies[a] << " fill " << key.second;
        EXPECT_EQ(content[key.second], fill) << kAgencies[a] << " fill " << key.second;
      }
    }
    {
      // Every offer acknowledged in this round still exists.
      std::vector<std::unique_ptr<AgencyClient>> clients;
      for (int a = 0; a < kAgencyCount; ++a) {
        clients.push_back(std::make_unique<AgencyClient>(server.address(), kTokens[a]));
      }
      std::lock_guard<std::mutex> lock(told.mu);
      for (std::size_t i = offers_checked; i < told.offers.size(); ++i) {
        v1::Offer offer;
        EXPECT_TRUE(clients[told.offers[i].first]->GetOffer(told.offers[i].second, &offer).ok())
            << "acknowledged offer " << told.offers[i].second << " lost";
      }
      offers_checked = told.offers.size();
    }
    // Sequencing continues right after the journal's end.
    AgencyClient komir(server.address(), "demo-komir");
    v1::SubmitOfferResponse next;
    grpc::Status s = komir.Submit(999000 + round, kGaCo, v1::SIDE_SELL, 1,
                                  komir.FairPrice(kGaCo) + 50, &next);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(next.seq(), stats->last_seq);
    int status = server.Stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
  }
  std::lock_guard<std::mutex> lock(told.mu);
  EXPECT_GT(told.fills.size(), 0u) << "the traffic produced no fills: the test tested nothing";
  std::cout << rounds << " kill -9 rounds: " << told.fills.size() << " told fills and "
            << told.offers.size() << " acknowledged offers checked\n";
  testing::RemoveTree(scratch);
}

}  // namespace
}  // namespace msx
