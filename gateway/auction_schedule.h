// AuctionSchedule: when the server's clock owes an instrument an allocation auction
// (issue 15 s.3; engine/matching/AUCTION.md "The tick").
//
// An instrument whose emergency level's policy is MATCHING_MODE_CALL_AUCTION every N
// seconds is auctioned when the server's clock crosses a multiple of N seconds since the
// Unix epoch (a fixed grid: with N = 60, on each whole minute of UTC). The sequencer asks
// at each timer tick (server.time_tick_ms) and issues one sequenced, journaled RunAuction
// command per instrument due, stamped with the tick's time; so a replay or a drill
// reproduces every auction from the journal alone, and this schedule is never consulted
// again for them.
//
// The grid needs no state of its own beyond the time up to which it was consulted:
// - a new level takes effect at the next grid time after it was set;
// - after a restart the schedule starts from the journal's clock (the last journaled
//   command's time), so an auction whose grid time passed while the server was down runs
//   at the first tick, once, and one already journaled is not repeated;
// - a standby issues no ticks (its sequencer refuses the timer's commands) and follows the
//   primary's clock (Observe on each replicated command), so a promoted standby resumes
//   the primary's grid.
//
// Thread-safety: none; the sequencing role (gateway/sequencer.h) owns it.
#ifndef MSX_GATEWAY_AUCTION_SCHEDULE_H_
#define MSX_GATEWAY_AUCTION_SCHEDULE_H_

#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::gateway {

class AuctionSchedule {
 public:
  // `consulted_until`: the time up to which auctions are already accounted for (the
  // journal's last command time at start).
  explicit AuctionSchedule(TimeNs consulted_until) : consulted_until_(consulted_until) {}

  // The instruments owed an auction at `now`, in instrument id order, appended to `*due`:
  // those whose level's policy (engine.GetLevel, ref.level_policy) auctions every N s and
  // for which a multiple of N s lies in (consulted_until, now]. Then consulted_until = now
  // (when later). An instrument's level is read now, so an auction is owed only at a level
  // that auctions when the tick comes.
  void Due(const ReferenceData& ref, const Engine& engine, TimeNs now,
           std::vector<InstrumentId>* due);
  // A command sequenced elsewhere (replicated from the primary) at `time`: its auctions are
  // the primary's business, so the schedule moves past it.
  void Observe(TimeNs time) {
    if (time > consulted_until_) consulted_until_ = time;
  }
  TimeNs consulted_until() const { return consulted_until_; }

 private:
  TimeNs consulted_until_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_AUCTION_SCHEDULE_H_
