// End to end on the streams' guarantees: every report exactly once and in order for a
// subscriber that joins while commands flow, only reports after after_seq for a resume
// ahead of the exchange, a resume from seq 0 over a large journal that completes without
// holding up other agencies, and the per-stream and per-agency limits.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
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

// How long a wait for something the test causes may take before it counts as failed: a
// bound for a broken build only, long enough for a loaded two-core machine or a
// ThreadSanitizer build (5-15x slower). No assertion depends on how fast anything is.
constexpr std::chrono::seconds kGenerous{60};

// Enough gallium and cobalt that holdings never limit a test's trading.
v1::ExchangeConfig RichConfig() {
  v1::ExchangeConfig config = DefaultConfig();
  for (auto& agency : *config.mutable_agencies()) {
    for (auto& h : *agency.mutable_holdings()) h.set_amount(1000000000000);
  }
  return config;
}

// A desk's OrderEntryBatches stream driven synchronously: Send writes one batch and waits
// for every response of it.
class Desk {
 public:
  Desk(AgencyClient& client, const std::string& token) {
    if (!token.empty()) ctx_.AddMetadata("authorization", "Bearer " + token);
    stream_ = client.exchange().OrderEntryBatches(&ctx_);
  }
  ~Desk() {
    stream_->WritesDone();
    (void)stream_->Finish();
  }
  // Submits GTC offers of 1 lot at `price`, client ids first_id.., and returns their seqs
  // (empty if any failed).
  std::vector<std::uint64_t> Submit(std::uint64_t first_id, int n, v1::Side side,
                                    std::int64_t price) {
    v1::OrderEntryRequestBatch batch;
    for (int i = 0; i < n; ++i) {
      v1::OrderEntryRequest* r = batch.add_requests();
      r->set_correlation_id(static_cast<std::uint64_t>(i));
      v1::SubmitOfferRequest* sub = r->mutable_submit();
      sub->set_client_offer_id(first_id + static_cast<std::uint64_t>(i));
      sub->set_pair(kGaCo);
      sub->set_side(side);
      sub->set_lots(1);
      sub->set_price(price);
      sub->set_time_in_force(v1::TIME_IN_FORCE_GTC);
    }
    std::vector<std::uint64_t> seqs(static_cast<std::size_t>(n), 0);
    if (!stream_->Write(batch)) return {};
    int answered = 0;
    v1::OrderEntryResponseBatch resp;
    while (answered < n && stream_->Read(&resp)) {
      for (const auto& r : resp.responses()) {
        if (r.code() != 0) return {};
        seqs[r.correlation_id()] = r.submit().seq();
        ++answered;
      }
    }
    if (answered < n) return {};
    return seqs;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>>
      stream_;
};

// Reads a server stream on a background thread, but only while fewer than `allowed`
// messages were read: a client that stops reading (gRPC flow control then holds the
// server's writes) until Allow() raises the bound. Its own channel, without BDP probing,
// keeps the client's flow-control window at gRPC's initial 64 KiB.
template <typename Msg>
class GatedReader {
 public:
  using Opener = std::function<std::unique_ptr<grpc::ClientReader<Msg>>(v1::Exchange::Stub*,
                                                                        grpc::ClientContext*)>;
  GatedReader(const std::string& address, const std::string& token, std::size_t allowed,
              Opener open)
      : allowed_(allowed) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stub_ = v1::Exchange::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    ctx_.AddMetadata("authorization", "Bearer " + token);
    reader_ = open(stub_.get(), &ctx_);
    thread_ = std::thread([this] {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return count_ < allowed_; });
        }
        Msg msg;
        if (!reader_->Read(&msg)) break;
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(std::move(msg));
        ++count_;
        cv_.notify_all();
      }
      grpc::Status s = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      status_ = s;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~GatedReader() {
    ctx_.TryCancel();
    Allow(SIZE_MAX);
    thread_.join();
  }
  void Allow(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    allowed_ = n;
    cv_.notify_all();
  }
  // Waits until `n` messages were read or the stream ended; returns the count read.
  std::size_t WaitForCount(std::size_t n, std::chrono::seconds timeout = kGenerous) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return count_ >= n || done_; });
    return count_;
  }
  grpc::Status WaitDone(std::chrono::seconds timeout = kGenerous) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return done_; });
    return done_ ? status_ : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "still open");
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  std::vector<Msg> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Msg>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t allowed_;
  std::size_t count_ = 0;
  std::vector<Msg> messages_;
  grpc::Status status_;
  bool done_ = false;
};

