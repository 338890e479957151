#include "gateway/replication_node.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/replicated_batch.h"

namespace msx::gateway {

namespace jf = msx::journal;
using replication::LeaderLease;
using replication::LeaderRecord;
using replication::LogFollower;
using replication::ReplicatedLog;

namespace {

// msx-server's exit status when a standby's engine disagrees with the replicated journal
// (gateway/README.md): it must never serve or take over with a state that differs.
constexpr int kExitReplicationDiverged = 4;

using Clock = std::chrono::steady_clock;

replication::ConnectionOptions Connection(const ReplicationOptions& o, const std::string& what) {
  replication::ConnectionOptions c;
  c.servers = o.servers;
  c.name = absl::StrCat("msx-", what, o.node_id.empty() ? "" : "-", o.node_id);
  return c;
}

// A replicated command on its way through the standby's sequencer: checks that the
// engine, given the primary's command, produced exactly the primary's events (the same
// check recovery makes), then frees itself once the command is durable here.
class ReplicatedWork final : public Work {
 public:
  struct DigestCheck {
    std::uint64_t value = 0;
    std::atomic<std::uint64_t>* checked = nullptr;
    std::atomic<Seq>* last_seq = nullptr;
  };
  ReplicatedWork(std::string group, std::optional<DigestCheck> digest)
      : group_(std::move(group)), digest_(digest) {}
  void Applied(const SequencerView& view, const Command& cmd,
               absl::Span<const Event> events) override {
    std::string mine;
    jf::AppendCommandGroup(cmd, events, &mine);
    if (mine != group_) {
      // Before the journal append (AppendBatch comes after): the divergent state is never
      // made durable here. Loud and final.
      std::fprintf(stderr,
                   "msx-server: REPLICATION DIVERGED at seq %llu: this standby's engine "
                   "produced %zu journal bytes for the primary's command, the stream holds "
                   "%zu different ones; exiting (rebuild this node from the stream)\n",
                   static_cast<unsigned long long>(cmd.seq), mine.size(), group_.size());
      std::fflush(stderr);
      std::_Exit(kExitReplicationDiverged);
    }
    if (digest_) {
      // The same events can hide a different state (a standby started with another
      // configuration, memory corruption): the whole state, hashed, after this command.
      const std::uint64_t here = view.engine.StateDigest();
      if (here != digest_->value) {
        std::fprintf(stderr,
                     "msx-server: REPLICATION DIVERGED at seq %llu: this standby's engine "
                     "digest is %016llx, the primary's is %016llx; exiting (rebuild this "
                     "node from the stream, with the primary's configuration)\n",
                     static_cast<unsigned long long>(cmd.seq),
                     static_cast<unsigned long long>(here),
                     static_cast<unsigned long long>(digest_->value));
        std::fflush(stderr);
        std::_Exit(kExitReplicationDiverged);
      }
      digest_->checked->fetch_add(1, std::memory_order_relaxed);
      digest_->last_seq->store(cmd.seq, std::memory_order_relaxed);
    }
  }
  void Complete(const absl::Status& status) override {
    (void)status;
    delete this;
  }

 private:
  const std::string group_;
  const std::optional<DigestCheck> digest_;
};

// "<seq> <16 hex digits>" (the Msx-Digest header) -> (seq, digest); nullopt if malformed.
std::optional<std::pair<Seq, std::uint64_t>> ParseDigestHeader(absl::string_view text) {
  const std::size_t space = text.find(' ');
  if (space == absl::string_view::npos) return std::nullopt;
  Seq seq = 0;
  std::uint64_t value = 0;
  if (!absl::SimpleAtoi(text.substr(0, space), &seq) ||
      !absl::SimpleHexAtoi(text.substr(space + 1), &value)) {
    return std::nullopt;
  }
  return std::make_pair(seq, value);
}

// The command-seq range of one stream message, or nullopt for a leadership marker.
struct MsgRange {
  Seq first = 0;
  Seq last = 0;
};

absl::StatusOr<std::optional<MsgRange>> ReadRange(replication::NatsConnection& conn,
                                                  const std::string& stream, std::uint64_t seq) {
  natsMsg* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&raw, conn.js(), stream.c_str(), seq, nullptr, &jerr);
  replication::internal::MsgPtr msg(raw);
  if (s != NATS_OK) {
    return replication::internal::ToStatus(s, jerr,
                                           absl::StrCat("read stream ", stream, " seq ", seq));
  }
  absl::string_view payload(natsMsg_GetData(msg.get()),
                            static_cast<std::size_t>(natsMsg_GetDataLength(msg.get())));
  if (payload.empty()) return std::optional<MsgRange>();
  if (payload.size() < jf::kRecordHeaderSize + 8) {
    return absl::DataLossError(absl::StrCat("stream ", stream, " seq ", seq, ": too short"));
  }
  const Seq first = jf::GetFixed64(payload.data() + jf::kRecordHeaderSize);
  absl::StatusOr<replication::ReplicatedBatch> batch =
      replication::VerifyReplicatedBatch(payload, first);
  if (!batch.ok()) {
    return absl::DataLossError(
        absl::StrCat("stream ", stream, " seq ", seq, ": ", batch.status().message()));
  }
  return std::optional<MsgRange>(MsgRange{batch->first_seq, batch->last_seq});
}

}  // namespace

