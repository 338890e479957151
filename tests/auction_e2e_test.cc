// Allocation auctions end to end (issue 15 s.3), through a real msx-server, the `msx`
// command line and gRPC: an operator raises cobalt to WARNING (a call auction every second
// in this test's configuration, at the reference price, at most 40 % of an auction's
// supply per agency), four agencies bid with declared needs and priority tiers, a seller
// rests the supply, and the server's clock runs the auction: DEFENCE first (capped),
// then ESSENTIAL pro rata to need with the largest remainder, GENERAL not at all. Each
// party sees the auction's result and its fills on its stream and in `msx watch`; the
// level drops and continuous trading resumes; a kill -9 and restart replays the same
// fills, `msx-drill verify` replays the journal, and `msx-drill replay --server` sends the
// need-carrying buys to a live server.
//
// The allocation, by hand (engine/matching/AUCTION.md): supply 14 lots at the reference
// price 3,667 (price control: WARNING's band_bps > 0), cap floor(14 x 40 %) = 5 lots.
//   DEFENCE:   DLA needs 10 lots -> 5 (the cap). 9 lots left.
//   ESSENTIAL: KOMIR 30, JOGMEC 20, CMSR-AU 20 (needs in lots, none capped below its share):
//              quotas 9 x 30/70 = 3.857, 9 x 20/70 = 2.571 twice -> floors 3, 2, 2; the two
//              lots left go to the largest remainder (KOMIR, 6/7) and to the earlier of
//              the two 4/7 (JOGMEC, which bid before CMSR-AU): 4, 3, 2.
//   GENERAL:   JOGMEC's earlier GENERAL bid (the first bid of all) gets nothing.
#include <signal.h>
#include <sys/wait.h>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::BuildPath;
using testing::CommandResult;
using testing::ExecWatcher;
using testing::RunCommand;

constexpr char kPair[] = "CO-99.8/LIOH-56.5";  // reference 3,667 kg LIOH per 1,000 kg lot
constexpr std::int64_t kReference = 3667;
constexpr int kExitUsage = 2;
constexpr int kExitPermissionDenied = 17;
constexpr int kExitFailedPrecondition = 19;

template <typename Msg>
Msg ParseJson(const std::string& text) {
  Msg msg;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return msg;
}

std::vector<v1::Fill> AuctionFills(const std::vector<v1::ExecutionReport>& reports) {
  std::vector<v1::Fill> out;
  for (const auto& r : reports) {
    if (r.has_fill() && r.fill().auction()) out.push_back(r.fill());
  }
  return out;
}

std::int64_t LotsOf(const std::vector<v1::Fill>& fills) {
  std::int64_t lots = 0;
  for (const auto& f : fills) lots += f.lots();
  return lots;
}

// The first auction result on `reports` (which must outlive it), or nullptr.
const v1::AuctionResult* ResultOf(const std::vector<v1::ExecutionReport>& reports) {
  for (const auto& r : reports) {
    if (r.has_auction()) return &r.auction();
  }
  return nullptr;
}

class AuctionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::MakeTempDir("msx-auction");
    v1::ExchangeConfig config = DefaultConfig();
    bool found = false;
    for (auto& p : *config.mutable_level_policies()) {
      if (p.level() != v1::EMERGENCY_LEVEL_WARNING) continue;
      p.set_auction_interval_seconds(1);  // fast ticks; the rest of WARNING as shipped
      EXPECT_EQ(p.agency_cap_bps(), 4000);
      EXPECT_GT(p.band_bps(), 0);
      found = true;
    }
    ASSERT_TRUE(found) << "the default configuration lists WARNING's policy";
    config_path_ = testing::WriteConfig(config, scratch_);
    Start();
  }
  void TearDown() override { testing::RemoveTree(scratch_); }

  void Start() {
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/data";
    options.extra_args = {"--config", config_path_};
    const absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started << server_.Output();
  }

  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                      std::chrono::seconds(20));
  }

  // `msx buy` with a need (base units) and a tier; returns the offer.
  v1::Offer Buy(const std::string& token, int lots, std::int64_t need, const std::string& tier) {
    const CommandResult r =
        Msx(token, {"buy", "--pair", kPair, "--lots", std::to_string(lots), "--price", "3700",
                    "--need", std::to_string(need), "--tier", tier, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::SubmitOfferResponse>(r.out).offer();
  }

  v1::SubmitOfferResponse Sell(const std::string& token, int lots, std::int64_t price) {
    const CommandResult r = Msx(token, {"sell", "--pair", kPair, "--lots", std::to_string(lots),
                                        "--price", std::to_string(price), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::SubmitOfferResponse>(r.out);
  }

  void SetLevel(const std::string& level) {
    const CommandResult r =
        Msx("demo-admin", {"admin", "set-level", "CO-99.8", level, "--reason", "drill"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  v1::GetHoldingsResponse Holdings(const std::string& token) {
    const CommandResult r = Msx(token, {"holdings", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::GetHoldingsResponse>(r.out);
  }

  static void ExpectError(const CommandResult& r, int exit_code, const std::string& text) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, text)) << r.err;
  }

  std::string scratch_, config_path_;
  testing::ServerProcess server_;
};

TEST_F(AuctionE2eTest, WarningAllocatesByTierProRataAndCapThenContinuousTradingResumes) {
  const std::vector<std::string> parties = {"DLA", "KOMIR", "JOGMEC", "CMSR-AU", "NRCAN"};
  std::map<std::string, std::unique_ptr<AgencyClient>> clients;
  std::map<std::string, std::unique_ptr<ExecWatcher>> streams;
  auto token = [](const std::string& agency) {
    std::string t = "demo-" + agency;
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
  };
  for (const std::string& a : parties) {
    clients[a] = std::make_unique<AgencyClient>(server_.address(), token(a));
    streams[a] = testing::WatchExecutions(*clients[a], token(a));
  }
  ASSERT_EQ(Msx("demo-admin", {"set-holdings", "DLA", "LIOH-56.5", "1000000"}).exit_code, 0);
  SetLevel("warning");

  // Refusals name the field with the precise code.
  ExpectError(Msx("demo-komir", {"buy", "--pair", kPair, "--lots", "1", "--price", "3700",
                                 "--need", "1000", "--tier", "defence"}),
              kExitPermissionDenied,
              "PERMISSION_DENIED: REJECT_REASON_TIER_NOT_ALLOWED: priority_tier");
  ExpectError(Msx("demo-komir", {"buy", "--pair", kPair, "--lots", "1", "--price", "3700",
                                 "--need", "1000", "--tif", "ioc"}),
              kExitFailedPrecondition,
              "FAILED_PRECONDITION: REJECT_REASON_CALL_AUCTION_ONLY: time_in_force");
  ExpectError(Msx("demo-nrcan", {"sell", "--pair", kPair, "--lots", "1", "--price", "3600",
                                 "--need", "1000"}),
              kExitUsage, "--need is for buys");
  {  // gRPC directly: a need on a sell.
    v1::SubmitOfferRequest req;
    req.set_client_offer_id(1);
    req.set_pair(kPair);
    req.set_side(v1::SIDE_SELL);
    req.set_lots(1);
    req.set_price(3600);
    req.set_declared_need(1000);
    v1::SubmitOfferResponse resp;
    const grpc::Status s =
        clients["NRCAN"]->exchange().SubmitOffer(clients["NRCAN"]->Context().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_INVALID_NEED: declared_need"))
        << s.error_message();
  }

  // The bids (in this order: time priority breaks the ESSENTIAL tie), then the supply in
  // one offer, so that no tick sees part of it.
  const v1::Offer general = Buy("demo-jogmec", 20, 20000, "general");
  const v1::Offer dla = Buy("demo-dla", 10, 10000, "defence");
  const v1::Offer komir = Buy("demo-komir", 30, 30000, "essential");
  const v1::Offer jogmec = Buy("demo-jogmec", 20, 20000, "essential");
  const v1::Offer cmsr = Buy("demo-cmsr-au", 20, 20000, "essential");
  EXPECT_EQ(dla.declared_need(), 10000);
  EXPECT_EQ(dla.priority_tier(), v1::PRIORITY_TIER_DEFENCE);
  EXPECT_EQ(general.priority_tier(), v1::PRIORITY_TIER_GENERAL);
  for (const v1::Offer* o : {&general, &dla, &komir, &jogmec, &cmsr}) {
    EXPECT_EQ(o->state(), v1::OFFER_STATE_OPEN);
  }
  const v1::SubmitOfferResponse supply = Sell("demo-nrcan", 14, 3600);
  EXPECT_EQ(supply.fills_size(), 0) << "a book in call-auction mode does not match";

  // The server's clock runs the auction within a second.
  ASSERT_TRUE(streams["NRCAN"]->WaitFor(
      [](const auto& m) { return LotsOf(AuctionFills(m)) == 14; }, std::chrono::seconds(15)))
      << server_.Output();
  const std::map<std::string, std::int64_t> expected = {
      {"DLA", 5}, {"KOMIR", 4}, {"JOGMEC", 3}, {"CMSR-AU", 2}};
  std::map<std::string, std::vector<v1::Fill>> fills;
  for (const auto& [agency, lots] : expected) {
    ExecWatcher& s = *streams[agency];
    ASSERT_TRUE(s.WaitFor([&](const auto& m) { return LotsOf(AuctionFills(m)) == lots; }))
        << agency;
    fills[agency] = AuctionFills(s.messages());
    for (const v1::Fill& f : fills[agency]) {
      EXPECT_EQ(f.price(), kReference) << agency;
      EXPECT_EQ(f.counterparty(), "NRCAN") << agency;
      EXPECT_EQ(f.side(), v1::SIDE_BUY) << agency;
      EXPECT_FALSE(f.aggressor()) << agency;
      EXPECT_EQ(f.base_amount(), f.lots() * 1000) << agency;
      EXPECT_EQ(f.quote_amount(), f.lots() * kReference) << agency;
      if (agency == "JOGMEC") {
        EXPECT_EQ(f.offer_id(), jogmec.offer_id()) << "not GENERAL";
      }
    }
    const std::vector<v1::ExecutionReport> messages = s.messages();
    const v1::AuctionResult* result = ResultOf(messages);
    ASSERT_NE(result, nullptr) << agency;
    EXPECT_EQ(result->pair(), kPair);
    EXPECT_EQ(result->price(), kReference);
    EXPECT_EQ(result->executed_lots(), 14);
    EXPECT_EQ(result->supply_lots(), 14);
    EXPECT_EQ(result->demand_lots(), 100);  // every claim: 20 + 10 + 30 + 20 + 20
    EXPECT_EQ(result->agency_cap_lots(), 5);
    EXPECT_EQ(result->bought_lots(), lots) << agency;
    EXPECT_EQ(result->sold_lots(), 0) << agency;
  }
  // Tier by tier: DEFENCE's fill comes first.
  for (const char* essential : {"KOMIR", "JOGMEC", "CMSR-AU"}) {
    EXPECT_LT(fills["DLA"].front().fill_id(), fills[essential].front().fill_id()) << essential;
  }
  const std::vector<v1::ExecutionReport> nrcan = streams["NRCAN"]->messages();
  const v1::AuctionResult* sold = ResultOf(nrcan);
  ASSERT_NE(sold, nullptr);
  EXPECT_EQ(sold->sold_lots(), 14);
  EXPECT_EQ(sold->bought_lots(), 0);
  // Nobody else was told of an auction it took no part in.
  for (const auto& r : streams["DLA"]->messages()) {
    if (r.has_auction()) {
      EXPECT_EQ(r.auction().bought_lots(), 5);
    }
  }
  // The buyer paid the auction price; the rest of its reservation at 3,700 is still held
  // only for the 5 lots left open.
  const v1::GetHoldingsResponse dla_holdings = Holdings("demo-dla");
  for (const auto& h : dla_holdings.holdings()) {
    if (h.instrument() == "CO-99.8") {
      EXPECT_EQ(h.available(), 1500000 + 5000);
    }
    if (h.instrument() == "LIOH-56.5") {
      EXPECT_EQ(h.reserved(), 5 * 3700);
      EXPECT_EQ(h.available() + h.reserved(), 1000000 - 5 * kReference);
    }
  }
  // In words, on `msx watch`.
  const CommandResult words =
      Msx("demo-dla", {"watch", "--count", std::to_string(streams["DLA"]->messages().size())});
  ASSERT_EQ(words.exit_code, 0) << words.err;
  EXPECT_TRUE(absl::StrContains(words.out, "auction CO-99.8/LIOH-56.5 at 3,667")) << words.out;
  EXPECT_TRUE(absl::StrContains(words.out, "14 of 14 lots executed")) << words.out;
  EXPECT_TRUE(absl::StrContains(words.out, "you bought 5, sold 0")) << words.out;
  EXPECT_TRUE(absl::StrContains(words.out, "allocated by auction")) << words.out;
  const CommandResult offer = Msx("demo-dla", {"offer", std::to_string(dla.offer_id())});
  ASSERT_EQ(offer.exit_code, 0) << offer.err;
  EXPECT_TRUE(absl::StrContains(offer.out, "need 10,000 kg CO-99.8 (DEFENCE)")) << offer.out;

  // 2. Back to NORMAL: continuous matching, price-time priority, no tiers. DERA's sale
  // meets the earliest bid at 3,700: JOGMEC's GENERAL bid, which the auction left alone.
  SetLevel("normal");
  const v1::SubmitOfferResponse cont = Sell("demo-dera", 2, 3650);
  ASSERT_EQ(cont.fills_size(), 1);
  EXPECT_EQ(cont.fills(0).counterparty(), "JOGMEC");
  EXPECT_EQ(cont.fills(0).price(), 3700);
  EXPECT_EQ(cont.fills(0).lots(), 2);
  EXPECT_TRUE(cont.fills(0).aggressor());
  EXPECT_FALSE(cont.fills(0).auction());
  ASSERT_TRUE(streams["JOGMEC"]->WaitFor([&](const auto& m) {
    for (const auto& r : m) {
      if (r.has_fill() && r.fill().offer_id() == general.offer_id()) return true;
    }
    return false;
  }));

  // 3. kill -9: the restarted server replays the same fills (the history stream reads
  // them back from the journal) and the same holdings.
  const v1::GetHoldingsResponse before = Holdings("demo-dla");
  streams.clear();
  clients.clear();
  server_.Kill();
  Start();
  EXPECT_EQ(Holdings("demo-dla").SerializeAsString(), before.SerializeAsString());
  AgencyClient dla_client(server_.address(), "demo-dla");
  auto history = testing::WatchExecutions(dla_client, "demo-dla");
  ASSERT_TRUE(history->WaitFor([](const auto& m) { return LotsOf(AuctionFills(m)) == 5; }));
  const std::vector<v1::Fill> replayed = AuctionFills(history->messages());
  ASSERT_EQ(replayed.size(), fills["DLA"].size());
  for (std::size_t i = 0; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].SerializeAsString(), fills["DLA"][i].SerializeAsString()) << i;
  }
  history.reset();

  // 4. The journal replays to the same state.
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  const CommandResult v = RunCommand(
      {BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"}, {},
      std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_TRUE(absl::StartsWith(v.out, "OK: ")) << v.out;

  // 5. `msx-drill replay --server` sends the buys with their needs and tiers to a live
  // server (a fresh one on the embedded configuration: whether its own minute ticks run an
  // auction during the replay depends on the wall clock, so only the offers are checked).
  testing::ServerProcess fresh;
  testing::ServerProcess::Options fresh_options;
  fresh_options.data_dir = scratch_ + "/fresh";
  const absl::Status started = fresh.Start(fresh_options);
  ASSERT_TRUE(started.ok()) << started << fresh.Output();
  const CommandResult live = RunCommand({BuildPath("clients/drill/msx-drill"), "replay",
                                         scratch_ + "/data", "--server", fresh.address(),
                                         "--speed", "max"},
                                        {}, std::chrono::seconds(120));
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  AgencyClient fresh_komir(fresh.address(), "demo-komir");
  v1::ListOffersResponse offers;
  const grpc::Status listed = fresh_komir.exchange().ListOffers(
      fresh_komir.Context().get(), v1::ListOffersRequest(), &offers);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(offers.offers_size(), 1) << live.out;
  EXPECT_EQ(offers.offers(0).declared_need(), 30000);
  EXPECT_EQ(offers.offers(0).priority_tier(), v1::PRIORITY_TIER_ESSENTIAL);
}

}  // namespace
}  // namespace msx
