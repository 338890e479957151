// ReplicatedLog against a real 3-node NATS JetStream cluster on loopback: order, fencing,
// idempotent retries, one and two NATS servers down, and the asynchronous pipeline.
#include "gateway/replication/replicated_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gateway/replication/leader_lease.h"
#include "gateway/replication/replication_test_util.h"
#include "tests/testing/nats_cluster.h"

namespace msx::replication {
namespace {

using msx::testing::NatsCluster;
using testing::ConnectTo;
using testing::Payload;
using testing::StoredPayload;

ReplicatedLog::Options LogOptions(const NatsCluster& cluster, const std::string& stream,
                                  uint64_t epoch) {
  ReplicatedLog::Options o;
  o.connection = ConnectTo(cluster);
  o.stream.name = stream;
  o.stream.subject = "msx." + stream;
  o.epoch = epoch;
  // Generous budgets: the machine that runs the tests may be loaded (two cores shared by
  // several builds), so a stream-leader election or one acknowledgement can take seconds.
  // A deadline here only bounds a broken build; no assertion depends on how fast anything is.
  o.publish_timeout = std::chrono::seconds(60);
  o.attempt_timeout = std::chrono::seconds(2);
  o.async_timeout = std::chrono::seconds(30);
  o.connection.api_timeout = std::chrono::seconds(10);
  return o;
}

constexpr std::chrono::seconds kLeaderWait{60};

// Publish, asked again while it answers UNAVAILABLE (documented as "no quorum / timeout":
// the group may or may not be stored, and a re-send of the same bytes at the same position
// is idempotent, as a primary does). For a test with a short publish_timeout whose point
// is not that timeout: on a loaded machine one attempt can outlast it.
absl::StatusOr<uint64_t> PublishUntilAvailable(ReplicatedLog& log, const std::string& payload,
                                               uint64_t expected_last) {
  absl::StatusOr<uint64_t> seq = absl::UnavailableError("not tried");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (absl::IsUnavailable(seq.status()) && std::chrono::steady_clock::now() < deadline) {
    seq = log.Publish(payload, expected_last);
  }
  return seq;
}

// Non-destructive tests share one cluster (each uses its own stream).
class ReplicatedLogTest : public testing::SharedClusterTest {};

TEST_F(ReplicatedLogTest, PublishReturnsConsecutiveSequencesAndStoresExactBytes) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "ORDER", 1));
  ASSERT_TRUE(log.ok()) << log.status();
  std::vector<std::string> sent;
  for (uint64_t i = 0; i < 20; ++i) {
    sent.push_back(Payload("p", i + 1, i % 2 == 0 ? 200 : 4096));
    auto seq = (*log)->Publish(sent.back(), i);
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, i + 1);
  }
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 20u);
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "ORDER", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, sent[seq - 1]) << "stream sequence " << seq;
  }
}

TEST_F(ReplicatedLogTest, StalePublisherIsFencedAndStoresNothing) {
  auto a = ReplicatedLog::Open(LogOptions(*cluster_, "FENCE", 1));
  auto b = ReplicatedLog::Open(LogOptions(*cluster_, "FENCE", 2));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE((*a)->Publish(Payload("a", i + 1), i).ok());

  // B believes the stream ends at 2 (it missed A's third group).
  auto stale = (*b)->Publish(Payload("b", 3), 2);
  ASSERT_TRUE(absl::IsFailedPrecondition(stale.status())) << stale.status();
  EXPECT_EQ(stale.status().message(), "fenced: stream last sequence is 3, expected 2");
  // B believes the stream is empty: the explicit "0" expectation fences too.
  auto empty = (*b)->Publish(Payload("b", 1), 0);
  ASSERT_TRUE(absl::IsFailedPrecondition(empty.status())) << empty.status();
  EXPECT_EQ(empty.status().message(), "fenced: stream last sequence is 3, expected 0");

  // Nothing of B is stored; A's bytes are intact.
  auto last = (*a)->LastSequence();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 3u);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto stored = StoredPayload((*a)->connection(), "FENCE", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, Payload("a", seq));
  }
  // B with the right expectation writes; from then on A is fenced.
  auto caught_up = (*b)->Publish(Payload("b", 4), 3);
  ASSERT_TRUE(caught_up.ok()) << caught_up.status();
  EXPECT_EQ(*caught_up, 4u);
  auto a_stale = (*a)->Publish(Payload("a", 4), 3);
  ASSERT_TRUE(absl::IsFailedPrecondition(a_stale.status())) << a_stale.status();
  EXPECT_EQ(a_stale.status().message(), "fenced: stream last sequence is 4, expected 3");
}