ReplicationNode::ReplicationNode(const ReplicationOptions& options, Hooks hooks)
    : options_(options), hooks_(std::move(hooks)), publish_ns_(http::LatencyBoundsNs()) {}

absl::StatusOr<std::unique_ptr<ReplicationNode>> ReplicationNode::Create(
    const ReplicationOptions& options, Hooks hooks, Seq local_last_seq) {
  if (options.servers.empty()) {
    return absl::InvalidArgumentError("--replicate: no NATS server URL");
  }
  std::unique_ptr<ReplicationNode> node(new ReplicationNode(options, std::move(hooks)));
  node->applied_seq_ = local_last_seq;
  node->journal_durable_.store(local_last_seq);
  node->replicated_seq_.store(local_last_seq);
  node->released_ = local_last_seq;
  node->status_.node_id = options.node_id;

  LeaderLease::Options lo;
  lo.connection = Connection(options, "lease");
  lo.bucket = options.bucket;
  lo.ttl = options.lease_ttl;
  lo.replicas = options.replicas;
  absl::StatusOr<std::unique_ptr<LeaderLease>> lease = LeaderLease::Open(lo);
  if (!lease.ok()) return lease.status();
  node->lease_ = *std::move(lease);

  // Ensure the stream (any epoch will do: this log never publishes) and find where the
  // local journal continues in it.
  ReplicatedLog::Options ro;
  ro.connection = Connection(options, "probe");
  ro.stream.name = options.stream;
  ro.stream.subject = options.subject;
  ro.stream.replicas = options.replicas;
  ro.epoch = 1;
  ro.prefer_stream_leader = false;  // reads only
  absl::StatusOr<std::unique_ptr<ReplicatedLog>> probe = ReplicatedLog::Open(ro);
  if (!probe.ok()) return probe.status();
  absl::StatusOr<std::uint64_t> last = (*probe)->LastSequence();
  if (!last.ok()) return last.status();
  replication::NatsConnection& conn = (*probe)->connection();
  const Seq want = local_last_seq + 1;
  // Smallest stream seq whose (next non-marker) message holds a command >= want: command
  // seqs grow with stream seqs, markers hold none.
  auto first_non_marker =
      [&](std::uint64_t from) -> absl::StatusOr<std::pair<std::uint64_t, std::optional<MsgRange>>> {
    for (std::uint64_t s = from; s <= *last; ++s) {
      absl::StatusOr<std::optional<MsgRange>> r = ReadRange(conn, options.stream, s);
      if (!r.ok()) return r.status();
      if (r->has_value()) return std::make_pair(s, *r);
    }
    return std::make_pair(*last + 1, std::optional<MsgRange>());
  };
  std::uint64_t lo_seq = 1, hi_seq = *last + 1;
  while (lo_seq < hi_seq) {
    const std::uint64_t mid = lo_seq + (hi_seq - lo_seq) / 2;
    auto m = first_non_marker(mid);
    if (!m.ok()) return m.status();
    if (!m->second.has_value() || m->second->last >= want) {
      hi_seq = mid;
    } else {
      lo_seq = m->first + 1;
    }
  }
  if (lo_seq <= *last) {
    auto m = first_non_marker(lo_seq);
    if (!m.ok()) return m.status();
    if (m->second.has_value() && m->second->first > want) {
      return absl::FailedPreconditionError(absl::StrCat(
          "replication: the stream ", options.stream, " continues at command seq ",
          m->second->first, " (stream seq ", m->first, ") but this node's journal ends at seq ",
          local_last_seq, ": the stream no longer holds what this node needs (trimmed); "
          "start it on a new data directory"));
    }
  }
  if (local_last_seq > 0 && (lo_seq > *last)) {
    // Nothing after the local end: the stream's commands must reach local_last_seq exactly.
    Seq stream_last_cmd = 0;
    for (std::uint64_t s = *last; s >= 1; --s) {
      absl::StatusOr<std::optional<MsgRange>> r = ReadRange(conn, options.stream, s);
      if (!r.ok()) return r.status();
      if (r->has_value()) {
        stream_last_cmd = (*r)->last;
        break;
      }
    }
    if (stream_last_cmd < local_last_seq) {
      return absl::FailedPreconditionError(absl::StrCat(
          "replication: this node's journal ends at command seq ", local_last_seq,
          " but the stream ", options.stream, " only at seq ", stream_last_cmd,
          ": commands ", stream_last_cmd + 1, "..", local_last_seq,
          " were never replicated, so never acknowledged; set the data directory aside and "
          "start on a new one (it is rebuilt from the stream)"));
    }
  }
  node->start_stream_seq_ = lo_seq;
  probe->reset();

  LogFollower::Options fo;
  fo.connection = Connection(options, "follower");
  fo.stream = options.stream;
  fo.subject = options.subject;
  fo.start_seq = node->start_stream_seq_;
  absl::StatusOr<std::unique_ptr<LogFollower>> follower = LogFollower::Open(fo);
  if (!follower.ok()) return follower.status();
  node->follower_ = *std::move(follower);
  {
    std::lock_guard<std::mutex> lock(node->mu_);
    node->status_.stream_last_seq = *last;
    node->status_.stream_seq = lo_seq - 1;
    node->status_.replicated_seq = local_last_seq;
    node->NoteStreamLocked();
  }
  return node;
}

