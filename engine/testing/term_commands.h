// TermCommands: a seeded stream over the TermUniverse that mixes time swaps (lend and
// borrow offers, GTC/GTD/IOC/FOK, minimum fills, premiums in basis points; term cancels and
// replaces; full, partial and
// bad returns; recalls; jumps of hours to days that pass due times) with the pair-book
// traffic of RandomCommands, which moves holdings (so that borrowers sell what they
// borrowed, fall overdue and are paid from later receipts). Now and then it cuts a
// borrower's holding of what it owes, so that settlements fall short. Deterministic for a
// given seed. Test-only (engine/matching/time_swaps_differential_test.cc).
#ifndef MSX_ENGINE_TESTING_TERM_COMMANDS_H_
#define MSX_ENGINE_TESTING_TERM_COMMANDS_H_

#include <cstdint>
#include <random>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/testing/random_commands.h"

namespace msx::testing {

class TermCommands {
 public:
  struct Options {
    // Probability weights per command kind (out of their sum).
    int pair = 50;  // a RandomCommands command (pair books, holdings, halts, garbage)
    int term_submit = 25;
    int term_cancel = 6;
    int term_replace = 4;        // new total lots and premium of an open term offer
    int return_obligation = 8;
    int recall = 3;
    int advance_days = 3;        // an AdvanceTime 0..48 hours later
    int squeeze = 3;             // SetHoldings: a borrower's holding of what it owes, cut
    int term_garbage = 2;        // unknown books, agencies, ids; bad tifs, premiums
    // A FOK or minimum-fill offer for all that one agency rests on the other side of a
    // book: it counts makers the borrower's credit lets through one by one, not together.
    int fill_probe = 3;
    Amount max_holding = 3'000;  // of each instrument per agency at the start
  };

  TermCommands(std::uint64_t seed, Options options);

  Command Next();
  // Feeds back the events of the last command (all of them).
  void Observe(const std::vector<Event>& events);

 private:
  std::uint64_t Uniform(std::uint64_t n) { return rng_() % n; }
  std::int64_t Premium();

  struct Open {
    AgencyId agency;
    OfferId offer;
    TermBookId book;
    Side side;
    TimeNs expiry;  // GTD; 0 = none
    std::int64_t premium;
    Lots lots;      // open, as far as the events told
  };
  struct Owed {
    ObligationId id;
    AgencyId lender;
    AgencyId borrower;
    InstrumentId instrument;
    Amount outstanding;
    TimeNs due_time;
    bool closed;
    bool overdue;
  };

  std::mt19937_64 rng_;
  Options options_;
  RandomCommands pairs_;
  Seq seq_ = 0;
  TimeNs time_ = 1'000'000;
  ClientOfferId client_id_ = 0;
  std::vector<Open> open_;  // term offers open as far as the events told
  TimeNs last_expiry_ = 0;  // of the last term submit (AcceptedEvent has no expiry)
  OfferId max_offer_ = 0;
  std::vector<Owed> owed_;  // every obligation, by id - 1
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_TERM_COMMANDS_H_
