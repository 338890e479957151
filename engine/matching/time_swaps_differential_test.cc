// Time swaps, differentially: the engine and the naive matcher (engine/testing/
// naive_matcher.h, whose term books and obligation ledger are plain vectors scanned in
// full, naive_term_books.cc) run the same random streams of term offers, cancels, returns,
// recalls and day-long jumps of time, interleaved with pair-book traffic that moves
// holdings (engine/testing/term_commands.h), and must agree on every event byte for byte,
// on every holding, on every obligation and on the credit each borrower uses. One of the
// universe's agreements asks for collateral (TermUniverse's SECURED), so pledges, the
// skips and rejects for want of one, releases and forfeits after the grace period are
// compared event for event too.
// Conservation is checked after every command: per instrument, the sum over agencies of
// available + reserved is the start plus what SetHoldings changed (loans, returns,
// settlements, collections and forfeits only move units); per obligation, returned +
// covered + outstanding = due, and returned is the sum of the amounts its events moved.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/matching/engine.h"
#include "engine/testing/naive_matcher.h"
#include "engine/testing/term_commands.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::NaiveMatcher;
using ::msx::testing::TermCommands;
using ::msx::testing::TermUniverse;

std::string Describe(const std::vector<Event>& ev) {
  std::string s;
  for (const Event& e : ev) {
    absl::StrAppend(&s, int(e.type));
    switch (e.type) {
      case EventType::kRejected:
        absl::StrAppend(&s, "(reject ", int(e.rejected.reason), ")");
        break;
      case EventType::kLoanFill:
        absl::StrAppend(&s, "(loan ", e.loan_fill.obligation, " ag", e.loan_fill.agreement, " ",
                        e.loan_fill.maker_offer, "x", e.loan_fill.taker_offer, " ",
                        e.loan_fill.lots, "@", e.loan_fill.premium_bps, " due ",
                        e.loan_fill.due_amount, ")");
        break;
      case EventType::kObligation:
        absl::StrAppend(&s, "(ob ", e.obligation.obligation, " kind ", int(e.obligation.kind),
                        " state ", int(e.obligation.state), " amount ", e.obligation.amount,
                        " out ", e.obligation.outstanding, " due@", e.obligation.due_time, ")");
        break;
      case EventType::kCollateral:
        absl::StrAppend(&s, "(coll ", e.collateral.obligation, " kind ", int(e.collateral.kind),
                        " state ", int(e.collateral.state), " inst ", e.collateral.instrument,
                        " amount ", e.collateral.amount, " covered ", e.collateral.covered,
                        " out ", e.collateral.outstanding, ")");
        break;
      case EventType::kTermCancelled:
      case EventType::kCancelled:
        absl::StrAppend(&s, "(", e.cancelled.offer, " r", int(e.cancelled.reason), " ",
                        e.cancelled.lots, ")");
        break;
      case EventType::kFill:
        absl::StrAppend(&s, "(", e.fill.maker_offer, "x", e.fill.taker_offer, " ", e.fill.lots, "@",
                        e.fill.price, ")");
        break;
      default:
        break;
    }
    absl::StrAppend(&s, " ");
  }
  return s;
}

// Counts over all runs, to show the streams exercise every rule.
std::map<EventType, long> g_events;
std::map<ObligationEventKind, long> g_kinds;
std::map<CollateralEventKind, long> g_collateral;
std::map<std::pair<CommandType, RejectReason>, long> g_rejects;
std::map<CancelReason, long> g_term_cancels;
long g_credit_skips = 0, g_rounded = 0, g_partial_returns = 0, g_overdue_returns = 0,
     g_recalls_earlier = 0, g_pair_fills_to_overdue = 0, g_unmet_by_credit = 0,
     g_kept_priority = 0, g_lost_priority = 0, g_collateral_skips = 0, g_forfeits_closing = 0,
     g_forfeits_short = 0, g_secured_fok = 0;