ReplicationNode::~ReplicationNode() { Stop(); }

void ReplicationNode::Start(const std::string& advertise) {
  if (options_.advertise.empty()) options_.advertise = advertise;
  if (options_.node_id.empty()) options_.node_id = options_.advertise;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.node_id = options_.node_id;
  }
  hooks_.sequencer->SetCommandRefusal(absl::UnavailableError(
      "standby: not the primary (no leader known yet); try the other server"));
  SetServing(false);
  control_thread_ = std::thread([this] { RunControl(); });
  lease_thread_ = std::thread([this] { RunLease(); });
}

void ReplicationNode::Stop() {
  if (stop_.exchange(true)) return;
  cv_.notify_all();
  if (control_thread_.joinable()) control_thread_.join();
  if (lease_thread_.joinable()) lease_thread_.join();
  if (role_.load() == ReplicationRole::kPrimary && lease_ != nullptr) {
    // Graceful hand-over: a standby claims at once instead of waiting for the TTL.
    (void)lease_->Release().ok();
  }
  follower_.reset();
  log_.reset();
}

// ---------------------------------------------------------------------------------------
// Release: replies go out up to min(journal durable, replicated).

void ReplicationNode::OnJournalDurable(Seq seq) {
  journal_durable_.store(seq, std::memory_order_release);
  Release();
}

void ReplicationNode::Release() {
  std::lock_guard<std::mutex> lock(release_mu_);
  const Seq rel = std::min(journal_durable_.load(std::memory_order_acquire),
                           replicated_seq_.load(std::memory_order_acquire));
  if (rel <= released_) return;
  released_ = rel;
  hooks_.sequencer->OnDurable(rel);
}

// ---------------------------------------------------------------------------------------
// Primary: publishing.

void ReplicationNode::OnApplied(const Engine& engine, const Command& cmd,
                                absl::Span<const Event> events) {
  (void)events;
  // A standby's commands are the stream's own: they carry the primary's digests.
  if (role_.load(std::memory_order_acquire) != ReplicationRole::kPrimary &&
      cmd.seq <= replicated_seq_.load(std::memory_order_acquire)) {
    return;
  }
  const std::uint64_t every = options_.digest_every_commands;
  const std::chrono::milliseconds interval = options_.digest_interval;
  if (every == 0 && interval.count() == 0) return;
  ++commands_since_digest_;
  const Clock::time_point now = Clock::now();
  if (last_digest_time_ == Clock::time_point{}) last_digest_time_ = now;
  if ((every == 0 || commands_since_digest_ < every) &&
      (interval.count() == 0 || now - last_digest_time_ < interval)) {
    return;
  }
  // O(state): hashes the serialized engine. At the default bounds a few times a minute.
  commands_since_digest_ = 0;
  last_digest_time_ = now;
  pending_digest_ = absl::StrFormat("%d %016x", cmd.seq, engine.StateDigest());
}

