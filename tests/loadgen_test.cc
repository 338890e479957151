// End-to-end tests of msx-loadgen: short runs against a real msx-server (and the bare echo
// server), with its JSON summary checked against what the server's execution streams and its
// journal show.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/server_process.h"

extern char** environ;

namespace msx {
namespace {

using testing::BuildPath;
using testing::RunCommand;

// The last stdout line of `msx-loadgen --json`, parsed as a JSON object.
google::protobuf::Struct LastJsonLine(const std::string& out) {
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  google::protobuf::Struct s;
  if (lines.empty()) {
    ADD_FAILURE() << "no output";
    return s;
  }
  auto status = google::protobuf::util::JsonStringToMessage(lines.back(), &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << lines.back();
  return s;
}

double Num(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  if (it == s.fields().end()) {
    ADD_FAILURE() << "summary lacks " << key;
    return -1;
  }
  return it->second.number_value();
}

// The four demo agencies msx-loadgen trades as by default.
const std::vector<std::string> kTokens = {"demo-komir", "demo-jogmec", "demo-dla",
                                          "demo-cmsr-au"};

// Stops `server` cleanly and checks its journal with msx-journal: `fills` journaled fills,
// `submits` SubmitOffer and `cancels` CancelOffer commands, and a replay that regenerates
// every journaled event.
void ExpectJournalHolds(testing::ServerProcess& server, double fills, double submits,
                        double cancels) {
  const int status = server.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
  auto stats = RunCommand({BuildPath("clients/journal/msx-journal"), "stats", server.data_dir()},
                          {}, std::chrono::seconds(30));
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  auto j = LastJsonLine(stats.out);
  EXPECT_EQ(Num(j, "fills"), fills) << stats.out;
  const auto& commands = j.fields().at("commands_by_type").struct_value();
  EXPECT_EQ(Num(commands, "SubmitOffer"), submits) << stats.out;
  EXPECT_EQ(Num(commands, "CancelOffer"), cancels) << stats.out;
  auto verify = RunCommand(
      {BuildPath("clients/journal/msx-journal"), "verify", server.data_dir(), "--replay"}, {},
      std::chrono::seconds(30));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST(LoadgenTest, OpenLoopSummaryMatchesTheServersExecutionStreams) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  // Independent subscribers, one per agency, from the start of the journal.
  std::vector<std::unique_ptr<testing::AgencyClient>> clients;
  std::vector<std::unique_ptr<testing::ExecWatcher>> watchers;
  for (const auto& token : kTokens) {
    clients.push_back(std::make_unique<testing::AgencyClient>(server.address(), token));
    watchers.push_back(testing::WatchExecutions(*clients.back(), token));
  }

  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--server", server.address(),
                       "--rate", "2000", "--count", "600", "--concurrency", "2",
                       "--cancel-percent", "20", "--json", "--quiet"},
                      {}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto s = LastJsonLine(r.out);
  EXPECT_EQ(Num(s, "sent"), 600);
  EXPECT_EQ(Num(s, "ok") + Num(s, "rejected"), 600) << r.out;
  EXPECT_EQ(s.fields().at("errors").struct_value().fields_size(), 0) << r.out;
  const double fills = Num(s, "fills");
  // 600 operations hold 240 crossing rounds; each round fills unless its two halves race
  // with another round of the same book (a self-match), which a loaded machine makes likely.
  EXPECT_GE(fills, 60) << r.out;
  EXPECT_EQ(Num(s, "exec_fills"), fills) << r.out;
  EXPECT_GT(Num(s, "p50_us"), 0);
  EXPECT_GE(Num(s, "p99_us"), Num(s, "p50_us"));
  EXPECT_GE(Num(s, "max_us"), Num(s, "p999_us"));
  EXPECT_GT(Num(s, "exec_p50_us"), 0);
  EXPECT_GT(Num(s, "rate"), 0);

  // What the server's streams saw, counted independently: each match has one aggressor
  // fill report, and every cancel the load generator sent cancelled a resting offer.
  auto count = [&](auto pred) {
    std::size_t n = 0;
    for (auto& w : watchers) {
      for (const auto& m : w->messages()) n += pred(m) ? 1 : 0;
    }
    return n;
  };
  auto aggressor = [](const v1::ExecutionReport& m) {
    return m.has_fill() && m.fill().aggressor();
  };
  auto requested_cancel = [](const v1::ExecutionReport& m) {
    return m.has_cancelled() && m.cancelled().reason() == v1::CANCEL_REASON_REQUESTED;
  };
  const std::size_t want = static_cast<std::size_t>(fills);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (count(aggressor) < want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(count(aggressor), want);
  // The run's own cancels plus the clean-up of offers it left resting.
  EXPECT_EQ(count(requested_cancel),
            static_cast<std::size_t>(Num(s, "cancels") + Num(s, "cleanup_cancels")));
  EXPECT_GT(Num(s, "cancels"), 0);

  // What the journal holds, read back by msx-journal after a clean shutdown: every submit and
  // cancel the generator counted as answered is a journaled command, every fill it counted is
  // a journaled fill, and replaying the journal regenerates exactly those events.
  ExpectJournalHolds(server, fills, Num(s, "submits"),
                     Num(s, "cancels") + Num(s, "cleanup_cancels"));
}

// --api order-entry: the same mix pipelined on OrderEntry streams (one per channel and
// agency), open loop then closed loop, then closed loop on OrderEntryBatches, on one
// server; every answered request and every fill the generator counted must be in the
// journal, which must replay.
TEST(LoadgenTest, OrderEntryRunsAgreeWithTheJournal) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  const std::string loadgen = BuildPath("clients/loadgen/msx-loadgen");
  auto open = RunCommand({loadgen, "--server", server.address(), "--api", "order-entry",
                          "--rate", "2000", "--count", "400", "--concurrency", "2",
                          "--cancel-percent", "20", "--json", "--quiet"},
                         {}, std::chrono::seconds(60));
  ASSERT_EQ(open.exit_code, 0) << open.err << open.out;
  auto closed = RunCommand({loadgen, "--server", server.address(), "--api", "order-entry",
                            "--rate", "0", "--window", "8", "--count", "800", "--concurrency",
                            "2", "--cancel-percent", "20", "--json", "--quiet"},
                           {}, std::chrono::seconds(60));
  ASSERT_EQ(closed.exit_code, 0) << closed.err << closed.out;
  auto batches = RunCommand({loadgen, "--server", server.address(), "--api",
                             "order-entry-batches", "--rate", "0", "--window", "16", "--count",
                             "800", "--concurrency", "2", "--cancel-percent", "20", "--json",
                             "--quiet"},
                            {}, std::chrono::seconds(60));
  ASSERT_EQ(batches.exit_code, 0) << batches.err << batches.out;
  double submits = 0, cancels = 0, fills = 0;
  for (const auto& [out, count, window, api] :
       {std::tuple{open.out, 400, 32, "order-entry"}, std::tuple{closed.out, 800, 8, "order-entry"},
        std::tuple{batches.out, 800, 16, "order-entry-batches"}}) {
    auto s = LastJsonLine(out);
    EXPECT_EQ(s.fields().at("api").string_value(), api) << out;
    EXPECT_EQ(Num(s, "window"), window) << out;
    EXPECT_EQ(Num(s, "streams"), 2 * 4) << out;  // 2 channels x 4 agencies
    EXPECT_EQ(Num(s, "sent"), count) << out;
    EXPECT_EQ(Num(s, "ok") + Num(s, "rejected"), count) << out;
    EXPECT_EQ(s.fields().at("errors").struct_value().fields_size(), 0) << out;
    EXPECT_EQ(s.fields().at("response_errors").struct_value().fields_size(), 0) << out;
    EXPECT_EQ(Num(s, "submits") + Num(s, "cancels"), count) << out;
    EXPECT_GT(Num(s, "fills"), 0) << out;
    EXPECT_EQ(Num(s, "exec_fills"), Num(s, "fills")) << out;
    EXPECT_GT(Num(s, "p50_us"), 0) << out;
    EXPECT_GE(Num(s, "p99_us"), Num(s, "p50_us")) << out;
    EXPECT_GT(Num(s, "exec_p50_us"), 0) << out;
    submits += Num(s, "submits");
    cancels += Num(s, "cancels") + Num(s, "cleanup_cancels");
    fills += Num(s, "fills");
  }
  // Nothing of either run is left resting on the books.
  for (const auto& token : kTokens) {
    testing::AgencyClient client(server.address(), token);
    v1::ListOffersResponse offers;
    ASSERT_TRUE(client.exchange().ListOffers(client.Context().get(), {}, &offers).ok());
    EXPECT_EQ(offers.offers_size(), 0) << token;
  }

  ExpectJournalHolds(server, fills, submits, cancels);
}

// The RPC behind --api order-entry-batches, driven directly: every request of a batch is
// answered once by correlation id with OrderEntry's codes (engine result, validation error,
// missing command), the stream finishes OK after the half-close, and a later batch can
// cancel what an earlier one placed.
TEST(LoadgenTest, OrderEntryBatchesAnswersEveryRequestOfABatchByCorrelationId) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  testing::AgencyClient komir(server.address(), "demo-komir");
  const std::int64_t price = komir.FairPrice(testing::kGaCo);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer demo-komir");
  auto stream = komir.exchange().OrderEntryBatches(&ctx);
  v1::OrderEntryRequestBatch batch;
  for (int i = 1; i <= 2; ++i) {
    v1::OrderEntryRequest* req = batch.add_requests();
    req->set_correlation_id(100 + i);
    v1::SubmitOfferRequest* sub = req->mutable_submit();
    sub->set_client_offer_id(700 + i);
    sub->set_pair(testing::kGaCo);
    sub->set_side(v1::SIDE_SELL);
    sub->set_lots(i == 2 ? 0 : 1);  // the second is invalid
    sub->set_price(price + 20);
  }
  batch.add_requests()->set_correlation_id(103);  // no command
  ASSERT_TRUE(stream->Write(batch));
  std::map<std::uint64_t, v1::OrderEntryResponse> got;
  v1::OrderEntryResponseBatch responses;
  while (got.size() < 3 && stream->Read(&responses)) {
    for (const auto& r : responses.responses()) {
      EXPECT_TRUE(got.emplace(r.correlation_id(), r).second) << r.correlation_id();
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[101].code(), 0) << got[101].message();
  EXPECT_EQ(got[101].submit().offer().client_offer_id(), 701u);
  EXPECT_EQ(got[101].submit().offer().state(), v1::OFFER_STATE_OPEN);
  EXPECT_GT(got[101].submit().seq(), 0u);
  EXPECT_EQ(got[102].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(got[102].message().rfind("REJECT_REASON_INVALID_LOTS", 0), 0u) << got[102].message();
  EXPECT_EQ(got[103].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));

  v1::OrderEntryRequestBatch cancel;
  v1::OrderEntryRequest* req = cancel.add_requests();
  req->set_correlation_id(104);
  req->mutable_cancel()->set_offer_id(got[101].submit().offer().offer_id());
  ASSERT_TRUE(stream->Write(cancel));
  stream->WritesDone();
  std::vector<v1::OrderEntryResponse> rest;
  while (stream->Read(&responses)) {
    for (const auto& r : responses.responses()) rest.push_back(r);
  }
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].correlation_id(), 104u);
  EXPECT_EQ(rest[0].code(), 0) << rest[0].message();
  EXPECT_EQ(rest[0].cancel().offer().state(), v1::OFFER_STATE_CANCELLED);
  EXPECT_GT(rest[0].cancel().seq(), got[101].submit().seq());
}

