// End to end through a real msx-server on loopback: swaps between agencies, eligibility,
// agency isolation, idempotent retries, the book and execution streams, order entry and
// GTD expiry by the server's clock.
#include <chrono>
#include <map>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::FillsOf;
using testing::kGaCo;
using testing::kNdprCo;

// A GTD expiry: the wall clock (the server's clock for expiry) `from_now` ahead, in ns.
std::int64_t WallClockNsIn(std::chrono::milliseconds from_now) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch() + from_now)
      .count();
}

class GatewayExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok()) << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
    kabil_ = std::make_unique<AgencyClient>(server_.address(), "demo-kabil");
    admin_ = std::make_unique<AgencyClient>(server_.address(), "demo-admin");
  }

  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_, kabil_, admin_;
};

TEST_F(GatewayExchangeTest, TwoEligibleAgenciesSwapAndBothSeeTheFillWithExactAmounts) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  const std::int64_t price = komir_->FairPrice(kGaCo);
  const std::int64_t ga_lot = komir_->Instrument("GA-4N").lot_size();
  ASSERT_GT(price, 0);
  ASSERT_GT(ga_lot, 0);
  const std::int64_t komir_ga = komir_->Available("GA-4N");
  const std::int64_t komir_co = komir_->Available("CO-99.8");
  const std::int64_t jogmec_ga = jogmec_->Available("GA-4N");
  const std::int64_t jogmec_co = jogmec_->Available("CO-99.8");

  v1::SubmitOfferResponse sell, buy;
  ASSERT_TRUE(komir_->Submit(1, kGaCo, v1::SIDE_SELL, 5, price, &sell).ok());
  EXPECT_EQ(sell.offer().state(), v1::OFFER_STATE_OPEN);
  EXPECT_EQ(sell.fills_size(), 0);
  grpc::Status s = jogmec_->Submit(1, kGaCo, v1::SIDE_BUY, 5, price, &buy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(buy.fills_size(), 1);
  const v1::Fill& taker = buy.fills(0);
  EXPECT_EQ(taker.counterparty(), "KOMIR");
  EXPECT_TRUE(taker.aggressor());
  EXPECT_EQ(taker.lots(), 5);
  EXPECT_EQ(taker.price(), price);
  EXPECT_EQ(taker.base_amount(), 5 * ga_lot);
  EXPECT_EQ(taker.quote_amount(), 5 * price);
  EXPECT_EQ(buy.offer().state(), v1::OFFER_STATE_FILLED);
  EXPECT_GT(buy.seq(), sell.seq());

  ASSERT_TRUE(komir_stream->WaitFor(
      [](const auto& m) { return !FillsOf(m).empty(); }))
      << "KOMIR never saw its fill";
  ASSERT_TRUE(jogmec_stream->WaitFor([](const auto& m) { return !FillsOf(m).empty(); }));
  v1::Fill maker = FillsOf(komir_stream->messages()).at(0);
  v1::Fill taker_seen = FillsOf(jogmec_stream->messages()).at(0);
  EXPECT_EQ(maker.counterparty(), "JOGMEC");
  EXPECT_FALSE(maker.aggressor());
  EXPECT_EQ(maker.side(), v1::SIDE_SELL);
  EXPECT_EQ(maker.offer_id(), sell.offer().offer_id());
  EXPECT_EQ(maker.client_offer_id(), 1u);
  EXPECT_EQ(maker.lots(), 5);
  EXPECT_EQ(maker.base_amount(), 5 * ga_lot);
  EXPECT_EQ(maker.quote_amount(), 5 * price);
  EXPECT_EQ(maker.open_lots(), 0);
  EXPECT_EQ(maker.fill_id(), taker.fill_id());
  EXPECT_EQ(taker_seen.SerializeAsString(), taker.SerializeAsString());

  // Holdings moved both ways, exactly.
  EXPECT_EQ(komir_->Available("GA-4N"), komir_ga - 5 * ga_lot);
  EXPECT_EQ(komir_->Available("CO-99.8"), komir_co + 5 * price);
  EXPECT_EQ(jogmec_->Available("GA-4N"), jogmec_ga + 5 * ga_lot);
  EXPECT_EQ(jogmec_->Available("CO-99.8"), jogmec_co - 5 * price);

  // Every report of a stream is in sequence order; the fill carries the buy's seq.
  auto reports = komir_stream->messages();
  for (std::size_t i = 1; i < reports.size(); ++i) {
    EXPECT_LE(reports[i - 1].seq(), reports[i].seq());
  }
  bool found = false;
  for (const auto& r : reports) {
    if (r.has_fill()) found = found || r.seq() == buy.seq();
  }
  EXPECT_TRUE(found);
}

