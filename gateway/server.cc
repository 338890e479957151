#include "gateway/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <limits>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/config/config.h"
#include "engine/journal/file_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/journal/snapshot.h"
#include "gateway/replication/journal_tail.h"
#include "gateway/replication/nats_connection.h"
#include "gateway/replication_node.h"
#include "gateway/snapshot_writer.h"
#include "gateway/tls_credentials.h"

namespace msx::gateway {

namespace {

// msx-server's exit status after an fdatasync failure (gateway/README.md).
constexpr int kExitJournalSyncFailed = 3;
// Execution reports kept in memory, from which a resuming stream is answered without
// reading the journal (gateway/README.md, streams).
constexpr std::size_t kHistoryReports = 1 << 16;

// The reference-data part of the configuration, as journaled: without credentials (tokens,
// digests, certificate names: secrets and operational, rotated without a new journal), the
// server section (operational) and initial holdings (they
// are journaled as SetHoldings commands). Serialized deterministically so that the bytes
// compare equal across runs.
std::string JournaledConfig(const v1::ExchangeConfig& config) {
  v1::ExchangeConfig copy = config;
  copy.clear_server();
  for (v1::AgencyConfig& a : *copy.mutable_agencies()) {
    a.clear_tokens();
    a.clear_token_sha256();
    a.clear_cert_names();
    a.clear_holdings();
  }
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  copy.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// The command a new exchange journals after its initial holdings: its term books follow
// the live reference data from the start (engine/matching/ENGINE.md "Time swaps").
Command FollowLiveReferenceCommand() {
  Command cmd{};
  cmd.type = CommandType::kFollowLiveReference;
  return cmd;
}

// A query that completes a promise: everything queued before it is durable once it fires.
class Barrier final : public Work {
 public:
  void Complete(const absl::Status& status) override { done.set_value(status); }
  std::promise<absl::Status> done;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ExchangeServer>> ExchangeServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<ExchangeServer> s(new ExchangeServer());
  s->start_unix_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();

  // ---- Configuration ----
  if (options.config_file.empty()) {
    s->config_ = DefaultConfig();
    s->demo_config_ = true;
  } else {
    absl::StatusOr<v1::ExchangeConfig> config = ReadConfigFile(options.config_file);
    if (!config.ok()) return config.status();
    s->config_ = *std::move(config);
  }
  v1::ServerConfig* sc = s->config_.mutable_server();
  if (options.listen) {
    // Checked here, with the configuration, before any file is created; gRPC would only
    // fail (or bind port % 65536) after recovery had written a journal.
    if (absl::Status l = CheckListenAddress(*options.listen); !l.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--listen: ", l.message()));
    }
    sc->set_listen(*options.listen);
  }
  if (options.http) {
    if (absl::Status l = CheckListenAddress(*options.http); !l.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--http: ", l.message()));
    }
    sc->mutable_http()->set_listen(*options.http);
  }
  if (options.data_dir) sc->set_data_dir(*options.data_dir);
  if (options.durability) {
    if (*options.durability == "sync") {
      sc->set_durability(v1::DURABILITY_SYNC);
    } else if (*options.durability == "none") {
      sc->set_durability(v1::DURABILITY_NONE);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--durability: expected sync or none, got \"", *options.durability, "\""));
    }
  }
  if (options.replicate) {
    sc->mutable_replication()->clear_servers();
    for (const std::string& url : replication::SplitServerList(*options.replicate)) {
      sc->mutable_replication()->add_servers(url);
    }
    if (sc->replication().servers().empty()) {
      return absl::InvalidArgumentError("--replicate: expected nats://HOST:PORT,...");
    }
  }
  if (options.standby) sc->mutable_replication()->set_standby(true);
  if (options.node_id) sc->mutable_replication()->set_node_id(*options.node_id);
  if (options.advertise) sc->mutable_replication()->set_advertise(*options.advertise);
  std::optional<ReplicationOptions> replication_options;
  if (!sc->replication().servers().empty()) {
    absl::StatusOr<ReplicationOptions> ro = ReplicationOptionsFromConfig(sc->replication());
    if (!ro.ok()) return ro.status();
    replication_options = *std::move(ro);
  } else if (sc->replication().standby()) {
    return absl::InvalidArgumentError("--standby needs --replicate (or server.replication.servers)");
  }
  if (absl::Status v = ValidateConfig(s->config_); !v.ok()) return v;
  s->server_config_ = ServerConfigWithDefaults(*sc);
  const v1::ServerConfig& server = s->server_config_;
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(s->config_);
  if (!ref.ok()) return ref.status();
  s->ref_ = std::make_unique<ReferenceData>(*std::move(ref));
  TokenTable::Policy token_policy;
  token_policy.allow_plaintext = s->demo_config_ || options.allow_plaintext_tokens;
  token_policy.check_strength = !s->demo_config_;  // the public demo tokens are not secrets
  absl::StatusOr<TokenTable> tokens = TokenTable::Build(s->config_, *s->ref_, token_policy);
  if (!tokens.ok()) return tokens.status();
  if (!s->demo_config_ && !tokens->plaintext_tokens().empty()) {
    std::fprintf(stderr,
                 "msx-server: WARNING: --allow-plaintext-tokens: %zu plaintext bearer tokens are "
                 "read from %s; whoever can read that file can trade as those agencies. List "
                 "token_sha256 digests instead (msx-server --hash-token).\n",
                 tokens->plaintext_tokens().size(), options.config_file.c_str());
  }
  s->tokens_ = std::make_unique<TokenTable>(*std::move(tokens));

