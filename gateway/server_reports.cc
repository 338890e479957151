// ExchangeServer's reports to operators: the Prometheus text for /metrics (the list is
// gateway/http/METRICS.md), the status JSON of the dashboard and `msx status`, and the
// start-up banner. Split from server.cc, which starts and stops the server.
#include <chrono>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/journal/file_util.h"
#include "gateway/replication_node.h"
#include "gateway/server.h"

namespace msx::gateway {

namespace {

// The engine's gauges (resting offers, obligations), read on the sequencer thread for a
// scrape.
class MetricsQuery final : public Work {
 public:
  explicit MetricsQuery(std::function<void(const http::EngineGauges*)> render)
      : render_(std::move(render)) {}
  void Query(const SequencerView& view) override {
    gauges_ = http::ReadEngineGauges(view.engine, view.ref);
    read_ = true;
  }
  void Complete(const absl::Status& status) override {
    render_(status.ok() && read_ ? &gauges_ : nullptr);
    delete this;
  }

 private:
  std::function<void(const http::EngineGauges*)> render_;
  http::EngineGauges gauges_;
  bool read_ = false;
};

// The journal's segment files on disk: how many, and their sizes summed (preallocated
// space included: what the journal takes of the disk). A directory listing and a stat
// per segment.
struct SegmentUsage {
  std::size_t count = 0;
  std::uint64_t bytes = 0;
};
SegmentUsage ListSegmentUsage(const std::string& dir) {
  SegmentUsage u;
  absl::StatusOr<std::vector<journal::SegmentInfo>> segments = journal::ListSegments(dir);
  if (!segments.ok()) return u;
  u.count = segments->size();
  for (const journal::SegmentInfo& seg : *segments) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(seg.path, ec);
    if (!ec) u.bytes += size;
  }
  return u;
}

std::int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void ExchangeServer::ScrapeMetrics(std::function<void(std::string text)> done) {
  auto render = [this, done](const http::EngineGauges* gauges) {
    http::PrometheusWriter w;
    command_metrics_->Render(&w);
    journal_metrics_->Render(&w);
    const journal::WriterStats st = journal_->stats();
    w.Family("msx_journal_appended_bytes_total", "counter",
             "Journal bytes appended by this process (record headers included).");
    w.Sample("msx_journal_appended_bytes_total", static_cast<double>(st.bytes));
    w.Family("msx_journal_group_commits_total", "counter",
             "Journal group commits (write, plus fdatasync under durability sync).");
    w.Sample("msx_journal_group_commits_total", static_cast<double>(st.syncs));
    w.Family("msx_journal_fdatasyncs_total", "counter",
             "fdatasync calls on journal segments, of every kind.");
    w.Sample("msx_journal_fdatasyncs_total", static_cast<double>(st.fdatasyncs));
    const SegmentUsage segments = ListSegmentUsage(server_config_.data_dir());
    w.Family("msx_journal_segments", "gauge", "Journal segment files in the data directory.");
    w.Sample("msx_journal_segments", static_cast<double>(segments.count));
    w.Family("msx_journal_size_bytes", "gauge",
             "Size of the journal's segment files on disk, preallocated space included.");
    w.Sample("msx_journal_size_bytes", static_cast<double>(segments.bytes));
    w.Family("msx_journal_durable_seq", "gauge", "Highest sequence number made durable.");
    w.Sample("msx_journal_durable_seq", static_cast<double>(sequencer_->durable_seq()));
    w.Family("msx_sequencer_last_seq", "gauge", "Highest sequence number applied.");
    w.Sample("msx_sequencer_last_seq", static_cast<double>(sequencer_->last_seq()));
    w.Family("msx_sequencer_queue_depth", "gauge", "Items waiting in the sequencer ring.");
    w.Sample("msx_sequencer_queue_depth", static_cast<double>(sequencer_->queue_depth()));
    w.Family("msx_sequencer_queue_capacity", "gauge", "Slots of the sequencer ring.");
    w.Sample("msx_sequencer_queue_capacity", static_cast<double>(sequencer_->queue_capacity()));
    w.Family("msx_sequencer_journal_waits_total", "counter",
             "Times the sequencer waited for the journal (back-pressure).");
    w.Sample("msx_sequencer_journal_waits_total", static_cast<double>(sequencer_->journal_waits()));
    w.Family("msx_accepting", "gauge", "1 while commands are accepted; 0 once the journal failed.");
    w.Sample("msx_accepting", sequencer_->accepting() ? 1 : 0);
    if (gauges != nullptr) http::RenderEngineGauges(*gauges, *ref_, &w);
    w.Family("msx_stream_subscribers", "gauge",
             "Open StreamExecutions, StreamExecutionBatches and StreamBook streams per agency.");
    for (const Agency& a : ref_->agencies()) {
      w.Sample("msx_stream_subscribers", {{"agency", a.code}},
               static_cast<double>(stream_counts_->open(a.id)));
    }
    const std::int64_t snap_ns = snapshot_unix_ns_->load(std::memory_order_relaxed);
    if (snap_ns != 0) {
      w.Family("msx_snapshot_age_seconds", "gauge",
               "Seconds since the newest snapshot was written (absent: no snapshot yet).");
      w.Sample("msx_snapshot_age_seconds",
               std::max<double>(0, static_cast<double>(UnixNowNs() - snap_ns) / 1e9));
    }
    w.Family("msx_snapshots_written_total", "counter", "Snapshots written by this process.");
    w.Sample("msx_snapshots_written_total",
             static_cast<double>(snapshots_written_->load(std::memory_order_relaxed)));
    w.Family("msx_recovery_duration_seconds", "gauge",
             "Time the last start spent recovering (snapshot load and journal replay).");
    w.Sample("msx_recovery_duration_seconds", recovery_seconds_);
    w.Family("msx_recovery_replayed_commands", "gauge",
             "Journal commands replayed after the snapshot at the last start.");
    w.Sample("msx_recovery_replayed_commands", static_cast<double>(recovered_commands_));
    w.Family("msx_process_start_time_seconds", "gauge", "Start time of msx-server, Unix seconds.");
    w.Sample("msx_process_start_time_seconds", static_cast<double>(start_unix_ns_ / 1000000) / 1e3);
    RenderReplicationMetrics(&w);
    done(w.text());
  };
  auto* work = new MetricsQuery(render);
  if (!sequencer_->SubmitQuery(work).ok()) {
    delete work;
    render(nullptr);
  }
}

void ExchangeServer::RenderReplicationMetrics(http::PrometheusWriter* w) const {
  // Without replication the server is its own primary: msx_role says so, and the
  // msx_replication_* families are absent.
  ReplicationStatus st;
  st.role = ReplicationRole::kPrimary;
  if (replication_) st = replication_->status();
  w->Family("msx_role", "gauge",
            "1 for this server's current role (primary, standby, taking-over, failed), 0 "
            "for the others. A server without replication is a primary.");
  for (ReplicationRole r : {ReplicationRole::kPrimary, ReplicationRole::kStandby,
                            ReplicationRole::kTakingOver, ReplicationRole::kFailed}) {
    w->Sample("msx_role", {{"role", RoleName(r)}}, st.role == r ? 1 : 0);
  }
  if (!replication_) return;
  if (!st.leader_node.empty()) {
    w->Family("msx_replication_leader_info", "gauge",
              "The leader as this node last read the lease: node id and address (value 1).");
    w->Sample("msx_replication_leader_info",
              {{"node", st.leader_node}, {"address", st.leader_address}}, 1);
  }
  w->Family("msx_replication_leader_epoch", "gauge",
            "Leadership epoch: this node's while it leads, else the leader's as last read.");
  w->Sample("msx_replication_leader_epoch", static_cast<double>(st.epoch));
  w->Family("msx_replication_stream_seq", "gauge",
            "Last replicated stream message applied (standby) or acknowledged (primary).");
  w->Sample("msx_replication_stream_seq", static_cast<double>(st.stream_seq));
  w->Family("msx_replication_replicated_seq", "gauge",
            "Last command sequence number known to be in the replicated stream.");
  w->Sample("msx_replication_replicated_seq", static_cast<double>(st.replicated_seq));
  w->Family("msx_replication_lag_messages", "gauge",
            "Standby: stream messages (group commits) not yet applied here. Primary: groups "
            "published and not yet acknowledged by a NATS quorum.");
  w->Sample("msx_replication_lag_messages",
            static_cast<double>(st.role == ReplicationRole::kPrimary ? st.unconfirmed : st.lag));
  w->Family("msx_replication_lag_seconds", "gauge",
            "Standby: age of the oldest stream message not yet applied (dated when first "
            "seen). Primary: age of the oldest group not yet acknowledged. 0 when caught up.");
  w->Sample("msx_replication_lag_seconds", st.lag_seconds);
  w->Family("msx_replication_unacknowledged_bytes", "gauge",
            "Primary: journal bytes published and not yet acknowledged by a NATS quorum.");
  w->Sample("msx_replication_unacknowledged_bytes", static_cast<double>(st.unconfirmed_bytes));
  w->Family("msx_replication_no_quorum", "gauge",
            "Primary: 1 while commands are refused because no NATS quorum answers.");
  w->Sample("msx_replication_no_quorum", st.no_quorum ? 1 : 0);
  w->Family("msx_replication_publish_duration_seconds", "histogram",
            "Primary: from a group's hand-off by the sequencer to its acknowledgement by a "
            "NATS JetStream quorum (re-sends after a failure included).");
  w->HistogramSamples("msx_replication_publish_duration_seconds", replication_->publish_latency(),
                      1e9);
  w->Family("msx_replication_takeovers_total", "counter",
            "Times this node became the primary (claimed the lease and fenced the stream), "
            "its first start as primary included.");
  w->Sample("msx_replication_takeovers_total", static_cast<double>(st.takeovers));
  w->Family("msx_replication_fenced_total", "counter",
            "Times this node was fenced and failed closed: cause stream (another writer's "
            "message held its place) or lease (another node held the leader lease).");
  w->Sample("msx_replication_fenced_total", {{"cause", "stream"}},
            static_cast<double>(st.fenced_stream));
  w->Sample("msx_replication_fenced_total", {{"cause", "lease"}},
            static_cast<double>(st.fenced_lease));
  w->Family("msx_replication_resends_total", "counter",
            "Primary: failed asynchronous publishes that switched to re-sending in order.");
  w->Sample("msx_replication_resends_total", static_cast<double>(st.resends));
}

std::string ExchangeServer::StatusJson() {
  const auto now = std::chrono::steady_clock::now();
  const std::uint64_t commands = command_metrics_->total_commands();
  if (rate_at_ == std::chrono::steady_clock::time_point{}) {
    rate_at_ = now;
    rate_commands_ = commands;
  } else if (now - rate_at_ >= std::chrono::seconds(1)) {
    commands_per_second_ = static_cast<double>(commands - rate_commands_) /
                           std::chrono::duration<double>(now - rate_at_).count();
    rate_at_ = now;
    rate_commands_ = commands;
  }
  if (now - segments_at_ >= std::chrono::seconds(1)) {
    segments_at_ = now;
    const SegmentUsage u = ListSegmentUsage(server_config_.data_dir());
    segments_ = u.count;
    segments_bytes_ = u.bytes;
  }
  const journal::WriterStats st = journal_->stats();
  const std::string failure = sequencer_->accepting() ? std::string() : sequencer_->failure();
  std::string escaped;
  for (char c : failure) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) escaped.push_back(c);
  }
  return absl::StrCat(
      "\"last_seq\":", sequencer_->last_seq(), ",\"durable_seq\":", sequencer_->durable_seq(),
      ",\"durability\":\"",
      server_config_.durability() == v1::DURABILITY_NONE ? "none" : "sync",
      "\",\"accepting\":", sequencer_->accepting() ? "true" : "false", ",\"failure\":\"", escaped,
      "\",\"journal_bytes\":", segments_bytes_, ",\"journal_appended_bytes\":", st.bytes,
      ",\"journal_segments\":", segments_,
      ",\"group_commits\":", st.syncs, ",\"uptime_seconds\":",
      static_cast<std::int64_t>(std::chrono::duration<double>(now - started_at_).count()),
      ",\"commands_per_second\":", static_cast<std::int64_t>(commands_per_second_ + 0.5),
      ",\"queue_depth\":", sequencer_->queue_depth(), ",\"queue_capacity\":",
      sequencer_->queue_capacity(), ",", ReplicationJson());
}

