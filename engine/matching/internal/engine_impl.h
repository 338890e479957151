// Engine::Impl, the engine's state and its operations: private to the engine's five
// translation units, engine/matching/engine.cc (the hot path: Apply, Match, Cancel, Replace,
// Prefetch; its inline members are defined there, so that they inline into one another),
// engine/matching/engine_queries.cc (the read-only queries),
// engine/matching/engine_state.cc (SaveState / LoadState, SNAPSHOT.md),
// engine/matching/engine_live.cc (live reference data and emergency levels) and
// engine/matching/engine_auction.cc (allocation auctions, AUCTION.md "In the engine").
// Members defined here are the few several need (the merge walk over a level's FIFOs,
// linking and unlinking an offer, reservations). Single-threaded, like Engine.
#ifndef MSX_ENGINE_INTERNAL_ENGINE_IMPL_H_
#define MSX_ENGINE_INTERNAL_ENGINE_IMPL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/matching/engine.h"
#include "engine/matching/internal/auction.h"
#include "engine/matching/internal/book.h"
#include "engine/matching/internal/chunked_fifo.h"
#include "engine/matching/internal/client_index.h"
#include "engine/matching/internal/deliveries.h"
#include "engine/matching/internal/expiry_queue.h"
#include "engine/matching/internal/level_arena.h"
#include "engine/matching/internal/level_bitmap.h"
#include "engine/matching/internal/new_event.h"
#include "engine/matching/internal/offer_store.h"
#include "engine/matching/internal/time_swaps.h"

namespace msx {

using internal::AgencyList;
using internal::Book;
using internal::BookSide;
using internal::ColdRecord;
using internal::DoneEntry;
using internal::ExpiryEntry;
using internal::ExpiryLater;
using internal::kAllAgencies;
using internal::kNil;
using internal::Level;
using internal::LevelArena;
using internal::OfferRecord;
using internal::OfferStore;
using internal::NewEvent;
using internal::TouchedLevel;

inline constexpr TimeNs kNoTime = std::numeric_limits<TimeNs>::max();

class Engine::Impl {
 public:
  Impl(const ReferenceData& ref, const EngineOptions& options) : ref_(ref), options_(options) {
    Reset();
  }

  void Reset();

  inline void Apply(const Command& cmd, std::vector<Event>* out) noexcept;

  // Each hop reads only what the hop before it started loading (see engine.h).
  // Only prefetch hints and reads: GCC's interprocedural analysis counts
  // __builtin_prefetch as no side effect, finds such a function pure and deletes every
  // call to it (its result is void), which left Engine::Prefetch an empty function.
  // noipa keeps the call (tests/prefetch_codegen_check.sh guards it).
#if defined(__clang__)
  void Prefetch(const Command& c, int hop) const noexcept;
#else
  [[gnu::noipa]] void Prefetch(const Command& c, int hop) const noexcept;
#endif

  // ---------------------------------------------------------------- queries
  inline std::optional<OfferInfo> GetOffer(OfferId id) const;
  inline bool IsPurged(OfferId id) const;
  TimeNs offer_retention() const { return retention_; }
  std::uint64_t PurgedOfferCount() const { return purged_; }
  std::size_t RetainedOfferCount() const { return offers_.size() - purged_; }
  inline std::size_t OfferMemoryBytes() const;

  inline std::optional<OfferInfo> FindByClientId(AgencyId agency, ClientOfferId client_id) const;

  inline std::vector<OfferInfo> ListOpenOffers(AgencyId agency, std::optional<PairId> pair) const;

  inline HoldingInfo GetHoldings(AgencyId agency, InstrumentId instrument) const;

  inline DepthInfo GetDepth(PairId pair, int max_levels) const;

  bool IsHalted(PairId pair) const { return pair < books_.size() && books_[pair].halted; }
  std::size_t OpenOfferCount() const { return open_count_; }
  inline std::optional<TimeNs> NextExpiry() const;
  Seq last_seq() const { return last_seq_; }
  TimeNs last_time() const { return last_time_; }
  const internal::TimeSwaps& time_swaps() const { return time_swaps_; }
  const ReferenceData& ref() const { return ref_; }

