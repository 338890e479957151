// LogFollower against a real 3-node NATS JetStream cluster on loopback: in-order delivery
// with exact bytes, starting mid-stream, lag, resuming across a server restart without a
// gap or duplicate, and the refusals (ahead of the stream, trimmed stream).
#include "gateway/replication/log_follower.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "gateway/replication/replicated_log.h"
#include "gateway/replication/replication_test_util.h"
#include "tests/testing/nats_cluster.h"

namespace msx::replication {
namespace {

using msx::testing::NatsCluster;
using testing::ConnectTo;
using testing::Payload;

ReplicatedLog::Options LogOptions(const NatsCluster& cluster, const std::string& stream) {
  ReplicatedLog::Options o;
  o.connection = ConnectTo(cluster);
  o.stream.name = stream;
  o.stream.subject = "msx." + stream;
  o.epoch = 1;
  o.publish_timeout = std::chrono::seconds(15);
  return o;
}

LogFollower::Options FollowerOptions(const NatsCluster& cluster, const std::string& stream,
                                     uint64_t start_seq) {
  LogFollower::Options o;
  o.connection = ConnectTo(cluster);
  o.stream = stream;
  o.subject = "msx." + stream;
  o.start_seq = start_seq;
  return o;
}

// Reads until next_seq() passes `last`, failing the test on any error but timeouts, and
// checks each entry's sequence and bytes. Bounded by `timeout`.
void ReadThrough(LogFollower& follower, uint64_t last, const std::string& tag,
                 std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (follower.next_seq() <= last) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "stuck before stream sequence " << follower.next_seq();
    const uint64_t want = follower.next_seq();
    auto entry = follower.Next(std::chrono::milliseconds(200));
    if (absl::IsDeadlineExceeded(entry.status())) continue;
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_EQ(entry->stream_seq, want);
    ASSERT_EQ(entry->payload, Payload(tag, want)) << "stream sequence " << want;
    ASSERT_EQ(entry->epoch, 1u);
  }
}

class LogFollowerTest : public testing::SharedClusterTest {};

TEST_F(LogFollowerTest, DeliversEveryMessageInOrderWithExactBytesAndReportsLag) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "FOLLOW"));
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Publish(Payload("f", i + 1), i).ok());

  auto follower = LogFollower::Open(FollowerOptions(*cluster_, "FOLLOW", 1));
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto last = (*follower)->StreamLastSequence();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 100u);
  ReadThrough(**follower, 60, "f", std::chrono::seconds(10));
  // Lag: 40 published, not yet read.
  EXPECT_EQ(*last + 1 - (*follower)->next_seq(), 40u);
  // Messages published while following arrive too, after the older ones.
  for (uint64_t i = 100; i < 150; ++i) ASSERT_TRUE((*log)->Publish(Payload("f", i + 1), i).ok());
  ReadThrough(**follower, 150, "f", std::chrono::seconds(10));
  // Nothing more: a timeout, not an error.
  auto none = (*follower)->Next(std::chrono::milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(none.status())) << none.status();
  EXPECT_EQ((*follower)->next_seq(), 151u);
}

TEST_F(LogFollowerTest, StartsAtTheGivenSequence) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "MIDDLE"));
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 30; ++i) ASSERT_TRUE((*log)->Publish(Payload("m", i + 1), i).ok());
  auto follower = LogFollower::Open(FollowerOptions(*cluster_, "MIDDLE", 21));
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto first = (*follower)->Next(std::chrono::seconds(5));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->stream_seq, 21u);
  EXPECT_EQ(first->payload, Payload("m", 21));
  ReadThrough(**follower, 30, "m", std::chrono::seconds(10));
}

TEST_F(LogFollowerTest, FollowerAheadOfTheStreamIsRefused) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "AHEAD"));
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Publish(Payload("h", i + 1), i).ok());
  auto at_end = LogFollower::Open(FollowerOptions(*cluster_, "AHEAD", 6));  // = last + 1: fine
  EXPECT_TRUE(at_end.ok()) << at_end.status();
  auto ahead = LogFollower::Open(FollowerOptions(*cluster_, "AHEAD", 8));
  ASSERT_TRUE(absl::IsFailedPrecondition(ahead.status())) << ahead.status();
  EXPECT_NE(ahead.status().message().find("ends at 5"), std::string::npos) << ahead.status();
}

TEST_F(LogFollowerTest, TrimmedStreamIsDataLossNotASilentGap) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "TRIMMED"));
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE((*log)->Publish(Payload("t", i + 1), i).ok());
  // Purge everything below 11 (what an over-eager retention would do).
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Stream.Purge.Sequence = 11;
  ASSERT_EQ(js_PurgeStream((*log)->connection().js(), "TRIMMED", &jo, nullptr), NATS_OK);
  auto follower = LogFollower::Open(FollowerOptions(*cluster_, "TRIMMED", 5));
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto entry = (*follower)->Next(std::chrono::seconds(5));
  ASSERT_TRUE(absl::IsDataLoss(entry.status())) << entry.status();
  EXPECT_NE(entry.status().message().find("no longer holds sequence 5"), std::string::npos)
      << entry.status();
}

TEST(LogFollowerFailureTest, ResumesAfterItsServerRestartsWithoutGapOrDuplicate) {
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto log = ReplicatedLog::Open(LogOptions(cluster, "RESUME"));
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE((*log)->Publish(Payload("r", i + 1), i).ok());
  auto follower = LogFollower::Open(FollowerOptions(cluster, "RESUME", 1));
  ASSERT_TRUE(follower.ok()) << follower.status();
  ReadThrough(**follower, 50, "r", std::chrono::seconds(10));

  // Kill the server the follower is connected to, publish more while it is down, restart.
  std::string url = (*follower)->connection().ConnectedUrl();
  int victim = -1;
  for (int i = 0; i < cluster.size(); ++i) {
    if (cluster.Url(i) == url) victim = i;
  }
  ASSERT_GE(victim, 0) << "follower connected to " << url;
  cluster.Kill(victim);
  for (uint64_t i = 100; i < 200; ++i) {
    auto seq = (*log)->Publish(Payload("r", i + 1), i);
    ASSERT_TRUE(seq.ok()) << seq.status();
  }
  ReadThrough(**follower, 150, "r", std::chrono::seconds(20));
  ASSERT_TRUE(cluster.Restart(victim).ok());
  for (uint64_t i = 200; i < 250; ++i) ASSERT_TRUE((*log)->Publish(Payload("r", i + 1), i).ok());
  ReadThrough(**follower, 250, "r", std::chrono::seconds(20));
  auto none = (*follower)->Next(std::chrono::milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(none.status())) << none.status();
}

}  // namespace
}  // namespace msx::replication
