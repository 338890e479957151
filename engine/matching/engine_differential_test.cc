// The engine and the deliberately naive matcher (engine/testing/naive_matcher.h) run the
// same random command streams and must agree on every event, byte for byte, and on every
// holding.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "engine/matching/engine.h"
#include "engine/testing/naive_matcher.h"
#include "engine/testing/random_commands.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::NaiveMatcher;
using ::msx::testing::RandomCommands;
using ::msx::testing::TestUniverse;

const char* TypeName(EventType t) {
  switch (t) {
    case EventType::kAccepted: return "Accepted";
    case EventType::kRejected: return "Rejected";
    case EventType::kFill: return "Fill";
    case EventType::kCancelled: return "Cancelled";
    case EventType::kReplaced: return "Replaced";
    case EventType::kExpired: return "Expired";
    case EventType::kBookLevel: return "BookLevel";
    case EventType::kHoldingsSet: return "HoldingsSet";
    case EventType::kPairHalted: return "PairHalted";
    case EventType::kPairResumed: return "PairResumed";
    default: break;  // time swaps: not in these streams (no term books in the universe)
  }
  return "?";
}

std::string Describe(const std::vector<Event>& ev) {
  std::string s;
  for (const Event& e : ev) {
    absl::StrAppend(&s, TypeName(e.type));
    if (e.type == EventType::kRejected) absl::StrAppend(&s, "(", int(e.rejected.reason), ")");
    if (e.type == EventType::kFill) {
      absl::StrAppend(&s, "(", e.fill.maker_offer, "x", e.fill.taker_offer, " ", e.fill.lots, "@",
                      e.fill.price, ")");
    }
    if (e.type == EventType::kBookLevel) {
      absl::StrAppend(&s, "(", int(e.book_level.side), " ", e.book_level.price, ":",
                      e.book_level.lots, "/", e.book_level.offer_count, ")");
    }
    absl::StrAppend(&s, " ");
  }
  return s;
}

// Event counts by type over all runs, to show the streams exercise every rule.
std::map<EventType, long> g_seen;
std::map<RejectReason, long> g_rejects;
std::uint64_t g_purged = 0;

// Runs `steps` commands of seed `seed`; returns false (with a message) on the first
// difference.
void RunSeed(std::uint64_t seed, int steps, RandomCommands::Options options) {
  const ReferenceData& ref = TestUniverse();
  Engine engine(ref, EngineOptions{.expected_offers = 1024});
  NaiveMatcher naive(ref);
  RandomCommands gen(seed, options);
  // Fund everyone so that most offers are accepted.
  std::vector<Event> a, b;
  for (int step = 0; step < steps; ++step) {
    const Command c = gen.Next();
    a.clear();
    b.clear();
    engine.Apply(c, &a);
    naive.Apply(c, &b);
    const bool same = a.size() == b.size() &&
                      (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
    ASSERT_TRUE(same) << "seed " << seed << " step " << step << " command type "
                      << int(c.type) << "\n engine: " << Describe(a)
                      << "\n naive:  " << Describe(b);
    gen.Observe(a, 0);
    if (options.set_retention > 0 && step == steps / 2) {
      // Through a snapshot and back (retention, finished offers in finishing order): the
      // rest of the stream must not notice.
      const std::string saved = engine.SaveState();
      ASSERT_TRUE(engine.LoadState(saved).ok()) << "seed " << seed;
      ASSERT_EQ(engine.SaveState(), saved) << "seed " << seed;
    }
    for (const Event& e : a) {
      ++g_seen[e.type];
      if (e.type == EventType::kRejected) ++g_rejects[e.rejected.reason];
    }
  }
  for (AgencyId ag = 0; ag < ref.agencies().size(); ++ag) {
    for (InstrumentId i = 0; i < ref.instruments().size(); ++i) {
      const HoldingInfo x = engine.GetHoldings(ag, i);
      const HoldingInfo y = naive.GetHoldings(ag, i);
      ASSERT_EQ(x.available, y.available) << "seed " << seed;
      ASSERT_EQ(x.reserved, y.reserved) << "seed " << seed;
    }
  }
  EXPECT_EQ(engine.OpenOfferCount(), naive.OpenOfferCount());
  g_purged += engine.PurgedOfferCount();
}

TEST(DifferentialTest, EngineMatchesNaiveMatcherOnRandomStreams) {
  const int seeds = std::getenv("MSX_LONG_TESTS") ? 2000 : 120;
  for (int seed = 1; seed <= seeds; ++seed) {
    RunSeed(seed, 1500, RandomCommands::Options{});
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The streams reach every event type and the reject reasons that random input can.
  for (EventType t : {EventType::kAccepted, EventType::kRejected, EventType::kFill,
                      EventType::kCancelled, EventType::kReplaced, EventType::kExpired,
                      EventType::kBookLevel, EventType::kHoldingsSet, EventType::kPairHalted,
                      EventType::kPairResumed}) {
    EXPECT_GT(g_seen[t], 0) << TypeName(t);
  }
  for (RejectReason r :
       {RejectReason::kUnknownAgency, RejectReason::kUnknownPair, RejectReason::kUnknownOffer,
        RejectReason::kPairHalted, RejectReason::kInvalidLots, RejectReason::kLotsAboveMax,
        RejectReason::kInvalidPrice, RejectReason::kPriceOffTick, RejectReason::kPriceOutsideBand,
        RejectReason::kBelowFloor, RejectReason::kDuplicateClientId,
        RejectReason::kExpiryInPast, RejectReason::kOverflow, RejectReason::kInvalidMinFill,
        RejectReason::kInvalidTimeInForce, RejectReason::kInvalidSide,
        RejectReason::kUnknownInstrument, RejectReason::kHoldingsBelowReserved,
        RejectReason::kUnknownCounterparty}) {
    EXPECT_GT(g_rejects[r], 0) << "reject reason " << int(r);
  }
  std::string summary;
  for (auto [t, n] : g_seen) absl::StrAppend(&summary, TypeName(t), "=", n, " ");
  for (auto [r, n] : g_rejects) absl::StrAppend(&summary, "reject", int(r), "=", n, " ");
  std::printf("event counts: %s\n", summary.c_str());
}

TEST(DifferentialTest, EngineMatchesNaiveMatcherWhenHoldingsAreScarce) {
  RandomCommands::Options o;
  o.max_holding = 300;
  o.set_holdings = 15;
  for (int seed = 1000; seed < 1040; ++seed) {
    RunSeed(seed, 1500, o);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Retention windows of 0..199 time units (time advances ~1 per command, more at
// AdvanceTime) and client ids reused now and then: purged offers free their client ids at
// exactly the same commands in both, at most 2 per command (64 at AdvanceTime).
TEST(DifferentialTest, EngineMatchesNaiveMatcherWithOfferRetention) {
  RandomCommands::Options o;
  o.set_retention = 2;
  g_purged = 0;
  const long duplicates_before = g_rejects[RejectReason::kDuplicateClientId];
  for (int seed = 3000; seed < 3060; ++seed) {
    RunSeed(seed, 1500, o);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(g_purged, 10'000u);
  EXPECT_GT(g_rejects[RejectReason::kDuplicateClientId], duplicates_before);
}

TEST(DifferentialTest, EngineMatchesNaiveMatcherOnCancelReplaceHeavyStreams) {
  RandomCommands::Options o;
  o.submit = 40;
  o.cancel = 30;
  o.replace = 30;
  for (int seed = 2000; seed < 2040; ++seed) {
    RunSeed(seed, 1500, o);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace msx
