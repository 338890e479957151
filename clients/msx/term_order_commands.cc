#include "clients/msx/term_order_commands.h"

#include "absl/strings/str_cat.h"
#include "clients/msx/call.h"
#include "clients/msx/render.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::cli {

std::string DescribeTermReplaced(const v1::TermOfferReplaced& r) {
  const v1::TermOffer& o = r.offer();
  return absl::StrCat("replaced term offer ", o.offer_id(), " (",
                      o.side() == v1::TERM_SIDE_LEND ? "lend" : "borrow", " ", o.book(),
                      "): ", FormatThousands(o.filled_lots() + o.open_lots()), " lots in all at ",
                      FormatThousands(o.premium_bps()), " bp premium, open ",
                      FormatThousands(o.open_lots()), ", filled ",
                      FormatThousands(o.filled_lots()),
                      r.kept_priority() ? " (kept priority)" : " (lost priority)");
}

int RunTermOrderCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                        std::ostream& out, std::ostream& err) {
  const auto& args = inv.args;
  auto exchange = v1::Exchange::NewStub(channel);
  v1::ReplaceTermOfferRequest req;
  req.set_offer_id(args["offer-id"].as<std::uint64_t>());
  req.set_lots(args["lots"].as<std::int64_t>());
  req.set_premium_bps(args["premium-bps"].as<std::int64_t>());
  return UnaryCall(inv, out, err, exchange.get(), &v1::Exchange::Stub::ReplaceTermOffer, req,
                   [&](const v1::ReplaceTermOfferResponse& r) {
                     const v1::TermOffer& o = r.offer();
                     out << "term offer " << o.offer_id() << ": "
                         << FormatThousands(o.filled_lots() + o.open_lots())
                         << " lots in all at " << FormatThousands(o.premium_bps())
                         << " bp premium; open " << FormatThousands(o.open_lots())
                         << ", filled " << FormatThousands(o.filled_lots()) << "; seq "
                         << r.seq() << "\n";
                     for (const v1::Obligation& ob : r.obligations()) {
                       out << "  loan " << ob.obligation_id() << ": " << ob.borrower()
                           << " owes " << ob.lender() << " " << FormatThousands(ob.due_amount())
                           << " " << ob.unit() << " " << ob.instrument() << "\n";
                     }
                   });
}

}  // namespace msx::cli
