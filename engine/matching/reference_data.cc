#include "engine/matching/reference_data.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/matching/reference_data_builder.h"

namespace msx {

std::optional<InstrumentId> ReferenceData::FindInstrument(absl::string_view symbol) const {
  auto it = instrument_index_.find(symbol);
  if (it == instrument_index_.end()) return std::nullopt;
  return it->second;
}

std::optional<PairId> ReferenceData::FindPair(absl::string_view symbol) const {
  auto it = pair_index_.find(symbol);
  if (it == pair_index_.end()) return std::nullopt;
  return it->second;
}

std::optional<AgencyId> ReferenceData::FindAgency(absl::string_view code) const {
  auto it = agency_index_.find(code);
  if (it == agency_index_.end()) return std::nullopt;
  return it->second;
}

std::optional<TermBookId> ReferenceData::FindTermBook(absl::string_view symbol) const {
  auto it = term_book_index_.find(symbol);
  if (it == term_book_index_.end()) return std::nullopt;
  return it->second;
}

bool ReferenceData::Covers(const Agreement& ag, MineralId m) {
  if (ag.minerals.empty()) return true;
  for (MineralId x : ag.minerals) {
    if (x == m) return true;
  }
  return false;
}

Amount ReferenceData::MandatedMinimumStock(AgencyId agency, InstrumentId instrument) const {
  if (agency >= agencies_.size() || instrument >= instruments_.size()) return 0;
  return minimum_stock_[static_cast<std::size_t>(agency) * instruments_.size() + instrument];
}

TierMask ReferenceData::AllowedTiers(AgencyId agency) const {
  return agency < tiers_.size() ? tiers_[agency] : TierMask{0};
}

ReferenceDataBuilder& ReferenceDataBuilder::AddLevelPolicy(LevelPolicySpec spec) {
  level_policies_.push_back(spec);
  return *this;
}

ReferenceDataBuilder& ReferenceDataBuilder::AddInstrument(InstrumentSpec spec) {
  instruments_.push_back(std::move(spec));
  return *this;
}
ReferenceDataBuilder& ReferenceDataBuilder::AddPair(PairSpec spec) {
  pairs_.push_back(std::move(spec));
  return *this;
}
ReferenceDataBuilder& ReferenceDataBuilder::AddAgency(AgencySpec spec) {
  agencies_.push_back(std::move(spec));
  return *this;
}
ReferenceDataBuilder& ReferenceDataBuilder::AddAgreement(AgreementSpec spec) {
  agreements_.push_back(std::move(spec));
  return *this;
}

ReferenceDataBuilder& ReferenceDataBuilder::AddTermBook(TermBookSpec spec) {
  term_books_.push_back(std::move(spec));
  return *this;
}

ReferenceDataBuilder& ReferenceDataBuilder::SetAgreementTerms(AgreementTermsSpec spec) {
  agreement_terms_.push_back(std::move(spec));
  return *this;
}

ReferenceDataBuilder& ReferenceDataBuilder::SetQuoteFloorsCapPrice(bool on) {
  quote_floors_cap_price_ = on;
  return *this;
}

namespace {

using i128 = __int128;

absl::Status Bad(absl::string_view where, std::size_t i, absl::string_view name,
                 absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, "[", i, "] (", name, ").", field, ": ", what));
}

bool ValidCode(absl::string_view code) {
  if (code.size() < 2 || code.size() > 16) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Floor division and ceiling division for positive divisors.
i128 FloorDiv(i128 a, i128 b) {
  i128 q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}
i128 CeilDiv(i128 a, i128 b) { return -FloorDiv(-a, b); }

constexpr i128 kInt64Max = INT64_MAX;

// For error messages: the rounded reference price of a pair.
std::int64_t ReferencePrice(const Instrument& b, const Instrument& q) {
  const i128 num = static_cast<i128>(b.reference_value) * b.lot_size;
  return static_cast<std::int64_t>((2 * num + q.reference_value) /
                                   (2 * static_cast<i128>(q.reference_value)));
}

}  // namespace

