// FOK, minimum fill and replace on term books end to end, through a real msx-server and
// the `msx` command line (`msx borrow --tif fok`, `--min-fill`, `msx replace-term`): the
// gateway maps the new fields and RPC, names the field of a bad request, streams the
// replace to its owner (also when the stream is resumed from the journal), and
// `msx-drill verify` replays the journal.
#include <signal.h>
#include <sys/wait.h>

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
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

constexpr char kCo30[] = "CO-99.8@30D";

class TermOrdersE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::MakeTempDir("msx-termorders");
    config_path_ = testing::WriteConfig(DefaultConfig(), scratch_);
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/data";
    options.extra_args = {"--config", config_path_};
    const absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
  }
  void TearDown() override { testing::RemoveTree(scratch_); }

  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                      std::chrono::seconds(20));
  }
  v1::TermOffer GetTerm(AgencyClient& c, std::uint64_t id) {
    v1::GetTermOfferRequest req;
    req.set_offer_id(id);
    v1::TermOffer o;
    grpc::Status s = c.exchange().GetTermOffer(c.Context().get(), req, &o);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return o;
  }

  std::string scratch_, config_path_;
  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_;
};

TEST_F(TermOrdersE2eTest, FokMinimumFillAndReplaceThroughMsx) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  // 1. KOMIR lends 10 lots at 100 bp (term offer 1).
  ASSERT_EQ(Msx("demo-komir", {"lend", kCo30, "10", "100"}).exit_code, 0);
  // 2. A FOK borrow of 20 finds 10: cancelled whole, no loan (term offer 2).
  CommandResult fok = Msx("demo-jogmec", {"borrow", kCo30, "20", "150", "--tif", "fok"});
  ASSERT_EQ(fok.exit_code, 0) << fok.err;
  v1::TermOffer o2 = GetTerm(*jogmec_, 2);
  EXPECT_EQ(o2.time_in_force(), v1::TIME_IN_FORCE_FOK);
  EXPECT_EQ(o2.state(), v1::OFFER_STATE_CANCELLED);
  EXPECT_EQ(o2.filled_lots(), 0);
  EXPECT_EQ(GetTerm(*komir_, 1).open_lots(), 10);
  // 3. A borrow of 20 with a minimum of 10 borrows the 10 and rests 10 (term offer 3).
  CommandResult min = Msx("demo-jogmec", {"borrow", kCo30, "20", "150", "--min-fill", "10"});
  ASSERT_EQ(min.exit_code, 0) << min.err;
  EXPECT_TRUE(absl::StrContains(min.out, "JOGMEC owes KOMIR 10,100 kg CO-99.8 by ")) << min.out;
  v1::TermOffer o3 = GetTerm(*jogmec_, 3);
  EXPECT_EQ(o3.min_fill_lots(), 10);
  EXPECT_EQ(o3.open_lots(), 10);
  // 4. KOMIR lends 5 at 200 bp (no cross), then replaces it to 150 bp: it lends at once.
  ASSERT_EQ(Msx("demo-komir", {"lend", kCo30, "5", "200"}).exit_code, 0);
  CommandResult rep = Msx("demo-komir", {"replace-term", "4", "5", "150"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_TRUE(absl::StrContains(rep.out, "term offer 4: 5 lots in all at 150 bp premium; open 0"))
      << rep.out;
  EXPECT_TRUE(absl::StrContains(rep.out, "loan 2: JOGMEC owes KOMIR 5,075 kg CO-99.8")) << rep.out;
  EXPECT_EQ(GetTerm(*jogmec_, 3).open_lots(), 5);
  // 5. JOGMEC, 15 lots borrowed, asks for 18 in all: 3 open, and it keeps its place.
  CommandResult keep = Msx("demo-jogmec", {"replace-term", "3", "18", "150"});
  ASSERT_EQ(keep.exit_code, 0) << keep.err;
  EXPECT_EQ(GetTerm(*jogmec_, 3).open_lots(), 3);
  // 6. Precise errors: another agency's offer, a bad total, a bad minimum fill.
  CommandResult theirs = Msx("demo-komir", {"replace-term", "3", "18", "150"});
  EXPECT_EQ(theirs.exit_code, 15) << theirs.err;  // NOT_FOUND
  EXPECT_TRUE(absl::StrContains(theirs.err, "REJECT_REASON_UNKNOWN_OFFER")) << theirs.err;
  CommandResult zero = Msx("demo-jogmec", {"replace-term", "3", "0", "150"});
  EXPECT_EQ(zero.exit_code, 13) << zero.err;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(zero.err, "lots")) << zero.err;
  CommandResult bad_min = Msx("demo-komir", {"lend", kCo30, "5", "100", "--min-fill", "6"});
  EXPECT_EQ(bad_min.exit_code, 13) << bad_min.err;
  EXPECT_TRUE(absl::StrContains(bad_min.err, "REJECT_REASON_INVALID_MIN_FILL")) << bad_min.err;
  // 7. KOMIR's stream tells it of its replace; so does one resumed from the journal.
  auto replaced = [](const std::vector<v1::ExecutionReport>& m) {
    for (const auto& r : m) {
      if (r.has_term_replaced() && r.term_replaced().offer().offer_id() == 4 &&
          !r.term_replaced().kept_priority() && r.term_replaced().offer().premium_bps() == 150) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(komir_stream->WaitFor(replaced));
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  EXPECT_TRUE(jogmec_stream->WaitFor([](const std::vector<v1::ExecutionReport>& m) {
    for (const auto& r : m) {
      if (r.has_term_replaced() && r.term_replaced().kept_priority()) return true;
    }
    return false;
  }));
  komir_stream.reset();
  jogmec_stream.reset();
  // 8. The journal replays to the same state.
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  CommandResult v = RunCommand({BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"},
                               {}, std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace msx