  // ---- Recovery ----
  const std::string dir = server.data_dir();
  std::error_code ec;
  // Each directory created is made durable in its parent (fsync), so a power cut right
  // after the first commit cannot lose the directory that holds it.
  if (absl::Status d = journal::internal::CreateDirs(dir); !d.ok()) return d;
  // Before anything reads or writes the journal: a second server on the same directory
  // would truncate the first one's live tail and interleave segments with it.
  absl::StatusOr<std::unique_ptr<journal::DirLock>> lock = journal::DirLock::Acquire(dir);
  if (!lock.ok()) return lock.status();
  s->dir_lock_ = *std::move(lock);
  const std::string journaled_config = JournaledConfig(s->config_);
  const ReferenceData* ref_ptr = s->ref_.get();
  journal::RecoveryOptions ropts;
  ropts.truncate_at_corruption = options.truncate_at_corruption;
  ropts.expected_config = journaled_config;
  const auto recovery_began = std::chrono::steady_clock::now();
  absl::StatusOr<journal::RecoveryResult> recovered = journal::Recover(
      dir, [ref_ptr] { return std::make_unique<Engine>(*ref_ptr, EngineOptions{}); }, ropts);
  bool refetch_from_stream = false;
  if (!recovered.ok() && absl::IsDataLoss(recovered.status()) && replication_options &&
      !ropts.truncate_at_corruption) {
    // Replicated: the stream is the tie-breaker for a damaged local journal. Cut it at the
    // damage (the cut bytes are kept, as with --truncate-at-corruption) and take every
    // record after the cut from the stream, which holds everything ever acknowledged;
    // nothing is lost. Recovery still refuses to cut below a snapshot.
    std::fprintf(stderr,
                 "msx-server: %s\nmsx-server: replicated: cutting the local journal at the "
                 "damage and taking the records after it from the stream\n",
                 std::string(recovered.status().message()).c_str());
    ropts.truncate_at_corruption = true;
    recovered = journal::Recover(
        dir, [ref_ptr] { return std::make_unique<Engine>(*ref_ptr, EngineOptions{}); }, ropts);
    refetch_from_stream = true;
  }
  std::string set_aside;
  if (recovered.ok() && replication_options && recovered->last_seq > 0) {
    // Replicated: the local journal keeps only what the stream holds. A tail it lacks (an
    // old primary's groups that never reached a quorum, so were never acknowledged) is set
    // aside, bytes kept, and those seqs come from the stream (gateway/replication/README.md,
    // "Bootstrap: the stream decides").
    replication::ConnectionOptions co;
    co.servers = replication_options->servers;
    co.name = "msx-bootstrap";
    const Seq local_last = recovered->last_seq;
    absl::StatusOr<replication::TailCut> tail =
        replication::CutUnreplicatedTail(co, replication_options->stream, dir, local_last);
    if (!tail.ok()) return tail.status();
    if (tail->cut.commands > 0) {
      set_aside = absl::StrCat(
          "; set aside commands ", tail->cut.end_seq + 1, "..", local_last,
          " (not in the replicated stream: never acknowledged) in ",
          tail->cut.cut_file.empty() ? std::string("-") : tail->cut.cut_file, " and ",
          tail->cut.discarded_segments.size(), " segments renamed *.discarded");
      std::fprintf(stderr, "msx-server: replicated: the local journal's commands %llu..%llu "
                   "are not the stream's; set aside, taking those seqs from the stream\n",
                   static_cast<unsigned long long>(tail->cut.end_seq + 1),
                   static_cast<unsigned long long>(local_last));
      recovered = journal::Recover(
          dir, [ref_ptr] { return std::make_unique<Engine>(*ref_ptr, EngineOptions{}); }, ropts);
    }
  }
  s->recovery_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - recovery_began).count();
  if (!recovered.ok()) {
    if (recovered.status().code() == absl::StatusCode::kFailedPrecondition) {
      return absl::FailedPreconditionError(absl::StrCat(
          recovered.status().message(),
          " (the data directory holds a journal of a different configuration; use the "
          "configuration it was created with or a new --data-dir)"));
    }
    return recovered.status();
  }
  s->engine_ = std::move(recovered->engine);
  const Seq recovered_seq = recovered->last_seq;
  s->recovered_commands_ = recovered->commands_replayed;
  if (!recovered->snapshot_path.empty()) {
    // The snapshot's age counts from when it was written, not from this start.
    std::error_code mtime_error;
    auto mtime = std::filesystem::last_write_time(recovered->snapshot_path, mtime_error);
    if (!mtime_error) {
      const auto now_file = std::filesystem::file_time_type::clock::now();
      const auto age = std::chrono::duration_cast<std::chrono::nanoseconds>(now_file - mtime);
      s->snapshot_unix_ns_->store(s->start_unix_ns_ - age.count(), std::memory_order_relaxed);
    }
  }
  s->recovery_summary_ = absl::StrCat(
      "journal: last seq ", recovered_seq,
      recovered->snapshot_seq != 0 ? absl::StrCat(", snapshot at seq ", recovered->snapshot_seq)
                                   : std::string(),
      ", replayed ", recovered->commands_replayed, " commands, verified ",
      recovered->fills_verified, " fills");
  if (recovered->read.torn_bytes != 0) {
    absl::StrAppend(&s->recovery_summary_, "; truncated a torn tail of ",
                    recovered->read.torn_bytes, " bytes in ", recovered->read.torn_file,
                    " (kept in ", recovered->read.cut_file, ")");
  }
  if (!recovered->read.error_file.empty()) {
    absl::StrAppend(&s->recovery_summary_, "; CUT AT CORRUPTION ", recovered->read.error_file,
                    ":", recovered->read.error_offset, " (cut bytes kept in ",
                    recovered->read.cut_file.empty() ? std::string("-") : recovered->read.cut_file,
                    "; set aside ", recovered->read.discarded_segments.size(),
                    " later segments as *.discarded)");
  }
  if (refetch_from_stream) {
    absl::StrAppend(&s->recovery_summary_, "; the records after seq ", recovered_seq,
                    " come from the replicated stream");
  }
  s->recovery_summary_ += set_aside;
  for (const std::string& r : recovered->rejected_snapshots) {
    absl::StrAppend(&s->recovery_summary_, "; skipped snapshot ", r);
  }

