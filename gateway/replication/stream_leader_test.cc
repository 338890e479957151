// ReplicatedLog publishes through the NATS server its stream's leader runs on
// (Options::prefer_stream_leader), found with the INFO-line probe of
// internal/server_probe.h: the probe's parsing, and the connection against a real 3-node
// cluster whatever the order of its URLs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/replication/internal/server_probe.h"
#include "gateway/replication/replicated_log.h"
#include "gateway/replication/replication_test_util.h"
#include "tests/testing/nats_cluster.h"

namespace msx::replication {
namespace {

using internal::ParseServerInfo;
using internal::ProbeServer;
using internal::ServerIdentity;
using internal::SplitNatsUrl;

TEST(ServerProbeTest, InfoLineGivesIdAndName) {
  ServerIdentity id;
  ASSERT_TRUE(ParseServerInfo(
      R"(INFO {"server_id":"NCJ2DW","server_name":"c-n0","version":"2.9.10","headers":true} )",
      &id));
  EXPECT_EQ(id.id, "NCJ2DW");
  EXPECT_EQ(id.name, "c-n0");
}

TEST(ServerProbeTest, LineWithoutBothFieldsOrNotInfoIsRefused) {
  ServerIdentity id;
  EXPECT_FALSE(ParseServerInfo(R"(INFO {"server_id":"X"})", &id));
  EXPECT_FALSE(ParseServerInfo(R"(INFO {"server_id":"X","server_name":""})", &id));
  EXPECT_FALSE(ParseServerInfo(R"(INFO {"server_id":"X","server_name":"a\"b"})", &id));
  EXPECT_FALSE(ParseServerInfo(R"(-ERR 'Authorization Violation')", &id));
}

TEST(ServerProbeTest, NatsUrlsSplitIntoHostAndPort) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitNatsUrl("nats://127.0.0.1:4333", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 4333);
  ASSERT_TRUE(SplitNatsUrl("tls://user:secret@nats.example:5000", &host, &port));
  EXPECT_EQ(host, "nats.example");
  EXPECT_EQ(port, 5000);
  ASSERT_TRUE(SplitNatsUrl("localhost", &host, &port));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 4222);
  ASSERT_TRUE(SplitNatsUrl("nats://[::1]:4223", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 4223);
  EXPECT_FALSE(SplitNatsUrl("nats://:4222", &host, &port));
  EXPECT_FALSE(SplitNatsUrl("nats://h:port", &host, &port));
  EXPECT_FALSE(SplitNatsUrl("nats://h:70000", &host, &port));
}

class StreamLeaderTest : public testing::SharedClusterTest {};

TEST_F(StreamLeaderTest, ProbeNamesTheServerAtEachUrl) {
  for (int i = 0; i < cluster_->size(); ++i) {
    absl::StatusOr<ServerIdentity> id = ProbeServer(cluster_->Url(i), std::chrono::seconds(2));
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->name, cluster_->Name(i));
    EXPECT_FALSE(id->id.empty());
  }
}

TEST_F(StreamLeaderTest, NothingListeningIsUnavailable) {
  absl::StatusOr<ServerIdentity> id = ProbeServer("nats://127.0.0.1:1", std::chrono::seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(id.status())) << id.status();
}

// Each of the three URLs is tried first in turn (the client's shuffle off), so at least
// two of the opens start on a server the stream leader does not run on.
TEST_F(StreamLeaderTest, LogPublishesThroughTheStreamLeadersServerWhicheverUrlComesFirst) {
  const std::string stream = "LEADER_CONN";
  const std::vector<std::string> urls = cluster_->Urls();
  uint64_t last = 0;
  for (std::size_t first = 0; first < urls.size(); ++first) {
    ReplicatedLog::Options o;
    o.connection.servers.clear();
    for (std::size_t k = 0; k < urls.size(); ++k) {
      o.connection.servers.push_back(urls[(first + k) % urls.size()]);
    }
    o.connection.no_randomize = true;
    o.stream.name = stream;
    o.stream.subject = "msx.leader_conn";
    o.epoch = 1;
    absl::StatusOr<std::unique_ptr<ReplicatedLog>> log = ReplicatedLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    const std::string leader =
        testing::WaitStreamLeader((*log)->connection(), stream, std::chrono::seconds(10));
    ASSERT_FALSE(leader.empty());
    absl::StatusOr<ServerIdentity> connected =
        ProbeServer((*log)->connection().ConnectedUrl(), std::chrono::seconds(2));
    ASSERT_TRUE(connected.ok()) << connected.status();
    EXPECT_EQ(connected->name, leader) << "first URL " << o.connection.servers[0];
    // And it publishes there as before.
    absl::StatusOr<uint64_t> seq = (*log)->Publish(testing::Payload("lead", last + 1), last);
    ASSERT_TRUE(seq.ok()) << seq.status();
    last = *seq;
  }
  EXPECT_EQ(last, urls.size());
}

}  // namespace
}  // namespace msx::replication
