// The delivery subcommands of `msx` (engine/matching/ENGINE.md "Deliveries"; exchange.proto
// "Deliveries"): `deliveries` (the caller's, overdue ones marked) and `confirm-delivery ID`,
// plus how a delivery report reads on `msx watch`. Same output contract as commands.h.
#ifndef MSX_CLIENTS_MSX_DELIVERY_COMMANDS_H_
#define MSX_CLIENTS_MSX_DELIVERY_COMMANDS_H_

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "clients/msx/cli.h"
#include "clients/msx/render.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {

// REQUIRES: inv.command is "deliveries" or "confirm-delivery" (checked by ParseInvocation).
// `catalog` gives the amounts their units (an empty one leaves them out).
int RunDeliveryCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                       const Catalog& catalog, std::ostream& out, std::ostream& err);

// "pending", "overdue", "confirmed" or "any" -> the state filter; nullopt for anything else.
std::optional<v1::DeliveryState> ParseDeliveryState(const std::string& text);

// "delivery 3 OVERDUE: DLA delivers 60 kg CO-99.8 to KOMIR (fill 1 on ..., FORGE), deliver
// by 2027-03-02T...".
std::string DescribeDelivery(const Catalog& catalog, const v1::Delivery& d);
// A report on `msx watch`: "delivery opened: ...".
std::string DescribeDeliveryReport(const Catalog& catalog, const v1::DeliveryReport& r);

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_DELIVERY_COMMANDS_H_
