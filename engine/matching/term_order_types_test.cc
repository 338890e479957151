// Term books take FOK, a minimum fill and replace with the rules of pair books (engine/
// ENGINE.md "Time swaps": "FOK and minimum fill", "Replace"). Each test names one rule as a
// fact; the credit and collateral tests are the ones where a term book differs from a pair
// book: a maker skipped for credit or collateral does not count towards a FOK or a minimum
// fill, and neither does the credit or collateral an earlier loan of the same walk used.
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::EventsOf;
using ::msx::testing::FirstReject;
using ::msx::testing::kCo;
using ::msx::testing::kCo30;
using ::msx::testing::kDera;
using ::msx::testing::kDla;
using ::msx::testing::kJogmec;
using ::msx::testing::kKomir;
using ::msx::testing::kLi;
using ::msx::testing::kNorec;

// The universe of engine/testing/term_book_fixture.h, on its cobalt book of at most 1,000
// lots (CO@30D). KOMIR, JOGMEC and DLA lend to each other under CORE (USD 100 M each, no
// collateral). DERA borrows from KOMIR under NOREC (at most 10 lots of cobalt at reference
// value) and from JOGMEC under PLEDGE (USD 100 M, 100 % collateral in lithium).
// 10 lots of cobalt at 0 bp owe 10,000 kg = USD 330,000: 36,667 kg of lithium at 100 %.
constexpr Amount kTenLotsPledge = 36'667;

class TermOrderTypesTest : public testing::TermBookTest {
 protected:
  // kSell = lend, kBuy = borrow.
  std::vector<Event> Term(AgencyId a, Side side, Lots lots, std::int64_t bps,
                          TimeInForce tif = TimeInForce::kGtc, Lots min_fill = 0,
                          TimeNs expiry = 0) {
    return TermBookTest::Term(a, kCo30, side, lots, bps, tif, min_fill, expiry);
  }
};

constexpr TimeNs kT0 = testing::kTermBookT0;

// ------------------------------------------------------------------ FOK and minimum fill

TEST_F(TermOrderTypesTest, AFokBorrowLendsWholeOrIsCancelledWholeWithNoLoan) {
  Term(kKomir, Side::kSell, 6, 100);  // offer 1
  Term(kDla, Side::kSell, 3, 120);    // offer 2
  std::vector<Event> ev = Term(kJogmec, Side::kBuy, 10, 150, TimeInForce::kFok);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kTermAccepted);
  EXPECT_EQ(ev[0].accepted.tif, TimeInForce::kFok);
  ASSERT_EQ(ev[1].type, EventType::kTermCancelled);
  EXPECT_EQ(ev[1].cancelled.reason, CancelReason::kFokUnfilled);
  EXPECT_EQ(ev[1].cancelled.lots, 10);
  EXPECT_EQ(Offer(1).open_lots, 6);  // the makers are untouched
  EXPECT_EQ(Offer(2).open_lots, 3);
  EXPECT_FALSE(engine_.GetObligation(1).has_value());
  // 9 lots fill a FOK of 9, across both makers, at their premiums.
  ev = Term(kJogmec, Side::kBuy, 9, 150, TimeInForce::kFok);
  std::vector<Event> loans = EventsOf(ev, EventType::kLoanFill);
  ASSERT_EQ(loans.size(), 2u);
  EXPECT_EQ(loans[0].loan_fill.premium_bps, 100);
  EXPECT_EQ(loans[1].loan_fill.premium_bps, 120);
  EXPECT_EQ(Offer(4).status, OfferStatus::kFilled);
  EXPECT_TRUE(EventsOf(ev, EventType::kTermCancelled).empty());
}

TEST_F(TermOrderTypesTest, AnUnfilledFokLendGetsItsWholeReservationBack) {
  Term(kJogmec, Side::kBuy, 4, 100);
  std::vector<Event> ev = Term(kKomir, Side::kSell, 5, 100, TimeInForce::kFok);
  ASSERT_EQ(EventsOf(ev, EventType::kTermCancelled).size(), 1u);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
  EXPECT_EQ(H(kKomir, kCo).available, 1'000'000);
}