  const internal::Deliveries& deliveries() const { return deliveries_; }

  // ---------------------------------------------------------------- live reference data
  InstrumentState GetInstrumentState(InstrumentId instrument) const;
  EmergencyLevel GetLevel(InstrumentId instrument) const noexcept {
    return instrument < live_.size() ? live_[instrument].level : EmergencyLevel::kNormal;
  }
  PairBand GetPairBand(PairId pair) const;
  EmergencyLevel GetPairLevel(PairId pair) const;
  AgencyMask AgreementMembers(std::size_t agreement) const {
    return agreement < members_.size() ? members_[agreement] : 0;
  }
  AgencyMask EligiblePartners(PairId pair, AgencyId agency) const {
    if (pair >= books_.size() || agency >= ref_.agencies().size()) return 0;
    return Eligible(pair, agency);
  }

  // ---------------------------------------------------------------- snapshots
  std::string SaveState() const;

  absl::Status LoadState(absl::string_view bytes);

  // ---------------------------------------------------------------- commands
 private:
  absl::Status LoadStateInner(absl::string_view bytes);

  OfferInfo Info(OfferId id) const {
    const OfferRecord& r = offers_[id];
    const ColdRecord& c = offers_.Cold(id);
    OfferInfo i;
    i.id = id;
    i.client_id = c.client_id;
    i.agency = r.agency;
    i.pair = r.pair;
    i.side = r.side;
    i.tif = r.tif;
    i.price = r.price;
    i.original_lots = c.original;
    i.open_lots = r.open;
    i.filled_lots = r.filled;
    i.min_fill = c.min_fill;
    i.expiry = c.expiry;
    i.allow = c.allow;
    i.deny = c.deny;
    i.status = r.status;
    i.accepted_seq = c.accepted_seq;
    i.accepted_time = c.accepted_time;
    if (!needs_.empty()) {
      const auto it = needs_.find(id);
      if (it != needs_.end()) {
        i.need = it->second.need;
        i.tier = it->second.tier;
      }
    }
    return i;
  }

  HoldingInfo& H(AgencyId agency, InstrumentId instrument) noexcept {
    return holdings_[agency * num_instruments_ + instrument];
  }

  void EnsureAllocated(Book& b) {
    if (b.allocated) return;
    b.allocated = true;
    b.capacity = b.num_levels;
    for (BookSide* side : {&b.bids, &b.asks}) {
      side->levels = level_arena_.Allocate(static_cast<std::size_t>(b.num_levels));
      side->bits.Resize(b.num_levels);
      side->best = -1;
    }
  }

  void PushExpiry(TimeNs expiry, OfferId id) {
    expiries_.push_back({expiry, id});
    std::push_heap(expiries_.begin(), expiries_.end(), ExpiryLater{});
  }

  // Records the level's totals before its first change in this command.
  inline void Touch(PairId pair, Side side, std::int64_t index, Level& l) noexcept;

  inline void FlushLevels(const Command& cmd, std::vector<Event>* out) noexcept;

  const AgencyList* Lists(const Level& l) const noexcept {
    return &lists_[std::size_t{l.lists} * num_agencies_];
  }
  AgencyList* Lists(const Level& l) noexcept { return &lists_[std::size_t{l.lists} * num_agencies_]; }

  // A block of per-agency FIFOs for a level that is becoming non-empty. Allocates only when
  // more levels are non-empty at once than ever before.
  std::uint32_t AcquireLists() {
    if (!free_lists_.empty()) {
      const std::uint32_t block = free_lists_.back();
      free_lists_.pop_back();
      return block;
    }
    const std::size_t block = lists_.size() / num_agencies_;
    lists_.resize(lists_.size() + num_agencies_);
    free_lists_.reserve(block + 1);  // so that releasing never allocates
    return static_cast<std::uint32_t>(block);
  }

