#include "gateway/replication/leader_lease.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/replication/internal/nats_util.h"

namespace msx::replication {

using internal::IsTransient;
using internal::LastErrorText;
using internal::MsgPtr;
using internal::PubAckPtr;
using internal::StreamInfoPtr;
using internal::ToStatus;

namespace {

struct KvStatusDeleter {
  void operator()(kvStatus* s) const { kvStatus_Destroy(s); }
};

bool ValidField(const std::string& s) {
  return s.find('\n') == std::string::npos && s.find('\r') == std::string::npos;
}

// A failed conditional write: lost race / expired entry (the server's "wrong last
// sequence") versus no answer.
bool IsWrongLastSequence(natsStatus s, const std::string& text) {
  return s == NATS_ERR && text.find("wrong last sequence") != std::string::npos;
}

}  // namespace

std::string EncodeLeaderRecord(const LeaderRecord& record) {
  return absl::StrCat("epoch=", record.epoch, "\nnode=", record.node_id,
                      "\naddress=", record.address, "\n");
}

absl::StatusOr<LeaderRecord> DecodeLeaderRecord(absl::string_view value) {
  LeaderRecord record;
  bool has_epoch = false, has_node = false, has_address = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(value, '\n', absl::SkipEmpty())) {
    ++line_no;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::DataLossError(
          absl::StrCat("leader record line ", line_no, " has no '=': '", line, "'"));
    }
    absl::string_view name = line.substr(0, eq), v = line.substr(eq + 1);
    if (name == "epoch") {
      if (!absl::SimpleAtoi(v, &record.epoch)) {
        return absl::DataLossError(absl::StrCat("leader record: bad epoch '", v, "'"));
      }
      has_epoch = true;
    } else if (name == "node") {
      record.node_id = std::string(v);
      has_node = true;
    } else if (name == "address") {
      record.address = std::string(v);
      has_address = true;
    }
    // Unknown fields are ignored: a later version may add some.
  }
  if (!has_epoch || !has_node || !has_address || record.node_id.empty()) {
    return absl::DataLossError(absl::StrCat("leader record lacks ",
                                            !has_epoch     ? "epoch"
                                            : !has_address ? "address"
                                                           : "node",
                                            ": '", value, "'"));
  }
  return record;
}

absl::StatusOr<std::unique_ptr<LeaderLease>> LeaderLease::Open(const Options& options) {
  if (options.bucket.empty() || options.key.empty()) {
    return absl::InvalidArgumentError("LeaderLease: bucket and key are required");
  }
  if (options.ttl.count() < 100) {
    return absl::InvalidArgumentError("LeaderLease: ttl must be >= 100 ms");
  }
  if (options.replicas < 1 || options.replicas > 5) {
    return absl::InvalidArgumentError("LeaderLease: replicas must be 1..5");
  }
  std::unique_ptr<LeaderLease> lease(new LeaderLease(options));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.op_timeout.count();
  auto conn = NatsConnection::Connect(options.connection, &jo);
  if (!conn.ok()) return conn.status();
  lease->conn_ = std::move(*conn);
  LeaderLease* raw = lease.get();
  absl::Status status = internal::RetryWhileUnavailable(options.connection.setup_timeout,
                                                        [raw] { return raw->EnsureBucket(); });
  if (!status.ok()) return status;
  return lease;
}