TEST_F(TermOrderTypesTest, AFokLendDoesNotCountABorrowerItsCreditWouldNotLetBorrowMore) {
  // DERA's two borrows fit its credit one at a time, not together: the walk that
  // decides the FOK charges the first loan's credit before it looks at the second.
  Term(kDera, Side::kBuy, 8, 0);  // offer 1
  Term(kDera, Side::kBuy, 8, 0);  // offer 2
  std::vector<Event> ev = Term(kKomir, Side::kSell, 16, 0, TimeInForce::kFok);
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  std::vector<Event> cancels = EventsOf(ev, EventType::kTermCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kFokUnfilled);
  EXPECT_EQ(engine_.CreditUsed(kNorec, kDera), 0);  // nothing of the check's walk stays
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
  // What DERA's credit allows does fill a FOK.
  EXPECT_EQ(EventsOf(Term(kKomir, Side::kSell, 8, 0, TimeInForce::kFok), EventType::kLoanFill)
                .size(),
            1u);
}

TEST_F(TermOrderTypesTest, AMinimumFillCountsOnlyMakersWithinCreditThenTheRestRests) {
  Term(kDera, Side::kBuy, 8, 0);
  Term(kDera, Side::kBuy, 8, 0);
  // 16 lots cross, but DERA may owe only 10: one loan of 8 is all that can be made.
  std::vector<Event> ev = Term(kKomir, Side::kSell, 16, 0, TimeInForce::kGtc, 9);
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  std::vector<Event> cancels = EventsOf(ev, EventType::kTermCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kMinFillUnmet);
  EXPECT_EQ(cancels[0].cancelled.lots, 16);
  // A minimum of 8 is met: the loan is made, the rest rests (the minimum applies to the
  // immediate execution only) behind the skipped borrow, which keeps its place.
  ev = Term(kKomir, Side::kSell, 16, 0, TimeInForce::kGtc, 8);
  ASSERT_EQ(EventsOf(ev, EventType::kLoanFill).size(), 1u);
  EXPECT_TRUE(EventsOf(ev, EventType::kTermCancelled).empty());
  EXPECT_EQ(Offer(4).status, OfferStatus::kOpen);
  EXPECT_EQ(Offer(4).open_lots, 8);
  EXPECT_EQ(Offer(4).min_fill, 8);
  EXPECT_EQ(Offer(2).open_lots, 8);
  EXPECT_EQ(H(kKomir, kCo).reserved, 8'000);
}

TEST_F(TermOrderTypesTest, AFokLendDoesNotCountABorrowerWhoseCollateralAnEarlierLoanTook) {
  // DERA borrows from JOGMEC only under PLEDGE (100 % in lithium). It holds lithium for
  // one 10-lot loan, not two.
  Set(kDera, kLi, kTenLotsPledge + 10'000);
  Term(kDera, Side::kBuy, 10, 0);  // offer 1 (NOREC has room: accepted without a pledge)
  Term(kDera, Side::kBuy, 10, 0);  // offer 2
  std::vector<Event> ev = Term(kJogmec, Side::kSell, 20, 0, TimeInForce::kFok);
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  ASSERT_EQ(EventsOf(ev, EventType::kTermCancelled).size(), 1u);
  EXPECT_EQ(EventsOf(ev, EventType::kTermCancelled)[0].cancelled.reason,
            CancelReason::kFokUnfilled);
  EXPECT_EQ(H(kDera, kLi).available, kTenLotsPledge + 10'000);  // nothing stays pledged
  EXPECT_EQ(H(kDera, kLi).reserved, 0);
  // A FOK of 10 fills, pledging.
  ev = Term(kJogmec, Side::kSell, 10, 0, TimeInForce::kFok);
  ASSERT_EQ(EventsOf(ev, EventType::kLoanFill).size(), 1u);
  ASSERT_EQ(EventsOf(ev, EventType::kCollateral).size(), 1u);
  EXPECT_EQ(H(kDera, kLi).reserved, kTenLotsPledge);
}

TEST_F(TermOrderTypesTest, AFokCountsNothingBeyondItsOwnRestingOffer) {
  Term(kJogmec, Side::kSell, 5, 0);  // offer 1
  Term(kKomir, Side::kSell, 5, 0);   // offer 2: KOMIR's own
  Term(kDla, Side::kSell, 5, 0);     // offer 3: behind it, never reached
  std::vector<Event> ev = Term(kKomir, Side::kBuy, 10, 0, TimeInForce::kFok);
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  ASSERT_EQ(EventsOf(ev, EventType::kTermCancelled).size(), 1u);
  EXPECT_EQ(EventsOf(ev, EventType::kTermCancelled)[0].cancelled.reason,
            CancelReason::kFokUnfilled);
  // A minimum of 5 is met by offer 1; then the self-match cancels the remainder.
  ev = Term(kKomir, Side::kBuy, 10, 0, TimeInForce::kGtc, 5);
  ASSERT_EQ(EventsOf(ev, EventType::kLoanFill).size(), 1u);
  ASSERT_EQ(EventsOf(ev, EventType::kTermCancelled).size(), 1u);
  EXPECT_EQ(EventsOf(ev, EventType::kTermCancelled)[0].cancelled.reason,
            CancelReason::kSelfMatch);
  EXPECT_EQ(Offer(3).open_lots, 5);
}

TEST_F(TermOrderTypesTest, AMinimumFillAboveTheLotsIsRejected) {
  EXPECT_EQ(FirstReject(Term(kKomir, Side::kSell, 5, 0, TimeInForce::kGtc, 6)),
            RejectReason::kInvalidMinFill);
  EXPECT_EQ(FirstReject(Term(kKomir, Side::kSell, 5, 0, TimeInForce::kGtc, -1)),
            RejectReason::kInvalidMinFill);
  EXPECT_EQ(FirstReject(Term(kKomir, Side::kSell, 5, 0, static_cast<TimeInForce>(5))),
            RejectReason::kInvalidTimeInForce);
  // The premium is checked before the minimum fill, as a pair book checks the price first.
  EXPECT_EQ(FirstReject(Term(kKomir, Side::kSell, 5, 10'001, TimeInForce::kGtc, 6)),
            RejectReason::kInvalidPrice);
  EXPECT_EQ(FirstReject(Term(kKomir, Side::kSell, 5, 0, TimeInForce::kGtc, 5)),
            RejectReason::kNone);
}

// ------------------------------------------------------------------ replace

TEST_F(TermOrderTypesTest, AReplaceToFewerLotsAtTheSamePremiumKeepsPriority) {
  Term(kKomir, Side::kSell, 10, 100);  // offer 1
  Term(kDla, Side::kSell, 10, 100);    // offer 2
  std::vector<Event> ev = Replace(kKomir, 1, 6, 100);
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].type, EventType::kTermReplaced);
  EXPECT_EQ(ev[0].replaced.lots, 6);
  EXPECT_EQ(ev[0].replaced.price, 100);
  EXPECT_TRUE(ev[0].replaced.kept_priority);
  EXPECT_EQ(H(kKomir, kCo).reserved, 6'000);  // 4 lots' reservation released
  EXPECT_EQ(Offer(1).original_lots, 10);      // as submitted
  ev = Term(kJogmec, Side::kBuy, 6, 100);
  ASSERT_EQ(EventsOf(ev, EventType::kLoanFill).size(), 1u);
  EXPECT_EQ(EventsOf(ev, EventType::kLoanFill)[0].loan_fill.maker_offer, 1u);
}

TEST_F(TermOrderTypesTest, AReplaceToMoreLotsOrAnotherPremiumLosesPriority) {
  Term(kKomir, Side::kSell, 10, 100);  // offer 1
  Term(kDla, Side::kSell, 10, 100);    // offer 2
  std::vector<Event> ev = Replace(kKomir, 1, 12, 100);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].replaced.kept_priority);
  EXPECT_EQ(H(kKomir, kCo).reserved, 12'000);
  ev = Term(kJogmec, Side::kBuy, 10, 100);
  EXPECT_EQ(EventsOf(ev, EventType::kLoanFill)[0].loan_fill.maker_offer, 2u);
  // A new premium moves it to that level, at the back.
  Term(kDla, Side::kSell, 5, 90);  // offer 4
  ev = Replace(kKomir, 1, 12, 90);
  EXPECT_FALSE(ev[0].replaced.kept_priority);
  ev = Term(kJogmec, Side::kBuy, 5, 100);
  EXPECT_EQ(EventsOf(ev, EventType::kLoanFill)[0].loan_fill.maker_offer, 4u);
}

TEST_F(TermOrderTypesTest, AReplaceCountsTheLotsAlreadyLent) {
  Term(kKomir, Side::kSell, 10, 100);
  Term(kJogmec, Side::kBuy, 6, 100);  // 6 lent, 4 open
  // "Replace to 8" means 8 in all: 2 open, never 8 more.
  std::vector<Event> ev = Replace(kKomir, 1, 8, 100);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].replaced.lots, 2);
  EXPECT_TRUE(ev[0].replaced.kept_priority);
  EXPECT_EQ(Offer(1).open_lots, 2);
  EXPECT_EQ(Offer(1).filled_lots, 6);
  EXPECT_EQ(H(kKomir, kCo).reserved, 2'000);
}

TEST_F(TermOrderTypesTest, AReplaceAtOrBelowTheLentLotsCancelsTheRest) {
  Term(kKomir, Side::kSell, 10, 100);
  Term(kJogmec, Side::kBuy, 6, 100);
  std::vector<Event> ev = Replace(kKomir, 1, 6, 100);
  ASSERT_EQ(ev.size(), 1u);
  ASSERT_EQ(ev[0].type, EventType::kTermCancelled);
  EXPECT_EQ(ev[0].cancelled.reason, CancelReason::kReplaceBelowFilled);
  EXPECT_EQ(ev[0].cancelled.lots, 4);
  EXPECT_EQ(Offer(1).status, OfferStatus::kCancelled);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
}

TEST_F(TermOrderTypesTest, AReplacedOfferThatNowCrossesLendsAsTheTakerAtTheMakersPremium) {
  Term(kJogmec, Side::kBuy, 10, 50);   // offer 1
  Term(kKomir, Side::kSell, 10, 100);  // offer 2: does not cross
  std::vector<Event> ev = Replace(kKomir, 2, 10, 40);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kTermReplaced);
  EXPECT_FALSE(ev[0].replaced.kept_priority);
  ASSERT_EQ(ev[1].type, EventType::kLoanFill);
  EXPECT_EQ(ev[1].loan_fill.maker_offer, 1u);
  EXPECT_EQ(ev[1].loan_fill.taker_offer, 2u);
  EXPECT_EQ(ev[1].loan_fill.premium_bps, 50);
  EXPECT_EQ(ev[1].loan_fill.aggressor_side, Side::kSell);
  EXPECT_EQ(Offer(2).status, OfferStatus::kFilled);
}

TEST_F(TermOrderTypesTest, AReplacedOfferMeetingItsOwnAgencyCancelsItsRemainder) {
  Term(kKomir, Side::kBuy, 5, 50);    // offer 1: KOMIR's own borrow
  Term(kKomir, Side::kSell, 5, 100);  // offer 2
  std::vector<Event> ev = Replace(kKomir, 2, 5, 50);
  ASSERT_EQ(ev.size(), 2u);
  ASSERT_EQ(ev[1].type, EventType::kTermCancelled);
  EXPECT_EQ(ev[1].cancelled.reason, CancelReason::kSelfMatch);
  EXPECT_EQ(Offer(1).open_lots, 5);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
}

TEST_F(TermOrderTypesTest, AReplaceIsRejectedWithTheReasonASubmitWouldGet) {
  Term(kKomir, Side::kSell, 10, 100);  // offer 1
  Term(kDera, Side::kBuy, 5, 0);      // offer 2
  EXPECT_EQ(FirstReject(Replace(kDla, 1, 5, 100)), RejectReason::kUnknownOffer);  // not its own
  EXPECT_EQ(FirstReject(Replace(kKomir, 9, 5, 100)), RejectReason::kUnknownOffer);
  EXPECT_EQ(FirstReject(Replace(9, 1, 5, 100)), RejectReason::kUnknownAgency);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 0, 100)), RejectReason::kInvalidLots);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 1001, 100)), RejectReason::kLotsAboveMax);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 5, 10'001)), RejectReason::kInvalidPrice);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 5, -1)), RejectReason::kInvalidPrice);
  // A lend may not reserve more than is available...
  Set(kKomir, kCo, 15'000);  // 10,000 reserved, 5,000 available
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 16, 100)), RejectReason::kInsufficientHoldings);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 15, 100)), RejectReason::kNone);
  EXPECT_EQ(H(kKomir, kCo).reserved, 15'000);
  // ...and a borrow may not ask beyond the borrower's credit (NOREC: 10 lots) or, under an
  // agreement with room, beyond the collateral it holds (PLEDGE: DERA has no lithium).
  Set(kDera, kLi, 0);
  EXPECT_EQ(FirstReject(Replace(kDera, 2, 11, 0)), RejectReason::kInsufficientCollateral);
  EXPECT_EQ(FirstReject(Replace(kDera, 2, 10, 1)), RejectReason::kInsufficientCollateral);
  EXPECT_EQ(FirstReject(Replace(kDera, 2, 10, 0)), RejectReason::kNone);
  // A rejected replace changes nothing.
  EXPECT_EQ(Offer(2).open_lots, 10);
  // A finished offer cannot be replaced.
  Command c{};
  c.type = CommandType::kCancelTermOffer;
  c.cancel = {kKomir, 1};
  Run(c);
  EXPECT_EQ(FirstReject(Replace(kKomir, 1, 5, 100)), RejectReason::kUnknownOffer);
}