void ReplicationNode::OnBatchSequenced(absl::Span<const CommandGroup> groups) {
  // A standby's batches are the stream's own commands: nothing to encode.
  if (role_.load(std::memory_order_acquire) != ReplicationRole::kPrimary &&
      groups.back().command->seq <= replicated_seq_.load(std::memory_order_acquire)) {
    return;
  }
  std::string bytes;
  for (const CommandGroup& g : groups) jf::AppendCommandGroup(*g.command, g.events, &bytes);
  Stage(groups.front().command->seq, groups.back().command->seq, std::move(bytes),
        std::move(pending_digest_));
  pending_digest_.clear();
}

void ReplicationNode::OnBatchCommitting() { SendStaged(); }

void ReplicationNode::Stage(Seq first, Seq last, std::string bytes, std::string digest) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mode_ == PublishMode::kOff) {
      // A standby journals what it applied from the stream: nothing to publish. Anything
      // else would be a command accepted without leadership.
      if (last <= replicated_seq_.load()) return;
    }
    if (mode_ == PublishMode::kFailed) return;
    if (mode_ != PublishMode::kOff) {
      staged_.push_back(Staged{first, last, std::move(bytes), std::move(digest), Clock::now()});
      return;
    }
    // Unreachable while commands are refused on a standby; fail rather than diverge.
    mode_ = PublishMode::kFailed;
  }
  Fail(absl::InternalError(absl::StrCat("replication: commands ", first, "..", last,
                                        " were sequenced while not the primary")));
}

ReplicationNode::Batch ReplicationNode::TakeStagedLocked() {
  // Consecutive batches are consecutive journal records: one message carries several
  // when they piled up while the previous one was being sent (fewer, larger publishes
  // under load; one per batch when they come one at a time). At most one digest header
  // per message, and a bound on the size (the first batch goes alone whatever its size).
  Staged& head = staged_.front();
  Batch b{next_expected_++, head.first, head.last, nullptr, head.sequenced, std::move(head.digest)};
  std::string bytes = std::move(head.bytes);
  staged_.pop_front();
  for (; !staged_.empty(); staged_.pop_front()) {
    Staged& next = staged_.front();
    if (bytes.size() + next.bytes.size() > kMaxMergedBytes) break;
    if (!next.digest.empty() && !b.digest.empty()) break;
    bytes.append(next.bytes);
    b.last = next.last;
    if (!next.digest.empty()) b.digest = std::move(next.digest);
  }
  b.bytes = std::make_shared<const std::string>(std::move(bytes));
  unconfirmed_.push_back(b);
  unconfirmed_bytes_ += b.bytes->size();
  return b;
}

void ReplicationNode::SendStaged() {
  std::unique_lock<std::mutex> lock(mu_);
  // One sender at a time, in stream order: a thread that finds another sending leaves its
  // batch to it (the sender takes whatever was staged meanwhile before it stops).
  if (sending_) return;
  sending_ = true;
  while (!staged_.empty()) {
    if (mode_ == PublishMode::kFailed) {
      staged_.clear();  // nothing is acknowledged again
      break;
    }
    const Batch b = TakeStagedLocked();
    if (mode_ != PublishMode::kPipeline) continue;  // the control thread re-sends it
    // Outside the lock (PublishAsync may wait for room, and the acks take the lock).
    lock.unlock();
    const std::uint64_t target = b.expected + 1;
    absl::Status st = log_->PublishAsync(
        *b.bytes, b.expected,
        [this, target](absl::StatusOr<std::uint64_t> r) { OnAck(target, r); }, b.digest);
    lock.lock();
    if (!st.ok()) {
      if (mode_ == PublishMode::kPipeline) {
        mode_ = PublishMode::kResend;
        ++status_.resends;
      }
      cv_.notify_all();
    }
  }
  sending_ = false;
}

void ReplicationNode::OnAck(std::uint64_t target, const absl::StatusOr<std::uint64_t>& result) {
  if (result.ok()) {
    Confirm(target);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == PublishMode::kPipeline) {
    std::fprintf(stderr, "msx-server: replication: publish of stream seq %llu failed (%s); "
                 "re-sending the unconfirmed groups\n",
                 static_cast<unsigned long long>(target),
                 std::string(result.status().message()).c_str());
    mode_ = PublishMode::kResend;
    ++status_.resends;
  }
  cv_.notify_all();
}

