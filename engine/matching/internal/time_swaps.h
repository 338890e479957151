// Time swaps inside the engine: term books (one per instrument and tenor), lend and borrow
// offers priced in basis points of premium, loans (the near leg) and the obligation ledger
// (return, settlement at the due time, overdue, collection, recall). engine/ENGINE.md,
// "Time swaps", states the rules; this class is the engine's only code for them, driven by
// four hooks in Engine::Impl (time step, the term commands, the end of every command, the
// overdue check of a pair-book sale).
//
// Pure and deterministic like the rest of the engine: integer arithmetic only (128-bit
// intermediates), time only from the command. Offers and obligations live in vectors
// reserved at Reset; a term book's two sides get their dense level arrays on its first
// offer. Steady state allocates only when those vectors or heaps outgrow their reservation.
//
// Thread-safety: none; owned by the engine's single thread.
#ifndef MSX_ENGINE_MATCHING_INTERNAL_TIME_SWAPS_H_
#define MSX_ENGINE_MATCHING_INTERNAL_TIME_SWAPS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/internal/client_index.h"
#include "engine/matching/event.h"
#include "engine/matching/internal/level_bitmap.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::internal {

// Premiums are whole basis points of the lent amount, 0..kMaxPremiumBps (0 = a swap line
// with no premium; 10000 = 100 %, the borrower returns twice what it took).
inline constexpr std::int64_t kMaxPremiumBps = 10000;

// amount due = principal + ceil(principal * premium_bps / 10000): the premium is rounded
// UP to a whole base unit, in the lender's favour. nullopt when it exceeds int64.
std::optional<Amount> AmountDue(Amount principal, std::int64_t premium_bps);

class TimeSwaps {
 public:
  // REQUIRES: `ref` and `*holdings` outlive this object; `*holdings` is indexed
  // [agency * instruments + instrument] (the engine's own holdings table).
  TimeSwaps(const ReferenceData& ref, std::vector<HoldingInfo>* holdings);
  TimeSwaps(const TimeSwaps&) = delete;
  TimeSwaps& operator=(const TimeSwaps&) = delete;

  // Forgets everything (empty books, no obligations); reserves room for
  // `expected_offers` term offers and as many obligations.
  void Reset(std::size_t expected_offers);

  // True when no term offer was ever accepted (then nothing else happened either): the
  // engine then writes its snapshot without a time-swap section.
  bool Empty() const { return offers_.empty(); }

  // False when AdvanceTime and CollectOverdue would do nothing, whatever the command's
  // time: no GTD term offer can expire, no obligation can fall due and none is overdue
  // (true from the first GTD term offer or loan on, until the last such time has passed
  // and nothing is overdue). Inline, so that a market without term activity pays one
  // predictable branch per command.
  bool Pending() const noexcept {
    // Bitwise on ints, not &&: one branch, not three.
    return (static_cast<int>(expiries_.empty()) & static_cast<int>(dues_.empty()) &
            static_cast<int>(groups_.empty())) == 0;
  }

  // The time step of every command, after pair-book expiry: expires GTD term offers with
  // expiry <= cmd.time in (expiry, id) order, then settles obligations with due_time <=
  // cmd.time in (due_time, id) order, then hands the pledges of obligations overdue since
  // due_time + grace <= cmd.time to their lenders in (due_time + grace, id) order.
  void AdvanceTime(const Command& cmd, std::vector<Event>* out) noexcept;

  // kSubmitTermOffer, kCancelTermOffer, kReplaceTermOffer, kReturnObligation,
  // kRecallObligation.
  void Apply(const Command& cmd, std::vector<Event>* out) noexcept;

  // The end of every command: where a borrower with overdue obligations of an instrument
  // holds available units of it, its overdue obligations of that instrument collect them,
  // oldest overdue first ((due_time, id) order); groups in (borrower, instrument) order.
  // Cost: one holdings check per (borrower, instrument) group with an overdue obligation
  // (bounded by agencies x instruments, not by the number of overdue obligations), plus
  // the obligations actually paid. One branch when nothing is overdue.
  void CollectOverdue(const Command& cmd, std::vector<Event>* out) noexcept;

  // The emergency level of `instrument` changed (SetEmergencyLevel, or a loaded state):
  // recalls of its loans follow the level's policy (Reset: every instrument NORMAL).
  void SetLevel(InstrumentId instrument, EmergencyLevel level) noexcept {
    levels_[instrument] = level;
  }

