// HttpServer: msx-server's HTTP plane (`--http HOST:PORT`, `server.http`), Boost.Beast on
// the control plane's io_context (the main thread; gateway/server_main.cc).
//
//   GET /metrics        Prometheus text format (METRICS.md); no authentication (bind it
//                       to loopback or a monitoring network)
//   GET /               the dashboard page; /dashboard.js, /dashboard.css its script and
//                       style (embedded in the binary; a Content-Security-Policy allows
//                       nothing from elsewhere)
//   GET /events         the dashboard's server-sent events; needs
//                       `Authorization: Bearer <token>` (the gRPC tokens; never in the URL)
//
// Everything else: 404; a method other than GET/HEAD: 405. Read-only: nothing here sends
// a command. Requests are bounded (8 KiB of headers, no body, 10 s to arrive) and so are
// connections (server.http.max_connections; more are closed at once).
//
// Thread-safety: Start/Stop and every handler run on the io_context's thread; the
// metrics callback may complete on any thread (it posts back).
#ifndef MSX_GATEWAY_HTTP_HTTP_SERVER_H_
#define MSX_GATEWAY_HTTP_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "gateway/auth.h"
#include "gateway/http/dashboard.h"

namespace msx::gateway::http {

struct HttpServerOptions {
  std::string listen;                 // HOST:PORT (port 0 = any free port)
  std::size_t max_connections = 1024;
  int tick_ms = 100;                  // how often the dashboard state is pushed
};

// Renders the metrics text and calls `done` with it, on any thread, exactly once.
using MetricsFn = std::function<void(std::function<void(std::string text)> done)>;

class HttpServer {
 public:
  // Binds and starts accepting. Fails with InvalidArgument (bad address) or Unavailable
  // (cannot bind), naming the address. REQUIRES: tokens and dashboard outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io,
                                                           const HttpServerOptions& options,
                                                           const TokenTable* tokens,
                                                           Dashboard* dashboard,
                                                           MetricsFn metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting and closes every connection. Idempotent.
  void Stop();
  int port() const { return port_; }
  // Open connections (all kinds) and event streams; for metrics.
  std::size_t connections() const { return connections_; }
  std::size_t event_streams() const { return streams_.size(); }
  // Bytes handed to event-stream sockets and not yet written, summed over the streams:
  // at most one message per stream (coalescing; dashboard.h).
  std::size_t buffered_bytes() const;

  class Session;
  class EventStream;

 private:
  HttpServer(boost::asio::io_context& io, const HttpServerOptions& options,
             const TokenTable* tokens, Dashboard* dashboard, MetricsFn metrics);
  void Accept();
  void ScheduleTick();
  void Tick();

  friend class Session;
  friend class EventStream;
  boost::asio::io_context& io_;
  const HttpServerOptions options_;
  const TokenTable* const tokens_;
  Dashboard* const dashboard_;
  MetricsFn metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer tick_;
  int port_ = 0;
  bool stopped_ = false;
  std::size_t connections_ = 0;
  std::unordered_set<Session*> sessions_;
  std::unordered_set<EventStream*> streams_;
};

}  // namespace msx::gateway::http

#endif  // MSX_GATEWAY_HTTP_HTTP_SERVER_H_
