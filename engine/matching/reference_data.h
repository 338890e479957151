// Reference data: instruments, pair books, agencies and agreements. Immutable once built;
// shared read-only by the engine, the gateway and the drill tool.
#ifndef MSX_ENGINE_REFERENCE_DATA_H_
#define MSX_ENGINE_REFERENCE_DATA_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/matching/emergency.h"
#include "engine/matching/types.h"

namespace msx {

struct Instrument {
  InstrumentId id = 0;
  std::string symbol;        // "CO-99.8"
  MineralId mineral = 0;
  std::string mineral_name;  // "cobalt"
  std::string form;
  std::string unit;          // "kg", "t", "mtu"
  Amount lot_size = 0;       // units per lot
  MicroUsd reference_value = 0;  // per unit
  MicroUsd floor = 0;            // per unit; 0 = none
};

struct PairBook {
  PairId id = 0;
  std::string symbol;        // "BASE/QUOTE"
  InstrumentId base = 0;
  InstrumentId quote = 0;
  Price tick = 0;
  std::int32_t band_bps = 0;
  Lots max_lots = 0;
  // Derived when the reference data is built, exact integer arithmetic:
  Price reference_price = 0;  // quote units per base lot at reference values, rounded
  Price band_low = 0;         // lowest acceptable price, on the tick (includes the floor)
  Price band_high = 0;        // highest acceptable price, on the tick
  // Lowest price allowed by the base's floor (0 = no floor); band_low >= floor_price. Lets
  // the engine tell kBelowFloor from kPriceOutsideBand.
  Price floor_price = 0;
};

// The prices of a pair book derived from its instruments' reference values and floors
// (ENGINE.md "Reference data"): at start from the configuration, later from the live
// values (PublishReference) and the band of the pair's emergency level.
struct PairBand {
  Price reference_price = 0;
  Price band_low = 0;
  Price band_high = 0;
  Price floor_price = 0;  // 0 = no floor: lowest price the base's floor allows
};

struct PairBandInputs {
  MicroUsd base_value = 0;   // > 0
  MicroUsd base_floor = 0;   // >= 0
  Amount base_lot_size = 0;  // > 0
  MicroUsd quote_value = 0;  // > 0
  // >= 0; 0 = none, or a configuration from before quote floors bound
  // (ReferenceData::quote_floors_cap_price). A quote's floor caps the price.
  MicroUsd quote_floor = 0;
  Price tick = 0;            // > 0
  std::int32_t band_bps = 0; // 1..10000
  // false (the configuration): a band that holds no price on the tick is an error.
  // true (live changes): such a band becomes the one tick nearest the reference.
  // Either way a floor price above the band becomes the band's only price, and a quote
  // floor's cap below the band the band's only price.
  bool collapse_empty_band = false;
};

// Derives a pair's prices (ReferenceDataBuilder::Build's rules). Returns false with `*why`
// (static text) when the reference price rounds to 0 or overflows, the band holds no
// price (not collapsing) or spans more than kMaxPriceLevels ticks. Exact integer
// arithmetic (128-bit intermediates).
bool DerivePairBand(const PairBandInputs& in, PairBand* out, const char** why) noexcept;

// Largest number of price levels (per side) a pair book may span between band_low and
// band_high; the engine indexes levels densely by (price - band_low) / tick.
inline constexpr std::int64_t kMaxPriceLevels = std::int64_t{1} << 18;

enum class Role : std::uint8_t { kAgency = 1, kAdmin = 2 };

struct Agency {
  AgencyId id = 0;
  std::string code;          // "KOMIR"
  std::string name;
  std::string country;       // "KR"
  Role role = Role::kAgency;
};

struct Agreement {
  std::string name;
  AgencyMask members = 0;
  std::vector<MineralId> minerals;  // empty = every mineral
  // Time swaps (engine/ENGINE.md, "Time swaps"). credit_limit[agency]: the most that
  // member may owe under this agreement, in reference value (micro-USD); 0 = it may not
  // borrow under this agreement (non-members are always 0).
  std::vector<MicroUsd> credit_limit;
  // The limit of a member not listed in credit_limits; once term books follow the live
  // reference data (CommandType::kFollowLiveReference), also that of an agency an
  // AdmitMember made a member (ENGINE.md "Time swaps", "Live reference data").
  MicroUsd default_credit_limit = 0;
  bool recall_allowed = false;
  TimeNs recall_notice = 0;  // ns; the due time of a recalled loan is now + this
  TimeNs grace = 0;          // ns after the due time before pledged collateral is forfeit
  // Collateral (ENGINE.md "Collateral"): 0 = loans under it need none; else a borrower
  // pledges, at each loan, units worth at least collateral_bps / 10000 of the amount due
  // (at configuration reference values) of the first of collateral_instruments, in order,
  // that is not of the loan's mineral and of which it holds enough available units.
  std::int32_t collateral_bps = 0;
  std::vector<InstrumentId> collateral_instruments;
  // Deliveries (ENGINE.md "Deliveries"): a fill made at WARNING or SERIOUS under this
  // agreement is due for delivery this long after it (ns; default 8 days).
  TimeNs delivery_window = 0;
};

// One term book: an instrument lent for a fixed tenor, e.g. "CO-99.8@90D".
struct TermBook {
  TermBookId id = 0;
  std::string symbol;        // "<instrument>@<days>D"
  InstrumentId instrument = 0;
  std::int32_t tenor_days = 0;
  TimeNs tenor = 0;          // tenor_days in ns
  Lots max_lots = 0;         // largest lend/borrow offer
};

class ReferenceData {
 public:
  // Lookups by symbol/code; nullopt when unknown.
  std::optional<InstrumentId> FindInstrument(absl::string_view symbol) const;
  std::optional<PairId> FindPair(absl::string_view symbol) const;
  std::optional<AgencyId> FindAgency(absl::string_view code) const;
  std::optional<TermBookId> FindTermBook(absl::string_view symbol) const;

