// StreamLag: how far behind a follower of the replicated stream is, in seconds, from what it
// can see: the stream's last sequence each time it asks (LogFollower::StreamLastSequence)
// and the last message it applied. The age of the oldest message known and not yet applied,
// dated when the follower first learnt that the stream reached it, so the figure is late
// by at most one poll. Unlike "time since last caught up", a follower that stays one message
// behind a busy stream shows the age of that message, not an ever-growing number.
//
//   lag.Learnt(stream_last_seq, now);   // after each StreamLastSequence (or message read)
//   lag.Applied(stream_seq);            // after each message applied
//   double s = lag.Seconds(now);        // 0 when caught up
//
// Memory: at most kMaxDates dates; past it, the newest date also covers the new messages
// (their lag is then dated from an older time: an overestimate, never zero while behind).
// Thread-safety: none; the caller serializes (ReplicationNode holds its lock).
#ifndef MSX_GATEWAY_REPLICATION_STREAM_LAG_H_
#define MSX_GATEWAY_REPLICATION_STREAM_LAG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace msx::replication {

class StreamLag {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxDates = 4096;

  // The stream holds messages up to `last_seq`, as learnt at `now`.
  void Learnt(std::uint64_t last_seq, Clock::time_point now) {
    if (last_seq <= applied_) return;
    if (!dates_.empty() && dates_.back().first >= last_seq) return;
    if (dates_.size() < kMaxDates) {
      dates_.emplace_back(last_seq, now);
    } else {
      dates_.back().first = last_seq;  // dated from an older time: over, never under
    }
  }
  // Messages up to `seq` are applied.
  void Applied(std::uint64_t seq) {
    if (seq > applied_) applied_ = seq;
    while (!dates_.empty() && dates_.front().first <= applied_) dates_.pop_front();
  }
  // Age of the oldest known message not applied yet; 0 when none.
  double Seconds(Clock::time_point now) const {
    if (dates_.empty()) return 0;
    return std::chrono::duration<double>(now - dates_.front().second).count();
  }
  std::uint64_t applied() const { return applied_; }

 private:
  std::uint64_t applied_ = 0;
  // (stream last seq, when first learnt), ascending in both; all above applied_.
  std::deque<std::pair<std::uint64_t, Clock::time_point>> dates_;
};

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_STREAM_LAG_H_
