// Time swaps: term books, loans, the obligation ledger. Each test names one rule of
// engine/ENGINE.md "Time swaps" as a fact.
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/internal/time_swaps.h"
#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::EventsOf;
using ::msx::testing::FirstReject;
using ::msx::testing::kCo;
using ::msx::testing::kCo30;
using ::msx::testing::kCo90;
using ::msx::testing::kCoValue;
using ::msx::testing::kDla;
using ::msx::testing::kJogmec;
using ::msx::testing::kKabil;
using ::msx::testing::kKomir;
using ::msx::testing::kLi;

// The universe of engine/testing/term_book_fixture.h. Cobalt loans: among KOMIR, JOGMEC
// and DLA under CORE (USD 100 M each, recall allowed, default notice 8 days); between
// KOMIR and KABIL under NOREC (KABIL may owe 10 lots of cobalt at reference value, no
// recall); KABIL shares no agreement with JOGMEC or DLA.
class TimeSwapsTest : public testing::TermBookTest {
 protected:
  std::vector<Event> SellCo(AgencyId a, Lots lots) {
    Command c{};
    c.type = CommandType::kSubmitOffer;
    const Price ref_price = ref_.pairs()[0].reference_price;
    c.submit = SubmitOffer{a, 0, Side::kSell, TimeInForce::kGtc, lots, ref_price, 0, 0, 0, 0, 0};
    return Run(c);
  }
};

constexpr TimeNs kT0 = testing::kTermBookT0;
constexpr TimeNs kDay = kNsPerDay;