bool DerivePairBand(const PairBandInputs& in, PairBand* out, const char** why) noexcept {
  // reference = round_half_up(value * lot / quote value); all factors < 2^63, so the
  // product fits in 127 bits.
  const i128 num = static_cast<i128>(in.base_value) * in.base_lot_size;
  const i128 reference = (2 * num + in.quote_value) / (2 * static_cast<i128>(in.quote_value));
  if (reference <= 0) {
    *why = "reference price rounds to 0 quote units per lot; use a larger lot_size";
    return false;
  }
  if (reference > kInt64Max / 2) {
    *why = "reference price overflows 64 bits";
    return false;
  }
  const i128 tick = in.tick;
  i128 low = CeilDiv(CeilDiv(reference * (10000 - in.band_bps), 10000), tick) * tick;
  i128 high = FloorDiv(FloorDiv(reference * (10000 + in.band_bps), 10000), tick) * tick;
  if (low > high && in.collapse_empty_band) {
    // A price control narrower than a tick: the tick nearest the reference (half up).
    low = high = FloorDiv(reference + tick / 2, tick) * tick;
  }
  // The base's floor is the lowest price: p * quote value >= base floor * lot. It may lie
  // above the reference value (ENGINE.md "Reference data"): a floor price above the band
  // makes it the band's only price.
  i128 floor_price = 0;
  if (in.base_floor > 0) {
    floor_price =
        CeilDiv(CeilDiv(static_cast<i128>(in.base_floor) * in.base_lot_size, in.quote_value),
                tick) *
        tick;
    if (floor_price > low) low = floor_price;
    if (floor_price > high) high = floor_price;
  }
  // The quote's floor is the highest price: whoever pays p quote units for a lot of the
  // base gives them at base value * lot / p each, which must not fall below the quote's
  // floor. A cap below the band makes it the band's only price.
  if (in.quote_floor > 0) {
    const i128 cap = FloorDiv(FloorDiv(num, in.quote_floor), tick) * tick;
    if (cap < tick || cap < floor_price) {
      *why = "quote floor caps the price below one tick or below the base's floor price";
      return false;
    }
    if (cap < high) high = cap;
    if (cap < low) low = cap;
  }
  if (low < tick) low = tick;
  if (high < low && in.collapse_empty_band) high = low;
  if (low > high) {
    *why = "leaves no valid price in the band";
    return false;
  }
  if (high > kInt64Max / 2) {
    *why = "floor price overflows 64 bits";
    return false;
  }
  if ((high - low) / tick + 1 > kMaxPriceLevels) {
    *why = "too small: the band spans more than 262144 price levels";
    return false;
  }
  out->reference_price = static_cast<Price>(reference);
  out->band_low = static_cast<Price>(low);
  out->band_high = static_cast<Price>(high);
  out->floor_price = static_cast<Price>(floor_price);
  return true;
}