  // ---- Live reference data (ENGINE.md "Time swaps", "Live reference data") ----
  // Until FollowLive, term books use the configuration's memberships and reference values
  // whatever the engine's live reference data says (journals of format version 9 and
  // older replay so). The engine calls the three functions below only once it follows.
  bool FollowsLive() const noexcept { return live_; }
  // From now on (one-way): eligibility, the agreement a loan is made under and credit
  // limits use `members` (per agreement), credit used and pledges `values` (per
  // instrument); credit used is re-valued at once. REQUIRES: CanRevalue(values).
  void FollowLive(const std::vector<AgencyMask>& members, const std::vector<MicroUsd>& values);
  // True when every borrower's credit used, re-valued at `values` (per instrument), fits
  // int64. Cost: one pass over the obligations.
  bool CanRevalue(const std::vector<MicroUsd>& values) const;
  // The reference value of `instrument` changed: credit used is re-valued, later loans,
  // pledges and forfeits use it. REQUIRES: FollowsLive(), CanRevalue with it.
  void SetValue(InstrumentId instrument, MicroUsd value);
  // Agreement `agreement` now has `members`; eligibility follows at once. When it is a
  // suspension of `suspended`, that agency's open term offers that could trade with some
  // agency they accept before and with none after are cancelled (kTermCancelled,
  // kMemberSuspended, in term offer id order, lends' reservations released).
  // REQUIRES: FollowsLive().
  void SetMembers(const Command& cmd, std::uint32_t agreement, AgencyMask members,
                  std::optional<AgencyId> suspended, std::vector<Event>* out);
  // The reference value term books use for `instrument` (the configuration's until
  // FollowLive).
  MicroUsd Value(InstrumentId instrument) const noexcept { return values_[instrument]; }

  // True when `agency` owes an overdue obligation of an instrument of `mineral`: its new
  // lend offers and pair-book offers that give that mineral are rejected.
  bool SaleBlocked(AgencyId agency, MineralId mineral) const noexcept {
    return !groups_.empty() && overdue_by_mineral_[agency * num_minerals_ + mineral] != 0;
  }

  // The earliest term-offer expiry, obligation due time or collateral forfeit time that may
  // still be pending (never later than the truth), or nullopt.
  std::optional<TimeNs> NextDue() const;

  // ---- Queries ----
  std::optional<OfferInfo> GetTermOffer(OfferId id) const;
  std::optional<ObligationInfo> GetObligation(ObligationId id) const;
  std::vector<ObligationInfo> ListObligations(std::optional<AgencyId> agency) const;
  MicroUsd CreditUsed(std::uint32_t agreement, AgencyId borrower) const;

  // True when some loan ever required collateral: the engine then writes engine state
  // version 5, whose obligation records carry the pledge (SNAPSHOT.md).
  bool AnyPledge() const { return pledges_ != 0; }
  // True when some term offer was FOK or carried a minimum fill: the engine then writes
  // engine state version 7, whose term offer records carry the minimum fill (SNAPSHOT.md).
  bool AnyOrderTypes() const { return order_types_ != 0; }
  // True when some obligation was recalled, had its pledge forfeit or released: the engine
  // then writes engine state version 9, whose obligation records carry the sequence
  // numbers of those commands (SNAPSHOT.md), so that reports rebuilt from the journal can
  // show each obligation as that command left it.
  bool AnyChangeSeqs() const { return change_seqs_ != 0; }

  // ---- Snapshots (the section after the pair books in engine state version 3 to 9) ----
  // `with_collateral`: the obligation records of version 5 (REQUIRES: true when AnyPledge);
  // `with_min_fill`: the term offer records of version 7 (REQUIRES: true when
  // AnyOrderTypes); `with_change_seqs`: the obligation records of version 9 (REQUIRES:
  // true when AnyChangeSeqs, and then with_collateral too).
  void Save(std::string* out, bool with_collateral, bool with_min_fill,
            bool with_change_seqs) const;
  // Restores a state written by Save into a freshly Reset object (whose holdings the
  // engine has already loaded). Errors are DataLoss naming the offset, counted from
  // `base_offset`, the position of `bytes` in the whole snapshot.
  absl::Status Load(absl::string_view bytes, std::size_t base_offset, bool with_collateral,
                    bool with_min_fill, bool with_change_seqs);
  // Adds what the open lend offers and the pledged collateral reserve to
  // `(*reserved)[agency * instruments + instrument]` (the engine checks its holdings'
  // reserved against the sum). False on overflow.
  bool AddReservations(std::vector<Amount>* reserved) const;