void RunSeed(std::uint64_t seed, int steps, TermCommands::Options options) {
  const ReferenceData& ref = TermUniverse();
  const std::size_t na = ref.agencies().size();
  const std::size_t ni = ref.instruments().size();
  Engine engine(ref, EngineOptions{.expected_offers = 1024});
  NaiveMatcher naive(ref);
  TermCommands gen(seed, options);
  std::vector<Amount> expected_total(ni, 0);  // per instrument: start (0) + SetHoldings
  std::map<ObligationId, Amount> moved;       // per obligation: sum of its events' amounts
  std::vector<Event> a, b;
  for (int step = 0; step < steps; ++step) {
    const Command c = gen.Next();
    Amount before = 0;
    if (c.type == CommandType::kSetHoldings && c.set_holdings.agency < na &&
        c.set_holdings.instrument < ni) {
      const HoldingInfo h = engine.GetHoldings(c.set_holdings.agency, c.set_holdings.instrument);
      before = h.available + h.reserved;
    }
    // Recorded before the command: did this return find the obligation overdue?
    bool overdue_before = false;
    if (c.type == CommandType::kReturnObligation) {
      const auto ob = engine.GetObligation(c.obligation.obligation);
      overdue_before = ob && ob->state == ObligationState::kOverdue;
    }
    a.clear();
    b.clear();
    engine.Apply(c, &a);
    naive.Apply(c, &b);
    const bool same = a.size() == b.size() &&
                      (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
    ASSERT_TRUE(same) << "seed " << seed << " step " << step << " command type " << int(c.type)
                      << " time " << c.time << "\n engine: " << Describe(a)
                      << "\n naive:  " << Describe(b);
    gen.Observe(a);
    for (const Event& e : a) {
      ++g_events[e.type];
      if (e.type == EventType::kRejected) ++g_rejects[{e.rejected.command, e.rejected.reason}];
      if (e.type == EventType::kTermCancelled) ++g_term_cancels[e.cancelled.reason];
      if (e.type == EventType::kCollateral) {
        ++g_collateral[e.collateral.kind];
        if (e.collateral.kind == CollateralEventKind::kPledged &&
            c.type == CommandType::kSubmitTermOffer && c.submit.tif == TimeInForce::kFok) {
          ++g_secured_fok;
        }
      }
      if (e.type == EventType::kTermReplaced) {
        ++(e.replaced.kept_priority ? g_kept_priority : g_lost_priority);
      }
      if (e.type == EventType::kHoldingsSet) {
        expected_total[e.holdings_set.instrument] +=
            e.holdings_set.available + e.holdings_set.reserved - before;
      }
      if (e.type == EventType::kObligation) {
        const ObligationEvent& o = e.obligation;
        ++g_kinds[o.kind];
        moved[o.obligation] += o.amount;
        if (o.kind == ObligationEventKind::kReturned && o.outstanding > 0) ++g_partial_returns;
        if (o.kind == ObligationEventKind::kReturned && overdue_before) ++g_overdue_returns;
        if (o.kind == ObligationEventKind::kRecalled) {
          const auto ob = engine.GetObligation(o.obligation);
          if (ob && ob->due_time < ob->fill_time + ref.term_books()[ob->book].tenor) {
            ++g_recalls_earlier;
          }
        }
        if (o.kind == ObligationEventKind::kCollected && c.type == CommandType::kSubmitOffer) {
          ++g_pair_fills_to_overdue;
        }
      }
    }
    // Conservation, after every command.
    for (InstrumentId i = 0; i < ni; ++i) {
      Amount sum = 0;
      for (AgencyId ag = 0; ag < na; ++ag) {
        const HoldingInfo h = engine.GetHoldings(ag, i);
        ASSERT_GE(h.available, 0) << "seed " << seed << " step " << step;
        ASSERT_GE(h.reserved, 0) << "seed " << seed << " step " << step;
        sum += h.available + h.reserved;
      }
      ASSERT_EQ(sum, expected_total[i])
          << "seed " << seed << " step " << step << " instrument " << i;
    }
  }
  for (AgencyId ag = 0; ag < na; ++ag) {
    for (InstrumentId i = 0; i < ni; ++i) {
      const HoldingInfo x = engine.GetHoldings(ag, i);
      const HoldingInfo y = naive.GetHoldings(ag, i);
      ASSERT_EQ(x.available, y.available) << "seed " << seed;
      ASSERT_EQ(x.reserved, y.reserved) << "seed " << seed;
    }
    for (std::uint32_t g = 0; g < ref.agreements().size(); ++g) {
      ASSERT_EQ(engine.CreditUsed(g, ag), naive.Owed(g, ag))
          << "seed " << seed << " agreement " << g << " borrower " << ag;
    }
  }
  EXPECT_EQ(engine.OpenOfferCount(), naive.OpenOfferCount()) << "seed " << seed;
  ASSERT_FALSE(engine.GetObligation(naive.loans().size() + 1).has_value()) << "seed " << seed;
  for (const NaiveMatcher::Loan& l : naive.loans()) {
    const auto ob = engine.GetObligation(l.id);
    ASSERT_TRUE(ob.has_value()) << "seed " << seed << " obligation " << l.id;
    EXPECT_EQ(ob->returned + ob->covered + ob->outstanding, ob->due_amount)
        << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->returned, moved[l.id]) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->returned, l.returned) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->due_amount, l.due_amount) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->principal, l.principal) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->due_time, l.due_time) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->state, l.state) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->recalled, l.recalled) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->agreement, l.agreement) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->covered, l.covered) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->collateral_state, l.collateral_state) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->collateral_instrument, l.collateral_instrument)
        << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->collateral_amount, l.collateral_amount) << "seed " << seed << " ob " << l.id;
    EXPECT_EQ(ob->collateral_forfeited, l.collateral_forfeited)
        << "seed " << seed << " ob " << l.id;
    // A pledge is kPledged only while its obligation is not closed.
    if (ob->collateral_state == CollateralState::kPledged) {
      EXPECT_NE(ob->state, ObligationState::kClosed) << "seed " << seed << " ob " << l.id;
    }
    if (ob->state == ObligationState::kClosed) {
      EXPECT_EQ(ob->outstanding, 0) << "seed " << seed << " ob " << l.id;
    }
    if (::testing::Test::HasFailure()) return;
  }
  g_credit_skips += naive.credit_skips();
  g_rounded += naive.rounded_premiums();
  g_unmet_by_credit += naive.unmet_by_credit();
  g_collateral_skips += naive.collateral_skips();
  g_forfeits_closing += naive.forfeits_closing();
  g_forfeits_short += naive.forfeits_short();
}