TEST_F(ReplicatedLogTest, RepublishingTheSameGroupIsIdempotentButOtherBytesAreFenced) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "RETRY", 5));
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(*(*log)->Publish(Payload("x", 1), 0), 1u);
  ASSERT_EQ(*(*log)->Publish(Payload("x", 2), 1), 2u);
  // A retry of group 2 (its first attempt "timed out" but was stored): same answer.
  auto retry = (*log)->Publish(Payload("x", 2), 1);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, 2u);
  // Same position, different bytes, same epoch: not ours, so fenced.
  auto other = (*log)->Publish(Payload("y", 2), 1);
  ASSERT_TRUE(absl::IsFailedPrecondition(other.status())) << other.status();
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 2u);
}

TEST_F(ReplicatedLogTest, ExistingStreamWithOtherReplicasIsRefused) {
  auto first = ReplicatedLog::Open(LogOptions(*cluster_, "CONFIG", 1));
  ASSERT_TRUE(first.ok()) << first.status();
  auto options = LogOptions(*cluster_, "CONFIG", 1);
  options.stream.replicas = 1;
  auto second = ReplicatedLog::Open(options);
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("replicas 3, configured 1"), std::string::npos)
      << second.status();
}

TEST_F(ReplicatedLogTest, AsyncPipelineCompletesInOrder) {
  auto log = ReplicatedLog::Open(LogOptions(*cluster_, "ASYNC", 1));
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr uint64_t kCount = 300;
  absl::Mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<absl::Status> errors;
  for (uint64_t i = 0; i < kCount; ++i) {
    absl::Status s = (*log)->PublishAsync(Payload("q", i + 1), i, [&](absl::StatusOr<uint64_t> r) {
      absl::MutexLock lock(&mu);
      if (r.ok()) {
        seqs.push_back(*r);
      } else {
        errors.push_back(r.status());
      }
    });
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_TRUE((*log)->Flush(std::chrono::seconds(120)).ok());
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(seqs.size(), kCount);
  for (uint64_t i = 0; i < kCount; ++i) ASSERT_EQ(seqs[i], i + 1);
}

TEST_F(ReplicatedLogTest, AsyncPipelineFailsEverythingAfterAFencedMessage) {
  auto a = ReplicatedLog::Open(LogOptions(*cluster_, "ASYNCFENCE", 1));
  auto b = ReplicatedLog::Open(LogOptions(*cluster_, "ASYNCFENCE", 2));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Publish(Payload("a", 1), 0).ok());
  ASSERT_TRUE((*b)->Publish(Payload("b", 2), 1).ok());  // B takes over at 2
  // A still believes the stream ends at 1 and pipelines three groups. The fence may be
  // answered before the later groups are handed over: PublishAsync then refuses them at
  // once (the pipeline failed), which counts as their failure.
  absl::Mutex mu;
  std::vector<absl::Status> results;
  for (uint64_t i = 1; i <= 3; ++i) {
    absl::Status handed = (*a)->PublishAsync(Payload("a", i + 1), i,
                                             [&](absl::StatusOr<uint64_t> r) {
                                               absl::MutexLock lock(&mu);
                                               results.push_back(r.status());
                                             });
    if (!handed.ok()) {
      ASSERT_GT(i, 1u) << handed;
      EXPECT_TRUE(absl::IsFailedPrecondition(handed)) << handed;
      absl::MutexLock lock(&mu);
      results.push_back(handed);
    }
  }
  absl::Status flushed = (*a)->Flush(std::chrono::seconds(120));
  EXPECT_TRUE(absl::IsFailedPrecondition(flushed)) << flushed;
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(results.size(), 3u);
    // The first is fenced; the second would have matched (expected 2) but follows a
    // failure, so it is failed too: nothing past a failure is acknowledged.
    EXPECT_EQ(results[0].message(), "fenced: stream last sequence is 2, expected 1");
    for (size_t i = 1; i < 3; ++i) {
      EXPECT_TRUE(absl::IsFailedPrecondition(results[i])) << results[i];
    }
  }
  // After Flush the pipeline accepts again.
  EXPECT_TRUE((*a)->PublishAsync(Payload("a", 9), 100, [](absl::StatusOr<uint64_t>) {}).ok());
  (void)(*a)->Flush(std::chrono::seconds(120));
}

// ---- Destructive tests: each on its own cluster. ----

