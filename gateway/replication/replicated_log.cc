#include "gateway/replication/replicated_log.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/internal/server_probe.h"

namespace msx::replication {

using internal::IsTransient;
using internal::LastErrorText;
using internal::MsgPtr;
using internal::PubAckPtr;
using internal::StreamInfoPtr;
using internal::ToStatus;

namespace {

using Clock = std::chrono::steady_clock;

absl::Status FencedError(uint64_t actual, uint64_t expected) {
  return absl::FailedPreconditionError(
      absl::StrCat("fenced: stream last sequence is ", actual, ", expected ", expected));
}

// The message for position expected_last_seq + 1 with this writer's headers. The
// expected-last-sequence check: the client's ExpectLastSeq option only sends the header
// for values > 0, so for the first message of an empty stream the header is set directly
// to "0" (the server then requires an empty stream).
absl::StatusOr<MsgPtr> BuildMessage(const std::string& subject, absl::string_view payload,
                                    uint64_t epoch, uint64_t expected_last_seq, jsPubOptions* po,
                                    std::string* msg_id, const std::string& stream,
                                    absl::string_view digest) {
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  if (s != NATS_OK) return ToStatus(s, "create message");
  MsgPtr msg(raw);
  *msg_id = ReplicationMsgId(epoch, expected_last_seq + 1);
  std::string epoch_text = absl::StrCat(epoch);
  s = natsMsgHeader_Set(msg.get(), kEpochHeader, epoch_text.c_str());
  if (s == NATS_OK && expected_last_seq == 0) {
    s = natsMsgHeader_Set(msg.get(), kExpectedLastSeqHeader, "0");
  }
  if (s == NATS_OK && !digest.empty()) {
    s = natsMsgHeader_Set(msg.get(), kDigestHeader, std::string(digest).c_str());
  }
  if (s != NATS_OK) return ToStatus(s, "set message headers");
  jsPubOptions_Init(po);
  po->MsgId = msg_id->c_str();
  po->ExpectStream = stream.c_str();
  po->ExpectLastSeq = expected_last_seq;  // 0: not sent by the client; header set above
  return msg;
}

}  // namespace

std::string ReplicationMsgId(uint64_t epoch, uint64_t target_seq) {
  return absl::StrCat(epoch, "-", target_seq);
}

absl::StatusOr<std::unique_ptr<ReplicatedLog>> ReplicatedLog::Open(const Options& options) {
  if (options.epoch == 0) {
    return absl::InvalidArgumentError("replication: epoch must be >= 1");
  }
  if (options.stream.name.empty() || options.stream.subject.empty()) {
    return absl::InvalidArgumentError("replication: stream name and subject are required");
  }
  if (options.stream.replicas < 1 || options.stream.replicas > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("replication: stream replicas must be 1..5, got ", options.stream.replicas));
  }
  if (options.attempt_timeout.count() <= 0 || options.publish_timeout.count() <= 0 ||
      options.async_timeout.count() <= 0) {
    return absl::InvalidArgumentError("replication: publish timeouts must be positive");
  }
  std::unique_ptr<ReplicatedLog> log(new ReplicatedLog(options));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = options.max_async_pending;
  jo.PublishAsync.AckHandler = &ReplicatedLog::OnAsyncAck;
  jo.PublishAsync.AckHandlerClosure = log.get();
  auto conn = NatsConnection::Connect(options.connection, &jo);
  if (!conn.ok()) return conn.status();
  log->conn_ = std::move(*conn);
  ReplicatedLog* raw = log.get();
  absl::Status status = internal::RetryWhileUnavailable(options.connection.setup_timeout,
                                                        [raw] { return raw->EnsureStream(); });
  if (!status.ok()) return status;
  if (options.prefer_stream_leader) log->MoveToStreamLeader(jo);
  return log;
}