TEST(TimeSwapsDifferentialTest, EngineMatchesNaiveModelOnTermBooksAndObligations) {
  const int seeds = std::getenv("MSX_LONG_TESTS") ? 3000 : 300;
  for (int seed = 1; seed <= seeds; ++seed) {
    RunSeed(seed, 500, TermCommands::Options{});
    if (::testing::Test::HasFailure()) return;
  }
  for (EventType t : {EventType::kTermAccepted, EventType::kLoanFill, EventType::kTermCancelled,
                      EventType::kTermExpired, EventType::kObligation, EventType::kFill,
                      EventType::kHoldingsSet, EventType::kTermReplaced,
                      EventType::kCollateral}) {
    EXPECT_GT(g_events[t], 0) << "event type " << int(t);
  }
  for (ObligationEventKind k : {ObligationEventKind::kReturned, ObligationEventKind::kSettled,
                                ObligationEventKind::kOverdue, ObligationEventKind::kCollected,
                                ObligationEventKind::kRecalled}) {
    EXPECT_GT(g_kinds[k], 0) << "obligation event kind " << int(k);
  }
  for (CollateralEventKind k : {CollateralEventKind::kPledged, CollateralEventKind::kReleased,
                                CollateralEventKind::kForfeited}) {
    EXPECT_GT(g_collateral[k], 0) << "collateral event kind " << int(k);
  }
  using CT = CommandType;
  using RR = RejectReason;
  for (auto [ct, r] :
       std::vector<std::pair<CT, RR>>{{CT::kSubmitTermOffer, RR::kUnknownAgency},
                                      {CT::kSubmitTermOffer, RR::kDuplicateClientId},
                                      {CT::kSubmitTermOffer, RR::kUnknownTermBook},
                                      {CT::kSubmitTermOffer, RR::kInvalidSide},
                                      {CT::kSubmitTermOffer, RR::kInvalidTimeInForce},
                                      {CT::kSubmitTermOffer, RR::kInvalidLots},
                                      {CT::kSubmitTermOffer, RR::kLotsAboveMax},
                                      {CT::kSubmitTermOffer, RR::kInvalidPrice},
                                      {CT::kSubmitTermOffer, RR::kInvalidMinFill},
                                      {CT::kSubmitTermOffer, RR::kExpiryInPast},
                                      {CT::kSubmitTermOffer, RR::kUnknownCounterparty},
                                      {CT::kSubmitTermOffer, RR::kObligationOverdue},
                                      {CT::kSubmitTermOffer, RR::kInsufficientHoldings},
                                      {CT::kSubmitTermOffer, RR::kCreditLimitExceeded},
                                      {CT::kSubmitTermOffer, RR::kInsufficientCollateral},
                                      {CT::kCancelTermOffer, RR::kUnknownOffer},
                                      {CT::kReturnObligation, RR::kUnknownAgency},
                                      {CT::kReturnObligation, RR::kUnknownObligation},
                                      {CT::kReturnObligation, RR::kObligationNotOpen},
                                      {CT::kReturnObligation, RR::kInvalidAmount},
                                      {CT::kReturnObligation, RR::kInsufficientHoldings},
                                      {CT::kRecallObligation, RR::kUnknownObligation},
                                      {CT::kRecallObligation, RR::kObligationNotOpen},
                                      {CT::kRecallObligation, RR::kRecallNotAllowed},
                                      {CT::kSubmitOffer, RR::kObligationOverdue},
                                      {CT::kReplaceTermOffer, RR::kUnknownAgency},
                                      {CT::kReplaceTermOffer, RR::kUnknownOffer},
                                      {CT::kReplaceTermOffer, RR::kInvalidLots},
                                      {CT::kReplaceTermOffer, RR::kLotsAboveMax},
                                      {CT::kReplaceTermOffer, RR::kInvalidPrice},
                                      {CT::kReplaceTermOffer, RR::kInsufficientHoldings},
                                      {CT::kReplaceTermOffer, RR::kCreditLimitExceeded},
                                      {CT::kReplaceTermOffer, RR::kInsufficientCollateral}}) {
    EXPECT_GT((g_rejects[{ct, r}]), 0) << "command " << int(ct) << " reject " << int(r);
  }
  for (CancelReason r : {CancelReason::kIocRemainder, CancelReason::kFokUnfilled,
                         CancelReason::kMinFillUnmet, CancelReason::kSelfMatch,
                         CancelReason::kReplaceBelowFilled}) {
    EXPECT_GT(g_term_cancels[r], 0) << "term cancel reason " << int(r);
  }
  EXPECT_GT(g_unmet_by_credit, 0);
  EXPECT_GT(g_kept_priority, 0);
  EXPECT_GT(g_lost_priority, 0);
  EXPECT_GT(g_credit_skips, 0);
  EXPECT_GT(g_rounded, 0);
  EXPECT_GT(g_partial_returns, 0);
  EXPECT_GT(g_overdue_returns, 0);
  EXPECT_GT(g_recalls_earlier, 0);
  EXPECT_GT(g_pair_fills_to_overdue, 0);
  EXPECT_GT(g_collateral_skips, 0);
  EXPECT_GT(g_forfeits_closing, 0);
  EXPECT_GT(g_forfeits_short, 0);
  EXPECT_GT(g_secured_fok, 0);
  std::string summary;
  for (auto [t, n] : g_events) absl::StrAppend(&summary, "event", int(t), "=", n, " ");
  for (auto [k, n] : g_kinds) absl::StrAppend(&summary, "obligation_kind", int(k), "=", n, " ");
  for (auto [k, n] : g_collateral) {
    absl::StrAppend(&summary, "collateral_kind", int(k), "=", n, " ");
  }
  for (auto [cr, n] : g_rejects) {
    absl::StrAppend(&summary, "reject(cmd", int(cr.first), ",", int(cr.second), ")=", n, " ");
  }
  absl::StrAppend(&summary, "credit_skips=", g_credit_skips, " rounded_premiums=", g_rounded,
                  " partial_returns=", g_partial_returns, " overdue_returns=", g_overdue_returns,
                  " recalls_earlier=", g_recalls_earlier,
                  " collected_at_pair_submit=", g_pair_fills_to_overdue,
                  " unmet_by_credit=", g_unmet_by_credit, " kept_priority=", g_kept_priority,
                  " lost_priority=", g_lost_priority, " collateral_skips=", g_collateral_skips,
                  " forfeits_closing=", g_forfeits_closing, " forfeits_short=", g_forfeits_short,
                  " secured_fok=", g_secured_fok);
  for (auto [r, n] : g_term_cancels) absl::StrAppend(&summary, " term_cancel", int(r), "=", n);
  std::printf("counts: %s\n", summary.c_str());
}