absl::StatusOr<ReferenceData> ReferenceDataBuilder::Build() const {
  ReferenceData ref;
  ref.quote_floors_cap_price_ = quote_floors_cap_price_;
  absl::flat_hash_map<std::string, MineralId> minerals;

  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    const InstrumentSpec& s = instruments_[i];
    const std::string& name = s.symbol;
    if (s.symbol.empty()) return Bad("instruments", i, name, "symbol", "must not be empty");
    if (ref.instrument_index_.contains(s.symbol)) {
      return Bad("instruments", i, name, "symbol", "duplicate symbol");
    }
    if (s.symbol.find('/') != std::string::npos) {
      return Bad("instruments", i, name, "symbol", "must not contain '/'");
    }
    if (s.mineral.empty()) return Bad("instruments", i, name, "mineral", "must not be empty");
    if (s.unit.empty()) return Bad("instruments", i, name, "unit", "must not be empty");
    if (s.lot_size <= 0) return Bad("instruments", i, name, "lot_size", "must be > 0");
    if (s.reference_value <= 0) {
      return Bad("instruments", i, name, "reference_value_micro_usd", "must be > 0");
    }
    if (s.floor < 0) return Bad("instruments", i, name, "floor_micro_usd", "must be >= 0");
    Instrument inst;
    inst.id = static_cast<InstrumentId>(i);
    inst.symbol = s.symbol;
    auto [it, inserted] =
        minerals.try_emplace(s.mineral, static_cast<MineralId>(minerals.size()));
    inst.mineral = it->second;
    inst.mineral_name = s.mineral;
    inst.form = s.form;
    inst.unit = s.unit;
    inst.lot_size = s.lot_size;
    inst.reference_value = s.reference_value;
    inst.floor = s.floor;
    ref.instrument_index_.emplace(inst.symbol, inst.id);
    ref.instruments_.push_back(std::move(inst));
  }

  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    const PairSpec& s = pairs_[i];
    const std::string name = absl::StrCat(s.base, "/", s.quote);
    auto base = ref.FindInstrument(s.base);
    if (!base) return Bad("pairs", i, name, "base", "unknown instrument");
    auto quote = ref.FindInstrument(s.quote);
    if (!quote) return Bad("pairs", i, name, "quote", "unknown instrument");
    if (*base == *quote) return Bad("pairs", i, name, "quote", "must differ from base");
    if (ref.pair_index_.contains(name)) return Bad("pairs", i, name, "base", "duplicate pair");
    if (s.tick <= 0) return Bad("pairs", i, name, "tick", "must be > 0");
    if (s.band_bps < 1 || s.band_bps > 10000) {
      return Bad("pairs", i, name, "band_bps", "must be in 1..10000");
    }
    if (s.max_lots <= 0) return Bad("pairs", i, name, "max_lots", "must be > 0");
    const Instrument& b = ref.instruments_[*base];
    const Instrument& q = ref.instruments_[*quote];

    PairBand band;
    const char* why = "";
    if (!DerivePairBand({b.reference_value, b.floor, b.lot_size, q.reference_value,
                         quote_floors_cap_price_ ? q.floor : 0, s.tick, s.band_bps,
                         /*collapse_empty_band=*/false},
                        &band, &why)) {
      // "reference price ...", "floor price ...", "quote floor ...", "leaves ..."
      const char first = why[0];
      const char* field = first == 'r' || first == 'f' ? "base" : first == 'q' ? "quote" : "tick";
      return Bad("pairs", i, name, field,
                 first == 'l' ? absl::StrCat(why, " (reference price ", ReferencePrice(b, q), ")")
                              : std::string(why));
    }
    PairBook pb;
    pb.id = static_cast<PairId>(i);
    pb.symbol = name;
    pb.base = *base;
    pb.quote = *quote;
    pb.tick = s.tick;
    pb.band_bps = s.band_bps;
    pb.max_lots = s.max_lots;
    pb.reference_price = band.reference_price;
    pb.band_low = band.band_low;
    pb.band_high = band.band_high;
    pb.floor_price = band.floor_price;
    ref.pair_index_.emplace(pb.symbol, pb.id);
    ref.pairs_.push_back(std::move(pb));
  }

  if (agencies_.size() > static_cast<std::size_t>(kMaxAgencies)) {
    return Bad("agencies", kMaxAgencies, agencies_[kMaxAgencies].code, "id",
               absl::StrCat("at most ", kMaxAgencies, " agencies"));
  }
  for (std::size_t i = 0; i < agencies_.size(); ++i) {
    const AgencySpec& s = agencies_[i];
    if (!ValidCode(s.code)) return Bad("agencies", i, s.code, "id", "must match [A-Z0-9-]{2,16}");
    if (ref.agency_index_.contains(s.code)) return Bad("agencies", i, s.code, "id", "duplicate id");
    if (s.role != Role::kAgency && s.role != Role::kAdmin) {
      return Bad("agencies", i, s.code, "role", "unknown role");
    }
    Agency a;
    a.id = static_cast<AgencyId>(i);
    a.code = s.code;
    a.name = s.name;
    a.country = s.country;
    a.role = s.role;
    ref.agency_index_.emplace(a.code, a.id);
    ref.agencies_.push_back(std::move(a));
  }

  // Mandated minimum stock and priority tiers (agencies only: an admin never trades).
  ref.minimum_stock_.assign(ref.agencies_.size() * ref.instruments_.size(), 0);
  ref.tiers_.assign(ref.agencies_.size(), 0);
  for (std::size_t i = 0; i < agencies_.size(); ++i) {
    const AgencySpec& s = agencies_[i];
    const bool admin = s.role == Role::kAdmin;
    for (std::size_t m = 0; m < s.mandated_minimum_stock.size(); ++m) {
      const MandatedStockSpec& ms = s.mandated_minimum_stock[m];
      const std::string field = absl::StrCat("mandated_minimum_stock[", m, "].");
      if (admin) {
        return Bad("agencies", i, s.code, field + "instrument",
                   "an admin agency holds no stock");
      }
      auto inst = ref.FindInstrument(ms.instrument);
      if (!inst) {
        return Bad("agencies", i, s.code, field + "instrument",
                   absl::StrCat("unknown instrument \"", ms.instrument, "\""));
      }
      Amount& slot = ref.minimum_stock_[i * ref.instruments_.size() + *inst];
      if (slot != 0) {
        return Bad("agencies", i, s.code, field + "instrument",
                   absl::StrCat("instrument \"", ms.instrument, "\" listed twice"));
      }
      if (ms.amount <= 0) return Bad("agencies", i, s.code, field + "amount", "must be > 0");
      slot = ms.amount;
    }
    if (admin) {
      if (!s.priority_tiers.empty()) {
        return Bad("agencies", i, s.code, "priority_tiers[0]", "an admin agency does not bid");
      }
      continue;
    }
    TierMask tiers = 0;
    for (std::size_t t = 0; t < s.priority_tiers.size(); ++t) {
      const std::string field = absl::StrCat("priority_tiers[", t, "]");
      const auto v = static_cast<std::uint8_t>(s.priority_tiers[t]);
      if (!ValidPriorityTier(v)) {
        return Bad("agencies", i, s.code, field,
                   absl::StrCat("unknown tier ", v, " (DEFENCE, ESSENTIAL or GENERAL)"));
      }
      if (tiers & TierBit(s.priority_tiers[t])) {
        return Bad("agencies", i, s.code, field,
                   absl::StrCat(PriorityTierName(s.priority_tiers[t]), " listed twice"));
      }
      tiers |= TierBit(s.priority_tiers[t]);
    }
    ref.tiers_[i] = tiers == 0 ? kGeneralOnly : tiers;
  }

  // Level policies: the defaults, overridden by the configured levels.
  for (int l = 0; l < kNumEmergencyLevels; ++l) {
    ref.level_policies_[l] = DefaultLevelPolicy(static_cast<EmergencyLevel>(l));
  }
  bool seen_level[kNumEmergencyLevels] = {};
  for (std::size_t i = 0; i < level_policies_.size(); ++i) {
    const LevelPolicySpec& s = level_policies_[i];
    const auto v = static_cast<std::uint8_t>(s.level);
    if (!ValidEmergencyLevel(v)) {
      return Bad("level_policies", i, "?", "level",
                 "must be NORMAL, INTEREST, CAUTION, WARNING or SERIOUS");
    }
    const absl::string_view name = EmergencyLevelName(s.level);
    if (seen_level[v]) return Bad("level_policies", i, name, "level", "level listed twice");
    seen_level[v] = true;
    const LevelPolicy& p = s.policy;
    if (p.mode == MatchingMode::kCallAuction) {
      if (p.auction_interval_seconds < 1 || p.auction_interval_seconds > kMaxAuctionIntervalSeconds) {
        return Bad("level_policies", i, name, "auction_interval_seconds",
                   absl::StrCat("must be between 1 and ", kMaxAuctionIntervalSeconds,
                                " for a call auction, got ", p.auction_interval_seconds));
      }
    } else if (p.mode == MatchingMode::kContinuous) {
      if (p.auction_interval_seconds != 0) {
        return Bad("level_policies", i, name, "auction_interval_seconds",
                   absl::StrCat("must be 0 (unset) under continuous matching, got ",
                                p.auction_interval_seconds));
      }
    } else {
      return Bad("level_policies", i, name, "matching_mode",
                 "must be CONTINUOUS or CALL_AUCTION");
    }
    if (p.band_bps < 0 || p.band_bps > kFullShareBps) {
      return Bad("level_policies", i, name, "band_bps",
                 absl::StrCat("must be between 1 and 10000 (or 0 for each pair's own band), got ",
                              p.band_bps));
    }
    if (p.agency_cap_bps < 1 || p.agency_cap_bps > kFullShareBps) {
      return Bad("level_policies", i, name, "agency_cap_bps",
                 absl::StrCat("must be between 1 and 10000, got ", p.agency_cap_bps));
    }
    ref.level_policies_[v] = p;
  }

  absl::flat_hash_set<std::string> agreement_names;
  for (std::size_t i = 0; i < agreements_.size(); ++i) {
    const AgreementSpec& s = agreements_[i];
    if (s.name.empty()) return Bad("agreements", i, s.name, "name", "must not be empty");
    if (!agreement_names.insert(s.name).second) {
      return Bad("agreements", i, s.name, "name", "duplicate name");
    }
    Agreement ag;
    ag.name = s.name;
    for (std::size_t m = 0; m < s.members.size(); ++m) {
      auto id = ref.FindAgency(s.members[m]);
      if (!id) {
        return Bad("agreements", i, s.name, absl::StrCat("members[", m, "]"),
                   absl::StrCat("unknown agency \"", s.members[m], "\""));
      }
      if (ref.agencies_[*id].role == Role::kAdmin) {
        return Bad("agreements", i, s.name, absl::StrCat("members[", m, "]"),
                   absl::StrCat("admin agency \"", s.members[m], "\" cannot trade"));
      }
      ag.members |= AgencyMask{1} << *id;
    }
    if (ag.members == 0) return Bad("agreements", i, s.name, "members", "must not be empty");
    for (std::size_t m = 0; m < s.minerals.size(); ++m) {
      auto it = minerals.find(s.minerals[m]);
      if (it == minerals.end()) {
        return Bad("agreements", i, s.name, absl::StrCat("minerals[", m, "]"),
                   absl::StrCat("unknown mineral \"", s.minerals[m], "\""));
      }
      ag.minerals.push_back(it->second);
    }
    ref.agreements_.push_back(std::move(ag));
  }

  const std::size_t num_agencies = ref.agencies_.size();
  for (Agreement& ag : ref.agreements_) {
    ag.credit_limit.assign(num_agencies, 0);
    ag.recall_notice = kDefaultRecallNoticeDays * kNsPerDay;
    ag.grace = kDefaultGraceDays * kNsPerDay;
    ag.delivery_window = kDefaultDeliveryWindowDays * kNsPerDay;
  }
  absl::flat_hash_set<std::string> terms_seen;
  for (std::size_t i = 0; i < agreement_terms_.size(); ++i) {
    const AgreementTermsSpec& s = agreement_terms_[i];
    std::size_t index = 0;
    while (index < agreements_.size() && agreements_[index].name != s.agreement) ++index;
    if (index == agreements_.size()) {
      return Bad("agreement_terms", i, s.agreement, "agreement", "unknown agreement");
    }
    if (!terms_seen.insert(s.agreement).second) {
      return Bad("agreement_terms", i, s.agreement, "agreement", "terms given twice");
    }
    Agreement& ag = ref.agreements_[index];
    if (s.default_credit_limit < 0) {
      return Bad("agreements", index, s.agreement, "default_credit_limit_micro_usd",
                 "must be >= 0");
    }
    ag.default_credit_limit = s.default_credit_limit;
    for (std::size_t a = 0; a < num_agencies; ++a) {
      if (ag.members & (AgencyMask{1} << a)) ag.credit_limit[a] = s.default_credit_limit;
    }
    absl::flat_hash_set<std::string> borrowers;
    for (std::size_t c = 0; c < s.credit_limits.size(); ++c) {
      const auto& [code, limit] = s.credit_limits[c];
      const std::string field = absl::StrCat("credit_limits[", c, "]");
      auto id = ref.FindAgency(code);
      if (!id) {
        return Bad("agreements", index, s.agreement, absl::StrCat(field, ".borrower"),
                   absl::StrCat("unknown agency \"", code, "\""));
      }
      if (!(ag.members & (AgencyMask{1} << *id))) {
        return Bad("agreements", index, s.agreement, absl::StrCat(field, ".borrower"),
                   absl::StrCat("\"", code, "\" is not a member of the agreement"));
      }
      if (!borrowers.insert(code).second) {
        return Bad("agreements", index, s.agreement, absl::StrCat(field, ".borrower"),
                   absl::StrCat("\"", code, "\" listed twice"));
      }
      if (limit < 0) {
        return Bad("agreements", index, s.agreement, absl::StrCat(field, ".limit_micro_usd"),
                   "must be >= 0");
      }
      ag.credit_limit[*id] = limit;
    }
    ag.recall_allowed = s.recall_allowed;
    if (s.recall_notice_days < 0 || s.recall_notice_days > kMaxTenorDays) {
      return Bad("agreements", index, s.agreement, "recall_notice_days",
                 absl::StrCat("must be between 0 and ", kMaxTenorDays, " (0 = ",
                              kDefaultRecallNoticeDays, ")"));
    }
    if (s.grace_days < 0 || s.grace_days > kMaxTenorDays) {
      return Bad("agreements", index, s.agreement, "grace_days",
                 absl::StrCat("must be between 0 and ", kMaxTenorDays, " (0 = ",
                              kDefaultGraceDays, ")"));
    }
    if (s.delivery_window_days < 0 || s.delivery_window_days > kMaxTenorDays) {
      return Bad("agreements", index, s.agreement, "delivery_window_days",
                 absl::StrCat("must be between 0 and ", kMaxTenorDays, " (0 = ",
                              kDefaultDeliveryWindowDays, ")"));
    }
    if (s.delivery_window_days != 0) ag.delivery_window = s.delivery_window_days * kNsPerDay;
    if (s.recall_notice_days != 0) ag.recall_notice = s.recall_notice_days * kNsPerDay;
    if (s.grace_days != 0) ag.grace = s.grace_days * kNsPerDay;
    if (s.collateral_bps < 0 || s.collateral_bps > kMaxCollateralBps) {
      return Bad("agreements", index, s.agreement, "collateral_bps",
                 absl::StrCat("must be between 0 and ", kMaxCollateralBps,
                              " (0 = no collateral)"));
    }
    if ((s.collateral_bps > 0) != !s.collateral_instruments.empty()) {
      return Bad("agreements", index, s.agreement,
                 s.collateral_bps > 0 ? "collateral_instruments" : "collateral_bps",
                 s.collateral_bps > 0 ? "must list at least one instrument when collateral_bps > 0"
                                      : "must be > 0 when collateral_instruments are listed");
    }
    ag.collateral_bps = s.collateral_bps;
    for (std::size_t c = 0; c < s.collateral_instruments.size(); ++c) {
      const std::string field = absl::StrCat("collateral_instruments[", c, "]");
      auto inst = ref.FindInstrument(s.collateral_instruments[c]);
      if (!inst) {
        return Bad("agreements", index, s.agreement, field,
                   absl::StrCat("unknown instrument \"", s.collateral_instruments[c], "\""));
      }
      if (std::find(ag.collateral_instruments.begin(), ag.collateral_instruments.end(),
                    *inst) != ag.collateral_instruments.end()) {
        return Bad("agreements", index, s.agreement, field,
                   absl::StrCat("\"", s.collateral_instruments[c], "\" listed twice"));
      }
      ag.collateral_instruments.push_back(*inst);
    }
  }

  for (std::size_t i = 0; i < term_books_.size(); ++i) {
    const TermBookSpec& s = term_books_[i];
    const std::string name = absl::StrCat(s.instrument, "@", s.tenor_days, "D");
    auto inst = ref.FindInstrument(s.instrument);
    if (!inst) {
      return Bad("term_books", i, name, "instrument",
                 absl::StrCat("unknown instrument \"", s.instrument, "\""));
    }
    if (s.tenor_days <= 0 || s.tenor_days > kMaxTenorDays) {
      return Bad("term_books", i, name, "tenor_days",
                 absl::StrCat("must be between 1 and ", kMaxTenorDays));
    }
    if (ref.term_book_index_.contains(name)) {
      return Bad("term_books", i, name, "tenor_days", "duplicate tenor for this instrument");
    }
    if (s.max_lots <= 0) return Bad("term_books", i, name, "max_lots", "must be > 0");
    if (static_cast<i128>(s.max_lots) * ref.instruments_[*inst].lot_size > kInt64Max) {
      return Bad("term_books", i, name, "max_lots", "max_lots * lot_size overflows int64");
    }
    TermBook tb;
    tb.id = static_cast<TermBookId>(i);
    tb.symbol = name;
    tb.instrument = *inst;
    tb.tenor_days = s.tenor_days;
    tb.tenor = s.tenor_days * kNsPerDay;
    tb.max_lots = s.max_lots;
    ref.term_book_index_.emplace(name, tb.id);
    ref.term_books_.push_back(std::move(tb));
  }

  // eligible_[pair * A + agency]: union of the members of every agreement that contains
  // the agency and covers both minerals of the pair, minus the agency itself.
  ref.eligible_.assign(ref.pairs_.size() * num_agencies, 0);
  auto covers = [](const Agreement& ag, MineralId m) {
    if (ag.minerals.empty()) return true;
    for (MineralId x : ag.minerals) {
      if (x == m) return true;
    }
    return false;
  };
  for (const PairBook& pb : ref.pairs_) {
    const MineralId mb = ref.instruments_[pb.base].mineral;
    const MineralId mq = ref.instruments_[pb.quote].mineral;
    for (const Agreement& ag : ref.agreements_) {
      if (!covers(ag, mb) || !covers(ag, mq)) continue;
      for (std::size_t a = 0; a < num_agencies; ++a) {
        if (ag.members & (AgencyMask{1} << a)) {
          ref.eligible_[pb.id * num_agencies + a] |= ag.members & ~(AgencyMask{1} << a);
        }
      }
    }
  }
  return ref;
}

}  // namespace msx
