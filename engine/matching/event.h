// Events: what the engine says happened. Applying one command appends zero or more events,
// each carrying the command's sequence number and time. Events are trivially copyable,
// fixed-size values; unused fields are zero so that two event streams compare byte for byte.
#ifndef MSX_ENGINE_EVENT_H_
#define MSX_ENGINE_EVENT_H_

#include <cstdint>
#include <type_traits>

#include "engine/matching/command.h"
#include "engine/matching/types.h"

namespace msx {

enum class EventType : std::uint8_t {
  kAccepted = 1,      // a submit was accepted (it may fill in the same command)
  kRejected = 2,      // any command turned down; state unchanged
  kFill = 3,          // one swap between a resting (maker) and an incoming (taker) offer
  kCancelled = 4,
  kReplaced = 5,
  kExpired = 6,
  kBookLevel = 7,     // market data: the new total at one price level of one pair
  kHoldingsSet = 8,
  kPairHalted = 9,
  kPairResumed = 10,
  // Time swaps (engine/ENGINE.md "Time swaps"):
  kTermAccepted = 11,   // body `accepted`: pair = term book, price = premium bps
  kLoanFill = 12,       // body `loan_fill`: the near leg, and the obligation it opens
  kTermCancelled = 13,  // body `cancelled`: a term offer
  kTermExpired = 14,    // body `expired`: a GTD term offer
  kObligation = 15,     // body `obligation`: units moved on an obligation, or a recall
  kCollateral = 16,     // body `collateral`: a pledge reserved, released or handed over
  kTermReplaced = 17,   // body `replaced`: a term offer (price = premium bps)
  // Emergencies (issue 15; ENGINE.md "Live reference data and emergency levels"), 20-29:
  kReferencePublished = 20,  // body `reference_published`: a PublishReference accepted
  kPairBandChanged = 21,     // body `band`: a pair's reference price, band or floor changed
  kMemberAdmitted = 22,      // body `member`
  kMemberSuspended = 23,     // body `member`
  kEmergencyLevelSet = 24,   // body `level_set`
  // Deliveries (issue 15 s.3; ENGINE.md "Deliveries"), 25-29:
  kDelivery = 25,  // body `delivery`: a delivery opened by a fill, fell overdue, or confirmed
  // Allocation auctions (issue 15 s.3; AUCTION.md "In the engine"), 30-34:
  kAuction = 30,  // body `auction`: one book's call auction ran; its fills follow
};

// Numbering mirrors msx.v1.RejectReason.
enum class RejectReason : std::uint8_t {
  kNone = 0,
  kUnknownAgency = 1,
  kUnknownPair = 2,
  kUnknownOffer = 3,
  kPairHalted = 4,
  kInvalidLots = 5,
  kLotsAboveMax = 6,
  kInvalidPrice = 7,
  kPriceOffTick = 8,
  kPriceOutsideBand = 9,
  kBelowFloor = 10,
  kInsufficientHoldings = 11,
  kDuplicateClientId = 12,
  kExpiryInPast = 13,
  kOverflow = 14,
  kInvalidMinFill = 15,
  kInvalidTimeInForce = 16,
  kInvalidSide = 17,
  kUnknownInstrument = 18,
  kHoldingsBelowReserved = 19,
  kUnknownCounterparty = 20,
  // Time swaps:
  kUnknownTermBook = 21,
  // No agreement covering the mineral that the borrower shares with any agency has room
  // under the borrower's credit limit for the whole offer at its premium.
  kCreditLimitExceeded = 22,
  kUnknownObligation = 23,    // unknown, or the agency is not the party the command needs
  kRecallNotAllowed = 24,     // the loan's agreement does not allow recalls
  kObligationOverdue = 25,    // lend/sell of a mineral the agency owes overdue
  kInvalidAmount = 26,        // a return of <= 0 or more than is outstanding
  kObligationNotOpen = 27,    // recall of a loan that is overdue or closed
  // A borrow: some agreement has room under the borrower's credit limit, but under none of
  // those that require collateral does the borrower hold enough available units of an
  // accepted instrument for the whole offer.
  kInsufficientCollateral = 28,
  // A recall of a loan whose instrument is at an emergency level whose policy forbids
  // recalls (LevelPolicy::recall_allowed; WARNING and SERIOUS by default).
  kRecallForbiddenAtLevel = 29,
  // Emergencies (issue 15), numbers 40-59.
  kUnknownAgreement = 40,
  kInvalidLevel = 41,         // not one of the five levels, or a reason over 60 bytes
  kInvalidReference = 42,     // reference value <= 0 or floor < 0
  kAlreadyMember = 43,
  kNotMember = 44,
  kBelowMandatedStock = 45,   // the offer would leave less than the mandated minimum stock
  kNoValidPrice = 46,         // the new reference leaves some pair without a valid price
  kAdminCannotTrade = 47,     // an admin agency cannot join an agreement
  // Allocation auctions (issue 15 s.3; AUCTION.md "In the engine"), numbers 60-69.
  kInvalidNeed = 60,        // need <= 0, a need on a sell, or a tier outside 1..3
  kTierNotAllowed = 61,     // the agency's configuration does not allow that tier
  // On a book in call-auction mode: IOC, FOK, a minimum fill or a counterparty list (the
  // auction allocates by agency; such an offer could never take part).
  kCallAuctionOnly = 62,
  kNoCallAuction = 63,      // RunAuction for an instrument whose level does not auction
  // Deliveries (issue 15 s.3; ENGINE.md "Deliveries"), numbers 48-59.
  kUnknownDelivery = 48,    // ConfirmDelivery of a delivery id never opened
  // ConfirmDelivery by an agency that is neither the delivery's receiver nor an admin (the
  // deliverer cannot confirm its own delivery).
  kNotDeliveryParty = 49,
  kDeliveryAlreadyConfirmed = 50,
};

// Numbering mirrors msx.v1.CancelReason.
enum class CancelReason : std::uint8_t {
  kRequested = 1,
  kIocRemainder = 2,
  kFokUnfilled = 3,
  kMinFillUnmet = 4,
  kSelfMatch = 5,
  kAdmin = 6,
  // A ReplaceOffer asked for a total at or below the lots already filled (it raced a
  // fill): nothing more may trade, so the open rest is cancelled.
  kReplaceBelowFilled = 7,
  // Emergencies (issue 15), numbers 40-59.
  // A new reference price or emergency level moved the pair's band away from the offer.
  kOutsideBand = 40,
  // The agency was suspended from an agreement, and no other agreement lets the offer
  // trade with anyone it accepts.
  kMemberSuspended = 41,
};

struct AcceptedEvent {
  OfferId offer;
  AgencyId agency;
  PairId pair;
  Side side;
  TimeInForce tif;
  Lots lots;
  Price price;
  ClientOfferId client_id;
};

struct RejectedEvent {
  CommandType command;
  RejectReason reason;
  AgencyId agency;         // the commanding agency when known
  OfferId offer;           // cancel/replace target; for kDuplicateClientId the original offer
  ClientOfferId client_id; // submit only
};

struct FillEvent {
  std::uint64_t fill_id;   // exchange-wide match number, 1, 2, 3, ...
  PairId pair;
  Side aggressor_side;     // the taker's side
  OfferId maker_offer;     // resting offer; the fill prints at its price
  OfferId taker_offer;
  AgencyId maker_agency;
  AgencyId taker_agency;
  Lots lots;
  Price price;
  Amount base_amount;      // lots * base lot size
  Amount quote_amount;     // lots * price
  Lots maker_open;         // lots still open on each offer after this fill
  Lots taker_open;
};

struct CancelledEvent {
  OfferId offer;
  AgencyId agency;
  CancelReason reason;
  Lots lots;               // lots that were open and are now cancelled
};

struct ReplacedEvent {
  OfferId offer;
  AgencyId agency;
  Lots lots;               // open lots after the replace (before any fill it makes)
  Price price;
  bool kept_priority;
};

struct ExpiredEvent {
  OfferId offer;
  AgencyId agency;
  Lots lots;
};

struct BookLevelEvent {
  PairId pair;
  Side side;
  Price price;
  Lots lots;               // new total at this price; 0 = the level is gone
  std::uint32_t offer_count;
};

// The near leg of a loan: lots * lot size units (the principal) moved from the lender's
// reserved to the borrower's available, and obligation `obligation` opened for
// `due_amount`, due at the event's time + the book's tenor (Engine::GetObligation has
// both; they are left out so that an Event stays as small as a pair fill).
struct LoanFillEvent {
  ObligationId obligation;  // also the loan's fill number, 1, 2, 3, ...
  TermBookId book;
  std::uint32_t agreement;  // index of the agreement whose credit line the loan uses
  OfferId maker_offer;      // resting term offer; the loan is made at its premium
  OfferId taker_offer;
  AgencyId lender;
  AgencyId borrower;
  Lots lots;
  std::int64_t premium_bps;
  Amount due_amount;        // principal + ceil(principal * premium_bps / 10000)
  Lots maker_open;          // lots still open on each offer after this loan
  Lots taker_open;
  Side aggressor_side;      // the taker's side: kSell = lend, kBuy = borrow
};

enum class ObligationState : std::uint8_t { kOpen = 1, kOverdue = 2, kClosed = 3 };

enum class ObligationEventKind : std::uint8_t {
  kReturned = 1,   // the borrower returned `amount` (ReturnObligation)
  kSettled = 2,    // due time: `amount` taken from the borrower, nothing left outstanding
  kOverdue = 3,    // due time: `amount` (maybe 0) taken, `outstanding` is now overdue
  kCollected = 4,  // overdue: `amount` taken from units the borrower received since
  kRecalled = 5,   // the lender recalled: `due_time` is the new due time (amount 0)
};

struct ObligationEvent {
  ObligationId obligation;
  ObligationEventKind kind;
  ObligationState state;   // after the event
  AgencyId lender;
  AgencyId borrower;
  InstrumentId instrument;
  Amount amount;           // units moved from the borrower to the lender by this event
  Amount outstanding;      // still owed after it
  TimeNs due_time;
};

enum class CollateralState : std::uint8_t {
  kNone = 0,       // the loan's agreement requires no collateral
  kPledged = 1,    // reserved in the borrower's holdings
  kReleased = 2,   // back in the borrower's available units (the obligation was paid)
  kForfeited = 3,  // handed to the lender after the grace period (the rest released)
};

enum class CollateralEventKind : std::uint8_t {
  kPledged = 1,    // the loan reserved `amount` units of the borrower's `instrument`
  kReleased = 2,   // `amount` pledged units went back to the borrower's available
  kForfeited = 3,  // `amount` pledged units went to the lender; `covered` units of the
                   // obligation's outstanding are satisfied by them
};

// A pledge of collateral (ENGINE.md "Collateral"). `instrument` is the collateral's, not the
// loan's; `state` and `outstanding` are the obligation's after the event.
struct CollateralEvent {
  ObligationId obligation;
  CollateralEventKind kind;
  ObligationState state;
  AgencyId lender;
  AgencyId borrower;
  InstrumentId instrument;
  Amount amount;           // units of the collateral instrument moved
  Amount covered;          // kForfeited: units of the loan's instrument it satisfied; else 0
  Amount outstanding;      // the obligation's, after the event
};

struct HoldingsSetEvent {
  AgencyId agency;
  InstrumentId instrument;
  Amount available;
  Amount reserved;
};

// A pair's prices after a reference or level change (derived as ReferenceData derives
// them at start, ENGINE.md "Reference data").
struct PairBandEvent {
  PairId pair;
  Price reference_price;
  Price band_low;
  Price band_high;
  Price floor_price;       // 0 = no floor
};

struct EmergencyLevelEvent {
  InstrumentId instrument;
  EmergencyLevel level;
  EmergencyLevel previous;
  std::uint8_t reason_size;
  char reason[kMaxLevelReasonBytes];  // zero past reason_size
};

// One book's call auction (AUCTION.md): what it uncrossed at. Its fills follow it as kFill
// events (aggressor_side kBuy, maker = the sell offer, taker = the buy offer).
struct AuctionEvent {
  PairId pair;
  bool crossed;            // false: no price had executable volume (no fills follow)
  Price price;             // every fill of this auction is at this price
  Lots executable;         // min(demand, supply) at the price
  Lots executed;           // the sum of the fills that follow
  Lots supply;             // sell lots at or below the price
  Lots demand;             // claimed buy lots at or above the price
  Lots agency_cap;         // the most one agency could be allocated
};

// Deliveries (ENGINE.md "Deliveries"). A delivery is one side of one emergency fill: the
// units one agency owes the other, due by `deliver_by`.
enum class DeliveryState : std::uint8_t { kPending = 1, kOverdue = 2, kConfirmed = 3 };

enum class DeliveryEventKind : std::uint8_t {
  kOpened = 1,     // a fill at WARNING or SERIOUS opened it (two per fill: base, then quote)
  kOverdue = 2,    // the first command after deliver_by found it unconfirmed
  kConfirmed = 3,  // ConfirmDelivery by the receiver or an admin (`by`)
};

// `state` is the delivery's after the event.
struct DeliveryEvent {
  DeliveryId delivery;
  std::uint64_t fill_id;     // the fill that opened it
  DeliveryEventKind kind;
  DeliveryState state;
  PairId pair;
  InstrumentId instrument;   // what is delivered: the pair's base or its quote
  AgencyId deliverer;        // gives the units
  AgencyId receiver;         // receives them, and confirms
  std::uint32_t agreement;   // index of the agreement whose delivery window applies
  AgencyId by;               // kConfirmed: the confirming agency; else 0
  Amount amount;             // units of `instrument`
  TimeNs deliver_by;         // the fill's time + the agreement's delivery window
};

struct Event {
  Seq seq;
  TimeNs time;
  EventType type;
  union {
    AcceptedEvent accepted;
    RejectedEvent rejected;
    FillEvent fill;
    CancelledEvent cancelled;
    ReplacedEvent replaced;
    ExpiredEvent expired;
    BookLevelEvent book_level;
    HoldingsSetEvent holdings_set;
    PairCommand pair;      // kPairHalted, kPairResumed
    LoanFillEvent loan_fill;
    ObligationEvent obligation;
    CollateralEvent collateral;
    PublishReference reference_published;
    PairBandEvent band;
    MemberCommand member;  // kMemberAdmitted, kMemberSuspended
    EmergencyLevelEvent level_set;
    AuctionEvent auction;
    DeliveryEvent delivery;
  };
};

static_assert(std::is_trivially_copyable_v<Event>);
static_assert(sizeof(LoanFillEvent) <= sizeof(FillEvent), "time swaps must not grow Event");
static_assert(sizeof(EmergencyLevelEvent) <= sizeof(FillEvent), "levels must not grow Event");
static_assert(sizeof(CollateralEvent) <= sizeof(FillEvent), "collateral must not grow Event");
static_assert(sizeof(AuctionEvent) <= sizeof(FillEvent), "auctions must not grow Event");
static_assert(sizeof(DeliveryEvent) <= sizeof(FillEvent), "deliveries must not grow Event");

}  // namespace msx

#endif  // MSX_ENGINE_EVENT_H_
