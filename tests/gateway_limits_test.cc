// End to end at the limits: a flood against a tiny sequencer queue gets RESOURCE_EXHAUSTED
// at once (and nothing acknowledged is lost), and a journal that cannot write fails closed
// with UNAVAILABLE while keeping everything it acknowledged.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "engine/config/config.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::kGaCo;

TEST(GatewayLimitsTest, FloodAgainstTinyQueueGetsResourceExhaustedAndLosesNothing) {
  std::string scratch = testing::MakeTempDir("msx-flood");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_queue_capacity(2);
  // Enough gallium that holdings never limit the flood.
  for (auto& agency : *config.mutable_agencies()) {
    if (agency.id() != "KOMIR") continue;
    for (auto& h : *agency.mutable_holdings()) {
      if (h.instrument() == "GA-4N") h.set_amount(1000000000000);
    }
  }
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  // Under `sync` every command goes through the sequencer's queue (under `none` an idle
  // sequencer runs a unary command on the gRPC thread that received it, so the queue fills
  // only when those threads collide, and a flood may never overflow it: flaky).
  options.extra_args = {"--config", testing::WriteConfig(config, scratch), "--durability",
                        "sync"};
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  AgencyClient komir(server.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo);

  constexpr int kCalls = 2000;
  struct Call {
    std::unique_ptr<grpc::ClientContext> ctx;
    v1::SubmitOfferRequest req;
    v1::SubmitOfferResponse resp;
  };
  std::vector<Call> calls(kCalls);
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  grpc::Status first_other;
  for (int i = 0; i < kCalls; ++i) {
    Call& c = calls[i];
    c.ctx = komir.Context(30000);
    c.req.set_client_offer_id(1000 + i);
    c.req.set_pair(kGaCo);
    c.req.set_side(v1::SIDE_SELL);
    c.req.set_lots(1);
    c.req.set_price(price + 50);
    komir.exchange().async()->SubmitOffer(c.ctx.get(), &c.req, &c.resp, [&](grpc::Status s) {
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
      } else {
        if (other++ == 0) {
          std::lock_guard<std::mutex> lock(mu);
          first_other = s;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done == kCalls; }));
  }
  EXPECT_GT(exhausted.load(), 0) << "a 2-slot queue must overflow under " << kCalls << " calls";
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0) << first_other.error_code() << " " << first_other.error_message()
                             << "\n" << server.Output();
  // Every acknowledged offer exists, and nothing else does.
  v1::ListOffersResponse list;
  ASSERT_TRUE(komir.ListOffers(&list).ok());
  EXPECT_EQ(list.offers_size(), ok.load());
  // The server is still healthy afterwards.
  v1::SubmitOfferResponse resp;
  EXPECT_TRUE(komir.Submit(99, kGaCo, v1::SIDE_SELL, 1, price, &resp).ok());
  testing::RemoveTree(scratch);
}