TEST(LoadgenTest, ClosedLoopAccountsForEveryCall) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--server", server.address(),
                       "--rate", "0", "--count", "400", "--concurrency", "4", "--json"},
                      {}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto s = LastJsonLine(r.out);
  EXPECT_EQ(Num(s, "sent"), 400);
  EXPECT_EQ(Num(s, "ok") + Num(s, "rejected"), 400) << r.out;
  EXPECT_GT(Num(s, "fills"), 0);
  EXPECT_EQ(Num(s, "exec_fills"), Num(s, "fills"));
  // Nothing of the run is left resting on the books.
  for (const auto& token : kTokens) {
    testing::AgencyClient client(server.address(), token);
    v1::ListOffersResponse open;
    ASSERT_TRUE(client.exchange().ListOffers(client.Context().get(), {}, &open).ok());
    EXPECT_EQ(open.offers_size(), 0) << token;
  }
  // The human summary precedes the JSON line.
  EXPECT_NE(r.out.find("submit->reply"), std::string::npos);
}

// --exec-stream none: the calls alone, no execution stream is opened; the fills the
// generator counts come from the replies and the journal holds them all.
TEST(LoadgenTest, WithoutExecutionStreamsEveryCallIsStillAccountedFor) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--server", server.address(),
                       "--rate", "0", "--count", "300", "--concurrency", "2", "--exec-stream",
                       "none", "--json", "--quiet"},
                      {}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto s = LastJsonLine(r.out);
  EXPECT_EQ(s.fields().at("exec_stream").string_value(), "none");
  EXPECT_EQ(Num(s, "sent"), 300);
  EXPECT_EQ(Num(s, "ok") + Num(s, "rejected"), 300) << r.out;
  EXPECT_GT(Num(s, "fills"), 0) << r.out;
  EXPECT_EQ(Num(s, "exec_reports"), 0) << r.out;
  EXPECT_EQ(Num(s, "exec_fills"), 0) << r.out;
  ExpectJournalHolds(server, Num(s, "fills"), Num(s, "submits"),
                     Num(s, "cancels") + Num(s, "cleanup_cancels"));
}

