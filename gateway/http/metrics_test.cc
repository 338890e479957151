// CommandMetrics and the engine gauges against a real Engine: the counters move by exactly
// what a known sequence of commands produced, and the rendered text says so.
#include "gateway/http/metrics.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::gateway::http {
namespace {

constexpr TimeNs kT0 = 1'800'000'000'000'000'000;
constexpr AgencyId kKomir = 0, kJogmec = 1, kDla = 2;
constexpr InstrumentId kCo = 0, kLi = 1;
constexpr TermBookId kCo90 = 0, kCo30 = 1;

ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, 33'000'000, 0});
  b.AddInstrument({"LI", "lithium", "hydroxide", "kg", 1000, 9'000'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 100000});
  for (const char* code : {"KOMIR", "JOGMEC", "DLA"}) b.AddAgency({code, code, "XX"});
  b.AddAgency({"OPS", "ops", "XX", Role::kAdmin});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC", "DLA"}, {}});
  b.AddTermBook({"CO", 90, 100000});
  b.AddTermBook({"CO", 30, 100000});
  AgreementTermsSpec core;
  core.agreement = "CORE";
  core.default_credit_limit = 100'000'000'000'000;
  b.SetAgreementTerms(core);
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest()
      : ref_(MakeRef()), engine_(ref_, EngineOptions{.expected_offers = 64}), metrics_(ref_) {}

  // Applies `c` and hands it to the metrics as a batch of one, as the sequencer does.
  void Run(Command c) {
    c.seq = ++seq_;
    c.time = now_;
    std::vector<Event> events;
    engine_.Apply(c, &events);
    const CommandGroup group{&c, events};
    metrics_.OnBatchSequenced({&group, 1});
  }
  void Set(AgencyId a, InstrumentId i, Amount total) {
    Command c{};
    c.type = CommandType::kSetHoldings;
    c.set_holdings = {a, i, total};
    Run(c);
  }
  void Term(AgencyId a, TermBookId book, Side side, Lots lots, std::int64_t bps) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{a, book, side, TimeInForce::kGtc, lots, bps, 0, 0, 0, 0, 0};
    Run(c);
  }
  void Return(AgencyId a, ObligationId id, Amount amount) {
    Command c{};
    c.type = CommandType::kReturnObligation;
    c.obligation = {a, id, amount};
    Run(c);
  }
  void Advance(TimeNs to) {
    now_ = to;
    Command c{};
    c.type = CommandType::kAdvanceTime;
    Run(c);
  }
  std::string Text() {
    PrometheusWriter w;
    metrics_.Render(&w);
    RenderEngineGauges(ReadEngineGauges(engine_, ref_), ref_, &w);
    return w.text();
  }
  // The value of one sample line, e.g. Sample(R"(msx_loans_total{term_book="CO@90D"})").
  static std::string Sample(const std::string& text, const std::string& series) {
    const std::string key = absl::StrCat("\n", series, " ");
    const std::size_t at = text.find(key);
    if (at == std::string::npos) return "<absent>";
    const std::size_t begin = at + key.size();
    return text.substr(begin, text.find('\n', begin) - begin);
  }

  ReferenceData ref_;
  Engine engine_;
  CommandMetrics metrics_;
  Seq seq_ = 0;
  TimeNs now_ = kT0;
};

