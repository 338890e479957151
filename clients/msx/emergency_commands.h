// The emergency subcommands of `msx` (issue 15; exchange.proto "Emergencies"): `levels`
// and the operators' `admin publish-reference | admit | suspend | set-level`, plus how a
// level change reads on `msx watch`. Same output contract as commands.h.
#ifndef MSX_CLIENTS_MSX_EMERGENCY_COMMANDS_H_
#define MSX_CLIENTS_MSX_EMERGENCY_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "clients/msx/cli.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {

// REQUIRES: inv.command is "levels" or starts with "admin " (checked by ParseInvocation).
int RunEmergencyCommand(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel,
                        std::ostream& out, std::ostream& err);

// "WARNING" for EMERGENCY_LEVEL_WARNING; "?" for UNSPECIFIED or an unknown value.
std::string LevelName(v1::EmergencyLevel level);
// "level of CO-99.8: NORMAL -> WARNING (export ban)".
std::string DescribeLevelChange(const v1::LevelChanged& change);

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_EMERGENCY_COMMANDS_H_
