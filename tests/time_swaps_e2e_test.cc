// Time swaps end to end, through a real msx-server and the `msx` command line: a loan made
// with `msx lend` / `msx borrow`, a partial return, a recall, automatic settlement at the
// due time (the exchange clock moved forward with Admin.AdvanceClock), an overdue
// obligation that blocks the borrower, a kill -9 that loses nothing, and the overdue
// cured after the restart. Both parties see every change on their execution streams;
// nobody else sees it. `msx-drill verify` then replays the journal.
#include <signal.h>
#include <sys/wait.h>

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>
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

constexpr std::int64_t kDayNs = 86'400'000'000'000;
constexpr char kCo30[] = "CO-99.8@30D";
constexpr char kCo90[] = "CO-99.8@90D";

// The obligation reports of one kind on a stream.
std::vector<v1::ObligationReport> ReportsOf(const std::vector<v1::ExecutionReport>& reports,
                                            v1::ObligationEventKind kind, std::uint64_t id) {
  std::vector<v1::ObligationReport> out;
  for (const auto& r : reports) {
    if (r.has_obligation() && r.obligation().kind() == kind &&
        r.obligation().obligation().obligation_id() == id) {
      out.push_back(r.obligation());
    }
  }
  return out;
}

// A report without the obligation snapshot's fields that no event carries (the returned
// total, the recall flag, the due time and the collateral's state): a report rebuilt from
// the journal takes those from the engine as it is now (reports.cc), not as it was.
std::string Comparable(v1::ExecutionReport r) {
  if (r.has_obligation()) {
    v1::Obligation* ob = r.mutable_obligation()->mutable_obligation();
    ob->clear_returned();
    ob->clear_recalled();
    ob->clear_due_time_ns();
    ob->clear_collateral();
  }
  return r.SerializeAsString();
}

class TimeSwapsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = testing::MakeTempDir("msx-timeswaps");
    v1::ExchangeConfig config = DefaultConfig();
    config.mutable_server()->set_allow_clock_advance(true);
    Configure(&config);
    config_path_ = testing::WriteConfig(config, scratch_);
    Start();
  }
  void TearDown() override { testing::RemoveTree(scratch_); }
  virtual void Configure(v1::ExchangeConfig* /*config*/) {}

  void AdvanceClock(std::int64_t ns) {
    v1::AdvanceClockRequest adv;
    adv.set_advance_ns(ns);
    v1::AdvanceClockResponse resp;
    grpc::Status s = admin_->admin().AdvanceClock(admin_->Context().get(), adv, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void Start() {
    testing::ServerProcess::Options options;
    options.data_dir = scratch_ + "/data";
    options.extra_args = {"--config", config_path_};
    const absl::Status started = server_.Start(options);
    ASSERT_TRUE(started.ok()) << started << server_.Output();
    komir_ = std::make_unique<AgencyClient>(server_.address(), "demo-komir");
    jogmec_ = std::make_unique<AgencyClient>(server_.address(), "demo-jogmec");
    dla_ = std::make_unique<AgencyClient>(server_.address(), "demo-dla");
    admin_ = std::make_unique<AgencyClient>(server_.address(), "demo-admin");
  }

  CommandResult Msx(const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server_.address(), "MSX_TOKEN=" + token},
                      std::chrono::seconds(20));
  }

  v1::Obligation Get(AgencyClient& c, std::uint64_t id, grpc::Status* status = nullptr) {
    v1::GetObligationRequest req;
    req.set_obligation_id(id);
    v1::Obligation ob;
    grpc::Status s = c.exchange().GetObligation(c.Context().get(), req, &ob);
    if (status != nullptr) *status = s;
    return ob;
  }

  void SetHoldings(const std::string& agency, const std::string& instrument, std::int64_t total) {
    v1::SetHoldingsRequest req;
    req.set_agency(agency);
    req.set_instrument(instrument);
    req.set_total(total);
    v1::SetHoldingsResponse resp;
    grpc::Status s = admin_->admin().SetHoldings(admin_->Context().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // A GTC (or, with `expire_ns` > 0, GTD) term offer; returns the response.
  v1::SubmitTermOfferResponse Term(AgencyClient& c, std::uint64_t client_id, const std::string& book,
                                   v1::TermSide side, std::int64_t lots, std::int64_t bps,
                                   std::int64_t expire_ns = 0) {
    v1::SubmitTermOfferRequest req;
    req.set_client_offer_id(client_id);
    req.set_book(book);
    req.set_side(side);
    req.set_lots(lots);
    req.set_premium_bps(bps);
    req.set_time_in_force(expire_ns > 0 ? v1::TIME_IN_FORCE_GTD : v1::TIME_IN_FORCE_GTC);
    req.set_expire_time_ns(expire_ns);
    v1::SubmitTermOfferResponse resp;
    grpc::Status s = c.exchange().SubmitTermOffer(c.Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Waits until obligation `id` (seen by `c`) is in `state`: settlement runs on the
  // server's time tick, a moment after the clock moved.
  bool WaitState(AgencyClient& c, std::uint64_t id, v1::ObligationState state) {
    for (int i = 0; i < 100; ++i) {
      if (Get(c, id).state() == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string scratch_, config_path_;
  testing::ServerProcess server_;
  std::unique_ptr<AgencyClient> komir_, jogmec_, dla_, admin_;
};

TEST_F(TimeSwapsE2eTest, LendSettleAtDueTimeOverdueSurvivesKillAndIsCuredAfterRestart) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  auto dla_stream = testing::WatchExecutions(*dla_, "demo-dla");

  // 1. KOMIR lends 200 t of cobalt for 30 days at 150 bp; JOGMEC borrows it (msx).
  CommandResult lend = Msx("demo-komir", {"lend", kCo30, "200", "150"});
  ASSERT_EQ(lend.exit_code, 0) << lend.err;
  EXPECT_TRUE(absl::StrContains(lend.out, "lend CO-99.8@30D 200 lots at 150 bp")) << lend.out;
  const std::int64_t jogmec_before = jogmec_->Available("CO-99.8");
  CommandResult borrow = Msx("demo-jogmec", {"borrow", kCo30, "200", "150"});
  ASSERT_EQ(borrow.exit_code, 0) << borrow.err;
  // The borrower is told what it owes, with units, to whom and by when.
  EXPECT_TRUE(absl::StrContains(borrow.out, "JOGMEC owes KOMIR 203,000 kg CO-99.8 by "))
      << borrow.out;
  EXPECT_EQ(jogmec_->Available("CO-99.8"), jogmec_before + 200'000) << "the near leg is at once";
  v1::Obligation ob1 = Get(*jogmec_, 1);
  EXPECT_EQ(ob1.due_amount(), 203'000);
  EXPECT_EQ(ob1.due_time_ns() - ob1.fill_time_ns(), 30 * kDayNs);
  EXPECT_EQ(ob1.state(), v1::OBLIGATION_STATE_OPEN);
  EXPECT_EQ(ob1.agreement(), "FORGE");

  // 2. A partial return (msx return): 3,000 kg early.
  CommandResult ret = Msx("demo-jogmec", {"return", "1", "3000"});
  ASSERT_EQ(ret.exit_code, 0) << ret.err;
  EXPECT_EQ(Get(*komir_, 1).outstanding(), 200'000);

  // 3. A second loan, to DLA for 90 days, recalled by KOMIR (msx recall): due in 8 days.
  ASSERT_EQ(Msx("demo-komir", {"lend", kCo90, "10", "20"}).exit_code, 0);
  ASSERT_EQ(Msx("demo-dla", {"borrow", kCo90, "10", "20"}).exit_code, 0);
  CommandResult recall = Msx("demo-komir", {"recall", "2"});
  ASSERT_EQ(recall.exit_code, 0) << recall.err;
  v1::Obligation ob2 = Get(*dla_, 2);
  EXPECT_TRUE(ob2.recalled());
  EXPECT_EQ(ob2.due_amount(), 10'020);
  EXPECT_LT(ob2.due_time_ns(), ob2.fill_time_ns() + 9 * kDayNs);

  // Precise status codes.
  grpc::Status s;
  Get(*jogmec_, 2, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << "JOGMEC is no party to loan 2";
  CommandResult over = Msx("demo-jogmec", {"return", "1", "999999999"});
  EXPECT_EQ(over.exit_code, 13) << over.err;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(over.err, "REJECT_REASON_INVALID_AMOUNT")) << over.err;
  CommandResult not_lender = Msx("demo-jogmec", {"recall", "1"});
  EXPECT_EQ(not_lender.exit_code, 15) << not_lender.err;  // NOT_FOUND: it is the borrower
  CommandResult bad_book = Msx("demo-komir", {"lend", "CO-99.8@7D", "1", "0"});
  EXPECT_EQ(bad_book.exit_code, 15) << bad_book.err;
  EXPECT_TRUE(absl::StrContains(bad_book.err, "REJECT_REASON_UNKNOWN_TERM_BOOK")) << bad_book.err;
  CommandResult too_much = Msx("demo-dla", {"borrow", kCo90, "5000", "0"});
  EXPECT_EQ(too_much.exit_code, 19) << too_much.err;  // FAILED_PRECONDITION: credit limit
  EXPECT_TRUE(absl::StrContains(too_much.err, "REJECT_REASON_CREDIT_LIMIT_EXCEEDED"))
      << too_much.err;

  // 4. DLA spends its cobalt; the clock moves past both due times. JOGMEC's loan settles
  // automatically from its holdings; DLA's recalled loan cannot and becomes overdue.
  SetHoldings("DLA", "CO-99.8", 0);
  const std::int64_t komir_before = komir_->Available("CO-99.8");
  v1::AdvanceClockRequest adv;
  adv.set_advance_ns(31 * kDayNs);
  v1::AdvanceClockResponse adv_resp;
  s = admin_->admin().AdvanceClock(admin_->Context().get(), adv, &adv_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(WaitState(*komir_, 1, v1::OBLIGATION_STATE_CLOSED));
  ASSERT_TRUE(WaitState(*komir_, 2, v1::OBLIGATION_STATE_OVERDUE));
  EXPECT_EQ(komir_->Available("CO-99.8"), komir_before + 200'000);
  // An agency may not move the clock.
  s = komir_->admin().AdvanceClock(komir_->Context().get(), adv, &adv_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Both parties saw each change on their streams; a third agency saw none of it.
  auto has = [](v1::ObligationEventKind kind, std::uint64_t id) {
    return [kind, id](const std::vector<v1::ExecutionReport>& m) {
      return !ReportsOf(m, kind, id).empty();
    };
  };
  EXPECT_TRUE(komir_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_OPENED, 1)));
  EXPECT_TRUE(jogmec_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_OPENED, 1)));
  EXPECT_TRUE(komir_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_RETURNED, 1)));
  EXPECT_TRUE(jogmec_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_SETTLED, 1)));
  EXPECT_TRUE(komir_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_SETTLED, 1)));
  EXPECT_TRUE(dla_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_RECALLED, 2)));
  EXPECT_TRUE(dla_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_OVERDUE, 2)));
  EXPECT_TRUE(komir_stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_OVERDUE, 2)));
  std::vector<v1::ObligationReport> settled =
      ReportsOf(jogmec_stream->messages(), v1::OBLIGATION_EVENT_KIND_SETTLED, 1);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].amount(), 200'000);
  EXPECT_EQ(settled[0].obligation().state(), v1::OBLIGATION_STATE_CLOSED);
  EXPECT_TRUE(ReportsOf(jogmec_stream->messages(), v1::OBLIGATION_EVENT_KIND_OVERDUE, 2).empty());
  EXPECT_TRUE(ReportsOf(dla_stream->messages(), v1::OBLIGATION_EVENT_KIND_OPENED, 1).empty());

  // The overdue borrower may not give cobalt away (a buy of gallium pays in cobalt).
  v1::SubmitOfferResponse sub;
  s = dla_->Submit(77, testing::kGaCo, v1::SIDE_BUY, 1, dla_->FairPrice(testing::kGaCo), &sub);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "REJECT_REASON_OBLIGATION_OVERDUE"))
      << s.error_message();
  CommandResult overdue = Msx("demo-dla", {"obligations", "--state", "overdue"});
  ASSERT_EQ(overdue.exit_code, 0) << overdue.err;
  EXPECT_TRUE(absl::StrContains(overdue.out, "DLA owes KOMIR 10,020 kg CO-99.8 by ")) << overdue.out;

  // 5. kill -9, restart: the ledger is intact.
  komir_stream.reset();
  jogmec_stream.reset();
  dla_stream.reset();
  server_.Kill();
  Start();
  EXPECT_EQ(Get(*komir_, 1).state(), v1::OBLIGATION_STATE_CLOSED);
  v1::Obligation after = Get(*komir_, 2);
  EXPECT_EQ(after.state(), v1::OBLIGATION_STATE_OVERDUE);
  EXPECT_EQ(after.outstanding(), 10'020);
  v1::ListObligationsRequest lreq;
  lreq.set_role(v1::OBLIGATION_ROLE_LENDER);
  v1::ListObligationsResponse lresp;
  ASSERT_TRUE(komir_->exchange().ListObligations(komir_->Context().get(), lreq, &lresp).ok());
  EXPECT_EQ(lresp.obligations_size(), 2);
  lreq.set_role(v1::OBLIGATION_ROLE_BORROWER);
  ASSERT_TRUE(komir_->exchange().ListObligations(komir_->Context().get(), lreq, &lresp).ok());
  EXPECT_EQ(lresp.obligations_size(), 0);

  // 6. DLA receives cobalt: the lender is paid first, the overdue is cured, the block lifts.
  const std::int64_t komir_mid = komir_->Available("CO-99.8");
  SetHoldings("DLA", "CO-99.8", 50'000);
  EXPECT_EQ(Get(*dla_, 2).state(), v1::OBLIGATION_STATE_CLOSED);
  EXPECT_EQ(komir_->Available("CO-99.8"), komir_mid + 10'020);
  EXPECT_EQ(dla_->Available("CO-99.8"), 50'000 - 10'020);
  s = dla_->Submit(78, testing::kGaCo, v1::SIDE_BUY, 1, dla_->FairPrice(testing::kGaCo), &sub);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // The collection is on both streams, resumed from the start after the restart.
  auto dla_again = testing::WatchExecutions(*dla_, "demo-dla");
  EXPECT_TRUE(dla_again->WaitFor(has(v1::OBLIGATION_EVENT_KIND_COLLECTED, 2)));

  // 7. The journal replays to the same state.
  dla_again.reset();
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  CommandResult v = RunCommand({BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"},
                               {}, std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_TRUE(absl::StartsWith(v.out, "OK: ")) << v.out;
}

// Admin.AdvanceClock survives a kill -9 (gateway/README.md "Time swaps"): the restarted
// server derives the offset from the journal's last time, so its clock runs on from there
// instead of holding until the wall clock catches up a month later, and a loan made on
// the advanced clock still falls due when the clock moves past its due time.
TEST_F(TimeSwapsE2eTest, AnAdvancedClockRunsOnAfterAKillSoLoansStillFallDue) {
  v1::AdvanceClockRequest adv;
  adv.set_advance_ns(31 * kDayNs);
  v1::AdvanceClockResponse resp;
  ASSERT_TRUE(admin_->admin().AdvanceClock(admin_->Context().get(), adv, &resp).ok());
  ASSERT_EQ(resp.offset_ns(), 31 * kDayNs);
  Term(*komir_, 1, kCo30, v1::TERM_SIDE_LEND, 10, 0);
  v1::SubmitTermOfferResponse loan = Term(*jogmec_, 1, kCo30, v1::TERM_SIDE_BORROW, 10, 0);
  ASSERT_EQ(loan.obligations_size(), 1);
  const std::uint64_t id = loan.obligations(0).obligation_id();

  server_.Kill();
  Start();
  // The smallest advance reports the offset: the month, less the seconds the server was
  // idle or down (not counted), not 1 ns.
  adv.set_advance_ns(1);
  ASSERT_TRUE(admin_->admin().AdvanceClock(admin_->Context().get(), adv, &resp).ok());
  EXPECT_GT(resp.offset_ns(), 31 * kDayNs - 3'600'000'000'000) << "the offset was lost";
  // Thirty days on the recovered clock: the loan is due and settles from JOGMEC's cobalt.
  adv.set_advance_ns(30 * kDayNs);
  ASSERT_TRUE(admin_->admin().AdvanceClock(admin_->Context().get(), adv, &resp).ok());
  ASSERT_TRUE(WaitState(*komir_, id, v1::OBLIGATION_STATE_CLOSED)) << Get(*komir_, id).DebugString();
}

// FORGE requires collateral: 110 % of each loan in lithium hydroxide, 2 days' grace.
class CollateralE2eTest : public TimeSwapsE2eTest {
 protected:
  void Configure(v1::ExchangeConfig* config) override {
    for (auto& ag : *config->mutable_agreements()) {
      if (ag.name() != "FORGE") continue;
      ag.set_collateral_bps(11000);
      ag.add_collateral_instruments("LIOH-56.5");
      ag.set_grace_days(2);
    }
  }
};

TEST_F(CollateralE2eTest, ThePledgeIsVisibleAndItsHandOverReachesBothPartiesOnly) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  auto dla_stream = testing::WatchExecutions(*dla_, "demo-dla");
  const std::int64_t jogmec_li = jogmec_->Available("LIOH-56.5");
  const std::int64_t komir_li = komir_->Available("LIOH-56.5");

  // 20 t of cobalt (USD 660,000) for 30 days: 110 % in LiOH at USD 9/kg = 80,667 kg.
  ASSERT_EQ(Msx("demo-komir", {"lend", kCo30, "20", "0"}).exit_code, 0);
  CommandResult borrow = Msx("demo-jogmec", {"borrow", kCo30, "20", "0"});
  ASSERT_EQ(borrow.exit_code, 0) << borrow.err;
  v1::Obligation ob = Get(*jogmec_, 1);
  ASSERT_TRUE(ob.has_collateral());
  EXPECT_EQ(ob.collateral().state(), v1::COLLATERAL_STATE_PLEDGED);
  EXPECT_EQ(ob.collateral().instrument(), "LIOH-56.5");
  EXPECT_EQ(ob.collateral().unit(), "kg");
  EXPECT_EQ(ob.collateral().amount(), 80'667);
  EXPECT_EQ(ob.collateral().forfeit_time_ns(), ob.due_time_ns() + 2 * kDayNs);
  EXPECT_EQ(Get(*komir_, 1).collateral().amount(), 80'667);  // the lender sees it too
  EXPECT_EQ(jogmec_->Available("LIOH-56.5"), jogmec_li - 80'667);

  // A borrow the agency cannot secure (USD 36.3 M of LiOH for 1,000 t of cobalt): rejected
  // at the submit, FAILED_PRECONDITION naming the reason.
  CommandResult big = Msx("demo-jogmec", {"borrow", kCo30, "1000", "0"});
  EXPECT_EQ(big.exit_code, 19) << big.err;  // FAILED_PRECONDITION
  EXPECT_TRUE(absl::StrContains(big.err, "REJECT_REASON_INSUFFICIENT_COLLATERAL")) << big.err;

  // JOGMEC cannot return: overdue at the due time, forfeit 2 days later.
  SetHoldings("JOGMEC", "CO-99.8", 0);
  AdvanceClock(31 * kDayNs);
  ASSERT_TRUE(WaitState(*komir_, 1, v1::OBLIGATION_STATE_OVERDUE));
  EXPECT_EQ(Get(*komir_, 1).collateral().state(), v1::COLLATERAL_STATE_PLEDGED);
  AdvanceClock(2 * kDayNs);
  ASSERT_TRUE(WaitState(*komir_, 1, v1::OBLIGATION_STATE_CLOSED));
  ob = Get(*jogmec_, 1);
  EXPECT_EQ(ob.collateral().state(), v1::COLLATERAL_STATE_FORFEITED);
  // 20,000 kg of cobalt = 73,333.3 kg of LiOH, rounded up; the rest goes back.
  EXPECT_EQ(ob.collateral().forfeited(), 73'334);
  EXPECT_EQ(ob.covered(), 20'000);
  EXPECT_EQ(ob.outstanding(), 0);
  EXPECT_EQ(komir_->Available("LIOH-56.5"), komir_li + 73'334);
  EXPECT_EQ(jogmec_->Available("LIOH-56.5"), jogmec_li - 73'334);

  auto has = [](v1::ObligationEventKind kind) {
    return [kind](const std::vector<v1::ExecutionReport>& m) {
      return !ReportsOf(m, kind, 1).empty();
    };
  };
  for (auto* stream : {komir_stream.get(), jogmec_stream.get()}) {
    EXPECT_TRUE(stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_COLLATERAL_PLEDGED)));
    EXPECT_TRUE(stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_COLLATERAL_FORFEITED)));
    EXPECT_TRUE(stream->WaitFor(has(v1::OBLIGATION_EVENT_KIND_COLLATERAL_RELEASED)));
  }
  std::vector<v1::ObligationReport> f = ReportsOf(
      komir_stream->messages(), v1::OBLIGATION_EVENT_KIND_COLLATERAL_FORFEITED, 1);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].amount(), 73'334);
  EXPECT_EQ(f[0].covered(), 20'000);
  EXPECT_EQ(f[0].obligation().collateral().instrument(), "LIOH-56.5");
  EXPECT_TRUE(ReportsOf(dla_stream->messages(), v1::OBLIGATION_EVENT_KIND_COLLATERAL_FORFEITED, 1)
                  .empty());

  // The journal replays to the same state.
  komir_stream.reset();
  jogmec_stream.reset();
  dla_stream.reset();
  ASSERT_TRUE(WIFEXITED(server_.Stop(SIGTERM))) << server_.Output();
  CommandResult v = RunCommand({BuildPath("clients/drill/msx-drill"), "verify", scratch_ + "/data"},
                               {}, std::chrono::seconds(120));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// The execution stream rebuilt from the journal after a crash (gateway/history_reader.cc)
// carries every time-swap report the live stream carried, to the lender and the borrower
// and nobody else: term offers accepted, cancelled and expired, the loan, a return, a
// recall, the settlement and the collateral pledged and released.
TEST_F(CollateralE2eTest, TermReportsResumedFromTheJournalAfterAKillReachExactlyBothParties) {
  auto komir_stream = testing::WatchExecutions(*komir_, "demo-komir");
  auto jogmec_stream = testing::WatchExecutions(*jogmec_, "demo-jogmec");
  auto dla_stream = testing::WatchExecutions(*dla_, "demo-dla");
  Term(*komir_, 1, kCo30, v1::TERM_SIDE_LEND, 20, 0);
  v1::SubmitTermOfferResponse loan = Term(*jogmec_, 1, kCo30, v1::TERM_SIDE_BORROW, 20, 0);
  ASSERT_EQ(loan.obligations_size(), 1);
  const std::uint64_t id = loan.obligations(0).obligation_id();
  const std::uint64_t loan_seq = loan.seq();
  v1::ReturnObligationRequest ret;
  ret.set_obligation_id(id);
  ret.set_amount(1'000);
  v1::ReturnObligationResponse ret_resp;
  ASSERT_TRUE(jogmec_->exchange().ReturnObligation(jogmec_->Context().get(), ret, &ret_resp).ok());
  // A term offer cancelled, one that expires (GTD, a day from the loan), and a recall.
  v1::SubmitTermOfferResponse cancel_me = Term(*komir_, 2, kCo90, v1::TERM_SIDE_LEND, 5, 40);
  v1::CancelTermOfferRequest cancel;
  cancel.set_offer_id(cancel_me.offer().offer_id());
  v1::CancelTermOfferResponse cancel_resp;
  ASSERT_TRUE(
      komir_->exchange().CancelTermOffer(komir_->Context().get(), cancel, &cancel_resp).ok());
  Term(*komir_, 3, kCo90, v1::TERM_SIDE_LEND, 3, 40, loan.obligations(0).fill_time_ns() + kDayNs);
  v1::RecallObligationRequest recall;
  recall.set_obligation_id(id);
  v1::RecallObligationResponse recall_resp;
  ASSERT_TRUE(
      komir_->exchange().RecallObligation(komir_->Context().get(), recall, &recall_resp).ok());
  // Nine days on: the GTD offer expired, the recalled loan settled, the pledge released.
  AdvanceClock(9 * kDayNs);
  ASSERT_TRUE(WaitState(*komir_, id, v1::OBLIGATION_STATE_CLOSED));
  auto kinds = [](std::vector<v1::ObligationEventKind> want, bool expired) {
    return [want, expired](const std::vector<v1::ExecutionReport>& m) {
      for (v1::ObligationEventKind k : want) {
        bool seen = false;
        for (const auto& r : m) seen = seen || (r.has_obligation() && r.obligation().kind() == k);
        if (!seen) return false;
      }
      if (!expired) return true;
      for (const auto& r : m) {
        if (r.has_term_expired()) return true;
      }
      return false;
    };
  };
  const std::vector<v1::ObligationEventKind> all = {
      v1::OBLIGATION_EVENT_KIND_OPENED,           v1::OBLIGATION_EVENT_KIND_COLLATERAL_PLEDGED,
      v1::OBLIGATION_EVENT_KIND_RETURNED,         v1::OBLIGATION_EVENT_KIND_RECALLED,
      v1::OBLIGATION_EVENT_KIND_SETTLED,          v1::OBLIGATION_EVENT_KIND_COLLATERAL_RELEASED};
  ASSERT_TRUE(komir_stream->WaitFor(kinds(all, true)));
  ASSERT_TRUE(jogmec_stream->WaitFor(kinds(all, false)));
  const std::vector<v1::ExecutionReport> komir_live = komir_stream->messages();
  const std::vector<v1::ExecutionReport> jogmec_live = jogmec_stream->messages();
  const std::vector<v1::ExecutionReport> dla_live = dla_stream->messages();
  komir_stream.reset();
  jogmec_stream.reset();
  dla_stream.reset();

  server_.Kill();
  Start();
  // A marker per agency: a lend nobody takes. Everything resumed arrives before it.
  std::map<std::string, std::uint64_t> marker;
  marker["KOMIR"] = Term(*komir_, 100, "CO-99.8@180D", v1::TERM_SIDE_LEND, 1, 9000).seq();
  marker["JOGMEC"] = Term(*jogmec_, 100, "CO-99.8@180D", v1::TERM_SIDE_LEND, 1, 9000).seq();
  marker["DLA"] = Term(*dla_, 100, "CO-99.8@180D", v1::TERM_SIDE_LEND, 1, 9000).seq();
  struct Case {
    const char* agency;
    AgencyClient* client;
    const char* token;
    std::uint64_t after;
    const std::vector<v1::ExecutionReport>* live;
  };
  // KOMIR from the start; JOGMEC from just before the loan (an earlier position).
  for (const Case& c : {Case{"KOMIR", komir_.get(), "demo-komir", 0, &komir_live},
                        Case{"JOGMEC", jogmec_.get(), "demo-jogmec", loan_seq - 1, &jogmec_live},
                        Case{"DLA", dla_.get(), "demo-dla", 0, &dla_live}}) {
    SCOPED_TRACE(c.agency);
    auto resumed = testing::WatchExecutions(*c.client, c.token, c.after);
    const std::uint64_t end = marker[c.agency];
    ASSERT_TRUE(resumed->WaitFor([end](const std::vector<v1::ExecutionReport>& m) {
      return !m.empty() && m.back().seq() >= end;
    }));
    std::vector<v1::ExecutionReport> got;
    for (const auto& r : resumed->messages()) {
      if (r.seq() < end) got.push_back(r);
    }
    std::vector<v1::ExecutionReport> want;
    for (const auto& r : *c.live) {
      if (r.seq() > c.after) want.push_back(r);
    }
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(Comparable(got[i]), Comparable(want[i]))
          << "report " << i << ":\n" << got[i].DebugString() << "vs live\n" << want[i].DebugString();
    }
  }
  // The third agency saw no part of the loan, live or resumed.
  for (const auto& r : dla_live) {
    EXPECT_FALSE(r.has_obligation() || r.has_term_accepted() || r.has_term_cancelled() ||
                 r.has_term_expired())
        << r.DebugString();
  }
  std::size_t komir_terms = 0;
  for (const auto& r : komir_live) {
    if (r.has_term_accepted() || r.has_term_cancelled() || r.has_term_expired() ||
        r.has_obligation()) {
      ++komir_terms;
    }
  }
  // 3 term offers accepted, 1 cancelled, 1 expired; opened, pledged, returned, recalled,
  // settled, released.
  EXPECT_EQ(komir_terms, 11u);
}

}  // namespace
}  // namespace msx
