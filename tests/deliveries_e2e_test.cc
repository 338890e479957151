// Deliveries end to end (issue 15 s.3, deliver-by), through a real msx-server, the `msx`
// command line and gRPC: an operator raises cobalt to WARNING (kept continuous in this
// configuration), JOGMEC sells gallium for cobalt and KOMIR buys it; both fill reports
// carry the deliver-by of FORGE's window (2 days here), and each party's stream reports
// the two deliveries. The deliverer cannot confirm, the receiver can (once); the clock
// moves past deliver-by and the unconfirmed leg falls overdue on both streams and shows
// as OVERDUE in `msx deliveries`. A kill -9 loses none of it, and `msx-drill verify`
// replays the journal.
#include <signal.h>
#include <sys/wait.h>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
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
using testing::RunCommand;

constexpr char kPair[] = "GA-4N/CO-99.8";
constexpr std::int64_t kDay = 86'400'000'000'000;
constexpr int kExitNotFound = 15;
constexpr int kExitPermissionDenied = 17;
constexpr int kExitFailedPrecondition = 19;

template <typename Msg>
Msg ParseJson(const std::string& text) {
  Msg msg;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return msg;
}

std::vector<v1::DeliveryReport> DeliveryReports(const std::vector<v1::ExecutionReport>& reports,
                                                v1::DeliveryEventKind kind) {
  std::vector<v1::DeliveryReport> out;
  for (const auto& r : reports) {
    if (r.has_delivery() && r.delivery().kind() == kind) out.push_back(r.delivery());
  }
  return out;
}

class DeliveriesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::MakeTempDir("msx-deliveries");
    v1::ExchangeConfig config = DefaultConfig();
    config.mutable_server()->set_allow_clock_advance(true);
    // WARNING matches continuously here, so that plain offers fill at it.
    v1::LevelPolicyConfig* warning = nullptr;
    for (auto& p : *config.mutable_level_policies()) {
      if (p.level() == v1::EMERGENCY_LEVEL_WARNING) warning = &p;
    }
    if (warning == nullptr) warning = config.add_level_policies();
    warning->set_level(v1::EMERGENCY_LEVEL_WARNING);
    if (WarningAuctions()) {
      // A call auction every second (band as shipped), no cap: one seller, one buyer.
      warning->set_matching_mode(v1::MATCHING_MODE_CALL_AUCTION);
      warning->set_auction_interval_seconds(1);
      warning->set_agency_cap_bps(10000);
    } else {
      warning->set_matching_mode(v1::MATCHING_MODE_CONTINUOUS);
      warning->set_auction_interval_seconds(0);
      warning->set_band_bps(0);
    }
    for (auto& ag : *config.mutable_agreements()) {
      if (ag.name() == "FORGE") ag.set_delivery_window_days(2);
    }
    config_path_ = testing::WriteConfig(config, scratch_);
    Start();
  }
  void TearDown() override { testing::RemoveTree(scratch_); }
  virtual bool WarningAuctions() const { return false; }

  void Start() {
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/data";
    options.extra_args = {"--config", config_path_};
    const absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
  }

  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                      std::chrono::seconds(20));
  }

  v1::ListDeliveriesResponse Deliveries(const std::string& token,
                                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"deliveries", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = Msx(token, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::ListDeliveriesResponse>(r.out);
  }

  // Starts `fresh` on the data dir `name` with the same configuration and replays the
  // journal to it (`msx-drill replay --server` at `speed`, then `extra`).
  CommandResult ReplayToFresh(const std::string& name, const std::string& speed,
                              std::vector<std::string> extra, testing::ServerProcess* fresh) {
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/" + name;
    options.extra_args = {"--config", config_path_};
    const absl::Status started = fresh->Start(options);
    EXPECT_TRUE(started.ok()) << started << fresh->Output();
    std::vector<std::string> argv = {BuildPath("clients/drill/msx-drill"), "replay",
                                     scratch_ + "/data", "--server", fresh->address(),
                                     "--speed", speed};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv, {}, std::chrono::seconds(120));
  }

  // Every delivery on `fresh`, as the admin lists them.
  static v1::ListDeliveriesResponse LiveDeliveries(const testing::ServerProcess& fresh) {
    const CommandResult r =
        RunCommand({BuildPath("clients/msx/msx"), "deliveries", "--json"},
                   {"MSX_SERVER=" + fresh.address(), "MSX_TOKEN=demo-admin"},
                   std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::ListDeliveriesResponse>(r.out);
  }

  static void ExpectError(const CommandResult& r, int exit_code, const std::string& code,
                          const std::string& field) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    EXPECT_TRUE(absl::StartsWith(r.err, "msx: " + code + ": ")) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, field)) << r.err;
  }

  std::string scratch_, config_path_;
  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_;
};

