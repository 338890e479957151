// The delivery ledger (ENGINE.md "Deliveries"; issue 15 s.3): every fill made while its
// pair is at WARNING or SERIOUS opens two deliveries, one per side of the swap (the seller
// delivers the base, the buyer the quote), each due by the fill's time plus the governing
// agreement's delivery window. The receiver (or an admin) confirms each; one still
// unconfirmed when a command's time passes its deliver-by falls overdue.
//
// Not the hot path: nothing here runs for a fill at a level below WARNING. Records are
// never removed (the ledger is history, as the obligation ledger is); ids are dense.
// Single-threaded, owned by Engine::Impl.
#ifndef MSX_ENGINE_INTERNAL_DELIVERIES_H_
#define MSX_ENGINE_INTERNAL_DELIVERIES_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::internal {

class Deliveries {
 public:
  // What LoadState checks records against besides the reference data.
  struct Limits {
    std::uint64_t next_fill_id = 1;  // every fill_id is below it
    TimeNs last_time = 0;            // the image's last command time
  };

  Deliveries() = default;
  Deliveries(const Deliveries&) = delete;
  Deliveries& operator=(const Deliveries&) = delete;

  void Reset() {
    records_.clear();
    due_.clear();
  }
  bool Empty() const { return records_.empty(); }
  std::size_t size() const { return records_.size(); }

  // The earliest deliver-by of a delivery that may still be pending; a command whose time
  // is after it has work (MarkOverdue). Max when there is none. Never later than the truth
  // (a confirmed delivery leaves the heap lazily).
  TimeNs NextDeliverBy() const {
    return due_.empty() ? std::numeric_limits<TimeNs>::max() : due_.front().first;
  }

  // Opens a pending delivery and appends its kDelivery (kOpened). The caller passes the
  // fill's parties and amounts; `deliver_by` = fill time + window.
  DeliveryId Open(const Command& cmd, std::uint64_t fill_id, PairId pair,
                  InstrumentId instrument, AgencyId deliverer, AgencyId receiver,
                  std::uint32_t agreement, Amount amount, TimeNs deliver_by,
                  std::vector<Event>* out);

  // Every pending delivery whose deliver-by is before `cmd.time` becomes overdue, in
  // (deliver_by, id) order, each with a kDelivery (kOverdue).
  void MarkOverdue(const Command& cmd, std::vector<Event>* out);

  // Checks a ConfirmDelivery by `agency` (`admin`: an admin agency): kNone and the
  // kDelivery (kConfirmed) appended, or the reject reason and nothing changed.
  RejectReason Confirm(const Command& cmd, AgencyId agency, bool admin, DeliveryId id,
                       std::vector<Event>* out);

  std::optional<DeliveryInfo> Get(DeliveryId id) const {
    if (id == 0 || id > records_.size()) return std::nullopt;
    return records_[id - 1];
  }
  // Deliveries where `agency` delivers or receives (all when nullopt), in id order.
  std::vector<DeliveryInfo> List(std::optional<AgencyId> agency) const;

  // The snapshot section (SNAPSHOT.md "deliveries"): count:u64, then per delivery in id
  // order fill_id:u64 pair:u32 instrument:u32 deliverer:u32 receiver:u32 agreement:u32
  // amount:i64 fill_time:i64 deliver_by:i64 state:u8 confirmed_time:i64 by:u32.
  void Save(std::string* out) const;
  // Reads the section at the start of `bytes` (the rest of the image) and sets *consumed to
  // its size; DataLoss naming the offset (`base_offset` + position) on a record that
  // breaks a rule of SNAPSHOT.md. REQUIRES: Empty().
  absl::Status Load(absl::string_view bytes, std::size_t base_offset, const ReferenceData& ref,
                    const Limits& limits, std::size_t* consumed);

 private:
  using Due = std::pair<TimeNs, DeliveryId>;  // min-heap by (deliver_by, id)
  static bool Later(const Due& a, const Due& b) { return a > b; }
  void PushDue(TimeNs deliver_by, DeliveryId id);
  static void Fill(const Command& cmd, const DeliveryInfo& d, DeliveryEventKind kind,
                   std::vector<Event>* out);
  // The broken rule of a loaded record (id = records_.size() + 1), or nullptr.
  const char* Check(const DeliveryInfo& d, const ReferenceData& ref, const Limits& limits) const;

  std::vector<DeliveryInfo> records_;  // records_[id - 1]
  std::vector<Due> due_;               // pending deliveries (and confirmed ones, lazily)
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_DELIVERIES_H_