void ReplicatedLog::MoveToStreamLeader(const jsOptions& js_options) {
  const ConnectionOptions& co = options_.connection;
  if (co.servers.size() < 2) return;
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&raw, conn_->js(), options_.stream.name.c_str(), nullptr, &jerr) !=
      NATS_OK) {
    return;
  }
  StreamInfoPtr info(raw);
  if (info->Cluster == nullptr || info->Cluster->Leader == nullptr) return;
  const std::string leader = info->Cluster->Leader;
  char connected[256] = {0};
  if (leader.empty() ||
      natsConnection_GetConnectedServerId(conn_->conn(), connected, sizeof(connected)) != NATS_OK) {
    return;
  }
  const auto probe_timeout = std::min(co.connect_timeout, std::chrono::milliseconds(1000));
  for (std::size_t i = 0; i < co.servers.size(); ++i) {
    absl::StatusOr<internal::ServerIdentity> id =
        internal::ProbeServer(co.servers[i], probe_timeout);
    if (!id.ok() || id->name != leader) continue;
    if (id->id == connected) return;  // there already
    ConnectionOptions moved = co;
    moved.servers = {co.servers[i]};
    for (std::size_t j = 0; j < co.servers.size(); ++j) {
      if (j != i) moved.servers.push_back(co.servers[j]);
    }
    moved.no_randomize = true;
    absl::StatusOr<std::unique_ptr<NatsConnection>> conn =
        NatsConnection::Connect(moved, &js_options);
    // Nothing was published on the first connection yet: it can go.
    if (conn.ok()) conn_ = *std::move(conn);
    return;
  }
}

ReplicatedLog::~ReplicatedLog() {
  if (conn_ != nullptr) {
    // Outstanding acks arrive, or the watchdog fails them, within async_timeout (plus a
    // tick); wait for them so no callback runs after this object is gone.
    (void)Flush(options_.async_timeout + std::chrono::seconds(5));
  }
  StopWatchdog();
  conn_.reset();
}

void ReplicatedLog::StopWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    watchdog_stop_ = true;
  }
  if (watchdog_.joinable()) watchdog_.join();
}

// One timer for the whole pipeline instead of one per message: the oldest pending publish
// has the earliest deadline, so each tick looks at the head until it finds one still in
// time. Wakes every tick, pending or not: a wake-up when the pipeline turns busy would
// cost one per publish at low rates, where every publish finds it idle.
void ReplicatedLog::RunWatchdog() {
  const auto tick = std::clamp<std::chrono::milliseconds>(
      options_.async_timeout / 8, std::chrono::milliseconds(1), std::chrono::milliseconds(250));
  for (;;) {
    bool expired = false;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watchdog_stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), absl::FromChrono(tick));
      if (watchdog_stop_) return;
      expired = ExpireLocked(Clock::now());
    }
    if (expired) DeliverCompleted();
  }
}

bool ReplicatedLog::ExpireLocked(Clock::time_point now) {
  bool expired = false;
  for (Pending& p : pending_) {
    if (p.complete) continue;
    if (p.deadline > now) break;
    p.complete = true;
    p.result = absl::UnavailableError(absl::StrCat(
        "asynchronous publish of stream sequence ", p.target_seq, " to ", options_.stream.name,
        ": no acknowledgement within ", options_.async_timeout.count(), " ms"));
    expired = true;
  }
  return expired;
}

