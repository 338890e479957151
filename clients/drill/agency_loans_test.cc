// Loans per agency and instrument in drill reports (agency_loans.h), and the scenario edits
// that make an agency default and a lender recall everything (scenario.h), checked against
// figures computed by hand.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "clients/drill/agency_loans.h"
#include "clients/drill/report.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "gtest/gtest.h"

namespace msx::drill {
namespace {

constexpr TimeNs kSecond = 1'000'000'000;
constexpr TimeNs kDay = 86'400 * kSecond;
constexpr TimeNs kT0 = 1'800'000'000 * kSecond;

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msx-agency-loans-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

const AgencyLoanRow* Row(const std::vector<AgencyLoanRow>& rows, const std::string& agency) {
  for (const AgencyLoanRow& r : rows) {
    if (r.code == agency && r.symbol == "CO-99.8") return &r;
  }
  return nullptr;
}

void ExpectSide(const LoanSide& s, std::uint64_t loans, Amount units, Amount paid_back,
                std::uint64_t returned, std::uint64_t overdue, std::uint64_t recalled,
                std::uint64_t open_at_end, std::uint64_t overdue_at_end, Amount owed_at_end) {
  EXPECT_EQ(s.loans, loans);
  EXPECT_EQ(s.units, units);
  EXPECT_EQ(s.paid_back, paid_back);
  EXPECT_EQ(s.returned, returned);
  EXPECT_EQ(s.fell_overdue, overdue);
  EXPECT_EQ(s.recalled, recalled);
  EXPECT_EQ(s.open_at_end, open_at_end);
  EXPECT_EQ(s.overdue_at_end, overdue_at_end);
  EXPECT_EQ(s.owed_at_end, owed_at_end);
}

// The default configuration: cobalt (CO-99.8) in lots of 1,000 kg; KOMIR, JOGMEC and DLA
// share FORGE (no collateral). Every loan is at 150 bp: 10 lots owe 10,150 kg, 5 lots 5,075.
//   seq 1-3   t0         each holds 100 lots of cobalt
//   seq 4     t0+1s      KOMIR lends 10 lots for 30 days          (term offer 1)
//   seq 5     t0+2s      JOGMEC borrows them: obligation 1, due t0+2s+30d
//   seq 6     t0+3s      KOMIR lends 5 lots for 90 days           (term offer 3)
//   seq 7     t0+4s      DLA borrows them: obligation 2, due t0+4s+90d
//   seq 8     t0+5s      DLA offers to lend 50 lots for 180 days (rests: term offer 5)
//   seq 9     t0+6s      JOGMEC returns 3,000 kg of obligation 1
//   seq 10    t0+31d     time: obligation 1 settles (7,150 kg)
//   seq 11    t0+100d    time: obligation 2 settles (5,075 kg)
class AgencyLoansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = DefaultConfig();
    absl::StatusOr<ReferenceData> ref = LoadReferenceData(config_);
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::make_unique<ReferenceData>(*std::move(ref));
    komir_ = *ref_->FindAgency("KOMIR");
    jogmec_ = *ref_->FindAgency("JOGMEC");
    dla_ = *ref_->FindAgency("DLA");
    const InstrumentId co = *ref_->FindInstrument("CO-99.8");
    ASSERT_EQ(ref_->instruments()[co].lot_size, 1000);
    for (AgencyId a : {komir_, jogmec_, dla_}) {
      Command c{};
      c.type = CommandType::kSetHoldings;
      c.set_holdings = SetHoldings{a, co, 100'000};
      At(kT0, c);
    }
    Term(kT0 + 1 * kSecond, komir_, "CO-99.8@30D", Side::kSell, 10);
    Term(kT0 + 2 * kSecond, jogmec_, "CO-99.8@30D", Side::kBuy, 10);
    Term(kT0 + 3 * kSecond, komir_, "CO-99.8@90D", Side::kSell, 5);
    Term(kT0 + 4 * kSecond, dla_, "CO-99.8@90D", Side::kBuy, 5);
    Term(kT0 + 5 * kSecond, dla_, "CO-99.8@180D", Side::kSell, 50);
    Command ret{};
    ret.type = CommandType::kReturnObligation;
    ret.obligation = ObligationCommand{jogmec_, 1, 3'000};
    At(kT0 + 6 * kSecond, ret);
    Command tick{};
    tick.type = CommandType::kAdvanceTime;
    At(kT0 + 31 * kDay, tick);
    At(kT0 + 100 * kDay, tick);
    WriteJournal();
  }

  void At(TimeNs time, Command c) {
    c.time = time;
    cmds_.push_back(c);
  }
  void Term(TimeNs time, AgencyId a, const char* book, Side side, Lots lots) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{a, *ref_->FindTermBook(book), side, TimeInForce::kGtc, lots, 150,
                           0, 0, 0, 0, 0};
    At(time, c);
  }
  void WriteJournal() {
    Engine engine(*ref_, EngineOptions{});
    journal::WriterOptions wo;
    wo.durability = journal::Durability::kNone;
    wo.config = config_.SerializeAsString();
    auto writer = journal::JournalWriter::Open(journal_, std::move(wo));
    ASSERT_TRUE(writer.ok()) << writer.status();
    std::vector<Event> events;
    Seq seq = 0;
    for (Command c : cmds_) {
      c.seq = ++seq;
      events.clear();
      engine.Apply(c, &events);
      for (const Event& e : events) ASSERT_NE(e.type, EventType::kRejected) << "seq " << seq;
      ASSERT_TRUE((*writer)->Append(c, events).ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }

  TempDir tmp_;
  const std::string journal_ = tmp_.sub("journal");
  v1::ExchangeConfig config_;
  std::unique_ptr<ReferenceData> ref_;
  AgencyId komir_ = 0, jogmec_ = 0, dla_ = 0;
  std::vector<Command> cmds_;
};

TEST_F(AgencyLoansTest, ReportCountsLoansPerAgencyAsLenderAndBorrower) {
  absl::StatusOr<ReportData> r = BuildReport(journal_, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->agency_loans.size(), 3u);  // KOMIR, JOGMEC, DLA (configuration order)
  const AgencyLoanRow* komir = Row(r->agency_loans, "KOMIR");
  const AgencyLoanRow* jogmec = Row(r->agency_loans, "JOGMEC");
  const AgencyLoanRow* dla = Row(r->agency_loans, "DLA");
  ASSERT_TRUE(komir && jogmec && dla);
  EXPECT_EQ(komir->mineral, "cobalt");
  ExpectSide(komir->lent, 2, 15'000, 15'225, 2, 0, 0, 0, 0, 0);
  ExpectSide(komir->borrowed, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  ExpectSide(jogmec->borrowed, 1, 10'000, 10'150, 1, 0, 0, 0, 0, 0);
  ExpectSide(dla->borrowed, 1, 5'000, 5'075, 1, 0, 0, 0, 0, 0);
  ExpectSide(dla->lent, 0, 0, 0, 0, 0, 0, 0, 0, 0);  // its offer never filled

  const nlohmann::ordered_json j = ReportJson(*r);
  ASSERT_EQ(j["agency_loans"].size(), 3u);
  EXPECT_EQ(j["agency_loans"][0]["agency"], "KOMIR");
  EXPECT_EQ(j["agency_loans"][0]["lent"]["paid_back"].get<Amount>(), 15'225);
  EXPECT_EQ(j["agency_loans"][2]["borrowed"]["units"].get<Amount>(), 5'000);
  const std::string text = RenderReportText("t", *r);
  EXPECT_TRUE(absl::StrContains(text, "Loans per agency (time swaps)")) << text;
  EXPECT_TRUE(absl::StrContains(text, "JOGMEC  CO-99.8     borrowed")) << text;
}

// Before seq 9 KOMIR recalls everything (both loans now due at t0+6s+8d) and DLA defaults
// (its cobalt drops to 0: the 50 lots its lend offer reserved are cancelled first). At
// t0+31d obligation 1 settles from JOGMEC's cobalt and obligation 2 falls overdue, all
// 5,075 kg still owed.
TEST_F(AgencyLoansTest, DefaultAndRecallAllMakeTheDefaultersLoanOverdue) {
  const std::string out = tmp_.sub("drill");
  absl::StatusOr<v1::Scenario> scenario = ParseScenarioText(R"(
      edits { at_seq: 9 recall_all { lender: "KOMIR" } }
      edits { at_seq: 9 default { agency: "DLA" instrument: "CO-99.8" total: 0 } }
  )");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<DrillResult> r = RunDrill(journal_, *scenario, out, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 2u);
  EXPECT_EQ(r->fired[0].description, "recall all: KOMIR recalled 2 loans");
  EXPECT_EQ(r->fired[0].commands, 2u);
  EXPECT_EQ(r->fired[1].description, "default: DLA CO-99.8 105,000 -> 0 kg (1 offer cancelled)");
  EXPECT_EQ(r->fired[1].commands, 2u);  // CancelTermOffer, SetHoldings
  EXPECT_EQ(r->drill.rejects, 0u);

  const AgencyLoanRow* komir = Row(r->drill.agency_loans, "KOMIR");
  const AgencyLoanRow* jogmec = Row(r->drill.agency_loans, "JOGMEC");
  const AgencyLoanRow* dla = Row(r->drill.agency_loans, "DLA");
  ASSERT_TRUE(komir && jogmec && dla);
  ExpectSide(komir->lent, 2, 15'000, 10'150, 1, 1, 2, 1, 1, 5'075);
  ExpectSide(jogmec->borrowed, 1, 10'000, 10'150, 1, 0, 1, 0, 0, 0);
  ExpectSide(dla->borrowed, 1, 5'000, 0, 0, 1, 1, 1, 1, 5'075);
  // The drill journal replays on its own.
  absl::StatusOr<VerifyResult> v = VerifyReplay(out, /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

TEST_F(AgencyLoansTest, RecallAllOfAnotherInstrumentRecallsNothingAndBadEditsAreNamed) {
  absl::StatusOr<v1::Scenario> scenario = ParseScenarioText(R"(
      edits { at_seq: 9 recall_all { lender: "KOMIR" instrument: "GA-4N" } }
  )");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<DrillResult> r = RunDrill(journal_, *scenario, tmp_.sub("drill"), 3);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 1u);
  EXPECT_EQ(r->fired[0].description, "recall all: KOMIR recalled 0 loans of GA-4N");
  EXPECT_EQ(r->fired[0].commands, 0u);

  for (const auto& [text, error] : std::vector<std::pair<std::string, std::string>>{
           {R"(edits { at_seq: 1 default { agency: "DLA" instrument: "CO-99.8" total: -1 } })",
            "edits[0].default.total: must be >= 0"},
           {R"(edits { at_seq: 1 default { agency: "XX" instrument: "CO-99.8" } })",
            "edits[0].default.agency: unknown agency \"XX\""},
           {R"(edits { at_seq: 1 recall_all { lender: "KOMIR" instrument: "CO" } })",
            "edits[0].recall_all.instrument: unknown instrument \"CO\""}}) {
    absl::StatusOr<v1::Scenario> bad = ParseScenarioText(text);
    ASSERT_TRUE(bad.ok()) << bad.status();
    absl::StatusOr<std::vector<ResolvedEdit>> resolved = ResolveScenario(*bad, *ref_);
    ASSERT_FALSE(resolved.ok()) << text;
    EXPECT_EQ(resolved.status().message(), error);
  }
}

}  // namespace
}  // namespace msx::drill
