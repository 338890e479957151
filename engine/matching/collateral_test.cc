// Collateral on time swaps: each test names one rule of engine/ENGINE.md "Collateral" as a
// fact (pledged at the fill, a borrow without it rejected and a maker without it skipped,
// released on full return or settlement, handed to the lender after the grace period).
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::EventsOf;
using ::msx::testing::FirstReject;
using ::msx::testing::kDla;
using ::msx::testing::kGa;
using ::msx::testing::kHalf;
using ::msx::testing::kJogmec;
using ::msx::testing::kKabil;
using ::msx::testing::kKomir;
using ::msx::testing::kLi;
using ::msx::testing::kLiValue;
using ::msx::testing::kNi;
using ::msx::testing::kNi2;
using ::msx::testing::kNi90;
using ::msx::testing::kNiValue;
using ::msx::testing::kSecured;

// The universe of engine/testing/term_book_fixture.h. Every nickel loan is secured:
// NI: nickel, USD 33/kg; LI: lithium, USD 9/kg; GA: gallium, USD 300/kg; NI2: a second
// nickel instrument (same mineral as NI, never accepted against a nickel loan).
// SECURED (KOMIR, JOGMEC, DLA): 110 % in NI2, then LI, then GA; grace 10 days.
// HALF (KOMIR, KABIL): 50 % in LI; grace default (30 days).
constexpr TimeNs kDay = kNsPerDay;
constexpr TimeNs kGrace = testing::kSecuredGraceDays * kDay;

// 10 lots of NI at 0 bp: 10,000 kg due, USD 330,000. At 110 % that is USD 363,000 of
// lithium at USD 9/kg: 40,333.3 kg, rounded up to 40,334 kg.
constexpr Amount kTenLotsPledge = 40'334;

class CollateralTest : public testing::TermBookTest {
 protected:
  std::vector<Event> Term(AgencyId a, Side side, Lots lots, std::int64_t bps = 0) {
    return TermBookTest::Term(a, kNi90, side, lots, bps);
  }
  // A loan of 10 lots of NI from KOMIR to JOGMEC (obligation `id`), made at kT0.
  void Loan() {
    Term(kKomir, Side::kSell, 10);
    Term(kJogmec, Side::kBuy, 10);
  }
};

constexpr TimeNs kT0 = testing::kTermBookT0;

TEST_F(CollateralTest, ThePledgeIsReservedAtTheFillRightAfterTheLoan) {
  Term(kKomir, Side::kSell, 10);
  std::vector<Event> ev = Term(kJogmec, Side::kBuy, 10);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].type, EventType::kLoanFill);
  ASSERT_EQ(ev[2].type, EventType::kCollateral);
  const CollateralEvent& c = ev[2].collateral;
  EXPECT_EQ(c.kind, CollateralEventKind::kPledged);
  EXPECT_EQ(c.obligation, 1u);
  EXPECT_EQ(c.lender, kKomir);
  EXPECT_EQ(c.borrower, kJogmec);
  // NI2 comes first in the agreement's list but is nickel, the lent mineral: skipped.
  EXPECT_EQ(c.instrument, kLi);
  EXPECT_EQ(c.amount, kTenLotsPledge);
  EXPECT_EQ(c.state, ObligationState::kOpen);
  EXPECT_EQ(H(kJogmec, kLi).reserved, kTenLotsPledge);
  EXPECT_EQ(H(kJogmec, kLi).available, 1'000'000 - kTenLotsPledge);
  const ObligationInfo ob = Ob(1);
  EXPECT_EQ(ob.collateral_state, CollateralState::kPledged);
  EXPECT_EQ(ob.collateral_instrument, kLi);
  EXPECT_EQ(ob.collateral_amount, kTenLotsPledge);
}

