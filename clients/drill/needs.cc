#include "clients/drill/needs.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/drill/format.h"

namespace msx::drill {

NeedLedger::NeedLedger(const ReferenceData& ref)
    : ref_(ref), levels_(ref.instruments().size(), EmergencyLevel::kNormal) {}

void NeedLedger::Add(const Command& cmd, absl::Span<const Event> events) {
  const bool auction = cmd.type == CommandType::kRunAuction;
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kEmergencyLevelSet:
        if (e.level_set.instrument < levels_.size()) {
          levels_[e.level_set.instrument] = e.level_set.level;
        }
        break;
      case EventType::kAccepted: {
        if (cmd.type != CommandType::kSubmitOfferWithNeed) break;
        const AcceptedEvent& a = e.accepted;
        if (a.pair >= ref_.pairs().size() || a.side != Side::kBuy) break;
        Buy b;
        b.agency = a.agency;
        b.instrument = ref_.pairs()[a.pair].base;
        b.level = levels_[b.instrument];
        b.tier = cmd.submit_need.tier;
        b.need = cmd.submit_need.need;
        b.accepted = e.time;
        index_[a.offer] = buys_.size();
        buys_.push_back(b);
        break;
      }
      case EventType::kFill: {
        const FillEvent& f = e.fill;
        // A need buy is a buy: at most one side of a fill is one.
        auto it = index_.find(f.maker_offer);
        if (it == index_.end()) it = index_.find(f.taker_offer);
        if (it == index_.end()) break;
        Buy& b = buys_[it->second];
        b.received += f.base_amount;
        if (e.time - b.accepted <= kNeedWindowNs) b.received_within_window += f.base_amount;
        if (auction) b.allocated += f.base_amount;
        break;
      }
      default:
        break;
    }
  }
}

namespace {

void Accumulate(NeedFigures* f, Amount need, Amount received, Amount within, Amount allocated) {
  ++f->buys;
  f->declared += need;
  f->allocated += allocated;
  f->met += std::min(received, need);
  f->met_within_window += std::min(within, need);
}

std::int64_t ShareBps(Amount part, Amount whole) {
  if (whole <= 0) return 0;
  return static_cast<std::int64_t>(static_cast<__int128>(part) * 10000 / whole);
}

// "74.07 %" from basis points.
std::string Percent(std::int64_t bps) {
  return absl::StrCat(bps / 100, ".", bps % 100 < 10 ? "0" : "", bps % 100, " %");
}

std::string Units(Amount v, const std::string& unit) {
  return absl::StrCat(Thousands(v), " ", unit);
}

std::string Signed(Amount v, const std::string& unit) {
  return absl::StrCat(v > 0 ? "+" : "", Thousands(v), " ", unit);
}

nlohmann::ordered_json Array() { return nlohmann::ordered_json::array(); }

}  // namespace

NeedReport NeedLedger::Finish() const {
  using LevelKey = std::tuple<InstrumentId, EmergencyLevel>;
  using AgencyKey = std::tuple<InstrumentId, EmergencyLevel, AgencyId, PriorityTier>;
  std::map<LevelKey, NeedFigures> by_level;
  std::map<AgencyKey, NeedFigures> by_agency;
  for (const Buy& b : buys_) {
    Accumulate(&by_level[{b.instrument, b.level}], b.need, b.received, b.received_within_window,
               b.allocated);
    Accumulate(&by_agency[{b.instrument, b.level, b.agency, b.tier}], b.need, b.received,
               b.received_within_window, b.allocated);
  }
  NeedReport r;
  const auto& inst = ref_.instruments();
  for (const auto& [k, f] : by_level) {
    NeedLevelRow& row = r.levels.emplace_back();
    row.instrument = std::get<0>(k);
    row.symbol = inst[row.instrument].symbol;
    row.unit = inst[row.instrument].unit;
    row.level = std::get<1>(k);
    row.figures = f;
    row.share_within_window_bps = ShareBps(f.met_within_window, f.declared);
  }
  for (const auto& [k, f] : by_agency) {
    NeedAgencyRow& row = r.agencies.emplace_back();
    row.instrument = std::get<0>(k);
    row.symbol = inst[row.instrument].symbol;
    row.unit = inst[row.instrument].unit;
    row.level = std::get<1>(k);
    row.agency = std::get<2>(k);
    row.code = row.agency < ref_.agencies().size() ? ref_.agencies()[row.agency].code
                                                   : absl::StrCat("agency ", row.agency);
    row.tier = std::get<3>(k);
    row.figures = f;
  }
  return r;
}

void CompareWithContinuous(NeedReport* as_run, const NeedReport& continuous) {
  using Key = std::tuple<InstrumentId, EmergencyLevel, AgencyId>;
  std::map<Key, NeedContinuousRow> rows;
  auto row = [&](const NeedAgencyRow& a) -> NeedContinuousRow& {
    NeedContinuousRow& c = rows[{a.instrument, a.level, a.agency}];
    c.instrument = a.instrument;
    c.symbol = a.symbol;
    c.unit = a.unit;
    c.level = a.level;
    c.agency = a.agency;
    c.code = a.code;
    return c;
  };
  for (const NeedAgencyRow& a : as_run->agencies) {
    NeedContinuousRow& c = row(a);
    c.declared += a.figures.declared;
    c.met += a.figures.met;
    c.met_within_window += a.figures.met_within_window;
  }
  for (const NeedAgencyRow& a : continuous.agencies) {
    NeedContinuousRow& c = row(a);
    c.continuous_met += a.figures.met;
    c.continuous_met_within_window += a.figures.met_within_window;
  }
  as_run->continuous.clear();
  for (auto& [k, c] : rows) as_run->continuous.push_back(std::move(c));
  as_run->has_continuous = true;
}

