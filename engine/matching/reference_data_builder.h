// ReferenceDataBuilder: the one way to construct a ReferenceData. Used by the config loader
// (engine/config/config.h) and directly by tests that must not depend on protobuf.
//
// Entries are added in configuration order; dense ids are assigned in that order
// (instruments, pairs, agencies) and minerals get ids in order of first appearance among
// the instruments. All validation happens in Build(), which names the offending entry and
// field in its error, e.g. `pairs[3] (CO-99.8/GA-4N).tick: must be > 0`.
//
// Thread-safety: none (a builder is a local value).
#ifndef MSX_ENGINE_REFERENCE_DATA_BUILDER_H_
#define MSX_ENGINE_REFERENCE_DATA_BUILDER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/matching/emergency.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx {

// Longest interval between two call auctions of a level policy: one day.
inline constexpr std::int64_t kMaxAuctionIntervalSeconds = 86400;

struct InstrumentSpec {
  std::string symbol;
  std::string mineral;
  std::string form;
  std::string unit;
  Amount lot_size = 0;
  MicroUsd reference_value = 0;
  MicroUsd floor = 0;
};

struct PairSpec {
  std::string base;   // instrument symbol
  std::string quote;  // instrument symbol
  Price tick = 0;
  std::int32_t band_bps = 0;
  Lots max_lots = 0;
};

struct MandatedStockSpec {
  std::string instrument;  // instrument symbol
  Amount amount = 0;       // units, >= 0
};

struct AgencySpec {
  std::string code;
  std::string name;
  std::string country;
  Role role = Role::kAgency;
  // The least the agency must keep of each listed instrument; sales below it are refused
  // at levels whose policy says so. Each instrument at most once; agencies only.
  std::vector<MandatedStockSpec> mandated_minimum_stock = {};
  // The tiers the agency's declared needs may carry in an allocation auction; empty =
  // GENERAL only. No tier twice; agencies only.
  std::vector<PriorityTier> priority_tiers = {};
};

// One level's policy as configured. Levels not given keep DefaultLevelPolicy.
struct LevelPolicySpec {
  EmergencyLevel level = EmergencyLevel::kNormal;
  LevelPolicy policy;
};

struct AgreementSpec {
  std::string name;
  std::vector<std::string> members;   // agency codes
  std::vector<std::string> minerals;  // mineral names; empty = every mineral
};

// Term books of one instrument: one per tenor (time swaps).
struct TermBookSpec {
  std::string instrument;  // instrument symbol
  std::int32_t tenor_days = 0;
  Lots max_lots = 0;
};

// The time-swap terms of an agreement (added by name after AddAgreement).
struct AgreementTermsSpec {
  std::string agreement;
  // Per borrower (agency code): the most it may owe under this agreement, micro-USD.
  std::vector<std::pair<std::string, MicroUsd>> credit_limits;
  // For members not listed in credit_limits; 0 = they may not borrow under it.
  MicroUsd default_credit_limit = 0;
  bool recall_allowed = false;
  std::int32_t recall_notice_days = 0;  // 0 = kDefaultRecallNoticeDays
  std::int32_t grace_days = 0;          // 0 = kDefaultGraceDays
  // Collateral (ENGINE.md "Collateral"): 0 = none; else the pledge is worth at least this
  // many basis points of the loan's amount due, 1..100000 (10000 = 100 %), in one of
  // `collateral_instruments` (symbols, preference order; required when collateral_bps > 0).
  std::int32_t collateral_bps = 0;
  std::vector<std::string> collateral_instruments;
  // Deliveries (ENGINE.md "Deliveries"): days after an emergency fill its units are due;
  // 0 = kDefaultDeliveryWindowDays.
  std::int32_t delivery_window_days = 0;
};

inline constexpr std::int32_t kDefaultRecallNoticeDays = 8;
// The allies' rapid-response distribution window (issue 15 s.3).
inline constexpr std::int32_t kDefaultDeliveryWindowDays = 8;
inline constexpr std::int32_t kDefaultGraceDays = 30;
inline constexpr std::int32_t kMaxTenorDays = 3650;
// The largest collateral requirement: ten times the loan.
inline constexpr std::int32_t kMaxCollateralBps = 100000;