GatedReader<v1::ExecutionReport>::Opener ExecOpener(std::uint64_t after) {
  return [after](v1::Exchange::Stub* stub, grpc::ClientContext* ctx) {
    v1::StreamExecutionsRequest req;
    req.set_after_seq(after);
    return stub->StreamExecutions(ctx, req);
  };
}
GatedReader<v1::BookUpdate>::Opener BookOpener() {
  return [](v1::Exchange::Stub* stub, grpc::ClientContext* ctx) {
    v1::StreamBookRequest req;
    req.set_pair(kGaCo);
    return stub->StreamBook(ctx, req);
  };
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

  // `batches` x 256 trades through two desks (KOMIR's sells rest, JOGMEC's buys take
  // them); appends KOMIR's expected reports ("seq/accepted", "seq/fill") in order.
  void DeskTrades(int batches, std::uint64_t first_id, std::vector<std::string>* komir_reports) {
    const std::int64_t price = komir_->FairPrice(kGaCo);
    Desk sells(*komir_, "demo-komir");
    Desk buys(*jogmec_, "demo-jogmec");
    for (int b = 0; b < batches; ++b) {
      const std::uint64_t id = first_id + static_cast<std::uint64_t>(b) * 256;
      std::vector<std::uint64_t> s = sells.Submit(id, 256, v1::SIDE_SELL, price);
      std::vector<std::uint64_t> t = buys.Submit(id, 256, v1::SIDE_BUY, price);
      ASSERT_EQ(s.size(), 256u);
      ASSERT_EQ(t.size(), 256u);
      // The buys take the resting sells in time priority (= sequence) order, one each.
      std::vector<std::uint64_t> sold = s, bought = t;
      std::sort(sold.begin(), sold.end());
      std::sort(bought.begin(), bought.end());
      if (komir_reports == nullptr) continue;
      for (std::uint64_t seq : sold) komir_reports->push_back(std::to_string(seq) + "/accepted");
      for (std::uint64_t seq : bought) komir_reports->push_back(std::to_string(seq) + "/fill");
    }
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
  std::atomic<int> trades{0};
  std::vector<std::thread> traders;
  for (int t = 0; t < 4; ++t) {
    traders.emplace_back([&] {
      while (!stop.load()) {
        if (Trade(next_id.fetch_add(1), 1, price) != 0) trades.fetch_add(1);
      }
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
    // The next subscriber joins after a dozen more trades, however fast the server runs
    // (a sanitizer build is 5-15x slower): load measured in trades, not in time.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (trades.load() < (i + 1) * 12 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
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

// Defect: a resume from seq 0 after a restart read the whole journal on the sequencer
// thread (stalling every agency) and queued it as live messages, so it ended with
// RESOURCE_EXHAUSTED past the stream cap. Now the history is read off the sequencer,
// paged under flow control, not counted against the cap, and handed over to live reports.
TEST_F(GatewayStreamsTest, ResumeFromZeroOverALargeJournalCompletesWhileOthersTrade) {
  const std::string data_dir = scratch_ + "/data";
  v1::ExchangeConfig config = RichConfig();
  // Far below the history's size: history must not count against it.
  config.mutable_server()->set_stream_max_queued_messages(1000);
  StartServer(config, "none", data_dir);
  constexpr int kBatches = 100;  // 25,600 trades: 51,200 commands, 51,200 KOMIR reports
  std::vector<std::string> expected;
  DeskTrades(kBatches, 1, &expected);
  if (HasFatalFailure()) return;
  ASSERT_EQ(server_.Stop(SIGTERM), 0) << server_.Output();
  StartServer(config, "none", data_dir);

  // The client reads 2,000 reports and stops: the resume is then held by flow control.
  GatedReader<v1::ExecutionReport> resume(server_.address(), "demo-komir", 2000, ExecOpener(0));
  ASSERT_EQ(resume.WaitForCount(2000), 2000u);
  // Meanwhile other agencies' commands are accepted (the sequencer is not reading the
  // journal for the resume, nor waiting for it).
  const std::int64_t price = dla_->FairPrice("NDPR-OX/CO-99.8");
  for (std::uint64_t id = 1; id <= 200; ++id) {
    v1::SubmitOfferResponse resp;
    ASSERT_TRUE(dla_->Submit(id, "NDPR-OX/CO-99.8", v1::SIDE_SELL, 1, price, &resp).ok());
  }
  EXPECT_FALSE(resume.done()) << "the resume ended early: " << resume.WaitDone().error_message();
  EXPECT_LT(resume.messages().size(), expected.size()) << "the resume is no longer in progress";

  // The rest, then live reports after the handover: each once, in order.
  resume.Allow(SIZE_MAX);
  ASSERT_EQ(resume.WaitForCount(expected.size()), expected.size())
      << resume.WaitDone().error_message();
  DeskTrades(1, 1000000, &expected);
  ASSERT_EQ(resume.WaitForCount(expected.size()), expected.size())
      << resume.WaitDone().error_message();
  std::vector<std::string> got;
  for (const auto& r : resume.messages()) {
    got.push_back(std::to_string(r.seq()) + (r.has_fill() ? "/fill" : r.has_accepted() ? "/accepted" : "/other"));
  }
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], expected[i]) << "report " << i;
  }
  EXPECT_FALSE(resume.done());
}

TEST_F(GatewayStreamsTest, SlowStreamsAreEndedAtTheByteCap) {
  v1::ExchangeConfig config = RichConfig();
  config.mutable_server()->set_stream_max_queued_bytes(16384);
  StartServer(config, "none");
  // The clients read the first messages (so both streams are live), then stop reading:
  // gRPC's flow-control window fills, then the server's queue.
  GatedReader<v1::ExecutionReport> exec(server_.address(), "demo-komir", 2, ExecOpener(0));
  GatedReader<v1::BookUpdate> book(server_.address(), "demo-komir", 1, BookOpener());
  ASSERT_EQ(book.WaitForCount(1), 1u);
  ASSERT_NE(Trade(1, 1, komir_->FairPrice(kGaCo)), 0u);
  ASSERT_EQ(exec.WaitForCount(2), 2u);
  DeskTrades(40, 100, nullptr);  // 10,240 trades: ~20,000 reports, ~30,000 book updates
  if (HasFatalFailure()) return;
  exec.Allow(SIZE_MAX);
  book.Allow(SIZE_MAX);
  const grpc::Status statuses[] = {exec.WaitDone(), book.WaitDone()};
  const std::size_t counts[] = {exec.messages().size(), book.messages().size()};
  for (int i = 0; i < 2; ++i) {
    const grpc::Status& s = statuses[i];
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << (i == 0 ? "execution" : "book") << " stream: " << s.error_message() << " after "
        << counts[i] << " messages";
    EXPECT_NE(s.error_message().find("16384 bytes queued (server.stream_max_queued_bytes)"),
              std::string::npos)
        << s.error_message();
  }
}

TEST_F(GatewayStreamsTest, SlowStreamsAreEndedAtTheMessageCap) {
  v1::ExchangeConfig config = RichConfig();
  config.mutable_server()->set_stream_max_queued_messages(100);
  StartServer(config, "none");
  GatedReader<v1::ExecutionReport> exec(server_.address(), "demo-komir", 2, ExecOpener(0));
  ASSERT_NE(Trade(1, 1, komir_->FairPrice(kGaCo)), 0u);
  ASSERT_EQ(exec.WaitForCount(2), 2u);  // live from here on
  DeskTrades(40, 100, nullptr);
  if (HasFatalFailure()) return;
  exec.Allow(SIZE_MAX);
  grpc::Status s = exec.WaitDone();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("100 messages queued (server.stream_max_queued_messages)"),
            std::string::npos)
      << s.error_message();
}

TEST_F(GatewayStreamsTest, OpenStreamsPerAgencyAreLimited) {
  v1::ExchangeConfig config = RichConfig();
  config.mutable_server()->set_max_streams_per_agency(2);
  StartServer(config, "none");
  const std::int64_t price = komir_->FairPrice(kGaCo);
  auto first = testing::WatchExecutions(*komir_, "demo-komir");
  // A trade's two reports show that the first stream is open (counted) before the third
  // is asked for: the server may run two calls' handlers in either order.
  ASSERT_NE(Trade(1, 1, price), 0u);
  ASSERT_TRUE(first->WaitForCount(2, kGenerous));
  auto second = std::make_unique<GatedReader<v1::BookUpdate>>(server_.address(), "demo-komir",
                                                              SIZE_MAX, BookOpener());
  ASSERT_EQ(second->WaitForCount(1), 1u);  // the snapshot: both are open
  auto third = testing::WatchExecutions(*komir_, "demo-komir");
  grpc::Status s = third->WaitDone(kGenerous);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("max_streams_per_agency: KOMIR has 2 streams open"),
            std::string::npos)
      << s.error_message();
  // Another agency is not affected.
  auto other = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  // Closing one frees its place (the server counts it down when the stream is done, which
  // the client does not see: it asks again until a stream is admitted).
  second.reset();
  bool reopened = false;
  const auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (!reopened && std::chrono::steady_clock::now() < deadline) {
    GatedReader<v1::BookUpdate> again(server_.address(), "demo-komir", SIZE_MAX, BookOpener());
    reopened = again.WaitForCount(1, kGenerous) == 1;
    if (!reopened) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(reopened);
  // The first stream and the other agency's are live: the next trade reaches both.
  const std::uint64_t seq = Trade(2, 1, price);
  ASSERT_NE(seq, 0u);
  auto reached = [seq](const std::vector<v1::ExecutionReport>& m) {
    return !m.empty() && m.back().seq() >= seq;
  };
  EXPECT_TRUE(first->WaitFor(reached, kGenerous));
  EXPECT_TRUE(other->WaitFor(reached, kGenerous));
}

}  // namespace
}  // namespace msx
