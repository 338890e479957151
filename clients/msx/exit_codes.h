// Exit codes of the `msx` command line: one distinct code per gRPC status code, so scripts
// can branch on the failure without parsing stderr.
//
//   0  success              2  usage error (bad flag, missing argument)
//   1  local failure (e.g. a TLS file cannot be read)
//   3  `msx health` got an answer that is not SERVING
//   10 + gRPC code for a failed call: 11 CANCELLED, 12 UNKNOWN, 13 INVALID_ARGUMENT,
//   14 DEADLINE_EXCEEDED, 15 NOT_FOUND, 16 ALREADY_EXISTS, 17 PERMISSION_DENIED,
//   18 RESOURCE_EXHAUSTED, 19 FAILED_PRECONDITION, 20 ABORTED, 21 OUT_OF_RANGE,
//   22 UNIMPLEMENTED, 23 INTERNAL, 24 UNAVAILABLE, 25 DATA_LOSS, 26 UNAUTHENTICATED.
//
// Thread-safe: pure functions.
#ifndef MSX_CLIENTS_MSX_EXIT_CODES_H_
#define MSX_CLIENTS_MSX_EXIT_CODES_H_

#include <string>

#include <grpcpp/support/status.h>

namespace msx::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitLocalFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotServing = 3;
inline constexpr int kExitGrpcBase = 10;

// The exit code for a finished call: kExitOk for OK, otherwise 10 + the code's number.
int ExitCodeFor(grpc::StatusCode code);

// Canonical upper-case name of a gRPC code, e.g. "FAILED_PRECONDITION".
std::string GrpcCodeName(grpc::StatusCode code);

// The exit-code table above as help text, one line per code.
std::string ExitCodeTable();

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_EXIT_CODES_H_
