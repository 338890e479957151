// The delivery ledger (deliveries.h; rules in ENGINE.md "Deliveries", image in SNAPSHOT.md).
#include "engine/matching/internal/deliveries.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/matching/internal/coding.h"
#include "engine/matching/internal/new_event.h"

namespace msx::internal {

void Deliveries::PushDue(TimeNs deliver_by, DeliveryId id) {
  due_.push_back({deliver_by, id});
  std::push_heap(due_.begin(), due_.end(), Later);
}

void Deliveries::Fill(const Command& cmd, const DeliveryInfo& d, DeliveryEventKind kind,
                      std::vector<Event>* out) {
  Event& e = NewEvent(cmd, EventType::kDelivery, out);
  DeliveryEvent& v = e.delivery;
  v.delivery = d.id;
  v.fill_id = d.fill_id;
  v.kind = kind;
  v.state = d.state;
  v.pair = d.pair;
  v.instrument = d.instrument;
  v.deliverer = d.deliverer;
  v.receiver = d.receiver;
  v.agreement = d.agreement;
  v.by = d.state == DeliveryState::kConfirmed ? d.confirmed_by : 0;
  v.amount = d.amount;
  v.deliver_by = d.deliver_by;
}

DeliveryId Deliveries::Open(const Command& cmd, std::uint64_t fill_id, PairId pair,
                            InstrumentId instrument, AgencyId deliverer, AgencyId receiver,
                            std::uint32_t agreement, Amount amount, TimeNs deliver_by,
                            std::vector<Event>* out) {
  DeliveryInfo d;
  d.id = records_.size() + 1;
  d.fill_id = fill_id;
  d.pair = pair;
  d.instrument = instrument;
  d.deliverer = deliverer;
  d.receiver = receiver;
  d.agreement = agreement;
  d.amount = amount;
  d.fill_time = cmd.time;
  d.deliver_by = deliver_by;
  d.state = DeliveryState::kPending;
  records_.push_back(d);
  PushDue(deliver_by, d.id);
  Fill(cmd, d, DeliveryEventKind::kOpened, out);
  return d.id;
}

void Deliveries::MarkOverdue(const Command& cmd, std::vector<Event>* out) {
  // Overdue strictly after deliver-by: a confirmation at deliver-by itself is on time, and
  // the time step runs before the command's own work.
  while (!due_.empty() && due_.front().first < cmd.time) {
    const DeliveryId id = due_.front().second;
    std::pop_heap(due_.begin(), due_.end(), Later);
    due_.pop_back();
    DeliveryInfo& d = records_[id - 1];
    if (d.state != DeliveryState::kPending) continue;  // confirmed in time
    d.state = DeliveryState::kOverdue;
    Fill(cmd, d, DeliveryEventKind::kOverdue, out);
  }
}

RejectReason Deliveries::Confirm(const Command& cmd, AgencyId agency, bool admin, DeliveryId id,
                                 std::vector<Event>* out) {
  if (id == 0 || id > records_.size()) return RejectReason::kUnknownDelivery;
  DeliveryInfo& d = records_[id - 1];
  if (d.receiver != agency && !admin) return RejectReason::kNotDeliveryParty;
  if (d.state == DeliveryState::kConfirmed) return RejectReason::kDeliveryAlreadyConfirmed;
  d.state = DeliveryState::kConfirmed;
  d.confirmed_time = cmd.time;
  d.confirmed_by = agency;
  Fill(cmd, d, DeliveryEventKind::kConfirmed, out);
  return RejectReason::kNone;
}

std::vector<DeliveryInfo> Deliveries::List(std::optional<AgencyId> agency) const {
  std::vector<DeliveryInfo> v;
  for (const DeliveryInfo& d : records_) {
    if (!agency || d.deliverer == *agency || d.receiver == *agency) v.push_back(d);
  }
  return v;
}

void Deliveries::Save(std::string* out) const {
  coding::StringWriter w(out);
  w.U64(records_.size());
  for (const DeliveryInfo& d : records_) {
    w.U64(d.fill_id);
    w.U32(d.pair);
    w.U32(d.instrument);
    w.U32(d.deliverer);
    w.U32(d.receiver);
    w.U32(d.agreement);
    w.I64(d.amount);
    w.I64(d.fill_time);
    w.I64(d.deliver_by);
    w.U8(static_cast<std::uint8_t>(d.state));
    w.I64(d.confirmed_time);
    w.U32(d.confirmed_by);
  }
}

const char* Deliveries::Check(const DeliveryInfo& d, const ReferenceData& ref,
                              const Limits& limits) const {
  if (d.fill_id == 0 || d.fill_id >= limits.next_fill_id) return "fill_id not a fill made";
  if (d.pair >= ref.pairs().size()) return "unknown pair";
  const PairBook& pb = ref.pairs()[d.pair];
  if (d.instrument != pb.base && d.instrument != pb.quote) {
    return "instrument neither the pair's base nor its quote";
  }
  const std::size_t agencies = ref.agencies().size();
  if (d.deliverer >= agencies || d.receiver >= agencies || d.deliverer == d.receiver) {
    return "deliverer or receiver unknown, or the same agency";
  }
  // The count itself stands for "no agreement" (engine_deliveries.cc).
  if (d.agreement > ref.agreements().size()) return "unknown agreement";
  if (d.amount <= 0) return "amount not > 0";
  if (!records_.empty() && d.fill_time < records_.back().fill_time) {
    return "fill times decrease";
  }
  if (d.fill_time > limits.last_time || d.deliver_by < d.fill_time) {
    return "fill time after the image's last command, or deliver_by before it";
  }
  switch (d.state) {
    case DeliveryState::kPending:
    case DeliveryState::kOverdue:
      if (d.confirmed_time != 0 || d.confirmed_by != 0) return "unconfirmed with a confirmation";
      // The time step marks a pending delivery overdue at the first command after it.
      if ((d.state == DeliveryState::kPending) != (d.deliver_by >= limits.last_time)) {
        return "state disagrees with deliver_by and the last command time";
      }
      break;
    case DeliveryState::kConfirmed:
      if (d.confirmed_time < d.fill_time || d.confirmed_time > limits.last_time ||
          d.confirmed_by >= agencies) {
        return "confirmation time or agency out of range";
      }
      break;
    default:
      return "state not 1..3";
  }
  return nullptr;
}

absl::Status Deliveries::Load(absl::string_view bytes, std::size_t base_offset,
                              const ReferenceData& ref, const Limits& limits,
                              std::size_t* consumed) {
  coding::BoundedReader r(bytes);
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("engine snapshot: ", what, " at offset ", base_offset + r.pos()));
  };
  std::uint64_t n;
  if (!r.U64(&n)) return corrupt("truncated deliveries");
  // 65 bytes a record: a count beyond what is left is corrupt (and never reserved).
  if (n > (bytes.size() - r.pos()) / 65) return corrupt("more deliveries than bytes");
  records_.reserve(n);
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::size_t at = r.pos();
    DeliveryInfo d;
    d.id = k + 1;
    std::uint8_t state;
    if (!r.U64(&d.fill_id) || !r.U32(&d.pair) || !r.U32(&d.instrument) ||
        !r.U32(&d.deliverer) || !r.U32(&d.receiver) || !r.U32(&d.agreement) ||
        !r.I64(&d.amount) || !r.I64(&d.fill_time) || !r.I64(&d.deliver_by) || !r.U8(&state) ||
        !r.I64(&d.confirmed_time) || !r.U32(&d.confirmed_by)) {
      return corrupt("truncated deliveries");
    }
    d.state = static_cast<DeliveryState>(state);
    if (const char* why = Check(d, ref, limits); why != nullptr) {
      return absl::DataLossError(absl::StrCat("engine snapshot: delivery ", d.id, ": ", why,
                                              " at offset ", base_offset + at));
    }
    records_.push_back(d);
    if (d.state == DeliveryState::kPending) PushDue(d.deliver_by, d.id);
  }
  *consumed = r.pos();
  return absl::OkStatus();
}

}  // namespace msx::internal
