// The allocation auction's algorithm (issue 15, section 3): one call auction of one pair
// book, uncrossed at one price and allocated tier by tier, pro rata to declared need,
// capped per agency, in whole lots. The rules, with worked examples, are in
// engine/matching/AUCTION.md; this header is the contract.
//
// Pure and deterministic: the fills are a function of the inputs only (the order of the
// input spans does not matter: every order inside is by time priority, then offer id).
// Integer arithmetic only, 128-bit where a product of two 64-bit quantities is formed.
// Allocation-bounded: a CallAuction keeps its scratch buffers between runs and grows them
// only when a run has more offers than any before; the fills vector of the result is
// reused (cleared, its capacity kept).
//
// Not thread-safe: one CallAuction per thread (the engine owns one).
#ifndef MSX_ENGINE_INTERNAL_AUCTION_H_
#define MSX_ENGINE_INTERNAL_AUCTION_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/matching/emergency.h"
#include "engine/matching/types.h"

namespace msx::internal {

// A buy offer's tier is a PriorityTier (emergency.h): 1 DEFENCE, 2 ESSENTIAL, 3 GENERAL
// (kNumPriorityTiers of them); a lower value is served first. Shares are in basis points
// of kFullShareBps.

// A resting buy offer taking part in the auction.
struct AuctionBuy {
  OfferId offer = 0;
  AgencyId agency = 0;
  PriorityTier tier{};         // 1..kNumPriorityTiers
  Lots lots = 0;               // open lots, > 0: the most the offer may receive
  Price limit = 0;             // the highest price it pays, > 0, a multiple of the tick
  Amount need = 0;             // declared need in base units, >= 0 (0: never allocated)
  std::uint64_t priority = 0;  // time priority: smaller is earlier (ties: smaller offer id)
};

// A resting sell offer: the auction's supply.
struct AuctionSell {
  OfferId offer = 0;
  AgencyId agency = 0;
  Lots lots = 0;               // open lots, > 0
  Price limit = 0;             // the lowest price it takes, > 0, a multiple of the tick
  std::uint64_t priority = 0;  // time priority: smaller is earlier (ties: smaller offer id)
};

struct AuctionParams {
  Amount lot_size = 1;   // base units per lot, > 0: a need of n units claims ceil(n / lot_size)
  Price tick = 1;        // > 0
  Price reference = 0;   // the pair's reference price, > 0
  bool price_control = false;  // true: the auction prices at `reference`, nothing else
  // The most one agency may be allocated, as a share of the auction's supply (the lots
  // offered at or below the auction price), in basis points: 0..10000 (10000 = no cap).
  std::int32_t agency_cap_bps = kFullShareBps;
  // eligible[a] has bit b set when agency a may trade with agency b. A buyer a and a seller
  // b trade only when a != b, bit b of eligible[a] and bit a of eligible[b] are set. Every
  // agency id in the offers must be below eligible.size() (<= kMaxAgencies).
  absl::Span<const AgencyMask> eligible;
};

struct AuctionFill {
  OfferId buy_offer = 0;
  OfferId sell_offer = 0;
  AgencyId buyer = 0;
  AgencyId seller = 0;
  PriorityTier tier{};      // the buy offer's tier
  Lots lots = 0;
  Price price = 0;       // the auction price, the same for every fill of one auction
};

struct AuctionResult {
  // False when no price has executable volume (then every other field is 0 and there are
  // no fills).
  bool crossed = false;
  Price price = 0;
  Lots executable = 0;   // min(demand, supply) at the price, eligibility and caps ignored
  Lots supply = 0;       // sell lots with a limit at or below the price
  Lots demand = 0;       // claimed buy lots with a limit at or above the price
  Lots agency_cap = 0;   // floor(supply * agency_cap_bps / 10000)
  Lots executed = 0;     // sum of the fills' lots (<= executable)
  // In allocation order: tier by tier; within a tier, supply pool by pool (AUCTION.md);
  // within a pool, buying agencies by the time priority of their earliest offer in the
  // tier; each agency's lots go to its offers and come from the pool's offers in time
  // priority.
  std::vector<AuctionFill> fills;
};

class CallAuction {
 public:
  CallAuction() = default;
  CallAuction(const CallAuction&) = delete;
  CallAuction& operator=(const CallAuction&) = delete;