TEST(ReplicatedLogFailureTest, OneServerKilledUnderPublishingCausesNoError) {
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto options = LogOptions(cluster, "ONEDOWN", 1);
  // publish_timeout (LogOptions) rides out the stream-leader election.
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr uint64_t kCount = 200;
  std::string killed;
  std::chrono::steady_clock::duration longest{};
  for (uint64_t i = 0; i < kCount; ++i) {
    if (i == 50) {
      // Kill the stream's leader: the hardest single failure.
      killed = testing::WaitStreamLeader((*log)->connection(), "ONEDOWN", kLeaderWait);
      ASSERT_FALSE(killed.empty());
      cluster.Kill(cluster.IndexOf(killed));
    }
    auto t0 = std::chrono::steady_clock::now();
    auto seq = (*log)->Publish(Payload("k", i + 1), i);
    longest = std::max(longest, std::chrono::steady_clock::now() - t0);
    ASSERT_TRUE(seq.ok()) << "publish " << i + 1 << " after killing " << killed << ": "
                          << seq.status();
    ASSERT_EQ(*seq, i + 1);
  }
  // For the record (not asserted): the stall while the two others elect a new leader.
  RecordProperty(
      "longest_publish_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(longest).count()));
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, kCount);
  for (uint64_t seq = 1; seq <= kCount; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "ONEDOWN", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Payload("k", seq));
  }
}

TEST(ReplicatedLogFailureTest, TwoServersKilledFailUnavailableThenResumeLosingNothing) {
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto options = LogOptions(cluster, "TWODOWN", 1);
  options.publish_timeout = std::chrono::milliseconds(2000);
  options.attempt_timeout = std::chrono::milliseconds(500);
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 10; ++i) {
    auto seq = PublishUntilAvailable(**log, Payload("t", i + 1), i);
    ASSERT_TRUE(seq.ok()) << seq.status();
    ASSERT_EQ(*seq, i + 1);
  }
  std::string leader =
      testing::WaitStreamLeader((*log)->connection(), "TWODOWN", kLeaderWait);
  ASSERT_FALSE(leader.empty());
  // Keep the leader, kill both followers: the leader cannot reach a quorum.
  std::vector<int> killed;
  for (int i = 0; i < cluster.size(); ++i) {
    if (cluster.Name(i) != leader) {
      cluster.Kill(i);
      killed.push_back(i);
    }
  }
  // Without a quorum nothing can be acknowledged, however long it waits: UNAVAILABLE once
  // publish_timeout has passed (how long that takes is the bench's business, not this test's).
  auto failed = (*log)->Publish(Payload("t", 11), 10);
  ASSERT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();

  for (int i : killed) ASSERT_TRUE(cluster.Restart(i).ok());
  // Resume: re-send the unconfirmed group, as a primary does when quorum returns.
  absl::StatusOr<uint64_t> resumed = PublishUntilAvailable(**log, Payload("t", 11), 10);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(*resumed, 11u);
  auto twelve = PublishUntilAvailable(**log, Payload("t", 12), 11);
  ASSERT_TRUE(twelve.ok()) << twelve.status();
  EXPECT_EQ(*twelve, 12u);
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 12u);  // the retried group is stored once
  for (uint64_t seq = 1; seq <= 12; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "TWODOWN", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Payload("t", seq));
  }
}

// A node started together with its NATS servers (a data centre powering up) finds no
// JetStream meta leader for the first seconds: its setup (create the stream and the lease
// bucket) keeps retrying instead of failing the start.
TEST(ReplicatedLogFailureTest, SetupWaitsForTheClusterToElectItsLeaders) {
  NatsCluster cluster;
  NatsCluster::Options cluster_options;
  cluster_options.wait_until_healthy = false;
  ASSERT_TRUE(cluster.Start(cluster_options).ok());
  auto options = LogOptions(cluster, "COLDSTART", 1);
  options.connection.api_timeout = std::chrono::milliseconds(250);
  options.connection.setup_timeout = std::chrono::seconds(60);
  // Only the TCP listeners are awaited: the first setup call then meets a cluster that has
  // not elected its meta leader yet.
  ASSERT_TRUE(testing::WaitConnectable(options.connection, std::chrono::seconds(30)).ok());
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  LeaderLease::Options lease_options;
  lease_options.connection = options.connection;
  lease_options.bucket = "COLDSTART_LEASE";
  auto lease = LeaderLease::Open(lease_options);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto seq = (*log)->Publish(Payload("c", 1), 0);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(*seq, 1u);
  // The bucket's own stream may still be electing its leader: a claim is UNAVAILABLE until
  // then, and a node keeps trying, as here.
  absl::StatusOr<LeaderRecord> claim = absl::UnavailableError("not tried");
  const auto deadline = std::chrono::steady_clock::now() + kLeaderWait;
  while (absl::IsUnavailable(claim.status()) && std::chrono::steady_clock::now() < deadline) {
    claim = (*lease)->TryClaim("node-a", "127.0.0.1:1");
  }
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->node_id, "node-a");
}