// Fair admission (issue 12, defect 5): one agency keeping far more calls in flight than
// its limit gets RESOURCE_EXHAUSTED naming server.max_in_flight_per_agency, and meanwhile
// another agency's calls are all accepted: the flooding agency can hold at most its share
// of the shared queue (4 x 8 agencies of 64 slots here), never all of it.
TEST(GatewayLimitsTest, FloodingAgencyHitsItsOwnLimitWhileAnotherAgencyIsServed) {
  std::string scratch = testing::MakeTempDir("msx-fair");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_queue_capacity(64);
  config.mutable_server()->set_max_in_flight_per_agency(4);
  for (auto& agency : *config.mutable_agencies()) {
    for (auto& h : *agency.mutable_holdings()) {
      if (h.instrument() == "GA-4N") h.set_amount(1000000000000);
    }
  }
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  // `sync`: every command waits in the queue or for fdatasync, so KOMIR's calls overlap.
  options.extra_args = {"--config", testing::WriteConfig(config, scratch), "--durability",
                        "sync"};
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  AgencyClient komir(server.address(), "demo-komir");
  AgencyClient jogmec(server.address(), "demo-jogmec");
  const std::int64_t price = komir.FairPrice(kGaCo);

  // KOMIR: 128 calls in flight at all times (twice the whole queue) until told to stop.
  struct Call {
    std::unique_ptr<grpc::ClientContext> ctx;
    v1::SubmitOfferRequest req;
    v1::SubmitOfferResponse resp;
  };
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  int limited = 0;  // RESOURCE_EXHAUSTED naming the per-agency limit
  int komir_ok = 0;
  std::vector<std::string> unexpected;
  bool stop = false;
  std::thread flood([&] {
    std::uint64_t id = 1;
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      cv.wait(lock, [&] { return stop || outstanding < 128; });
      if (stop) break;
      ++outstanding;
      auto* c = new Call;
      c->ctx = komir.Context(30000);
      c->req.set_client_offer_id(id++);
      c->req.set_pair(kGaCo);
      c->req.set_side(v1::SIDE_SELL);
      c->req.set_lots(1);
      c->req.set_price(price + 50);
      lock.unlock();
      komir.exchange().async()->SubmitOffer(c->ctx.get(), &c->req, &c->resp,
                                            [&, c](grpc::Status st) {
        std::lock_guard<std::mutex> l(mu);
        if (st.ok()) {
          ++komir_ok;
        } else if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                   absl::StrContains(st.error_message(), "server.max_in_flight_per_agency") &&
                   absl::StrContains(st.error_message(), "KOMIR")) {
          ++limited;
        } else {
          unexpected.push_back(absl::StrCat(st.error_code(), " ", st.error_message()));
        }
        --outstanding;
        delete c;
        cv.notify_all();
      });
      lock.lock();
    }
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    // KOMIR is refused (by its limit; or, were there none, by the full shared queue).
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30),
                            [&] { return limited > 0 || unexpected.size() > 100; }));
    EXPECT_GT(limited, 0) << "KOMIR was never refused by its own limit; " << unexpected.size()
                          << " other errors, first: " << (unexpected.empty() ? "" : unexpected[0]);
  }
  // While KOMIR is being refused, JOGMEC's calls all go through.
  int jogmec_ok = 0;
  std::string jogmec_error;
  for (int i = 0; i < 60; ++i) {
    v1::SubmitOfferResponse resp;
    grpc::Status st = jogmec.Submit(5000 + i, kGaCo, v1::SIDE_SELL, 1, price + 60, &resp);
    if (st.ok()) {
      ++jogmec_ok;
    } else if (jogmec_error.empty()) {
      jogmec_error = absl::StrCat(st.error_code(), " ", st.error_message());
    }
  }
  int limited_during;
  {
    std::unique_lock<std::mutex> lock(mu);
    limited_during = limited;
    stop = true;
    cv.notify_all();
  }
  flood.join();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return outstanding == 0; }));
  }
  EXPECT_EQ(jogmec_ok, 60) << jogmec_error;
  EXPECT_GT(limited_during, 0);
  EXPECT_GT(komir_ok, 0);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected, first: " << unexpected[0];
  testing::RemoveTree(scratch);
}

// server.max_concurrent_streams bounds the calls open at once on one HTTP/2 connection
// (GRPC_ARG_MAX_CONCURRENT_STREAMS, as gateway/README.md documents: the client queues the
// rest). With 2, a third call on a connection that holds two open streams is not sent
// while another connection is served normally; closing one of the streams frees its slot
// and the queued call completes, and the freed slot takes a new stream again.
TEST(GatewayLimitsTest, MaxConcurrentStreamsQueuesTheNextCallUntilAStreamCloses) {
  std::string scratch = testing::MakeTempDir("msx-streams-cap");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_max_concurrent_streams(2);
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.extra_args = {"--config", testing::WriteConfig(config, scratch)};
  const absl::Status started = server.Start(options);
  ASSERT_TRUE(started.ok()) << started << "\n" << server.Output();
  // Each channel its own connection (no subchannel shared between them).
  auto connect = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::Exchange::NewStub(
        grpc::CreateCustomChannel(server.address(), grpc::InsecureChannelCredentials(), args));
  };
  auto context = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer demo-komir");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  };
  std::unique_ptr<v1::Exchange::Stub> a = connect();
  std::unique_ptr<v1::Exchange::Stub> b = connect();
  v1::ListPairsResponse pairs;
  // The connection is up and has the server's settings before the streams open.
  ASSERT_TRUE(a->ListPairs(context().get(), v1::ListPairsRequest(), &pairs).ok());

  // Two open streams on connection A: its limit.
  struct Open {
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientReader<v1::BookUpdate>> reader;
  };
  std::vector<Open> streams;
  v1::StreamBookRequest book;
  book.set_pair(kGaCo);
  for (int i = 0; i < 2; ++i) {
    Open o{context(), nullptr};
    o.reader = a->StreamBook(o.ctx.get(), book);
    v1::BookUpdate snapshot;
    ASSERT_TRUE(o.reader->Read(&snapshot)) << i;
    ASSERT_TRUE(snapshot.has_snapshot());
    streams.push_back(std::move(o));
  }

  // A third call on A waits for a slot.
  std::mutex mu;
  std::condition_variable cv;
  bool third_done = false;
  grpc::Status third_status;
  std::unique_ptr<grpc::ClientContext> third_ctx = context();
  const v1::ListPairsRequest third_req;
  v1::ListPairsResponse third_resp;
  a->async()->ListPairs(third_ctx.get(), &third_req, &third_resp,
                        [&](grpc::Status s) {
                          std::lock_guard<std::mutex> lock(mu);
                          third_status = s;
                          third_done = true;
                          cv.notify_all();
                        });
  // Meanwhile connection B is served, call after call.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(b->ListPairs(context().get(), v1::ListPairsRequest(), &pairs).ok()) << i;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(third_done) << "a third call went out on a connection capped at 2 streams: "
                             << third_status.error_code() << " " << third_status.error_message();
  }

  // Closing one stream frees its slot: the queued call goes out and is answered.
  streams[0].ctx->TryCancel();
  EXPECT_EQ(streams[0].reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return third_done; }));
  }
  EXPECT_TRUE(third_status.ok()) << third_status.error_message();
  EXPECT_EQ(third_resp.pairs_size(), pairs.pairs_size());

  // The slot the finished call held takes a new stream.
  Open again{context(), nullptr};
  again.reader = a->StreamBook(again.ctx.get(), book);
  v1::BookUpdate snapshot;
  EXPECT_TRUE(again.reader->Read(&snapshot));
  again.ctx->TryCancel();
  (void)again.reader->Finish();
  streams[1].ctx->TryCancel();
  (void)streams[1].reader->Finish();
  testing::RemoveTree(scratch);
}

