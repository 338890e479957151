// msx-server: the MSX exchange process.
//
// The main thread runs the control plane on Boost.Asio: a signal_set turns SIGINT/SIGTERM
// into a graceful shutdown (drain, journal flush, snapshot, exit 0) and a steady_timer
// enqueues an AdvanceTime command every server.time_tick_ms so that GTD expiry is a
// sequenced, journaled command. Everything else runs on the gRPC, sequencer, publisher and
// journal threads (see gateway/README.md). With --http (or server.http.listen) the same
// io_context serves /metrics and the dashboard (gateway/http/).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>

#include "absl/synchronization/mutex.h"
#include "gateway/http/dashboard.h"
#include "gateway/http/http_server.h"
#include "gateway/server.h"

namespace po = boost::program_options;

namespace {

// Re-arms itself until shutdown begins. `stopping` matters beside cancel(): a tick whose
// timer had already expired when the signal arrived is queued with no error and cannot be
// cancelled any more; it must not arm the timer again.
void ScheduleTick(boost::asio::steady_timer& timer, std::chrono::milliseconds period,
                  msx::gateway::ExchangeServer& server, const bool& stopping) {
  timer.expires_after(period);
  timer.async_wait([&timer, period, &server, &stopping](const boost::system::error_code& ec) {
    if (ec || stopping) return;  // cancelled, or shutting down
    server.Tick();
    ScheduleTick(timer, period, server, stopping);
  });
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with deadlock detection on: every absl::Mutex acquisition
  // (gRPC's own locks, the journal's) then updates a global lock graph, which showed up in
  // perf profiles of the gateway (GraphCycles::GetId). It is a debugging aid, not a check
  // the server relies on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  msx::gateway::ServerOptions options;
  std::string port_file;
  std::string listen, data_dir, durability, http_listen;
  po::options_description desc(
      "msx-server: the MSX mineral swap exchange (gRPC services msx.v1.Exchange and\n"
      "msx.v1.Admin, plus grpc.health.v1 and server reflection).\n\n"
      "Usage: msx-server [options]\n"
      "Without --config it runs the embedded default configuration (demo instruments,\n"
      "agencies and agreements; public demo tokens demo-<agency> and demo-admin, printed at\n"
      "start). A real configuration lists each agency's token digests (token_sha256: make a\n"
      "token and its digest with --new-token, or hash one with --hash-token) and never the\n"
      "tokens; they are not printed. On a new data\n"
      "directory it journals the configuration and the agencies' initial holdings; on an\n"
      "existing one it recovers from the newest snapshot and the journal, and refuses to\n"
      "start on corruption (naming file and offset) unless --truncate-at-corruption.\n"
      "One server per data directory (DIR/LOCK) and per address.\n"
      "SIGINT/SIGTERM: finish in-flight calls, flush the journal, snapshot, exit 0.\n\n"
      "Options");
  desc.add_options()("help,h", "print this help")(
      "config", po::value(&options.config_file),
      "configuration file, protobuf text format msx.v1.ExchangeConfig (default: embedded)")(
      "listen", po::value(&listen),
      "HOST:PORT to listen on (default from config, 127.0.0.1:50051; port 0 = any free)")(
      "http", po::value(&http_listen),
      "HOST:PORT for the operators' view: GET /metrics (Prometheus) and the live dashboard at "
      "/ (default from config server.http.listen: off). Keep it on loopback: /metrics has no "
      "authentication and the dashboard's tokens travel in plain HTTP")(
      "data-dir", po::value(&data_dir),
      "journal and snapshot directory (default from config, ./data)")(
      "durability", po::value(&durability),
      "sync (fdatasync before every acknowledgement, default) or none (no fsync: "
      "acknowledged work survives a process crash but may be lost on power loss)")(
      "port-file", po::value(&port_file),
      "write the bound port to this file once serving (for tests and scripts)")(
      "truncate-at-corruption",
      "on journal corruption, wherever it is, cut the journal at the damaged record (the cut "
      "bytes are kept in <segment>.cut-<offset>, later segments renamed *.discarded) and "
      "start, instead of refusing to start; loses every later command. Refused if a "
      "snapshot holds a later seq (those commands were durable)")(
      "truncate-corrupt-tail", "old name of --truncate-at-corruption (still accepted)")(
      "allow-plaintext-tokens",
      "accept plaintext `tokens` in the --config file (each must have >= 128 bits; a warning "
      "is printed at every start). Without it such a file is refused: list token_sha256")(
      "new-token",
      "print a new random bearer token (256 bits, base64url) and its token_sha256 line, then "
      "exit; give the token to the agency and put the digest in the configuration")(
      "replicate", po::value<std::string>(),
      "hot standby: NATS JetStream servers, e.g. nats://h1:4222,nats://h2:4222,nats://h3:4222 "
      "(overrides server.replication.servers). Replies wait until each group commit is both "
      "fdatasync'd and stored by a NATS quorum; the node leads while it holds the leader lease "
      "(gateway/replication/README.md)")(
      "standby",
      "with --replicate: follow the primary's stream, serve read-only calls, refuse writes "
      "with UNAVAILABLE naming the primary, and take over when its lease lapses")(
      "node-id", po::value<std::string>(),
      "with --replicate: this node's name in the leader lease (default: the advertised "
      "address)")(
      "advertise", po::value<std::string>(),
      "with --replicate: HOST:PORT clients use to reach this node, named by standbys in "
      "their refusals (default: the listen host and the bound port)")(
      "hash-token",
      "read a bearer token from stdin (one line; kept off the command line, where ps shows "
      "it), check that it is strong, print its token_sha256 line, then exit");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "msx-server: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (vm.count("new-token") || vm.count("hash-token")) {
    std::string token;
    if (vm.count("new-token")) {
      absl::StatusOr<std::string> made = msx::gateway::NewToken();
      if (!made.ok()) {
        std::cerr << "msx-server: " << made.status().message() << "\n";
        return 1;
      }
      token = *made;
      std::cout << "token (give it to the agency; it is not stored anywhere): " << token << "\n";
    } else {
      std::getline(std::cin, token);
      while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
      if (absl::Status strong = msx::gateway::CheckTokenStrength(token); !strong.ok()) {
        std::cerr << "msx-server: --hash-token: " << strong.message() << "\n";
        return 1;
      }
    }
    std::cout << "token_sha256: \"" << msx::gateway::TokenSha256Hex(token) << "\"\n";
    return 0;
  }
  if (vm.count("listen")) options.listen = listen;
  if (vm.count("replicate")) options.replicate = vm["replicate"].as<std::string>();
  options.standby = vm.count("standby") > 0;
  if (vm.count("node-id")) options.node_id = vm["node-id"].as<std::string>();
  if (vm.count("advertise")) options.advertise = vm["advertise"].as<std::string>();
  options.allow_plaintext_tokens = vm.count("allow-plaintext-tokens") > 0;
  if (vm.count("data-dir")) options.data_dir = data_dir;
  if (vm.count("http")) options.http = http_listen;
  if (vm.count("durability")) options.durability = durability;
  options.truncate_at_corruption =
      vm.count("truncate-at-corruption") > 0 || vm.count("truncate-corrupt-tail") > 0;