 private:
  struct TermOffer {
    OfferId prev = 0;
    OfferId next = 0;
    Lots open = 0;
    Lots filled = 0;
    Lots original = 0;
    Lots min_fill = 0;  // as submitted; applies to the submit's immediate execution only
    std::int64_t premium = 0;
    TimeNs expiry = 0;
    AgencyMask allow = 0;
    AgencyMask deny = 0;
    AgencyMask accept = 0;  // (allow or everyone) minus deny
    ClientOfferId client_id = 0;
    Seq accepted_seq = 0;
    TimeNs accepted_time = 0;
    TermBookId book = 0;
    AgencyId agency = 0;
    Side side = Side::kBuy;  // kSell = lend, kBuy = borrow
    TimeInForce tif = TimeInForce::kGtc;
    OfferStatus status = OfferStatus::kOpen;
  };
  struct Level {
    OfferId head = 0;
    OfferId tail = 0;
    Lots lots = 0;
    std::uint32_t count = 0;
  };
  struct Side_ {
    std::vector<Level> levels;  // index = premium bps; empty until the book's first offer
    LevelBitmap bits;
  };
  struct Book {
    Side_ lends;    // asks: the lowest premium is best
    Side_ borrows;  // bids: the highest premium is best
  };
  struct Obligation {
    ObligationId id = 0;
    TermBookId book = 0;
    InstrumentId instrument = 0;
    std::uint32_t agreement = 0;
    AgencyId lender = 0;
    AgencyId borrower = 0;
    OfferId lend_offer = 0;
    OfferId borrow_offer = 0;
    Lots lots = 0;
    std::int64_t premium = 0;
    Amount principal = 0;
    Amount due_amount = 0;
    Amount returned = 0;
    Amount covered = 0;  // satisfied by forfeited collateral
    TimeNs fill_time = 0;
    TimeNs due_time = 0;
    ObligationState state = ObligationState::kOpen;
    bool recalled = false;
    CollateralState collateral_state = CollateralState::kNone;
    InstrumentId collateral_instrument = 0;
    Amount collateral_amount = 0;
    Amount collateral_forfeited = 0;
    // The commands that first recalled it, forfeited its pledge, released its pledge (all
    // of it, on payment); 0 = not (yet), or before engine state version 9.
    Seq recalled_seq = 0;
    Seq forfeited_seq = 0;
    Seq released_seq = 0;
    // While overdue: neighbours in its group's list, in (due_time, id) order; 0 = none.
    ObligationId ov_prev = 0;
    ObligationId ov_next = 0;
  };
  // The overdue obligations of one borrower in one instrument: they all draw on the same
  // holding, so collection looks at the holding once, not at each obligation.
  struct OverdueGroup {
    std::uint32_t key = 0;  // borrower * instruments + instrument
    ObligationId head = 0;  // oldest overdue first
    ObligationId tail = 0;
  };
  // What a loan would pledge: `amount` units of `instrument` (amount 0: nothing).
  struct Pledge {
    InstrumentId instrument = 0;
    Amount amount = 0;
  };
  struct TimedEntry {  // min-heap entry: (time, id)
    TimeNs time;
    std::uint64_t id;
  };
  struct TimedLater {
    bool operator()(const TimedEntry& a, const TimedEntry& b) const {
      return a.time != b.time ? a.time > b.time : a.id > b.id;
    }
  };

