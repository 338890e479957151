#include "clients/msx/exit_codes.h"

#include <cstdio>

namespace msx::cli {
namespace {

constexpr const char* kCodeNames[] = {
    "OK",          "CANCELLED",         "UNKNOWN",           "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS",    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",  "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",       "DATA_LOSS",
    "UNAUTHENTICATED"};
constexpr int kCodeCount = sizeof(kCodeNames) / sizeof(kCodeNames[0]);

}  // namespace

int ExitCodeFor(grpc::StatusCode code) {
  int n = static_cast<int>(code);
  if (n == 0) return kExitOk;
  // Codes outside the canonical range (never sent by a conforming server) are UNKNOWN.
  if (n < 0 || n >= kCodeCount) n = static_cast<int>(grpc::StatusCode::UNKNOWN);
  return kExitGrpcBase + n;
}

std::string GrpcCodeName(grpc::StatusCode code) {
  int n = static_cast<int>(code);
  if (n < 0 || n >= kCodeCount) return "CODE_" + std::to_string(n);
  return kCodeNames[n];
}

std::string ExitCodeTable() {
  std::string out =
      "Exit codes:\n"
      "   0  success\n"
      "   1  local failure (unreadable TLS file, ...)\n"
      "   2  usage error\n"
      "   3  health check answered, but not SERVING\n";
  for (int n = 1; n < kCodeCount; ++n) {
    char line[64];
    std::snprintf(line, sizeof(line), "  %2d  %s\n", kExitGrpcBase + n, kCodeNames[n]);
    out += line;
  }
  return out;
}

}  // namespace msx::cli
