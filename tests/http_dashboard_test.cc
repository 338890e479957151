// The dashboard's event stream under load: a browser that stops reading costs the server
// one message, not a queue (it is sent the latest state when it reads again, having
// skipped what changed meanwhile), and an agency's stream carries only its own section.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/gateway_test_client.h"
#include "tests/testing/http_client.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::HttpRequest;
using testing::ParsePrometheus;

// A raw connection to GET /events. `rcvbuf` > 0 shrinks the socket's receive buffer before
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

class HttpDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ServerProcess::Options opts;
    opts.extra_args = {"--http", "127.0.0.1:0", "--durability", "none"};
    ASSERT_TRUE(server_.Start(opts).ok()) << server_.Output();
    http_port_ = testing::HttpPortFromBanner(server_.Output());
    ASSERT_GT(http_port_, 0) << server_.Output();
  }

  double Metric(const std::string& name) {
    return ParsePrometheus(HttpRequest(http_port_, "GET", "/metrics").body)[name];
  }

  testing::ServerProcess server_;
  int http_port_ = 0;
};

TEST_F(HttpDashboardTest, AStalledBrowserCostsOneMessageAndGetsTheLatestStateWhenItReads) {
  EventClient stalled(http_port_, "demo-admin", /*rcvbuf=*/4096);
  EventClient reader(http_port_, "demo-admin");
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(reader.connected());
  std::atomic<bool> done{false};
  std::thread read_thread([&] {
    while (!done.load()) {
      reader.ReadUntilQuiet(std::chrono::milliseconds(100), std::chrono::milliseconds(200));
    }
  });
  // Traffic on every pair with holdings for a few seconds, while `stalled` reads nothing.
  testing::CommandResult load = testing::RunCommand(
      {testing::BuildPath("clients/loadgen/msx-loadgen"), "--server", server_.address(),
       "--rate", "1500", "--duration", "5", "--quiet", "--exec-stream", "none"});
  ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
  // Both streams are open; whatever the stalled one has not taken is at most one message.
  EXPECT_EQ(Metric("msx_dashboard_clients"), 2);
  const double buffered = Metric("msx_dashboard_buffered_bytes");
  EXPECT_LE(buffered, 512 * 1024) << "the server is queueing for the stalled stream";
  // Let the last changes reach the fast reader, then stop it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  done = true;
  read_thread.join();
  reader.ReadUntilQuiet(std::chrono::milliseconds(300));
  // The stalled browser reads again: it catches up with the newest state...
  stalled.ReadUntilQuiet(std::chrono::milliseconds(1500));
  std::map<std::string, nlohmann::json> fast_last, slow_last;
  for (const auto& j : reader.Events("pair")) fast_last[j["pair"]] = j;
  for (const auto& j : stalled.Events("pair")) slow_last[j["pair"]] = j;
  ASSERT_FALSE(fast_last.empty());
  std::size_t traded = 0;
  for (const auto& [pair, j] : fast_last) {
    ASSERT_TRUE(slow_last.count(pair)) << pair;
    EXPECT_EQ(slow_last[pair].dump(), j.dump()) << pair << ": the stalled stream is not current";
    if (!j["trades"].empty()) ++traded;
  }
  EXPECT_GT(traded, 0u) << "the load made no trades";
  // ...having skipped the versions it could not take: far fewer bytes than the reader got.
  // A server that queued every message for it would have sent it the same stream.
  EXPECT_LT(stalled.data().size() * 2, reader.data().size())
      << "stalled " << stalled.data().size() << " bytes, reader " << reader.data().size();
}

TEST_F(HttpDashboardTest, AnAgencyStreamCarriesOnlyThatAgencysSection) {
  EventClient komir(http_port_, "demo-komir");
  EventClient admin(http_port_, "demo-admin");
  ASSERT_TRUE(komir.connected() && admin.connected());
  testing::AgencyClient client(server_.address(), "demo-komir");
  v1::SubmitOfferResponse resp;
  const std::int64_t price = client.FairPrice(testing::kGaCo);
  ASSERT_TRUE(client.Submit(1, testing::kGaCo, v1::SIDE_SELL, 1, price, &resp).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  komir.ReadUntilQuiet(std::chrono::milliseconds(300));
  admin.ReadUntilQuiet(std::chrono::milliseconds(300));
  auto hello = komir.Events("hello");
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(hello[0]["agency"], "KOMIR");
  EXPECT_EQ(hello[0]["agencies"], nlohmann::json::array({"KOMIR"}));
  std::set<std::string> seen;
  for (const auto& j : komir.Events("agency")) seen.insert(j["agency"]);
  EXPECT_EQ(seen, std::set<std::string>{"KOMIR"});
  bool has_offer = false;
  for (const auto& j : komir.Events("agency")) {
    for (const auto& o : j["offers"]) has_offer |= o["offer_id"] == resp.offer().offer_id();
  }
  EXPECT_TRUE(has_offer) << "KOMIR's open offer is not on its dashboard";
  std::set<std::string> admin_seen;
  for (const auto& j : admin.Events("agency")) admin_seen.insert(j["agency"]);
  EXPECT_GT(admin_seen.size(), 1u) << "the admin sees every agency";
  // Public sections carry no agency: a book is prices and lots, as GetBook.
  for (const auto& j : komir.Events("pair")) {
    EXPECT_EQ(j.dump().find("KOMIR"), std::string::npos);
    EXPECT_EQ(j.dump().find("counterparty"), std::string::npos);
  }
}

}  // namespace
}  // namespace msx
