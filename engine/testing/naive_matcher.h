// NaiveMatcher: a deliberately simple, slow re-statement of the engine's rules, for the
// differential test only. Offers live in one vector scanned in full; the book is whatever
// open offers are marked in_book; priority is an arrival counter; level totals are
// recomputed by scanning. It shares no code with engine.cc beyond the public types, so a
// bug in the engine's data structures (levels, bitmaps, intrusive lists, best-price
// tracking, expiry heap, market-data bookkeeping) shows up as a different event stream.
//
// Semantics mirrored (see engine/matching/ENGINE.md): validation order, self-match cancels the
// incoming remainder, ineligible offers are skipped, min-fill/FOK are checked before any
// fill, expiry runs at the start of every command in (expiry, id) order, and book-level
// events follow the command's other events in first-touch order.
//
// Time swaps (ENGINE.md "Time swaps"; naive_term_books.cc): term offers in one more vector,
// candidates found by a full scan and sorted by (premium, arrival); the obligation ledger
// is a vector of loans, and what a borrower owes under an agreement, what is due, overdue,
// collectable or forfeit is recomputed by scanning it, never kept incrementally. Collateral
// (ENGINE.md "Collateral"): each loan records its pledge; pledges are reserved units of the
// borrower, released after the event that closes the loan, forfeit by a scan of the loans
// whose grace period is over.
#ifndef MSX_ENGINE_TESTING_NAIVE_MATCHER_H_
#define MSX_ENGINE_TESTING_NAIVE_MATCHER_H_

#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"

namespace msx::testing {

class NaiveMatcher {
 public:
  explicit NaiveMatcher(const ReferenceData& ref);
  void Apply(const Command& cmd, std::vector<Event>* out);
  HoldingInfo GetHoldings(AgencyId agency, InstrumentId instrument) const;
  std::size_t OpenOfferCount() const;

  // Time swaps: one loan and the obligation it opened (ENGINE.md "Obligations").
  struct Loan {
    ObligationId id;
    TermBookId book;
    InstrumentId instrument;
    std::uint32_t agreement;
    AgencyId lender;
    AgencyId borrower;
    Lots lots;
    std::int64_t premium_bps;
    Amount principal;
    Amount due_amount;
    Amount returned;
    TimeNs fill_time;
    TimeNs due_time;
    ObligationState state;
    bool recalled;
    Amount covered;  // satisfied by forfeited collateral
    CollateralState collateral_state;
    InstrumentId collateral_instrument;
    Amount collateral_amount;
    Amount collateral_forfeited;
  };
  const std::vector<Loan>& loans() const { return loans_; }
  std::size_t OpenTermOfferCount() const;
  // What is still owed of a loan: due - returned - covered.
  static Amount Outstanding(const Loan& l) { return l.due_amount - l.returned - l.covered; }
  // What `borrower` owes under agreement `agreement`: outstanding x reference value over its
  // open and overdue loans under it (a scan).
  MicroUsd Owed(std::uint32_t agreement, AgencyId borrower) const;
  // Makers passed over because the loan would exceed the borrower's credit (a rule the
  // event stream does not name), and loans whose premium was rounded up.
  std::uint64_t credit_skips() const { return credit_skips_; }
  std::uint64_t rounded_premiums() const { return rounded_premiums_; }
  // FOK or minimum-fill term offers cancelled unmet whose attempt skipped a maker for the
  // borrower's credit (the lots were there, the credit was not).
  std::uint64_t unmet_by_credit() const { return unmet_by_credit_; }
  // Makers passed over because the borrower could not pledge under any agreement with room.
  std::uint64_t collateral_skips() const { return collateral_skips_; }
  // Forfeits that closed the loan, and forfeits of a pledge worth less than what was owed.
  std::uint64_t forfeits_closing() const { return forfeits_closing_; }
  std::uint64_t forfeits_short() const { return forfeits_short_; }

 private:
  struct TermOffer {
    OfferId id;
    AgencyId agency;
    TermBookId book;
    Side side;
    TimeInForce tif;
    std::int64_t premium;
    Lots open;
    Lots filled;
    Lots min_fill;
    TimeNs expiry;
    AgencyMask allow;
    AgencyMask deny;
    ClientOfferId client_id;
    bool is_open;
    bool resting;
    std::uint64_t priority;
  };

  struct Offer {
    OfferId id;
    AgencyId agency;
    PairId pair;
    Side side;
    TimeInForce tif;
    Price price;
    Lots open;
    Lots filled;
    TimeNs expiry;
    AgencyMask allow;
    AgencyMask deny;
    ClientOfferId client_id;
    bool is_open;
    bool in_book;
    bool purged;  // past the retention window: its client id is free again
    std::uint64_t priority;
  };
  struct Touched {
    PairId pair;
    Side side;
    Price price;
    Lots lots;
    std::uint32_t count;
  };