// Starts msx-echo-server on a free port; kills it (by pid) when destroyed.
class EchoServer {
 public:
  bool Start() {
    dir_ = testing::MakeTempDir("msx-echo");
    std::string port_file = dir_ + "/port";
    std::vector<std::string> args = {BuildPath("bench/msx-echo-server"), "--port-file",
                                     port_file};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return port_ != 0;
  }
  ~EchoServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    testing::RemoveTree(dir_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

TEST(LoadgenTest, EchoModeMeasuresTheBareGrpcFloor) {
  EchoServer echo;
  ASSERT_TRUE(echo.Start());
  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--echo", "--server",
                       echo.address(), "--rate", "0", "--count", "300", "--concurrency", "2",
                       "--json", "--quiet"},
                      {}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto s = LastJsonLine(r.out);
  EXPECT_EQ(Num(s, "sent"), 300);
  EXPECT_EQ(Num(s, "ok"), 300);
  EXPECT_EQ(Num(s, "fills"), 0);
  EXPECT_GT(Num(s, "p50_us"), 0);
  EXPECT_EQ(s.fields().at("mode").string_value(), "echo");
}

TEST(LoadgenTest, RefusedTokenStopsTheRunBeforeSendingAndNamesTheAgency) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--server", server.address(),
                       "--agencies", "KOMIR=wrong-token,JOGMEC=demo-jogmec", "--count", "10"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("KOMIR"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
}

TEST(LoadgenTest, BadFlagIsAUsageError) {
  auto r = RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--rate", "-5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--rate"), std::string::npos);
}

}  // namespace
}  // namespace msx