absl::Status ReplicatedLog::EnsureStream() {
  const StreamConfig& want = options_.stream;
  const char* subjects[] = {want.subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = want.name.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = want.replicas;
  cfg.Retention = js_LimitsPolicy;
  cfg.Discard = js_DiscardOld;
  cfg.MaxAge = static_cast<int64_t>(want.max_age.count()) * 1000000000LL;
  cfg.MaxBytes = want.max_bytes > 0 ? want.max_bytes : -1;
  cfg.MaxMsgs = want.max_msgs > 0 ? want.max_msgs : -1;
  cfg.Duplicates = static_cast<int64_t>(want.duplicate_window.count()) * 1000000000LL;

  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* raw = nullptr;
  natsStatus s = js_GetStreamInfo(&raw, conn_->js(), want.name.c_str(), nullptr, &jerr);
  StreamInfoPtr info(raw);
  if (s == NATS_NOT_FOUND || (s != NATS_OK && jerr == JSStreamNotFoundErr)) {
    jerr = static_cast<jsErrCode>(0);
    raw = nullptr;
    s = js_AddStream(&raw, conn_->js(), &cfg, nullptr, &jerr);
    info.reset(raw);
    if (s == NATS_OK) return absl::OkStatus();
    if (jerr != JSStreamNameExistErr) {
      return ToStatus(s, jerr, absl::StrCat("create stream ", want.name));
    }
    // Created concurrently by another writer: check it below.
    raw = nullptr;
    s = js_GetStreamInfo(&raw, conn_->js(), want.name.c_str(), nullptr, &jerr);
    info.reset(raw);
  }
  if (s != NATS_OK) return ToStatus(s, jerr, absl::StrCat("stream info ", want.name));
  const jsStreamConfig* have = info->Config;
  auto mismatch = [&](absl::string_view field, const std::string& has, const std::string& wants) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", want.name, " exists with ", field,
                                                      " ", has, ", configured ", wants));
  };
  if (have->SubjectsLen != 1 || want.subject != have->Subjects[0]) {
    return mismatch("subjects", have->SubjectsLen > 0 ? have->Subjects[0] : "(none)", want.subject);
  }
  if (have->Storage != js_FileStorage) return mismatch("storage", "memory", "file");
  if (have->Replicas != want.replicas) {
    return mismatch("replicas", absl::StrCat(have->Replicas), absl::StrCat(want.replicas));
  }
  // Limits may change between runs (operators widen retention): apply the configured ones.
  if (have->MaxAge != cfg.MaxAge || have->MaxBytes != cfg.MaxBytes ||
      have->MaxMsgs != cfg.MaxMsgs || have->Duplicates != cfg.Duplicates) {
    raw = nullptr;
    s = js_UpdateStream(&raw, conn_->js(), &cfg, nullptr, &jerr);
    info.reset(raw);
    if (s != NATS_OK) return ToStatus(s, jerr, absl::StrCat("update stream limits ", want.name));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReplicatedLog::Publish(absl::string_view payload,
                                                uint64_t expected_last_seq,
                                                absl::string_view digest) {
  const auto deadline = Clock::now() + options_.publish_timeout;
  jsPubOptions po;
  std::string msg_id;
  auto msg = BuildMessage(options_.stream.subject, payload, options_.epoch, expected_last_seq, &po,
                          &msg_id, options_.stream.name, digest);
  if (!msg.ok()) return msg.status();
  absl::Status last_error;
  int attempts = 0;
  while (true) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) break;
    ++attempts;
    po.MaxWait = std::min(remaining, options_.attempt_timeout).count();
    jsPubAck* raw_ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PublishMsg(&raw_ack, conn_->js(), msg->get(), &po, &jerr);
    PubAckPtr ack(raw_ack);
    if (s == NATS_OK) {
      if (ack->Sequence != expected_last_seq + 1) {
        // A duplicate of our id at another position (this writer's epoch was reused), or
        // a server that ignored the expectation. Never acknowledge either.
        return absl::FailedPreconditionError(absl::StrCat(
            "fenced: message id ", msg_id, " is stored at stream sequence ", ack->Sequence,
            ack->Duplicate ? " (duplicate)" : "", ", expected ", expected_last_seq + 1));
      }
      if (ack->Duplicate) {
        // The server deduplicated by Nats-Msg-Id: an earlier attempt was stored. Make sure
        // it holds these bytes (another writer with the same epoch would not).
        return ResolveWrongLastSequence(payload, expected_last_seq,
                                        absl::StrCat("wrong last sequence: ", ack->Sequence));
      }
      return ack->Sequence;
    }
    std::string text = LastErrorText(s);
    if (jerr == JSStreamWrongLastSequenceErr) {
      auto resolved = ResolveWrongLastSequence(payload, expected_last_seq, text);
      if (resolved.ok() || !absl::IsUnavailable(resolved.status())) return resolved;
      last_error = resolved.status();
    } else if (IsTransient(s)) {
      last_error = ToStatus(s, jerr, "publish");
    } else {
      return ToStatus(s, jerr, absl::StrCat("publish to stream ", options_.stream.name));
    }
    // Leader elections and reconnects take a moment; do not spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::UnavailableError(absl::StrCat(
      "publish to stream ", options_.stream.name, " (expected last sequence ", expected_last_seq,
      "): no acknowledgement within ", options_.publish_timeout.count(), " ms after ", attempts,
      " attempt(s); last error: ", last_error.ok() ? "none" : last_error.message()));
}

