// Emergencies end to end (issue 15), through a real msx-server, the `msx` command line and
// gRPC: an operator publishes a new gallium reference that cancels a resting sale left
// outside the moved band (the owner sees why on its stream), admits Israel's ministry to
// FORGE live so that it trades, suspends it again (its bid is cancelled), raises cobalt to
// CAUTION (every agency's stream and `msx levels` show it, and a sale outside the narrowed
// band is cancelled), and readmits it. A kill -9 loses none of it: after the restart the
// levels, references and membership are as they were, the level change is in the
// execution history, and `msx-drill verify` replays the journal. Errors name the field
// with the precise gRPC code.
#include <signal.h>
#include <sys/wait.h>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

constexpr char kPair[] = "GA-4N/CO-99.8";  // reference 2,121, band 1,803..2,439 at start
constexpr int kExitInvalidArgument = 13;
constexpr int kExitNotFound = 15;
constexpr int kExitAlreadyExists = 16;
constexpr int kExitPermissionDenied = 17;
constexpr char kReason[] = "cobalt export ban";

template <typename Msg>
Msg ParseJson(const std::string& text) {
  Msg msg;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return msg;
}

// The first report on `reports` that cancelled `offer`, or nullptr.
const v1::OfferCancelled* CancelOf(const std::vector<v1::ExecutionReport>& reports,
                                   std::uint64_t offer) {
  for (const auto& r : reports) {
    if (r.has_cancelled() && r.cancelled().offer().offer_id() == offer) return &r.cancelled();
  }
  return nullptr;
}

// The level_changed reports of `instrument` on `reports`.
std::vector<v1::ExecutionReport> LevelReports(const std::vector<v1::ExecutionReport>& reports,
                                              const std::string& instrument) {
  std::vector<v1::ExecutionReport> out;
  for (const auto& r : reports) {
    if (r.has_level_changed() && r.level_changed().instrument() == instrument) out.push_back(r);
  }
  return out;
}

class EmergencyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::MakeTempDir("msx-emergency");
    Start();
  }
  void TearDown() override { testing::RemoveTree(scratch_); }

  void Start() {
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/data";
    const absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started << server_.Output();
    admin_ = std::make_unique<AgencyClient>(server_.address(), "demo-admin");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
  }

  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                      std::chrono::seconds(20));
  }

  // An admin command through msx; returns its journaled seq.
  std::uint64_t Admin(std::vector<std::string> args) {
    args.insert(args.begin(), "admin");
    args.push_back("--json");
    const CommandResult r = Msx("demo-admin", args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::AdminCommandResponse>(r.out).seq();
  }

  v1::SubmitOfferResponse Submit(const std::string& token, const std::string& side, int lots,
                                 std::int64_t price) {
    const CommandResult r =
        Msx(token, {"submit", "--pair", kPair, "--side", side, "--lots", std::to_string(lots),
                    "--price", std::to_string(price), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<v1::SubmitOfferResponse>(r.out);
  }

  v1::Pair Pair() {
    const CommandResult r = Msx("demo-komir", {"pairs", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto pairs = ParseJson<v1::ListPairsResponse>(r.out);
    for (const v1::Pair& p : pairs.pairs()) {
      if (p.symbol() == kPair) return p;
    }
    ADD_FAILURE() << "no pair " << kPair;
    return {};
  }

  v1::InstrumentLevel Level(const std::string& instrument) {
    const CommandResult r = Msx("demo-jogmec", {"levels", instrument, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto levels = ParseJson<v1::GetLevelsResponse>(r.out);
    EXPECT_EQ(levels.levels_size(), 1) << r.out;
    return levels.levels_size() == 1 ? levels.levels(0) : v1::InstrumentLevel();
  }

  static void ExpectError(const CommandResult& r, int exit_code, const std::string& code,
                          const std::string& field) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    EXPECT_TRUE(absl::StartsWith(r.err, "msx: " + code + ": ")) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, field)) << r.err;
  }

  std::unique_ptr<ExecWatcher> Watch(AgencyClient& client, const std::string& token) {
    return testing::WatchExecutions(client, token);
  }

  std::string scratch_;
  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> admin_, jogmec_;
};

TEST_F(EmergencyE2eTest, LiveReferenceMembershipAndLevelsReachStreamsAndSurviveAKill) {
  AgencyClient komir(server_.address(), "demo-komir");
  AgencyClient il_moe(server_.address(), "demo-il-moe");
  AgencyClient dla(server_.address(), "demo-dla");
  auto komir_stream = Watch(komir, "demo-komir");
  auto il_moe_stream = Watch(il_moe, "demo-il-moe");
  auto jogmec_stream = Watch(*jogmec_, "demo-jogmec");
  auto dla_stream = Watch(dla, "demo-dla");
  ASSERT_EQ(Msx("demo-admin", {"set-holdings", "IL-MOE", "CO-99.8", "1000000"}).exit_code, 0);

  // Only an admin token may change reference data; malformed or unknown fields are named.
  ExpectError(Msx("demo-komir", {"admin", "set-level", "CO-99.8", "caution"}),
              kExitPermissionDenied, "PERMISSION_DENIED", "admin token");
  ExpectError(Msx("demo-jogmec", {"admin", "suspend", "FORGE", "KOMIR"}),
              kExitPermissionDenied, "PERMISSION_DENIED", "admin token");
  ExpectError(Msx("demo-admin", {"admin", "publish-reference", "GA-4N", "0"}),
              kExitInvalidArgument, "INVALID_ARGUMENT",
              "REJECT_REASON_INVALID_REFERENCE: reference_value_micro_usd");
  ExpectError(Msx("demo-admin", {"admin", "publish-reference", "GA-4N", "700000", "--floor",
                                 "-1"}),
              kExitInvalidArgument, "INVALID_ARGUMENT", "floor_micro_usd");
  ExpectError(Msx("demo-admin", {"admin", "publish-reference", "XX-1", "700000"}),
              kExitNotFound, "NOT_FOUND", "REJECT_REASON_UNKNOWN_INSTRUMENT: instrument");
  ExpectError(Msx("demo-admin", {"admin", "set-level", "GA-4N", "caution", "--reason",
                                 std::string(61, 'x')}),
              kExitInvalidArgument, "INVALID_ARGUMENT", "REJECT_REASON_INVALID_LEVEL: reason");
  ExpectError(Msx("demo-admin", {"admin", "suspend", "MSP-CORE", "JOGMEC"}), kExitNotFound,
              "NOT_FOUND", "REJECT_REASON_UNKNOWN_AGREEMENT: agreement");
  ExpectError(Msx("demo-admin", {"admin", "admit", "FORGE", "NOBODY"}), kExitNotFound,
              "NOT_FOUND", "agency");
  ExpectError(Msx("demo-admin", {"admin", "admit", "FORGE", "KOMIR"}), kExitAlreadyExists,
              "ALREADY_EXISTS", "REJECT_REASON_ALREADY_MEMBER: agency");
  ExpectError(Msx("demo-jogmec", {"levels", "XX-1"}), kExitNotFound, "NOT_FOUND",
              "instrument");
  {  // gRPC directly: a level must be given.
    v1::SetEmergencyLevelRequest req;
    req.set_instrument("CO-99.8");
    v1::AdminCommandResponse resp;
    const grpc::Status s = admin_->admin().SetEmergencyLevel(admin_->Context().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "REJECT_REASON_INVALID_LEVEL: level"))
        << s.error_message();
  }

  // 1. A new gallium reference, 0.77 USD/g (was 0.70): the pair's reference price moves to
  // 2,333 and KOMIR's sale at 1,850, inside the old band, is cancelled.
  EXPECT_EQ(Pair().band_low(), 1803);
  const v1::SubmitOfferResponse low = Submit("demo-komir", "sell", 2, 1850);
  ASSERT_EQ(low.offer().state(), v1::OFFER_STATE_OPEN);
  Admin({"publish-reference", "GA-4N", "770000"});
  const v1::Pair moved = Pair();
  EXPECT_EQ(moved.reference_price(), 2333);  // 0.77 x 100,000 / 33
  EXPECT_GT(moved.band_low(), 1850);
  EXPECT_EQ(moved.level(), v1::EMERGENCY_LEVEL_NORMAL);
  EXPECT_EQ(Level("GA-4N").reference_value_micro_usd(), 770000);
  ASSERT_TRUE(komir_stream->WaitFor(
      [&](const auto& m) { return CancelOf(m, low.offer().offer_id()) != nullptr; }));
  EXPECT_EQ(CancelOf(komir_stream->messages(), low.offer().offer_id())->reason(),
            v1::CANCEL_REASON_OUTSIDE_BAND);
  EXPECT_EQ(CancelOf(komir_stream->messages(), low.offer().offer_id())->cancelled_lots(), 2);

  // 2. IL-MOE (Pax Silica only: no gallium, no cobalt) cannot trade with KOMIR; admitted to
  // FORGE, it can at once.
  const v1::SubmitOfferResponse ask = Submit("demo-komir", "sell", 1, 2333);
  const v1::SubmitOfferResponse early = Submit("demo-il-moe", "buy", 1, 2333);
  EXPECT_EQ(early.offer().state(), v1::OFFER_STATE_OPEN) << "not eligible yet";
  Admin({"admit", "FORGE", "IL-MOE"});
  const v1::SubmitOfferResponse bought = Submit("demo-il-moe", "buy", 1, 2333);
  EXPECT_EQ(bought.offer().state(), v1::OFFER_STATE_FILLED);
  ASSERT_EQ(bought.fills_size(), 1);
  EXPECT_EQ(bought.fills(0).counterparty(), "KOMIR");

  // 3. Suspended again: its bid from before, which relied on FORGE alone, is cancelled.
  Admin({"suspend", "FORGE", "IL-MOE"});
  ASSERT_TRUE(il_moe_stream->WaitFor(
      [&](const auto& m) { return CancelOf(m, early.offer().offer_id()) != nullptr; }));
  EXPECT_EQ(CancelOf(il_moe_stream->messages(), early.offer().offer_id())->reason(),
            v1::CANCEL_REASON_MEMBER_SUSPENDED);
  EXPECT_EQ(ask.offer().state(), v1::OFFER_STATE_OPEN);

  // 4. Cobalt to CAUTION: a 10 % price control around 2,333. KOMIR's sale at 2,600 (inside
  // the 15 % band) is cancelled; every agency is told on its stream.
  const v1::SubmitOfferResponse high = Submit("demo-komir", "sell", 1, 2600);
  ASSERT_EQ(high.offer().state(), v1::OFFER_STATE_OPEN);
  const std::uint64_t raised = Admin({"set-level", "CO-99.8", "caution", "--reason", kReason});
  EXPECT_EQ(Level("CO-99.8").level(), v1::EMERGENCY_LEVEL_CAUTION);
  const CommandResult table = Msx("demo-dla", {"levels"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "CAUTION")) << table.out;
  const v1::Pair controlled = Pair();
  EXPECT_EQ(controlled.level(), v1::EMERGENCY_LEVEL_CAUTION);
  EXPECT_LT(controlled.band_high(), 2600);
  EXPECT_GT(controlled.band_low(), moved.band_low());
  // A new sale at 2,600 is refused, quoting the band in force, not the configured one.
  ExpectError(Msx("demo-komir", {"submit", "--pair", kPair, "--side", "sell", "--lots", "1",
                                 "--price", "2600"}),
              kExitInvalidArgument, "INVALID_ARGUMENT",
              absl::StrCat("REJECT_REASON_PRICE_OUTSIDE_BAND: price: 2600 is outside the price "
                           "band (band ",
                           controlled.band_low(), "..", controlled.band_high(), ", tick 1"));
  for (ExecWatcher* stream : {komir_stream.get(), il_moe_stream.get(), jogmec_stream.get(),
                              dla_stream.get()}) {
    ASSERT_TRUE(stream->WaitFor([](const auto& m) { return !LevelReports(m, "CO-99.8").empty(); }));
    const std::vector<v1::ExecutionReport> levels = LevelReports(stream->messages(), "CO-99.8");
    ASSERT_EQ(levels.size(), 1u);
    EXPECT_EQ(levels[0].seq(), raised);
    EXPECT_EQ(levels[0].level_changed().level(), v1::EMERGENCY_LEVEL_CAUTION);
    EXPECT_EQ(levels[0].level_changed().previous(), v1::EMERGENCY_LEVEL_NORMAL);
    EXPECT_EQ(levels[0].level_changed().reason(), kReason);
  }
  ASSERT_TRUE(komir_stream->WaitFor(
      [&](const auto& m) { return CancelOf(m, high.offer().offer_id()) != nullptr; }));
  EXPECT_EQ(CancelOf(komir_stream->messages(), high.offer().offer_id())->reason(),
            v1::CANCEL_REASON_OUTSIDE_BAND);
  // In words, on `msx watch`.
  const CommandResult words = Msx("demo-jogmec", {"watch", "--from-seq",
                                                  std::to_string(raised - 1), "--count", "1"});
  ASSERT_EQ(words.exit_code, 0) << words.err;
  EXPECT_TRUE(absl::StrContains(
      words.out, absl::StrCat("seq ", raised, " ")))
      << words.out;
  EXPECT_TRUE(absl::StrContains(words.out,
                                absl::StrCat("level of CO-99.8: NORMAL -> CAUTION (", kReason,
                                             ")")))
      << words.out;

  // 5. Readmitted; then kill -9.
  Admin({"admit", "FORGE", "IL-MOE"});
  komir_stream.reset();
  il_moe_stream.reset();
  jogmec_stream.reset();
  dla_stream.reset();
  server_.Kill();
  Start();

  // 6. Levels, references and membership came back from the journal.
  const v1::InstrumentLevel cobalt = Level("CO-99.8");
  EXPECT_EQ(cobalt.level(), v1::EMERGENCY_LEVEL_CAUTION);
  EXPECT_EQ(Level("GA-4N").reference_value_micro_usd(), 770000);
  const v1::Pair after = Pair();
  EXPECT_EQ(after.reference_price(), 2333);
  EXPECT_EQ(after.band_low(), controlled.band_low());
  EXPECT_EQ(after.band_high(), controlled.band_high());
  EXPECT_EQ(after.level(), v1::EMERGENCY_LEVEL_CAUTION);
  Submit("demo-komir", "sell", 1, 2333);
  EXPECT_EQ(Submit("demo-il-moe", "buy", 1, 2333).offer().state(), v1::OFFER_STATE_FILLED)
      << "IL-MOE is a FORGE member again";
  // The level change is in JOGMEC's execution history, read back from the journal.
  auto history = Watch(*jogmec_, "demo-jogmec");
  ASSERT_TRUE(history->WaitFor([](const auto& m) { return !LevelReports(m, "CO-99.8").empty(); }));
  EXPECT_EQ(LevelReports(history->messages(), "CO-99.8")[0].seq(), raised);
  EXPECT_EQ(LevelReports(history->messages(), "CO-99.8")[0].level_changed().reason(), kReason);
  history.reset();

  // 7. The journal replays to the same state.
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  const CommandResult v = RunCommand(
      {BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"}, {},
      std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_TRUE(absl::StartsWith(v.out, "OK: ")) << v.out;
}

}  // namespace
}  // namespace msx