TEST_F(DeliveriesE2eTest, WarningFillsCarryDeliverByAndOverdueDeliveriesShow) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  ASSERT_EQ(Msx("demo-admin", {"admin", "set-level", "CO-99.8", "warning", "--reason",
                               "export ban"})
                .exit_code,
            0);
  const std::int64_t price = komir_->Pair(kPair).reference_price();
  ASSERT_GT(price, 0);
  const CommandResult sell =
      Msx("demo-jogmec", {"submit", "--pair", kPair, "--side", "sell", "--lots", "2", "--price",
                          std::to_string(price), "--json"});
  ASSERT_EQ(sell.exit_code, 0) << sell.err;
  const CommandResult buy =
      Msx("demo-komir", {"submit", "--pair", kPair, "--side", "buy", "--lots", "2", "--price",
                         std::to_string(price), "--json"});
  ASSERT_EQ(buy.exit_code, 0) << buy.err;
  const auto bought = ParseJson<v1::SubmitOfferResponse>(buy.out);
  ASSERT_EQ(bought.fills_size(), 1) << buy.out;

  // 1. Both fill reports carry deliver-by = fill time + FORGE's 2 days; both streams
  // report the two deliveries (GA from JOGMEC to KOMIR, then CO from KOMIR to JOGMEC).
  for (auto* stream : {komir_stream.get(), jogmec_stream.get()}) {
    ASSERT_TRUE(stream->WaitFor([](const auto& m) {
      return DeliveryReports(m, v1::DELIVERY_EVENT_KIND_OPENED).size() == 2;
    }));
    std::int64_t fill_time = 0, deliver_by = 0;
    for (const auto& r : stream->messages()) {
      if (r.has_fill()) {
        fill_time = r.time_ns();
        deliver_by = r.fill().deliver_by_ns();
      }
    }
    EXPECT_EQ(deliver_by, fill_time + 2 * kDay);
    const auto opened = DeliveryReports(stream->messages(), v1::DELIVERY_EVENT_KIND_OPENED);
    EXPECT_EQ(opened[0].delivery().instrument(), "GA-4N");
    EXPECT_EQ(opened[0].delivery().deliverer(), "JOGMEC");
    EXPECT_EQ(opened[0].delivery().receiver(), "KOMIR");
    EXPECT_EQ(opened[0].delivery().agreement(), "FORGE");
    EXPECT_EQ(opened[1].delivery().instrument(), "CO-99.8");
    EXPECT_EQ(opened[1].delivery().deliverer(), "KOMIR");
    EXPECT_EQ(opened[1].delivery().amount(), 2 * price);
    EXPECT_EQ(opened[1].delivery().deliver_by_ns(), deliver_by);
  }
  const v1::ListDeliveriesResponse listed = Deliveries("demo-komir");
  ASSERT_EQ(listed.deliveries_size(), 2);
  const std::uint64_t gallium = listed.deliveries(0).delivery_id();
  const std::uint64_t cobalt = listed.deliveries(1).delivery_id();
  EXPECT_EQ(listed.deliveries(0).state(), v1::DELIVERY_STATE_PENDING);
  EXPECT_EQ(listed.deliveries(0).amount(), 2 * 100000);  // 2 lots of 100,000 g

  // 2. Only the receiver confirms, once; unknown ids are named.
  ExpectError(Msx("demo-jogmec", {"confirm-delivery", std::to_string(gallium)}),
              kExitPermissionDenied, "PERMISSION_DENIED",
              "REJECT_REASON_NOT_DELIVERY_PARTY: delivery_id");
  ExpectError(Msx("demo-dla", {"confirm-delivery", std::to_string(gallium)}),
              kExitPermissionDenied, "PERMISSION_DENIED", "delivery_id");
  ExpectError(Msx("demo-komir", {"confirm-delivery", "999"}), kExitNotFound, "NOT_FOUND",
              "REJECT_REASON_UNKNOWN_DELIVERY: delivery_id");
  const CommandResult confirmed = Msx("demo-komir", {"confirm-delivery", std::to_string(gallium)});
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.err;
  EXPECT_TRUE(absl::StrContains(confirmed.out, "confirmed")) << confirmed.out;
  ExpectError(Msx("demo-komir", {"confirm-delivery", std::to_string(gallium)}),
              kExitFailedPrecondition, "FAILED_PRECONDITION",
              "REJECT_REASON_DELIVERY_ALREADY_CONFIRMED");

  // 3. Past deliver-by the cobalt leg falls overdue: both streams, and `msx deliveries`.
  v1::AdvanceClockRequest adv;
  adv.set_advance_ns(3 * kDay);
  v1::AdvanceClockResponse adv_resp;
  AgencyClient admin(server_.address(), "demo-admin");
  grpc::Status s = admin.admin().AdvanceClock(admin.Context().get(), adv, &adv_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (auto* stream : {komir_stream.get(), jogmec_stream.get()}) {
    ASSERT_TRUE(stream->WaitFor([](const auto& m) {
      return !DeliveryReports(m, v1::DELIVERY_EVENT_KIND_OVERDUE).empty();
    }));
    const auto overdue = DeliveryReports(stream->messages(), v1::DELIVERY_EVENT_KIND_OVERDUE);
    ASSERT_EQ(overdue.size(), 1u);
    EXPECT_EQ(overdue[0].delivery().delivery_id(), cobalt);
    EXPECT_EQ(overdue[0].delivery().state(), v1::DELIVERY_STATE_OVERDUE);
  }
  const v1::ListDeliveriesResponse late = Deliveries("demo-jogmec", {"--state", "overdue"});
  ASSERT_EQ(late.deliveries_size(), 1);
  EXPECT_EQ(late.deliveries(0).delivery_id(), cobalt);
  const CommandResult text = Msx("demo-jogmec", {"deliveries"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "1 delivery OVERDUE")) << text.out;
  // Amounts with their units: the gallium leg in the table, the cobalt leg in the list of
  // overdue ones, with its deliver-by date.
  EXPECT_TRUE(absl::StrContains(text.out, "200,000 g GA-4N")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, " kg CO-99.8 to JOGMEC")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "deliver by 20")) << text.out;
  EXPECT_EQ(Deliveries("demo-dla").deliveries_size(), 0);       // not a party
  EXPECT_EQ(Deliveries("demo-admin").deliveries_size(), 2);     // every agency's
  ExpectError(Msx("demo-komir", {"deliveries", "--agency", "DLA"}), kExitPermissionDenied,
              "PERMISSION_DENIED", "agency");

  // 4. A kill -9 loses none of it; the journal replays.
  komir_stream.reset();
  jogmec_stream.reset();
  server_.Kill();
  Start();
  const v1::ListDeliveriesResponse after = Deliveries("demo-admin");
  ASSERT_EQ(after.deliveries_size(), 2);
  EXPECT_EQ(after.deliveries(0).state(), v1::DELIVERY_STATE_CONFIRMED);
  EXPECT_EQ(after.deliveries(0).confirmed_by(), "KOMIR");
  EXPECT_EQ(after.deliveries(1).state(), v1::DELIVERY_STATE_OVERDUE);
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  const CommandResult v = RunCommand(
      {BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"}, {},
      std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // 5. `msx-drill replay --server` sends the confirmations to a fresh live server on the
  // same configuration: the refused ones are refused again, KOMIR's confirms the live
  // gallium leg (the live delivery of the same fill, by id). The journal's clock advance
  // is not replayed, so the cobalt leg stays pending there.
  testing::ServerProcess fresh;
  const CommandResult live = ReplayToFresh("fresh", "max", {}, &fresh);
  ASSERT_EQ(live.exit_code, 0) << live.out << live.err;
  const v1::ListDeliveriesResponse replayed = LiveDeliveries(fresh);
  ASSERT_EQ(replayed.deliveries_size(), 2) << live.out;
  EXPECT_EQ(replayed.deliveries(0).instrument(), "GA-4N");
  EXPECT_EQ(replayed.deliveries(0).state(), v1::DELIVERY_STATE_CONFIRMED) << live.out;
  EXPECT_EQ(replayed.deliveries(0).confirmed_by(), "KOMIR");
  EXPECT_EQ(replayed.deliveries(1).state(), v1::DELIVERY_STATE_PENDING);
}

// `msx-drill replay --server` confirms the live delivery of the same fill, by id. Two
// WARNING fills with the same pair, parties and amount open deliveries 1-2 and 3-4; KOMIR
// confirms only 3 (the second fill's gallium leg). A fresh server replaying the journal
// must confirm its own 3 and leave 1 pending (matching by pair, parties and amount would
// take the first unconfirmed one, 1). Replayed once more without JOGMEC's token, the
// sells are skipped, the live server makes no fill, and the summary names journal
// delivery 3 as unmatched instead of confirming anything. The journal ends with two
// JOGMEC sells and a KOMIR sell it cancels: without JOGMEC, two journal offers in a row
// have no live counterpart, and the cancel must still find KOMIR's live sell.
TEST_F(DeliveriesE2eTest, LiveReplayConfirmsTheDeliveryOfTheSameFillById) {
  ASSERT_EQ(Msx("demo-admin", {"admin", "set-level", "CO-99.8", "warning", "--reason",
                               "export ban"})
                .exit_code,
            0);
  const std::int64_t price = komir_->Pair(kPair).reference_price();
  ASSERT_GT(price, 0);
  std::uint64_t client = 100;
  for (int i = 0; i < 2; ++i) {
    v1::SubmitOfferResponse sold, bought;
    ASSERT_TRUE(jogmec_->Submit(++client, kPair, v1::SIDE_SELL, 2, price, &sold).ok());
    ASSERT_TRUE(komir_->Submit(++client, kPair, v1::SIDE_BUY, 2, price, &bought).ok());
    ASSERT_EQ(bought.fills_size(), 1);
  }
  const v1::ListDeliveriesResponse listed = Deliveries("demo-admin");
  ASSERT_EQ(listed.deliveries_size(), 4);
  EXPECT_EQ(listed.deliveries(0).amount(), listed.deliveries(2).amount());
  EXPECT_EQ(listed.deliveries(0).instrument(), listed.deliveries(2).instrument());
  EXPECT_EQ(listed.deliveries(2).delivery_id(), 3u);
  ASSERT_EQ(Msx("demo-komir", {"confirm-delivery", "3"}).exit_code, 0);
  v1::SubmitOfferResponse rest;
  ASSERT_TRUE(jogmec_->Submit(++client, kPair, v1::SIDE_SELL, 1, price, &rest).ok());
  ASSERT_TRUE(jogmec_->Submit(++client, kPair, v1::SIDE_SELL, 1, price, &rest).ok());
  // Above its own bids in the replay without JOGMEC (a self-match would cancel it there).
  const std::int64_t above = price + komir_->Pair(kPair).tick();
  ASSERT_TRUE(komir_->Submit(++client, kPair, v1::SIDE_SELL, 1, above, &rest).ok());
  ASSERT_EQ(rest.offer().state(), v1::OFFER_STATE_OPEN);
  v1::CancelOfferResponse cancelled;
  ASSERT_TRUE(komir_->Cancel(rest.offer().offer_id(), &cancelled).ok());
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();

  // 1. Every agency replayed: the same fills, the same delivery confirmed.
  testing::ServerProcess fresh;
  const CommandResult live = ReplayToFresh("fresh", "max", {}, &fresh);
  ASSERT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_FALSE(absl::StrContains(live.out, "Unmatched")) << live.out;
  const v1::ListDeliveriesResponse replayed = LiveDeliveries(fresh);
  ASSERT_EQ(replayed.deliveries_size(), 4) << live.out;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(replayed.deliveries(i).state(),
              i == 2 ? v1::DELIVERY_STATE_CONFIRMED : v1::DELIVERY_STATE_PENDING)
        << "live delivery " << replayed.deliveries(i).delivery_id() << "\n" << live.out;
  }
  EXPECT_EQ(replayed.deliveries(2).confirmed_by(), "KOMIR");
  EXPECT_EQ(replayed.deliveries(2).fill_id(), replayed.deliveries(3).fill_id());

  // 2. Without JOGMEC's token: no live fill, journal delivery 3 named, nothing confirmed.
  v1::ExchangeConfig tokens = DefaultConfig();
  for (auto& a : *tokens.mutable_agencies()) {
    if (a.id() == "JOGMEC") a.clear_tokens();
  }
  std::string tokens_text;  // plaintext tokens (WriteConfig stores digests)
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(tokens, &tokens_text));
  const std::string tokens_path = scratch_ + "/tokens.textproto";
  std::ofstream(tokens_path) << tokens_text;
  testing::ServerProcess fresh2;
  const CommandResult partial = ReplayToFresh(
      "fresh2", "max", {"--tokens-config", tokens_path, "--skip-agencies-without-token"},
      &fresh2);
  ASSERT_EQ(partial.exit_code, 0) << partial.out << partial.err;
  EXPECT_TRUE(absl::StrContains(partial.out,
                                "Unmatched: 1 journal deliveries confirmed in the journal"))
      << partial.out;
  EXPECT_TRUE(absl::StrContains(partial.out, "journal delivery ids 3\n")) << partial.out;
  EXPECT_EQ(LiveDeliveries(fresh2).deliveries_size(), 0);
  AgencyClient komir2(fresh2.address(), "demo-komir");
  v1::ListOffersResponse open;
  ASSERT_TRUE(komir2.ListOffers(&open).ok());
  for (const v1::Offer& o : open.offers()) {
    EXPECT_NE(o.side(), v1::SIDE_SELL) << "KOMIR's cancelled sell is open: " << o.DebugString();
  }
  EXPECT_EQ(open.offers_size(), 2);  // the two buys, with no seller
}

