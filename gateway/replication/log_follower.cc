#include "gateway/replication/log_follower.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/replication/replicated_log.h"

namespace msx::replication {

using internal::MsgPtr;
using internal::StreamInfoPtr;
using internal::ToStatus;

namespace {
using Clock = std::chrono::steady_clock;

struct MetaDataDeleter {
  void operator()(jsMsgMetaData* m) const { jsMsgMetaData_Destroy(m); }
};
}  // namespace

absl::StatusOr<std::unique_ptr<LogFollower>> LogFollower::Open(const Options& options) {
  if (options.start_seq == 0) {
    return absl::InvalidArgumentError("LogFollower: start_seq must be >= 1");
  }
  if (options.stream.empty() || options.subject.empty()) {
    return absl::InvalidArgumentError("LogFollower: stream and subject are required");
  }
  if (options.heartbeat.count() < 100) {
    return absl::InvalidArgumentError("LogFollower: heartbeat must be >= 100 ms");
  }
  std::unique_ptr<LogFollower> follower(new LogFollower(options));
  auto conn = NatsConnection::Connect(options.connection);
  if (!conn.ok()) return conn.status();
  follower->conn_ = std::move(*conn);

  // A follower ahead of the stream would wait forever for a sequence the stream will
  // reuse for other bytes: refuse.
  auto last = follower->StreamLastSequence();
  if (!last.ok()) return last.status();
  if (options.start_seq > *last + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "follower starts at stream sequence ", options.start_seq, " but stream ", options.stream,
        " ends at ", *last, ": the local journal is ahead of the stream"));
  }

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options.stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = options.start_seq;
  so.Config.Heartbeat = static_cast<int64_t>(options.heartbeat.count()) * 1000000LL;
  natsSubscription* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_SubscribeSync(&raw, follower->conn_->js(), options.subject.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK) {
    return ToStatus(
        s, jerr,
        absl::StrCat("follow stream ", options.stream, " from sequence ", options.start_seq));
  }
  follower->sub_.reset(raw);
  // No client-side drop limit: flow control bounds what the server has in flight.
  s = natsSubscription_SetPendingLimits(raw, -1, -1);
  if (s != NATS_OK) return ToStatus(s, "subscription pending limits");
  return follower;
}

LogFollower::~LogFollower() {
  sub_.reset();  // before the connection goes
  conn_.reset();
}

absl::StatusOr<LogFollower::Entry> LogFollower::Next(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no stream message ", next_seq_, " within ", timeout.count(), " ms"));
    }
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(&raw, sub_.get(), remaining.count());
    MsgPtr msg(raw);
    if (s == NATS_TIMEOUT) continue;  // the loop reports the deadline
    if (s == NATS_SLOW_CONSUMER || s == NATS_MISMATCH || s == NATS_MISSED_HEARTBEAT) {
      // Reported once by the client; the ordered consumer recovers by itself and the
      // sequence check below guards the result.
      continue;
    }
    if (s != NATS_OK) {
      return ToStatus(s, absl::StrCat("next message of stream ", options_.stream));
    }
    jsMsgMetaData* raw_meta = nullptr;
    s = natsMsg_GetMetaData(&raw_meta, msg.get());
    std::unique_ptr<jsMsgMetaData, MetaDataDeleter> meta(raw_meta);
    if (s != NATS_OK) {
      return absl::InternalError(
          absl::StrCat("stream ", options_.stream,
                       ": delivery without JetStream metadata: ", internal::LastErrorText(s)));
    }
    const uint64_t seq = meta->Sequence.Stream;
    if (seq < next_seq_) {
      ++duplicates_dropped_;
      continue;
    }
    if (seq > next_seq_) {
      return absl::DataLossError(
          absl::StrCat("stream ", options_.stream, " no longer holds sequence ", next_seq_,
                       " (the next one it delivered is ", seq,
                       "): it was trimmed or purged below what this follower applied"));
    }
    Entry entry;
    entry.stream_seq = seq;
    const char* digest = nullptr;
    if (natsMsgHeader_Get(msg.get(), kDigestHeader, &digest) == NATS_OK && digest != nullptr) {
      entry.digest = digest;
    }
    const char* epoch = nullptr;
    if (natsMsgHeader_Get(msg.get(), kEpochHeader, &epoch) == NATS_OK && epoch != nullptr &&
        !absl::SimpleAtoi(epoch, &entry.epoch)) {
      return absl::InternalError(absl::StrCat("stream ", options_.stream, " sequence ", seq,
                                              ": bad ", kEpochHeader, " header '", epoch, "'"));
    }
    const char* data = natsMsg_GetData(msg.get());
    entry.payload.assign(data != nullptr ? data : "", natsMsg_GetDataLength(msg.get()));
    ++next_seq_;
    return entry;
  }
}

absl::StatusOr<uint64_t> LogFollower::StreamLastSequence() {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, conn_->js(), options_.stream.c_str(), nullptr, &jerr);
  StreamInfoPtr info(raw);
  if (s != NATS_OK) return ToStatus(s, jerr, absl::StrCat("stream info ", options_.stream));
  return info->State.LastSeq;
}

}  // namespace msx::replication
