// The plumbing of one `msx` gRPC call, shared by the subcommand runners (commands.cc,
// emergency_commands.cc): the context (token, deadline), the one-line error, JSON output,
// and a unary call of any RPC.
//
// Thread-safety: the functions touch only their arguments.
#ifndef MSX_CLIENTS_MSX_CALL_H_
#define MSX_CLIENTS_MSX_CALL_H_

#include <cstdint>
#include <ostream>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "clients/msx/cli.h"
#include "clients/msx/exit_codes.h"

namespace msx::cli {

// Default per-call deadline of unary calls (--deadline-ms 0); streams have none.
inline constexpr std::int64_t kDefaultUnaryDeadlineMs = 10000;

// Adds the bearer token and the deadline of `c` to `ctx`.
void PrepareContext(const ConnectionOptions& c, bool stream, grpc::ClientContext* ctx);

// Prints "msx: <GRPC_CODE>: <message><suffix>" on one line to `err`; returns the exit code
// of the status (ExitCodeFor).
int FailCall(const grpc::Status& s, std::ostream& err, const std::string& suffix = "");

// One JSON object on one line (protobuf JSON mapping, proto field names, defaults shown).
void PrintJson(const google::protobuf::Message& m, std::ostream& out);

// One unary call: prepares the context from `inv`, calls `method` of `stub` with `req`, and
// prints the response: as JSON with --json, else with `print`. Returns the exit code.
template <typename Stub, typename Request, typename Response, typename Print>
int UnaryCall(const Invocation& inv, std::ostream& out, std::ostream& err, Stub* stub,
              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
              const Request& req, Print print) {
  grpc::ClientContext ctx;
  PrepareContext(inv.connection, false, &ctx);
  Response r;
  grpc::Status s = (stub->*method)(&ctx, req, &r);
  if (!s.ok()) return FailCall(s, err);
  if (inv.json) {
    PrintJson(r, out);
  } else {
    print(r);
  }
  return kExitOk;
}

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_CALL_H_