  // Appends offer `id` at the back of level `index`: the tail of its agency's FIFO, with the
  // latest priority stamp (no market-data bookkeeping).
  void LinkTail(Book& b, BookSide& side, OfferId id, OfferRecord& o, std::int64_t index) noexcept {
    Level& l = side.levels[index];
    if (l.count == 0) {
      l.lists = AcquireLists();
      l.agencies = 0;
    }
    const AgencyMask bit = AgencyMask{1} << o.agency;
    AgencyList& al = Lists(l)[o.agency];
    o.stamp = next_priority_++;
    o.next = kNil;
    if ((l.agencies & bit) != 0) {
      o.prev = al.tail;
      offers_[al.tail].next = id;
    } else {
      o.prev = kNil;
      al.head = id;
      l.agencies |= bit;
    }
    al.tail = id;
    l.lots += o.open;
    if (l.count++ == 0) {
      side.bits.Set(index);
      const bool is_bid = &side == &b.bids;
      if (side.best < 0 || (is_bid ? index > side.best : index < side.best)) side.best = index;
    }
  }

  // Unlinks `o` from its agency's FIFO at level `l`; totals are unchanged. The FIFO's
  // head/tail entry is read and written only when `o` is the first or last offer (a
  // cancel in the middle of a FIFO touches its record and its two neighbours only).
  inline void UnlinkFromList(Level& l, OfferRecord& o) noexcept;

  // Removes open offer `id` from its level; `o.open` lots leave the level total.
  inline void Unlink(Book& b, BookSide& side, OfferId id, OfferRecord& o, std::int64_t index) noexcept;

  // Takes `o.open` lots and one offer off level `index` (the caller has unlinked it). A
  // level whose count drops to 0 releases its FIFO block: every linked offer is open and
  // counted, so its FIFOs are empty by then. True when the level emptied.
  inline bool Detach(Book& b, BookSide& side, const OfferRecord& o, std::int64_t index) noexcept;

  // Time-priority merge over the FIFOs of some agencies at one level: a cursor per agency,
  // the stamp of the offer under it, and the live agencies in a ring ordered by that stamp
  // (earliest first). The front is the next offer in priority; advancing the front's cursor
  // re-inserts its agency from the back of the ring, so a sweep reads one record per fill
  // and, when the makers' agencies take turns, compares one stamp per fill (not one per
  // agency).
  struct LevelMerge {
    unsigned head;  // ring positions [head, tail), taken modulo kMaxAgencies
    unsigned tail;
    std::uint8_t ring[kMaxAgencies];
    OfferId cur[kMaxAgencies];
    OfferRecord* rec[kMaxAgencies];     // &offers_[cur[a]], for a in the ring
    std::uint64_t stamp[kMaxAgencies];  // rec[a]->stamp
    // The agency whose cursor offer is first in time priority, or -1 when every cursor is
    // exhausted.
    int Front() const noexcept {
      return head == tail ? -1 : ring[head % kMaxAgencies];
    }
  };
  // Points agency `a`'s cursor at `id` and inserts it into the ring by stamp, or leaves it
  // out when its FIFO is exhausted. A FIFO holds only open offers (every way an offer stops
  // being open unlinks it); an entry that is not open would still be passed over (and, with
  // `kUnlink`, unlinked from `l`), at the cost of one status check on a record the walk
  // reads anyway.
  template <bool kUnlink, typename LevelRef>
  void MergePut(LevelRef& l, LevelMerge* mg, int a, OfferId id) noexcept {
    while (id != kNil && offers_[id].status != OfferStatus::kOpen) {
      OfferRecord& dead = offers_[id];
      id = dead.next;
      if constexpr (kUnlink) UnlinkFromList(l, dead);
    }
    if (id == kNil) return;
    OfferRecord& r = offers_[id];
    const std::uint64_t s = r.stamp;
    mg->cur[a] = id;
    mg->rec[a] = &r;
    mg->stamp[a] = s;
    unsigned pos = mg->tail++;
    for (; pos != mg->head; --pos) {
      const std::uint8_t before = mg->ring[(pos - 1) % kMaxAgencies];
      if (mg->stamp[before] < s) break;  // stamps are unique
      mg->ring[pos % kMaxAgencies] = before;
    }
    mg->ring[pos % kMaxAgencies] = static_cast<std::uint8_t>(a);
  }
  template <bool kUnlink, typename LevelRef>
  void MergeStart(LevelRef& l, AgencyMask agencies, LevelMerge* mg) noexcept {
    mg->head = mg->tail = 0;
    const AgencyMask live = l.count == 0 ? 0 : l.agencies & agencies;
    if (live == 0) return;
    const AgencyList* lists = Lists(l);
    for (AgencyMask m = live; m != 0; m &= m - 1) {
      __builtin_prefetch(&offers_[lists[__builtin_ctzll(m)].head]);
    }
    for (AgencyMask m = live; m != 0; m &= m - 1) {
      const int a = __builtin_ctzll(m);
      MergePut<kUnlink>(l, mg, a, lists[a].head);
    }
  }
  // Moves the front agency's cursor to `next` (the front offer's successor in its FIFO).
  // REQUIRES: mg->Front() == agency.
  template <bool kUnlink, typename LevelRef>
  void MergeAdvance(LevelRef& l, LevelMerge* mg, int agency, OfferId next) noexcept {
    ++mg->head;
    MergePut<kUnlink>(l, mg, agency, next);
  }
  // The same for walks that only read.
  void MergeStartConst(const Level& l, AgencyMask agencies, LevelMerge* mg) const noexcept {
    const_cast<Impl*>(this)->MergeStart<false>(l, agencies, mg);
  }
  void MergeAdvanceConst(const Level& l, LevelMerge* mg, int agency, OfferId next) const noexcept {
    const_cast<Impl*>(this)->MergeAdvance<false>(l, mg, agency, next);
  }