  // A file-size limit (RLIMIT_FSIZE) must make a journal write fail (EFBIG, and the journal
  // fails closed) rather than kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  // Installed before any thread starts, so a signal during recovery is not lost.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);

  absl::StatusOr<std::unique_ptr<msx::gateway::ExchangeServer>> started =
      msx::gateway::ExchangeServer::Start(options);
  if (!started.ok()) {
    std::cerr << "msx-server: " << started.status().message() << "\n";
    return 1;
  }
  msx::gateway::ExchangeServer& server = **started;

  // The HTTP plane, on this thread's io_context.
  std::unique_ptr<msx::gateway::http::Dashboard> dashboard;
  std::unique_ptr<msx::gateway::http::HttpServer> http;
  msx::gateway::http::HttpServer* http_ptr = nullptr;  // read by the metrics callback
  if (const auto& hc = server.server_config().http(); !hc.listen().empty()) {
    msx::gateway::http::StatusSource status;
    status.status_json = [&server] { return server.StatusJson(); };
    dashboard = std::make_unique<msx::gateway::http::Dashboard>(
        server.reference_data(), server.sequencer(), server.reports(), server.exec_hub(),
        server.book_hub(),
        std::move(status));
    msx::gateway::http::HttpServerOptions hopts;
    hopts.listen = hc.listen();
    hopts.max_connections = static_cast<std::size_t>(hc.max_connections());
    msx::gateway::http::Dashboard* dash_ptr = dashboard.get();
    // The HTTP plane's own figures are read here, on the io thread; the exchange's come
    // from a query on the sequencer thread.
    auto metrics = [&server, &http_ptr, dash_ptr](std::function<void(std::string)> done) {
      msx::gateway::http::PrometheusWriter w;
      w.Family("msx_http_connections", "gauge", "Open HTTP connections (event streams included).");
      w.Sample("msx_http_connections", http_ptr ? static_cast<double>(http_ptr->connections()) : 0);
      w.Family("msx_dashboard_clients", "gauge", "Dashboard event streams open.");
      w.Sample("msx_dashboard_clients", http_ptr ? static_cast<double>(http_ptr->event_streams()) : 0);
      w.Family("msx_dashboard_buffered_bytes", "gauge",
               "Dashboard bytes handed to sockets and not yet written, all streams (at most "
               "one message each).");
      w.Sample("msx_dashboard_buffered_bytes",
               http_ptr ? static_cast<double>(http_ptr->buffered_bytes()) : 0);
      w.Family("msx_dashboard_resubscriptions_total", "counter",
               "Times the dashboard's hub inbox overflowed or failed and was subscribed again.");
      w.Sample("msx_dashboard_resubscriptions_total", static_cast<double>(dash_ptr->resubscriptions()));
      server.ScrapeMetrics([done, mine = w.text()](std::string text) { done(text + mine); });
    };
    absl::StatusOr<std::unique_ptr<msx::gateway::http::HttpServer>> h =
        msx::gateway::http::HttpServer::Start(io, hopts, &server.tokens(), dashboard.get(), metrics);
    if (!h.ok()) {
      std::cerr << "msx-server: " << h.status().message() << "\n";
      dashboard.reset();
      (void)server.Shutdown();
      return 1;
    }
    http = *std::move(h);
    http_ptr = http.get();
    server.set_http_port(http->port());
  }
  std::cout << server.Banner() << std::flush;
  if (!port_file.empty()) {
    std::ofstream out(port_file + ".tmp");
    out << server.port() << "\n";
    out.close();
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }

  boost::asio::steady_timer tick(io);
  // Bounded by ValidateConfig (1 ms .. 1 h), so the deadline arithmetic cannot overflow.
  auto period = std::chrono::milliseconds(server.server_config().time_tick_ms());
  bool stopping = false;  // only touched on this thread (io.run())
  ScheduleTick(tick, period, server, stopping);
  int exit_code = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    std::cout << "msx-server: signal " << signo << ", shutting down" << std::endl;
    stopping = true;
    tick.cancel();
    if (http) http->Stop();  // closes the dashboards' streams before the hubs close
    absl::Status s = server.Shutdown();
    if (!s.ok()) {
      std::cerr << "msx-server: shutdown: " << s.message() << "\n";
      exit_code = 1;
    } else {
      // The snapshot line above (stderr) says whether one was written or needed.
      std::cout << "msx-server: journal flushed, bye" << std::endl;
    }
    // Nothing left to run: make io.run() return even if a handler is still queued.
    io.stop();
  });
  io.run();
  // Let the HTTP plane's aborted operations and posted replies run (they release the
  // connections, which reach into the dashboard) while everything is still alive.
  io.restart();
  while (io.poll() > 0) {
  }
  http.reset();
  dashboard.reset();
  started->reset();
  return exit_code;
}