TEST_F(MetricsTest, LoansAndObligationEventsAreCountedPerTermBookAndInstrument) {
  for (AgencyId a : {kKomir, kJogmec, kDla}) {
    Set(a, kCo, 1'000'000);
    Set(a, kLi, 1'000'000);
  }
  Term(kKomir, kCo90, Side::kSell, 200, 150);  // lend 200 lots at 150 bp
  Term(kJogmec, kCo90, Side::kBuy, 200, 150);  // borrow: loan 1, 203,000 due in 90 days
  Term(kDla, kCo30, Side::kSell, 10, 0);
  Term(kJogmec, kCo30, Side::kBuy, 10, 0);     // loan 2, 10,000 due in 30 days
  Return(kJogmec, 1, 3'000);                   // part of loan 1
  Return(kJogmec, 1, 0);                       // rejected: nothing to return
  Set(kJogmec, kCo, 4'000);                    // too little to settle loan 2
  Advance(kT0 + 31 * kNsPerDay);               // loan 2: 4,000 taken, 6,000 overdue

  EXPECT_EQ(metrics_.loans(kCo90), 1u);
  EXPECT_EQ(metrics_.loans(kCo30), 1u);
  EXPECT_EQ(metrics_.obligation_events(kCo, ObligationEventKind::kReturned), 1u);
  EXPECT_EQ(metrics_.obligation_events(kCo, ObligationEventKind::kOverdue), 1u);
  EXPECT_EQ(metrics_.obligation_events(kCo, ObligationEventKind::kSettled), 0u);
  EXPECT_EQ(metrics_.commands(CommandType::kReturnObligation, false), 1u);
  EXPECT_EQ(metrics_.commands(CommandType::kReturnObligation, true), 1u);
  EXPECT_EQ(metrics_.rejects(RejectReason::kInvalidAmount), 1u);

  const std::string text = Text();
  EXPECT_EQ(Sample(text, R"(msx_loans_total{term_book="CO@90D"})"), "1");
  EXPECT_EQ(Sample(text, R"(msx_loans_total{term_book="CO@30D"})"), "1");
  EXPECT_EQ(Sample(text, R"(msx_loaned_lots_total{term_book="CO@90D"})"), "200");
  EXPECT_EQ(Sample(text, R"(msx_loaned_lots_total{term_book="CO@30D"})"), "10");
  EXPECT_EQ(Sample(text, R"(msx_obligation_events_total{instrument="CO",kind="returned"})"),
            "1");
  EXPECT_EQ(Sample(text, R"(msx_obligation_events_total{instrument="CO",kind="overdue"})"), "1");
  EXPECT_EQ(Sample(text, R"(msx_obligation_events_total{instrument="CO",kind="recalled"})"),
            "0");
  EXPECT_EQ(Sample(text, R"(msx_obligation_repaid_amount_total{instrument="CO",kind="returned",unit="kg"})"),
            "3000");
  EXPECT_EQ(Sample(text, R"(msx_obligation_repaid_amount_total{instrument="CO",kind="overdue",unit="kg"})"),
            "4000");
  // Lithium has no term book: no obligation series for it.
  EXPECT_EQ(Sample(text, R"(msx_obligation_events_total{instrument="LI",kind="returned"})"),
            "<absent>");
  EXPECT_EQ(Sample(text, R"(msx_commands_total{type="return_obligation",result="rejected"})"),
            "1");
  EXPECT_EQ(Sample(text, R"(msx_rejects_total{reason="invalid_amount"})"), "1");

  // The gauges read the engine's ledger: loan 1 open (203,000 - 3,000 owed), loan 2 overdue.
  EXPECT_EQ(Sample(text, R"(msx_obligations{instrument="CO",state="open"})"), "1");
  EXPECT_EQ(Sample(text, R"(msx_obligations{instrument="CO",state="overdue"})"), "1");
  EXPECT_EQ(Sample(text, R"(msx_obligation_outstanding_amount{instrument="CO",state="open",unit="kg"})"),
            "200000");
  EXPECT_EQ(Sample(text, R"(msx_obligation_outstanding_amount{instrument="CO",state="overdue",unit="kg"})"),
            "6000");
  EXPECT_EQ(Sample(text, R"(msx_book_resting_offers{pair="CO/LI",side="buy"})"), "0");
}

// Reject reasons and command types are counted by their own value; a value above the
// first 32 (the emergency and auction ranges) must not land in another one's cell.
TEST_F(MetricsTest, EveryEnumValueHasItsOwnCell) {
  Command c{};
  c.type = static_cast<CommandType>(33);
  Event rejected{};
  rejected.type = EventType::kRejected;
  rejected.rejected.reason = static_cast<RejectReason>(40);
  const CommandGroup group{&c, {&rejected, 1}};
  metrics_.OnBatchSequenced({&group, 1});
  EXPECT_EQ(metrics_.rejects(static_cast<RejectReason>(40)), 1u);
  EXPECT_EQ(metrics_.rejects(static_cast<RejectReason>(8)), 0u);
  EXPECT_EQ(metrics_.commands(static_cast<CommandType>(33), true), 1u);
  EXPECT_EQ(metrics_.commands(static_cast<CommandType>(1), true), 0u);
}

}  // namespace
}  // namespace msx::gateway::http
