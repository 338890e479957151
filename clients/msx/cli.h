// Command-line parsing for `msx`, the agency command line, with Boost.Program_options.
//
// Grammar: msx [GLOBAL OPTIONS] SUBCOMMAND [ARGS] [OPTIONS]; global options may also follow
// the subcommand. Connection settings come from flags, else the environment (MSX_SERVER,
// MSX_TOKEN), else defaults (127.0.0.1:50051, no token).
//
// Thread-safety: pure functions; the subcommand table is immutable.
#ifndef MSX_CLIENTS_MSX_CLI_H_
#define MSX_CLIENTS_MSX_CLI_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "absl/status/statusor.h"

namespace msx::cli {

struct ConnectionOptions {
  std::string server = "127.0.0.1:50051";
  std::string token;       // sent as `authorization: Bearer <token>` when non-empty
  bool tls = false;
  std::string ca_file;     // PEM roots; empty = system roots (TLS only)
  std::string cert_file;   // PEM client certificate chain for mutual TLS
  std::string key_file;    // PEM client private key for mutual TLS
  std::int64_t deadline_ms = 0;  // per call; 0 = 10 s for unary calls, none for streams
};

struct Invocation {
  ConnectionOptions connection;
  bool json = false;
  std::string command;  // the subcommand; empty only when `help` is set
  boost::program_options::variables_map args;  // the subcommand's options and arguments
  std::string help;     // when non-empty: print it to stdout and exit 0, call nothing
};

// Returns the value of an environment variable or nullptr; injectable for tests.
using EnvLookup = std::function<const char*(const char*)>;

// Parses `args` (without the program name). Usage errors (unknown subcommand or flag,
// missing or malformed argument, bad enum value) come back as InvalidArgumentError whose
// message is one line fit for "msx: <message>".
absl::StatusOr<Invocation> ParseInvocation(const std::vector<std::string>& args,
                                           const EnvLookup& env);

// The top-level help: subcommands, global options, exit codes.
std::string TopLevelHelp();

// Names of every subcommand, in help order.
std::vector<std::string> SubcommandNames();

// Parsing helpers shared with the runner; each returns InvalidArgumentError naming the
// flag on bad input.
absl::StatusOr<int> ParseSide(const std::string& text);         // msx.v1.Side value
absl::StatusOr<int> ParseTimeInForce(const std::string& text);  // msx.v1.TimeInForce value
// "normal" .. "serious" (any case): msx.v1.EmergencyLevel value, never UNSPECIFIED.
absl::StatusOr<int> ParseLevel(const std::string& text);

// A fresh non-zero client offer id: milliseconds since the epoch in the high bits and 22
// random bits below, so ids from one desk rarely collide and sort by creation time.
std::uint64_t GenerateClientOfferId();

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_CLI_H_
