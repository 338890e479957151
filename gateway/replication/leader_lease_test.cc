// LeaderLease against a real 3-node NATS JetStream cluster on loopback: claim, renew,
// expiry and takeover by a second claimant, release, one winner among concurrent
// claimants, and the whole fencing rule (lease + expected last sequence) end to end.
#include "gateway/replication/leader_lease.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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

class LeaderLeaseTest : public testing::SharedClusterTest {
 protected:
  // Each test has its own bucket. Robust on a loaded machine (two cores shared by many
  // builds), where one call can take longer than a short TTL: a test that is not about
  // expiry uses kNeverExpires, so no lease lapses between two of its steps; a test about
  // expiry uses kExpires, long enough that the *new* holder's next steps (a few calls)
  // finish inside it. Every key-value call may take seconds before it counts as failed.
  static constexpr std::chrono::milliseconds kNeverExpires{120000};
  static constexpr std::chrono::milliseconds kExpires{3000};
  static std::unique_ptr<LeaderLease> OpenLease(const std::string& bucket,
                                                std::chrono::milliseconds ttl) {
    LeaderLease::Options o;
    o.connection = ConnectTo(*cluster_);
    o.bucket = bucket;
    o.ttl = ttl;
    o.op_timeout = std::chrono::seconds(10);
    auto lease = LeaderLease::Open(o);
    EXPECT_TRUE(lease.ok()) << "open lease: " << lease.status();
    return lease.ok() ? std::move(*lease) : nullptr;
  }

  // What a holder does (ReplicationNode renews well inside the TTL): renews `lease` every
  // ttl / 10 on a thread until destroyed, so that the holder's lease does not lapse while
  // the test takes its next steps, however long a loaded machine makes them. An
  // UNAVAILABLE renewal is transient (the entry lives until the TTL; the next one counts);
  // lost() is any other failure, after which it stops.
  class KeepRenewing {
   public:
    explicit KeepRenewing(LeaderLease& lease)
        : lease_(lease), thread_([this] {
            std::unique_lock<std::mutex> lock(mu_);
            while (!cv_.wait_for(lock, lease_.options().ttl / 10, [this] { return stop_; })) {
              lock.unlock();
              absl::StatusOr<LeaderRecord> renewed = lease_.Renew();
              lock.lock();
              if (!renewed.ok() && !absl::IsUnavailable(renewed.status())) {
                lost_ = renewed.status();
                return;  // lost for good: Renew requires a lease not lost since
              }
            }
          }) {}
    ~KeepRenewing() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      thread_.join();
    }
    absl::Status lost() {
      std::lock_guard<std::mutex> lock(mu_);
      return lost_;
    }

   private:
    LeaderLease& lease_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;     // guarded by mu_
    absl::Status lost_;     // guarded by mu_
    std::thread thread_;    // last: starts once the members above exist
  };

  // Polls TryClaim until it succeeds (what a standby does). The bound only keeps a broken
  // build from hanging; expiry normally comes within a second or two of the TTL.
  static absl::StatusOr<LeaderRecord> ClaimWhenVacant(LeaderLease& lease,
                                                      const std::string& node) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    absl::StatusOr<LeaderRecord> claim = absl::DeadlineExceededError("never tried");
    while (std::chrono::steady_clock::now() < deadline) {
      claim = lease.TryClaim(node, node + ":50051");
      if (claim.ok()) return claim;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return claim;
  }
};

TEST_F(LeaderLeaseTest, ClaimRenewAndCurrentWhileASecondClaimantIsRefused) {
  auto a = OpenLease("LEASE1", kNeverExpires);
  auto b = OpenLease("LEASE1", kNeverExpires);
  ASSERT_TRUE(a && b);
  auto vacant = b->Current();
  EXPECT_TRUE(absl::IsNotFound(vacant.status())) << vacant.status();

  auto claim = a->TryClaim("node-a", "127.0.0.1:1111");
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->epoch, claim->revision);  // the epoch is the claim's revision
  EXPECT_TRUE(a->HeldAt(LeaderLease::Clock::now()));

  auto current = b->Current();
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->node_id, "node-a");
  EXPECT_EQ(current->address, "127.0.0.1:1111");
  EXPECT_EQ(current->epoch, claim->epoch);

  // Each renewal moves the revision on and keeps the epoch; B never gets it.
  uint64_t revision = claim->revision;
  for (int i = 0; i < 12; ++i) {
    auto renewed = a->Renew();
    ASSERT_TRUE(renewed.ok()) << renewed.status();
    EXPECT_GT(renewed->revision, revision);
    EXPECT_EQ(renewed->epoch, claim->epoch);  // renewals keep the epoch
    revision = renewed->revision;
    auto refused = b->TryClaim("node-b", "127.0.0.1:2222");
    ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find("lease held by node-a"), std::string::npos)
        << refused.status();
  }
  EXPECT_FALSE(b->held().has_value());
}