absl::Status LeaderLease::EnsureBucket() {
  kvStore* raw = nullptr;
  natsStatus s = js_KeyValue(&raw, conn_->js(), options_.bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    // Creating a replicated bucket takes longer than a key operation: use a context with
    // the connection's API timeout for it, then bind with the key-operation one.
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options_.connection.api_timeout.count();
    jsCtx* admin = nullptr;
    s = natsConnection_JetStream(&admin, conn_->conn(), &jo);
    if (s != NATS_OK) return ToStatus(s, "JetStream context");
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = options_.bucket.c_str();
    cfg.History = 1;
    cfg.TTL = static_cast<int64_t>(options_.ttl.count()) * 1000000LL;
    cfg.Replicas = options_.replicas;
    cfg.StorageType = js_FileStorage;
    s = js_CreateKeyValue(&raw, admin, &cfg);
    kvStore_Destroy(raw);
    raw = nullptr;
    std::string error = s != NATS_OK ? LastErrorText(s) : "";
    jsCtx_Destroy(admin);
    if (s != NATS_OK) {
      return ToStatus(s, absl::StrCat("create lease bucket ", options_.bucket, " (", error, ")"));
    }
    s = js_KeyValue(&raw, conn_->js(), options_.bucket.c_str());
    if (s != NATS_OK) return ToStatus(s, absl::StrCat("open lease bucket ", options_.bucket));
  } else if (s != NATS_OK) {
    return ToStatus(s, absl::StrCat("open lease bucket ", options_.bucket));
  }
  kv_.reset(raw);
  kvStatus* raw_status = nullptr;
  s = kvStore_Status(&raw_status, kv_.get());
  std::unique_ptr<kvStatus, KvStatusDeleter> st(raw_status);
  if (s != NATS_OK) return ToStatus(s, absl::StrCat("lease bucket status ", options_.bucket));
  const int64_t want_ttl = static_cast<int64_t>(options_.ttl.count()) * 1000000LL;
  if (kvStatus_TTL(st.get()) != want_ttl || kvStatus_History(st.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lease bucket ", options_.bucket, " exists with TTL ", kvStatus_TTL(st.get()) / 1000000,
        " ms and history ", kvStatus_History(st.get()), ", configured TTL ", options_.ttl.count(),
        " ms and history 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LeaderRecord> LeaderLease::Current() {
  absl::MutexLock op(&op_mu_);
  return ReadCurrent();
}

absl::StatusOr<LeaderRecord> LeaderLease::ReadCurrent() {
  // From the bucket stream's leader (not kvStore_Get, which may be answered by a lagging
  // replica through direct get and miss a claim that just happened).
  const std::string stream = "KV_" + options_.bucket;
  const std::string subject = absl::StrCat("$KV.", options_.bucket, ".", options_.key);
  natsMsg* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&raw, conn_->js(), stream.c_str(), subject.c_str(), nullptr, &jerr);
  MsgPtr msg(raw);
  const char* op = nullptr;
  if (s == NATS_OK && natsMsgHeader_Get(msg.get(), "KV-Operation", &op) == NATS_OK &&
      op != nullptr) {
    s = NATS_NOT_FOUND;  // a delete or purge marker: released
  }
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
    return absl::NotFoundError(
        absl::StrCat("no leader: lease ", options_.bucket, "/", options_.key, " is vacant"));
  }
  if (s != NATS_OK) return ToStatus(s, jerr, absl::StrCat("read lease ", options_.bucket));
  auto record = DecodeLeaderRecord(
      absl::string_view(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get())));
  if (!record.ok()) return record.status();
  record->revision = natsMsg_GetSequence(msg.get());
  return record;
}

std::string LeaderLease::DescribeHolder() {
  auto record = ReadCurrent();
  if (absl::IsNotFound(record.status())) return "nobody (vacant now)";
  if (!record.ok()) return absl::StrCat("unknown (", record.status().message(), ")");
  return absl::StrCat(record->node_id, " (epoch ", record->epoch, ", revision ", record->revision,
                      ")");
}

