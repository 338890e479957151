// Command-line options of msx-loadgen, parsed with Boost.Program_options.
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_LOADGEN_OPTIONS_H_
#define MSX_CLIENTS_LOADGEN_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace msx::loadgen {

struct AgencyCredential {
  std::string agency;  // e.g. "KOMIR"
  std::string token;   // e.g. "demo-komir"
};

// The embedded default configuration's demo agencies that share the all-minerals
// agreement (FORGE), so that every pair of them is eligible on every pair book.
std::vector<AgencyCredential> DefaultAgencies();

// msx-server answers RESOURCE_EXHAUSTED beyond this many requests in flight on one
// OrderEntry stream (gateway/service.h, kMaxOrderEntryInFlight); --window stays within it.
inline constexpr int kMaxOrderEntryWindow = 4096;
inline constexpr int kDefaultOrderEntryWindow = 32;

struct LoadgenOptions {
  // HOST:PORT, or several comma-separated (a primary and its hot standbys: --api unary
  // fails over between them as msx does, clients/common/failover.h).
  std::string server = "127.0.0.1:50051";
  std::int64_t rate = 1000;      // offers per second, open loop; 0 = closed loop
  std::int64_t duration_ms = 0;  // 0 = none (then --count decides)
  std::int64_t count = 0;        // 0 = none (then --duration decides)
  int concurrency = 4;           // gRPC channels (connections)
  int threads = 0;               // driver threads; 0 = min(concurrency, 2)
  std::vector<AgencyCredential> agencies = DefaultAgencies();
  std::vector<std::string> pairs;  // empty = every pair the agencies can trade
  bool json = false;
  bool echo = false;                       // target msx-echo-server instead of msx-server
  int cancel_percent = 10;                 // share of operations that cancel a resting offer
  std::int64_t max_lots = 2;               // crossing offers are 1..max_lots lots
  std::string admin_token = "demo-admin";  // to read the start sequence; may be empty
  std::int64_t deadline_ms = 5000;         // per call
  bool progress = true;                    // a line per second on stderr
  // "batches": read executions with StreamExecutionBatches; "reports": StreamExecutions;
  // "none": no execution streams (the calls alone; no exec latency, no fills counted).
  std::string exec_stream = "batches";
  // "unary": one SubmitOffer/CancelOffer call per operation; "order-entry": each channel
  // opens one OrderEntry stream per agency and pipelines the operations on it;
  // "order-entry-batches": the same on OrderEntryBatches (requests ready together in one
  // message, responses in batches).
  std::string api = "unary";
  // order-entry: requests in flight per stream (open loop: at most; closed loop: on
  // average, window x agencies per channel).
  int window = kDefaultOrderEntryWindow;
};

struct ParsedOptions {
  LoadgenOptions options;
  std::string help;  // when non-empty: print it and exit 0
};

// Parses argv without the program name. Usage errors come back as InvalidArgumentError
// naming the flag. When neither --duration nor --count is given the run lasts 10 s.
// Without --server, `env_server` (the environment's MSX_SERVER; may be nullptr) when set.
absl::StatusOr<ParsedOptions> ParseLoadgenOptions(const std::vector<std::string>& args,
                                                  const char* env_server = nullptr);

// "KOMIR=demo-komir,JOGMEC=demo-jogmec" -> credentials. InvalidArgumentError on a
// malformed entry or a repeated agency.
absl::StatusOr<std::vector<AgencyCredential>> ParseAgencies(const std::string& text);

}  // namespace msx::loadgen

#endif  // MSX_CLIENTS_LOADGEN_OPTIONS_H_
