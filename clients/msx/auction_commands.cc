#include "clients/msx/auction_commands.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace msx::cli {

namespace po = boost::program_options;

void DefineNeedOptions(po::options_description& d) {
  d.add_options()
      ("need", po::value<std::int64_t>(),
       "buys only: declared need in base units (e.g. kg), to be allocated in the pair's "
       "call auctions while an emergency level says so")
      ("tier", po::value<std::string>(),
       "with --need: priority tier defence|essential|general (default general; the "
       "configuration says which tiers your agency may use)");
}

absl::StatusOr<int> ParseTier(const std::string& text) {
  v1::PriorityTier tier;
  if (!v1::PriorityTier_Parse("PRIORITY_TIER_" + absl::AsciiStrToUpper(text), &tier) ||
      tier == v1::PRIORITY_TIER_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tier must be defence, essential or general, not '", text, "'"));
  }
  return static_cast<int>(tier);
}

absl::Status CheckNeedOptions(const po::variables_map& args, int side) {
  if (args.count("tier")) {
    absl::StatusOr<int> tier = ParseTier(args["tier"].as<std::string>());
    if (!tier.ok()) return tier.status();
    if (!args.count("need")) return absl::InvalidArgumentError("--tier needs --need");
  }
  if (!args.count("need")) return absl::OkStatus();
  const std::int64_t need = args["need"].as<std::int64_t>();
  if (need <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--need must be > 0 base units, not ", need));
  }
  if (side != v1::SIDE_BUY) {
    return absl::InvalidArgumentError("--need is for buys (a sell's lots are the supply)");
  }
  return absl::OkStatus();
}

void SetNeed(const po::variables_map& args, v1::SubmitOfferRequest* req) {
  if (!args.count("need")) return;
  req->set_declared_need(args["need"].as<std::int64_t>());
  req->set_priority_tier(args.count("tier") ? static_cast<v1::PriorityTier>(
                                                  *ParseTier(args["tier"].as<std::string>()))
                                            : v1::PRIORITY_TIER_GENERAL);
}

std::string TierName(v1::PriorityTier tier) {
  switch (tier) {
    case v1::PRIORITY_TIER_DEFENCE:
      return "DEFENCE";
    case v1::PRIORITY_TIER_ESSENTIAL:
      return "ESSENTIAL";
    case v1::PRIORITY_TIER_GENERAL:
      return "GENERAL";
    default:
      return "?";
  }
}

std::string DescribeNeed(const Catalog& catalog, const v1::Offer& offer) {
  if (offer.declared_need() <= 0) return "";
  const std::string& pair = offer.pair();
  const std::string base = pair.substr(0, pair.find('/'));
  return absl::StrCat(", need ", catalog.Amount(base, offer.declared_need()), " (",
                      TierName(offer.priority_tier()), ")");
}

std::string DescribeAuctionResult(const Catalog& catalog, const v1::AuctionResult& a) {
  return absl::StrCat("auction ", a.pair(), " at ", catalog.Price(a.pair(), a.price()), ": ",
                      FormatThousands(a.executed_lots()), " of ",
                      FormatThousands(a.executable_lots()), " lots executed (supply ",
                      FormatThousands(a.supply_lots()), ", demand ",
                      FormatThousands(a.demand_lots()), ", at most ",
                      FormatThousands(a.agency_cap_lots()), " per agency); you bought ",
                      FormatThousands(a.bought_lots()), ", sold ",
                      FormatThousands(a.sold_lots()));
}

}  // namespace msx::cli
