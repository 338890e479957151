// Runs one parsed `msx` invocation against an MSX server over gRPC.
//
// Output contract: results on `out` (a human table, or with --json one JSON object per
// line in the protobuf JSON mapping with proto field names); a failed call prints exactly
// one line "msx: <GRPC_CODE>: <message>" on `err` and returns ExitCodeFor(code).
// Streams (watch, watch-book) end cleanly, exit 0, on SIGINT/SIGTERM or after --count
// messages.
//
// Thread-safety: call from the main thread only; installs a signal mask for streams.
#ifndef MSX_CLIENTS_MSX_COMMANDS_H_
#define MSX_CLIENTS_MSX_COMMANDS_H_

#include <ostream>

#include "clients/msx/cli.h"

namespace msx::cli {

// REQUIRES: `inv.help` is empty and `inv.command` names a subcommand.
int RunInvocation(const Invocation& inv, std::ostream& out, std::ostream& err);

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_COMMANDS_H_
