// Which NATS server answers at a URL: the server_id and server_name from the INFO line
// every NATS server sends first on a new client connection (before CONNECT, before any
// TLS upgrade). ReplicatedLog uses it to find the URL of the stream leader's server
// (JetStream names leaders by server_name; the NATS C client does not expose the name of
// the server it is connected to). Private to gateway/replication/.
#ifndef MSX_GATEWAY_REPLICATION_INTERNAL_SERVER_PROBE_H_
#define MSX_GATEWAY_REPLICATION_INTERNAL_SERVER_PROBE_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace msx::replication::internal {

struct ServerIdentity {
  std::string id;    // "server_id", what natsConnection_GetConnectedServerId returns
  std::string name;  // "server_name", what JetStream's cluster info names leaders by
};

// Parses `INFO {...}` (the line without its CRLF). False when it is not an INFO line or
// lacks either field (or one is not a plain JSON string without escapes).
bool ParseServerInfo(absl::string_view line, ServerIdentity* out);

// Splits a NATS URL ("nats://[user[:pass]@]host[:port]", also tls:// or no scheme;
// "[v6]:port") into host and port (default 4222). False when it has no host or a bad port.
bool SplitNatsUrl(absl::string_view url, std::string* host, int* port);

// Connects to `url` over TCP, reads the INFO line and closes; the whole call takes at
// most about `timeout`. Errors: INVALID_ARGUMENT (URL), UNAVAILABLE (no connection, no
// INFO in time, or a malformed one).
absl::StatusOr<ServerIdentity> ProbeServer(absl::string_view url,
                                           std::chrono::milliseconds timeout);

}  // namespace msx::replication::internal

#endif  // MSX_GATEWAY_REPLICATION_INTERNAL_SERVER_PROBE_H_
