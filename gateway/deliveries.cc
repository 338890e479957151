#include "gateway/deliveries.h"

#include <optional>

#include "absl/status/status.h"

namespace msx::gateway {

v1::DeliveryState ToProtoDeliveryState(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return v1::DELIVERY_STATE_PENDING;
    case DeliveryState::kOverdue:
      return v1::DELIVERY_STATE_OVERDUE;
    case DeliveryState::kConfirmed:
      return v1::DELIVERY_STATE_CONFIRMED;
  }
  return v1::DELIVERY_STATE_UNSPECIFIED;
}

v1::DeliveryEventKind ToProtoDeliveryEventKind(DeliveryEventKind kind) {
  switch (kind) {
    case DeliveryEventKind::kOpened:
      return v1::DELIVERY_EVENT_KIND_OPENED;
    case DeliveryEventKind::kOverdue:
      return v1::DELIVERY_EVENT_KIND_OVERDUE;
    case DeliveryEventKind::kConfirmed:
      return v1::DELIVERY_EVENT_KIND_CONFIRMED;
  }
  return v1::DELIVERY_EVENT_KIND_UNSPECIFIED;
}

void ToProtoDelivery(const ReferenceData& ref, const DeliveryInfo& d, v1::Delivery* out) {
  auto agency = [&](AgencyId a) {
    return a < ref.agencies().size() ? ref.agencies()[a].code : std::string();
  };
  out->set_delivery_id(d.id);
  out->set_fill_id(d.fill_id);
  if (d.pair < ref.pairs().size()) out->set_pair(ref.pairs()[d.pair].symbol);
  if (d.instrument < ref.instruments().size()) {
    out->set_instrument(ref.instruments()[d.instrument].symbol);
  }
  out->set_deliverer(agency(d.deliverer));
  out->set_receiver(agency(d.receiver));
  if (d.agreement < ref.agreements().size()) out->set_agreement(ref.agreements()[d.agreement].name);
  out->set_amount(d.amount);
  out->set_fill_time_ns(d.fill_time);
  out->set_deliver_by_ns(d.deliver_by);
  out->set_state(ToProtoDeliveryState(d.state));
  if (d.state == DeliveryState::kConfirmed) {
    out->set_confirmed_time_ns(d.confirmed_time);
    out->set_confirmed_by(agency(d.confirmed_by));
  }
}

DeliveryInfo DeliveryAsOf(const Engine& engine, const Event& e) {
  const DeliveryEvent& v = e.delivery;
  DeliveryInfo d;
  if (std::optional<DeliveryInfo> now = engine.GetDelivery(v.delivery)) d = *now;
  d.id = v.delivery;
  d.fill_id = v.fill_id;
  d.pair = v.pair;
  d.instrument = v.instrument;
  d.deliverer = v.deliverer;
  d.receiver = v.receiver;
  d.agreement = v.agreement;
  d.amount = v.amount;
  d.deliver_by = v.deliver_by;
  d.state = v.state;
  if (v.kind == DeliveryEventKind::kOpened) d.fill_time = e.time;
  if (v.state == DeliveryState::kConfirmed) {
    if (v.kind == DeliveryEventKind::kConfirmed) d.confirmed_time = e.time;
    d.confirmed_by = v.by;
  } else {
    d.confirmed_time = 0;
    d.confirmed_by = 0;
  }
  return d;
}

absl::StatusOr<Command> ConfirmDeliveryToCommand(AgencyId agency,
                                                 const v1::ConfirmDeliveryRequest& req) {
  if (req.delivery_id() == 0) {
    return absl::InvalidArgumentError("delivery_id: required, non-zero");
  }
  Command cmd{};
  cmd.type = CommandType::kConfirmDelivery;
  cmd.confirm_delivery.agency = agency;
  cmd.confirm_delivery.delivery = req.delivery_id();
  return cmd;
}

}  // namespace msx::gateway
