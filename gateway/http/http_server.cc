#include "gateway/http/http_server.h"

#include <chrono>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gateway/http/static_files.h"

namespace msx::gateway::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
// An event stream with nothing new gets a comment line this often, so that proxies and
// the browser see a live connection.
constexpr auto kKeepAlive = std::chrono::seconds(15);
// SO_SNDBUF of an event stream (Linux doubles it for its bookkeeping).
constexpr int kEventStreamSendBuffer = 64 * 1024;

// Nothing on the page comes from anywhere but this server; no inline script or style.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

// An event stream: the socket after `GET /events` was answered; the dashboard's messages
// are written to it, one write in flight, the next one built only when it completes.
class HttpServer::EventStream : public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(HttpServer* server, beast::tcp_stream stream, Caller caller)
      : server_(server),
        stream_(std::move(stream)),
        caller_(caller),
        cursor_(server->dashboard_->sections()) {}
  ~EventStream() {
    if (server_ != nullptr) {
      server_->streams_.erase(this);
      server_->dashboard_->RemoveClient();
      --server_->connections_;
    }
  }

  void Begin() {
    server_->streams_.insert(this);
    server_->dashboard_->AddClient();
    stream_.expires_never();
    // The kernel's share of a slow browser's backlog is bounded too (Linux otherwise grows
    // a loopback send buffer to megabytes): past it, the stream's write waits and the
    // dashboard coalesces.
    beast::error_code ec;
    stream_.socket().set_option(net::socket_base::send_buffer_size(kEventStreamSendBuffer), ec);
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n\r\n";
    Write(head + server_->dashboard_->HelloMessage(caller_));
    // The client never sends anything more: a read completes only when it goes away.
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code, std::size_t) {
                              self->Close();
                            });
  }

  // Sends what changed if no write is in flight (HTTP thread, each tick).
  void Pump(std::chrono::steady_clock::time_point now) {
    if (writing_ || closed_) return;
    std::string msg = server_->dashboard_->NextMessage(caller_, &cursor_);
    if (msg.empty()) {
      if (now - last_write_ < kKeepAlive) return;
      msg = ": keep-alive\n\n";
    }
    Write(std::move(msg));
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  std::size_t buffered() const { return writing_ ? out_.size() : 0; }

 private:
  void Write(std::string msg) {
    out_ = std::move(msg);
    writing_ = true;
    last_write_ = std::chrono::steady_clock::now();
    net::async_write(stream_.socket(), net::buffer(out_),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (ec) {
                         self->Close();
                         return;
                       }
                       self->Pump(std::chrono::steady_clock::now());
                     });
  }

  HttpServer* server_;
  beast::tcp_stream stream_;
  const Caller caller_;
  ClientCursor cursor_;
  std::string out_;  // the one message in flight
  bool writing_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_write_{};
  char discard_[64];
};

