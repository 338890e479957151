// Deliveries on the wire (engine/matching/ENGINE.md "Deliveries"; exchange.proto
// "Deliveries"): the one place a DeliveryInfo or a kDelivery event becomes a v1::Delivery,
// shared by the ConfirmDelivery / ListDeliveries handlers (unary_service.cc) and the
// execution reports (reports.cc).
#ifndef MSX_GATEWAY_DELIVERIES_H_
#define MSX_GATEWAY_DELIVERIES_H_

#include "absl/status/statusor.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway {

v1::DeliveryState ToProtoDeliveryState(DeliveryState state);
v1::DeliveryEventKind ToProtoDeliveryEventKind(DeliveryEventKind kind);

// `d` with names for ids ("" for an id the reference data does not know).
void ToProtoDelivery(const ReferenceData& ref, const DeliveryInfo& d, v1::Delivery* out);

// The delivery as event `e` (kDelivery) left it: the fixed fields from `e`, the fill time
// from `engine` (history reports are built with a later engine), the state and
// confirmation from the event.
DeliveryInfo DeliveryAsOf(const Engine& engine, const Event& e);

// ConfirmDelivery by `agency` (the receiver, or an admin agency). INVALID_ARGUMENT for a
// zero id.
absl::StatusOr<Command> ConfirmDeliveryToCommand(AgencyId agency,
                                                 const v1::ConfirmDeliveryRequest& req);

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_DELIVERIES_H_
