#include "clients/msx/delivery_commands.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/msx/call.h"
#include "clients/msx/render.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::cli {
namespace {

// Upper case for overdue, so that a late delivery stands out in a long list.
std::string StateText(const v1::Delivery& d) {
  switch (d.state()) {
    case v1::DELIVERY_STATE_PENDING:
      return "pending";
    case v1::DELIVERY_STATE_OVERDUE:
      return "OVERDUE";
    case v1::DELIVERY_STATE_CONFIRMED:
      return d.confirmed_time_ns() > d.deliver_by_ns() ? "confirmed late" : "confirmed";
    default:
      return "?";
  }
}

void PrintDeliveries(const Catalog& catalog, const v1::ListDeliveriesResponse& r,
                     std::ostream& out) {
  Table t({"DELIVERY", "FILL", "PAIR", "AMOUNT", "FROM", "TO", "DELIVER_BY", "STATE",
           "CONFIRMED"});
  std::vector<const v1::Delivery*> overdue;
  for (const v1::Delivery& d : r.deliveries()) {
    if (d.state() == v1::DELIVERY_STATE_OVERDUE) overdue.push_back(&d);
    t.AddRow({std::to_string(d.delivery_id()), std::to_string(d.fill_id()), d.pair(),
              catalog.Amount(d.instrument(), d.amount()), d.deliverer(), d.receiver(),
              FormatTimeNs(d.deliver_by_ns()), StateText(d),
              d.state() == v1::DELIVERY_STATE_CONFIRMED
                  ? absl::StrCat(FormatTimeNs(d.confirmed_time_ns()), " by ", d.confirmed_by())
                  : "-"});
  }
  out << t.Render();
  if (overdue.empty()) {
    out << "no delivery overdue\n";
    return;
  }
  out << overdue.size() << (overdue.size() == 1 ? " delivery" : " deliveries")
      << " OVERDUE (deliver-by passed unconfirmed):\n";
  for (const v1::Delivery* d : overdue) out << "  " << DescribeDelivery(catalog, *d) << "\n";
}

}  // namespace

std::optional<v1::DeliveryState> ParseDeliveryState(const std::string& text) {
  if (text == "pending") return v1::DELIVERY_STATE_PENDING;
  if (text == "overdue") return v1::DELIVERY_STATE_OVERDUE;
  if (text == "confirmed") return v1::DELIVERY_STATE_CONFIRMED;
  if (text == "any") return v1::DELIVERY_STATE_UNSPECIFIED;
  return std::nullopt;
}

std::string DescribeDelivery(const Catalog& catalog, const v1::Delivery& d) {
  std::string text = absl::StrCat("delivery ", d.delivery_id(), " ", StateText(d), ": ",
                                  d.deliverer(), " delivers ",
                                  catalog.Amount(d.instrument(), d.amount()), " to ",
                                  d.receiver(), " (fill ", d.fill_id(),
                                  " on ", d.pair(), ", ", d.agreement(), "), deliver by ",
                                  FormatTimeNs(d.deliver_by_ns()));
  if (d.state() == v1::DELIVERY_STATE_CONFIRMED) {
    absl::StrAppend(&text, "; confirmed ", FormatTimeNs(d.confirmed_time_ns()), " by ",
                    d.confirmed_by());
  }
  return text;
}

std::string DescribeDeliveryReport(const Catalog& catalog, const v1::DeliveryReport& r) {
  const char* what = r.kind() == v1::DELIVERY_EVENT_KIND_OPENED      ? "opened"
                     : r.kind() == v1::DELIVERY_EVENT_KIND_OVERDUE   ? "now OVERDUE"
                     : r.kind() == v1::DELIVERY_EVENT_KIND_CONFIRMED ? "confirmed"
                                                                     : "?";
  return absl::StrCat("delivery ", what, ": ", DescribeDelivery(catalog, r.delivery()));
}

int RunDeliveryCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                       const Catalog& catalog, std::ostream& out, std::ostream& err) {
  const auto& args = inv.args;
  auto exchange = v1::Exchange::NewStub(channel);
  if (inv.command == "confirm-delivery") {
    v1::ConfirmDeliveryRequest req;
    req.set_delivery_id(args["delivery-id"].as<std::uint64_t>());
    return UnaryCall(inv, out, err, exchange.get(), &v1::Exchange::Stub::ConfirmDelivery, req,
                     [&](const v1::ConfirmDeliveryResponse& r) {
                       out << DescribeDelivery(catalog, r.delivery()) << "; seq " << r.seq()
                           << "\n";
                     });
  }
  v1::ListDeliveriesRequest req;
  // Checked by ParseInvocation.
  req.set_state(*ParseDeliveryState(args["state"].as<std::string>()));
  if (args.count("agency")) req.set_agency(args["agency"].as<std::string>());
  return UnaryCall(inv, out, err, exchange.get(), &v1::Exchange::Stub::ListDeliveries, req,
                   [&](const v1::ListDeliveriesResponse& r) { PrintDeliveries(catalog, r, out); });
}

}  // namespace msx::cli
