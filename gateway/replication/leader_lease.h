// LeaderLease: who is the primary, as a JetStream key-value entry with a time to live.
//
// The bucket (file storage, `replicas` copies, history 1, TTL = Options::ttl) holds one key
// whose value is the leader record (node id, address, epoch). The holder renews it well
// inside the TTL (e.g. every 100 ms for a 500 ms TTL); if it stops (crash, SIGSTOP, cut
// off from the NATS quorum) the servers expire the entry after the TTL and the key is
// vacant. Rules (README.md, "Leadership"):
//   - TryClaim creates the key only if it is vacant (create = compare-and-set on "no
//     value"); of concurrent claimants exactly one wins.
//   - The epoch of a claim is the KV revision at which it was created: revisions are the
//     bucket's stream sequence, so epochs are unique and increase with every claim.
//   - Renew is a compare-and-set on the revision of the holder's last write. It fails
//     (FAILED_PRECONDITION, "lease lost") if the entry expired or anybody else wrote; the
//     holder has then lost leadership for good and must claim anew.
//   - The lease alone does not stop a stalled old primary from writing: the replicated
//     stream does. A new leader first catches up to the stream's last sequence and
//     publishes with that as the expected last sequence; from then on every publish of
//     the old primary fails "wrong last sequence" (ReplicatedLog: fenced).
//
// Thread-safety: all methods may be called from any thread. Claim, Renew, Release and
// Current are serialised by an internal mutex; held() and HeldAt() never wait for them (a
// renewal timer and a status reader can share one LeaderLease).
#ifndef MSX_GATEWAY_REPLICATION_LEADER_LEASE_H_
#define MSX_GATEWAY_REPLICATION_LEADER_LEASE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/nats_connection.h"

namespace msx::replication {

struct LeaderRecord {
  std::string node_id;
  std::string address;    // where clients reach this leader, e.g. "10.0.0.5:50051"
  uint64_t epoch = 0;     // KV revision of the claim
  uint64_t revision = 0;  // KV revision of the entry this record was read from or written as
};

// The value stored under the key: "epoch=<n>\nnode=<id>\naddress=<addr>\n".
std::string EncodeLeaderRecord(const LeaderRecord& record);
// Parses a stored value (revision is left 0). Errors: DATA_LOSS naming the bad line.
absl::StatusOr<LeaderRecord> DecodeLeaderRecord(absl::string_view value);

class LeaderLease {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    ConnectionOptions connection;
    std::string bucket = "MSX_LEADER";
    std::string key = "leader";
    std::chrono::milliseconds ttl{500};
    int replicas = 3;
    // Wait for each key-value request (claim, renew, read).
    std::chrono::milliseconds op_timeout{250};
  };

  // Connects and ensures the bucket (created when missing; an existing one must have the
  // same TTL and history 1). Errors: INVALID_ARGUMENT, UNAVAILABLE, FAILED_PRECONDITION.
  static absl::StatusOr<std::unique_ptr<LeaderLease>> Open(const Options& options);

  ~LeaderLease() = default;
  LeaderLease(const LeaderLease&) = delete;
  LeaderLease& operator=(const LeaderLease&) = delete;

  // Claims the vacant lease for this node. Returns the record written (epoch, revision).
  // Errors: FAILED_PRECONDITION "lease held by <node> (epoch E, revision R)" when someone
  // holds it (or won a concurrent claim); UNAVAILABLE (no quorum, timeout: the claim may
  // or may not have been stored; Current() tells); INVALID_ARGUMENT (empty node id, a
  // newline in a field).
  absl::StatusOr<LeaderRecord> TryClaim(const std::string& node_id, const std::string& address);

  // Rewrites the held record with a compare-and-set on the last revision, restarting the
  // TTL. REQUIRES: a successful TryClaim and no lost lease since.
  // Errors: FAILED_PRECONDITION "lease lost: ..." (expired or taken: leadership is gone,
  // held() becomes empty); UNAVAILABLE (no answer: still held on the servers until the
  // TTL runs out unless a later Renew succeeds; see HeldAt).
  absl::StatusOr<LeaderRecord> Renew();

  // Removes the held entry (compare-and-set on its revision) so a standby can claim at
  // once instead of waiting for the TTL: a graceful hand-over. Errors as Renew.
  absl::Status Release();

  // The current leader record, as the bucket stream's leader has it (a claim or renewal
  // acknowledged to anyone is visible). Errors: NOT_FOUND (vacant: never claimed, expired
  // or released), UNAVAILABLE, DATA_LOSS (malformed value).
  absl::StatusOr<LeaderRecord> Current();

  // The record this object holds, if it has not lost it.
  std::optional<LeaderRecord> held() const;

  // True while this object holds the lease and `now` is earlier than the send time of its
  // last successful claim or renewal plus the TTL: the servers cannot have expired the
  // entry before then (they date it when they store it, after it was sent).
  bool HeldAt(Clock::time_point now) const;

  const Options& options() const { return options_; }

 private:
  explicit LeaderLease(const Options& options) : options_(options) {}
  absl::Status EnsureBucket();
  // Current() without taking op_mu_. REQUIRES: op_mu_ held.
  absl::StatusOr<LeaderRecord> ReadCurrent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Best-effort description of the current holder for error messages. REQUIRES: op_mu_.
  std::string DescribeHolder() ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);

  const Options options_;
  std::unique_ptr<NatsConnection> conn_;
  internal::KvStorePtr kv_;

  absl::Mutex op_mu_;  // one key-value operation at a time
  mutable absl::Mutex mu_;
  std::optional<LeaderRecord> held_ ABSL_GUARDED_BY(mu_);
  Clock::time_point valid_until_ ABSL_GUARDED_BY(mu_);
};

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_LEADER_LEASE_H_