absl::StatusOr<uint64_t> ReplicatedLog::ResolveWrongLastSequence(absl::string_view payload,
                                                                 uint64_t expected_last_seq,
                                                                 absl::string_view server_text) {
  uint64_t actual = 0;
  if (!internal::ParseWrongLastSequence(server_text, &actual)) {
    return absl::FailedPreconditionError(absl::StrCat("fenced: stream last sequence is not ",
                                                      expected_last_seq, " (", server_text, ")"));
  }
  if (actual <= expected_last_seq) return FencedError(actual, expected_last_seq);
  // Something is stored at our position. If it is our own earlier attempt (same id, same
  // bytes: it committed after that attempt timed out), this publish has succeeded.
  const uint64_t target = expected_last_seq + 1;
  natsMsg* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&raw, conn_->js(), options_.stream.name.c_str(), target, nullptr, &jerr);
  MsgPtr stored(raw);
  if (s != NATS_OK) {
    if (IsTransient(s)) {
      return ToStatus(s, jerr, absl::StrCat("read stream sequence ", target, " to check a retry"));
    }
    return FencedError(actual, expected_last_seq);
  }
  const char* id = nullptr;
  const std::string want_id = ReplicationMsgId(options_.epoch, target);
  bool same = natsMsgHeader_Get(stored.get(), kMsgIdHeader, &id) == NATS_OK && id != nullptr &&
              want_id == id &&
              natsMsg_GetDataLength(stored.get()) == static_cast<int>(payload.size()) &&
              (payload.empty() ||
               std::memcmp(natsMsg_GetData(stored.get()), payload.data(), payload.size()) == 0);
  if (same) return target;
  return FencedError(actual, expected_last_seq);
}

absl::Status ReplicatedLog::PublishAsync(absl::string_view payload, uint64_t expected_last_seq,
                                         PublishCallback done, absl::string_view digest) {
  const uint64_t target = expected_last_seq + 1;
  {
    absl::MutexLock lock(&mu_);
    if (!pipeline_error_.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "publish pipeline failed earlier (call Flush): ", pipeline_error_.message()));
    }
    if (!pending_.empty() && pending_.back().target_seq >= target) {
      return absl::InvalidArgumentError(
          absl::StrCat("PublishAsync: expected last sequence ", expected_last_seq,
                       " is not above the pending one ", pending_.back().target_seq - 1));
    }
    Pending p;
    p.target_seq = target;
    p.done = std::move(done);
    p.deadline = Clock::now() + options_.async_timeout;
    pending_.push_back(std::move(p));
    if (!watchdog_.joinable() && !watchdog_stop_) {
      watchdog_ = std::thread([this] { RunWatchdog(); });
    }
  }
  jsPubOptions po;
  std::string msg_id;
  auto msg = BuildMessage(options_.stream.subject, payload, options_.epoch, expected_last_seq, &po,
                          &msg_id, options_.stream.name, digest);
  absl::Status status = msg.status();
  if (status.ok()) {
    // MaxWait stays 0: no client-side timeout per message (the watchdog keeps the bound).
    natsMsg* raw = msg->release();
    natsStatus s = js_PublishMsgAsync(conn_->js(), &raw, &po);
    // On success the client owns the message and cleared `raw`; on failure it is ours.
    natsMsg_Destroy(raw);
    if (s != NATS_OK) status = ToStatus(s, "asynchronous publish");
  }
  if (!status.ok()) {
    // Not sent: withdraw the entry (it is the last one; acks only complete earlier ones).
    absl::MutexLock lock(&mu_);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->target_seq == target && !it->complete) {
        pending_.erase(it);
        break;
      }
    }
  }
  return status;
}