class ReferenceDataBuilder {
 public:
  ReferenceDataBuilder& AddInstrument(InstrumentSpec spec);
  ReferenceDataBuilder& AddPair(PairSpec spec);
  ReferenceDataBuilder& AddAgency(AgencySpec spec);
  ReferenceDataBuilder& AddAgreement(AgreementSpec spec);
  ReferenceDataBuilder& AddLevelPolicy(LevelPolicySpec spec);
  ReferenceDataBuilder& AddTermBook(TermBookSpec spec);
  ReferenceDataBuilder& SetAgreementTerms(AgreementTermsSpec spec);
  // Whether a quote instrument's floor caps its pairs' prices (off by default: the rule of
  // configurations written before it; see ReferenceData::quote_floors_cap_price).
  ReferenceDataBuilder& SetQuoteFloorsCapPrice(bool on);

  // Validates everything and derives reference prices, bands and the eligibility table.
  // Fails with InvalidArgument naming the entry and field:
  //   instruments[i] (SYM).field, pairs[i] (BASE/QUOTE).field, agencies[i] (CODE).field,
  //   agreements[i] (NAME).field, level_policies[i] (LEVEL).field,
  //   agencies[i] (CODE).mandated_minimum_stock[j].field, agencies[i] (CODE).priority_tiers[j].
  // A level policy: each level at most once; kCallAuction needs auction_interval_seconds in
  // 1..86400 and kContinuous 0; band_bps in 0..10000; agency_cap_bps in 1..10000.
  // Derivation (exact integers, 128-bit intermediates):
  //   reference_price = round_half_up(base.reference_value * base.lot_size /
  //                                   quote.reference_value)
  //   band_low  = ceil_to_tick(reference_price * (10000 - band_bps) / 10000), raised to
  //               floor_price when the base has a floor, and to at least one tick
  //   band_high = floor_to_tick(reference_price * (10000 + band_bps) / 10000)
  //   floor_price = ceil_to_tick(base.floor * base.lot_size / quote.reference_value), the
  //               lowest price p with p * quote.reference_value >= base.floor * lot_size.
  //   A floor may lie above the reference value; a floor_price above the band becomes the
  //   band's only price.
  //   With SetQuoteFloorsCapPrice(true), a quote with a floor caps the price:
  //   cap = floor_to_tick(base.reference_value * base.lot_size / quote.floor), the highest
  //   p with base.reference_value * lot_size >= p * quote.floor; band_high is lowered to
  //   it, and a cap below the band becomes the band's only price. A pair fails if the cap
  //   is below one tick or below the base's floor_price.
  // A pair fails if its band is empty or spans more than kMaxPriceLevels ticks.
  // Term books: term_books[i] (SYMBOL@DAYSD).field; tenor_days 1..kMaxTenorDays, unique
  // per instrument; max_lots > 0 with max_lots * lot_size within int64. Agreement terms
  // name the agreement, agreements[i] (NAME).field; credit limits >= 0, borrowers members of the
  // agreement and listed once; recall_notice_days, grace_days and delivery_window_days
  // 0..kMaxTenorDays;
  // collateral_bps 0..kMaxCollateralBps, with collateral instruments known, listed once, and
  // given exactly when collateral_bps > 0.
  absl::StatusOr<ReferenceData> Build() const;

 private:
  std::vector<InstrumentSpec> instruments_;
  std::vector<PairSpec> pairs_;
  std::vector<AgencySpec> agencies_;
  std::vector<AgreementSpec> agreements_;
  std::vector<LevelPolicySpec> level_policies_;
  std::vector<TermBookSpec> term_books_;
  std::vector<AgreementTermsSpec> agreement_terms_;
  bool quote_floors_cap_price_ = false;
};

}  // namespace msx

#endif  // MSX_ENGINE_REFERENCE_DATA_BUILDER_H_