void ReplicationNode::Confirm(std::uint64_t target) {
  Seq last = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mode_ == PublishMode::kFailed) return;
    const Clock::time_point now = Clock::now();
    while (!unconfirmed_.empty() && unconfirmed_.front().expected + 1 <= target) {
      const Batch& b = unconfirmed_.front();
      last = b.last;
      unconfirmed_bytes_ -= b.bytes->size();
      // Under mu_: the histogram's writers are serialized by it.
      publish_ns_.Observe(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - b.sequenced).count()));
      unconfirmed_.pop_front();
    }
    if (last == 0) return;
    confirmed_stream_seq_ = std::max(confirmed_stream_seq_, target);
    status_.stream_seq = confirmed_stream_seq_;
    status_.stream_last_seq = std::max(status_.stream_last_seq, confirmed_stream_seq_);
  }
  replicated_seq_.store(last, std::memory_order_release);
  Release();
}

void ReplicationNode::Resend() {
  for (;;) {
    Batch b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (mode_ != PublishMode::kResend || stop_) return;
      if (unconfirmed_.empty()) {
        lock.unlock();
        // Waits for the asynchronous callbacks still out and clears the pipeline's error.
        (void)log_->Flush(options_.async_timeout + std::chrono::seconds(1));
        lock.lock();
        if (!unconfirmed_.empty() || mode_ != PublishMode::kResend) continue;
        mode_ = PublishMode::kPipeline;
        if (refusing_no_quorum_) {
          refusing_no_quorum_ = false;
          hooks_.sequencer->SetCommandRefusal(absl::OkStatus());
          std::fprintf(stderr, "msx-server: replication: quorum back, accepting commands\n");
        }
        return;
      }
      b = unconfirmed_.front();
    }
    absl::StatusOr<std::uint64_t> r = log_->Publish(*b.bytes, b.expected, b.digest);
    // "Fenced" right after a quorum came back can also mean that the read of the stored
    // message (to recognise our own earlier copy) failed while the stream was settling:
    // a real fence stays a fence, so confirm it a few times before failing for good.
    const Clock::time_point confirm_until = Clock::now() + options_.publish_timeout;
    while (absl::IsFailedPrecondition(r.status()) && !stop_ && Clock::now() < confirm_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      r = log_->Publish(*b.bytes, b.expected, b.digest);
    }
    if (r.ok()) {
      Confirm(b.expected + 1);
      continue;
    }
    if (absl::IsUnavailable(r.status())) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!refusing_no_quorum_) {
        refusing_no_quorum_ = true;
        std::fprintf(stderr, "msx-server: replication: no quorum, refusing commands: %s\n",
                     std::string(r.status().message()).c_str());
        hooks_.sequencer->SetCommandRefusal(absl::UnavailableError(absl::StrCat(
            "primary cannot replicate (no NATS quorum); retry: ", r.status().message())));
      }
      continue;
    }
    Fail(absl::UnavailableError(absl::StrCat("replication fenced: ", r.status().message())),
         FailCause::kFencedStream);
    return;
  }
}

void ReplicationNode::Fail(const absl::Status& status, FailCause cause) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (role_.load() == ReplicationRole::kFailed) return;
    role_.store(ReplicationRole::kFailed);
    mode_ = PublishMode::kFailed;
    status_.failure = std::string(status.message());
    if (cause == FailCause::kFencedStream) ++status_.fenced_stream;
    if (cause == FailCause::kFencedLease) ++status_.fenced_lease;
  }
  std::fprintf(stderr, "msx-server: REPLICATION FAILED, refusing commands for good: %s\n",
               std::string(status.message()).c_str());
  std::fflush(stderr);
  // Health first: a client told UNAVAILABLE must find NOT_SERVING already.
  SetServing(false);
  hooks_.sequencer->OnJournalFailure(status);
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// Control thread.

void ReplicationNode::RunControl() {
  pthread_setname_np(pthread_self(), "msx-replication");
  while (!stop_) {
    const ReplicationRole role = role_.load();
    if (role == ReplicationRole::kFailed) return;
    if (role == ReplicationRole::kStandby) {
      if (!Follow()) return;
      continue;
    }
    // Primary: re-send when the pipeline failed; otherwise sleep.
    Resend();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.poll,
                 [&] { return stop_ || mode_ == PublishMode::kResend; });
  }
}

