// LogFollower: the standby's side of replication. Reads the replicated journal stream in
// order from a given stream sequence onward and hands out (stream sequence, payload) with
// no gap and no duplicate, across NATS server failures and reconnects.
//
//   auto follower = LogFollower::Open(options);   // options.start_seq = applied + 1
//   while (...) {
//     auto entry = (*follower)->Next(std::chrono::milliseconds(100));
//     if (absl::IsDeadlineExceeded(entry.status())) continue;   // nothing new yet
//     if (!entry.ok()) { /* DATA_LOSS: stream trimmed below us; fail loudly */ }
//     apply(entry->payload);                                    // entry->stream_seq
//   }
//
// How: an ordered JetStream consumer (ephemeral, no acks, flow control, idle heartbeats)
// starting at start_seq. The client recreates it from the last received sequence + 1 when
// it sees a consumer-sequence gap or misses two heartbeats (a NATS server died, the
// connection moved); on top of that, Next() checks every stream sequence itself: a
// sequence already handed out is dropped, a jump forward is DATA_LOSS (the messages are
// no longer in the stream), so a caller never sees a gap or a duplicate.
//
// Thread-safety: Next() and next_seq() are for one consumer thread. StreamLastSequence()
// may be called from any thread.
#ifndef MSX_GATEWAY_REPLICATION_LOG_FOLLOWER_H_
#define MSX_GATEWAY_REPLICATION_LOG_FOLLOWER_H_

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/nats_connection.h"

namespace msx::replication {

class LogFollower {
 public:
  struct Options {
    ConnectionOptions connection;
    std::string stream = "MSX_JOURNAL";
    std::string subject = "msx.journal";
    // First stream sequence to deliver (>= 1): the standby's last applied + 1.
    uint64_t start_seq = 1;
    // Idle heartbeat of the consumer; a consumer silent for 2 heartbeats is recreated, so
    // this bounds how long a dead NATS server can stall the follower.
    std::chrono::milliseconds heartbeat{250};
  };

  // One replicated message: exactly the bytes the primary published.
  struct Entry {
    uint64_t stream_seq = 0;
    uint64_t epoch = 0;  // Msx-Epoch of the writer; 0 when the header is absent
    std::string digest;  // the Msx-Digest header ("<seq> <hex>"); empty when absent
    std::string payload;
  };

  // Connects and creates the consumer. Errors: INVALID_ARGUMENT, UNAVAILABLE,
  // NOT_FOUND (no such stream), FAILED_PRECONDITION (start_seq > stream's last + 1: the
  // caller is ahead of the stream).
  static absl::StatusOr<std::unique_ptr<LogFollower>> Open(const Options& options);

  // Unsubscribes (deleting the ephemeral consumer) and disconnects.
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // The entry at next_seq(), waiting up to `timeout` for it.
  // Errors: DEADLINE_EXCEEDED (none arrived in time; call again), DATA_LOSS (the stream no
  // longer holds next_seq(): trimmed or purged), INTERNAL (malformed delivery).
  absl::StatusOr<Entry> Next(std::chrono::milliseconds timeout);

  // Stream sequence the next Next() returns.
  uint64_t next_seq() const { return next_seq_; }

  // The stream's last sequence per its leader (lag = StreamLastSequence() + 1 - next_seq()).
  // Errors: UNAVAILABLE, NOT_FOUND.
  absl::StatusOr<uint64_t> StreamLastSequence();

  // How many deliveries Next() dropped as already handed out (the client re-sent them
  // after recreating its consumer). For tests and status.
  uint64_t duplicates_dropped() const { return duplicates_dropped_; }

  NatsConnection& connection() { return *conn_; }

 private:
  explicit LogFollower(const Options& options) : options_(options), next_seq_(options.start_seq) {}

  const Options options_;
  std::unique_ptr<NatsConnection> conn_;
  internal::SubscriptionPtr sub_;
  uint64_t next_seq_;
  uint64_t duplicates_dropped_ = 0;
};

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_LOG_FOLLOWER_H_
