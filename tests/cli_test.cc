// End-to-end tests of the `msx` command line against a real msx-server on loopback: every
// subcommand, --json output parsed back into the API's messages, and the exit code of
// each failure.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.pb.h"
#include "gtest/gtest.h"
#include "msx/v1/exchange.pb.h"
#include "tests/testing/server_process.h"

extern char** environ;

namespace msx {
namespace {

using testing::BuildPath;
using testing::CommandResult;
using testing::RunCommand;

constexpr char kPair[] = "GA-4N/CO-99.8";  // KOMIR and JOGMEC are eligible (FORGE)

// Exit codes documented in `msx --help`.
constexpr int kExitUsage = 2;
constexpr int kExitInvalidArgument = 13;
constexpr int kExitNotFound = 15;
constexpr int kExitAlreadyExists = 16;
constexpr int kExitPermissionDenied = 17;
constexpr int kExitFailedPrecondition = 19;
constexpr int kExitUnavailable = 24;
constexpr int kExitUnauthenticated = 26;

template <typename Msg>
Msg ParseJson(const std::string& line) {
  Msg msg;
  auto status = google::protobuf::util::JsonStringToMessage(line, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << line;
  return msg;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ServerProcess;
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s << server_->Output();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // Runs msx against the suite's server with MSX_TOKEN=token (none when empty).
  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"MSX_SERVER=" + server_->address()};
    env.push_back("MSX_TOKEN=" + token);
    return RunCommand(argv, env, std::chrono::seconds(20));
  }

