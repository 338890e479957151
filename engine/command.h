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

#include "engine/types.h"

namespace msx {

enum class CommandType : std::uint8_t {
  kSubmitOffer = 1,
  kCancelOffer = 2,
  kReplaceOffer = 3,
  kAdvanceTime = 4,   // expires GTD offers whose expiry <= time
  kSetHoldings = 5,   // admin: declare an agency's total holdings of an instrument
  kHaltPair = 6,      // admin
  kResumePair = 7,    // admin
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

struct ReplaceOffer {
  AgencyId agency;
  OfferId offer;
  Lots lots;            // new open lots
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

struct Command {
  Seq seq;
  TimeNs time;
  CommandType type;
  union {
    SubmitOffer submit;
    CancelOffer cancel;
    ReplaceOffer replace;
    SetHoldings set_holdings;
    PairCommand pair;   // kHaltPair, kResumePair
  };
};

static_assert(std::is_trivially_copyable_v<Command>);

}  // namespace msx

#endif  // MSX_ENGINE_COMMAND_H_
