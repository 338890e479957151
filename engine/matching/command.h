// Commands: the only way to change engine state. Each command is stamped by the sequencer
// with a gapless sequence number and a time, journaled, then applied. Replaying the same
// commands gives the same events, byte for byte.
//
// Commands are trivially copyable, fixed-size values so they can be queued and journaled
// without allocation. Unused fields must be zero (construct with `Command{}`).
#ifndef MSX_ENGINE_COMMAND_H_
#define MSX_ENGINE_COMMAND_H_

#include <cstdint>
#include <type_traits>

#include "engine/matching/types.h"

namespace msx {

enum class CommandType : std::uint8_t {
  kSubmitOffer = 1,
  kCancelOffer = 2,
  // ReplaceOffer with `lots` = the new OPEN lots: the meaning of ReplaceOffer in journals
  // written before kReplaceOffer (8) existed (journal format version 1). Kept so that those
  // journals replay exactly; nothing sends it any more (it raises exposure when it races
  // a fill: 10 lots, 6 filled unseen, "replace to 8" left 8 more open, 14 in all).
  kReplaceOfferOpenLots = 3,
  kAdvanceTime = 4,   // expires GTD offers whose expiry <= time
  kSetHoldings = 5,   // admin: declare an agency's total holdings of an instrument
  kHaltPair = 6,      // admin
  kResumePair = 7,    // admin
  // ReplaceOffer with `lots` = the new TOTAL lots (filled + open): open becomes
  // lots - filled; at or below what has filled, the rest is cancelled (ENGINE.md).
  kReplaceOffer = 8,
  // Admin: finished offers are purged this long after they finished (ENGINE.md,
  // "Retention"). The server sends it at start when its configuration differs from the
  // engine's; before the first one (every journal older than it) offers are kept forever.
  kSetOfferRetention = 9,
  // Time swaps (engine/ENGINE.md "Time swaps"):
  kSubmitTermOffer = 10,   // body `submit`: pair = term book, kSell = lend, kBuy = borrow,
                           // price = premium in basis points of the lent amount
  kCancelTermOffer = 11,   // body `cancel`: offer = term offer id
  kReturnObligation = 12,  // body `obligation`: the borrower returns `amount` units
  kRecallObligation = 13,  // body `obligation` (amount 0): the lender recalls the loan
};

struct SubmitOffer {
  AgencyId agency;
  PairId pair;
  Side side;
  TimeInForce tif;
  Lots lots;
  Price price;
  Lots min_fill;        // 0 = none
  TimeNs expiry;        // GTD only
  AgencyMask allow;     // 0 = any eligible agency
  AgencyMask deny;      // 0 = nobody excluded
  ClientOfferId client_id;
};

struct CancelOffer {
  AgencyId agency;      // must own the offer (else kUnknownOffer)
  OfferId offer;
};

// Body of kReplaceOffer and of the legacy kReplaceOfferOpenLots; only the meaning of
// `lots` differs.
struct ReplaceOffer {
  AgencyId agency;
  OfferId offer;
  Lots lots;            // kReplaceOffer: new total (filled + open); legacy: new open lots
  Price price;          // new price
};

struct SetHoldings {
  AgencyId agency;
  InstrumentId instrument;
  Amount total;         // available + reserved after the command; must be >= reserved
};

struct PairCommand {
  PairId pair;
};

struct SetOfferRetention {
  TimeNs retention;     // nanoseconds of command time; <= 0 = keep forever
};

// Body of kReturnObligation and kRecallObligation.
struct ObligationCommand {
  AgencyId agency;          // the borrower (return) or the lender (recall)
  ObligationId obligation;
  Amount amount;            // return: units of the instrument, 1..outstanding; recall: 0
};

struct Command {
  Seq seq;
  TimeNs time;
  CommandType type;
  union {
    SubmitOffer submit;
    CancelOffer cancel;
    ReplaceOffer replace;         // kReplaceOffer, kReplaceOfferOpenLots
    SetHoldings set_holdings;
    PairCommand pair;   // kHaltPair, kResumePair
    SetOfferRetention set_retention;
    ObligationCommand obligation;  // kReturnObligation, kRecallObligation
  };
};

static_assert(std::is_trivially_copyable_v<Command>);

}  // namespace msx

#endif  // MSX_ENGINE_COMMAND_H_