  v1::Pair Pair(const std::string& symbol) {
    auto r = Msx("demo-komir", {"pairs", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto pairs = ParseJson<v1::ListPairsResponse>(r.out);
    for (const auto& p : pairs.pairs()) {
      if (p.symbol() == symbol) return p;
    }
    ADD_FAILURE() << "no pair " << symbol;
    return {};
  }

  // The one-line error contract: "msx: <CODE>: <message>\n".
  static void ExpectErrorLine(const CommandResult& r, int exit_code, const std::string& code) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_TRUE(absl::StartsWith(r.err, "msx: " + code + ": ")) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }

  static testing::ServerProcess* server_;
};

testing::ServerProcess* CliTest::server_ = nullptr;

TEST_F(CliTest, ReferenceDataPrintsTablesWithUnitsAndJsonThatParsesBack) {
  auto inst = Msx("demo-komir", {"instruments", "--json"});
  ASSERT_EQ(inst.exit_code, 0) << inst.err;
  ASSERT_EQ(Lines(inst.out).size(), 1u);
  auto instruments = ParseJson<v1::ListInstrumentsResponse>(inst.out);
  bool cobalt = false;
  for (const auto& i : instruments.instruments()) {
    if (i.symbol() == "CO-99.8") {
      cobalt = true;
      EXPECT_EQ(i.unit(), "kg");
      EXPECT_EQ(i.lot_size(), 1000);
    }
  }
  EXPECT_TRUE(cobalt);

  v1::Pair ga_co = Pair(kPair);
  EXPECT_EQ(ga_co.base(), "GA-4N");
  EXPECT_GT(ga_co.band_high(), ga_co.band_low());

  auto human = Msx("demo-komir", {"pairs"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("REF_PRICE"), std::string::npos);
  EXPECT_NE(human.out.find(kPair), std::string::npos);
  EXPECT_NE(human.out.find("1,000 kg CO-99.8"), std::string::npos) << human.out;
  auto table = Msx("demo-komir", {"instruments"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("cobalt"), std::string::npos);
}

TEST_F(CliTest, SubmitCrossesAndBothAgenciesSeeTheSwap) {
  const v1::Pair p = Pair(kPair);
  const std::string price = std::to_string(p.band_low() + p.tick());
  auto sell = Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots", "2",
                                 "--price", price, "--json"});
  ASSERT_EQ(sell.exit_code, 0) << sell.err;
  auto sold = ParseJson<v1::SubmitOfferResponse>(sell.out);
  EXPECT_EQ(sold.offer().state(), v1::OFFER_STATE_OPEN);
  EXPECT_EQ(sold.offer().open_lots(), 2);
  EXPECT_NE(sold.offer().client_offer_id(), 0u);  // generated

  auto offers = Msx("demo-komir", {"offers", "--pair", kPair, "--json"});
  ASSERT_EQ(offers.exit_code, 0) << offers.err;
  bool listed = false;
  const auto listed_offers = ParseJson<v1::ListOffersResponse>(offers.out);
  for (const auto& o : listed_offers.offers()) {
    listed = listed || o.offer_id() == sold.offer().offer_id();
  }
  EXPECT_TRUE(listed);
  auto one = Msx("demo-komir", {"offer", std::to_string(sold.offer().offer_id()), "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(ParseJson<v1::Offer>(one.out).price(), p.band_low() + p.tick());

  auto book = Msx("demo-jogmec", {"book", kPair, "--json"});
  ASSERT_EQ(book.exit_code, 0) << book.err;
  auto snapshot = ParseJson<v1::BookSnapshot>(book.out);
  ASSERT_GE(snapshot.asks_size(), 1);
  EXPECT_EQ(snapshot.asks(0).price(), p.band_low() + p.tick());
  EXPECT_EQ(snapshot.asks(0).lots(), 2);
  auto book_table = Msx("demo-jogmec", {"book", kPair});
  ASSERT_EQ(book_table.exit_code, 0) << book_table.err;
  EXPECT_NE(book_table.out.find("ASK_PRICE"), std::string::npos);

  auto buy = Msx("demo-jogmec", {"submit", "--pair", kPair, "--side", "buy", "--lots", "2",
                                 "--price", price, "--client-id", "5001"});
  ASSERT_EQ(buy.exit_code, 0) << buy.err;
  // Human output carries units: GA-4N lots are 100,000 g.
  EXPECT_NE(buy.out.find("2 lots = 200,000 g GA-4N"), std::string::npos) << buy.out;
  EXPECT_NE(buy.out.find("with KOMIR"), std::string::npos) << buy.out;

  // KOMIR's execution stream: the acceptance, then the fill with exact amounts.
  auto watch = Msx("demo-komir", {"watch", "--from-seq", std::to_string(sold.seq() - 1),
                                  "--count", "2", "--json"});
  ASSERT_EQ(watch.exit_code, 0) << watch.err;
  auto lines = Lines(watch.out);
  ASSERT_EQ(lines.size(), 2u) << watch.out;
  auto accepted = ParseJson<v1::ExecutionReport>(lines[0]);
  auto filled = ParseJson<v1::ExecutionReport>(lines[1]);
  EXPECT_EQ(accepted.seq(), sold.seq());
  ASSERT_TRUE(accepted.has_accepted());
  ASSERT_TRUE(filled.has_fill()) << lines[1];
  EXPECT_EQ(filled.fill().counterparty(), "JOGMEC");
  EXPECT_EQ(filled.fill().lots(), 2);
  EXPECT_EQ(filled.fill().quote_amount(), 2 * (p.band_low() + p.tick()));

  auto holdings = Msx("demo-jogmec", {"holdings", "--json"});
  ASSERT_EQ(holdings.exit_code, 0) << holdings.err;
  auto h = ParseJson<v1::GetHoldingsResponse>(holdings.out);
  EXPECT_EQ(h.agency(), "JOGMEC");
  EXPECT_GT(h.holdings_size(), 0);
  auto table = Msx("demo-jogmec", {"holdings"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("AVAILABLE"), std::string::npos);
}

TEST_F(CliTest, ReplaceThenCancelChangeTheRestingOffer) {
  const v1::Pair p = Pair(kPair);
  auto sell = Msx("demo-dla", {"submit", "--pair", kPair, "--side", "sell", "--lots", "3",
                               "--price", std::to_string(p.band_high()), "--json"});
  // DLA holds no gallium in the demo configuration: a real FAILED_PRECONDITION.
  ExpectErrorLine(sell, kExitFailedPrecondition, "FAILED_PRECONDITION");
  EXPECT_NE(sell.err.find("REJECT_REASON_INSUFFICIENT_HOLDINGS"), std::string::npos);

  auto rest = Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots", "3",
                                 "--price", std::to_string(p.band_high()), "--json"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  const std::string id = std::to_string(ParseJson<v1::SubmitOfferResponse>(rest.out).offer().offer_id());
  auto replaced = Msx("demo-komir", {"replace", id, "--lots", "1", "--price",
                                     std::to_string(p.band_high()), "--json"});
  ASSERT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_EQ(ParseJson<v1::ReplaceOfferResponse>(replaced.out).offer().open_lots(), 1);

  // Another agency cannot see it: NOT_FOUND, never revealed.
  ExpectErrorLine(Msx("demo-jogmec", {"cancel", id}), kExitNotFound, "NOT_FOUND");

  auto cancelled = Msx("demo-komir", {"cancel", id, "--json"});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(ParseJson<v1::CancelOfferResponse>(cancelled.out).offer().state(),
            v1::OFFER_STATE_CANCELLED);
  auto human = Msx("demo-komir", {"cancel", "987654321"});
  ExpectErrorLine(human, kExitNotFound, "NOT_FOUND");
}

TEST_F(CliTest, EachFailureExitsWithItsGrpcCodesExitCode) {
  const v1::Pair p = Pair(kPair);
  const std::string price = std::to_string(p.band_high());
  ExpectErrorLine(Msx("", {"holdings"}), kExitUnauthenticated, "UNAUTHENTICATED");
  ExpectErrorLine(Msx("not-a-token", {"holdings"}), kExitUnauthenticated, "UNAUTHENTICATED");
  ExpectErrorLine(Msx("demo-komir", {"status"}), kExitPermissionDenied, "PERMISSION_DENIED");
  ExpectErrorLine(Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots",
                                     "0", "--price", price}),
                  kExitInvalidArgument, "INVALID_ARGUMENT");
  ExpectErrorLine(Msx("demo-komir", {"submit", "--pair", "XX/YY", "--side", "sell", "--lots",
                                     "1", "--price", price}),
                  kExitNotFound, "NOT_FOUND");
  // The same client id with different terms is not a retry.
  ASSERT_EQ(Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots", "1",
                               "--price", price, "--client-id", "777"})
                .exit_code,
            0);
  ExpectErrorLine(Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots",
                                     "2", "--price", price, "--client-id", "777"}),
                  kExitAlreadyExists, "ALREADY_EXISTS");
  // A closed port: UNAVAILABLE.
  auto down = RunCommand({BuildPath("clients/msx/msx"), "--server", "127.0.0.1:1",
                          "--deadline-ms", "2000", "--token", "demo-komir", "pairs"});
  ExpectErrorLine(down, kExitUnavailable, "UNAVAILABLE");
  // Usage errors are caught before any call.
  auto usage = Msx("demo-komir", {"submit", "--pair", kPair, "--side", "up", "--lots", "1",
                                  "--price", price});
  EXPECT_EQ(usage.exit_code, kExitUsage);
  EXPECT_NE(usage.err.find("--side"), std::string::npos);
  EXPECT_EQ(Msx("demo-komir", {"frobnicate"}).exit_code, kExitUsage);
}

