// NatsConnection: one connection to a NATS cluster plus its JetStream context, owned
// together (RAII over natsConnection and jsCtx). The building block of ReplicatedLog,
// LogFollower and LeaderLease; each of them owns its own connection so that, e.g., lease
// renewals never queue behind a large publish.
//
// Thread-safety: the NATS C client's connection and JetStream context are thread-safe, so
// the raw handles may be used from several threads; the NatsConnection object itself is
// immutable after Connect().
#ifndef MSX_GATEWAY_REPLICATION_NATS_CONNECTION_H_
#define MSX_GATEWAY_REPLICATION_NATS_CONNECTION_H_

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace msx::replication {

struct ConnectionOptions {
  // Server URLs, e.g. {"nats://h1:4222", "nats://h2:4222", "nats://h3:4222"}. The client
  // connects to one and fails over to the others (and to servers the cluster announces).
  std::vector<std::string> servers;
  // Shown by the servers in their connection lists ("msx-primary", "msx-standby").
  std::string name = "msx";
  // Wait between reconnect attempts to the same server; reconnection never gives up.
  std::chrono::milliseconds reconnect_wait{50};
  // Timeout of the initial TCP connect + handshake to one server.
  std::chrono::milliseconds connect_timeout{2000};
  // Default wait for JetStream API requests (stream info, consumer creation, KV calls).
  std::chrono::milliseconds api_timeout{2000};
  // How long a node keeps retrying its setup calls (create or check the stream and the
  // lease bucket) while they fail as UNAVAILABLE: a cluster whose servers start together
  // elects its JetStream leaders for a few seconds first.
  std::chrono::milliseconds setup_timeout{20000};
  // Client PINGs the server at this interval; two unanswered pings mark the connection
  // stale and trigger a reconnect to another server (how a SIGSTOPped server is left).
  std::chrono::milliseconds ping_interval{1000};
  // Write each message to the socket in the publishing thread instead of leaving it to
  // the client's flusher thread: lower latency for pipelined (asynchronous) publishes,
  // somewhat less throughput at deep pipelines (bench/results/replication.md).
  bool send_asap = true;
  // Try `servers` in the given order (the first is preferred, the others are fail-over)
  // instead of the client's default shuffle.
  bool no_randomize = false;
};

// Splits "nats://a:4222,nats://b:4222" into URLs (whitespace trimmed, empties dropped).
std::vector<std::string> SplitServerList(const std::string& list);

class NatsConnection {
 public:
  // Connects to one of options.servers and creates the JetStream context, with
  // `js_options` when given (e.g. an asynchronous-publish ack handler; its Wait defaults to
  // options.api_timeout when 0).
  // Errors: INVALID_ARGUMENT (no servers, bad option), UNAVAILABLE (no server reachable).
  static absl::StatusOr<std::unique_ptr<NatsConnection>> Connect(
      const ConnectionOptions& options, const jsOptions* js_options = nullptr);

  // Destroys the JetStream context, then closes and destroys the connection. Blocks until
  // the client's threads no longer touch either.
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  natsConnection* conn() const { return conn_; }
  jsCtx* js() const { return js_; }
  const ConnectionOptions& options() const { return options_; }

  // URL of the server currently connected to ("" while reconnecting).
  std::string ConnectedUrl() const;

 private:
  NatsConnection(const ConnectionOptions& options, natsConnection* conn, jsCtx* js)
      : options_(options), conn_(conn), js_(js) {}

  const ConnectionOptions options_;
  natsConnection* const conn_;
  jsCtx* const js_;
};

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_NATS_CONNECTION_H_