void ReplicationNode::RunLease() {
  pthread_setname_np(pthread_self(), "msx-lease");
  // Set when a renewal was refused: the lease must be claimed anew before renewing again.
  bool need_claim = false;
  while (!stop_) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.lease_renew, [&] { return stop_.load(); });
    }
    if (stop_ || role_.load() != ReplicationRole::kPrimary) continue;
    absl::Status why;
    if (!need_claim) {
      absl::StatusOr<LeaderRecord> r = lease_->Renew();
      if (r.ok() || absl::IsUnavailable(r.status())) continue;
      why = r.status();
      need_claim = true;
    }
    // Expired (no renewal reached a quorum within the TTL, e.g. a NATS outage) or taken.
    // Vacant: claim it again; the stream's expected-sequence check still fences this node
    // if another one wrote meanwhile.
    absl::StatusOr<LeaderRecord> again = lease_->TryClaim(options_.node_id, options_.advertise);
    if (again.ok()) {
      need_claim = false;
      std::fprintf(stderr, "msx-server: leader lease had lapsed; claimed again (epoch %llu)\n",
                   static_cast<unsigned long long>(again->epoch));
      SetLeader(*again);
      continue;
    }
    if (absl::IsUnavailable(again.status())) continue;
    absl::StatusOr<LeaderRecord> holder = lease_->Current();
    // A renewal of ours that timed out here may still have been stored when the quorum
    // came back: the key then names this node at a revision it does not know, and expires
    // within the TTL (nobody renews it). Vacant or unreadable (e.g. "JetStream system
    // temporarily unavailable" while the quorum re-forms): try again. Only another node
    // named as the holder ends this node's leadership.
    if (!holder.ok() || holder->node_id == options_.node_id) continue;
    Fail(absl::UnavailableError(absl::StrCat("leader lease lost: ", why.message(), " ",
                                             again.status().message())),
         FailCause::kFencedLease);
    return;
  }
}

void ReplicationNode::SetLeader(const LeaderRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  status_.leader_node = record.node_id;
  status_.leader_address = record.address;
  status_.epoch = record.epoch;
}

