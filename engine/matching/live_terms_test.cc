// Term books on live reference data: ENGINE.md "Time swaps", "Live reference data". Once
// a kFollowLiveReference is applied, AdmitMember / SuspendMember and PublishReference reach
// the term books; before it (every journal of format version 9 and older) they do not, and
// the tests named ...WithoutTheSwitch pin that old behaviour.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/matching/engine.h"
#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::AdmitMember;
using ::msx::testing::EventsOf;
using ::msx::testing::FirstReject;
using ::msx::testing::FollowLiveReference;
using ::msx::testing::kCo;
using ::msx::testing::kCo30;
using ::msx::testing::kCo90;
using ::msx::testing::kCore;
using ::msx::testing::kCoValue;
using ::msx::testing::kDera;
using ::msx::testing::kJogmec;
using ::msx::testing::kKabil;
using ::msx::testing::kKomir;
using ::msx::testing::kLi;
using ::msx::testing::kLiValue;
using ::msx::testing::kNi;
using ::msx::testing::kNi90;
using ::msx::testing::kNorec;
using ::msx::testing::kNorecLimit;
using ::msx::testing::kPledge;
using ::msx::testing::kSecured;
using ::msx::testing::PublishReference;
using ::msx::testing::SuspendMember;

AgencyMask Bit(AgencyId a) { return AgencyMask{1} << a; }

// The universe of engine/testing/term_book_fixture.h: KABIL shares no agreement covering
// cobalt with JOGMEC; KOMIR lends cobalt under CORE (with JOGMEC, DLA) and NOREC (with
// KABIL, DERA); the only agreement covering the pair CO/LI is CORE.
class LiveTermsTest : public testing::TermBookTest {
 protected:
  void Follow() {
    const std::vector<Event> ev = Run(FollowLiveReference());
    EXPECT_TRUE(ev.empty());
    EXPECT_TRUE(engine_.TermsFollowLive());
  }
  // A pair-book sell of cobalt for lithium at the reference price.
  std::vector<Event> SellCo(AgencyId a, Lots lots) {
    return Run(testing::Submit(a, 0, Side::kSell, lots, ref_.pairs()[0].reference_price, 0));
  }
  // A term offer that accepts only `allow`.
  std::vector<Event> TermAllowing(AgencyId a, TermBookId book, Side side, Lots lots,
                                  std::int64_t bps, AgencyMask allow) {
    Command c = testing::TermOffer(a, book, side, lots, bps);
    c.submit.allow = allow;
    return Run(c);
  }

  // KABIL (not a CORE member) tries to borrow from JOGMEC, is admitted to CORE, tries
  // again; returns the second borrow's events.
  std::vector<Event> BorrowAcrossAnAdmission() {
    Term(kJogmec, kCo90, Side::kSell, 10, 0);  // term offer 1
    EXPECT_TRUE(EventsOf(Term(kKabil, kCo90, Side::kBuy, 5, 200), EventType::kLoanFill).empty());
    EXPECT_EQ(Run(CancelTermOfferCmd(kKabil, 2)).size(), 1u);
    const std::vector<Event> admitted = Run(AdmitMember(kCore, kKabil));
    EXPECT_EQ(admitted.size(), 1u);
    EXPECT_EQ(admitted[0].type, EventType::kMemberAdmitted);
    return Term(kKabil, kCo90, Side::kBuy, 5, 200);  // term offer 3
  }
  static Command CancelTermOfferCmd(AgencyId a, OfferId id) {
    return testing::CancelTermOffer(a, id);
  }

  // KOMIR's offers of every kind, then its suspension from CORE; returns its events.
  // Pair offer 1: a CO/LI sell (only CORE covers the pair). Term offers: 1 a cobalt lend
  // open to all (NOREC still lets it trade with KABIL and DERA); 2 a cobalt lend that
  // denies KABIL and DERA; 3 a nickel lend (CORE does not cover nickel); 4 a cobalt borrow
  // that accepts only JOGMEC; 5 JOGMEC's own cobalt lend.
  std::vector<Event> SuspendKomirFromCore() {
    EXPECT_EQ(testing::FirstAccepted(SellCo(kKomir, 3)), 1u);
    Term(kKomir, kCo90, Side::kSell, 10, 100);
    Term(kKomir, kCo90, Side::kSell, 20, 100, TimeInForce::kGtc, 0, 0, Bit(kKabil) | Bit(kDera));
    Term(kKomir, kNi90, Side::kSell, 10, 100);
    TermAllowing(kKomir, kCo30, Side::kBuy, 7, 50, Bit(kJogmec));
    Term(kJogmec, kCo90, Side::kSell, 10, 300);
    for (OfferId id = 1; id <= 5; ++id) EXPECT_EQ(Offer(id).status, OfferStatus::kOpen) << id;
    EXPECT_EQ(H(kKomir, kCo).reserved, 3 * 1000 + 30 * 1000);
    return Run(SuspendMember(kCore, kKomir));
  }