void ReplicatedLog::OnAsyncAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                               void* closure) {
  auto* self = static_cast<ReplicatedLog*>(closure);
  MsgPtr owned(msg);
  const char* id = nullptr;
  uint64_t target = 0;
  if (natsMsgHeader_Get(msg, kMsgIdHeader, &id) != NATS_OK || id == nullptr) return;
  absl::string_view id_view(id);
  size_t dash = id_view.find('-');
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(id_view.substr(dash + 1), &target)) {
    return;
  }
  const uint64_t expected = target - 1;
  absl::StatusOr<uint64_t> result;
  if (pa != nullptr) {
    if (pa->Sequence != target || pa->Duplicate) {
      // A duplicate could be another writer's message under a reused epoch; the
      // asynchronous path does not read it back. Report it; Publish resolves it.
      result = absl::FailedPreconditionError(
          absl::StrCat("message id ", id_view, " was already stored at stream sequence ",
                       pa->Sequence, "; re-send with Publish to verify"));
    } else {
      result = pa->Sequence;
    }
  } else if (pae != nullptr && pae->ErrCode == JSStreamWrongLastSequenceErr) {
    uint64_t actual = 0;
    const char* text = pae->ErrText != nullptr ? pae->ErrText : "";
    if (internal::ParseWrongLastSequence(text, &actual)) {
      result = FencedError(actual, expected);
    } else {
      result = absl::FailedPreconditionError(absl::StrCat("fenced: ", text));
    }
  } else if (pae != nullptr) {
    const char* text = pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err);
    std::string message =
        absl::StrCat("asynchronous publish of stream sequence ", target, ": ", text);
    if (pae->ErrCode != 0) absl::StrAppend(&message, " (JetStream error ", pae->ErrCode, ")");
    result = IsTransient(pae->Err) ? absl::UnavailableError(message) : absl::InternalError(message);
  } else {
    result = absl::InternalError("asynchronous publish: ack handler called without a result");
  }
  self->CompleteAsync(target, std::move(result));
}

void ReplicatedLog::CompleteAsync(uint64_t target_seq, absl::StatusOr<uint64_t> result) {
  {
    absl::MutexLock lock(&mu_);
    for (Pending& p : pending_) {
      if (p.target_seq == target_seq && !p.complete) {
        p.complete = true;
        p.result = std::move(result);
        break;
      }
    }
  }
  DeliverCompleted();
}

void ReplicatedLog::DeliverCompleted() {
  mu_.Lock();
  if (delivering_) {
    // The delivering thread re-checks the head after each callback and will see ours.
    mu_.Unlock();
    return;
  }
  delivering_ = true;
  while (!pending_.empty() && pending_.front().complete) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    absl::StatusOr<uint64_t> result = std::move(p.result);
    if (!pipeline_error_.ok()) {
      result = absl::Status(
          pipeline_error_.code(),
          absl::StrCat("an earlier publish in the pipeline failed: ", pipeline_error_.message()));
    } else if (!result.ok()) {
      pipeline_error_ = result.status();
    }
    mu_.Unlock();
    p.done(std::move(result));
    mu_.Lock();
  }
  delivering_ = false;
  mu_.Unlock();
}

absl::Status ReplicatedLog::Flush(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.empty() && !delivering_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&idle), absl::FromChrono(timeout))) {
    return absl::DeadlineExceededError(
        absl::StrCat("flush: ", pending_.size(), " asynchronous publish(es) still pending after ",
                     timeout.count(), " ms"));
  }
  absl::Status error = pipeline_error_;
  pipeline_error_ = absl::OkStatus();
  if (!error.ok()) {
    // Every publish of the failed pipeline has been reported; the NATS client still keeps
    // those whose acknowledgement never came (and counts them against MaxPending). Drop
    // them: an acknowledgement arriving later finds nothing and is discarded.
    natsMsgList lost;
    if (js_PublishAsyncGetPendingList(&lost, conn_->js()) == NATS_OK) natsMsgList_Destroy(&lost);
  }
  return error;
}

absl::StatusOr<uint64_t> ReplicatedLog::LastSequence() {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, conn_->js(), options_.stream.name.c_str(), nullptr, &jerr);
  StreamInfoPtr info(raw);
  if (s != NATS_OK) {
    return ToStatus(s, jerr, absl::StrCat("stream info ", options_.stream.name));
  }
  return info->State.LastSeq;
}

}  // namespace msx::replication