absl::Status ReplicationNode::ApplyEntry(const LogFollower::Entry& entry) {
  if (entry.payload.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    status_.stream_seq = entry.stream_seq;
    status_.stream_last_seq = std::max(status_.stream_last_seq, entry.stream_seq);
    NoteStreamLocked();
    return absl::OkStatus();
  }
  const absl::string_view payload = entry.payload;
  if (payload.size() < jf::kRecordHeaderSize + 8) {
    return absl::DataLossError(absl::StrCat("stream seq ", entry.stream_seq, ": too short"));
  }
  const Seq first = jf::GetFixed64(payload.data() + jf::kRecordHeaderSize);
  if (first > applied_seq_ + 1) {
    return absl::DataLossError(absl::StrCat("stream seq ", entry.stream_seq, " starts at command ",
                                            first, " but this node has applied up to ",
                                            applied_seq_, ": a gap"));
  }
  absl::StatusOr<replication::ReplicatedBatch> batch =
      replication::VerifyReplicatedBatch(payload, first);
  if (!batch.ok()) {
    return absl::DataLossError(
        absl::StrCat("stream seq ", entry.stream_seq, ": ", batch.status().message()));
  }
  // In the stream, so releasable here once durable; set before the sequencer can commit
  // them (Stage tells a replicated batch from a command sequenced here by it).
  if (batch->last_seq > replicated_seq_.load()) {
    replicated_seq_.store(batch->last_seq, std::memory_order_release);
  }
  // The primary's digest, checked after its command (if this node applies that command
  // now; one already in the local journal was checked, or not, before).
  std::optional<std::pair<Seq, std::uint64_t>> digest;
  if (!entry.digest.empty()) {
    digest = ParseDigestHeader(entry.digest);
    if (!digest) {
      return absl::DataLossError(absl::StrCat("stream seq ", entry.stream_seq, ": bad ",
                                              replication::kDigestHeader, " header '",
                                              entry.digest, "'"));
    }
  }
  // Split into command groups and hand each new one to the sequencer.
  std::size_t pos = 0;
  while (pos < payload.size()) {
    const std::size_t group_begin = pos;
    const std::uint32_t len = jf::GetFixed32(payload.data() + pos + jf::kRecordLengthOffset);
    absl::string_view body = payload.substr(pos + jf::kRecordHeaderSize, len);
    Command cmd{};
    std::uint32_t event_count = 0;
    absl::Status d = jf::DecodeCommandPayload(body, &cmd, &event_count);
    if (!d.ok()) {
      return absl::DataLossError(absl::StrCat("stream seq ", entry.stream_seq, " offset ", pos,
                                              ": ", d.message()));
    }
    pos += jf::kRecordHeaderSize + len;
    for (std::uint32_t i = 0; i < event_count; ++i) {
      pos += jf::kRecordHeaderSize + jf::GetFixed32(payload.data() + pos + jf::kRecordLengthOffset);
    }
    if (cmd.seq <= applied_seq_) continue;  // already in the local journal
    std::optional<ReplicatedWork::DigestCheck> check;
    if (digest && digest->first == cmd.seq) {
      check = ReplicatedWork::DigestCheck{digest->second, &digests_checked_, &last_digest_seq_};
    }
    auto* work =
        new ReplicatedWork(std::string(payload.substr(group_begin, pos - group_begin)), check);
    for (;;) {
      absl::Status q = hooks_.sequencer->SubmitReplicated(cmd, work);
      if (q.ok()) break;
      if (!absl::IsResourceExhausted(q)) {
        delete work;
        return q;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    applied_seq_ = cmd.seq;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.stream_seq = entry.stream_seq;
    status_.replicated_seq = applied_seq_;
    status_.stream_last_seq = std::max(status_.stream_last_seq, entry.stream_seq);
    NoteStreamLocked();
  }
  Release();
  return absl::OkStatus();
}

absl::Status ReplicationNode::DrainTo(std::uint64_t upto) {
  const Clock::time_point deadline = Clock::now() + options_.publish_timeout;
  while (follower_->next_seq() <= upto) {
    absl::StatusOr<LogFollower::Entry> e = follower_->Next(options_.poll);
    if (e.ok()) {
      absl::Status a = ApplyEntry(*e);
      if (!a.ok()) return a;
      continue;
    }
    if (!absl::IsDeadlineExceeded(e.status())) return e.status();
    if (Clock::now() > deadline || stop_) {
      return absl::UnavailableError(absl::StrCat("catching up to stream seq ", upto,
                                                 " timed out at ", follower_->next_seq()));
    }
  }
  return absl::OkStatus();
}

bool ReplicationNode::Follow() {
  Clock::time_point next_poll = Clock::now();
  std::string last_leader;
  while (!stop_) {
    absl::StatusOr<LogFollower::Entry> e = follower_->Next(options_.poll);
    if (e.ok()) {
      absl::Status a = ApplyEntry(*e);
      if (!a.ok()) {
        Fail(a);
        return false;
      }
    } else if (!absl::IsDeadlineExceeded(e.status())) {
      Fail(e.status());
      return false;
    }
    if (Clock::now() < next_poll) continue;
    next_poll = Clock::now() + options_.poll;
    absl::StatusOr<LeaderRecord> cur = lease_->Current();
    if (cur.ok()) {
      SetLeader(*cur);
      if (cur->address != last_leader) {
        last_leader = cur->address;
        hooks_.sequencer->SetCommandRefusal(absl::UnavailableError(
            absl::StrCat("standby: not the primary; the primary is ", cur->address, " (node ",
                         cur->node_id, ", epoch ", cur->epoch, ")")));
      }
      if (absl::StatusOr<std::uint64_t> l = follower_->StreamLastSequence(); l.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        status_.stream_last_seq = std::max(status_.stream_last_seq, *l);
        NoteStreamLocked();
      }
      continue;
    }
    if (!absl::IsNotFound(cur.status())) continue;  // no quorum: nobody can claim either
    if (TryTakeOver()) return true;
    last_leader.clear();
  }
  return false;
}

bool ReplicationNode::TryTakeOver() {
  role_.store(ReplicationRole::kTakingOver);
  auto back_to_standby = [&](const absl::Status& why) {
    std::fprintf(stderr, "msx-server: takeover abandoned: %s\n", std::string(why.message()).c_str());
    role_.store(ReplicationRole::kStandby);
    return false;
  };
  // 1. Catch up to the stream's last message (what an old primary may have acknowledged).
  absl::StatusOr<std::uint64_t> last = follower_->StreamLastSequence();
  if (!last.ok()) return back_to_standby(last.status());
  if (absl::Status d = DrainTo(*last); !d.ok()) {
    if (absl::IsDataLoss(d) || absl::IsInternal(d)) {
      Fail(d);
      return false;
    }
    return back_to_standby(d);
  }
  // 2. Claim.
  absl::StatusOr<LeaderRecord> claim = lease_->TryClaim(options_.node_id, options_.advertise);
  if (!claim.ok()) return back_to_standby(claim.status());
  SetLeader(*claim);
  // 3. The marker: fences every earlier writer; on "fenced" the old primary slipped more
  // in: apply it and place the marker after it.
  ReplicatedLog::Options ro;
  ro.connection = Connection(options_, "primary");
  ro.stream.name = options_.stream;
  ro.stream.subject = options_.subject;
  ro.stream.replicas = options_.replicas;
  ro.epoch = claim->epoch;
  ro.publish_timeout = options_.publish_timeout;
  ro.async_timeout = options_.async_timeout;
  absl::StatusOr<std::unique_ptr<ReplicatedLog>> log = ReplicatedLog::Open(ro);
  if (!log.ok()) {
    (void)lease_->Release().ok();
    return back_to_standby(log.status());
  }
  std::uint64_t marker = 0;
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t expected = follower_->next_seq() - 1;
    absl::StatusOr<std::uint64_t> m = (*log)->Publish("", expected);
    if (m.ok()) {
      marker = *m;
      break;
    }
    if (!absl::IsFailedPrecondition(m.status()) || attempt >= 100) {
      (void)lease_->Release().ok();
      return back_to_standby(m.status());
    }
    absl::StatusOr<std::uint64_t> l = follower_->StreamLastSequence();
    if (!l.ok()) {
      (void)lease_->Release().ok();
      return back_to_standby(l.status());
    }
    if (absl::Status d = DrainTo(*l); !d.ok()) {
      (void)lease_->Release().ok();
      return back_to_standby(d);
    }
    (void)lease_->Renew().ok();
  }
  // 4. Everything applied must be durable here before the first reply of this node
  // (releases are min(durable, replicated)), and nothing but the stream's commands may
  // be in this engine.
  while (journal_durable_.load() < applied_seq_ && !stop_) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (hooks_.sequencer->last_seq() != applied_seq_) {
    Fail(absl::InternalError(absl::StrCat("takeover: the engine is at seq ",
                                          hooks_.sequencer->last_seq(),
                                          " but the stream at ", applied_seq_)));
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_ = *std::move(log);
    next_expected_ = marker;
    confirmed_stream_seq_ = marker;
    mode_ = PublishMode::kPipeline;
    status_.stream_seq = marker;
    status_.stream_last_seq = marker;
    status_.replicated_seq = applied_seq_;
    NoteStreamLocked();
    ++status_.takeovers;
  }
  follower_.reset();
  role_.store(ReplicationRole::kPrimary);
  std::fprintf(stderr,
               "msx-server: now the PRIMARY (epoch %llu, stream seq %llu, command seq %llu)\n",
               static_cast<unsigned long long>(claim->epoch),
               static_cast<unsigned long long>(marker),
               static_cast<unsigned long long>(applied_seq_));
  std::fflush(stderr);
  if (hooks_.on_promoted) {
    if (absl::Status p = hooks_.on_promoted(); !p.ok()) {
      Fail(p);
      return false;
    }
  }
  hooks_.sequencer->SetCommandRefusal(absl::OkStatus());
  SetServing(true);
  return true;
}

// ---------------------------------------------------------------------------------------

void ReplicationNode::SetServing(bool serving) {
  std::function<void(bool)> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving_ = serving && role_.load() != ReplicationRole::kFailed;
    serving = serving_;
    f = hooks_.set_serving;
  }
  if (f) f(serving);
}

