// End to end across server restarts: graceful shutdown keeps everything, a retried submit
// stays idempotent after a restart, and an execution stream resumed from a sequence number
// after a crash continues with no gap and no duplicate.
#include <signal.h>
#include <sys/wait.h>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;

class GatewayRestartTest : public ::testing::Test {
 protected:
  void StartServer() {
    ASSERT_TRUE(server_.Start().ok()) << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
  }

  // A resting KOMIR sell and a JOGMEC buy that takes all of it.
  void Trade(std::uint64_t client_id, std::int64_t lots) {
    const std::int64_t price = komir_->FairPrice(kGaCo);
    v1::SubmitOfferResponse sell, buy;
    ASSERT_TRUE(komir_->Submit(client_id, kGaCo, v1::SIDE_SELL, lots, price, &sell).ok());
    ASSERT_TRUE(jogmec_->Submit(client_id, kGaCo, v1::SIDE_BUY, lots, price, &buy).ok());
    ASSERT_EQ(buy.fills_size(), 1);
  }

  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_;
};

TEST_F(GatewayRestartTest, SigtermExitsZeroAndRestartRecoversOffersAndHoldings) {
  StartServer();
  Trade(1, 2);
  Trade(2, 3);
  const std::int64_t high = komir_->FairPrice(kGaCo) + 30;
  v1::SubmitOfferResponse resting;
  ASSERT_TRUE(komir_->Submit(10, kGaCo, v1::SIDE_SELL, 4, high, &resting).ok());
  ASSERT_TRUE(komir_->Submit(11, kGaCo, v1::SIDE_SELL, 5, high + 1, &resting).ok());
  v1::ListOffersResponse before_offers;
  ASSERT_TRUE(komir_->ListOffers(&before_offers).ok());
  v1::GetHoldingsResponse before_holdings;
  ASSERT_TRUE(komir_->Holdings(&before_holdings).ok());
  ASSERT_EQ(before_offers.offers_size(), 2);

  int status = server_.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << server_.Output();
  EXPECT_EQ(WEXITSTATUS(status), 0) << server_.Output();

  StartServer();
  EXPECT_NE(server_.Output().find("snapshot at seq"), std::string::npos)
      << "a clean shutdown writes a snapshot that the restart uses: " << server_.Output();
  v1::ListOffersResponse after_offers;
  ASSERT_TRUE(komir_->ListOffers(&after_offers).ok());
  v1::GetHoldingsResponse after_holdings;
  ASSERT_TRUE(komir_->Holdings(&after_holdings).ok());
  EXPECT_EQ(after_offers.SerializeAsString(), before_offers.SerializeAsString());
  EXPECT_EQ(after_holdings.SerializeAsString(), before_holdings.SerializeAsString());

  // Sequencing continues after the recovered state.
  v1::SubmitOfferResponse next;
  ASSERT_TRUE(komir_->Submit(12, kGaCo, v1::SIDE_SELL, 1, komir_->FairPrice(kGaCo), &next).ok());
  EXPECT_GT(next.seq(), before_offers.offers(1).accepted_seq());
  EXPECT_GT(next.offer().offer_id(), before_offers.offers(1).offer_id());
}

TEST_F(GatewayRestartTest, RetryAfterCrashReturnsTheOriginalOffer) {
  StartServer();
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse first;
  ASSERT_TRUE(komir_->Submit(900, kGaCo, v1::SIDE_SELL, 3, price, &first).ok());
  server_.Kill();
  StartServer();
  v1::SubmitOfferResponse retry;
  grpc::Status s = komir_->Submit(900, kGaCo, v1::SIDE_SELL, 3, price, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.offer().offer_id(), first.offer().offer_id());
  EXPECT_EQ(retry.offer().state(), v1::OFFER_STATE_OPEN);
  EXPECT_EQ(retry.seq(), first.seq());
  s = komir_->Submit(900, kGaCo, v1::SIDE_SELL, 4, price, &retry);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  v1::ListOffersResponse list;
  ASSERT_TRUE(komir_->ListOffers(&list).ok());
  EXPECT_EQ(list.offers_size(), 1);
}

TEST_F(GatewayRestartTest, StreamResumedAfterCrashHasNoGapAndNoDuplicate) {
  StartServer();
  std::vector<v1::ExecutionReport> phase1;
  {
    auto stream = testing::WatchExecutions(*komir_, "demo-komir");
    Trade(1, 1);
    Trade(2, 2);
    // Two trades: two accepts and two fills for KOMIR.
    ASSERT_TRUE(stream->WaitForCount(4)) << stream->messages().size();
    phase1 = stream->messages();
  }
  ASSERT_TRUE(phase1.back().seq_complete());
  const std::uint64_t last_seen = phase1.back().seq();
  server_.Kill();

  StartServer();
  Trade(3, 3);
  auto resumed = testing::WatchExecutions(*komir_, "demo-komir", last_seen);
  ASSERT_TRUE(resumed->WaitForCount(2));  // accept + fill of the third trade
  auto full = testing::WatchExecutions(*komir_, "demo-komir", 0);
  ASSERT_TRUE(full->WaitForCount(phase1.size() + 2));

  std::vector<v1::ExecutionReport> joined = phase1;
  for (const auto& r : resumed->messages()) {
    EXPECT_GT(r.seq(), last_seen) << "resume delivered a report twice";
    joined.push_back(r);
  }
  std::vector<v1::ExecutionReport> all = full->messages();
  ASSERT_EQ(joined.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(joined[i].SerializeAsString(), all[i].SerializeAsString())
        << "report " << i << ":\n" << joined[i].DebugString() << "vs\n" << all[i].DebugString();
  }
}

}  // namespace
}  // namespace msx
