// MSX configuration: parsing the protobuf text format (msx.v1.ExchangeConfig), the embedded
// default configuration, and turning a configuration into the engine's ReferenceData and
// initial holdings. Target `msx_config` (links msx_proto); the engine core does not.
//
// Errors are absl::Status values that name the entry and field, e.g.
//   pairs[3] (CO-99.8/GA-4N).tick: must be > 0
//   agencies[2] (DLA).holdings[1].instrument: unknown instrument "XX"
//   config line 12:5: Expected identifier, got: }
//
// Thread-safety: all functions are thread-safe (DefaultConfig() is built once).
#ifndef MSX_ENGINE_CONFIG_CONFIG_H_
#define MSX_ENGINE_CONFIG_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/reference_data.h"
#include "msx/v1/config.pb.h"

namespace msx {

// Parses protobuf text format. Syntax errors and unknown fields fail with InvalidArgument
// naming the line and column. Does not validate the content (see ValidateConfig).
absl::StatusOr<msx::v1::ExchangeConfig> ParseConfigText(absl::string_view text);

// Reads and parses a text-format configuration file. NotFound / InvalidArgument errors name
// the file.
absl::StatusOr<msx::v1::ExchangeConfig> ReadConfigFile(const std::string& path);

// Builds the reference data (instruments, pair books, agencies, agreements) and validates
// the whole configuration: everything ValidateConfig checks. Dense ids follow the order of
// the entries in `config`.
absl::StatusOr<ReferenceData> LoadReferenceData(const msx::v1::ExchangeConfig& config);

// Bounds of the numeric server settings (0 in the configuration selects the default).
inline constexpr std::int64_t kDefaultSegmentBytes = 64ll << 20;
inline constexpr std::int64_t kMinSegmentBytes = 4096;
inline constexpr std::int64_t kMaxSegmentBytes = 16ll << 30;
inline constexpr std::int64_t kDefaultSnapshotEveryRecords = 1000000;
inline constexpr std::int64_t kMaxSnapshotEveryRecords = 1000000000000;
inline constexpr std::int64_t kDefaultQueueCapacity = 65536;
inline constexpr std::int64_t kMaxQueueCapacity = 16777216;  // 2^24 slots
inline constexpr std::int64_t kDefaultTimeTickMs = 100;
inline constexpr std::int64_t kMaxTimeTickMs = 3600000;  // one hour
inline constexpr std::int64_t kDefaultOfferRetentionSeconds = 7 * 24 * 3600;
inline constexpr std::int64_t kMaxOfferRetentionSeconds = 100ll * 365 * 24 * 3600;
// ServerConfig.offer_retention_seconds (after ServerConfigWithDefaults) as the engine's
// retention in nanoseconds (kSetOfferRetention): 0 = keep forever.
std::int64_t OfferRetentionNs(const msx::v1::ServerConfig& server);
inline constexpr std::int64_t kDefaultMaxUndurableCommands = 65536;
inline constexpr std::int64_t kMaxUndurableCommands = 16777216;
inline constexpr std::int64_t kDefaultMaxUndurableBytes = 64ll << 20;
inline constexpr std::int64_t kMinUndurableBytes = 1ll << 20;
inline constexpr std::int64_t kMaxUndurableBytes = 16ll << 30;
inline constexpr std::int64_t kDefaultMaxConcurrentStreams = 1000;
inline constexpr std::int64_t kMaxConcurrentStreams = 1000000;
inline constexpr std::int64_t kDefaultGrpcMemoryBytes = 1ll << 30;
inline constexpr std::int64_t kMinGrpcMemoryBytes = 16ll << 20;
inline constexpr std::int64_t kMaxGrpcMemoryBytes = 1ll << 40;
inline constexpr std::int64_t kDefaultMaxStreamsPerAgency = 64;
inline constexpr std::int64_t kMaxMaxStreamsPerAgency = 100000;
inline constexpr std::int64_t kDefaultStreamMaxQueuedMessages = 65536;
inline constexpr std::int64_t kMaxStreamMaxQueuedMessages = 16777216;
inline constexpr std::int64_t kDefaultStreamMaxQueuedBytes = 16ll << 20;
inline constexpr std::int64_t kMinStreamMaxQueuedBytes = 1024;
inline constexpr std::int64_t kMaxStreamMaxQueuedBytes = 4ll << 30;
inline constexpr std::int64_t kDefaultHttpConnections = 1024;
inline constexpr std::int64_t kMaxHttpConnections = 100000;

// Validates everything LoadReferenceData needs plus the parts the engine does not use:
// tokens (non-empty, unique across agencies), initial holdings (known instrument,
// amount >= 0, no instrument twice per agency), the server section (every number 0 or
// within the bounds above, e.g. "server.queue_capacity: must be between 2 and 16777216
// (or 0 for 65536), got ..."; queue_capacity a power of two; max_in_flight_per_agency times
// the number of agencies within queue_capacity; TLS key given with a certificate).
absl::Status ValidateConfig(const msx::v1::ExchangeConfig& config);

// Checks a listen address "HOST:PORT": a non-empty host (an IPv6 one in brackets,
// "[::1]:50051") and a decimal port 0..65535 (0 = any free port). Returns InvalidArgument
// saying what is wrong (without a field name; callers prefix "server.listen: " or
// "--listen: "). Does not resolve the host.
absl::Status CheckListenAddress(absl::string_view address);

// The SetHoldings commands that declare every agency's initial holdings, in configuration
// order (agency, then holding). seq and time are 0: the sequencer stamps them.
// REQUIRES: `ref` was loaded from `config`.
absl::StatusOr<std::vector<Command>> InitialHoldingCommands(const msx::v1::ExchangeConfig& config,
                                                            const ReferenceData& ref);

// The embedded default configuration (engine/config/default_config.textproto, compiled in
// at build time): 28 instruments (11 lent in term books of 30, 90 and 180 days: 33 term
// books), 51 pair books, 7 agencies plus the admin MSX-OPS, 5
// agreements, a server section (127.0.0.1:50051, ./data, DURABILITY_SYNC). Demo tokens are
// "demo-<agency id in lower case>" and "demo-admin".
std::string_view DefaultConfigText();
const msx::v1::ExchangeConfig& DefaultConfig();

// The server section with defaults filled in for zero fields (listen "127.0.0.1:50051",
// data_dir "./data", durability SYNC, 64 MiB segments, snapshot every 1,000,000 records,
// queue 65536, time tick 100 ms, 65536 commands / 64 MiB undurable, 1000 streams per
// connection, 1 GiB for gRPC). max_in_flight_per_agency stays 0 (its default depends on
// the number of agencies: the gateway resolves it).
msx::v1::ServerConfig ServerConfigWithDefaults(const msx::v1::ServerConfig& server);

}  // namespace msx

#endif  // MSX_ENGINE_CONFIG_CONFIG_H_