  // ---- Journal writer ----
  s->callback_target_ = std::make_shared<std::atomic<Sequencer*>>(nullptr);
  auto target = s->callback_target_;
  journal::WriterOptions wopts;
  wopts.durability = server.durability() == v1::DURABILITY_NONE ? journal::Durability::kNone
                                                                 : journal::Durability::kSync;
  wopts.segment_bytes = static_cast<std::uint64_t>(server.journal_segment_bytes());
  wopts.config = journaled_config;
  wopts.next_seq = recovered_seq + 1;
  s->replication_target_ = std::make_shared<std::atomic<ReplicationNode*>>(nullptr);
  auto replication_target = s->replication_target_;
  wopts.on_durable = [target, replication_target](Seq seq) {
    // With replication, replies wait for the stream's acknowledgement too.
    if (ReplicationNode* n = replication_target->load(std::memory_order_acquire)) {
      n->OnJournalDurable(seq);
    } else if (Sequencer* q = target->load(std::memory_order_acquire)) {
      q->OnDurable(seq);
    }
  };
  // Metrics: group commits counted on the thread that made them (one at a time).
  s->command_metrics_ = std::make_unique<http::CommandMetrics>(*s->ref_);
  s->journal_metrics_ = std::make_unique<http::JournalMetrics>();
  http::JournalMetrics* jm = s->journal_metrics_.get();
  wopts.on_commit = [jm](const journal::CommitTiming& t) {
    jm->OnCommit(t.commands, t.write_ns, t.sync_ns);
  };
  s->health_target_ = std::make_shared<std::atomic<grpc::HealthCheckServiceInterface*>>(nullptr);
  auto health = s->health_target_;
  wopts.on_failure = [target, health](const absl::Status& status) {
    if (absl::IsDataLoss(status)) {
      // An fdatasync (or directory fsync) failed: the kernel may already have dropped
      // pages it could not write, so even this process's view of the journal may be
      // wrong, and a restart on the same boot could read page cache that never reached
      // the disk. Exit at once (nothing after the failure was acknowledged); the operator
      // reboots the machine before restarting (gateway/README.md).
      std::fprintf(stderr,
                   "msx-server: JOURNAL SYNC FAILED, exiting: %s\nmsx-server: reboot the "
                   "machine before restarting: data in the page cache may never have "
                   "reached the disk\n",
                   std::string(status.message()).c_str());
      std::fflush(stderr);
      std::_Exit(kExitJournalSyncFailed);
    }
    std::fprintf(stderr, "msx-server: JOURNAL FAILED, refusing commands: %s\n",
                 std::string(status.message()).c_str());
    // Load balancers and operators see it in the standard health check. Set first: a
    // client told UNAVAILABLE by OnJournalFailure must find health NOT_SERVING already.
    if (auto* h = health->load(std::memory_order_acquire)) h->SetServingStatus(false);
    if (Sequencer* q = target->load(std::memory_order_acquire)) q->OnJournalFailure(status);
  };
  absl::StatusOr<std::unique_ptr<journal::JournalWriter>> writer =
      journal::JournalWriter::Open(dir, std::move(wopts));
  if (!writer.ok()) return writer.status();
  s->journal_ = *std::move(writer);
  s->snapshots_ = std::make_unique<SnapshotWriter>(dir, s->journal_.get(), s->snapshot_unix_ns_,
                                                   s->snapshots_written_, recovered->snapshot_seq);