  // Calls fn(id) for every open offer of level `l` in time priority.
  template <typename Fn>
  void ForEachInPriority(const Level& l, Fn fn) const {
    LevelMerge mg;
    MergeStartConst(l, kAllAgencies, &mg);
    for (int a = mg.Front(); a >= 0; a = mg.Front()) {
      const OfferId id = mg.cur[a];
      fn(id);
      MergeAdvanceConst(l, &mg, a, offers_[id].next);
    }
  }

  inline void Reject(const Command& cmd, RejectReason reason, AgencyId agency, OfferId offer,
              ClientOfferId client_id, std::vector<Event>* out) noexcept;

  // Shared price checks for submit and replace.
  static inline RejectReason CheckPrice(const Book& b, Price price) noexcept;
  static inline RejectReason CheckLots(const Book& b, Lots lots) noexcept;

  // The amount an open offer of `lots` at `price` reserves, in base units (sell) or quote
  // units (buy). False on overflow.
  static bool Reservation(const Book& b, Side side, Lots lots, Price price,
                          Amount* amount) noexcept {
    Amount base_amount, quote_amount;
    if (__builtin_mul_overflow(lots, b.lot_size, &base_amount)) return false;
    if (__builtin_mul_overflow(lots, price, &quote_amount)) return false;
    *amount = side == Side::kSell ? base_amount : quote_amount;
    return true;
  }

  inline void ReleaseReservation(const Book& b, const OfferRecord& o) noexcept;

  inline void Submit(const Command& cmd, std::vector<Event>* out) noexcept;

  // Lots that `taker` could fill right now (eligible, crossing, before any self-match),
  // counting up to `need` at most.
  inline Lots Available(const Book& b, const OfferRecord& taker, AgencyMask partners,
                 Lots need) const noexcept;

  // Cancels the taker's unfilled remainder (it is not in the book).
  inline void FinishTaker(const Command& cmd, const Book& b, OfferId id, OfferRecord& o,
                   CancelReason reason, std::vector<Event>* out) noexcept;

