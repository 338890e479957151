// Unit tests of the replication library's pure parts: the leader record's encoding, the
// message id, server-list parsing and the server error text parser.
#include <gtest/gtest.h>

#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/leader_lease.h"
#include "gateway/replication/nats_connection.h"
#include "gateway/replication/replicated_log.h"

namespace msx::replication {
namespace {

TEST(LeaderRecordTest, EncodeDecodeRoundTrips) {
  LeaderRecord in{"node-a", "127.0.0.1:50051", 42, 0};
  EXPECT_EQ(EncodeLeaderRecord(in), "epoch=42\nnode=node-a\naddress=127.0.0.1:50051\n");
  auto out = DecodeLeaderRecord(EncodeLeaderRecord(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->node_id, "node-a");
  EXPECT_EQ(out->address, "127.0.0.1:50051");
  EXPECT_EQ(out->epoch, 42u);
}

TEST(LeaderRecordTest, UnknownFieldsAreIgnored) {
  auto out = DecodeLeaderRecord("epoch=7\nnode=b\naddress=x:1\nzone=eu\n");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->epoch, 7u);
}

TEST(LeaderRecordTest, MalformedValueIsDataLossNamingTheProblem) {
  auto no_eq = DecodeLeaderRecord("epoch=1\nnonsense\n");
  EXPECT_TRUE(absl::IsDataLoss(no_eq.status()));
  EXPECT_NE(no_eq.status().message().find("line 2"), std::string::npos) << no_eq.status();
  auto bad_epoch = DecodeLeaderRecord("epoch=x\nnode=a\naddress=b\n");
  EXPECT_TRUE(absl::IsDataLoss(bad_epoch.status()));
  EXPECT_NE(bad_epoch.status().message().find("bad epoch"), std::string::npos);
  auto no_node = DecodeLeaderRecord("epoch=1\naddress=b\n");
  EXPECT_TRUE(absl::IsDataLoss(no_node.status()));
  EXPECT_NE(no_node.status().message().find("lacks node"), std::string::npos);
}

TEST(ReplicationMsgIdTest, NamesEpochAndTargetSequence) {
  EXPECT_EQ(ReplicationMsgId(3, 17), "3-17");
}

TEST(SplitServerListTest, TrimsAndDropsEmpties) {
  EXPECT_EQ(SplitServerList(" nats://a:1, nats://b:2,,nats://c:3 "),
            (std::vector<std::string>{"nats://a:1", "nats://b:2", "nats://c:3"}));
  EXPECT_TRUE(SplitServerList("").empty());
}

TEST(ParseWrongLastSequenceTest, ReadsTheServersNumber) {
  uint64_t actual = 0;
  EXPECT_TRUE(internal::ParseWrongLastSequence("wrong last sequence: 17", &actual));
  EXPECT_EQ(actual, 17u);
  EXPECT_FALSE(internal::ParseWrongLastSequence("wrong last sequence: ", &actual));
  EXPECT_FALSE(internal::ParseWrongLastSequence("stream not found", &actual));
}

TEST(ReplicatedLogOpenTest, RejectsEpochZeroBeforeConnecting) {
  ReplicatedLog::Options options;
  options.connection.servers = {"nats://127.0.0.1:1"};
  auto log = ReplicatedLog::Open(options);
  EXPECT_TRUE(absl::IsInvalidArgument(log.status())) << log.status();
}

}  // namespace
}  // namespace msx::replication
