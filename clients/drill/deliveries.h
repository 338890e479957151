// Deliveries in a drill report (issue 15, section 3): per agency that owes them and per
// instrument, the deliveries that fills under WARNING or SERIOUS opened (deliver-by = fill
// time + the agreement's delivery window) and what became of them. From the engine's
// Delivery events alone.
//
// Definitions (one delivery = one side of one emergency fill, owed by its deliverer):
// - opened, units: Delivery events of kind kOpened, and the units they owe;
// - confirmed: deliveries confirmed (ConfirmDelivery), of which confirmed late: confirmed
//   after they had fallen overdue, and confirmed in the window: the others (confirmed
//   before falling overdue, i.e. by their deliver-by);
// - fell overdue: deliveries that fell overdue (the first command after their deliver-by
//   found them unconfirmed), counted once each;
// - overdue at end, pending at end: deliveries still overdue, or still pending (not yet
//   due), when the journal ends, and the units they owe.
//
// Thread-safety: a DeliveryLedger is used by one thread; rows are values.
#ifndef MSX_CLIENTS_DRILL_DELIVERIES_H_
#define MSX_CLIENTS_DRILL_DELIVERIES_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::drill {

struct AgencyDeliveryRow {
  AgencyId agency = 0;  // the deliverer
  std::string code;
  InstrumentId instrument = 0;
  std::string symbol, unit;
  std::uint64_t opened = 0;
  Amount units = 0;
  std::uint64_t confirmed = 0;
  std::uint64_t confirmed_late = 0;
  std::uint64_t confirmed_in_window = 0;  // confirmed - confirmed_late
  std::uint64_t fell_overdue = 0;
  std::uint64_t overdue_at_end = 0;
  Amount overdue_units_at_end = 0;
  std::uint64_t pending_at_end = 0;
  Amount pending_units_at_end = 0;
};

class DeliveryLedger {
 public:
  // REQUIRES: `ref` outlives the ledger.
  explicit DeliveryLedger(const ReferenceData& ref) : ref_(ref) {}
  void Add(const Event& e);
  // Rows with any delivery, by agency then instrument (configuration order).
  std::vector<AgencyDeliveryRow> Finish() const;

 private:
  struct Track {
    AgencyId deliverer = 0;
    InstrumentId instrument = 0;
    Amount amount = 0;
    DeliveryState state = DeliveryState::kPending;
    bool opened = false;
    bool fell_overdue = false;
    bool confirmed_late = false;
  };
  const ReferenceData& ref_;
  std::vector<Track> deliveries_;  // index = delivery id (dense from 1; 0 unused)
};

nlohmann::ordered_json DeliveriesJson(const std::vector<AgencyDeliveryRow>& rows);
// The JSON's keys: agency, instrument, unit, opened, units, confirmed, confirmed_late,
// confirmed_in_window, fell_overdue, overdue_at_end, overdue_units_at_end,
// pending_at_end, pending_units_at_end. The text and HTML tables show the same figures.
// "Deliveries per agency ..." table; "" when there are none.
std::string RenderDeliveriesText(const std::vector<AgencyDeliveryRow>& rows);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_DELIVERIES_H_
