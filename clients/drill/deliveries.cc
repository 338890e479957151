#include "clients/drill/deliveries.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/drill/format.h"

namespace msx::drill {

void DeliveryLedger::Add(const Event& e) {
  if (e.type != EventType::kDelivery) return;
  const DeliveryEvent& d = e.delivery;
  // Ids are dense from 1 in an engine: a gap (not an engine's) is not tracked.
  if (d.delivery == 0) return;
  if (deliveries_.empty()) deliveries_.emplace_back();  // id 0, unused
  if (d.delivery == deliveries_.size()) deliveries_.emplace_back();
  if (d.delivery >= deliveries_.size()) return;
  Track& t = deliveries_[d.delivery];
  switch (d.kind) {
    case DeliveryEventKind::kOpened:
      t = Track{d.deliverer, d.instrument, d.amount, d.state, true, false, false};
      break;
    case DeliveryEventKind::kOverdue:
      t.fell_overdue = true;
      break;
    case DeliveryEventKind::kConfirmed:
      t.confirmed_late = t.state == DeliveryState::kOverdue;
      break;
  }
  t.state = d.state;
}

std::vector<AgencyDeliveryRow> DeliveryLedger::Finish() const {
  std::map<std::pair<AgencyId, InstrumentId>, AgencyDeliveryRow> rows;
  for (std::size_t id = 1; id < deliveries_.size(); ++id) {
    const Track& t = deliveries_[id];
    if (!t.opened) continue;
    if (t.deliverer >= ref_.agencies().size() || t.instrument >= ref_.instruments().size()) {
      continue;
    }
    AgencyDeliveryRow& r = rows[{t.deliverer, t.instrument}];
    r.agency = t.deliverer;
    r.code = ref_.agencies()[t.deliverer].code;
    r.instrument = t.instrument;
    r.symbol = ref_.instruments()[t.instrument].symbol;
    r.unit = ref_.instruments()[t.instrument].unit;
    ++r.opened;
    r.units += t.amount;
    r.fell_overdue += t.fell_overdue;
    if (t.state == DeliveryState::kConfirmed) {
      ++r.confirmed;
      r.confirmed_late += t.confirmed_late;
      r.confirmed_in_window += !t.confirmed_late;
    } else if (t.state == DeliveryState::kOverdue) {
      ++r.overdue_at_end;
      r.overdue_units_at_end += t.amount;
    } else {
      ++r.pending_at_end;
      r.pending_units_at_end += t.amount;
    }
  }
  std::vector<AgencyDeliveryRow> out;
  for (auto& [k, r] : rows) out.push_back(std::move(r));
  return out;
}

nlohmann::ordered_json DeliveriesJson(const std::vector<AgencyDeliveryRow>& rows) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const AgencyDeliveryRow& r : rows) {
    nlohmann::ordered_json& o = j.emplace_back();
    o["agency"] = r.code;
    o["instrument"] = r.symbol;
    o["unit"] = r.unit;
    o["opened"] = r.opened;
    o["units"] = r.units;
    o["confirmed"] = r.confirmed;
    o["confirmed_late"] = r.confirmed_late;
    o["confirmed_in_window"] = r.confirmed_in_window;
    o["fell_overdue"] = r.fell_overdue;
    o["overdue_at_end"] = r.overdue_at_end;
    o["overdue_units_at_end"] = r.overdue_units_at_end;
    o["pending_at_end"] = r.pending_at_end;
    o["pending_units_at_end"] = r.pending_units_at_end;
  }
  return j;
}

std::string RenderDeliveriesText(const std::vector<AgencyDeliveryRow>& rows) {
  if (rows.empty()) return "";
  std::string out =
      "Deliveries per agency (the deliverer; fills under WARNING or SERIOUS, due by the "
      "fill's time + the agreement's delivery window; late = confirmed after falling "
      "overdue, in window = confirmed by the deliver-by)\n";
  TextTable t({"agency", "instrument", "deliveries", "units", "confirmed", "late",
               "in window", "fell overdue", "overdue at end", "overdue units", "pending at end",
               "pending units"});
  t.LeftAlign(1);
  for (const AgencyDeliveryRow& r : rows) {
    t.AddRow({r.code, r.symbol, ThousandsU(r.opened), absl::StrCat(Thousands(r.units), " ", r.unit),
              ThousandsU(r.confirmed), ThousandsU(r.confirmed_late),
              ThousandsU(r.confirmed_in_window), ThousandsU(r.fell_overdue),
              ThousandsU(r.overdue_at_end),
              absl::StrCat(Thousands(r.overdue_units_at_end), " ", r.unit),
              ThousandsU(r.pending_at_end),
              absl::StrCat(Thousands(r.pending_units_at_end), " ", r.unit)});
  }
  return out + t.Render();
}

}  // namespace msx::drill