  // KABIL borrows 5 lots of cobalt from KOMIR under NOREC (its limit: 10 lots at the
  // configured value), then cobalt's reference value doubles.
  void BorrowThenDoubleCobalt() {
    Term(kKomir, kCo90, Side::kSell, 20, 0);
    ASSERT_EQ(EventsOf(Term(kKabil, kCo90, Side::kBuy, 5, 0), EventType::kLoanFill).size(), 1u);
    EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 5'000 * kCoValue);
    EXPECT_EQ(FirstReject(Run(PublishReference(kCo, 2 * kCoValue, 0))), RejectReason::kNone);
  }
};

TEST_F(LiveTermsTest, AnAdmittedAgencysBorrowMatchesALendItCouldNotBefore) {
  Follow();
  const std::vector<Event> fills = EventsOf(BorrowAcrossAnAdmission(), EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.lender, kJogmec);
  EXPECT_EQ(fills[0].loan_fill.borrower, kKabil);
  // Under CORE, with the limit CORE gives a member not listed (KABIL was not one).
  EXPECT_EQ(fills[0].loan_fill.agreement, kCore);
  EXPECT_EQ(engine_.CreditUsed(kCore, kKabil), 5'000 * kCoValue);
  EXPECT_EQ(H(kKabil, kCo).available, 1'005'000);
}

TEST_F(LiveTermsTest, AnAdmissionReachesNoTermBookWithoutTheSwitch) {
  const std::vector<Event> ev = BorrowAcrossAnAdmission();
  EXPECT_TRUE(EventsOf(ev, EventType::kLoanFill).empty());
  EXPECT_EQ(Offer(3).status, OfferStatus::kOpen);  // rests: JOGMEC is still no partner
  EXPECT_EQ(engine_.CreditUsed(kCore, kKabil), 0);
}

TEST_F(LiveTermsTest, ASuspensionCancelsTheTermOffersThatReliedOnTheAgreementInIdOrder) {
  Follow();
  const std::vector<Event> ev = SuspendKomirFromCore();
  // The suspension, the pair-book cancel, then the term cancels in term offer id order,
  // then the pair book's market data.
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].type, EventType::kMemberSuspended);
  EXPECT_EQ(ev[1].type, EventType::kCancelled);
  EXPECT_EQ(ev[1].cancelled.offer, 1u);
  EXPECT_EQ(ev[1].cancelled.reason, CancelReason::kMemberSuspended);
  for (int k : {2, 3}) {
    EXPECT_EQ(ev[k].type, EventType::kTermCancelled) << k;
    EXPECT_EQ(ev[k].cancelled.agency, kKomir) << k;
    EXPECT_EQ(ev[k].cancelled.reason, CancelReason::kMemberSuspended) << k;
  }
  EXPECT_EQ(ev[2].cancelled.offer, 2u);
  EXPECT_EQ(ev[2].cancelled.lots, 20);
  EXPECT_EQ(ev[3].cancelled.offer, 4u);
  EXPECT_EQ(ev[3].cancelled.lots, 7);
  EXPECT_EQ(ev[4].type, EventType::kBookLevel);
  // Still open: the lend NOREC lets trade, the nickel lend, JOGMEC's lend.
  for (OfferId id : {1u, 3u, 5u}) EXPECT_EQ(Offer(id).status, OfferStatus::kOpen) << id;
  EXPECT_EQ(Offer(2).status, OfferStatus::kCancelled);
  EXPECT_EQ(Offer(4).status, OfferStatus::kCancelled);
  // The cancelled lend's reservation is released (10 lots of the other lend stay).
  EXPECT_EQ(H(kKomir, kCo).reserved, 10'000);
  // JOGMEC's borrow no longer meets KOMIR's lend; DLA's does not either.
  const std::vector<Event> fills =
      EventsOf(Term(kJogmec, kCo90, Side::kBuy, 10, 200), EventType::kLoanFill);
  EXPECT_TRUE(fills.empty());
}

