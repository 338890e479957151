// The term-book order subcommands of `msx` (time swaps, issue 14; exchange.proto
// "ReplaceTermOffer"): `replace-term`, and how a TermOfferReplaced report reads on `msx
// watch`. Same output contract as commands.h. (`lend` and `borrow` take --tif fok and
// --min-fill in commands.cc.)
#ifndef MSX_CLIENTS_MSX_TERM_ORDER_COMMANDS_H_
#define MSX_CLIENTS_MSX_TERM_ORDER_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "clients/msx/cli.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {

// REQUIRES: inv.command is "replace-term" (checked by ParseInvocation).
int RunTermOrderCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                        std::ostream& out, std::ostream& err);

// "replaced term offer 7: 12 lots at 90 bp, open 9 (lost priority)".
std::string DescribeTermReplaced(const v1::TermOfferReplaced& r);

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_TERM_ORDER_COMMANDS_H_