TEST_F(TermOrderTypesTest, AReplacedGtdOfferKeepsItsExpiryAndExpiresOnce) {
  Term(kKomir, Side::kSell, 10, 100, TimeInForce::kGtd, 0, kT0 + 100);
  Replace(kKomir, 1, 12, 90);  // loses priority: relinked, the expiry unchanged
  Replace(kKomir, 1, 14, 80);
  EXPECT_EQ(Offer(1).expiry, kT0 + 100);
  std::vector<Event> ev = Advance(kT0 + 100);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kTermExpired);
  EXPECT_EQ(ev[0].expired.lots, 14);
  EXPECT_EQ(H(kKomir, kCo).reserved, 0);
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
}

// ------------------------------------------------------------------ snapshots

TEST_F(TermOrderTypesTest, ASnapshotWithAFokOrMinimumFillIsVersionSevenAndReplaysIdentically) {
  Term(kKomir, Side::kSell, 10, 100);
  Replace(kKomir, 1, 12, 90);
  // Replace alone needs no new layout.
  EXPECT_LT(SnapshotVersion(engine_.SaveState()), 7u);
  Term(kJogmec, Side::kBuy, 20, 100, TimeInForce::kFok);  // cancelled, stays queryable
  Term(kDla, Side::kBuy, 20, 100, TimeInForce::kGtc, 3);  // fills 12, rests 8
  const std::string state = engine_.SaveState();
  EXPECT_EQ(SnapshotVersion(state), 7u);
  Engine copy(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  ASSERT_TRUE(copy.LoadState(state).ok()) << copy.LoadState(state);
  EXPECT_EQ(copy.SaveState(), state);
  EXPECT_EQ(copy.GetTermOffer(2)->tif, TimeInForce::kFok);
  EXPECT_EQ(copy.GetTermOffer(3)->min_fill, 3);
  // Both engines go on identically.
  for (Engine* e : {&engine_, &copy}) {
    Command c{};
    c.seq = seq_ + 1;
    c.time = now_;
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{kKomir, kCo30, Side::kSell, TimeInForce::kFok, 8, 100, 0, 0, 0, 0, 0};
    std::vector<Event> ev;
    e->Apply(c, &ev);
  }
  EXPECT_EQ(copy.SaveState(), engine_.SaveState());
}

TEST_F(TermOrderTypesTest, ASnapshotWithAFokOfferStillOpenIsDataLoss) {
  Term(kJogmec, Side::kBuy, 20, 100, TimeInForce::kFok);  // term offer 1, cancelled
  std::string state = engine_.SaveState();
  // The time-swap section is last: offer count, then offer 1's 16 fields; its status
  // (field 5) is at 8 + 4 * 8 bytes from the section's start. Find the section by its
  // size from the end: offers (8 + 16 * 8), books (2 * 8 each), obligations (8).
  const std::size_t books = ref_.term_books().size();
  const std::size_t section = state.size() - (8 + 16 * 8 + books * 2 * 8 + 8);
  const std::size_t status_at = section + 8 + 4 * 8;
  ASSERT_EQ(state[status_at], static_cast<char>(OfferStatus::kCancelled));
  state[status_at] = static_cast<char>(OfferStatus::kOpen);
  Engine copy(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  const absl::Status st = copy.LoadState(state);
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("invalid term offer 1"), std::string::npos) << st;
}

}  // namespace
}  // namespace msx