  // Matches taker `o` (not linked in any level) against the opposite side, then rests,
  // cancels or finishes it.
  inline void Match(const Command& cmd, Book& b, OfferId id, OfferRecord& o, AgencyMask partners,
             std::vector<Event>* out) noexcept;

  // Takes makers from the opposite side `opp` for taker `o`, from the best level while the
  // level is within `limit` (a level index), in time priority, until the taker is filled or
  // meets an offer of its own agency; emits a fill per maker and moves holdings. True at a
  // self-match. REQUIRES: opp.best crosses `limit`; kTakerBuys == (taker.side == kBuy).
  template <bool kTakerBuys>
  inline bool Sweep(const Command& cmd, Book& b, BookSide& opp, std::int64_t limit,
                    OfferId taker_id, OfferRecord& taker, AgencyMask partners,
                    std::vector<Event>* out) noexcept;

  // Validates a cancel/replace target; kNone when `id` is open and owned by `agency`.
  inline RejectReason CheckTarget(AgencyId agency, OfferId id) const noexcept;

  // Takes open offer `id` out of the book, releases its reservation and marks it `status`.
  inline void RemoveOpen(TimeNs now, OfferId id, OfferRecord& o, OfferStatus status) noexcept;

  // `id` stopped being open at `now`: it is purged once the retention window has passed.
  // Without a window nothing is queued (SetRetention queues what finished meanwhile).
  inline void Finished(TimeNs now, OfferId id) noexcept;

  // A new window applies from the next command on. Turning retention on queues the offers
  // that finished while it was off as finished now, in id order (their finish times were
  // not kept): one pass over the records, once. Turning it off forgets the queue.
  inline void SetRetention(const Command& cmd);

  // Purges finished offers whose window has passed, oldest finish first, at most a few
  // per command (kPurgePerCommand): the client id is forgotten and the records are marked
  // purged (freed with their chunk once all of it is). REQUIRES: retention_ > 0.
  inline void PurgeDue(const Command& cmd) noexcept;

  inline void Cancel(const Command& cmd, std::vector<Event>* out) noexcept;

  inline void ExpireDue(const Command& cmd, std::vector<Event>* out) noexcept;

  // kReplaceOffer (c.lots = new total) and the legacy kReplaceOfferOpenLots (c.lots = new
  // open lots); they differ only in the open lots they ask for.
  inline void Replace(const Command& cmd, std::vector<Event>* out) noexcept;

  inline void SetHoldingsCmd(const Command& cmd, std::vector<Event>* out) noexcept;

  inline void HaltResume(const Command& cmd, std::vector<Event>* out) noexcept;

  // ---- Live reference data and emergency levels (engine_live.cc) ----
  struct LiveInstrument {
    MicroUsd value = 0;
    MicroUsd floor = 0;
    EmergencyLevel level = EmergencyLevel::kNormal;
    bool pending = false;
    PublishReference next{};  // the pending publication, when `pending`
  };