  HoldingInfo& H(AgencyId agency, InstrumentId instrument) noexcept {
    return (*holdings_)[agency * num_instruments_ + instrument];
  }
  const HoldingInfo& H(AgencyId agency, InstrumentId instrument) const noexcept {
    return (*holdings_)[agency * num_instruments_ + instrument];
  }
  TermOffer& Offer(OfferId id) noexcept { return offers_[id - 1]; }
  const TermOffer& Offer(OfferId id) const noexcept { return offers_[id - 1]; }
  Obligation& Ob(ObligationId id) noexcept { return obligations_[id - 1]; }
  Side_& SideOf(TermBookId book, Side side) noexcept {
    return side == Side::kSell ? books_[book].lends : books_[book].borrows;
  }
  MineralId MineralOf(TermBookId book) const noexcept {
    return ref_.instruments()[ref_.term_books()[book].instrument].mineral;
  }
  MicroUsd& Exposure(std::uint32_t agreement, AgencyId borrower) noexcept {
    return exposure_[agreement * num_agencies_ + borrower];
  }
  // What `borrower` may owe under agreement `g`: its configured limit when the
  // configuration made it a member, else (admitted live) the agreement's default.
  MicroUsd CreditLimit(std::size_t g, AgencyId borrower) const noexcept {
    const Agreement& ag = ref_.agreements()[g];
    return (ag.members >> borrower) & 1 ? ag.credit_limit[borrower] : ag.default_credit_limit;
  }
  // eligible_ from members_.
  void RecomputeEligibility();
  // Credit used of every (agreement, borrower) at `values`: the sum over its open and
  // overdue obligations of outstanding x value, into *exposure. False when one exceeds
  // int64 (then *exposure is partial).
  bool ComputeExposure(const std::vector<MicroUsd>& values,
                       std::vector<MicroUsd>* exposure) const;
  static Amount Outstanding(const Obligation& ob) noexcept {
    return ob.due_amount - ob.returned - ob.covered;
  }

  void Submit(const Command& cmd, std::vector<Event>* out) noexcept;
  void Cancel(const Command& cmd, std::vector<Event>* out) noexcept;
  void Replace(const Command& cmd, std::vector<Event>* out) noexcept;
  void Return(const Command& cmd, std::vector<Event>* out) noexcept;
  void Recall(const Command& cmd, std::vector<Event>* out) noexcept;
  void Reject(const Command& cmd, RejectReason reason, AgencyId agency, std::uint64_t target,
              ClientOfferId client_id, std::vector<Event>* out) noexcept;

  // The first agreement (configuration order) that contains both agencies, covers the
  // book's mineral, has room under the borrower's credit limit for `due` units and whose
  // collateral (if it requires any) the borrower can pledge, with that pledge in
  // `*pledge`; -1 if none.
  int PickAgreement(TermBookId book, AgencyId lender, AgencyId borrower, Amount due,
                    Pledge* pledge) const noexcept;
  // A borrow of `due` units: kNone when some agreement containing `borrower` and covering
  // the book's mineral has room for it and its collateral (if any) is available;
  // kInsufficientCollateral when some has room but none of those has its collateral;
  // kCreditLimitExceeded when none has room.
  RejectReason BorrowCheck(TermBookId book, AgencyId borrower, Amount due) const noexcept;
  // The pledge agreement `ag` requires of `borrower` for a loan of `due` units of
  // `instrument`: the first accepted collateral instrument not of the loan's mineral of
  // which the borrower holds enough available units. False when the agreement requires
  // collateral and none is available (or the amount overflows); *pledge is {0, 0} when it
  // requires none.
  bool CollateralFor(const Agreement& ag, InstrumentId instrument, AgencyId borrower,
                     Amount due, Pledge* pledge) const noexcept;