  const std::vector<Instrument>& instruments() const { return instruments_; }
  const std::vector<PairBook>& pairs() const { return pairs_; }
  const std::vector<Agency>& agencies() const { return agencies_; }
  const std::vector<Agreement>& agreements() const { return agreements_; }
  const std::vector<TermBook>& term_books() const { return term_books_; }

  // True when agreement `ag` covers mineral `m` (no minerals listed = every mineral).
  static bool Covers(const Agreement& ag, MineralId m);

  // The agencies that `agency` may swap with on `pair`: some agreement contains both and
  // covers both minerals of the pair. Never contains `agency` itself. O(1); inline, as the
  // engine asks once per submit.
  AgencyMask EligiblePartners(PairId pair, AgencyId agency) const {
    if (pair >= pairs_.size() || agency >= agencies_.size()) return 0;
    return eligible_[static_cast<std::size_t>(pair) * agencies_.size() + agency];
  }

  // The policy of an emergency level (configured, else DefaultLevelPolicy).
  // REQUIRES: `level` is one of the five levels.
  const LevelPolicy& level_policy(EmergencyLevel level) const {
    return level_policies_[static_cast<std::size_t>(level)];
  }
  // The least `agency` must keep of `instrument` (units); 0 = no mandate or unknown ids.
  Amount MandatedMinimumStock(AgencyId agency, InstrumentId instrument) const;
  // The priority tiers `agency` may declare needs in (TierBit set); 0 for unknown agencies
  // and admins, kGeneralOnly when the configuration lists none.
  TierMask AllowedTiers(AgencyId agency) const;
  // Whether a floor of a pair's quote instrument caps the pair's price (ENGINE.md
  // "Reference data"). Off for configurations from before it did, so their journals replay.
  bool quote_floors_cap_price() const { return quote_floors_cap_price_; }

 private:
  friend class ReferenceDataBuilder;
  std::vector<Instrument> instruments_;
  std::vector<PairBook> pairs_;
  std::vector<Agency> agencies_;
  std::vector<Agreement> agreements_;
  std::vector<TermBook> term_books_;
  absl::flat_hash_map<std::string, TermBookId> term_book_index_;
  absl::flat_hash_map<std::string, InstrumentId> instrument_index_;
  absl::flat_hash_map<std::string, PairId> pair_index_;
  absl::flat_hash_map<std::string, AgencyId> agency_index_;
  // eligible_[pair * agencies + agency]
  std::vector<AgencyMask> eligible_;
  std::array<LevelPolicy, kNumEmergencyLevels> level_policies_;
  std::vector<Amount> minimum_stock_;  // [agency * instruments + instrument]
  std::vector<TierMask> tiers_;        // [agency]
  bool quote_floors_cap_price_ = false;
};

}  // namespace msx

#endif  // MSX_ENGINE_REFERENCE_DATA_H_
