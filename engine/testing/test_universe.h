// A small, hand-checkable reference data set for engine tests and benchmarks, built with
// ReferenceDataBuilder (no protobuf), plus command constructors.
//
// Instruments (symbol, mineral, lot size, reference value in micro-USD per unit, floor):
//   AAA alpha lot 10   1,000,000
//   BBB beta  lot 1      100,000
//   CCC gamma lot 100    500,000  floor 450,000
//   DDD delta lot 1  100,000,000
// Pairs and their derived bands are the k* constants below.
// Agencies 0..5 trade ("A0".."A5"), 6 is the admin "OPS".
// Agreements: "CORE" {A0,A1,A2,A3} every mineral; "AB" {A3,A4} alpha+beta only;
// "GAMMA" {A0,A5} gamma+beta only. So A4 and A5 are never eligible with each other,
// A4 trades AAA/BBB with A3 only, A5 trades CCC/BBB with A0 only.
#ifndef MSX_ENGINE_TESTING_TEST_UNIVERSE_H_
#define MSX_ENGINE_TESTING_TEST_UNIVERSE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::testing {

inline constexpr PairId kAaaBbb = 0;  // reference 100, band 85..115, tick 1, max 1000
inline constexpr PairId kCccBbb = 1;  // reference 500, band 450 (floor)..575, tick 5, max 1000
inline constexpr PairId kAaaCcc = 2;  // reference 20, band 17..23, tick 1, max 1000
inline constexpr PairId kDddBbb = 3;  // reference 1000, band 850..1150, tick 10, max 100
inline constexpr InstrumentId kAaa = 0, kBbb = 1, kCcc = 2, kDdd = 3;
inline constexpr AgencyId kA0 = 0, kA1 = 1, kA2 = 2, kA3 = 3, kA4 = 4, kA5 = 5, kOps = 6;

// The universe above. Aborts (test-only code) if the builder rejects it.
const ReferenceData& TestUniverse();

// TermUniverse: the universe above (same instruments, pairs, agencies, ids) with time
// swaps (ENGINE.md "Time swaps"). Term books (tenor, max lots):
//   AAA@1D 40, AAA@3D 40, BBB@2D 200, CCC@1D 20, DDD@5D 10.
// One more agreement, "SPARE" {A0,A1} beta only, so that a loan of BBB between A0 and A1
// falls to it when CORE has no room. Credit limits (micro-USD; 1 lot of AAA is worth
// 10,000,000, of CCC 50,000,000, of DDD 100,000,000, 1 unit of BBB 100,000):
//   CORE  default 100,000,000, A1 1,000,000,000, A2 0; recalls, notice 1 day
//   AB    default 200,000,000; recalls, notice the default 8 days
//   GAMMA default 150,000,000, A5 500,000,000; no recalls
//   SPARE default 50,000,000; no recalls
// and a fifth, "SECURED" {A2,A3,A4,A5} every mineral, the one that asks for collateral
// (ENGINE.md "Collateral"): default 300,000,000; 80 % of the amount due pledged in CCC,
// else BBB, else AAA, else DDD; grace 1 day; recalls, notice 1 day. Being last, it takes
// the loans the others have no room for (A2 may borrow only under it), and every loan
// between A4 and A5; as it covers every mineral, it also makes those two eligible on the
// pair books.
inline constexpr std::uint32_t kSecuredAgreement = 4;
inline constexpr TermBookId kAaa1D = 0, kAaa3D = 1, kBbb2D = 2, kCcc1D = 3, kDdd5D = 4;
const ReferenceData& TermUniverse();

Command Submit(AgencyId agency, PairId pair, Side side, Lots lots, Price price,
               ClientOfferId client_id, TimeInForce tif = TimeInForce::kGtc);
Command Cancel(AgencyId agency, OfferId offer);
// kReplaceOffer: `lots` is the new total (filled + open).
Command Replace(AgencyId agency, OfferId offer, Lots lots, Price price);
// The legacy kReplaceOfferOpenLots: `lots` is the new open lots.
Command ReplaceOpenLots(AgencyId agency, OfferId offer, Lots lots, Price price);
Command SetHolding(AgencyId agency, InstrumentId instrument, Amount total);
Command AdvanceTime();
Command Halt(PairId pair);
Command Resume(PairId pair);

// Time swaps (ENGINE.md "Time swaps"): on a term book kSell lends and kBuy borrows; the
// price is the premium in basis points.
Command TermOffer(AgencyId agency, TermBookId book, Side side, Lots lots, Price premium_bps,
                  TimeInForce tif = TimeInForce::kGtc, ClientOfferId client_id = 0);
Command CancelTermOffer(AgencyId agency, OfferId offer);
// kReplaceTermOffer: `lots` is the new total (lent + open), `premium_bps` the new premium.
Command ReplaceTermOffer(AgencyId agency, OfferId offer, Lots lots, Price premium_bps);
Command ReturnObligation(AgencyId borrower, ObligationId obligation, Amount amount);
Command RecallObligation(AgencyId lender, ObligationId obligation);

// Emergencies (ENGINE.md "Emergencies"): admin commands on live reference data.
Command SetLevel(InstrumentId instrument, EmergencyLevel level, std::string_view reason = "");
Command PublishReference(InstrumentId instrument, MicroUsd value, MicroUsd floor,
                         TimeNs effective = 0);
Command AdmitMember(std::uint32_t agreement, AgencyId agency);
Command SuspendMember(std::uint32_t agreement, AgencyId agency);
// From this command on, term books follow the live reference data (ENGINE.md "Time swaps",
// "Live reference data").
Command FollowLiveReference();

// Allocation auctions (AUCTION.md): a buy with a declared need, and one auction tick.
Command SubmitWithNeed(AgencyId agency, PairId pair, Lots lots, Price price, Amount need,
                       PriorityTier tier, ClientOfferId client_id,
                       TimeInForce tif = TimeInForce::kGtc);
Command RunAuction(InstrumentId instrument);

// Deliveries (ENGINE.md "Deliveries"): the receiver, or an admin, confirms delivery `id`.
Command ConfirmDelivery(AgencyId agency, DeliveryId id);

// What one command's events say: the first reject's reason (kNone if none), the first
// accepted offer (0 if none), and the events of one type, in order.
RejectReason FirstReject(const std::vector<Event>& events);
OfferId FirstAccepted(const std::vector<Event>& events);
std::vector<Event> EventsOf(const std::vector<Event>& events, EventType type);

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_TEST_UNIVERSE_H_
