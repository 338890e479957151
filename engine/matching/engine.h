// The MSX matching engine: a pure, single-threaded library. Commands in, events out.
// No threads, clocks, I/O or logging; no heap allocation per command in steady state.
//
// Thread-safety: none. One thread (the sequencer, or a replay tool) owns an Engine.
#ifndef MSX_ENGINE_ENGINE_H_
#define MSX_ENGINE_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx {

struct EngineOptions {
  // Capacity reserved up front so that steady state does not allocate.
  std::size_t expected_offers = 1 << 20;
  // Allocate and touch the memory for `expected_offers` offer records and client-id
  // entries at construction (~144 bytes each) so that accepting offers never page-faults on
  // the hot path. Costs that memory and its zeroing time up front; meant for servers and
  // benchmarks.
  bool prefault = false;
};

enum class OfferStatus : std::uint8_t { kOpen = 1, kFilled, kCancelled, kExpired };

// A read-only copy of one offer's state, for queries (not the hot path).
struct OfferInfo {
  OfferId id = 0;
  ClientOfferId client_id = 0;
  AgencyId agency = 0;
  PairId pair = 0;
  Side side = Side::kBuy;
  TimeInForce tif = TimeInForce::kGtc;
  Price price = 0;
  Lots original_lots = 0;
  Lots open_lots = 0;
  Lots filled_lots = 0;
  Lots min_fill = 0;
  TimeNs expiry = 0;
  AgencyMask allow = 0;
  AgencyMask deny = 0;
  OfferStatus status = OfferStatus::kOpen;
  Seq accepted_seq = 0;
  TimeNs accepted_time = 0;
  // A buy's declared need (kSubmitOfferWithNeed) while the offer is open; 0 when it has
  // none (then `tier` is meaningless).
  Amount need = 0;
  PriorityTier tier = PriorityTier::kGeneral;
};

// A read-only copy of one obligation (time swaps), for queries.
struct ObligationInfo {
  ObligationId id = 0;
  TermBookId book = 0;
  InstrumentId instrument = 0;
  std::uint32_t agreement = 0;  // index of the agreement whose credit line it uses
  AgencyId lender = 0;
  AgencyId borrower = 0;
  OfferId lend_offer = 0;
  OfferId borrow_offer = 0;
  Lots lots = 0;
  std::int64_t premium_bps = 0;
  Amount principal = 0;
  Amount due_amount = 0;        // principal + ceil(principal * premium_bps / 10000)
  Amount returned = 0;          // paid back so far (returns, settlement, collection)
  // Satisfied by forfeited collateral (ENGINE.md "Collateral"), in units of `instrument`.
  Amount covered = 0;
  Amount outstanding = 0;       // due_amount - returned - covered
  TimeNs fill_time = 0;
  TimeNs due_time = 0;          // a recall moves it earlier
  ObligationState state = ObligationState::kOpen;
  bool recalled = false;
  // The pledge (kNone: the agreement requires none; then the two fields below are 0).
  CollateralState collateral_state = CollateralState::kNone;
  InstrumentId collateral_instrument = 0;
  Amount collateral_amount = 0;  // units pledged at the loan (all of them, whatever the state)
  Amount collateral_forfeited = 0;  // of which handed to the lender
  // The commands (seq) that first recalled it, forfeited its pledge, released its pledge;
  // 0 = not (yet), or done before engine state version 9. The gateway rebuilds reports of
  // older commands as those commands left the obligation with them (gateway/reports.cc).
  Seq recalled_seq = 0;
  Seq forfeited_seq = 0;
  Seq released_seq = 0;
};

// A read-only copy of one delivery (ENGINE.md "Deliveries"), for queries.
struct DeliveryInfo {
  DeliveryId id = 0;
  std::uint64_t fill_id = 0;     // the emergency fill that opened it
  PairId pair = 0;
  InstrumentId instrument = 0;   // the pair's base (the seller delivers) or quote (the buyer)
  AgencyId deliverer = 0;
  AgencyId receiver = 0;
  std::uint32_t agreement = 0;   // index of the agreement whose delivery window applies
  Amount amount = 0;             // units of `instrument`
  TimeNs fill_time = 0;
  TimeNs deliver_by = 0;         // fill_time + the agreement's delivery window
  DeliveryState state = DeliveryState::kPending;
  TimeNs confirmed_time = 0;     // kConfirmed only (after deliver_by: confirmed late)
  AgencyId confirmed_by = 0;     // kConfirmed only: the receiver or an admin
};