  void EnsureAllocated(TermBookId book);
  void Link(OfferId id, TermOffer& o) noexcept;
  void Unlink(OfferId id, TermOffer& o) noexcept;
  // Takes open offer `id` out of its book, releases a lend's reservation, marks `status`.
  void Remove(OfferId id, TermOffer& o, OfferStatus status) noexcept;
  void Match(const Command& cmd, OfferId taker_id, std::vector<Event>* out) noexcept;
  // The lots Match would lend or borrow for taker `taker_id` (accepted, not linked), up to
  // `need`: the same walk in the same order, stopping at a self-match, skipping what Match
  // skips, with each loan it would make applied to the credit used and the borrower's
  // available collateral (so that later makers see them as Match's would) and undone
  // before it returns. Exact, not an estimate: FOK and minimum fill rest on it.
  Lots Fillable(OfferId taker_id, Lots need) noexcept;
  // Cancels taker `id`'s remainder (never linked): releases a lend's reservation and
  // emits kTermCancelled with `reason` and the lots that were open.
  void CancelTaker(const Command& cmd, OfferId id, CancelReason reason,
                   std::vector<Event>* out) noexcept;
  // Opens the loan between maker and taker for `lots` under `agreement`.
  void Lend(const Command& cmd, OfferId maker_id, OfferId taker_id, Lots lots,
            std::uint32_t agreement, const Pledge& pledge, std::vector<Event>* out) noexcept;
  // Moves up to `want` units of the obligation's instrument from the borrower's available
  // to the lender's; returns the amount moved.
  Amount Pay(Obligation& ob, Amount want) noexcept;
  void Settle(const Command& cmd, Obligation& ob, std::vector<Event>* out) noexcept;
  // After `ob` closed by payment: a pledge still held goes back to the borrower.
  void ReleasePledge(const Command& cmd, Obligation& ob, std::vector<Event>* out) noexcept;
  // The grace period of overdue `ob` is over: its lender takes as much of the pledge as
  // covers what is still owed (ENGINE.md "Collateral"), the borrower gets the rest back.
  // REQUIRES: ob is overdue and its collateral pledged.
  void Forfeit(const Command& cmd, Obligation& ob, std::vector<Event>* out) noexcept;
  Event& CollateralEventFor(const Command& cmd, const Obligation& ob, CollateralEventKind kind,
                            Amount amount, Amount covered, std::vector<Event>* out) noexcept;
  // Queues the forfeit of `ob`'s pledge at due_time + grace.
  void ScheduleForfeit(const Obligation& ob);
  Event& ObligationEventFor(const Command& cmd, const Obligation& ob, ObligationEventKind kind,
                            Amount amount, std::vector<Event>* out) noexcept;
  // Links `ob` into its (borrower, instrument) group, keeping (due_time, id) order (an
  // append in practice: obligations fall overdue in that order).
  void MarkOverdue(Obligation& ob) noexcept;
  // Unlinks `ob` from its group (dropping an emptied group) and closes it.
  // REQUIRES: ob is overdue and paid in full.
  void CloseOverdue(Obligation& ob) noexcept;
  OfferInfo Info(OfferId id) const;
  ObligationInfo Info(const Obligation& ob) const;

  const ReferenceData& ref_;
  std::vector<HoldingInfo>* holdings_;
  std::size_t num_agencies_ = 0;
  std::size_t num_instruments_ = 0;
  std::size_t num_minerals_ = 0;
  AgencyMask valid_agencies_ = 0;
  // eligible_[book * agencies + agency]: agencies sharing an agreement covering the
  // book's mineral with `agency` (not itself).
  std::vector<AgencyMask> eligible_;
  std::vector<Book> books_;
  std::vector<TermOffer> offers_;       // id = index + 1
  std::vector<Obligation> obligations_;  // id = index + 1
  ClientIndex client_index_;  // (agency, client id) -> term offer id; never erased
  std::vector<TimedEntry> expiries_;  // GTD term offers, lazy deletion
  std::vector<TimedEntry> dues_;      // open obligations, lazy deletion (recalls re-push)
  std::vector<TimedEntry> forfeits_;  // overdue pledged obligations at due + grace, lazy
  std::uint64_t pledges_ = 0;         // obligations that ever carried a pledge
  std::uint64_t order_types_ = 0;     // term offers that were FOK or had a minimum fill
  std::uint64_t change_seqs_ = 0;     // obligations with a recalled/forfeited/released seq
  // Scratch for Fillable: what each would-be loan added, to undo it.
  struct DryLoan {
    std::uint32_t agreement;
    AgencyId borrower;
    MicroUsd exposure;
    Pledge pledge;
  };
  std::vector<DryLoan> dry_;
  std::vector<OverdueGroup> groups_;          // unordered; swap-removed when emptied
  std::vector<std::uint32_t> group_of_;       // [borrower * instruments + instrument]: index + 1
  // Scratch for CollectOverdue: the group keys to collect, and what each borrower held
  // available when the pass began (all it may pay in this pass).
  std::vector<std::pair<std::uint32_t, Amount>> collectable_;
  std::vector<std::uint32_t> overdue_by_mineral_;  // [agency * minerals + mineral]
  std::vector<MicroUsd> exposure_;                 // [agreement * agencies + borrower]
  std::vector<EmergencyLevel> levels_;             // [instrument]: for recalls
  // The memberships (per agreement) and reference values (per instrument) term books use:
  // the configuration's, or the live ones once live_ (FollowLive).
  std::vector<AgencyMask> members_;
  std::vector<MicroUsd> values_;
  bool live_ = false;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_MATCHING_INTERNAL_TIME_SWAPS_H_