TEST_F(GatewayExchangeTest, IneligibleAgenciesDoNotMatchEvenWhenPricesCross) {
  const std::int64_t price = komir_->FairPrice(kNdprCo);
  v1::SubmitOfferResponse sell, buy;
  ASSERT_TRUE(kabil_->Submit(1, kNdprCo, v1::SIDE_SELL, 2, price, &sell).ok());
  grpc::Status s = komir_->Submit(1, kNdprCo, v1::SIDE_BUY, 2, price, &buy);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(buy.fills_size(), 0);
  EXPECT_EQ(buy.offer().state(), v1::OFFER_STATE_OPEN);
  v1::BookSnapshot book;
  v1::GetBookRequest req;
  req.set_pair(kNdprCo);
  ASSERT_TRUE(komir_->exchange().GetBook(komir_->Context().get(), req, &book).ok());
  ASSERT_EQ(book.bids_size(), 1);
  ASSERT_EQ(book.asks_size(), 1);
  EXPECT_EQ(book.bids(0).price(), price);
  EXPECT_EQ(book.asks(0).price(), price);
  EXPECT_EQ(book.bids(0).lots(), 2);
}

TEST_F(GatewayExchangeTest, EveryErrorCodeComesFromARealCall) {
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;

  AgencyClient anonymous(server_.address(), "");
  grpc::Status s = anonymous.Submit(1, kGaCo, v1::SIDE_SELL, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  AgencyClient stranger(server_.address(), "not-a-token");
  s = stranger.Submit(1, kGaCo, v1::SIDE_SELL, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  v1::SetHoldingsRequest set;
  set.set_agency("KOMIR");
  set.set_instrument("GA-4N");
  set.set_total(1);
  v1::SetHoldingsResponse set_resp;
  s = komir_->admin().SetHoldings(komir_->Context().get(), set, &set_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = admin_->Submit(1, kGaCo, v1::SIDE_SELL, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  s = komir_->Submit(1, kGaCo, v1::SIDE_SELL, 0, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_INVALID_LOTS: lots"))
      << s.error_message();
  v1::Pair ga_co = komir_->Pair(kGaCo);
  s = komir_->Submit(2, kGaCo, v1::SIDE_SELL, 1, ga_co.band_high() + ga_co.tick(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_PRICE_OUTSIDE_BAND: price"))
      << s.error_message();
  s = komir_->Submit(3, kGaCo, v1::SIDE_SELL, ga_co.max_lots() + 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_LOTS_ABOVE_MAX: lots"))
      << s.error_message();
  const std::string ge_ga = "GE-5N/GA-4N";  // tick 10
  std::int64_t ge_price = jogmec_->FairPrice(ge_ga);
  s = jogmec_->Submit(4, ge_ga, v1::SIDE_SELL, 1, ge_price + 1, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_PRICE_OFF_TICK: price"))
      << s.error_message();

  s = komir_->Submit(5, "XX/YY", v1::SIDE_SELL, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_UNKNOWN_PAIR: pair"))
      << s.error_message();
  v1::CancelOfferResponse cancel;
  s = komir_->Cancel(987654, &cancel);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_UNKNOWN_OFFER: offer_id"))
      << s.error_message();

  // KABIL holds no cobalt: buying gallium for cobalt exceeds its holdings.
  s = kabil_->Submit(6, kGaCo, v1::SIDE_BUY, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_INSUFFICIENT_HOLDINGS"))
      << s.error_message();
  v1::HaltPairRequest halt;
  halt.set_pair(kGaCo);
  v1::HaltPairResponse halt_resp;
  ASSERT_TRUE(admin_->admin().HaltPair(admin_->Context().get(), halt, &halt_resp).ok());
  s = komir_->Submit(7, kGaCo, v1::SIDE_SELL, 1, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_PAIR_HALTED: pair"))
      << s.error_message();
  v1::ResumePairRequest resume;
  resume.set_pair(kGaCo);
  v1::ResumePairResponse resume_resp;
  ASSERT_TRUE(admin_->admin().ResumePair(admin_->Context().get(), resume, &resume_resp).ok());

  ASSERT_TRUE(komir_->Submit(8, kGaCo, v1::SIDE_SELL, 1, price, &resp).ok());
  s = komir_->Submit(8, kGaCo, v1::SIDE_SELL, 2, price, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_DUPLICATE_CLIENT_ID"))
      << s.error_message();

  v1::SetHoldingsRequest bad_total = set;
  bad_total.set_total(-5);
  s = admin_->admin().SetHoldings(admin_->Context().get(), bad_total, &set_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("total"), std::string::npos);
  v1::SetHoldingsRequest unknown_agency = set;
  unknown_agency.set_agency("NOBODY");
  s = admin_->admin().SetHoldings(admin_->Context().get(), unknown_agency, &set_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayExchangeTest, AgenciesOnlySeeListAndCancelTheirOwnOffers) {
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse komir_offer, jogmec_offer;
  ASSERT_TRUE(komir_->Submit(11, kGaCo, v1::SIDE_SELL, 1, price + 10, &komir_offer).ok());
  ASSERT_TRUE(jogmec_->Submit(12, kGaCo, v1::SIDE_BUY, 1, price - 10, &jogmec_offer).ok());
  const std::uint64_t id = komir_offer.offer().offer_id();

  v1::ListOffersResponse list;
  ASSERT_TRUE(jogmec_->ListOffers(&list).ok());
  ASSERT_EQ(list.offers_size(), 1);
  EXPECT_EQ(list.offers(0).offer_id(), jogmec_offer.offer().offer_id());
  v1::Offer offer;
  grpc::Status s = jogmec_->GetOffer(id, &offer);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::CancelOfferResponse cancel;
  s = jogmec_->Cancel(id, &cancel);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // The same answer as for an id that does not exist at all: nothing is revealed.
  v1::CancelOfferResponse none;
  grpc::Status missing = jogmec_->Cancel(id + 1000, &none);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), missing.error_message());
  ASSERT_TRUE(komir_->GetOffer(id, &offer).ok());
  EXPECT_EQ(offer.state(), v1::OFFER_STATE_OPEN);

  ASSERT_TRUE(jogmec_->Cancel(jogmec_offer.offer().offer_id(), &cancel).ok());
  EXPECT_EQ(cancel.offer().state(), v1::OFFER_STATE_CANCELLED);
  ASSERT_TRUE(jogmec_stream->WaitFor([](const auto& m) {
    for (const auto& r : m) {
      if (r.has_cancelled()) return true;
    }
    return false;
  }));
  for (const auto& r : jogmec_stream->messages()) {
    if (r.has_accepted()) {
      EXPECT_EQ(r.accepted().offer().agency(), "JOGMEC");
    }
    if (r.has_cancelled()) {
      EXPECT_EQ(r.cancelled().offer().agency(), "JOGMEC");
    }
    EXPECT_FALSE(r.has_fill());
  }
}

TEST_F(GatewayExchangeTest, RetriedSubmitReturnsTheOriginalOfferInItsCurrentState) {
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse first, retry;
  ASSERT_TRUE(komir_->Submit(42, kGaCo, v1::SIDE_SELL, 4, price, &first).ok());
  v1::SubmitOfferResponse fill;
  ASSERT_TRUE(jogmec_->Submit(42, kGaCo, v1::SIDE_BUY, 1, price, &fill).ok());
  ASSERT_EQ(fill.fills_size(), 1);
  grpc::Status s = komir_->Submit(42, kGaCo, v1::SIDE_SELL, 4, price, &retry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(retry.offer().offer_id(), first.offer().offer_id());
  EXPECT_EQ(retry.offer().open_lots(), 3);
  EXPECT_EQ(retry.offer().filled_lots(), 1);
  EXPECT_EQ(retry.seq(), first.seq());
  v1::ListOffersResponse list;
  ASSERT_TRUE(komir_->ListOffers(&list).ok());
  EXPECT_EQ(list.offers_size(), 1) << "the retry must not create a second offer";
}

// Flattens StreamExecutionBatches messages into the reports they carry.
std::vector<v1::ExecutionReport> Flatten(const std::vector<v1::ExecutionReportBatch>& batches) {
  std::vector<v1::ExecutionReport> out;
  for (const auto& b : batches) out.insert(out.end(), b.reports().begin(), b.reports().end());
  return out;
}

std::unique_ptr<testing::StreamWatcher<v1::ExecutionReportBatch>> WatchBatches(
    AgencyClient& client, const std::string& token, std::uint64_t after_seq) {
  v1::Exchange::Stub* stub = &client.exchange();
  return std::make_unique<testing::StreamWatcher<v1::ExecutionReportBatch>>(
      token, [stub, after_seq](grpc::ClientContext* ctx) {
        v1::StreamExecutionsRequest req;
        req.set_after_seq(after_seq);
        return stub->StreamExecutionBatches(ctx, req);
      });
}

TEST_F(GatewayExchangeTest, BatchedExecutionStreamCarriesTheSameReportsInOrderAndResumes) {
  auto plain = testing::WatchExecutions(*komir_, "demo-komir");
  auto batched = WatchBatches(*komir_, "demo-komir", 0);
  const std::int64_t price = komir_->FairPrice(kGaCo);
  // Five resting sells, then one buy that fills all five: accepts, then five fills at once.
  for (std::uint64_t id = 1; id <= 5; ++id) {
    v1::SubmitOfferResponse r;
    ASSERT_TRUE(komir_->Submit(id, kGaCo, v1::SIDE_SELL, 1, price, &r).ok());
  }
  v1::SubmitOfferResponse buy;
  ASSERT_TRUE(jogmec_->Submit(1, kGaCo, v1::SIDE_BUY, 5, price, &buy).ok());
  ASSERT_EQ(buy.fills_size(), 5);
  constexpr std::size_t kReports = 10;  // 5 accepted + 5 fills
  ASSERT_TRUE(plain->WaitForCount(kReports));
  ASSERT_TRUE(batched->WaitFor(
      [](const auto& m) { return Flatten(m).size() >= kReports; }));
  std::vector<v1::ExecutionReport> a = plain->messages();
  std::vector<v1::ExecutionReport> b = Flatten(batched->messages());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << "report " << i;
  }
  EXPECT_EQ(FillsOf(b).size(), 5u);
  EXPECT_TRUE(b.back().seq_complete());

  // Resuming after the last accept's seq (complete) gives exactly the fills, from history.
  const std::uint64_t resume_after = b[4].seq();
  ASSERT_TRUE(b[4].seq_complete());
  auto resumed = WatchBatches(*komir_, "demo-komir", resume_after);
  ASSERT_TRUE(resumed->WaitFor([](const auto& m) { return Flatten(m).size() >= 5; }));
  std::vector<v1::ExecutionReport> r = Flatten(resumed->messages());
  ASSERT_EQ(r.size(), 5u);
  for (const auto& report : r) {
    EXPECT_TRUE(report.has_fill());
    EXPECT_GT(report.seq(), resume_after);
  }

  // Same authorization rule as StreamExecutions.
  auto denied = WatchBatches(*admin_, "demo-admin", 0);
  EXPECT_EQ(denied->WaitDone().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(GatewayExchangeTest, BookStreamSendsSnapshotThenIncrements) {
  const std::int64_t price = komir_->FairPrice(kGaCo);
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir_->Submit(1, kGaCo, v1::SIDE_SELL, 3, price + 5, &resp).ok());
  v1::Exchange::Stub* stub = &komir_->exchange();
  testing::BookWatcher book("demo-jogmec", [stub](grpc::ClientContext* ctx) {
    v1::StreamBookRequest req;
    req.set_pair(kGaCo);
    return stub->StreamBook(ctx, req);
  });
  ASSERT_TRUE(book.WaitForCount(1));
  v1::BookUpdate first = book.messages()[0];
  ASSERT_TRUE(first.has_snapshot());
  ASSERT_EQ(first.snapshot().asks_size(), 1);
  EXPECT_EQ(first.snapshot().asks(0).price(), price + 5);
  EXPECT_EQ(first.snapshot().asks(0).lots(), 3);

  ASSERT_TRUE(jogmec_->Submit(1, kGaCo, v1::SIDE_BUY, 1, price + 5, &resp).ok());
  ASSERT_TRUE(book.WaitFor([&](const auto& m) {
    bool trade = false, level = false;
    for (const auto& u : m) {
      if (u.has_trade() && u.trade().lots() == 1 && u.trade().price() == price + 5) trade = true;
      if (u.has_level() && u.level().price() == price + 5 && u.level().lots() == 2) level = true;
    }
    return trade && level;
  })) << "no trade/level update after the snapshot";
  for (const auto& u : book.messages()) {
    if (!u.has_snapshot()) {
      EXPECT_GT(u.seq(), first.seq());
    }
  }
}

TEST_F(GatewayExchangeTest, OrderEntryStreamAnswersEachRequestByCorrelationId) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer demo-komir");
  auto stream = komir_->exchange().OrderEntry(&ctx);
  const std::int64_t price = komir_->FairPrice(kGaCo);
  for (int i = 1; i <= 3; ++i) {
    v1::OrderEntryRequest req;
    req.set_correlation_id(100 + i);
    v1::SubmitOfferRequest* sub = req.mutable_submit();
    sub->set_client_offer_id(500 + i);
    sub->set_pair(kGaCo);
    sub->set_side(v1::SIDE_SELL);
    sub->set_lots(i == 3 ? 0 : 1);  // the third is invalid
    sub->set_price(price + 20);
    ASSERT_TRUE(stream->Write(req));
  }
  stream->WritesDone();
  std::map<std::uint64_t, v1::OrderEntryResponse> got;
  v1::OrderEntryResponse resp;
  while (stream->Read(&resp)) got[resp.correlation_id()] = resp;
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[101].code(), 0);
  EXPECT_EQ(got[101].submit().offer().client_offer_id(), 501u);
  EXPECT_GT(got[102].submit().seq(), 0u);
  EXPECT_EQ(got[103].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StartsWith(got[103].message(), "REJECT_REASON_INVALID_LOTS")) << got[103].message();
}

TEST_F(GatewayExchangeTest, GtdOfferExpiresByTheServerClockAndIsReported) {
  auto stream = testing::WatchExecutions(*komir_, "demo-komir");
  v1::SubmitOfferRequest req;
  req.set_client_offer_id(77);
  req.set_pair(kGaCo);
  req.set_side(v1::SIDE_SELL);
  req.set_lots(2);
  req.set_price(komir_->FairPrice(kGaCo));
  req.set_time_in_force(v1::TIME_IN_FORCE_GTD);
  req.set_expire_time_ns(WallClockNsIn(std::chrono::milliseconds(300)));
  v1::SubmitOfferResponse resp;
  ASSERT_TRUE(komir_->Submit(req, &resp).ok());
  ASSERT_TRUE(stream->WaitFor([](const auto& m) {
    for (const auto& r : m) {
      if (r.has_expired()) return true;
    }
    return false;
  }, std::chrono::seconds(5))) << "no expiry report";
  v1::Offer offer;
  ASSERT_TRUE(komir_->GetOffer(resp.offer().offer_id(), &offer).ok());
  EXPECT_EQ(offer.state(), v1::OFFER_STATE_EXPIRED);
  EXPECT_EQ(offer.open_lots(), 0);
}

TEST_F(GatewayExchangeTest, TimeTicksAreJournaledOnlyWhenAGtdOfferIsDue) {
  auto last_seq = [this] {
    v1::GetExchangeStatusResponse status;
    EXPECT_TRUE(
        admin_->admin().GetExchangeStatus(admin_->Context().get(), {}, &status).ok());
    return status.last_seq();
  };
  // A resting GTC offer can never expire: the server's 100 ms ticks journal nothing.
  v1::SubmitOfferRequest gtc;
  gtc.set_client_offer_id(501);
  gtc.set_pair(kGaCo);
  gtc.set_side(v1::SIDE_SELL);
  gtc.set_lots(1);
  gtc.set_price(komir_->FairPrice(kGaCo));
  v1::SubmitOfferResponse gtc_resp;
  ASSERT_TRUE(komir_->Submit(gtc, &gtc_resp).ok());
  const std::uint64_t after_gtc = last_seq();
  EXPECT_EQ(after_gtc, gtc_resp.seq());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(last_seq(), after_gtc) << "ticks with nothing due were journaled";

  // A GTD offer due in 300 ms is expired by exactly one journaled tick.
  auto stream = testing::WatchExecutions(*komir_, "demo-komir");
  v1::SubmitOfferRequest gtd = gtc;
  gtd.set_client_offer_id(502);
  gtd.set_time_in_force(v1::TIME_IN_FORCE_GTD);
  gtd.set_expire_time_ns(WallClockNsIn(std::chrono::milliseconds(300)));
  v1::SubmitOfferResponse gtd_resp;
  ASSERT_TRUE(komir_->Submit(gtd, &gtd_resp).ok());
  std::uint64_t expired_seq = 0;
  ASSERT_TRUE(stream->WaitFor([&](const auto& m) {
    for (const auto& r : m) {
      if (r.has_expired()) expired_seq = r.seq();
    }
    return expired_seq != 0;
  }, std::chrono::seconds(5))) << "no expiry report";
  EXPECT_EQ(expired_seq, gtd_resp.seq() + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(last_seq(), expired_seq) << "ticks after the expiry were journaled";
}

}  // namespace
}  // namespace msx