TEST(GatewayLimitsTest, JournalThatCannotWriteFailsClosedWithUnavailable) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  // Cap the server's file size: the next journal writes beyond it fail with EFBIG. The
  // limit is on the write offset, so it is set from where the data ends, not from the file
  // size: the writer keeps preallocated zeros ahead of its data (engine/journal/writer.h).
  std::string segment = server.data_dir() + "/00000000000000000001.msxj";
  std::ifstream in(segment, std::ios::binary);
  ASSERT_TRUE(in.good()) << segment;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t data_end = bytes.find_last_not_of('\0') + 1;
  struct rlimit limit {};
  limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(data_end) + 16384;
  ASSERT_EQ(prlimit(server.pid(), RLIMIT_FSIZE, &limit, nullptr), 0);

  AgencyClient komir(server.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(kGaCo);
  std::vector<std::uint64_t> acknowledged;
  grpc::Status last;
  for (int i = 1; i <= 2000; ++i) {
    v1::SubmitOfferResponse resp;
    last = komir.Submit(i, kGaCo, v1::SIDE_SELL, 1, price + 40, &resp);
    if (!last.ok()) break;
    acknowledged.push_back(resp.offer().offer_id());
  }
  ASSERT_EQ(last.error_code(), grpc::StatusCode::UNAVAILABLE) << last.error_message();
  EXPECT_NE(last.error_message().find("journal"), std::string::npos) << last.error_message();
  EXPECT_FALSE(acknowledged.empty());
  // Failed closed: later commands are refused too, and the admin status says why.
  v1::SubmitOfferResponse resp;
  EXPECT_EQ(komir.Submit(5000, kGaCo, v1::SIDE_SELL, 1, price, &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  AgencyClient admin(server.address(), "demo-admin");
  v1::GetExchangeStatusResponse status;
  ASSERT_TRUE(admin.admin()
                  .GetExchangeStatus(admin.Context().get(), v1::GetExchangeStatusRequest(), &status)
                  .ok());
  EXPECT_FALSE(status.accepting());
  EXPECT_FALSE(status.failure().empty());
  grpc::health::v1::HealthCheckResponse health;
  grpc::ClientContext health_ctx;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(admin.channel())
                  ->Check(&health_ctx, grpc::health::v1::HealthCheckRequest(), &health)
                  .ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  // Without the limit, a restart recovers every acknowledged offer.
  server.Kill();
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  AgencyClient again(server.address(), "demo-komir");
  v1::ListOffersResponse list;
  ASSERT_TRUE(again.ListOffers(&list).ok());
  ASSERT_GE(list.offers_size(), static_cast<int>(acknowledged.size()));
  for (std::size_t i = 0; i < acknowledged.size(); ++i) {
    EXPECT_EQ(list.offers(static_cast<int>(i)).offer_id(), acknowledged[i]);
  }
}

// server.grpc_memory_bytes (the grpc::ResourceQuota) at its minimum, 16 MiB: eight
// connections with four calls each of 3.5 MiB in flight (~112 MiB at once) push gRPC past
// it. What does not fit is refused (RESOURCE_EXHAUSTED, or the connection is closed:
// UNAVAILABLE); the server never crashes, and the next call is served.
TEST(GatewayLimitsTest, TinyGrpcMemoryQuotaRefusesCleanlyAndKeepsServing) {
  const std::string scratch = testing::MakeTempDir("msx-quota");
  v1::ExchangeConfig config = DefaultConfig();
  config.mutable_server()->set_grpc_memory_bytes(kMinGrpcMemoryBytes);
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.extra_args = {"--config", testing::WriteConfig(config, scratch)};
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();

  constexpr int kChannels = 8, kCallsPerChannel = 4, kRounds = 3;
  v1::ListPairsRequest big;
  // Bytes the server must receive and parse (an unknown field, ignored once parsed).
  big.GetReflection()->MutableUnknownFields(&big)->AddLengthDelimited(
      1000, std::string(static_cast<std::size_t>(3.5 * (1 << 20)), 'x'));
  std::mutex mu;
  std::condition_variable cv;
  std::map<grpc::StatusCode, int> outcomes;
  std::map<grpc::StatusCode, std::string> first_message;
  std::string unexpected;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    std::vector<std::unique_ptr<v1::Exchange::Stub>> stubs;
    for (int c = 0; c < kChannels; ++c) {
      grpc::ChannelArguments args;
      args.SetInt("msx.test.connection", round * kChannels + c);  // one connection each
      channels.push_back(grpc::CreateCustomChannel(server.address(),
                                                   grpc::InsecureChannelCredentials(), args));
      stubs.push_back(v1::Exchange::NewStub(channels.back()));
    }
    struct Call {
      grpc::ClientContext ctx;
      v1::ListPairsResponse resp;
    };
    std::vector<std::unique_ptr<Call>> calls;
    int pending = 0;
    for (int c = 0; c < kChannels; ++c) {
      for (int i = 0; i < kCallsPerChannel; ++i) {
        auto call = std::make_unique<Call>();
        call->ctx.AddMetadata("authorization", "Bearer demo-komir");
        call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        {
          std::lock_guard<std::mutex> lock(mu);
          ++pending;
        }
        stubs[c]->async()->ListPairs(&call->ctx, &big, &call->resp, [&](grpc::Status s) {
          std::lock_guard<std::mutex> lock(mu);
          if (outcomes[s.error_code()]++ == 0) {
            first_message[s.error_code()] = s.error_message();
          }
          if (s.error_code() != grpc::StatusCode::OK &&
              s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED &&
              s.error_code() != grpc::StatusCode::UNAVAILABLE && unexpected.empty()) {
            unexpected = absl::StrCat(s.error_code(), ": ", s.error_message());
          }
          --pending;
          cv.notify_all();
        });
        calls.push_back(std::move(call));
      }
    }
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(90), [&] { return pending == 0; })) {
      ADD_FAILURE() << pending << " calls unanswered after 90 s";
      // The callbacks use this frame: cancel, and wait until each has run.
      for (auto& call : calls) call->ctx.TryCancel();
      cv.wait(lock, [&] { return pending == 0; });
      break;
    }
  }
  std::string summary;
  for (const auto& [code, n] : outcomes) {
    absl::StrAppend(&summary, " ", code, ":", n, " (", first_message[code], ")");
  }
  EXPECT_TRUE(unexpected.empty()) << unexpected << " (outcomes" << summary << ")";
  // The quota bit (without it every call is answered OK), and gRPC went on serving what fit.
  EXPECT_GT(outcomes[grpc::StatusCode::RESOURCE_EXHAUSTED] +
                outcomes[grpc::StatusCode::UNAVAILABLE],
            0)
      << "outcomes" << summary;
  EXPECT_GT(outcomes[grpc::StatusCode::OK], 0) << "outcomes" << summary;
  // Still running (a crash would have ended the process), and serving.
  EXPECT_FALSE(server.WaitExit(std::chrono::milliseconds(0)).ok()) << server.Output();
  AgencyClient komir(server.address(), "demo-komir");
  v1::SubmitOfferResponse resp;
  grpc::Status after = komir.Submit(1, kGaCo, v1::SIDE_SELL, 1, komir.FairPrice(kGaCo) + 40, &resp);
  EXPECT_TRUE(after.ok()) << after.error_message() << " (outcomes" << summary << ")";
  testing::RemoveTree(scratch);
}

}  // namespace
}  // namespace msx