// A plain HTTP connection: reads requests and answers them (keep-alive), until it is
// handed over as an event stream or closed.
class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer* server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {
    server_->sessions_.insert(this);
  }
  ~Session() {
    server_->sessions_.erase(this);
    if (!handed_over_) --server_->connections_;
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(0);
    stream_.expires_after(kRequestTimeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) {
                          if (!self->Fail(ec)) self->Close();
                          return;
                        }
                        self->Handle(self->parser_->release());
                      });
  }

  void Close() {
    if (handed_over_) return;  // stream_ now belongs to an EventStream
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  using Request = bhttp::request<bhttp::string_body>;
  using Response = bhttp::response<bhttp::string_body>;

  // A request over the limits gets a status (and the connection closes after it): true.
  // Timeouts, resets and the end of the connection just close: false.
  bool Fail(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) {
      Reply(Request{}, bhttp::status::request_header_fields_too_large, "text/plain",
            "request headers too large\n", false);
      return true;
    }
    if (ec == bhttp::error::body_limit) {
      Reply(Request{}, bhttp::status::payload_too_large, "text/plain",
            "requests carry no body here\n", false);
      return true;
    }
    return false;
  }

  void Handle(Request req) {
    const bool head = req.method() == bhttp::verb::head;
    if (req.method() != bhttp::verb::get && !head) {
      Reply(req, bhttp::status::method_not_allowed, "text/plain",
            "read-only: only GET and HEAD\n", req.keep_alive(), "GET, HEAD");
      return;
    }
    std::string target(req.target());
    if (const std::size_t q = target.find('?'); q != std::string::npos) target.resize(q);
    if (target == "/metrics") {
      server_->metrics_([self = shared_from_this(), req = std::move(req)](std::string text) mutable {
        net::post(self->server_->io_, [self, req = std::move(req), text = std::move(text)]() {
          if (self->server_->stopped_) return;
          self->Reply(req, bhttp::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                      std::move(text), req.keep_alive());
        });
      });
      return;
    }
    if (target == "/events") {
      auto auth = req.find(bhttp::field::authorization);
      absl::StatusOr<Caller> caller =
          auth == req.end()
              ? absl::UnauthenticatedError(
                    "authorization: expected header \"Authorization: Bearer <token>\"")
              : server_->tokens_->AuthenticateHeader(
                    absl::string_view(auth->value().data(), auth->value().size()), {});
      if (!caller.ok()) {
        Reply(req,
              caller.status().code() == absl::StatusCode::kPermissionDenied
                  ? bhttp::status::forbidden
                  : bhttp::status::unauthorized,
              "text/plain", std::string(caller.status().message()) + "\n", false);
        return;
      }
      if (head) {
        Reply(req, bhttp::status::ok, "text/event-stream", "", false);
        return;
      }
      handed_over_ = true;
      auto stream = std::make_shared<EventStream>(server_, std::move(stream_), *caller);
      stream->Begin();
      return;
    }
    const StaticFile* file = FindStaticFile(target == "/" ? "/index.html" : target);
    if (file == nullptr) {
      Reply(req, bhttp::status::not_found, "text/plain", "not found\n", req.keep_alive());
      return;
    }
    Reply(req, bhttp::status::ok, file->content_type, std::string(file->body), req.keep_alive());
  }

  void Reply(const Request& req, bhttp::status status, const char* type, std::string body,
             bool keep_alive, const char* allow = nullptr) {
    auto res = std::make_shared<Response>(status, req.version() == 0 ? 11 : req.version());
    res->set(bhttp::field::server, "msx-server");
    res->set(bhttp::field::content_type, type);
    res->set(bhttp::field::cache_control, "no-store");
    res->set("X-Content-Type-Options", "nosniff");
    res->set("Content-Security-Policy", kCsp);
    res->set("Referrer-Policy", "no-referrer");
    if (allow != nullptr) res->set(bhttp::field::allow, allow);
    res->keep_alive(keep_alive);
    const bool head = req.method() == bhttp::verb::head;
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(kRequestTimeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep_alive](beast::error_code ec,
                                                                    std::size_t) {
                         if (ec || !keep_alive || self->server_->stopped_) {
                           self->Close();
                           return;
                         }
                         self->Read();
                       });
  }

  HttpServer* const server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool handed_over_ = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(net::io_context& io,
                                                              const HttpServerOptions& options,
                                                              const TokenTable* tokens,
                                                              Dashboard* dashboard,
                                                              MetricsFn metrics) {
  if (absl::Status l = CheckListenAddress(options.listen); !l.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("server.http.listen: ", l.message()));
  }
  const std::size_t colon = options.listen.rfind(':');
  std::string host = options.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const auto port = static_cast<unsigned short>(std::stoi(options.listen.substr(colon + 1)));
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server.http.listen: \"", host, "\" is not an IP address (", ec.message(), ")"));
  }
  std::unique_ptr<HttpServer> s(new HttpServer(io, options, tokens, dashboard, std::move(metrics)));
  tcp::endpoint endpoint(address, port);
  s->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) s->acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s->acceptor_.bind(endpoint, ec);
  if (!ec) s->acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("server.http.listen: cannot listen on ", options.listen, ": ", ec.message()));
  }
  s->port_ = s->acceptor_.local_endpoint().port();
  s->Accept();
  s->ScheduleTick();
  return s;
}

HttpServer::HttpServer(net::io_context& io, const HttpServerOptions& options,
                       const TokenTable* tokens, Dashboard* dashboard, MetricsFn metrics)
    : io_(io),
      options_(options),
      tokens_(tokens),
      dashboard_(dashboard),
      metrics_(std::move(metrics)),
      acceptor_(io),
      tick_(io) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  beast::error_code ec;
  acceptor_.close(ec);
  tick_.cancel();
  // Closing makes every pending operation complete with an error; the handlers then
  // release the sessions. They must not reach back into this server afterwards.
  for (Session* s : std::vector<Session*>(sessions_.begin(), sessions_.end())) s->Close();
  for (EventStream* s : std::vector<EventStream*>(streams_.begin(), streams_.end())) s->Close();
}

std::size_t HttpServer::buffered_bytes() const {
  std::size_t n = 0;
  for (const EventStream* s : streams_) n += s->buffered();
  return n;
}

void HttpServer::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (stopped_) return;
    if (!ec) {
      if (connections_ >= options_.max_connections) {
        socket.close(ec);  // over the limit: no state kept for it
      } else {
        ++connections_;
        std::make_shared<Session>(this, std::move(socket))->Read();
      }
    }
    Accept();
  });
}

void HttpServer::ScheduleTick() {
  tick_.expires_after(std::chrono::milliseconds(options_.tick_ms));
  tick_.async_wait([this](beast::error_code ec) {
    if (ec || stopped_) return;
    Tick();
    ScheduleTick();
  });
}

void HttpServer::Tick() {
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  dashboard_->Tick(now_ns);
  const auto now = std::chrono::steady_clock::now();
  for (EventStream* s : std::vector<EventStream*>(streams_.begin(), streams_.end())) s->Pump(now);
}

}  // namespace msx::gateway::http
