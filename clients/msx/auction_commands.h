// Allocation auctions in `msx` (issue 15 s.3; exchange.proto SubmitOfferRequest
// .declared_need, AuctionResult): the --need / --tier options of `submit`, `buy` and `sell`,
// and how needs, auction fills and auction results read. Same output contract as
// commands.h.
#ifndef MSX_CLIENTS_MSX_AUCTION_COMMANDS_H_
#define MSX_CLIENTS_MSX_AUCTION_COMMANDS_H_

#include <string>

#include <boost/program_options.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/msx/render.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {

// Adds --need and --tier to a submit's options.
void DefineNeedOptions(boost::program_options::options_description& d);
// "defence" | "essential" | "general" (any case) -> msx.v1.PriorityTier value; a usage
// error (InvalidArgument naming --tier) otherwise.
absl::StatusOr<int> ParseTier(const std::string& text);
// Usage checks of --need / --tier: a tier needs a need, a need is > 0 and only on a buy
// (`side`: msx.v1.Side value).
absl::Status CheckNeedOptions(const boost::program_options::variables_map& args, int side);
// Sets declared_need and priority_tier from --need / --tier (checked by CheckNeedOptions).
void SetNeed(const boost::program_options::variables_map& args, v1::SubmitOfferRequest* req);

// "DEFENCE" for PRIORITY_TIER_DEFENCE; "?" otherwise.
std::string TierName(v1::PriorityTier tier);
// ", need 3,500 kg CO-99.8 (DEFENCE)" for an offer that declares a need; "" otherwise.
std::string DescribeNeed(const Catalog& catalog, const v1::Offer& offer);
// "auction CO-99.8/LIOH-56.5 at 3,667 kg LIOH-56.5 per lot: 9 of 9 lots executed (supply 9, demand 13, at most 3
// per agency); you bought 3, sold 0".
std::string DescribeAuctionResult(const Catalog& catalog, const v1::AuctionResult& a);

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_AUCTION_COMMANDS_H_
