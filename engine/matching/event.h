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

struct HoldingsSetEvent {
  AgencyId agency;
  InstrumentId instrument;
  Amount available;
  Amount reserved;
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
  };
};

static_assert(std::is_trivially_copyable_v<Event>);

}  // namespace msx

#endif  // MSX_ENGINE_EVENT_H_