  // ---- Sequencer ----
  s->exec_hub_ = std::make_unique<ExecHub>(s->ref_->agencies().size());
  s->book_hub_ = std::make_unique<BookHub>(s->ref_->pairs().size());
  s->reports_ = std::make_unique<Reports>(*s->ref_, s->exec_hub_.get(), s->book_hub_.get(),
                                          kHistoryReports, s->engine_->last_seq());
  SequencerOptions qopts;
  // The ring needs at least two slots (a power of two, checked by ValidateConfig).
  qopts.queue_capacity = std::max<std::size_t>(2, static_cast<std::size_t>(server.queue_capacity()));
  qopts.snapshot_every_records = static_cast<std::uint64_t>(server.snapshot_every_records());
  qopts.recovered_snapshot_seq = recovered->snapshot_seq;
  // Whoever sequenced a batch commits it to the journal itself whenever no journal write is
  // in progress (both durabilities): one thread wake-up less per command; under `sync` the
  // next commands are sequenced while it is in fdatasync, and they are the next group
  // commit (bench/results/gateway.md, group commit on the sequencer thread).
  qopts.inline_commit_max_batch = std::numeric_limits<std::size_t>::max();
  // Unary commands are sequenced on their gRPC thread when nothing is queued (no hand-off
  // to the sequencer thread). Under `none` that thread also writes and finishes the call;
  // under `sync` the journal thread writes and fdatasyncs (overlapping the next commands'
  // matching) and finishes it: a gRPC thread never waits on the disk (gateway/README.md).
  qopts.run_on_caller = true;
  qopts.caller_writes = server.durability() == v1::DURABILITY_NONE;
  qopts.max_undurable_commands = static_cast<std::uint64_t>(server.max_undurable_commands());
  qopts.max_undurable_bytes = static_cast<std::uint64_t>(server.max_undurable_bytes());
  // An AdvanceClock survives a restart: the offset is derived from the journal's last time.
  qopts.clock_offset_from_journal = server.allow_clock_advance();
  SnapshotWriter* snaps = s->snapshots_.get();
  SnapshotFn snapshot = [snaps](const Engine& engine, Seq seq) {
    snaps->Offer(seq, engine.SaveState());
    return absl::OkStatus();
  };
  // The reports first (stream messages); the metrics count each batch once.
  std::vector<SequencerObserver*> observers{s->reports_.get(), s->command_metrics_.get()};
  if (replication_options) {
    ReplicationNode::Hooks hooks;
    hooks.set_serving = [health](bool serving) {
      if (auto* h = health->load(std::memory_order_acquire)) h->SetServingStatus(serving);
    };
    ExchangeServer* self = s.get();
    hooks.on_promoted = [self]() -> absl::Status {
      auto submit = [self](const Command& cmd) {
        for (;;) {
          absl::Status q = self->sequencer_->SubmitCommand(cmd, nullptr, true);
          if (q.code() != absl::StatusCode::kResourceExhausted) return q;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      };
      if (self->sequencer_->last_seq() == 0) {
        // A new exchange: its first primary journals (and so replicates) the holdings,
        // and that its term books follow the live reference data.
        absl::StatusOr<std::vector<Command>> holdings =
            InitialHoldingCommands(self->config_, *self->ref_);
        if (!holdings.ok()) return holdings.status();
        for (const Command& cmd : *holdings) {
          if (absl::Status q = submit(cmd); !q.ok()) return q;
        }
        if (absl::Status q = submit(FollowLiveReferenceCommand()); !q.ok()) return q;
      }
      // This node's configured offer retention, journaled by each new primary (the engine
      // belongs to the sequencer thread now, so it is set rather than compared).
      Command cmd{};
      cmd.type = CommandType::kSetOfferRetention;
      cmd.set_retention.retention = OfferRetentionNs(self->server_config_);
      return submit(cmd);
    };
    absl::StatusOr<std::unique_ptr<ReplicationNode>> node =
        ReplicationNode::Create(*replication_options, std::move(hooks), recovered_seq);
    if (!node.ok()) return node.status();
    s->replication_ = *std::move(node);
    // Publishes each batch's journal bytes (OnBatchSequenced).
    observers.push_back(s->replication_.get());
  }
  s->sequencer_ = std::make_unique<Sequencer>(*s->ref_, s->engine_.get(), s->journal_.get(),
                                              std::move(observers), qopts, std::move(snapshot));
  target->store(s->sequencer_.get(), std::memory_order_release);
  // The configured offer retention is journaled (a command) when it differs from the
  // recovered engine's: on a new journal, on one older than retention (kept forever until
  // then) and after the setting changed. A replay then forgets offers exactly when this
  // run does. Read before the sequencer thread owns the engine.
  const TimeNs retention = OfferRetentionNs(server);
  const bool set_retention = s->engine_->offer_retention() != retention;
  if (s->replication_) {
    // No command before this node leads (set before anything can submit one).
    s->sequencer_->SetCommandRefusal(absl::UnavailableError("standby: starting"));
    s->replication_->AttachSequencer(s->sequencer_.get());
    // With replication, replies wait for the stream's acknowledgement too (on_durable).
    s->replication_target_->store(s->replication_.get(), std::memory_order_release);
  }
  s->sequencer_->Start();

  if (recovered_seq == 0 && !replication_options) {
    // A new exchange: the initial holdings become journaled commands, then the switch that
    // makes its term books follow the live reference data (ENGINE.md "Time swaps", "Live
    // reference data"). Only here: a recovered exchange keeps what its journal says (one
    // written before the switch existed replays, and runs on, as it always did).
    absl::StatusOr<std::vector<Command>> holdings = InitialHoldingCommands(s->config_, *s->ref_);
    if (!holdings.ok()) return holdings.status();
    holdings->push_back(FollowLiveReferenceCommand());
    for (const Command& cmd : *holdings) {
      for (;;) {
        absl::Status q = s->sequencer_->SubmitCommand(cmd, nullptr);
        if (q.ok()) break;
        if (q.code() != absl::StatusCode::kResourceExhausted) return q;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  }
  if (set_retention && !replication_options) {
    Command cmd{};
    cmd.type = CommandType::kSetOfferRetention;
    cmd.set_retention.retention = retention;
    for (;;) {
      absl::Status q = s->sequencer_->SubmitCommand(cmd, nullptr);
      if (q.ok()) break;
      if (q.code() != absl::StatusCode::kResourceExhausted) return q;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  {
    auto* barrier = new Barrier();
    std::future<absl::Status> done = barrier->done.get_future();
    absl::Status q;
    while (!(q = s->sequencer_->SubmitQuery(barrier)).ok()) {
      if (q.code() != absl::StatusCode::kResourceExhausted) {
        delete barrier;
        return q;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    absl::Status b = done.get();
    delete barrier;
    if (!b.ok()) return b;
  }

  // ---- gRPC ----
  // Per-agency in-flight limit; the default leaves one share of the queue for what no
  // agency sends (time ticks, stream subscriptions).
  std::int32_t per_agency = server.max_in_flight_per_agency();
  if (per_agency == 0) {
    per_agency = static_cast<std::int32_t>(std::max<std::size_t>(
        1, static_cast<std::size_t>(server.queue_capacity()) / (s->ref_->agencies().size() + 1)));
  }
  s->admission_ = std::make_unique<Admission>(s->ref_->agencies().size(), per_agency);
  // Execution history older than the sequencer's memory is read on its own thread.
  s->history_ = std::make_unique<HistoryReader>();
  s->stream_counts_ = std::make_unique<StreamCounts>(s->ref_->agencies().size());
  StreamLimits limits;
  limits.max_streams_per_agency = server.max_streams_per_agency();
  limits.max_queued_messages = static_cast<std::size_t>(server.stream_max_queued_messages());
  limits.max_queued_bytes = static_cast<std::size_t>(server.stream_max_queued_bytes());
  ServiceContext ctx{s->ref_.get(),
                     s->tokens_.get(),
                     s->sequencer_.get(),
                     s->exec_hub_.get(),
                     s->book_hub_.get(),
                     s->reports_.get(),
                     server.durability() == v1::DURABILITY_NONE ? "none" : "sync",
                     dir,
                     s->admission_.get(),
                     s->history_.get(),
                     s->stream_counts_.get(),
                     limits,
                     {}};
  ctx.allow_clock_advance = server.allow_clock_advance();
  if (s->replication_) {
    ReplicationNode* n = s->replication_.get();
    ctx.replication_status = [n](v1::GetExchangeStatusResponse* r) {
      ReplicationStatus st = n->status();
      r->set_role(RoleName(st.role));
      r->set_leader(st.leader_address);
      r->set_leader_epoch(st.epoch);
      r->set_replicated_seq(st.replicated_seq);
      r->set_replication_lag(st.lag);
      r->set_digests_checked(st.digests_checked);
      r->set_last_digest_seq(st.last_digest_seq);
      if (!st.failure.empty() && r->failure().empty()) r->set_failure(st.failure);
    };
  }
  s->exchange_service_ = std::make_unique<ExchangeService>(ctx);
  s->admin_service_ = std::make_unique<AdminService>(ctx);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(server.tls());
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default on Linux: a second server on the same address would
  // then bind too and take half of the connections. One address, one server.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(server.listen(), *creds, &s->port_);
  builder.RegisterService(s->exchange_service_.get());
  builder.RegisterService(s->admin_service_.get());
  builder.SetMaxReceiveMessageSize(4 << 20);
  // Transport limits: calls per connection, and the memory gRPC may take for its buffers
  // (beyond it gRPC refuses new work on the connection instead of allocating).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, server.max_concurrent_streams());
  grpc::ResourceQuota quota("msx-server");
  quota.Resize(static_cast<std::size_t>(server.grpc_memory_bytes()));
  builder.SetResourceQuota(quota);
  s->grpc_server_ = builder.BuildAndStart();
  if (!s->grpc_server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", server.listen(),
        " (the address is in use, e.g. by another msx-server, or not an address of this host)"));
  }
  s->health_target_->store(s->grpc_server_->GetHealthCheckService(), std::memory_order_release);
  if (!s->sequencer_->accepting()) s->grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  if (s->replication_) {
    s->replication_->ApplyServing();
    std::string host = server.listen().substr(0, server.listen().rfind(':'));
    s->replication_->Start(absl::StrCat(host, ":", s->port_));
  }
  s->started_ = true;
  return s;
}

ExchangeServer::~ExchangeServer() {
  absl::Status s = Shutdown();
  (void)s;
}

void ExchangeServer::Tick() {
  if (sequencer_ == nullptr) return;
  Command cmd{};
  cmd.type = CommandType::kAdvanceTime;
  absl::Status s = sequencer_->SubmitCommand(cmd, nullptr);
  (void)s;  // a full queue or a stopping server skips one tick; the next one catches up
}

absl::Status ExchangeServer::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  if (grpc_server_) grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&t0] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  };
  // 1. Finish every queued command (durably) and refuse new ones; final snapshot. A
  // standby stops applying first; a primary keeps publishing until the queue is drained
  // (replies wait for the stream), then hands the lease over.
  if (replication_ && replication_->status().role != ReplicationRole::kPrimary) {
    replication_->Stop();
  }
  if (sequencer_) sequencer_->Stop();
  if (replication_) replication_->Stop();
  if (snapshots_) snapshots_->Finish();
  // A start that failed reports its own error; the shutdown figures would only bury it.
  if (started_) {
    const Seq last = sequencer_ ? sequencer_->last_seq() : 0;
    std::fprintf(stderr, "msx-server: drained the queue in %lld ms; %s\n",
                 static_cast<long long>(ms()),
                 snapshots_ ? snapshots_->Report(last).c_str() : "no snapshot writer");
  }
  // 2. End the streams, then gRPC (unary calls still arriving get UNAVAILABLE).
  grpc::Status closing(grpc::StatusCode::UNAVAILABLE, "server shutting down");
  if (exec_hub_) exec_hub_->CloseAll(closing);
  if (book_hub_) book_hub_->CloseAll(closing);
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  // No stream is left to page history for (the sequencer is stopped).
  if (history_) history_->Stop();
  if (started_) {
    std::fprintf(stderr, "msx-server: gRPC stopped after %lld ms\n", static_cast<long long>(ms()));
  }
  // 3. The journal.
  absl::Status status = journal_ ? journal_->Close() : absl::OkStatus();
  if (journal_ && started_) {
    // How well group commit batched over the run (bench/loadgen_bench.sh prints this).
    journal::WriterStats st = journal_->stats();
    std::fprintf(stderr,
                 "msx-server: journal: %llu commands in %llu group commits (%.1f per %s; "
                 "%llu not on the journal thread)\n",
                 static_cast<unsigned long long>(st.groups),
                 static_cast<unsigned long long>(st.syncs),
                 st.syncs == 0 ? 0.0 : static_cast<double>(st.groups) / static_cast<double>(st.syncs),
                 server_config_.durability() == v1::DURABILITY_NONE ? "write" : "fdatasync",
                 static_cast<unsigned long long>(st.inline_syncs));
  }
  if (callback_target_) callback_target_->store(nullptr, std::memory_order_release);
  if (replication_target_) replication_target_->store(nullptr, std::memory_order_release);
  if (health_target_) health_target_->store(nullptr, std::memory_order_release);
  return status;
}

}  // namespace msx::gateway