  // Runs one auction and replaces *result with its outcome. Offer ids need not be sorted
  // or dense; they should be unique (they are the last tie-break).
  //
  // Returns InvalidArgument, naming the field and the offer, when an offer or a parameter
  // is out of range (lots or limit <= 0, a limit off the tick, a negative need, an unknown
  // tier, an agency outside `eligible`), or when the sum of the sell lots, of the buy
  // offers' claims or of their needs exceeds int64; *result is then cleared (not crossed).
  absl::Status Run(absl::Span<const AuctionBuy> buys, absl::Span<const AuctionSell> sells,
                   const AuctionParams& params, AuctionResult* result);

 private:
  // One distinct limit price with the claimed buy lots and the sell lots at it.
  struct PricePoint {
    Price price;
    Lots buy;
    Lots sell;
  };
  // A buy offer at or above the auction price, with what it may still receive.
  // The sort key is copied in so that sorting never reads the input offers.
  struct Bid {
    std::uint32_t group;      // tier * kMaxAgencies + agency
    std::uint32_t index;      // into the input span
    std::uint64_t priority;
    OfferId offer;
    Lots left;
  };
  // A sell offer at or below the auction price, with what it still has.
  struct Ask {
    AgencyMask pool;          // the buying agencies its seller may trade with
    std::uint64_t priority;
    OfferId offer;
    std::uint32_t index;
    Lots left;
  };
  // One agency's bids in one tier: bids_[first, end) in time priority.
  struct Claimant {
    std::uint32_t first;
    std::uint32_t end;
    std::uint32_t cursor;     // the next bid with lots left
    AgencyId agency;
    PriorityTier tier;
    std::uint64_t priority;   // of the earliest bid
    OfferId offer;            // of the earliest bid (priority tie-break)
    Amount need;              // sum of the bids' declared needs: the pro-rata weight
    Lots claim_left;          // sum of the bids' lots still claimable
  };
  // The sell offers of the agencies that may trade with the same set of buying agencies.
  struct Pool {
    AgencyMask buyers;        // buying agencies eligible with every seller in the pool
    std::uint32_t first;      // asks_[first, end) in time priority
    std::uint32_t end;
    std::uint32_t cursor;
    std::uint64_t priority;   // of the earliest ask
    OfferId offer;
    Lots left;
  };
  // One water-filling participant (AUCTION.md, "Allocation").
  struct Share {
    std::uint32_t claimant;
    Amount weight;
    Lots claim;               // the most it may receive now (claim and cap left)
    Lots lots;                // the result
    unsigned __int128 remainder;
  };

  void Uncross(Lots total_buy, const AuctionParams& params, AuctionResult* result);
  // Splits `supply` lots among shares_ (weight > 0, claim > 0) by water-filling with the
  // largest remainder; sets Share::lots.
  void WaterFill(Lots supply);
  void EmitFills(Claimant& claimant, Pool& pool, Lots lots, Price price,
                 absl::Span<const AuctionBuy> buys, absl::Span<const AuctionSell> sells,
                 std::vector<AuctionFill>* fills);

  std::vector<Lots> claims_;  // per input buy: min(lots, ceil(need / lot_size))
  std::vector<PricePoint> points_;
  // Per tick between the lowest and the highest limit, when that range is small: the
  // curves are then built without sorting (AUCTION.md, "Cost").
  std::vector<PricePoint> buckets_;
  std::vector<Bid> bids_;
  std::vector<Ask> asks_;
  std::vector<Claimant> claimants_;
  std::vector<Pool> pools_;
  std::vector<Share> shares_;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_AUCTION_H_