struct HoldingInfo {
  Amount available = 0;
  Amount reserved = 0;
};

struct LevelInfo {
  Price price = 0;
  Lots lots = 0;
  std::uint32_t offer_count = 0;
};

struct DepthInfo {
  std::vector<LevelInfo> bids;  // best first
  std::vector<LevelInfo> asks;  // best first
};

// An instrument's live reference data (PublishReference, SetEmergencyLevel).
struct InstrumentState {
  MicroUsd reference_value = 0;
  MicroUsd floor = 0;
  EmergencyLevel level = EmergencyLevel::kNormal;
  // A publication waiting for its effective time (pending_time > the last command's).
  bool pending = false;
  MicroUsd pending_value = 0;
  MicroUsd pending_floor = 0;
  TimeNs pending_time = 0;
};

class Engine {
 public:
  // REQUIRES: `ref` outlives the engine.
  Engine(const ReferenceData& ref, const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one sequenced command and appends its events to `*out` (never clears it).
  // Every outcome, including a reject, is an event. Deterministic: the same commands on
  // engines built from the same reference data give the same events.
  // REQUIRES: cmd.seq greater than any applied before; cmd.time not before the last.
  void Apply(const Command& cmd, std::vector<Event>* out) noexcept;

  // Hint for callers that hold a queue of commands (the sequencer, a replay tool): `next`
  // will be applied soon, so start loading what it will touch while the commands before it
  // run. Reads only; never changes state or events; any command (even an invalid one) and
  // any `hop` are allowed.
  //
  // What a command touches sits behind a chain of pointers (price level -> the level's
  // FIFO block -> the offer a new one is linked behind, or the first makers a crossing
  // order meets; for a cancel, offer record -> its level and the two offers it is unlinked
  // from), and each hop has to wait for the one before it. `hop` says how far this call
  // goes:
  //   0: only what needs no read of cold memory: a submit's price level (the opposite best
  //      level if it crosses), a cancel's or replace's offer record;
  //   1: reads what hop 0 loaded and starts loading the next: the level's FIFO block; a
  //      cancel's or replace's level and its neighbours in its FIFO;
  //   2 (or more): reads the level and FIFO block and starts loading the offers (a
  //      cancel's or replace's record, as hop 0).
  // A single call with hop 2 for the next command is the simple form. A random read that
  // leaves the cache can take longer than a whole command (bench/results/engine.md), so a
  // caller with a deeper queue does better hinting each command three times, one
  // hop per call, a command or two apart: e.g. before each command, hop 0 for the command 6
  // places ahead, hop 1 for the one 4 ahead, hop 2 for the one 2 ahead
  // (bench/engine_benchmark.cc).
  void Prefetch(const Command& next, int hop = 2) const noexcept;

  // ---- Queries (not the hot path; may allocate) ----
  // Offers that are no longer open are remembered (status filled/cancelled/expired) until
  // the retention window after they finished has passed (ENGINE.md, "Retention"); then
  // they are purged and GetOffer returns nullopt (IsPurged tells why).
  std::optional<OfferInfo> GetOffer(OfferId id) const;
  // True if `id` was an offer whose record was purged after the retention window.
  bool IsPurged(OfferId id) const;
  // The offer an agency submitted under `client_id`, open or not (not once purged: the
  // client id may then be used again).
  std::optional<OfferInfo> FindByClientId(AgencyId agency, ClientOfferId client_id) const;
  // How long after it finished (in command time) an offer is purged; 0 = never (the
  // default, until a kSetOfferRetention command).
  TimeNs offer_retention() const;
  std::uint64_t PurgedOfferCount() const;
  // Offers issued and not purged (open or finished).
  std::size_t RetainedOfferCount() const;
  // Memory held for offer records (whole chunks of 65,536; see ENGINE.md).
  std::size_t OfferMemoryBytes() const;
  // The agency's open offers, optionally on one pair, in offer id order.
  std::vector<OfferInfo> ListOpenOffers(AgencyId agency,
                                        std::optional<PairId> pair = std::nullopt) const;
  HoldingInfo GetHoldings(AgencyId agency, InstrumentId instrument) const;
  DepthInfo GetDepth(PairId pair, int max_levels) const;
  bool IsHalted(PairId pair) const;
  std::size_t OpenOfferCount() const;
  // The earliest time at which an AdvanceTime has work, or nullopt when there is none:
  // the expiry of a GTD offer that may still be open, or the end of the retention window
  // of the oldest finished offer not yet purged. An AdvanceTime to a time before it
  // changes nothing. Never later than the truth; it may be earlier (an offer filled or
  // cancelled before its expiry is forgotten lazily, by the next command whose time passes
  // that expiry). Includes term offers' expiries and obligations' due times (settlement
  // is a time step too), the effective time of a pending PublishReference, and one
  // nanosecond after the earliest deliver-by of a pending delivery (it falls overdue then).
  std::optional<TimeNs> NextExpiry() const;
  Seq last_seq() const;
  TimeNs last_time() const;

  // ---- Live reference data and emergency levels (ENGINE.md) ----
  // Default-constructed values for unknown ids.
  InstrumentState GetInstrumentState(InstrumentId instrument) const;
  // The instrument's emergency level: one load, for hot callers (recall checks).
  EmergencyLevel GetLevel(InstrumentId instrument) const noexcept;
  // The pair's prices now (the reference data's at start).
  PairBand GetPairBand(PairId pair) const;
  // The level governing the pair: the more severe of its two instruments'.
  EmergencyLevel GetPairLevel(PairId pair) const;
  // Members of agreement `agreement` (index in ReferenceData::agreements()) now.
  AgencyMask AgreementMembers(std::size_t agreement) const;
  // As ReferenceData::EligiblePartners, with the members as they are now (pair books;
  // term books use them too once TermsFollowLive).
  AgencyMask EligiblePartners(PairId pair, AgencyId agency) const;
  // True once a kFollowLiveReference was applied: term books then use the live members
  // and reference values (ENGINE.md "Time swaps", "Live reference data"); before it (every
  // journal of format version 9 and older), the configuration's.
  bool TermsFollowLive() const;

  // ---- Time swaps (queries; ENGINE.md "Time swaps") ----
  // A term offer: `pair` is the term book, `price` the premium in bps, kSell = lend.
  std::optional<OfferInfo> GetTermOffer(OfferId id) const;
  std::optional<ObligationInfo> GetObligation(ObligationId id) const;
  // Obligations where `agency` is the lender or the borrower, in id order (every agency's
  // when `agency` is nullopt).
  std::vector<ObligationInfo> ListObligations(std::optional<AgencyId> agency) const;
  // What `borrower` owes under agreement `agreement`, at reference values (micro-USD): the
  // configuration's, or the live ones once TermsFollowLive.
  MicroUsd CreditUsed(std::uint32_t agreement, AgencyId borrower) const;

  // ---- Deliveries (queries; ENGINE.md "Deliveries") ----
  std::optional<DeliveryInfo> GetDelivery(DeliveryId id) const;
  // Deliveries where `agency` delivers or receives, in id order (every agency's when
  // `agency` is nullopt).
  std::vector<DeliveryInfo> ListDeliveries(std::optional<AgencyId> agency) const;

  // ---- Snapshots (pure: bytes in memory; the journal library writes them) ----
  // Serializes the whole state; LoadState into an engine built from the same reference
  // data restores it exactly (subsequent events are identical).
  std::string SaveState() const;
  absl::Status LoadState(absl::string_view bytes);
  // A 64-bit digest of the whole state, for tests and replay verification.
  std::uint64_t StateDigest() const;

  const ReferenceData& reference_data() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace msx

#endif  // MSX_ENGINE_ENGINE_H_