TEST_F(LiveTermsTest, ASuspensionCancelsNoTermOfferWithoutTheSwitch) {
  const std::vector<Event> ev = SuspendKomirFromCore();
  ASSERT_EQ(ev.size(), 3u);  // the suspension, the pair-book cancel, its market data
  EXPECT_EQ(ev[0].type, EventType::kMemberSuspended);
  EXPECT_EQ(ev[1].type, EventType::kCancelled);
  EXPECT_EQ(ev[2].type, EventType::kBookLevel);
  for (OfferId id = 1; id <= 5; ++id) EXPECT_EQ(Offer(id).status, OfferStatus::kOpen) << id;
  // Term books keep the configured membership: JOGMEC still borrows from KOMIR.
  const std::vector<Event> fills =
      EventsOf(Term(kJogmec, kCo90, Side::kBuy, 10, 200), EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.lender, kKomir);
}

TEST_F(LiveTermsTest, ANewReferenceValueRevaluesCreditUsed) {
  Follow();
  BorrowThenDoubleCobalt();
  // 5 tonnes now count at the doubled value: KABIL's whole NOREC limit.
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 5'000 * 2 * kCoValue);
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), kNorecLimit);
  // One more lot fitted before the publication; now it is beyond the limit.
  EXPECT_EQ(FirstReject(Term(kKabil, kCo90, Side::kBuy, 1, 0)), RejectReason::kCreditLimitExceeded);
  // Halved below the configured value, room for 15 more lots: 20 lots at half the value.
  EXPECT_EQ(FirstReject(Run(PublishReference(kCo, kCoValue / 2, 0))), RejectReason::kNone);
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 5'000 * (kCoValue / 2));
  const std::vector<Event> fills =
      EventsOf(Term(kKabil, kCo90, Side::kBuy, 15, 0), EventType::kLoanFill);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].loan_fill.lots, 15);
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 20'000 * (kCoValue / 2));
  // Paying back frees the live value of what is paid.
  Run(testing::ReturnObligation(kKabil, 1, 1'000));
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 19'000 * (kCoValue / 2));
}

TEST_F(LiveTermsTest, ANewReferenceValueLeavesCreditUsedAloneWithoutTheSwitch) {
  BorrowThenDoubleCobalt();
  EXPECT_EQ(engine_.CreditUsed(kNorec, kKabil), 5'000 * kCoValue);
  EXPECT_EQ(FirstReject(Term(kKabil, kCo90, Side::kBuy, 1, 0)), RejectReason::kNone);
}

TEST_F(LiveTermsTest, PledgesAreTakenAtTheLiveValues) {
  // DERA borrows cobalt from JOGMEC under PLEDGE: 100 % of the amount due, in lithium.
  Follow();
  Term(kJogmec, kCo90, Side::kSell, 10, 0);
  Term(kDera, kCo90, Side::kBuy, 1, 0);
  const ObligationInfo first = Ob(1);
  EXPECT_EQ(first.agreement, kPledge);
  EXPECT_EQ(first.collateral_instrument, kLi);
  EXPECT_EQ(first.collateral_amount, (1'000 * kCoValue + kLiValue - 1) / kLiValue);  // 3,667
  // Lithium's value doubles: the next loan pledges half as many units; the first keeps its.
  EXPECT_EQ(FirstReject(Run(PublishReference(kLi, 2 * kLiValue, 0))), RejectReason::kNone);
  Term(kDera, kCo90, Side::kBuy, 1, 0);
  EXPECT_EQ(Ob(2).collateral_amount, (1'000 * kCoValue + 2 * kLiValue - 1) / (2 * kLiValue));
  EXPECT_EQ(Ob(1).collateral_amount, first.collateral_amount);
}

TEST_F(LiveTermsTest, AValueThatWouldOverflowCreditUsedIsRejected) {
  // A nickel loan (no pair book prices nickel, so any value prices every pair).
  Follow();
  Term(kKomir, kNi90, Side::kSell, 10, 0);
  ASSERT_EQ(EventsOf(Term(kJogmec, kNi90, Side::kBuy, 10, 0), EventType::kLoanFill).size(), 1u);
  const MicroUsd used = engine_.CreditUsed(kSecured, kJogmec);
  const MicroUsd huge = INT64_MAX / 1'000;  // x 10,000 kg outstanding overflows
  EXPECT_EQ(FirstReject(Run(PublishReference(kNi, huge, 0))), RejectReason::kOverflow);
  EXPECT_EQ(engine_.GetInstrumentState(kNi).reference_value, testing::kNiValue);
  EXPECT_EQ(engine_.CreditUsed(kSecured, kJogmec), used);
  // A publication waiting for its time is checked again when it comes: 10 tonnes fit at
  // this value, the 21 tonnes owed by then do not, so it is dropped.
  const MicroUsd high = INT64_MAX / 20'000;
  EXPECT_EQ(FirstReject(Run(PublishReference(kNi, high, 0, now_ + 10))), RejectReason::kNone);
  Term(kKomir, kNi90, Side::kSell, 11, 0);
  ASSERT_EQ(EventsOf(Term(kJogmec, kNi90, Side::kBuy, 11, 0), EventType::kLoanFill).size(), 1u);
  const std::vector<Event> ev = Advance(now_ + 10);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rejected.command, CommandType::kPublishReference);
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kOverflow);
  EXPECT_EQ(engine_.GetInstrumentState(kNi).reference_value, testing::kNiValue);
}

TEST_F(LiveTermsTest, AValueThatWouldOverflowCreditUsedIsAcceptedWithoutTheSwitch) {
  Term(kKomir, kNi90, Side::kSell, 10, 0);
  Term(kJogmec, kNi90, Side::kBuy, 10, 0);
  EXPECT_EQ(FirstReject(Run(PublishReference(kNi, INT64_MAX / 1'000, 0))), RejectReason::kNone);
}

TEST_F(LiveTermsTest, TheSwitchIsOneWayAndAgainChangesNothing) {
  Follow();
  const std::string before = engine_.SaveState();
  EXPECT_TRUE(Run(FollowLiveReference()).empty());
  // Only last_seq and last_time moved.
  Engine other(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  ASSERT_TRUE(other.LoadState(before).ok());
  EXPECT_TRUE(other.TermsFollowLive());
}

TEST_F(LiveTermsTest, ASnapshotKeepsTheSwitchAndTheLiveCreditUsed) {
  EXPECT_LE(SnapshotVersion(engine_.SaveState()), 9u);  // never switched: as before
  Follow();
  BorrowThenDoubleCobalt();
  Run(AdmitMember(kCore, kKabil));
  const std::string state = engine_.SaveState();
  EXPECT_EQ(SnapshotVersion(state), 10u);
  Engine restored(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  ASSERT_TRUE(restored.LoadState(state).ok());
  EXPECT_TRUE(restored.TermsFollowLive());
  EXPECT_EQ(restored.SaveState(), state);
  EXPECT_EQ(restored.CreditUsed(kNorec, kKabil), kNorecLimit);
  // The same next commands give the same events.
  for (const Command& c : {testing::TermOffer(kKabil, kCo90, Side::kBuy, 1, 0),
                           testing::TermOffer(kJogmec, kCo90, Side::kSell, 4, 0),
                           SuspendMember(kCore, kKabil)}) {
    Command stamped = c;
    stamped.seq = ++seq_;
    stamped.time = now_;
    std::vector<Event> a, b;
    engine_.Apply(stamped, &a);
    restored.Apply(stamped, &b);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(std::memcmp(&a[k], &b[k], sizeof(Event)), 0) << k;
    }
  }
  EXPECT_EQ(restored.SaveState(), engine_.SaveState());
  // A version 10 image whose flag is not 1 is not a state the engine writes.
  std::string bad = state;
  std::size_t flag = 8 + 4 + 72 + ref_.pairs().size() + 42 * ref_.instruments().size() + 8 +
                     8 * ref_.agreements().size();
  ASSERT_EQ(bad[flag], 1);
  bad[flag] = 2;
  Engine refused(ref_, EngineOptions{.expected_offers = kExpectedOffers});
  const absl::Status st = refused.LoadState(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("terms_live"), std::string::npos) << st;
}

}  // namespace
}  // namespace msx
