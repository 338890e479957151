// The one universe and GoogleTest fixture of the engine's term-book unit tests
// (engine/matching/time_swaps_test.cc, collateral_test.cc, term_order_types_test.cc):
// a few real-looking agencies lending minerals, each rule of ENGINE.md "Time swaps" set up
// once here and named by the constants below.
//
// Instruments (symbol, mineral, lot, reference value in micro-USD per kg):
//   CO  cobalt  metal      lot 1000   33,000,000
//   LI  lithium hydroxide  lot 1000    9,000,000
//   GA  gallium 4N         lot 10    300,000,000
//   NI  nickel  metal      lot 1000   33,000,000   (the mineral lent against collateral)
//   NI2 nickel  powder     lot 1000   33,000,000   (a second nickel instrument: never
//                                                   accepted as a pledge for a nickel loan)
// One pair book, CO/LI (tick 1, band 15 %, max 100,000 lots).
// Agencies: KOMIR, JOGMEC, DLA, KABIL, DERA (ids 0..4); OPS (5) is the admin.
// Agreements, in configuration order (a loan uses the first that fits):
//   0 CORE    KOMIR JOGMEC DLA  cobalt, lithium, gallium; USD 100 M each; recalls (8 days)
//   1 NOREC   KOMIR KABIL DERA  cobalt; KABIL and DERA may owe 10 lots of cobalt; no recall
//   2 PLEDGE  JOGMEC DERA       cobalt; USD 100 M; 100 % collateral in LI
//   3 SECURED KOMIR JOGMEC DLA  nickel; USD 100 M; 110 % in NI2, then LI, then GA; grace
//                               10 days
//   4 HALF    KOMIR KABIL       nickel; USD 100 M; 50 % in LI; grace the default 30 days
// So cobalt loans among KOMIR, JOGMEC and DLA are unsecured (CORE), KABIL shares nothing
// with JOGMEC, DERA borrows cobalt from KOMIR on credit and from JOGMEC against lithium,
// and every nickel loan is secured.
// Term books (max lots): CO@90D 100,000; CO@30D 1,000; NI@90D 100,000.
#ifndef MSX_ENGINE_TESTING_TERM_BOOK_FIXTURE_H_
#define MSX_ENGINE_TESTING_TERM_BOOK_FIXTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"
#include "gtest/gtest.h"

namespace msx::testing {

inline constexpr AgencyId kKomir = 0, kJogmec = 1, kDla = 2, kKabil = 3, kDera = 4, kOpsAdmin = 5;
inline constexpr InstrumentId kCo = 0, kLi = 1, kGa = 2, kNi = 3, kNi2 = 4;
inline constexpr MicroUsd kCoValue = 33'000'000, kLiValue = 9'000'000, kGaValue = 300'000'000,
                          kNiValue = 33'000'000;
inline constexpr std::uint32_t kCore = 0, kNorec = 1, kPledge = 2, kSecured = 3, kHalf = 4;
// What KABIL and DERA may owe under NOREC: 10 lots of cobalt at reference value.
inline constexpr MicroUsd kNorecLimit = 10 * 1000 * kCoValue;
inline constexpr std::int32_t kSecuredBps = 11000;
inline constexpr std::int32_t kSecuredGraceDays = 10;
inline constexpr TermBookId kCo90 = 0, kCo30 = 1, kNi90 = 2;
// The fixture's clock starts here.
inline constexpr TimeNs kTermBookT0 = 1'800'000'000'000'000'000;

// The universe above. Aborts (test-only code) if the builder rejects it.
const ReferenceData& TermBookUniverse();

// An engine over TermBookUniverse() at time kTermBookT0 in which KOMIR, JOGMEC, DLA, KABIL and
// DERA each hold 1,000,000 kg of CO, LI and NI (and nothing of GA or NI2), with helpers
// that stamp each command with the next sequence number and the fixture's clock `now_`.
class TermBookTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kExpectedOffers = 1024;

  TermBookTest();

  // Applies `c` at seq_ + 1 and now_; returns its events.
  std::vector<Event> Run(Command c);
  std::vector<Event> Set(AgencyId agency, InstrumentId instrument, Amount total);
  // A term offer: kSell lends, kBuy borrows, at `bps` premium.
  std::vector<Event> Term(AgencyId agency, TermBookId book, Side side, Lots lots, std::int64_t bps,
                          TimeInForce tif = TimeInForce::kGtc, Lots min_fill = 0, TimeNs expiry = 0,
                          AgencyMask deny = 0);
  // kReplaceTermOffer: `total` lots (lent + open) at premium `bps`.
  std::vector<Event> Replace(AgencyId agency, OfferId offer, Lots total, std::int64_t bps);
  std::vector<Event> Return(AgencyId borrower, ObligationId id, Amount amount);
  std::vector<Event> Recall(AgencyId lender, ObligationId id);
  // Moves the clock to `to` and applies an AdvanceTime there.
  std::vector<Event> Advance(TimeNs to);

  HoldingInfo H(AgencyId agency, InstrumentId instrument) const;
  // The obligation; a test failure (and a zero value) when there is none.
  ObligationInfo Ob(ObligationId id) const;
  // The term offer; a zero value when there is none.
  OfferInfo Offer(OfferId id) const;
  // The version field of an engine snapshot (engine/matching/SNAPSHOT.md).
  static std::uint32_t SnapshotVersion(const std::string& state);

  const ReferenceData& ref_;
  Engine engine_;
  Seq seq_ = 0;
  TimeNs now_ = kTermBookT0;
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_TERM_BOOK_FIXTURE_H_