nlohmann::ordered_json NeedsJson(const NeedReport& r) {
  auto figures = [](nlohmann::ordered_json* o, const NeedFigures& f) {
    (*o)["need_buys"] = f.buys;
    (*o)["need_declared"] = f.declared;
    (*o)["allocated"] = f.allocated;
    (*o)["need_met"] = f.met;
    (*o)["need_met_within_8_days"] = f.met_within_window;
  };
  nlohmann::ordered_json j;
  nlohmann::ordered_json& levels = j["levels"] = Array();
  for (const NeedLevelRow& l : r.levels) {
    nlohmann::ordered_json& o = levels.emplace_back();
    o["instrument"] = l.symbol;
    o["unit"] = l.unit;
    o["level"] = std::string(EmergencyLevelName(l.level));
    figures(&o, l.figures);
    o["share_met_within_8_days_bps"] = l.share_within_window_bps;
  }
  nlohmann::ordered_json& agencies = j["agencies"] = Array();
  for (const NeedAgencyRow& a : r.agencies) {
    nlohmann::ordered_json& o = agencies.emplace_back();
    o["instrument"] = a.symbol;
    o["unit"] = a.unit;
    o["level"] = std::string(EmergencyLevelName(a.level));
    o["agency"] = a.code;
    o["tier"] = std::string(PriorityTierName(a.tier));
    figures(&o, a.figures);
  }
  if (!r.has_continuous) {
    j["continuous"] = nullptr;
    return j;
  }
  nlohmann::ordered_json& cont = j["continuous"] = Array();
  for (const NeedContinuousRow& c : r.continuous) {
    nlohmann::ordered_json& o = cont.emplace_back();
    o["instrument"] = c.symbol;
    o["unit"] = c.unit;
    o["level"] = std::string(EmergencyLevelName(c.level));
    o["agency"] = c.code;
    o["need_declared"] = c.declared;
    o["need_met"] = c.met;
    o["continuous_need_met"] = c.continuous_met;
    o["difference"] = c.met - c.continuous_met;
    o["need_met_within_8_days"] = c.met_within_window;
    o["continuous_need_met_within_8_days"] = c.continuous_met_within_window;
    o["difference_within_8_days"] = c.met_within_window - c.continuous_met_within_window;
  }
  return j;
}

std::string RenderNeedsText(const NeedReport& r) {
  if (r.empty()) return "";
  std::string out =
      "Declared needs per instrument and level (level when the need was declared; met = "
      "bought by the buys that declared a need, at most each need; allocated = bought in "
      "call auctions)\n";
  TextTable levels({"instrument", "level", "need buys", "need declared", "allocated",
                    "need met", "met within 8 days", "share within 8 days"});
  levels.LeftAlign(1);
  for (const NeedLevelRow& l : r.levels) {
    const NeedFigures& f = l.figures;
    levels.AddRow({l.symbol, std::string(EmergencyLevelName(l.level)), ThousandsU(f.buys),
                   Units(f.declared, l.unit), Units(f.allocated, l.unit), Units(f.met, l.unit),
                   Units(f.met_within_window, l.unit), Percent(l.share_within_window_bps)});
  }
  out += levels.Render();
  out += "\nAllocation per agency and tier\n";
  TextTable agencies({"instrument", "level", "agency", "tier", "need buys", "need declared",
                      "allocated", "need met", "met within 8 days"});
  for (std::size_t c : {1, 2, 3}) agencies.LeftAlign(c);
  for (const NeedAgencyRow& a : r.agencies) {
    const NeedFigures& f = a.figures;
    agencies.AddRow({a.symbol, std::string(EmergencyLevelName(a.level)), a.code,
                     std::string(PriorityTierName(a.tier)), ThousandsU(f.buys),
                     Units(f.declared, a.unit), Units(f.allocated, a.unit), Units(f.met, a.unit),
                     Units(f.met_within_window, a.unit)});
  }
  out += agencies.Render();
  if (r.has_continuous) {
    out +=
        "\nAs run vs continuous matching (the same commands with every level matching "
        "continuously: what each agency's need buys would have got)\n";
    TextTable c({"instrument", "level", "agency", "need met", "continuous", "difference",
                 "within 8 days", "continuous", "difference"});
    for (std::size_t k : {1, 2}) c.LeftAlign(k);
    for (const NeedContinuousRow& x : r.continuous) {
      c.AddRow({x.symbol, std::string(EmergencyLevelName(x.level)), x.code, Units(x.met, x.unit),
                Units(x.continuous_met, x.unit), Signed(x.met - x.continuous_met, x.unit),
                Units(x.met_within_window, x.unit), Units(x.continuous_met_within_window, x.unit),
                Signed(x.met_within_window - x.continuous_met_within_window, x.unit)});
    }
    out += c.Render();
  }
  return out;
}

}  // namespace msx::drill
