#include "gateway/replication/internal/server_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace msx::replication::internal {
namespace {

using Clock = std::chrono::steady_clock;

// The value of "key":"value" in a flat JSON object; false if absent or escaped.
bool JsonString(absl::string_view json, absl::string_view key, std::string* out) {
  const std::string marker = absl::StrCat("\"", key, "\":");
  const std::size_t at = json.find(marker);
  if (at == absl::string_view::npos) return false;
  absl::string_view rest = json.substr(at + marker.size());
  rest = absl::StripLeadingAsciiWhitespace(rest);
  if (!absl::ConsumePrefix(&rest, "\"")) return false;
  const std::size_t end = rest.find('"');
  if (end == absl::string_view::npos || end == 0) return false;
  absl::string_view value = rest.substr(0, end);
  if (absl::StrContains(value, '\\')) return false;
  *out = std::string(value);
  return true;
}

int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Closes the descriptor on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

bool ParseServerInfo(absl::string_view line, ServerIdentity* out) {
  if (!absl::ConsumePrefix(&line, "INFO ")) return false;
  ServerIdentity id;
  if (!JsonString(line, "server_id", &id.id) || !JsonString(line, "server_name", &id.name)) {
    return false;
  }
  *out = std::move(id);
  return true;
}

bool SplitNatsUrl(absl::string_view url, std::string* host, int* port) {
  const std::size_t scheme = url.find("://");
  if (scheme != absl::string_view::npos) url.remove_prefix(scheme + 3);
  const std::size_t at = url.rfind('@');
  if (at != absl::string_view::npos) url.remove_prefix(at + 1);
  const std::size_t slash = url.find('/');
  if (slash != absl::string_view::npos) url = url.substr(0, slash);
  absl::string_view h = url, p;
  if (absl::ConsumePrefix(&url, "[")) {
    const std::size_t close = url.find(']');
    if (close == absl::string_view::npos) return false;
    h = url.substr(0, close);
    absl::string_view after = url.substr(close + 1);
    if (absl::ConsumePrefix(&after, ":")) {
      p = after;
    } else if (!after.empty()) {
      return false;
    }
  } else {
    const std::size_t colon = url.rfind(':');
    if (colon != absl::string_view::npos) {
      h = url.substr(0, colon);
      p = url.substr(colon + 1);
    }
  }
  int n = 4222;
  if (!p.empty() && (!absl::SimpleAtoi(p, &n) || n <= 0 || n > 65535)) return false;
  if (h.empty()) return false;
  *host = std::string(h);
  *port = n;
  return true;
}

absl::StatusOr<ServerIdentity> ProbeServer(absl::string_view url,
                                           std::chrono::milliseconds timeout) {
  std::string host;
  int port = 0;
  if (!SplitNatsUrl(url, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not a NATS URL: ", url));
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::UnavailableError(absl::StrCat("probe ", url, ": cannot resolve ", host));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addrs(found, ::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* a = addrs.get(); a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = std::strerror(errno);
      continue;
    }
    std::string buf;
    bool connected = false;
    while (buf.find("\r\n") == std::string::npos && buf.size() < 64 * 1024) {
      pollfd pfd{fd.get(), static_cast<short>(connected ? POLLIN : POLLOUT), 0};
      const int ready = ::poll(&pfd, 1, MillisLeft(deadline));
      if (ready <= 0) {
        why = ready == 0 ? "no INFO line in time" : std::strerror(errno);
        break;
      }
      if (!connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          why = std::strerror(err);
          break;
        }
        connected = true;
        continue;
      }
      char chunk[4096];
      const ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
      if (n <= 0) {
        why = n == 0 ? "closed before INFO" : std::strerror(errno);
        break;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    const std::size_t end = buf.find("\r\n");
    if (end == std::string::npos) continue;
    ServerIdentity identity;
    if (ParseServerInfo(absl::string_view(buf).substr(0, end), &identity)) return identity;
    why = "malformed INFO line";
  }
  return absl::UnavailableError(absl::StrCat("probe ", url, ": ", why));
}

}  // namespace msx::replication::internal
