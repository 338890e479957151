// Helpers shared by the replication end-to-end tests (test-only).
#ifndef MSX_GATEWAY_REPLICATION_REPLICATION_TEST_UTIL_H_
#define MSX_GATEWAY_REPLICATION_REPLICATION_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/nats_connection.h"
#include "tests/testing/nats_cluster.h"

namespace msx::replication::testing {

// A fixture whose tests share one three-server cluster, started once for the suite and
// stopped after it; each test uses its own stream or bucket, so they do not disturb each
// other. Destructive tests (a server killed) start their own cluster instead.
class SharedClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new msx::testing::NatsCluster();
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static inline msx::testing::NatsCluster* cluster_ = nullptr;
};

inline ConnectionOptions ConnectTo(const msx::testing::NatsCluster& cluster) {
  ConnectionOptions options;
  options.servers = cluster.Urls();
  return options;
}

// Retries connecting (no JetStream call) until a server accepts or `timeout` passes.
inline absl::Status WaitConnectable(const ConnectionOptions& options,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto conn = NatsConnection::Connect(options);
    if (conn.ok() || std::chrono::steady_clock::now() >= deadline) return conn.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A payload that names its position, so a misplaced or foreign message shows in a diff.
inline std::string Payload(const std::string& tag, uint64_t seq, size_t size = 200) {
  std::string p = absl::StrCat(tag, "#", seq, ":");
  while (p.size() < size) p.push_back(static_cast<char>('a' + (p.size() * 7 + seq) % 26));
  p.resize(size);
  return p;
}

// The server_name of the stream's current leader, or "" when it has none / cannot tell.
inline std::string StreamLeader(NatsConnection& conn, const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  if (js_GetStreamInfo(&raw, conn.js(), stream.c_str(), nullptr, nullptr) != NATS_OK) return "";
  internal::StreamInfoPtr info(raw);
  if (info->Cluster == nullptr || info->Cluster->Leader == nullptr) return "";
  return info->Cluster->Leader;
}

// Waits until the stream reports a leader (bounded); returns its name or "".
inline std::string WaitStreamLeader(NatsConnection& conn, const std::string& stream,
                                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string leader = StreamLeader(conn, stream);
    if (!leader.empty()) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

// The stored message at `seq` (payload only), read straight from the stream. A message
// the stream does not have fails at once; a cluster that is still settling (a server just
// resumed or restarted answers "JetStream system temporarily unavailable", or a request
// times out) is asked again for up to 30 s, so only a lost message fails a test.
inline absl::StatusOr<std::string> StoredPayload(NatsConnection& conn, const std::string& stream,
                                                 uint64_t seq) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    natsMsg* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, conn.js(), stream.c_str(), seq, nullptr, &code);
    internal::MsgPtr msg(raw);
    if (s == NATS_OK) {
      return std::string(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get()));
    }
    if (code == JSNoMessageFoundErr || std::chrono::steady_clock::now() >= deadline) {
      return internal::ToStatus(s, "get message");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace msx::replication::testing

#endif  // MSX_GATEWAY_REPLICATION_REPLICATION_TEST_UTIL_H_