  Event& Emit(EventType type);
  void Reject(RejectReason reason, AgencyId agency, OfferId offer, ClientOfferId client_id);
  void Touch(PairId pair, Side side, Price price);
  std::pair<Lots, std::uint32_t> LevelTotals(PairId pair, Side side, Price price) const;
  bool Eligible(const Offer& a, const Offer& b) const;
  std::vector<std::size_t> Candidates(const Offer& taker) const;
  void ReserveDelta(const Offer& o, Amount sign);
  Amount Reservation(const Offer& o) const;
  void Finish(Offer& o, CancelReason reason);
  void MatchAndRest(std::size_t taker_index);
  void Submit();
  void CancelCmd();
  void ReplaceCmd();
  void SetHoldingsCmd();
  void Expire();
  // Retention: finished offers in finishing order, a few purged per command (ENGINE.md).
  void Done(const Offer& o);
  void Purge();
  RejectReason CheckLotsPrice(const PairBook& pb, Lots lots, Price price) const;
  bool Fits(const PairBook& pb, Lots lots, Price price) const;

  // Time swaps (naive_term_books.cc).
  bool OwesOverdue(AgencyId agency, MineralId mineral) const;
  bool SharesAgreement(AgencyId a, AgencyId b, MineralId mineral) const;
  struct Pledge {
    InstrumentId instrument = 0;
    Amount amount = 0;  // 0 = none (the agreement asks for none)
  };
  // Whether `borrower` can pledge for a loan of `instrument` owing `due` under `ag`; if so,
  // the pledge (the first listed instrument of another mineral it holds enough of).
  std::optional<Pledge> PledgeFor(const Agreement& ag, InstrumentId instrument, AgencyId borrower,
                                  Amount due) const;
  // Whether agreement `i` contains `borrower`, covers the mineral of `instrument` and has
  // room for `due` units of it under the borrower's limit.
  bool HasRoom(std::uint32_t i, AgencyId borrower, InstrumentId instrument, Amount due) const;
  // The agreement a loan is made under (the first that contains both, covers the mineral,
  // has room and whose pledge the borrower can make), with the pledge; nullopt = skip.
  // `*room` tells whether some agreement had room at all.
  std::optional<std::pair<std::uint32_t, Pledge>> LoanAgreement(AgencyId lender, AgencyId borrower,
                                                                InstrumentId instrument, Amount due,
                                                                bool* room) const;
  // A borrow's submit (or growing replace) check: kNone, kCreditLimitExceeded or
  // kInsufficientCollateral.
  RejectReason BorrowCheck(AgencyId borrower, InstrumentId instrument, Amount due) const;
  void TermRelease(TermOffer& o);
  void EmitObligation(const Loan& l, ObligationEventKind kind, Amount amount);
  void EmitCollateral(const Loan& l, CollateralEventKind kind, Amount amount, Amount covered);
  // After the event that closed `l`: its pledge back to the borrower.
  void ReleasePledge(Loan& l);
  void ForfeitPledge(Loan& l);
  Amount PayLoan(Loan& l, Amount want);
  void TermTimeStep();
  void TermSubmit();
  // Walks the other side for taker `ti` (not resting) and makes its loans; true when it
  // stopped at its own agency's offer.
  bool TermMatch(std::size_t ti);
  // After TermMatch: the taker is filled, rests, or its remainder is cancelled.
  void TermFinish(std::size_t ti, bool self);
  void TermReplace();
  void TermCancel();
  void ReturnCmd();
  void RecallCmd();
  void Collect();

  const ReferenceData& ref_;
  std::vector<Offer> offers_;
  std::vector<HoldingInfo> holdings_;
  std::vector<bool> halted_;
  std::vector<Touched> touched_;
  std::uint64_t next_fill_id_ = 1;
  std::uint64_t next_priority_ = 1;
  TimeNs retention_ = 0;
  std::vector<std::pair<TimeNs, std::size_t>> done_;  // (finish time, index)
  std::size_t done_head_ = 0;
  std::vector<TermOffer> term_offers_;
  std::vector<Loan> loans_;
  std::uint64_t credit_skips_ = 0;
  std::uint64_t rounded_premiums_ = 0;
  std::uint64_t unmet_by_credit_ = 0;
  std::uint64_t collateral_skips_ = 0;
  std::uint64_t forfeits_closing_ = 0;
  std::uint64_t forfeits_short_ = 0;
  const Command* cmd_ = nullptr;
  std::vector<Event>* out_ = nullptr;
};

}  // namespace msx::testing

#endif  // MSX_ENGINE_TESTING_NAIVE_MATCHER_H_
