// ExchangeServer: everything msx-server runs, assembled. Start() loads the configuration,
// recovers the engine from the journal (refusing corruption unless told to truncate),
// opens the journal writer, starts the sequencer and publisher threads and the gRPC
// server (Exchange, Admin, grpc.health.v1, reflection). On a new data directory it first
// journals the configuration and every agency's initial holdings as SetHoldings commands,
// so the journal replays on its own.
//
// The control plane (signals, timers) lives in server_main.cc and calls Tick() and
// Shutdown().
//
// Thread-safety: Start/Shutdown from the main thread; Tick from any thread.
#ifndef MSX_GATEWAY_SERVER_H_
#define MSX_GATEWAY_SERVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "engine/matching/engine.h"
#include "engine/journal/dir_lock.h"
#include "engine/journal/writer.h"
#include "engine/matching/reference_data.h"
#include "gateway/admission.h"
#include "gateway/auth.h"
#include "gateway/http/metrics.h"
#include "gateway/hubs.h"
#include "gateway/reports.h"
#include "gateway/sequencer.h"
#include "gateway/service.h"
#include "msx/v1/config.pb.h"

namespace msx::gateway {

struct ServerOptions {
  std::string config_file;                  // empty = the embedded default
  std::optional<std::string> listen;        // overrides server.listen
  std::optional<std::string> data_dir;      // overrides server.data_dir
  std::optional<std::string> durability;    // "sync" | "none"; overrides server.durability
  bool truncate_at_corruption = false;      // cut the journal at a corruption instead of refusing
  // Accept plaintext AgencyConfig.tokens from a --config file (each must be strong; warned
  // on stderr at start). The embedded demo configuration's tokens are always accepted.
  bool allow_plaintext_tokens = false;
  std::optional<std::string> http;          // overrides server.http.listen
  // Hot standby (gateway/replication/README.md): override server.replication.
  std::optional<std::string> replicate;  // NATS URLs, comma-separated
  bool standby = false;
  std::optional<std::string> node_id;
  std::optional<std::string> advertise;
};

class SnapshotWriter;
class ReplicationNode;

class ExchangeServer {
 public:
  // Fails with the configuration error (InvalidArgument naming the field), the journal's
  // corruption (DataLoss naming file and offset), or the I/O / listen error.
  static absl::StatusOr<std::unique_ptr<ExchangeServer>> Start(const ServerOptions& options);
  ~ExchangeServer();
  ExchangeServer(const ExchangeServer&) = delete;
  ExchangeServer& operator=(const ExchangeServer&) = delete;

  // Queues an AdvanceTime command (GTD expiry); a full queue just skips this tick.
  void Tick();
  // Graceful stop: refuse new work, finish everything queued, make it durable, write a
  // snapshot, end the streams, stop gRPC, close the journal. Idempotent.
  absl::Status Shutdown();

  int port() const { return port_; }
  const v1::ServerConfig& server_config() const { return server_config_; }
  // What the operator sees on start: address, recovery summary, how to authenticate and an
  // example command. Tokens are printed only for the embedded demo configuration (public
  // demo tokens); the example passes the token in MSX_TOKEN, never on a command line.
  std::string Banner() const;
  // Null without replication.
  const ReplicationNode* replication() const { return replication_.get(); }

  // ---- For the HTTP plane (gateway/http/): valid between Start and destruction ----
  const ReferenceData& reference_data() const { return *ref_; }
  const TokenTable& tokens() const { return *tokens_; }
  Sequencer* sequencer() { return sequencer_.get(); }
  ExecHub* exec_hub() { return exec_hub_.get(); }
  BookHub* book_hub() { return book_hub_.get(); }
  const Reports* reports() const { return reports_.get(); }
  // Renders the exchange's metrics (gateway/http/METRICS.md) and calls `done` with the
  // text exactly once: the counters as they are now, plus the resting offers per book,
  // read by a query on the sequencer thread (left out when the sequencer cannot answer:
  // journal failed, shutting down). `done` runs on the thread that completes the query, or
  // on this one. Any thread.
  void ScrapeMetrics(std::function<void(std::string text)> done);
  // The dashboard's exchange status, as JSON object members (no braces): sequence,
  // durability, journal, uptime, commands per second, queue depth, role and replication
  // (node, leader, epoch, lag). Call from one thread
  // only (it keeps the previous sample for the rate).
  std::string StatusJson();
  // The HTTP plane's port once msx-server serves it (for the banner); 0 = off.
  void set_http_port(int port) { http_port_ = port; }

 private:
  ExchangeServer() = default;
  // msx_role and the msx_replication_* families (gateway/http/METRICS.md).
  void RenderReplicationMetrics(http::PrometheusWriter* w) const;
  // StatusJson's "role" and "replication" members (replication null without it).
  std::string ReplicationJson() const;

  // Held from before recovery until after the journal is closed (declared first, so
  // destroyed last): one msx-server per data directory.
  std::unique_ptr<journal::DirLock> dir_lock_;
  v1::ExchangeConfig config_;
  v1::ServerConfig server_config_;
  std::unique_ptr<ReferenceData> ref_;
  std::unique_ptr<TokenTable> tokens_;
  std::unique_ptr<Admission> admission_;
  std::unique_ptr<Engine> engine_;
  // Metrics (gateway/http/metrics.h), written by the journal and sequencer threads: declared
  // before both, so they outlive them.
  std::unique_ptr<http::CommandMetrics> command_metrics_;
  std::unique_ptr<http::JournalMetrics> journal_metrics_;
  std::unique_ptr<journal::JournalWriter> journal_;
  std::unique_ptr<SnapshotWriter> snapshots_;
  std::unique_ptr<ExecHub> exec_hub_;
  std::unique_ptr<BookHub> book_hub_;
  std::unique_ptr<Reports> reports_;  // the sequencer's observer: outlives it
  std::unique_ptr<Sequencer> sequencer_;
  // Declared after the sequencer (destroyed before it): it drives the sequencer.
  std::unique_ptr<ReplicationNode> replication_;
  std::shared_ptr<std::atomic<ReplicationNode*>> replication_target_;
  // Declared after the sequencer (destroyed before it): its jobs submit to the sequencer.
  std::unique_ptr<HistoryReader> history_;
  std::unique_ptr<StreamCounts> stream_counts_;
  std::unique_ptr<ExchangeService> exchange_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::shared_ptr<std::atomic<Sequencer*>> callback_target_;
  std::shared_ptr<std::atomic<grpc::HealthCheckServiceInterface*>> health_target_;
  int port_ = 0;
  int http_port_ = 0;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  std::int64_t start_unix_ns_ = 0;      // when Start began (wall clock)
  double recovery_seconds_ = 0;         // journal::Recover's duration
  std::uint64_t recovered_commands_ = 0;
  // The newest snapshot on disk: the one recovered from, then each one written.
  std::shared_ptr<std::atomic<std::int64_t>> snapshot_unix_ns_ =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> snapshots_written_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  // StatusJson's previous sample (commands per second).
  std::chrono::steady_clock::time_point rate_at_{};
  std::uint64_t rate_commands_ = 0;
  double commands_per_second_ = 0;
  // Journal segments on disk, counted at most once a second (a directory listing).
  std::chrono::steady_clock::time_point segments_at_{};
  std::size_t segments_ = 0;
  std::uint64_t segments_bytes_ = 0;  // their sizes on disk
  std::string recovery_summary_;
  bool demo_config_ = false;  // running on the embedded default configuration
  bool shut_down_ = false;
  bool started_ = false;  // Start() finished: serving
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SERVER_H_
