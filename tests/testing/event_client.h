// EventClient: a raw connection to msx-server's GET /events (the dashboard's server-sent
// events), for end-to-end tests of gateway/http/. Header-only; one thread per client.
#ifndef MSX_TESTS_TESTING_EVENT_CLIENT_H_
#define MSX_TESTS_TESTING_EVENT_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace msx::testing {

// A raw connection to GET /events with a bearer token. `rcvbuf` > 0 shrinks the socket's receive buffer before
// connecting (a browser that reads slowly).
class EventClient {
 public:
  EventClient(int port, const std::string& token, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    const std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                            token + "\r\n\r\n";
    if (connected_) connected_ = write(fd_, req.data(), req.size()) == static_cast<ssize_t>(req.size());
  }
  ~EventClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }

  // Reads whatever arrives until nothing has come for `quiet`, or for at most `limit`.
  void ReadUntilQuiet(std::chrono::milliseconds quiet,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    char buf[65536];
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(quiet.count())) <= 0) return;
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return;
      data_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Reads until `done(*this)` holds (checked before each read) or `limit` passes, or the
  // server closes the stream; returns done's last value. For a test that waits for what
  // it expects to see rather than for a pause in the stream.
  template <typename Pred>
  bool ReadUntil(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    char buf[65536];
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done(*this)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
      if (ready < 0) return false;
      if (ready == 0) continue;
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return done(*this);
      data_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  const std::string& data() const { return data_; }

  // The JSON of every `event: kind` in what was read, in order.
  std::vector<nlohmann::json> Events(const std::string& kind) const {
    std::vector<nlohmann::json> out;
    const std::string head = "event: " + kind + "\ndata: ";
    std::size_t pos = 0;
    while ((pos = data_.find(head, pos)) != std::string::npos) {
      const std::size_t begin = pos + head.size();
      const std::size_t end = data_.find("\n\n", begin);
      if (end == std::string::npos) break;
      out.push_back(nlohmann::json::parse(data_.substr(begin, end - begin)));
      pos = end;
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string data_;
};

}  // namespace msx::testing

#endif  // MSX_TESTS_TESTING_EVENT_CLIENT_H_