TEST(ReplicatedLogFailureTest, StalledStreamLeaderIsRiddenOutAndLosesNothing) {
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto options = LogOptions(cluster, "STALLED", 1);
  // publish_timeout (LogOptions) rides out the election of a new leader.
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE((*log)->Publish(Payload("s", i + 1), i).ok());
  std::string leader =
      testing::WaitStreamLeader((*log)->connection(), "STALLED", kLeaderWait);
  ASSERT_FALSE(leader.empty());
  const int stalled = cluster.IndexOf(leader);
  cluster.Pause(stalled);  // SIGSTOP: alive to the kernel, silent to everyone
  for (uint64_t i = 20; i < 40; ++i) {
    auto seq = (*log)->Publish(Payload("s", i + 1), i);
    ASSERT_TRUE(seq.ok()) << "publish " << i + 1 << " with " << leader
                          << " stopped: " << seq.status();
    ASSERT_EQ(*seq, i + 1);
  }
  cluster.Resume(stalled);  // it comes back as a follower and must not undo anything
  ASSERT_TRUE(cluster.WaitHealthy(stalled, std::chrono::seconds(120)).ok());
  for (uint64_t i = 40; i < 50; ++i) ASSERT_TRUE((*log)->Publish(Payload("s", i + 1), i).ok());
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 50u);
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "STALLED", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Payload("s", seq));
  }
}

// The primary's recovery protocol: a pipeline broken by lost quorum acknowledges nothing
// past its first failure; once quorum returns, re-sending every unconfirmed group in order
// with Publish stores each exactly once (some may have been stored already).
TEST(ReplicatedLogFailureTest, BrokenPipelineResumesWithPublishStoringEachGroupOnce) {
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto options = LogOptions(cluster, "PIPELINE", 1);
  options.async_timeout = std::chrono::milliseconds(1500);
  options.publish_timeout = std::chrono::milliseconds(2000);
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr uint64_t kCount = 60;
  absl::Mutex mu;
  std::vector<absl::StatusOr<uint64_t>> results(kCount, absl::UnknownError("no callback"));
  std::string leader;
  for (uint64_t i = 0; i < kCount; ++i) {
    if (i == 30) {
      // Cut the quorum in mid-pipeline: keep only the stream leader.
      leader = testing::WaitStreamLeader((*log)->connection(), "PIPELINE", kLeaderWait);
      ASSERT_FALSE(leader.empty());
      for (int s = 0; s < cluster.size(); ++s) {
        if (cluster.Name(s) != leader) cluster.Kill(s);
      }
    }
    absl::Status s =
        (*log)->PublishAsync(Payload("p", i + 1), i, [&, i](absl::StatusOr<uint64_t> r) {
          absl::MutexLock lock(&mu);
          results[i] = std::move(r);
        });
    if (!s.ok()) {  // refused once the failure has been delivered: not sent at all
      absl::MutexLock lock(&mu);
      results[i] = s;
    }
  }
  absl::Status flushed = (*log)->Flush(std::chrono::seconds(120));
  ASSERT_FALSE(flushed.ok()) << "no publish failed although the quorum was gone";
  uint64_t confirmed = 0;
  {
    absl::MutexLock lock(&mu);
    while (confirmed < kCount && results[confirmed].ok()) {
      ASSERT_EQ(*results[confirmed], confirmed + 1);
      ++confirmed;
    }
    for (uint64_t i = confirmed; i < kCount; ++i) {
      ASSERT_FALSE(results[i].ok())
          << "acknowledged " << i + 1 << " past the failure at " << confirmed + 1;
    }
  }
  // Groups sent before the cut whose acks were still in flight may be among the failed.
  for (int s = 0; s < cluster.size(); ++s) {
    if (!cluster.running(s)) {
      ASSERT_TRUE(cluster.Restart(s).ok());
    }
  }
  for (uint64_t i = confirmed; i < kCount; ++i) {
    absl::StatusOr<uint64_t> seq = absl::UnavailableError("not tried");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (absl::IsUnavailable(seq.status()) && std::chrono::steady_clock::now() < deadline) {
      seq = (*log)->Publish(Payload("p", i + 1), i);
    }
    ASSERT_TRUE(seq.ok()) << "re-send " << i + 1 << ": " << seq.status();
    ASSERT_EQ(*seq, i + 1);
  }
  auto last = (*log)->LastSequence();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, kCount);
  for (uint64_t seq = 1; seq <= kCount; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "PIPELINE", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Payload("p", seq));
  }
}