TEST_F(CollateralTest, ThePledgeIsTheFirstAcceptedInstrumentTheBorrowerHoldsEnoughOf) {
  Set(kJogmec, kLi, kTenLotsPledge - 1);  // one kilogram short of lithium
  Set(kJogmec, kGa, 10'000);
  Loan();
  // USD 363,000 of gallium at USD 300/kg: 1,210 kg exactly.
  EXPECT_EQ(Ob(1).collateral_instrument, kGa);
  EXPECT_EQ(Ob(1).collateral_amount, 1'210);
  EXPECT_EQ(H(kJogmec, kGa).reserved, 1'210);
  EXPECT_EQ(H(kJogmec, kLi).reserved, 0);
}

TEST_F(CollateralTest, ABorrowWithoutEnoughCollateralIsRejectedWithItsOwnReason) {
  Set(kJogmec, kLi, kTenLotsPledge - 1);
  Term(kKomir, Side::kSell, 10);
  std::vector<Event> ev = Term(kJogmec, Side::kBuy, 10);
  EXPECT_EQ(FirstReject(ev), RejectReason::kInsufficientCollateral);
  EXPECT_EQ(H(kJogmec, kNi).available, 1'000'000);  // no loan
  // Enough for 9 lots (36,301 kg) is enough for a 9-lot borrow.
  ev = Term(kJogmec, Side::kBuy, 9);
  EXPECT_EQ(FirstReject(ev), RejectReason::kNone);
  EXPECT_EQ(EventsOf(ev, EventType::kLoanFill).size(), 1u);
}

TEST_F(CollateralTest, AMakerWhoseBorrowerLacksCollateralAtTheFillIsSkippedInPlace) {
  Term(kJogmec, Side::kBuy, 10, 50);  // first in time at 50 bp
  Term(kDla, Side::kBuy, 10, 50);
  Set(kJogmec, kLi, 0);  // JOGMEC's lithium is gone before a lender comes
  std::vector<Event> ev = Term(kKomir, Side::kSell, 10, 50);
  std::vector<Event> loans = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(loans.size(), 1u);
  EXPECT_EQ(loans[0].loan_fill.borrower, kDla);
  // JOGMEC's borrow keeps its place and its lots.
  std::optional<OfferInfo> j = engine_.GetTermOffer(1);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->status, OfferStatus::kOpen);
  EXPECT_EQ(j->open_lots, 10);
}

TEST_F(CollateralTest, APartialReturnKeepsThePledgeAndTheFullReturnReleasesIt) {
  Loan();
  std::vector<Event> ev = Return(kJogmec, 1, 9'999);
  EXPECT_TRUE(EventsOf(ev, EventType::kCollateral).empty());
  EXPECT_EQ(H(kJogmec, kLi).reserved, kTenLotsPledge);
  ev = Return(kJogmec, 1, 1);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kObligation);  // the return, then the release
  ASSERT_EQ(ev[1].type, EventType::kCollateral);
  EXPECT_EQ(ev[1].collateral.kind, CollateralEventKind::kReleased);
  EXPECT_EQ(ev[1].collateral.amount, kTenLotsPledge);
  EXPECT_EQ(ev[1].collateral.state, ObligationState::kClosed);
  EXPECT_EQ(H(kJogmec, kLi).reserved, 0);
  EXPECT_EQ(H(kJogmec, kLi).available, 1'000'000);
  EXPECT_EQ(Ob(1).collateral_state, CollateralState::kReleased);
}

TEST_F(CollateralTest, SettlementAtTheDueTimeReleasesThePledge) {
  Loan();
  std::vector<Event> ev = Advance(kT0 + 90 * kDay);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kSettled);
  EXPECT_EQ(ev[1].collateral.kind, CollateralEventKind::kReleased);
  EXPECT_EQ(H(kJogmec, kLi).available, 1'000'000);
}

TEST_F(CollateralTest, AfterTheGracePeriodTheLenderTakesWhatCoversTheDebtAndTheRestGoesBack) {
  Loan();
  Set(kJogmec, kNi, 0);  // JOGMEC cannot pay: overdue at the due time
  std::vector<Event> ev = Advance(kT0 + 90 * kDay);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kOverdue);
  EXPECT_EQ(Ob(1).collateral_state, CollateralState::kPledged);
  // Not one nanosecond early.
  ev = Advance(kT0 + 90 * kDay + kGrace - 1);
  EXPECT_TRUE(ev.empty());
  EXPECT_EQ(engine_.NextExpiry(), kT0 + 90 * kDay + kGrace);
  ev = Advance(kT0 + 90 * kDay + kGrace);
  // 10,000 kg of NI owed = USD 330,000 = 36,666.7 kg of LI, rounded up: 36,667 kg to
  // KOMIR; the other 3,667 kg of the pledge go back to JOGMEC.
  ASSERT_EQ(ev.size(), 2u);
  ASSERT_EQ(ev[0].type, EventType::kCollateral);
  EXPECT_EQ(ev[0].collateral.kind, CollateralEventKind::kForfeited);
  EXPECT_EQ(ev[0].collateral.amount, 36'667);
  EXPECT_EQ(ev[0].collateral.covered, 10'000);
  EXPECT_EQ(ev[0].collateral.outstanding, 0);
  EXPECT_EQ(ev[0].collateral.state, ObligationState::kClosed);
  ASSERT_EQ(ev[1].type, EventType::kCollateral);
  EXPECT_EQ(ev[1].collateral.kind, CollateralEventKind::kReleased);
  EXPECT_EQ(ev[1].collateral.amount, kTenLotsPledge - 36'667);
  EXPECT_EQ(H(kKomir, kLi).available, 1'000'000 + 36'667);
  EXPECT_EQ(H(kJogmec, kLi).available, 1'000'000 - 36'667);
  EXPECT_EQ(H(kJogmec, kLi).reserved, 0);
  const ObligationInfo ob = Ob(1);
  EXPECT_EQ(ob.state, ObligationState::kClosed);
  EXPECT_EQ(ob.covered, 10'000);
  EXPECT_EQ(ob.returned + ob.covered + ob.outstanding, ob.due_amount);
  EXPECT_EQ(ob.collateral_state, CollateralState::kForfeited);
  EXPECT_EQ(ob.collateral_forfeited, 36'667);
  EXPECT_EQ(engine_.CreditUsed(kSecured, kJogmec), 0);
  // Cured: JOGMEC may lend nickel again.
  Set(kJogmec, kNi, 10'000);
  EXPECT_EQ(FirstReject(Term(kJogmec, Side::kSell, 1)), RejectReason::kNone);
}

TEST_F(CollateralTest, AnObligationPaidWithinTheGracePeriodGetsItsPledgeBack) {
  Loan();
  Set(kJogmec, kNi, 0);
  Advance(kT0 + 90 * kDay);
  std::vector<Event> ev = Set(kJogmec, kNi, 10'000);  // collected at the end of the command
  std::vector<Event> c = EventsOf(ev, EventType::kCollateral);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].collateral.kind, CollateralEventKind::kReleased);
  EXPECT_TRUE(Advance(kT0 + 90 * kDay + kGrace).empty());  // nothing left to hand over
  EXPECT_EQ(H(kKomir, kLi).available, 1'000'000);
}

TEST_F(CollateralTest, APledgeWorthLessThanTheDebtCoversWhatItIsWorthAndTheRestStaysOverdue) {
  // HALF: 50 % in LI. 10 lots = USD 330,000; pledge USD 165,000 = 18,333.3 -> 18,334 kg.
  Term(kKomir, Side::kSell, 10);
  Term(kKabil, Side::kBuy, 10);
  EXPECT_EQ(Ob(1).collateral_amount, 18'334);
  Set(kKabil, kNi, 0);
  Advance(kT0 + 90 * kDay);
  std::vector<Event> ev = Advance(kT0 + 120 * kDay);  // the default grace: 30 days
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].collateral.kind, CollateralEventKind::kForfeited);
  EXPECT_EQ(ev[0].collateral.amount, 18'334);
  // 18,334 kg x 9 / 33 = 5,000.18: 5,000 kg of nickel covered, rounded down.
  EXPECT_EQ(ev[0].collateral.covered, 5'000);
  EXPECT_EQ(ev[0].collateral.outstanding, 5'000);
  EXPECT_EQ(ev[0].collateral.state, ObligationState::kOverdue);
  EXPECT_EQ(Ob(1).state, ObligationState::kOverdue);
  EXPECT_EQ(engine_.CreditUsed(kHalf, kKabil), 5'000 * kNiValue);
  // The rest is still collected from nickel KABIL receives.
  ev = Set(kKabil, kNi, 7'000);
  std::vector<Event> o = EventsOf(ev, EventType::kObligation);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].obligation.amount, 5'000);
  EXPECT_EQ(Ob(1).state, ObligationState::kClosed);
}

TEST_F(CollateralTest, PledgesSurviveASnapshotAsVersionFiveAndAreHandedOverAfterLoading) {
  Loan();
  Set(kJogmec, kNi, 0);
  Advance(kT0 + 90 * kDay);
  const std::string state = engine_.SaveState();
  EXPECT_EQ(static_cast<unsigned char>(state[8]), 5);
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  ASSERT_TRUE(copy.LoadState(state).ok());
  EXPECT_EQ(copy.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(copy.NextExpiry(), kT0 + 90 * kDay + kGrace);
  Command c{};
  c.type = CommandType::kAdvanceTime;
  c.seq = ++seq_;
  c.time = kT0 + 100 * kDay;
  std::vector<Event> a, b;
  engine_.Apply(c, &a);
  copy.Apply(c, &b);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)));
  EXPECT_EQ(copy.StateDigest(), engine_.StateDigest());
}

TEST_F(CollateralTest, ASnapshotThatReservesLessThanThePledgesIsDataLoss) {
  Loan();
  std::string state = engine_.SaveState();
  // The last obligation record ends with collateral_state, instrument, amount, forfeited:
  // raise the pledged amount by one so that JOGMEC's lithium reservation no longer adds up.
  state[state.size() - 2 * 8] ^= 1;
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  absl::Status st = copy.LoadState(state);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("reserved"), std::string::npos) << st;
}

// The engine keeps which command forfeited or released a pledge (and recalled a loan), so
// that the gateway can rebuild an older report as that command left the obligation
// (gateway/reports.cc); an image holding them is version 9, and a seq the state does not
// back is DataLoss.
TEST_F(CollateralTest, TheCommandsThatForfeitOrReleaseAPledgeAreKeptAndSurviveASnapshot) {
  Loan();
  Term(kKomir, Side::kSell, 10);
  Term(kDla, Side::kBuy, 10);  // obligation 2, also pledged
  EXPECT_EQ(Ob(1).forfeited_seq, 0u);
  EXPECT_EQ(Ob(1).released_seq, 0u);
  EXPECT_EQ(SnapshotVersion(engine_.SaveState()), 5u);  // nothing to say yet
  Return(kDla, 2, 10'000);  // paid: the pledge is released
  const Seq released = seq_;
  Set(kJogmec, kNi, 0);
  Advance(kT0 + 90 * kDay);
  Advance(kT0 + 90 * kDay + kGrace);  // obligation 1's pledge is forfeit
  const Seq forfeited = seq_;
  EXPECT_EQ(Ob(1).forfeited_seq, forfeited);
  EXPECT_EQ(Ob(1).released_seq, 0u);  // the rest went back, but the pledge was forfeit
  EXPECT_EQ(Ob(2).released_seq, released);
  EXPECT_EQ(Ob(2).forfeited_seq, 0u);
  const std::string state = engine_.SaveState();
  EXPECT_EQ(SnapshotVersion(state), 9u);
  Engine copy(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  ASSERT_TRUE(copy.LoadState(state).ok());
  EXPECT_EQ(copy.GetObligation(1)->forfeited_seq, forfeited);
  EXPECT_EQ(copy.GetObligation(2)->released_seq, released);
  EXPECT_EQ(copy.SaveState(), state);
  // The last record ends with recalled_seq, forfeited_seq, released_seq: obligation 2 was
  // released, so a forfeited_seq there is a lie.
  std::string bad = state;
  bad[bad.size() - 2 * 8] = 1;
  const absl::Status st = copy.LoadState(bad);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("invalid change seqs of obligation 2"), std::string::npos) << st;
}

TEST(CollateralConfigTest, CollateralTermsAreValidatedNamingTheField) {
  auto build = [](std::int32_t bps, std::vector<std::string> instruments) {
    ReferenceDataBuilder b;
    b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, testing::kCoValue, 0});
    b.AddInstrument({"LI", "lithium", "hydroxide", "kg", 1000, kLiValue, 0});
    b.AddAgency({"KOMIR", "KOMIR", "KR"});
    b.AddAgreement({"A", {"KOMIR"}, {}});
    AgreementTermsSpec t;
    t.agreement = "A";
    t.collateral_bps = bps;
    t.collateral_instruments = std::move(instruments);
    b.SetAgreementTerms(t);
    return b.Build().status();
  };
  EXPECT_TRUE(build(0, {}).ok());
  EXPECT_TRUE(build(11000, {"LI", "CO"}).ok());
  EXPECT_NE(build(11000, {}).message().find("agreements[0] (A).collateral_instruments"),
            std::string::npos);
  EXPECT_NE(build(0, {"LI"}).message().find("collateral_bps: must be > 0"), std::string::npos);
  EXPECT_NE(build(-1, {"LI"}).message().find("collateral_bps: must be between 0 and 100000"),
            std::string::npos);
  EXPECT_NE(build(100, {"XX"}).message().find("unknown instrument \"XX\""), std::string::npos);
  EXPECT_NE(build(100, {"LI", "LI"}).message().find("\"LI\" listed twice"), std::string::npos);
}

}  // namespace
}  // namespace msx