// The same through allocation auctions, which the live server runs on its own ticks (no
// response of the replay reports their fills: the replay finds them on the parties'
// execution streams). Two auctions each allocate NRCAN's 2 lots of cobalt to KOMIR's bid
// (deliveries 1-2 and 3-4, alike); KOMIR confirms 3. Replayed at the original pace, the
// fresh server's own auctions make the same fills, and its delivery 3 is confirmed, not 1.
class DeliveriesAuctionE2eTest : public DeliveriesE2eTest {
 protected:
  bool WarningAuctions() const override { return true; }
};

TEST_F(DeliveriesAuctionE2eTest, LiveReplayConfirmsTheDeliveryOfTheSameAuctionFill) {
  constexpr char kCoLi[] = "CO-99.8/LIOH-56.5";
  ASSERT_EQ(Msx("demo-admin", {"admin", "set-level", "CO-99.8", "warning", "--reason",
                               "export ban"})
                .exit_code,
            0);
  AgencyClient nrcan(server_.address(), "demo-nrcan");
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  const auto auction_fills = [](const std::vector<v1::ExecutionReport>& m) {
    std::size_t n = 0;
    for (const auto& r : m) n += r.has_fill() && r.fill().auction();
    return n;
  };
  std::uint64_t client = 200;
  for (std::size_t i = 1; i <= 2; ++i) {
    v1::SubmitOfferResponse sold, bought;
    ASSERT_TRUE(nrcan.Submit(++client, kCoLi, v1::SIDE_SELL, 2, 3600, &sold).ok());
    v1::SubmitOfferRequest bid;
    bid.set_client_offer_id(++client);
    bid.set_pair(kCoLi);
    bid.set_side(v1::SIDE_BUY);
    bid.set_lots(2);
    bid.set_price(3700);
    bid.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    bid.set_declared_need(2000);
    bid.set_priority_tier(v1::PRIORITY_TIER_ESSENTIAL);
    ASSERT_TRUE(komir_->Submit(bid, &bought).ok());
    ASSERT_EQ(bought.fills_size(), 0) << "a book in call-auction mode does not match";
    ASSERT_TRUE(komir_stream->WaitFor([&](const auto& m) { return auction_fills(m) == i; },
                                      std::chrono::seconds(15)))
        << server_.Output();
    // More than a tick apart: the replay's pace keeps each pair in an auction of its own,
    // and the confirmation comes after the live server's second auction.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  const v1::ListDeliveriesResponse listed = Deliveries("demo-admin");
  ASSERT_EQ(listed.deliveries_size(), 4);
  EXPECT_EQ(listed.deliveries(0).instrument(), "CO-99.8");
  EXPECT_EQ(listed.deliveries(2).instrument(), "CO-99.8");
  EXPECT_EQ(listed.deliveries(0).amount(), listed.deliveries(2).amount());
  EXPECT_EQ(listed.deliveries(2).delivery_id(), 3u);
  ASSERT_EQ(Msx("demo-komir", {"confirm-delivery", "3"}).exit_code, 0);
  komir_stream.reset();
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();

  testing::ServerProcess fresh;
  // A loaded CI machine may starve the stream's reader for longer than the default 300 ms.
  const CommandResult live = ReplayToFresh("fresh", "1", {"--fill-wait-ms", "20000"}, &fresh);
  ASSERT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_FALSE(absl::StrContains(live.out, "Unmatched")) << live.out;
  const v1::ListDeliveriesResponse replayed = LiveDeliveries(fresh);
  ASSERT_EQ(replayed.deliveries_size(), 4) << live.out;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(replayed.deliveries(i).state(),
              i == 2 ? v1::DELIVERY_STATE_CONFIRMED : v1::DELIVERY_STATE_PENDING)
        << "live delivery " << replayed.deliveries(i).delivery_id() << "\n" << live.out;
  }
}

}  // namespace
}  // namespace msx