TEST_F(LeaderLeaseTest, ExpiredLeaseIsTakenOverAndTheOldHolderCannotRenew) {
  auto a = OpenLease("LEASE2", kExpires);
  auto b = OpenLease("LEASE2", kExpires);
  ASSERT_TRUE(a && b);
  auto first = a->TryClaim("node-a", "a:1");
  ASSERT_TRUE(first.ok()) << first.status();
  // A stalls (stops renewing). B claims once the servers expire the entry.
  auto second = ClaimWhenVacant(*b, "node-b");
  ASSERT_TRUE(second.ok()) << second.status();
  KeepRenewing b_renews(*b);  // B holds on while A is checked
  EXPECT_GT(second->epoch, first->epoch);
  EXPECT_FALSE(a->HeldAt(LeaderLease::Clock::now()));  // A's local view agrees: lapsed

  auto renew = a->Renew();
  ASSERT_TRUE(absl::IsFailedPrecondition(renew.status())) << renew.status();
  EXPECT_NE(renew.status().message().find("lease lost"), std::string::npos) << renew.status();
  EXPECT_NE(renew.status().message().find("node-b"), std::string::npos) << renew.status();
  EXPECT_FALSE(a->held().has_value());
  // B's lease is intact.
  EXPECT_TRUE(b->Renew().ok());
  EXPECT_TRUE(b_renews.lost().ok()) << b_renews.lost();
  auto current = a->Current();
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->node_id, "node-b");
}

TEST_F(LeaderLeaseTest, ReleaseHandsOverWithoutWaitingForTheTtl) {
  auto a = OpenLease("LEASE3", kNeverExpires);
  auto b = OpenLease("LEASE3", kNeverExpires);
  ASSERT_TRUE(a && b);
  auto first = a->TryClaim("node-a", "a:1");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(a->Release().ok());
  EXPECT_FALSE(a->held().has_value());
  // No sleep: the key is vacant at once.
  auto second = b->TryClaim("node-b", "b:1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->epoch, first->epoch);
  // A stale release (A no longer holds) cannot remove B's claim.
  EXPECT_FALSE(a->Release().ok());
  auto current = b->Current();
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->node_id, "node-b");
}

TEST_F(LeaderLeaseTest, ExactlyOneOfConcurrentClaimantsWins) {
  constexpr int kClaimants = 4;
  std::vector<std::unique_ptr<LeaderLease>> leases;
  for (int i = 0; i < kClaimants; ++i) {
    leases.push_back(OpenLease("LEASE4", kNeverExpires));
    ASSERT_TRUE(leases.back());
  }
  std::atomic<int> winners{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimants; ++i) {
    threads.emplace_back([&, i] {
      auto claim = leases[i]->TryClaim("node-" + std::to_string(i), "x:1");
      if (claim.ok()) {
        ++winners;
      } else if (absl::IsFailedPrecondition(claim.status())) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(refused.load(), kClaimants - 1);
}

// The documented takeover rule end to end: a stalled primary (stops renewing, keeps its
// stale view of the stream) is shut out by the new leader's first publish, an empty
// leadership marker; a record the old primary slips in before that marker is applied by
// the new leader, not lost.
TEST_F(LeaderLeaseTest, NewLeadersMarkerFencesAStalledPrimaryWithoutLosingItsLastRecord) {
  auto lease_a = OpenLease("LEASE5", kExpires);
  auto lease_b = OpenLease("LEASE5", kExpires);
  ASSERT_TRUE(lease_a && lease_b);
  auto claim_a = lease_a->TryClaim("node-a", "a:1");
  ASSERT_TRUE(claim_a.ok()) << claim_a.status();
  ReplicatedLog::Options oa;
  oa.connection = ConnectTo(*cluster_);
  oa.stream.name = "FENCED_LOG";
  oa.stream.subject = "msx.fenced";
  oa.epoch = claim_a->epoch;
  auto log_a = ReplicatedLog::Open(oa);
  ASSERT_TRUE(log_a.ok()) << log_a.status();
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE((*log_a)->Publish(Payload("a", i + 1), i).ok());

  // A stalls. B takes the lapsed lease and reads the stream to its end (5).
  auto claim_b = ClaimWhenVacant(*lease_b, "node-b");
  ASSERT_TRUE(claim_b.ok()) << claim_b.status();
  EXPECT_GT(claim_b->epoch, claim_a->epoch);
  ReplicatedLog::Options ob = oa;
  ob.epoch = claim_b->epoch;
  auto log_b = ReplicatedLog::Open(ob);
  ASSERT_TRUE(log_b.ok()) << log_b.status();
  auto end = (*log_b)->LastSequence();
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(*end, 5u);

  // A wakes up just then and appends one more group from its view: it still can.
  auto a_slipped = (*log_a)->Publish(Payload("a", 6), 5);
  ASSERT_TRUE(a_slipped.ok()) << a_slipped.status();

  // B's marker expects 5: refused, nothing stored. B reads on (record 6 is A's, acked to
  // A's clients: B must apply it) and places its marker after it.
  auto marker = (*log_b)->Publish("", *end);
  ASSERT_TRUE(absl::IsFailedPrecondition(marker.status())) << marker.status();
  end = (*log_b)->LastSequence();
  ASSERT_TRUE(end.ok());
  ASSERT_EQ(*end, 6u);
  auto six = testing::StoredPayload((*log_b)->connection(), "FENCED_LOG", 6);
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(*six, Payload("a", 6));
  marker = (*log_b)->Publish("", *end);
  ASSERT_TRUE(marker.ok()) << marker.status();
  EXPECT_EQ(*marker, 7u);

  // From now on A can never append again, and its lease is gone.
  auto a_late = (*log_a)->Publish(Payload("a", 7), 6);
  ASSERT_TRUE(absl::IsFailedPrecondition(a_late.status())) << a_late.status();
  EXPECT_EQ(a_late.status().message(), "fenced: stream last sequence is 7, expected 6");
  EXPECT_TRUE(absl::IsFailedPrecondition(lease_a->Renew().status()));
  // B carries on after its marker.
  auto b_first = (*log_b)->Publish(Payload("b", 8), 7);
  ASSERT_TRUE(b_first.ok()) << b_first.status();
  EXPECT_EQ(*b_first, 8u);
}

}  // namespace
}  // namespace msx::replication