  AgencyMask Eligible(PairId pair, AgencyId agency) const noexcept {
    return eligible_[std::size_t{pair} * num_agencies_ + agency];
  }
  // The live state as the reference data configures it (Reset), and the derived tables.
  void ResetLive();
  // eligible_ from members_ (ReferenceDataBuilder's rule, on the live membership).
  void RecomputeEligibility();
  // The pair's prices with the live values and levels; `value`/`floor` replace those of
  // `instrument` when it is given (a publication being checked).
  bool DeriveBand(PairId pair, PairBand* out, std::optional<InstrumentId> instrument = {},
                  MicroUsd value = 0, MicroUsd floor = 0) const;
  std::uint8_t GuardOf(PairId pair) const;
  // Sets an unallocated or empty book's grid (no offers move).
  void SetGrid(Book& b, const PairBand& band);
  // Moves pair `pair` to `band`: kPairBandChanged when anything changed; when the grid
  // moved, the open offers are relinked in time priority and those now outside the band
  // cancelled (kOutsideBand), with market data for every level that changed.
  void Reband(const Command& cmd, PairId pair, const PairBand& band, std::vector<Event>* out);
  // Applies the values of `instrument` to every pair of it (values already checked).
  void ApplyReference(const Command& cmd, InstrumentId instrument, MicroUsd value,
                      MicroUsd floor, std::vector<Event>* out);
  // Publications whose effective time has come, in instrument order.
  void ApplyDueReferences(const Command& cmd, std::vector<Event>* out);
  void RecomputeNextReferenceTime();
  // Every instrument's value, floor and level and every membership as the reference data
  // configures them, nothing pending: SaveState then writes the older snapshot versions.
  bool LiveAsConfigured() const;
  void PublishReferenceCmd(const Command& cmd, std::vector<Event>* out);
  void MemberCmd(const Command& cmd, std::vector<Event>* out);
  void SetLevelCmd(const Command& cmd, std::vector<Event>* out);
  // kFollowLiveReference: term books follow the live members and values from now on.
  void FollowLiveCmd(const Command& cmd, std::vector<Event>* out);
  // Every instrument's live reference value, by id.
  std::vector<MicroUsd> LiveValues() const;
  // True unless term books follow the live values and re-valuing credit used with
  // `value` for `instrument` would exceed int64 for some borrower.
  bool TermCreditFits(InstrumentId instrument, MicroUsd value) const;
  // The mandated-minimum-stock check of an offer that gives `give` units away from `h`.
  // REQUIRES: b.guard != 0, give <= h.available.
  inline RejectReason CheckStockGuard(const Book& b, AgencyId agency, Side side, Amount give,
                                      const HoldingInfo& h) const noexcept;

  // ---- Allocation auctions (engine_auction.cc; AUCTION.md "In the engine") ----
  struct DeclaredNeed {
    Amount need;        // base units, > 0
    PriorityTier tier;
  };
  // True when the pair's books allocate by call auction (kGuardCallAuction).
  static bool CallAuctionMode(const Book& b) noexcept {
    return (b.guard & internal::kGuardCallAuction) != 0;
  }
  // Links open offer `o` at the back of its level without matching (call-auction mode);
  // a new GTD offer joins the expiry heap.
  inline void Rest(const Command& cmd, Book& b, OfferId id, OfferRecord& o) noexcept;
  // kRunAuction: one call auction of each book the instrument drives (AuctionDriver).
  void RunAuctionCmd(const Command& cmd, std::vector<Event>* out);
  // The instrument whose RunAuction uncrosses pair `pair` in call-auction mode: its base
  // when the base's level policy auctions, else its quote. Each book has one driver, so
  // one tick of each instrument runs each book's auction once.
  InstrumentId AuctionDriver(PairId pair) const;
  // One book's call auction: a kAuction event, then its fills (none when halted).
  void AuctionBook(const Command& cmd, PairId pair, std::vector<Event>* out);
  // After pair `pair` left call-auction mode: its open offers enter continuous matching
  // again, in offer id order, as if submitted anew (crossed ones trade at the resting
  // offer's price), so that continuous matching resumes on an uncrossed book.
  void ResumeContinuous(const Command& cmd, PairId pair, std::vector<Event>* out);

  // ---- Deliveries (engine_deliveries.cc; ENGINE.md "Deliveries") ----
  // any_deliver_by_ from the books' guards: call after any guard changed.
  void RecountDeliverBy() noexcept;
  // Opens the two deliveries of every fill among out[first..] made on a pair whose guard
  // has kGuardDeliverBy, in fill order (base leg, then quote leg).
  void OpenDeliveries(const Command& cmd, std::size_t first, std::vector<Event>* out);
  // The first agreement, in configuration order, whose live members include both agencies
  // and which covers both minerals of the pair; nullopt when none does.
  std::optional<std::uint32_t> GoverningAgreement(PairId pair, AgencyId a, AgencyId b) const;
  void ConfirmDeliveryCmd(const Command& cmd, std::vector<Event>* out);

