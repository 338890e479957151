// End to end, offer retention (issue 12, defect 8; engine/matching/ENGINE.md "Retention"): a real
// msx-server with server.offer_retention_seconds = 2 forgets an offer that finished longer
// ago than that (GetOffer answers NOT_FOUND saying so, its client_offer_id is free again),
// still answers for one that finished just now, and forgets the same after a restart that
// replays the journal.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;

constexpr std::int64_t kRetentionSeconds = 2;

std::string PurgedMessage(std::uint64_t offer_id) {
  return absl::StrCat("REJECT_REASON_UNKNOWN_OFFER: offer_id: ", offer_id,
                      " finished more than the offer retention (", kRetentionSeconds,
                      " s) ago; its record is no longer kept");
}

// Submits a GTC sell of one lot and cancels it; returns its offer id (0 on failure).
std::uint64_t SubmitAndCancel(AgencyClient& client, std::uint64_t client_id, std::int64_t price) {
  v1::SubmitOfferResponse submitted;
  grpc::Status s = client.Submit(client_id, kGaCo, v1::SIDE_SELL, 1, price, &submitted);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!s.ok()) return 0;
  v1::CancelOfferResponse cancelled;
  s = client.Cancel(submitted.offer().offer_id(), &cancelled);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(cancelled.offer().open_lots(), 0);
  return submitted.offer().offer_id();
}

// Polls GetOffer until it stops answering OK (the server purges a few finished offers per
// command once their window has passed; time commands tick every time_tick_ms).
grpc::Status WaitUntilForgotten(AgencyClient& client, std::uint64_t offer_id) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  v1::Offer offer;
  grpc::Status s = client.GetOffer(offer_id, &offer);
  while (s.ok() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = client.GetOffer(offer_id, &offer);
  }
  return s;
}

TEST(OfferRetentionTest, OfferFinishedLongerAgoThanTheRetentionIsForgottenARecentOneIsNot) {
  std::string scratch = testing::MakeTempDir("msx-retention");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_offer_retention_seconds(kRetentionSeconds);
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.data_dir = scratch + "/data";
  options.extra_args = {"--config", testing::WriteConfig(config, scratch), "--durability",
                        "none"};
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  AgencyClient komir(server.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo) + 50;  // rests: nobody buys this high

  const std::uint64_t old_id = SubmitAndCancel(komir, 7001, price);
  ASSERT_NE(old_id, 0u);
  const auto old_finished = std::chrono::steady_clock::now();
  v1::Offer offer;
  ASSERT_TRUE(komir.GetOffer(old_id, &offer).ok()) << "kept within the window";

  grpc::Status forgotten = WaitUntilForgotten(komir, old_id);
  EXPECT_GE(std::chrono::steady_clock::now() - old_finished,
            std::chrono::seconds(kRetentionSeconds))
      << "forgotten before its window passed";
  EXPECT_EQ(forgotten.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(forgotten.error_message(), PurgedMessage(old_id));

  // One that finished just now is still answered, and a retry of the forgotten offer's
  // client_offer_id is a new offer (its id is free again), not a duplicate.
  const std::uint64_t recent_id = SubmitAndCancel(komir, 7002, price);
  ASSERT_NE(recent_id, 0u);
  grpc::Status recent = komir.GetOffer(recent_id, &offer);
  ASSERT_TRUE(recent.ok()) << recent.error_message();
  EXPECT_EQ(offer.client_offer_id(), 7002u);
  EXPECT_EQ(offer.open_lots(), 0);
  v1::SubmitOfferResponse again;
  ASSERT_TRUE(komir.Submit(7001, kGaCo, v1::SIDE_SELL, 1, price, &again).ok());
  EXPECT_GT(again.offer().offer_id(), recent_id);
  EXPECT_EQ(again.offer().open_lots(), 1);

  // Recovery replays the journal (its SetOfferRetention command included): the old offer
  // stays forgotten, the open one is there.
  ASSERT_EQ(server.Stop(SIGTERM), 0) << server.Output();
  testing::ServerProcess restarted;
  ASSERT_TRUE(restarted.Start(options).ok()) << restarted.Output();
  AgencyClient komir2(restarted.address(), "demo-komir");
  grpc::Status after = komir2.GetOffer(old_id, &offer);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(after.error_message(), PurgedMessage(old_id));
  ASSERT_TRUE(komir2.GetOffer(again.offer().offer_id(), &offer).ok());
  EXPECT_EQ(offer.open_lots(), 1);
  testing::RemoveTree(scratch);
}

}  // namespace
}  // namespace msx