TEST_F(CliTest, AdminHaltsResumesSetsHoldingsAndReportsStatus) {
  auto set = Msx("demo-admin", {"set-holdings", "NRCAN", "NI-99.8", "12345000", "--json"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  auto holding = ParseJson<v1::SetHoldingsResponse>(set.out).holding();
  EXPECT_EQ(holding.available() + holding.reserved(), 12345000);
  auto agency = Msx("demo-admin", {"agency-holdings", "NRCAN", "--json"});
  ASSERT_EQ(agency.exit_code, 0) << agency.err;
  bool found = false;
  const auto nrcan = ParseJson<v1::GetHoldingsResponse>(agency.out);
  for (const auto& h : nrcan.holdings()) {
    if (h.instrument() == "NI-99.8") {
      found = true;
      EXPECT_EQ(h.available() + h.reserved(), 12345000);
    }
  }
  EXPECT_TRUE(found);

  const std::string pair = "NI-99.8/CO-99.8";
  ASSERT_EQ(Msx("demo-admin", {"halt", pair}).exit_code, 0);
  auto status = Msx("demo-admin", {"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto st = ParseJson<v1::GetExchangeStatusResponse>(status.out);
  EXPECT_EQ(std::count(st.halted_pairs().begin(), st.halted_pairs().end(), pair), 1);
  EXPECT_TRUE(st.accepting());
  EXPECT_GT(st.agencies_size(), 1);
  const v1::Pair p = Pair(pair);
  EXPECT_TRUE(p.halted());
  auto halted = Msx("demo-komir", {"submit", "--pair", pair, "--side", "sell", "--lots", "1",
                                   "--price", std::to_string(p.band_high())});
  ExpectErrorLine(halted, kExitFailedPrecondition, "FAILED_PRECONDITION");
  EXPECT_NE(halted.err.find("REJECT_REASON_PAIR_HALTED"), std::string::npos);
  ASSERT_EQ(Msx("demo-admin", {"resume", pair, "--json"}).exit_code, 0);
  EXPECT_FALSE(Pair(pair).halted());
  auto human = Msx("demo-admin", {"status"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("durable seq"), std::string::npos);
  EXPECT_NE(human.out.find("KOMIR"), std::string::npos);
}

TEST_F(CliTest, WatchResumesAfterAGivenSequenceNumber) {
  const v1::Pair p = Pair(kPair);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Msx("demo-cmsr-au", {"submit", "--pair", "CO-99.8/LIOH-56.5", "--side", "sell",
                                   "--lots", "1", "--price",
                                   std::to_string(Pair("CO-99.8/LIOH-56.5").band_high())})
                  .exit_code,
              0);
  }
  auto all = Msx("demo-cmsr-au", {"watch", "--count", "3", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto lines = Lines(all.out);
  ASSERT_EQ(lines.size(), 3u);
  auto first = ParseJson<v1::ExecutionReport>(lines[0]);
  auto second = ParseJson<v1::ExecutionReport>(lines[1]);
  auto resumed = Msx("demo-cmsr-au", {"watch", "--from-seq", std::to_string(first.seq()),
                                      "--count", "1", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(ParseJson<v1::ExecutionReport>(resumed.out).seq(), second.seq());
  auto human = Msx("demo-cmsr-au", {"watch", "--count", "1"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("accepted offer"), std::string::npos) << human.out;
}

TEST_F(CliTest, WatchEndsCleanlyOnSigint) {
  std::vector<std::string> args = {BuildPath("clients/msx/msx"), "--server", server_->address(),
                                   "--token", "demo-komir", "watch-book", kPair};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  kill(pid, SIGINT);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "msx watch-book ignored SIGINT";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(CliTest, WatchBookStartsWithASnapshot) {
  auto r = Msx("demo-jogmec", {"watch-book", kPair, "--count", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto update = ParseJson<v1::BookUpdate>(r.out);
  ASSERT_TRUE(update.has_snapshot());
  EXPECT_EQ(update.snapshot().pair(), kPair);
}

TEST_F(CliTest, HealthReportsServing) {
  auto r = Msx("", {"health"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  auto json = Msx("", {"health", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(ParseJson<grpc::health::v1::HealthCheckResponse>(json.out).status(),
            grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(CliTest, EverySubcommandAnswersHelpWithoutCallingTheServer) {
  for (const char* sub : {"instruments", "pairs", "book", "submit", "cancel", "replace",
                          "offer", "offers", "holdings", "watch", "watch-book", "health",
                          "set-holdings", "halt", "resume", "status", "agency-holdings"}) {
    auto r = RunCommand({BuildPath("clients/msx/msx"), sub, "--help"});
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find(absl::StrCat("Usage: msx ", sub)), std::string::npos) << sub;
    EXPECT_NE(r.out.find("UNAUTHENTICATED"), std::string::npos) << sub;
  }
}

}  // namespace
}  // namespace msx
