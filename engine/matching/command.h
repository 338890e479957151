// Commands: the only way to change engine state. Each command is stamped by the sequencer
// with a gapless sequence number and a time, journaled, then applied. Replaying the same
// commands gives the same events, byte for byte.
//
// Commands are trivially copyable, fixed-size values so they can be queued and journaled
// without allocation. Unused fields must be zero (construct with `Command{}`).
#ifndef MSX_ENGINE_COMMAND_H_
#define MSX_ENGINE_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "engine/matching/emergency.h"
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
  // Body `replace`: offer = term offer id, lots = new TOTAL lots (filled + open), price =
  // new premium bps; the rules of kReplaceOffer (ENGINE.md "Time swaps", "Replace").
  kReplaceTermOffer = 14,
  // Emergencies (issue 15; ENGINE.md "Live reference data and emergency levels"):
  // admin commands, numbers 20-29.
  kPublishReference = 20,   // an instrument's reference value and floor from a time on
  kAdmitMember = 21,        // an agency joins an agreement
  kSuspendMember = 22,      // an agency leaves an agreement
  kSetEmergencyLevel = 23,  // an instrument's emergency level
  // Deliveries (issue 15 s.3; ENGINE.md "Deliveries"), 24-29: the receiving agency (or an
  // admin) confirms that the units of delivery `delivery` arrived.
  kConfirmDelivery = 24,
  // Admin, no body: from this command on, term books follow the live reference data
  // (ENGINE.md "Time swaps", "Live reference data"): eligibility and the agreement a loan
  // is made under from the live members, credit used and pledges at the live reference
  // values, and a SuspendMember cancels the term offers that relied on the agreement.
  // One-way. A server journals it once, at the start of a new exchange; journals written
  // before it existed (format version 9 and older) never hold it, so they replay as before.
  kFollowLiveReference = 25,
  // Allocation auctions (issue 15 s.3; engine/matching/AUCTION.md "In the engine"), 30-34:
  // Time: runs the call auction of each book `instrument` drives (AUCTION.md "In the
  // engine"). Rejected (kNoCallAuction) when the instrument's level does not auction.
  kRunAuction = 30,
  // SubmitOffer with a declared need and priority tier: a buy offer that asks to be
  // allocated in call auctions. Offers without a need use kSubmitOffer (need 0, tier 0).
  kSubmitOfferWithNeed = 31,
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

// Body of kSubmitOfferWithNeed: a buy offer that declares a need for allocation auctions
// (AUCTION.md "In the engine"). `offer` is first, at the address of Command::submit, so
// that SubmitBody() reads either kind of submit as one.
struct SubmitOfferWithNeed {
  SubmitOffer offer;
  Amount need;          // base units, > 0
  PriorityTier tier;    // one the agency's configuration allows
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

struct PublishReference {
  InstrumentId instrument;
  MicroUsd reference_value;  // per unit, > 0
  MicroUsd floor;            // per unit, >= 0 (0 = none); may lie above the value
  // The first command at or after this time applies it (at once when not after the
  // command's own time). A later publication for the instrument replaces a pending one.
  TimeNs effective_time;
};

struct MemberCommand {
  std::uint32_t agreement;  // index in ReferenceData::agreements()
  AgencyId agency;
};

// Bytes of free text a SetEmergencyLevel carries (why the level changed).
inline constexpr std::size_t kMaxLevelReasonBytes = 60;

struct SetEmergencyLevel {
  InstrumentId instrument;
  EmergencyLevel level;
  std::uint8_t reason_size;            // <= kMaxLevelReasonBytes
  char reason[kMaxLevelReasonBytes];   // UTF-8, not terminated; bytes past reason_size zero
};

struct RunAuction {
  InstrumentId instrument;
};

struct ConfirmDelivery {
  AgencyId agency;          // the delivery's receiver, or an admin agency
  DeliveryId delivery;
};

struct Command {
  Seq seq;
  TimeNs time;
  CommandType type;
  union {
    SubmitOffer submit;
    CancelOffer cancel;
    ReplaceOffer replace;         // kReplaceOffer, kReplaceOfferOpenLots, kReplaceTermOffer
    SetHoldings set_holdings;
    PairCommand pair;   // kHaltPair, kResumePair
    SetOfferRetention set_retention;
    ObligationCommand obligation;  // kReturnObligation, kRecallObligation
    PublishReference publish_reference;
    MemberCommand member;          // kAdmitMember, kSuspendMember
    SetEmergencyLevel set_level;
    RunAuction run_auction;
    SubmitOfferWithNeed submit_need;
    ConfirmDelivery confirm_delivery;
  };
};

// The offer of a kSubmitOffer or kSubmitOfferWithNeed command.
inline const SubmitOffer& SubmitBody(const Command& c) {
  return c.type == CommandType::kSubmitOfferWithNeed ? c.submit_need.offer : c.submit;
}

static_assert(std::is_trivially_copyable_v<Command>);
// The emergency commands fit in the union of the order commands: no command grew.
static_assert(sizeof(SetEmergencyLevel) <= sizeof(SubmitOffer));
static_assert(sizeof(PublishReference) <= sizeof(SubmitOffer));

}  // namespace msx

#endif  // MSX_ENGINE_COMMAND_H_