absl::StatusOr<LeaderRecord> LeaderLease::TryClaim(const std::string& node_id,
                                                   const std::string& address) {
  if (node_id.empty() || !ValidField(node_id) || !ValidField(address)) {
    return absl::InvalidArgumentError(
        "LeaderLease::TryClaim: node id must be non-empty; no newline in node id or address");
  }
  absl::MutexLock op(&op_mu_);
  const auto sent_at = Clock::now();
  // The claim's revision will be the bucket's last sequence + 1 unless another write
  // slips in between; predict it so the record carries its own epoch in one write.
  jsStreamInfo* raw_info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const std::string stream = "KV_" + options_.bucket;
  natsStatus s = js_GetStreamInfo(&raw_info, conn_->js(), stream.c_str(), nullptr, &jerr);
  StreamInfoPtr info(raw_info);
  if (s != NATS_OK) return ToStatus(s, jerr, absl::StrCat("lease bucket info ", stream));
  LeaderRecord record{node_id, address, info->State.LastSeq + 1, 0};
  std::string value = EncodeLeaderRecord(record);
  uint64_t rev = 0;
  s = kvStore_Create(&rev, kv_.get(), options_.key.c_str(), value.data(),
                     static_cast<int>(value.size()));
  if (s != NATS_OK) {
    std::string text = LastErrorText(s);
    if (IsWrongLastSequence(s, text)) {
      return absl::FailedPreconditionError(absl::StrCat("lease held by ", DescribeHolder()));
    }
    return ToStatus(s, absl::StrCat("claim lease ", options_.bucket, "/", options_.key));
  }
  if (rev != record.epoch) {
    // Another write landed between our read and our create (then expired or was
    // deleted, or our create would have failed). Re-stamp the record with our revision.
    record.epoch = rev;
    value = EncodeLeaderRecord(record);
    uint64_t rev2 = 0;
    s = kvStore_Update(&rev2, kv_.get(), options_.key.c_str(), value.data(),
                       static_cast<int>(value.size()), rev);
    if (s != NATS_OK) {
      std::string text = LastErrorText(s);
      if (IsWrongLastSequence(s, text)) {
        return absl::FailedPreconditionError(absl::StrCat("lease held by ", DescribeHolder()));
      }
      return ToStatus(s, "re-stamp claimed lease");
    }
    rev = rev2;
  }
  record.revision = rev;
  absl::MutexLock lock(&mu_);
  held_ = record;
  valid_until_ = sent_at + options_.ttl;
  return record;
}

absl::StatusOr<LeaderRecord> LeaderLease::Renew() {
  absl::MutexLock op(&op_mu_);
  std::optional<LeaderRecord> held = this->held();
  if (!held.has_value()) {
    return absl::FailedPreconditionError("lease lost: not held (claim it first)");
  }
  const auto sent_at = Clock::now();
  const std::string value = EncodeLeaderRecord(*held);
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, kv_.get(), options_.key.c_str(), value.data(),
                                static_cast<int>(value.size()), held->revision);
  if (s != NATS_OK) {
    std::string text = LastErrorText(s);
    if (IsWrongLastSequence(s, text)) {
      {
        absl::MutexLock lock(&mu_);
        held_.reset();
      }
      return absl::FailedPreconditionError(
          absl::StrCat("lease lost: epoch ", held->epoch, " revision ", held->revision,
                       " is no longer current (expired or taken); now held by ", DescribeHolder()));
    }
    return ToStatus(s, absl::StrCat("renew lease ", options_.bucket, "/", options_.key));
  }
  held->revision = rev;
  absl::MutexLock lock(&mu_);
  held_ = held;
  valid_until_ = sent_at + options_.ttl;
  return *held;
}

absl::Status LeaderLease::Release() {
  absl::MutexLock op(&op_mu_);
  std::optional<LeaderRecord> held = this->held();
  if (!held.has_value()) return absl::FailedPreconditionError("lease lost: not held");
  // A key-value delete marker, conditional on our revision (the client's kvStore_Delete
  // is unconditional and could erase a successor's claim).
  const std::string subject = absl::StrCat("$KV.", options_.bucket, ".", options_.key);
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, nullptr, 0);
  MsgPtr msg(raw);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), "KV-Operation", "DEL");
  if (s != NATS_OK) return ToStatus(s, "build lease release");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = held->revision;
  jsPubAck* raw_ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&raw_ack, conn_->js(), msg.get(), &po, &jerr);
  PubAckPtr ack(raw_ack);
  {
    absl::MutexLock lock(&mu_);
    held_.reset();  // released or lost: either way no longer ours
  }
  if (s != NATS_OK) {
    if (jerr == JSStreamWrongLastSequenceErr) {
      return absl::FailedPreconditionError(
          absl::StrCat("lease lost before release: now held by ", DescribeHolder()));
    }
    return ToStatus(s, jerr, "release lease");
  }
  return absl::OkStatus();
}

std::optional<LeaderRecord> LeaderLease::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

bool LeaderLease::HeldAt(Clock::time_point now) const {
  absl::MutexLock lock(&mu_);
  return held_.has_value() && now < valid_until_;
}

}  // namespace msx::replication