void ReplicationNode::ApplyServing() {
  bool serving;
  {
    std::lock_guard<std::mutex> lock(mu_);
    serving = serving_;
  }
  if (hooks_.set_serving) hooks_.set_serving(serving);
}

void ReplicationNode::NoteStreamLocked() {
  stream_lag_.Applied(status_.stream_seq);
  stream_lag_.Learnt(status_.stream_last_seq, Clock::now());
}

ReplicationStatus ReplicationNode::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  ReplicationStatus s = status_;
  s.role = role_.load();
  s.lag = s.stream_last_seq > s.stream_seq ? s.stream_last_seq - s.stream_seq : 0;
  const Clock::time_point now = Clock::now();
  if (!unconfirmed_.empty()) {
    s.lag_seconds = std::chrono::duration<double>(now - unconfirmed_.front().sequenced).count();
  } else if (s.lag > 0) {
    s.lag_seconds = stream_lag_.Seconds(now);
  }
  s.unconfirmed = unconfirmed_.size();
  s.unconfirmed_bytes = unconfirmed_bytes_;
  s.digests_checked = digests_checked_.load(std::memory_order_relaxed);
  s.last_digest_seq = last_digest_seq_.load(std::memory_order_relaxed);
  s.no_quorum = refusing_no_quorum_;
  s.replicated_seq = replicated_seq_.load();
  s.released_seq = std::min(journal_durable_.load(), replicated_seq_.load());
  return s;
}

}  // namespace msx::gateway