TEST(AmountDueTest, PremiumIsRoundedUpToAWholeBaseUnit) {
  EXPECT_EQ(internal::AmountDue(200'000, 150), 203'000);  // 200 t at 150 bp returns 203 t
  EXPECT_EQ(internal::AmountDue(1'001, 1), 1'002);        // 0.1001 units of premium -> 1
  EXPECT_EQ(internal::AmountDue(10'000, 1), 10'001);      // exactly 1 unit: no extra
  EXPECT_EQ(internal::AmountDue(999, 0), 999);            // no premium, nothing added
  EXPECT_EQ(internal::AmountDue(1, 10'000), 2);
  EXPECT_FALSE(internal::AmountDue(INT64_MAX / 2 + 1, 10'000).has_value());
}

TEST_F(TimeSwapsTest, ALoanMovesTheLentUnitsAtOnceAndOpensAnObligation) {
  Term(kKomir, kCo90, Side::kSell, 200, 150);
  EXPECT_EQ(H(kKomir, kCo).reserved, 200'000);
  now_ += 5;
  std::vector<Event> ev = Term(kJogmec, kCo90, Side::kBuy, 200, 200);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kTermAccepted);
  ASSERT_EQ(ev[1].type, EventType::kLoanFill);
  const LoanFillEvent& f = ev[1].loan_fill;
  EXPECT_EQ(f.obligation, 1u);
  EXPECT_EQ(f.lender, kKomir);
  EXPECT_EQ(f.borrower, kJogmec);
  EXPECT_EQ(f.premium_bps, 150);  // the resting lend's premium, not the borrow's limit
  EXPECT_EQ(f.due_amount, 203'000);
  EXPECT_EQ(f.aggressor_side, Side::kBuy);
  // The near leg: out of the lender's reservation, into the borrower's available units.
  EXPECT_EQ(H(kKomir, kCo).available, 800'000);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
  EXPECT_EQ(H(kJogmec, kCo).available, 1'200'000);
  const ObligationInfo ob = Ob(1);
  EXPECT_EQ(ob.principal, 200'000);
  EXPECT_EQ(ob.due_amount, 203'000);
  EXPECT_EQ(ob.outstanding, 203'000);
  EXPECT_EQ(ob.fill_time, kT0 + 5);
  EXPECT_EQ(ob.due_time, kT0 + 5 + 90 * kDay);
  EXPECT_EQ(ob.state, ObligationState::kOpen);
  EXPECT_EQ(engine_.CreditUsed(0, kJogmec), 203'000 * kCoValue);
}

TEST_F(TimeSwapsTest, LowestPremiumFirstThenTimeWithinALevel) {
  Term(kKomir, kCo90, Side::kSell, 10, 150);  // offer 1
  Term(kDla, kCo90, Side::kSell, 10, 100);    // offer 2
  Term(kKomir, kCo90, Side::kSell, 10, 100);  // offer 3
  std::vector<Event> ev = Term(kJogmec, kCo90, Side::kBuy, 25, 200);
  std::vector<Event> fills = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 3u);
  EXPECT_EQ(fills[0].loan_fill.maker_offer, 2u);
  EXPECT_EQ(fills[1].loan_fill.maker_offer, 3u);
  EXPECT_EQ(fills[2].loan_fill.maker_offer, 1u);
  EXPECT_EQ(fills[2].loan_fill.lots, 5);
  EXPECT_EQ(fills[2].loan_fill.premium_bps, 150);
  EXPECT_EQ(engine_.GetTermOffer(1)->open_lots, 5);
}

TEST_F(TimeSwapsTest, ABorrowDoesNotCrossALendAboveItsPremium) {
  Term(kKomir, kCo90, Side::kSell, 10, 150);
  std::vector<Event> ev = Term(kJogmec, kCo90, Side::kBuy, 10, 149);
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  EXPECT_EQ(engine_.GetTermOffer(2)->status, OfferStatus::kOpen);  // rests as a bid
  // A lend at or below the best borrow premium crosses, at the borrow's premium.
  ev = Term(kDla, kCo90, Side::kSell, 4, 120);
  std::vector<Event> fills = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.premium_bps, 149);
  EXPECT_EQ(fills[0].loan_fill.borrower, kJogmec);
}

TEST_F(TimeSwapsTest, AMakerWithoutAnAgreementCoveringTheMineralIsSkippedInPlace) {
  Term(kKabil, kCo90, Side::kSell, 10, 50);   // KABIL shares no agreement with JOGMEC
  Term(kKomir, kCo90, Side::kSell, 10, 100);
  std::vector<Event> ev = Term(kJogmec, kCo90, Side::kBuy, 10, 200);
  std::vector<Event> fills = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.lender, kKomir);
  EXPECT_EQ(engine_.GetTermOffer(1)->open_lots, 10);  // KABIL's lend keeps its place
}

TEST_F(TimeSwapsTest, ADeniedCounterpartyIsSkipped) {
  Term(kKomir, kCo90, Side::kSell, 10, 50, TimeInForce::kGtc, 0, 0, AgencyMask{1} << kJogmec);
  Term(kDla, kCo90, Side::kSell, 10, 100);
  std::vector<Event> fills =
      EventsOf(Term(kJogmec, kCo90, Side::kBuy, 10, 200), EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.lender, kDla);
}

TEST_F(TimeSwapsTest, ABorrowBeyondTheCreditLimitIsRejectedWithItsOwnReason) {
  // KABIL may owe 10 lots of cobalt at reference value under NOREC, its only agreement
  // covering cobalt.
  EXPECT_EQ(FirstReject(Term(kKabil, kCo90, Side::kBuy, 11, 0)), RejectReason::kCreditLimitExceeded);
  // 10 lots at 1 bp owe 10,001 kg: one kilogram too many.
  EXPECT_EQ(FirstReject(Term(kKabil, kCo90, Side::kBuy, 10, 1)), RejectReason::kCreditLimitExceeded);
  EXPECT_EQ(FirstReject(Term(kKabil, kCo90, Side::kBuy, 10, 0)), RejectReason::kNone);
}

TEST_F(TimeSwapsTest, AMakerWhoseLoanWouldExceedItsCreditLimitIsSkippedInPlace) {
  Term(kKabil, kCo90, Side::kBuy, 8, 0);  // offer 1: within the limit
  Term(kKabil, kCo90, Side::kBuy, 8, 0);  // offer 2: within the limit on its own
  std::vector<Event> ev = Term(kKomir, kCo90, Side::kSell, 16, 0, TimeInForce::kIoc);
  std::vector<Event> fills = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.maker_offer, 1u);
  // Offer 2 would make KABIL owe 16 lots: skipped, and still open in its place.
  EXPECT_EQ(engine_.GetTermOffer(2)->open_lots, 8);
  EXPECT_EQ(engine_.GetTermOffer(2)->status, OfferStatus::kOpen);
  std::vector<Event> cancels = EventsOf(ev, EventType::kTermCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kIocRemainder);
  EXPECT_EQ(cancels[0].cancelled.lots, 8);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);  // the IOC remainder's reservation came back
  // Once KABIL has returned, the credit is free again and offer 2 can borrow.
  Return(kKabil, 1, 8000);
  EXPECT_EQ(engine_.CreditUsed(1, kKabil), 0);
  EXPECT_EQ(EventsOf(Term(kKomir, kCo90, Side::kSell, 8, 0), EventType::kLoanFill).size(), 1u);
}

TEST_F(TimeSwapsTest, ALendBeyondAvailableHoldingsIsRejected) {
  EXPECT_EQ(FirstReject(Term(kKomir, kCo90, Side::kSell, 1001, 0)),
            RejectReason::kInsufficientHoldings);
}

TEST_F(TimeSwapsTest, ObligationsSettleAutomaticallyAtTheDueTimeExactly) {
  Term(kKomir, kCo90, Side::kSell, 200, 150);
  Term(kJogmec, kCo90, Side::kBuy, 200, 150);
  const TimeNs due = Ob(1).due_time;
  EXPECT_EQ(engine_.NextExpiry(), due);  // the server's timer knows when to come back
  EXPECT_TRUE(Advance(due - 1).empty());
  EXPECT_EQ(Ob(1).state, ObligationState::kOpen);
  std::vector<Event> ev = Advance(due);
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].type, EventType::kObligation);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kSettled);
  EXPECT_EQ(ev[0].obligation.amount, 203'000);
  EXPECT_EQ(ev[0].obligation.outstanding, 0);
  EXPECT_EQ(ev[0].obligation.state, ObligationState::kClosed);
  EXPECT_EQ(H(kKomir, kCo).available, 1'003'000);  // principal + 3 t premium
  EXPECT_EQ(H(kJogmec, kCo).available, 997'000);
  EXPECT_EQ(engine_.CreditUsed(0, kJogmec), 0);
  EXPECT_TRUE(Advance(due + kDay).empty());  // settled once
}

TEST_F(TimeSwapsTest, SettlementHappensInTheFirstCommandAtOrAfterTheDueTimeWhateverItIs) {
  Term(kKomir, kCo30, Side::kSell, 1, 0);
  Term(kJogmec, kCo30, Side::kBuy, 1, 0);
  now_ = Ob(1).due_time + 7;
  std::vector<Event> ev = Set(kDla, kLi, 5);  // any command carries time
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kObligation);  // time step first
  EXPECT_EQ(ev[1].type, EventType::kHoldingsSet);
}

TEST_F(TimeSwapsTest, APartialReturnLeavesTheRestOutstanding) {
  Term(kKomir, kCo90, Side::kSell, 200, 150);
  Term(kJogmec, kCo90, Side::kBuy, 200, 150);
  std::vector<Event> ev = Return(kJogmec, 1, 100'000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kReturned);
  EXPECT_EQ(ev[0].obligation.outstanding, 103'000);
  EXPECT_EQ(ev[0].obligation.state, ObligationState::kOpen);
  EXPECT_EQ(Ob(1).returned, 100'000);
  EXPECT_EQ(engine_.CreditUsed(0, kJogmec), 103'000 * kCoValue);
  EXPECT_EQ(FirstReject(Return(kJogmec, 1, 103'001)), RejectReason::kInvalidAmount);
  EXPECT_EQ(FirstReject(Return(kJogmec, 1, 0)), RejectReason::kInvalidAmount);
  EXPECT_EQ(FirstReject(Return(kKomir, 1, 1)), RejectReason::kUnknownObligation);  // not its loan
  ev = Return(kJogmec, 1, 103'000);
  EXPECT_EQ(ev[0].obligation.state, ObligationState::kClosed);
  EXPECT_EQ(FirstReject(Return(kJogmec, 1, 1)), RejectReason::kObligationNotOpen);
  EXPECT_TRUE(Advance(Ob(1).due_time).empty());  // nothing left to settle
}

TEST_F(TimeSwapsTest, WhatCannotBeSettledBecomesOverdueAndBlocksSalesOfThatMineral) {
  Term(kKomir, kCo90, Side::kSell, 200, 150);
  Term(kJogmec, kCo90, Side::kBuy, 200, 150);
  Set(kJogmec, kCo, 150'000);  // JOGMEC used most of it
  std::vector<Event> ev = Advance(Ob(1).due_time);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kOverdue);
  EXPECT_EQ(ev[0].obligation.amount, 150'000);  // everything available was taken
  EXPECT_EQ(ev[0].obligation.outstanding, 53'000);
  EXPECT_EQ(Ob(1).state, ObligationState::kOverdue);
  EXPECT_EQ(H(kJogmec, kCo).available, 0);
  // Blocked: lending cobalt, selling cobalt on a pair book. Buying cobalt is not.
  Set(kJogmec, kCo, 0);
  EXPECT_EQ(FirstReject(Term(kJogmec, kCo30, Side::kSell, 1, 0)), RejectReason::kObligationOverdue);
  EXPECT_EQ(FirstReject(SellCo(kJogmec, 1)), RejectReason::kObligationOverdue);
  EXPECT_EQ(FirstReject(SellCo(kDla, 1)), RejectReason::kNone);  // others are not blocked
  // The lender is paid first from units the borrower receives later.
  ev = Set(kJogmec, kCo, 40'000);
  std::vector<Event> coll = EventsOf(ev, EventType::kObligation);
  ASSERT_EQ(coll.size(), 1u);
  EXPECT_EQ(coll[0].obligation.kind, ObligationEventKind::kCollected);
  EXPECT_EQ(coll[0].obligation.amount, 40'000);
  EXPECT_EQ(coll[0].obligation.outstanding, 13'000);
  EXPECT_EQ(H(kJogmec, kCo).available, 0);
  // Returning the rest cures it: the block lifts.
  Set(kJogmec, kCo, 0);
  ev = Set(kJogmec, kCo, 20'000);
  EXPECT_EQ(EventsOf(ev, EventType::kObligation)[0].obligation.state, ObligationState::kClosed);
  EXPECT_EQ(H(kJogmec, kCo).available, 7'000);
  EXPECT_EQ(H(kKomir, kCo).available, 1'003'000);
  EXPECT_EQ(FirstReject(Term(kJogmec, kCo30, Side::kSell, 1, 0)), RejectReason::kNone);
  EXPECT_EQ(engine_.CreditUsed(0, kJogmec), 0);
}

// Overdue obligations of one borrower in one instrument are paid oldest overdue first,
// i.e. in (due time, id) order, not in id order: the 30-day loan (id 2) fell overdue two
// months before the 90-day one (id 1) and is paid first. A snapshot taken while both are
// overdue collects in the same order (LoadState rebuilds the lists by sorting).
TEST_F(TimeSwapsTest, OverdueObligationsAreCollectedOldestOverdueFirstAlsoAfterASnapshot) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);  // obligation 1, due in 90 days
  Term(kDla, kCo30, Side::kSell, 10, 0);
  Term(kJogmec, kCo30, Side::kBuy, 10, 0);  // obligation 2, due in 30 days
  Set(kJogmec, kCo, 0);
  Advance(Ob(2).due_time);
  EXPECT_EQ(Ob(2).state, ObligationState::kOverdue);
  EXPECT_EQ(Ob(1).state, ObligationState::kOpen);
  Advance(Ob(1).due_time);
  EXPECT_EQ(Ob(1).state, ObligationState::kOverdue);
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  // 15,000 kg arrive: obligation 2 (owed 10,000) is paid in full, then 1 gets 5,000.
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.seq = ++seq_;
  c.time = now_;
  c.set_holdings = {kJogmec, kCo, 15'000};
  std::vector<Event> live, loaded;
  engine_.Apply(c, &live);
  copy.Apply(c, &loaded);
  std::vector<Event> coll = EventsOf(live, EventType::kObligation);
  ASSERT_EQ(coll.size(), 2u);
  EXPECT_EQ(coll[0].obligation.obligation, 2u);
  EXPECT_EQ(coll[0].obligation.amount, 10'000);
  EXPECT_EQ(coll[0].obligation.state, ObligationState::kClosed);
  EXPECT_EQ(coll[1].obligation.obligation, 1u);
  EXPECT_EQ(coll[1].obligation.amount, 5'000);
  EXPECT_EQ(coll[1].obligation.outstanding, 5'000);
  ASSERT_EQ(live.size(), loaded.size());
  EXPECT_EQ(0, std::memcmp(live.data(), loaded.data(), live.size() * sizeof(Event)));
  // Still blocked until obligation 1 is cured too.
  EXPECT_EQ(FirstReject(SellCo(kJogmec, 1)), RejectReason::kObligationOverdue);
}

// Collection follows the units whichever way they arrive: a pair-book fill (the overdue
// borrower buys cobalt) pays the lender at the end of the same command.
TEST_F(TimeSwapsTest, UnitsAnOverdueBorrowerBuysOnAPairBookPayTheLenderInTheSameCommand) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);
  Set(kJogmec, kCo, 0);
  Advance(Ob(1).due_time);
  ASSERT_EQ(Ob(1).state, ObligationState::kOverdue);
  SellCo(kDla, 3);  // DLA offers 3 lots of cobalt for lithium
  Command c{};
  c.type = CommandType::kSubmitOffer;
  c.submit = SubmitOffer{kJogmec, 0, Side::kBuy, TimeInForce::kIoc, 3,
                         ref_.pairs()[0].reference_price, 0, 0, 0, 0, 0};
  std::vector<Event> ev = Run(c);
  ASSERT_EQ(EventsOf(ev, EventType::kFill).size(), 1u);
  std::vector<Event> coll = EventsOf(ev, EventType::kObligation);
  ASSERT_EQ(coll.size(), 1u);
  EXPECT_EQ(coll[0].obligation.kind, ObligationEventKind::kCollected);
  EXPECT_EQ(coll[0].obligation.amount, 3'000);
  EXPECT_EQ(H(kJogmec, kCo).available, 0);
  EXPECT_EQ(Ob(1).outstanding, 7'000);
}

TEST_F(TimeSwapsTest, ARecallMakesTheLoanDueAfterTheAgreementsNotice) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);
  now_ += 3 * kDay;
  EXPECT_EQ(FirstReject(Recall(kJogmec, 1)), RejectReason::kUnknownObligation);  // borrowers can't
  std::vector<Event> ev = Recall(kKomir, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kRecalled);
  EXPECT_EQ(ev[0].obligation.due_time, now_ + 8 * kDay);  // default notice: 8 days
  EXPECT_TRUE(Ob(1).recalled);
  EXPECT_TRUE(Advance(now_ + 8 * kDay - 1).empty());
  ev = Advance(now_ + 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].obligation.kind, ObligationEventKind::kSettled);
  EXPECT_TRUE(Advance(kT0 + 90 * kDay).empty());  // the old due time settles nothing
}

TEST_F(TimeSwapsTest, TheFirstRecallsCommandIsKeptAndALaterRecallDoesNotMoveIt) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);
  EXPECT_EQ(Ob(1).recalled_seq, 0u);
  Recall(kKomir, 1);
  const Seq first = seq_;
  now_ += kDay;
  Recall(kKomir, 1);  // accepted, but changes nothing
  EXPECT_EQ(Ob(1).recalled_seq, first);
  Engine copy(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  EXPECT_EQ(copy.GetObligation(1)->recalled_seq, first);
}

TEST_F(TimeSwapsTest, ARecallUnderAnAgreementThatForbidsItIsRejected) {
  Term(kKomir, kCo90, Side::kSell, 5, 0);
  Term(kKabil, kCo90, Side::kBuy, 5, 0);  // NOREC: its only cobalt agreement with KOMIR
  EXPECT_EQ(Ob(1).agreement, 1u);
  EXPECT_EQ(FirstReject(Recall(kKomir, 1)), RejectReason::kRecallNotAllowed);
}

TEST_F(TimeSwapsTest, ARecallAtAnEmergencyLevelThatForbidsRecallsIsRejectedWithItsOwnReason) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);
  auto level = [&](EmergencyLevel l) {
    Command c{};
    c.type = CommandType::kSetEmergencyLevel;
    c.set_level.instrument = kCo;
    c.set_level.level = l;
    ASSERT_EQ(FirstReject(Run(c)), RejectReason::kNone);
  };
  level(EmergencyLevel::kWarning);  // the default WARNING policy: no recalls
  EXPECT_EQ(FirstReject(Recall(kKomir, 1)), RejectReason::kRecallForbiddenAtLevel);
  EXPECT_FALSE(Ob(1).recalled);
  // The gate survives a snapshot (the level is part of the live section).
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  Command recall{};
  recall.type = CommandType::kRecallObligation;
  recall.obligation = {kKomir, 1, 0};
  recall.seq = seq_ + 1;
  recall.time = now_;
  std::vector<Event> ev;
  copy.Apply(recall, &ev);
  EXPECT_EQ(FirstReject(ev), RejectReason::kRecallForbiddenAtLevel);
  // CAUTION allows recalls again.
  level(EmergencyLevel::kCaution);
  EXPECT_EQ(FirstReject(Recall(kKomir, 1)), RejectReason::kNone);
  EXPECT_TRUE(Ob(1).recalled);
}

TEST_F(TimeSwapsTest, ARecallNeverMakesALoanDueLater) {
  Term(kKomir, kCo30, Side::kSell, 5, 0);
  Term(kJogmec, kCo30, Side::kBuy, 5, 0);
  now_ += 25 * kDay;
  const TimeNs due = Ob(1).due_time;
  Recall(kKomir, 1);
  EXPECT_EQ(Ob(1).due_time, due);
}

TEST_F(TimeSwapsTest, GtdTermOffersExpireAndReleaseTheirReservation) {
  Term(kKomir, kCo90, Side::kSell, 10, 0, TimeInForce::kGtd, 0, kT0 + 100);
  EXPECT_EQ(H(kKomir, kCo).reserved, 10'000);
  std::vector<Event> ev = Advance(kT0 + 100);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kTermExpired);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
}

TEST_F(TimeSwapsTest, AnUnknownTimeInForceBookOrPremiumIsRejected) {
  EXPECT_EQ(FirstReject(Term(kKomir, kCo90, Side::kSell, 10, 0, static_cast<TimeInForce>(5))),
            RejectReason::kInvalidTimeInForce);
  EXPECT_EQ(FirstReject(Term(kKomir, 7, Side::kSell, 10, 0)), RejectReason::kUnknownTermBook);
  EXPECT_EQ(FirstReject(Term(kKomir, kCo90, Side::kSell, 10, 10'001)), RejectReason::kInvalidPrice);
}

// Client offer ids are per agency; a reused one is rejected naming the original term
// offer, in any order of ids (increasing and not) and after a snapshot is loaded.
TEST_F(TimeSwapsTest, AReusedClientIdIsRejectedNamingTheOriginalAlsoAfterASnapshot) {
  auto lend = [&](Engine& e, AgencyId a, ClientOfferId id) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.seq = ++seq_;
    c.time = now_;
    c.submit = SubmitOffer{a, kCo90, Side::kSell, TimeInForce::kGtc, 1, 500, 0, 0, 0, 0, id};
    std::vector<Event> ev;
    e.Apply(c, &ev);
    return ev;
  };
  for (ClientOfferId id : {7, 9, 8, 3}) {  // offers 1..4 of KOMIR
    EXPECT_EQ(FirstReject(lend(engine_, kKomir, id)), RejectReason::kNone) << id;
  }
  EXPECT_EQ(FirstReject(lend(engine_, kJogmec, 8)), RejectReason::kNone) << "ids are per agency";
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  ASSERT_TRUE(copy.LoadState(engine_.SaveState()).ok());
  for (Engine* e : {&engine_, &copy}) {
    for (auto [id, original] : {std::pair<ClientOfferId, OfferId>{9, 2}, {8, 3}, {3, 4}}) {
      const Seq before = seq_;
      std::vector<Event> ev = lend(*e, kKomir, id);
      ASSERT_EQ(FirstReject(ev), RejectReason::kDuplicateClientId) << id << " at " << before;
      EXPECT_EQ(EventsOf(ev, EventType::kRejected)[0].rejected.offer, original) << id;
    }
    EXPECT_EQ(FirstReject(lend(*e, kKomir, 10)), RejectReason::kNone);
    EXPECT_EQ(FirstReject(lend(*e, kKomir, 10)), RejectReason::kDuplicateClientId);
  }
}

TEST_F(TimeSwapsTest, ASnapshotWithoutTimeSwapsKeepsItsVersionAndWithThemIsVersionThree) {
  std::string s = engine_.SaveState();
  EXPECT_EQ(static_cast<unsigned char>(s[8]), 2);
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  s = engine_.SaveState();
  EXPECT_EQ(static_cast<unsigned char>(s[8]), 3);
}

TEST_F(TimeSwapsTest, ObligationsSurviveASnapshotAndReplayIdentically) {
  Term(kKomir, kCo90, Side::kSell, 200, 150);
  Term(kJogmec, kCo90, Side::kBuy, 150, 150);  // 50 lots of the lend stay open
  Term(kDla, kCo30, Side::kBuy, 5, 10);
  Term(kKomir, kCo30, Side::kSell, 5, 10);
  Return(kJogmec, 1, 1000);
  Recall(kKomir, 2);
  Set(kDla, kCo, 0);  // DLA will be overdue
  const std::string state = engine_.SaveState();
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  ASSERT_TRUE(copy.LoadState(state).ok());
  EXPECT_EQ(copy.StateDigest(), engine_.StateDigest());
  // The same commands afterwards give the same events on both.
  std::vector<Command> rest;
  auto add = [&](Command c) { rest.push_back(c); };
  {
    Command c{};
    c.type = CommandType::kAdvanceTime;
    c.time = kT0 + 11 * kDay;
    add(c);
    c.time = kT0 + 200 * kDay;
    add(c);
    c = Command{};
    c.type = CommandType::kSetHoldings;
    c.time = kT0 + 201 * kDay;
    c.set_holdings = {kDla, kCo, 100'000};
    add(c);
  }
  for (Command c : rest) {
    c.seq = ++seq_;
    std::vector<Event> a, b;
    engine_.Apply(c, &a);
    copy.Apply(c, &b);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)));
  }
  EXPECT_EQ(copy.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(Ob(2).state, ObligationState::kClosed);  // DLA's overdue loan was collected
  EXPECT_TRUE(Ob(2).recalled);
}

TEST_F(TimeSwapsTest, ACorruptTimeSwapSectionIsDataLossNamingTheOffset) {
  Term(kKomir, kCo90, Side::kSell, 10, 0);
  Term(kJogmec, kCo90, Side::kBuy, 10, 0);
  std::string state = engine_.SaveState();
  Engine copy(ref_, EngineOptions{.expected_offers = 1024});
  absl::Status st = copy.LoadState(state.substr(0, state.size() - 3));
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("truncated obligation 1 at offset"), std::string::npos) << st;
  // An obligation whose due amount does not match its lots and premium.
  std::string bad = state;
  bad[bad.size() - 6 * 8] ^= 1;  // due_amount of the last obligation
  st = copy.LoadState(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("inconsistent obligation 1"), std::string::npos) << st;
}

// Conservation over random runs: for each instrument the sum over agencies of available +
// reserved never changes (time swaps move units, they never make or destroy them), and
// for each obligation returned + outstanding = due, with credit used equal to what is
// outstanding at reference values.
TEST(TimeSwapsPropertyTest, RandomRunsConserveUnitsAndObligations) {
  const ReferenceData& ref = testing::TermBookUniverse();
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    Engine engine(ref, EngineOptions{.expected_offers = 4096});
    Seq seq = 0;
    TimeNs now = kT0;
    std::vector<Event> ev;
    auto apply = [&](Command c) {
      c.seq = ++seq;
      c.time = now;
      ev.clear();
      engine.Apply(c, &ev);
    };
    for (AgencyId a = 0; a < 4; ++a) {
      for (InstrumentId i = 0; i < 2; ++i) {
        Command c{};
        c.type = CommandType::kSetHoldings;
        c.set_holdings = {a, i, static_cast<Amount>(rng() % 300'000)};
        apply(c);
      }
    }
    Amount start[2] = {0, 0};
    for (AgencyId a = 0; a < 4; ++a) {
      for (InstrumentId i = 0; i < 2; ++i) {
        start[i] += engine.GetHoldings(a, i).available + engine.GetHoldings(a, i).reserved;
      }
    }
    std::uint64_t loans = 0;
    for (int step = 0; step < 600; ++step) {
      now += static_cast<TimeNs>(rng() % (3 * kDay));
      Command c{};
      const AgencyId a = static_cast<AgencyId>(rng() % 4);
      switch (rng() % 10) {
        case 0: case 1: case 2: case 3: {
          c.type = CommandType::kSubmitTermOffer;
          const TimeInForce tif = rng() % 4 == 0   ? TimeInForce::kIoc
                                  : rng() % 3 == 0 ? TimeInForce::kGtd
                                                   : TimeInForce::kGtc;
          c.submit = SubmitOffer{a, static_cast<TermBookId>(rng() % 2),
                                 rng() % 2 ? Side::kSell : Side::kBuy, tif,
                                 static_cast<Lots>(1 + rng() % 40),
                                 static_cast<std::int64_t>(rng() % 300), 0,
                                 now + static_cast<TimeNs>(1 + rng() % (5 * kDay)), 0, 0, 0};
          break;
        }
        case 4: {
          c.type = CommandType::kCancelTermOffer;
          c.cancel = {a, 1 + rng() % 200};
          break;
        }
        case 5: case 6: {
          c.type = CommandType::kReturnObligation;
          c.obligation = {a, 1 + (loans ? rng() % loans : 0),
                          static_cast<Amount>(1 + rng() % 20'000)};
          break;
        }
        case 7: {
          c.type = CommandType::kRecallObligation;
          c.obligation = {a, 1 + (loans ? rng() % loans : 0), 0};
          break;
        }
        case 8: {  // a pair-book sale of cobalt (blocked while overdue)
          c.type = CommandType::kSubmitOffer;
          c.submit = SubmitOffer{a, 0, Side::kSell, TimeInForce::kIoc, 1,
                                 ref.pairs()[0].reference_price, 0, 0, 0, 0, 0};
          break;
        }
        default:
          c.type = CommandType::kAdvanceTime;
          break;
      }
      apply(c);
      for (const Event& e : ev) loans += e.type == EventType::kLoanFill;
      for (InstrumentId i = 0; i < 2; ++i) {
        Amount sum = 0;
        for (AgencyId x = 0; x < 4; ++x) {
          const HoldingInfo h = engine.GetHoldings(x, i);
          ASSERT_GE(h.available, 0) << "seed " << seed << " step " << step;
          ASSERT_GE(h.reserved, 0) << "seed " << seed << " step " << step;
          sum += h.available + h.reserved;
        }
        ASSERT_EQ(sum, start[i]) << "seed " << seed << " step " << step << " instrument " << i;
      }
    }
    MicroUsd used[2][4] = {};
    for (const ObligationInfo& ob : engine.ListObligations(std::nullopt)) {
      ASSERT_EQ(ob.returned + ob.outstanding, ob.due_amount);
      ASSERT_EQ(ob.due_amount, internal::AmountDue(ob.principal, ob.premium_bps));
      ASSERT_EQ(ob.state == ObligationState::kClosed, ob.outstanding == 0);
      used[ob.agreement][ob.borrower] += ob.outstanding * kCoValue;
    }
    for (std::uint32_t g = 0; g < 2; ++g) {
      for (AgencyId x = 0; x < 4; ++x) {
        ASSERT_EQ(engine.CreditUsed(g, x), used[g][x]) << "seed " << seed;
        ASSERT_LE(used[g][x], ref.agreements()[g].credit_limit[x]) << "seed " << seed;
      }
    }
    EXPECT_GT(loans, 0u) << "seed " << seed;
    // A snapshot of the end state loads to the same digest.
    Engine copy(ref, EngineOptions{.expected_offers = 4096});
    ASSERT_TRUE(copy.LoadState(engine.SaveState()).ok());
    EXPECT_EQ(copy.StateDigest(), engine.StateDigest());
  }
}

}  // namespace
}  // namespace msx