// The pipeline's watchdog (the NATS client's per-message timeout is not used): a publish
// whose acknowledgement never comes (every NATS server stopped, so nothing answers) fails
// UNAVAILABLE once async_timeout has passed, never before, and so does every publish
// behind it. After Flush the pipeline works again: re-sent groups are stored once, and a
// late acknowledgement of a failed publish completes nothing.
TEST(ReplicatedLogFailureTest, UnacknowledgedAsyncPublishFailsOnceAsyncTimeoutPassed) {
  using Clock = std::chrono::steady_clock;
  NatsCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto options = LogOptions(cluster, "SILENT", 1);
  // Short enough for the test, long enough that an acknowledgement of a healthy cluster
  // (the publishes before and after the stop) comes in time on a loaded machine.
  options.async_timeout = std::chrono::milliseconds(5000);
  auto log = ReplicatedLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  absl::Mutex mu;
  struct Outcome {
    bool done = false;
    absl::StatusOr<uint64_t> result = absl::UnknownError("no callback");
    Clock::time_point at;
  };
  std::vector<Outcome> outcomes(8);
  auto publish = [&](uint64_t i) {
    return (*log)->PublishAsync(Payload("w", i + 1), i, [&, i](absl::StatusOr<uint64_t> r) {
      absl::MutexLock lock(&mu);
      outcomes[i] = Outcome{true, std::move(r), Clock::now()};
    });
  };
  auto wait_done = [&](uint64_t from, uint64_t to) {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      for (uint64_t i = from; i < to; ++i) {
        if (!outcomes[i].done) return false;
      }
      return true;
    };
    // Bounds a broken build only (a watchdog that never fires would wait forever).
    return mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(30));
  };
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(publish(i).ok());
  ASSERT_TRUE(wait_done(0, 3));
  ASSERT_TRUE((*log)->Flush(std::chrono::seconds(30)).ok());

  for (int i = 0; i < cluster.size(); ++i) cluster.Pause(i);
  const Clock::time_point sent = Clock::now();
  for (uint64_t i = 3; i < 6; ++i) ASSERT_TRUE(publish(i).ok());
  const bool failed_in_time = wait_done(3, 6);
  for (int i = 0; i < cluster.size(); ++i) cluster.Resume(i);
  ASSERT_TRUE(failed_in_time) << "publishes without an acknowledgement were never failed";
  {
    absl::MutexLock lock(&mu);
    for (uint64_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(outcomes[i].result.ok()) << outcomes[i].result.status();
      ASSERT_EQ(*outcomes[i].result, i + 1);
    }
    for (uint64_t i = 3; i < 6; ++i) {
      ASSERT_TRUE(absl::IsUnavailable(outcomes[i].result.status())) << outcomes[i].result.status();
      EXPECT_GE(outcomes[i].at - sent, options.async_timeout) << "failed before its time";
    }
    EXPECT_NE(outcomes[3].result.status().message().find("no acknowledgement within 5000 ms"),
              absl::string_view::npos)
        << outcomes[3].result.status();
  }
  absl::Status flushed = (*log)->Flush(std::chrono::seconds(30));
  EXPECT_TRUE(absl::IsUnavailable(flushed)) << flushed;

  // The stopped servers may have stored the failed groups once resumed: re-sending them
  // with Publish is idempotent either way.
  for (int i = 0; i < cluster.size(); ++i) {
    ASSERT_TRUE(cluster.WaitHealthy(i, std::chrono::seconds(120)).ok());
  }
  for (uint64_t i = 3; i < 6; ++i) {
    absl::StatusOr<uint64_t> seq = absl::UnavailableError("not tried");
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (absl::IsUnavailable(seq.status()) && Clock::now() < deadline) {
      seq = (*log)->Publish(Payload("w", i + 1), i);
    }
    ASSERT_TRUE(seq.ok()) << "re-send " << i + 1 << ": " << seq.status();
    ASSERT_EQ(*seq, i + 1);
  }
  ASSERT_TRUE(publish(6).ok());
  ASSERT_TRUE(publish(7).ok());
  ASSERT_TRUE(wait_done(6, 8));
  ASSERT_TRUE((*log)->Flush(std::chrono::seconds(30)).ok());
  {
    absl::MutexLock lock(&mu);
    for (uint64_t i = 6; i < 8; ++i) {
      ASSERT_TRUE(outcomes[i].result.ok()) << outcomes[i].result.status();
      ASSERT_EQ(*outcomes[i].result, i + 1);
    }
  }
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    auto stored = StoredPayload((*log)->connection(), "SILENT", seq);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Payload("w", seq));
  }
}

}  // namespace
}  // namespace msx::replication