  const ReferenceData& ref_;
  EngineOptions options_;
  std::size_t num_instruments_ = 0;
  AgencyMask valid_agencies_ = 0;
  LevelArena level_arena_;  // the books' level arrays
  std::vector<Book> books_;
  std::vector<HoldingInfo> holdings_;  // [agency * instruments + instrument]
  std::vector<Amount> totals_;         // per instrument, over all agencies
  OfferStore offers_;
  internal::ClientIndex client_index_;
  std::vector<ExpiryEntry> expiries_;  // min-heap by ExpiryLater
  // Retention (ENGINE.md): finished offers in finishing order, purged retention_ after.
  TimeNs retention_ = 0;  // 0 = keep forever
  internal::ChunkedFifo<DoneEntry> done_;
  std::uint64_t purged_ = 0;
  std::vector<TouchedLevel> touched_;
  // Per-agency FIFOs of non-empty levels: blocks of num_agencies_ lists, recycled.
  static constexpr std::size_t kInitialListBlocks = 16384;
  std::size_t num_agencies_ = 1;
  std::vector<AgencyList> lists_;
  std::vector<std::uint32_t> free_lists_;
  std::uint64_t next_priority_ = 1;  // next OfferRecord::stamp
  std::size_t open_count_ = 0;
  std::uint64_t next_fill_id_ = 1;
  Seq last_seq_ = 0;
  TimeNs last_time_ = 0;
  std::uint64_t stamp_ = 0;
  // Live reference data (ENGINE.md "Live reference data and emergency levels").
  std::vector<LiveInstrument> live_;           // per instrument
  TimeNs next_reference_time_ = kNoTime;       // earliest pending effective time
  std::vector<AgencyMask> members_;            // per agreement
  std::vector<AgencyMask> eligible_;           // [pair * num_agencies_ + agency]
  std::vector<std::vector<PairId>> pairs_of_;  // per instrument: its pairs (static)
  // Term books and obligations (ENGINE.md "Time swaps"); uses holdings_, so it follows it.
  internal::TimeSwaps time_swaps_{ref_, &holdings_};
  // Allocation auctions (AUCTION.md "In the engine"). The declared needs of open buy
  // offers submitted with one (kSubmitOfferWithNeed), erased when the offer finishes.
  absl::flat_hash_map<OfferId, DeclaredNeed> needs_;
  // Scratch of AuctionBook, kept between auctions.
  internal::CallAuction auction_;
  internal::AuctionResult auction_result_;
  std::vector<internal::AuctionBuy> auction_buys_;
  std::vector<internal::AuctionSell> auction_sells_;
  std::vector<AgencyMask> auction_eligible_;
  // Deliveries (ENGINE.md "Deliveries"): the ledger, and whether any book's guard has
  // kGuardDeliverBy (Apply tests this one flag after each command).
  internal::Deliveries deliveries_;
  bool any_deliver_by_ = false;
};

// ---------------------------------------------------------------- shared inline members
// Defined here, not in engine.cc, because engine_live.cc's admin commands use them too
// (engine.cc still inlines them into the hot path).

inline void Engine::Impl::Touch(PairId pair, Side side, std::int64_t index, Level& l) noexcept {
  if (l.touch == stamp_) return;
  l.touch = stamp_;
  touched_.push_back({pair, side, index, l.lots, l.count});
}

inline void Engine::Impl::FlushLevels(const Command& cmd, std::vector<Event>* out) noexcept {
  for (const TouchedLevel& t : touched_) {
    const Book& b = books_[t.pair];
    const Level& l = (t.side == Side::kBuy ? b.bids : b.asks).levels[t.index];
    if (l.lots == t.prev_lots && l.count == t.prev_count) continue;
    Event& e = NewEvent(cmd, EventType::kBookLevel, out);
    e.book_level.pair = t.pair;
    e.book_level.side = t.side;
    e.book_level.price = b.low + t.index * b.tick;
    e.book_level.lots = l.lots;
    e.book_level.offer_count = l.count;
  }
}

inline void Engine::Impl::UnlinkFromList(Level& l, OfferRecord& o) noexcept {
  if (o.prev != kNil) {
    offers_[o.prev].next = o.next;
  } else {
    Lists(l)[o.agency].head = o.next;
    if (o.next == kNil) l.agencies &= ~(AgencyMask{1} << o.agency);  // now empty
  }
  if (o.next != kNil) {
    offers_[o.next].prev = o.prev;
  } else {
    Lists(l)[o.agency].tail = o.prev;
  }
  o.prev = o.next = kNil;
}

inline void Engine::Impl::Unlink(Book& b, BookSide& side, OfferId id, OfferRecord& o, std::int64_t index) noexcept {
  (void)id;
  UnlinkFromList(side.levels[index], o);
  Detach(b, side, o, index);
}

inline bool Engine::Impl::Detach(Book& b, BookSide& side, const OfferRecord& o, std::int64_t index) noexcept {
  Level& l = side.levels[index];
  l.lots -= o.open;
  if (--l.count != 0) return false;
  free_lists_.push_back(l.lists);  // capacity reserved in AcquireLists
  l.agencies = 0;
  side.bits.Clear(index);
  if (side.best == index) {
    side.best = (&side == &b.bids) ? side.bits.PrevAtOrBefore(index - 1)
                                   : side.bits.NextAtOrAfter(index + 1);
  }
  return true;
}

inline void Engine::Impl::Reject(const Command& cmd, RejectReason reason, AgencyId agency, OfferId offer,
            ClientOfferId client_id, std::vector<Event>* out) noexcept {
  Event& e = NewEvent(cmd, EventType::kRejected, out);
  e.rejected.command = cmd.type;
  e.rejected.reason = reason;
  e.rejected.agency = agency;
  e.rejected.offer = offer;
  e.rejected.client_id = client_id;
}

inline void Engine::Impl::ReleaseReservation(const Book& b, const OfferRecord& o) noexcept {
  const InstrumentId inst = o.side == Side::kSell ? b.base : b.quote;
  const Amount amount = o.side == Side::kSell ? o.open * b.lot_size : o.open * o.price;
  HoldingInfo& h = H(o.agency, inst);
  h.reserved -= amount;
  h.available += amount;
}

inline void Engine::Impl::RemoveOpen(TimeNs now, OfferId id, OfferRecord& o, OfferStatus status) noexcept {
  Book& b = books_[o.pair];
  BookSide& side = o.side == Side::kBuy ? b.bids : b.asks;
  const std::int64_t index = (o.price - b.low) / b.tick;
  Touch(o.pair, o.side, index, side.levels[index]);
  // Unlinked now, not left as a dead entry for a later match walk: the neighbours are
  // independent reads that Prefetch can start commands ahead, whereas a walk passing a
  // dead entry has to wait for it before it can read the next offer (see ENGINE.md).
  Unlink(b, side, id, o, index);
  ReleaseReservation(b, o);
  o.open = 0;
  o.status = status;
  --open_count_;
  Finished(now, id);
}

inline void Engine::Impl::Finished(TimeNs now, OfferId id) noexcept {
  if (retention_ > 0) done_.push_back({now, id});
  if (!needs_.empty()) [[unlikely]] needs_.erase(id);
}

inline RejectReason Engine::Impl::CheckStockGuard(const Book& b, AgencyId agency, Side side,
                                                  Amount give,
                                                  const HoldingInfo& h) const noexcept {
  const bool sells = side == Side::kSell;
  if ((b.guard & (sells ? internal::kGuardBaseStock : internal::kGuardQuoteStock)) == 0) {
    return RejectReason::kNone;
  }
  const Amount minimum = ref_.MandatedMinimumStock(agency, sells ? b.base : b.quote);
  // give <= h.available: no overflow.
  if (minimum > 0 && h.available - give < minimum) return RejectReason::kBelowMandatedStock;
  return RejectReason::kNone;
}

}  // namespace msx

#endif  // MSX_ENGINE_INTERNAL_ENGINE_IMPL_H_