std::string ExchangeServer::ReplicationJson() const {
  if (!replication_) return "\"role\":\"primary\",\"replication\":null";
  const ReplicationStatus st = replication_->status();
  nlohmann::json r = {{"node", st.node_id},
                      {"leader", st.leader_node},
                      {"leader_address", st.leader_address},
                      {"epoch", st.epoch},
                      {"replicated_seq", st.replicated_seq},
                      {"lag_messages",
                       st.role == ReplicationRole::kPrimary ? st.unconfirmed : st.lag},
                      {"lag_seconds", st.lag_seconds},
                      {"no_quorum", st.no_quorum},
                      {"takeovers", st.takeovers},
                      {"failure", st.failure}};
  return absl::StrCat("\"role\":", nlohmann::json(RoleName(st.role)).dump(),
                      ",\"replication\":", r.dump());
}

std::string ExchangeServer::Banner() const {
  std::string host = server_config_.listen().substr(0, server_config_.listen().rfind(':'));
  std::string address = absl::StrCat(host, ":", port_);
  std::string out = absl::StrCat(
      "msx-server: serving msx.v1.Exchange and msx.v1.Admin on ", address,
      server_config_.tls().cert_file().empty() ? " (plaintext)" : " (TLS)", "\n",
      "  data dir ", server_config_.data_dir(), ", durability ",
      server_config_.durability() == v1::DURABILITY_NONE ? "none" : "sync", "; ",
      recovery_summary_, "\n");
  if (replication_) {
    absl::StrAppend(&out, "  replication: NATS ",
                    absl::StrJoin(server_config_.replication().servers(), ","),
                    server_config_.replication().standby()
                        ? "; standby (takes over when the leader lease lapses)\n"
                        : "; primary when the leader lease is vacant, else standby\n");
  }
  if (http_port_ > 0) {
    const std::string& hl = server_config_.http().listen();
    absl::StrAppend(&out, "  operators' view: http://", hl.substr(0, hl.rfind(':')), ":", http_port_,
                    "/ (dashboard; sign in with a token) and /metrics (Prometheus)\n");
  } else {
    absl::StrAppend(&out,
                    "  operators' view: off (--http 127.0.0.1:8080 serves /metrics and the live "
                    "dashboard on loopback)\n");
  }
  // Tokens go in MSX_TOKEN (msx reads it; grpcurl -expand-headers reads ${MSX_TOKEN}), never
  // on a command line, where `ps` shows them to every user of the machine.
  std::string token_step;
  if (demo_config_) {
    absl::StrAppend(&out,
                    "  demo tokens (public: the embedded demo configuration only; a real "
                    "configuration lists token_sha256 digests, see msx-server --help):\n");
    std::string example_token;
    for (const auto& [agency, token] : tokens_->plaintext_tokens()) {
      const Agency& a = ref_->agencies()[agency];
      absl::StrAppend(&out, "    ", a.code, a.role == Role::kAdmin ? " (admin)" : "", ": ",
                      token, "\n");
      if (example_token.empty() && a.role != Role::kAdmin) example_token = token;
    }
    token_step = absl::StrCat("  try: export MSX_TOKEN=", example_token, "\n       ");
  } else {
    absl::StrAppend(&out, "  authentication: ", tokens_->digest_count(),
                    " bearer tokens (metadata \"authorization: Bearer <token>\"), not printed\n");
    token_step = "  try: export MSX_TOKEN=<your agency's token>\n       ";
  }
  const std::string grpcurl_header = "-expand-headers -H 'authorization: Bearer ${MSX_TOKEN}'";
  const v1::TlsConfig& tls = server_config_.tls();
  if (tls.cert_file().empty()) {
    absl::StrAppend(&out, token_step, "msx --server ", address, " pairs\n",
                    "       grpcurl -plaintext ", grpcurl_header, " ", address,
                    " msx.v1.Exchange/ListPairs\n");
    return out;
  }
  // TLS: clients need the CA that issued server.tls.cert_file (the server does not know
  // it), and a client certificate when the server requires one.
  const bool client_cert = !tls.client_ca_file().empty();
  absl::StrAppend(
      &out, token_step, "msx --server ", address, " --tls --ca-file CA.pem",
      client_cert ? " --cert-file CLIENT.pem --key-file CLIENT.key" : "", " pairs\n",
      "       grpcurl -cacert CA.pem", client_cert ? " -cert CLIENT.pem -key CLIENT.key" : "",
      " ", grpcurl_header, " ", address, " msx.v1.Exchange/ListPairs\n",
      "  (CA.pem: the CA that issued ", tls.cert_file(),
      client_cert ? absl::StrCat("; CLIENT.pem/.key: a client certificate issued by ",
                                 tls.client_ca_file(),
                                 tls.require_client_cert() ? ", required" : ", optional")
                  : std::string(),
      ")\n");
  return out;
}

}  // namespace msx::gateway
