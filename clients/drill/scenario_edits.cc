// Scenario files: parsing (protobuf text format) and resolving each edit's names against
// the journal's reference data, with errors naming the edit and field (scenario.h).
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/drill/scenario.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace msx::drill {
namespace {

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstError(std::string prefix) : prefix_(std::move(prefix)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(prefix_, line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string prefix_;
  std::string error_;
};

absl::StatusOr<msx::v1::Scenario> Parse(absl::string_view text, const std::string& prefix) {
  msx::v1::Scenario scenario;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors(prefix);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &scenario)) {
    return absl::InvalidArgumentError(errors.error().empty() ? prefix + " parse error"
                                                             : errors.error());
  }
  return scenario;
}

}  // namespace

absl::StatusOr<msx::v1::Scenario> ParseScenarioText(absl::string_view text) {
  return Parse(text, "scenario line ");
}

absl::StatusOr<msx::v1::Scenario> ReadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open scenario file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path + ":");
}

absl::StatusOr<std::vector<ResolvedEdit>> ResolveScenario(const msx::v1::Scenario& scenario,
                                                          const ReferenceData& ref) {
  std::vector<ResolvedEdit> out;
  for (int i = 0; i < scenario.edits_size(); ++i) {
    const msx::v1::DrillEdit& e = scenario.edits(i);
    const std::string where = absl::StrCat("edits[", i, "]");
    auto bad = [&](absl::string_view field, absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", field, ": ", what));
    };
    ResolvedEdit r;
    r.index = i;
    switch (e.trigger_case()) {
      case msx::v1::DrillEdit::kAtSeq:
        r.by_seq = true;
        r.at_seq = e.at_seq();
        break;
      case msx::v1::DrillEdit::kAtTimeNs:
        r.by_seq = false;
        r.at_time = e.at_time_ns();
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": needs a trigger (at_seq or at_time_ns)"));
    }
    auto agency = [&](const std::string& field, const std::string& code) -> absl::Status {
      std::optional<AgencyId> a = ref.FindAgency(code);
      if (!a) return bad(field, absl::StrCat("unknown agency \"", code, "\""));
      r.agency = *a;
      return absl::OkStatus();
    };
    auto pair = [&](const std::string& field, const std::string& symbol) -> absl::Status {
      std::optional<PairId> p = ref.FindPair(symbol);
      if (!p) return bad(field, absl::StrCat("unknown pair \"", symbol, "\""));
      r.pair = *p;
      return absl::OkStatus();
    };
    auto instrument = [&](const std::string& field, const std::string& symbol) -> absl::Status {
      std::optional<InstrumentId> i = ref.FindInstrument(symbol);
      if (!i) return bad(field, absl::StrCat("unknown instrument \"", symbol, "\""));
      r.instrument = *i;
      return absl::OkStatus();
    };
    absl::Status s;
    switch (e.edit_case()) {
      case msx::v1::DrillEdit::kExportBan: {
        r.kind = ResolvedEdit::Kind::kExportBan;
        s = agency("export_ban.agency", e.export_ban().agency());
        if (!s.ok()) return s;
        bool found = false;
        for (const Instrument& inst : ref.instruments()) {
          if (inst.mineral_name == e.export_ban().mineral()) {
            r.mineral = inst.mineral;
            found = true;
            break;
          }
        }
        if (!found) {
          return bad("export_ban.mineral",
                     absl::StrCat("unknown mineral \"", e.export_ban().mineral(), "\""));
        }
        break;
      }
      case msx::v1::DrillEdit::kSupplyShock: {
        const msx::v1::SupplyShock& x = e.supply_shock();
        r.kind = ResolvedEdit::Kind::kSupplyShock;
        s = agency("supply_shock.agency", x.agency());
        if (!s.ok()) return s;
        std::optional<InstrumentId> inst = ref.FindInstrument(x.instrument());
        if (!inst) {
          return bad("supply_shock.instrument",
                     absl::StrCat("unknown instrument \"", x.instrument(), "\""));
        }
        r.instrument = *inst;
        if (x.numerator() < 0) return bad("supply_shock.numerator", "must be >= 0");
        if (x.denominator() <= 0) return bad("supply_shock.denominator", "must be > 0");
        r.numerator = x.numerator();
        r.denominator = x.denominator();
        break;
      }
      case msx::v1::DrillEdit::kHaltPair:
        r.kind = ResolvedEdit::Kind::kHalt;
        s = pair("halt_pair.pair", e.halt_pair().pair());
        if (!s.ok()) return s;
        break;
      case msx::v1::DrillEdit::kResumePair:
        r.kind = ResolvedEdit::Kind::kResume;
        s = pair("resume_pair.pair", e.resume_pair().pair());
        if (!s.ok()) return s;
        break;
      case msx::v1::DrillEdit::kInjectOffer: {
        const msx::v1::InjectOffer& x = e.inject_offer();
        r.kind = ResolvedEdit::Kind::kInject;
        s = agency("inject_offer.agency", x.agency());
        if (!s.ok()) return s;
        s = pair("inject_offer.pair", x.pair());
        if (!s.ok()) return s;
        if (x.side() == msx::v1::SIDE_BUY) {
          r.side = Side::kBuy;
        } else if (x.side() == msx::v1::SIDE_SELL) {
          r.side = Side::kSell;
        } else {
          return bad("inject_offer.side", "must be SIDE_BUY or SIDE_SELL");
        }
        switch (x.time_in_force()) {
          case msx::v1::TIME_IN_FORCE_UNSPECIFIED:
          case msx::v1::TIME_IN_FORCE_GTC:
            r.tif = TimeInForce::kGtc;
            break;
          case msx::v1::TIME_IN_FORCE_IOC:
            r.tif = TimeInForce::kIoc;
            break;
          case msx::v1::TIME_IN_FORCE_FOK:
            r.tif = TimeInForce::kFok;
            break;
          default:
            return bad("inject_offer.time_in_force", "must be GTC, IOC or FOK");
        }
        if (x.lots() <= 0) return bad("inject_offer.lots", "must be > 0");
        if (x.price() <= 0) return bad("inject_offer.price", "must be > 0");
        r.lots = x.lots();
        r.price = x.price();
        r.min_fill = x.min_fill_lots();
        r.client_id = x.client_offer_id() != 0
                          ? x.client_offer_id()
                          : (ClientOfferId{1} << 62) + static_cast<ClientOfferId>(i);
        break;
      }
      case msx::v1::DrillEdit::kSetLevel: {
        const msx::v1::LevelEdit& x = e.set_level();
        r.kind = ResolvedEdit::Kind::kSetLevel;
        s = instrument("set_level.instrument", x.instrument());
        if (!s.ok()) return s;
        std::optional<EmergencyLevel> level = ParseEmergencyLevel(x.level());
        if (!level) {
          return bad("set_level.level",
                     absl::StrCat("unknown level \"", x.level(),
                                  "\" (NORMAL, INTEREST, CAUTION, WARNING or SERIOUS)"));
        }
        if (x.reason().size() > kMaxLevelReasonBytes) {
          return bad("set_level.reason", absl::StrCat("at most ", kMaxLevelReasonBytes,
                                                      " bytes, got ", x.reason().size()));
        }
        r.level = *level;
        r.reason = x.reason();
        break;
      }
      case msx::v1::DrillEdit::kPublishReference: {
        const msx::v1::ReferenceEdit& x = e.publish_reference();
        r.kind = ResolvedEdit::Kind::kPublishReference;
        s = instrument("publish_reference.instrument", x.instrument());
        if (!s.ok()) return s;
        if (x.reference_value_micro_usd() <= 0) {
          return bad("publish_reference.reference_value_micro_usd", "must be > 0");
        }
        if (x.floor_micro_usd() < 0) return bad("publish_reference.floor_micro_usd", "must be >= 0");
        r.reference_value = x.reference_value_micro_usd();
        r.floor = x.floor_micro_usd();
        break;
      }
      case msx::v1::DrillEdit::kAdmitMember:
      case msx::v1::DrillEdit::kSuspendMember: {
        const bool admit = e.edit_case() == msx::v1::DrillEdit::kAdmitMember;
        const msx::v1::MembershipEdit& x = admit ? e.admit_member() : e.suspend_member();
        const std::string field = admit ? "admit_member" : "suspend_member";
        r.kind = admit ? ResolvedEdit::Kind::kAdmitMember : ResolvedEdit::Kind::kSuspendMember;
        s = agency(field + ".agency", x.agency());
        if (!s.ok()) return s;
        bool found = false;
        for (std::size_t k = 0; k < ref.agreements().size(); ++k) {
          if (ref.agreements()[k].name == x.agreement()) {
            r.agreement = static_cast<std::uint32_t>(k);
            found = true;
            break;
          }
        }
        if (!found) {
          return bad(field + ".agreement",
                     absl::StrCat("unknown agreement \"", x.agreement(), "\""));
        }
        break;
      }
      case msx::v1::DrillEdit::kDefault: {
        const msx::v1::AgencyDefault& x = e.default_();
        r.kind = ResolvedEdit::Kind::kDefault;
        s = agency("default.agency", x.agency());
        if (!s.ok()) return s;
        s = instrument("default.instrument", x.instrument());
        if (!s.ok()) return s;
        if (x.total() < 0) return bad("default.total", "must be >= 0");
        r.total = x.total();
        break;
      }
      case msx::v1::DrillEdit::kRecallAll: {
        const msx::v1::RecallAll& x = e.recall_all();
        r.kind = ResolvedEdit::Kind::kRecallAll;
        s = agency("recall_all.lender", x.lender());
        if (!s.ok()) return s;
        r.every_instrument = x.instrument().empty();
        if (!r.every_instrument) {
          s = instrument("recall_all.instrument", x.instrument());
          if (!s.ok()) return s;
        }
        break;
      }
      case msx::v1::DrillEdit::kExternalSupplyLoss: {
        const msx::v1::ExternalSupplyLoss& x = e.external_supply_loss();
        r.kind = ResolvedEdit::Kind::kSupplyLoss;
        s = agency("external_supply_loss.agency", x.agency());
        if (!s.ok()) return s;
        s = instrument("external_supply_loss.instrument", x.instrument());
        if (!s.ok()) return s;
        if (x.units() <= 0) return bad("external_supply_loss.units", "must be > 0");
        r.units = x.units();
        const TierMask allowed = ref.AllowedTiers(r.agency);
        if (x.tier() == msx::v1::PRIORITY_TIER_UNSPECIFIED) {
          r.tier = PriorityTier::kGeneral;  // what every agency may use
          for (int t = 1; t <= kNumPriorityTiers; ++t) {
            if (allowed & TierBit(static_cast<PriorityTier>(t))) {
              r.tier = static_cast<PriorityTier>(t);
              break;
            }
          }
        } else {
          const int t = static_cast<int>(x.tier());
          if (!ValidPriorityTier(static_cast<std::uint8_t>(t))) {
            return bad("external_supply_loss.tier", absl::StrCat("unknown tier ", t));
          }
          r.tier = static_cast<PriorityTier>(t);
          if ((allowed & TierBit(r.tier)) == 0) {
            std::string names;
            for (int k = 1; k <= kNumPriorityTiers; ++k) {
              if (allowed & TierBit(static_cast<PriorityTier>(k))) {
                absl::StrAppend(&names, names.empty() ? "" : ", ",
                                PriorityTierName(static_cast<PriorityTier>(k)));
              }
            }
            return bad("external_supply_loss.tier",
                       absl::StrCat(x.agency(), " may not declare needs in tier ",
                                    PriorityTierName(r.tier), " (allowed: ",
                                    names.empty() ? "GENERAL" : names, ")"));
          }
        }
        if (x.pair().empty()) {
          r.any_pair = true;
          bool found = false;
          for (const PairBook& b : ref.pairs()) found |= b.base == r.instrument;
          if (!found) {
            return bad("external_supply_loss.instrument",
                       absl::StrCat("no pair has \"", x.instrument(), "\" as its base"));
          }
        } else {
          s = pair("external_supply_loss.pair", x.pair());
          if (!s.ok()) return s;
          if (ref.pairs()[r.pair].base != r.instrument) {
            return bad("external_supply_loss.pair",
                       absl::StrCat("\"", x.pair(), "\" does not have \"", x.instrument(),
                                    "\" as its base"));
          }
        }
        r.client_id = (ClientOfferId{1} << 62) + static_cast<ClientOfferId>(i);
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            where,
            ": needs an edit (export_ban, supply_shock, halt_pair, resume_pair, inject_offer, "
            "set_level, publish_reference, admit_member, suspend_member, default, "
            "recall_all or external_supply_loss)"));
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace msx::drill
