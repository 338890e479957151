// GroupGenerator: a deterministic stream of plausible command groups (a command and the
// events the engine would have produced for it) made without an engine, for journal tests
// that need many varied records and do not care whether they replay. Test-only.
#ifndef MSX_ENGINE_TESTING_COMMAND_GROUPS_H_
#define MSX_ENGINE_TESTING_COMMAND_GROUPS_H_

#include <cstdint>
#include <random>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"

namespace msx::testing {

// A deterministic stream of plausible command groups: submits (accepted, sometimes a
// fill or two), cancels, holdings, halts, with a book-level event that the journal drops.
class GroupGenerator {
 public:
  explicit GroupGenerator(std::uint64_t seed) : rng_(seed) {}

  // Fills *cmd and *events for sequence number `seq`.
  void Make(Seq seq, Command* cmd, std::vector<Event>* events) {
    *cmd = Command{};
    events->clear();
    cmd->seq = seq;
    cmd->time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq) * 1000;
    auto ev = [&](EventType t) -> Event& {
      events->push_back(Event{});
      Event& e = events->back();
      e.seq = seq;
      e.time = cmd->time;
      e.type = t;
      return e;
    };
    switch (rng_() % 5) {
      case 0:
      case 1: {
        cmd->type = CommandType::kSubmitOffer;
        SubmitOffer& s = cmd->submit;
        s.agency = rng_() % 8;
        s.pair = rng_() % 4;
        s.side = rng_() % 2 ? Side::kBuy : Side::kSell;
        s.tif = TimeInForce::kGtc;
        s.lots = 1 + rng_() % 100;
        s.price = 1000 + rng_() % 100;
        s.client_id = seq;
        Event& a = ev(EventType::kAccepted);
        a.accepted.offer = seq;
        a.accepted.agency = s.agency;
        a.accepted.pair = s.pair;
        a.accepted.side = s.side;
        a.accepted.tif = s.tif;
        a.accepted.lots = s.lots;
        a.accepted.price = s.price;
        a.accepted.client_id = s.client_id;
        for (std::uint64_t k = rng_() % 3; k > 0; --k) {
          Event& f = ev(EventType::kFill);
          f.fill.fill_id = ++fills_;
          f.fill.pair = s.pair;
          f.fill.aggressor_side = s.side;
          f.fill.maker_offer = seq > 1 ? seq - 1 : 1;
          f.fill.taker_offer = seq;
          f.fill.maker_agency = (s.agency + 1) % 8;
          f.fill.taker_agency = s.agency;
          f.fill.lots = 1;
          f.fill.price = s.price;
          f.fill.base_amount = 10;
          f.fill.quote_amount = s.price;
          f.fill.maker_open = static_cast<Lots>(rng_() % 10);
          f.fill.taker_open = s.lots - 1;
        }
        Event& b = ev(EventType::kBookLevel);
        b.book_level.pair = s.pair;
        b.book_level.side = s.side;
        b.book_level.price = s.price;
        b.book_level.lots = s.lots;
        b.book_level.offer_count = 1;
        break;
      }
      case 2: {
        cmd->type = CommandType::kCancelOffer;
        cmd->cancel.agency = rng_() % 8;
        cmd->cancel.offer = 1 + rng_() % seq;
        Event& c = ev(EventType::kCancelled);
        c.cancelled.offer = cmd->cancel.offer;
        c.cancelled.agency = cmd->cancel.agency;
        c.cancelled.reason = CancelReason::kRequested;
        c.cancelled.lots = 5;
        break;
      }
      case 3: {
        cmd->type = CommandType::kSetHoldings;
        cmd->set_holdings.agency = rng_() % 8;
        cmd->set_holdings.instrument = rng_() % 6;
        cmd->set_holdings.total = static_cast<Amount>(rng_() % 1'000'000);
        Event& h = ev(EventType::kHoldingsSet);
        h.holdings_set.agency = cmd->set_holdings.agency;
        h.holdings_set.instrument = cmd->set_holdings.instrument;
        h.holdings_set.available = cmd->set_holdings.total;
        break;
      }
      default: {
        cmd->type = CommandType::kAdvanceTime;
        break;  // no events
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  std::uint64_t fills_ = 0;
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_COMMAND_GROUPS_H_