// ENGINE.md "Overdue": "Units a lender receives by a collection are collected from it (if
// it is itself overdue in that instrument) at the end of the next command, not in the same
// pass." Also for a lender whose own group was chosen at the start of the pass (it held
// units of its own) and comes later in (borrower, instrument) order: it pays only what it
// held when the pass began, so the outcome does not depend on the agencies' order.
//
// A1 lends A0 10 units (ob1); A2 lends A1 20 (ob2); A0 and A1 each lend A3 10 for 3 days
// (ob3, ob4). A0 and A1 are cut to 0 and fall overdue on ob1 and ob2. When ob3 and ob4
// settle, A0 and A1 each receive 10 at the start of the command; the collection pass pays
// ob1 from A0's 10 (to A1), and must take from A1 only the 10 it held when the pass
// began: ob2 keeps 10 outstanding until the next command.
TEST(TimeSwapsDifferentialTest, UnitsReceivedByACollectionWaitForTheNextCommand) {
  using ::msx::testing::kA0;
  using ::msx::testing::kA1;
  using ::msx::testing::kA2;
  using ::msx::testing::kA3;
  using ::msx::testing::kAaa;
  using ::msx::testing::kAaa1D;
  using ::msx::testing::kAaa3D;
  const ReferenceData& ref = TermUniverse();
  const TimeNs day = 86'400'000'000'000;
  auto term = [](AgencyId agency, TermBookId book, Side side, Lots lots, ClientOfferId id) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = {.agency = agency, .pair = book, .side = side, .tif = TimeInForce::kGtc,
                .lots = lots, .price = 0, .min_fill = 0, .expiry = 0, .allow = 0, .deny = 0,
                .client_id = id};
    return c;
  };
  std::vector<Command> cmds = {
      ::msx::testing::SetHolding(kA0, kAaa, 100), ::msx::testing::SetHolding(kA1, kAaa, 100),
      ::msx::testing::SetHolding(kA2, kAaa, 100), ::msx::testing::SetHolding(kA3, kAaa, 100),
      term(kA1, kAaa1D, Side::kSell, 1, 1), term(kA0, kAaa1D, Side::kBuy, 1, 1),  // ob1
      term(kA2, kAaa1D, Side::kSell, 2, 2), term(kA1, kAaa1D, Side::kBuy, 2, 2),  // ob2
      term(kA0, kAaa3D, Side::kSell, 1, 3), term(kA3, kAaa3D, Side::kBuy, 1, 3),  // ob3
      term(kA1, kAaa3D, Side::kSell, 1, 4), term(kA3, kAaa3D, Side::kBuy, 1, 4),  // ob4
      ::msx::testing::SetHolding(kA0, kAaa, 0), ::msx::testing::SetHolding(kA1, kAaa, 0),
      ::msx::testing::AdvanceTime(),  // ob1, ob2 overdue
      ::msx::testing::AdvanceTime(),  // ob3, ob4 settle; collection
      ::msx::testing::AdvanceTime()};
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    cmds[i].seq = i + 1;
    cmds[i].time = 1000 + static_cast<TimeNs>(i);
  }
  cmds[cmds.size() - 3].time = 1000 + 2 * day;
  cmds[cmds.size() - 2].time = 1000 + 4 * day;
  cmds[cmds.size() - 1].time = 1000 + 4 * day + 1;
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  NaiveMatcher naive(ref);
  std::vector<Event> a, b;
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    a.clear();
    b.clear();
    engine.Apply(cmds[i], &a);
    naive.Apply(cmds[i], &b);
    if (i + 2 == cmds.size()) {
      // The pass took from A1 only the 10 it held when it began.
      EXPECT_EQ(engine.GetObligation(2)->outstanding, 10);
      EXPECT_EQ(engine.GetObligation(2)->state, ObligationState::kOverdue);
      EXPECT_EQ(engine.GetHoldings(kA1, kAaa).available, 10);
    }
    const bool same = a.size() == b.size() &&
                      (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
    ASSERT_TRUE(same) << "command " << i << "\n engine: " << Describe(a)
                      << "\n naive:  " << Describe(b);
  }
  EXPECT_EQ(engine.GetObligation(2)->state, ObligationState::kClosed);
  EXPECT_EQ(engine.GetHoldings(kA2, kAaa).available, 100);  // 100 - 20 lent + 20 repaid
}

}  // namespace
}  // namespace msx
