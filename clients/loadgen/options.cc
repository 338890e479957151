#include "clients/loadgen/options.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/common/failover.h"
#include "absl/strings/strip.h"

namespace msx::loadgen {
namespace po = boost::program_options;

std::vector<AgencyCredential> DefaultAgencies() {
  return {{"KOMIR", "demo-komir"},
          {"JOGMEC", "demo-jogmec"},
          {"DLA", "demo-dla"},
          {"CMSR-AU", "demo-cmsr-au"}};
}

absl::StatusOr<std::vector<AgencyCredential>> ParseAgencies(const std::string& text) {
  std::vector<AgencyCredential> out;
  absl::flat_hash_set<std::string> seen;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::vector<std::string> kv = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--agencies: '", entry, "' is not AGENCY=TOKEN"));
    }
    if (!seen.insert(kv[0]).second) {
      return absl::InvalidArgumentError(absl::StrCat("--agencies: ", kv[0], " given twice"));
    }
    out.push_back({kv[0], kv[1]});
  }
  if (out.empty()) return absl::InvalidArgumentError("--agencies: no agency given");
  return out;
}

absl::StatusOr<ParsedOptions> ParseLoadgenOptions(const std::vector<std::string>& args,
                                                  const char* env_server) {
  ParsedOptions parsed;
  LoadgenOptions& o = parsed.options;
  double duration_s = 0;
  std::string agencies, pairs;
  po::options_description desc(
      "Usage: msx-loadgen [options]\n"
      "Drives msx-server with swap offers from several agencies and measures latency.\n"
      "Open loop (--rate N): send times are scheduled in advance and latency is measured\n"
      "from the scheduled time, so a stalled server cannot hide its backlog (coordinated\n"
      "omission corrected). Closed loop (--rate 0): one call in flight per channel\n"
      "(--api order-entry: --window x agencies per channel, one stream per agency).\n"
      "The mix: pairs of crossing offers between eligible agencies at prices inside the\n"
      "band (real fills), plus passive offers that are later cancelled.\n"
      "Prints a progress line per second on stderr and a summary on stdout; with --json\n"
      "the last stdout line is one JSON object.\nOptions");
  desc.add_options()("help,h", "print this help")(
      "server", po::value(&o.server),
      "HOST:PORT (env MSX_SERVER; default 127.0.0.1:50051); several, comma-separated (a "
      "primary and its hot standbys, --api unary): a call answered UNAVAILABLE is sent "
      "again, unchanged (same client offer id), to the next in turn for up to 10 s, as msx "
      "does; execution streams resume there")(
      "rate", po::value(&o.rate),
      "calls per second (submits and cancels, see --cancel-percent), open loop; 0 = closed "
      "loop (default 1000)")("duration", po::value(&duration_s),
                             "seconds to send for (default 10 unless --count)")(
      "count", po::value(&o.count), "operations to send (stops at whichever comes first)")(
      "concurrency", po::value(&o.concurrency), "gRPC channels/connections (default 4)")(
      "threads", po::value(&o.threads), "driver threads (default min(concurrency, 2))")(
      "agencies", po::value(&agencies),
      "AGENCY=TOKEN,... (default KOMIR,JOGMEC,DLA,CMSR-AU with their demo tokens)")(
      "pairs", po::value(&pairs), "PAIR,... to trade (default: every pair with holdings)")(
      "cancel-percent", po::value(&o.cancel_percent),
      "share of operations that cancel a resting offer, 0..45 (default 10)")(
      "max-lots", po::value(&o.max_lots), "crossing offers are 1..N lots (default 2)")(
      "admin-token", po::value(&o.admin_token),
      "admin token to read the start sequence (default demo-admin; empty = none)")(
      "deadline-ms", po::value(&o.deadline_ms), "per-call deadline (default 5000)")(
      "json", "last stdout line: one JSON summary object")(
      "echo", "target msx-echo-server (the floor) instead of msx-server")("quiet",
                                                                          "no progress lines")(
      "exec-stream", po::value(&o.exec_stream),
      "how execution reports are read: batches (StreamExecutionBatches, several reports "
      "per message; default), reports (StreamExecutions, one message per report) or none "
      "(no execution stream: measures the calls alone; exec latency and fills are not "
      "reported)")(
      "api", po::value(&o.api),
      "unary (one SubmitOffer/CancelOffer call per operation; default), order-entry (each "
      "channel opens one OrderEntry stream per agency and pipelines the operations on it with "
      "correlation ids) or order-entry-batches (the same on OrderEntryBatches: the requests "
      "ready on a stream go in one message, responses come in batches)")(
      "window", po::value(&o.window),
      "order-entry: requests in flight per stream, 1..4096 (default 32). Open loop: a "
      "stream's requests beyond it wait (and the wait counts as latency). Closed loop: each "
      "channel keeps window x agencies requests in flight, each sent at once on its "
      "agency's stream (window per stream on average)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (vm.count("help")) {
    std::ostringstream out;
    out << desc;
    parsed.help = out.str();
    return parsed;
  }
  o.server = clients::ChooseServerList(vm.count("server") ? o.server : "", env_server,
                                      "127.0.0.1:50051");
  const std::size_t servers = clients::SplitServerList(o.server).size();
  if (servers == 0) return absl::InvalidArgumentError("--server: no HOST:PORT given");
  o.json = vm.count("json") > 0;
  o.echo = vm.count("echo") > 0;
  o.progress = vm.count("quiet") == 0;
  if (o.exec_stream != "batches" && o.exec_stream != "reports" && o.exec_stream != "none") {
    return absl::InvalidArgumentError("--exec-stream must be batches, reports or none");
  }
  if (o.api != "unary" && o.api != "order-entry" && o.api != "order-entry-batches") {
    return absl::InvalidArgumentError("--api must be unary, order-entry or order-entry-batches");
  }
  if (vm.count("window") && o.api == "unary") {
    return absl::InvalidArgumentError("--window applies only to --api order-entry(-batches)");
  }
  if (o.window < 1 || o.window > kMaxOrderEntryWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("--window must be in 1..", kMaxOrderEntryWindow,
                     " (the server's limit of requests in flight per stream)"));
  }
  if (servers > 1 && (o.echo || o.api != "unary")) {
    return absl::InvalidArgumentError(
        "--server: several servers (failover) work with --api unary against msx-server only");
  }
  if (o.echo && o.api != "unary") {
    return absl::InvalidArgumentError(absl::StrCat("--api ", o.api, " cannot be used with --echo"));
  }
  if (o.rate < 0) return absl::InvalidArgumentError("--rate must be >= 0");
  if (o.count < 0) return absl::InvalidArgumentError("--count must be >= 0");
  if (!(duration_s >= 0) || duration_s > 86400) {
    return absl::InvalidArgumentError("--duration must be in 0..86400 seconds");
  }
  o.duration_ms = static_cast<std::int64_t>(std::llround(duration_s * 1000));
  if (vm.count("duration") && o.duration_ms == 0) {
    return absl::InvalidArgumentError("--duration must be at least 0.001");
  }
  if (o.duration_ms == 0 && o.count == 0) o.duration_ms = 10000;
  if (o.concurrency < 1 || o.concurrency > 1024) {
    return absl::InvalidArgumentError("--concurrency must be in 1..1024");
  }
  if (o.threads < 0 || o.threads > 64) {
    return absl::InvalidArgumentError("--threads must be in 0..64");
  }
  if (o.threads == 0) o.threads = o.concurrency < 2 ? o.concurrency : 2;
  if (o.threads > o.concurrency) {
    return absl::InvalidArgumentError("--threads must not exceed --concurrency");
  }
  if (o.cancel_percent < 0 || o.cancel_percent > 45) {
    return absl::InvalidArgumentError("--cancel-percent must be in 0..45");
  }
  if (o.max_lots < 1) return absl::InvalidArgumentError("--max-lots must be >= 1");
  if (o.deadline_ms < 1) return absl::InvalidArgumentError("--deadline-ms must be >= 1");
  if (vm.count("agencies")) {
    auto a = ParseAgencies(agencies);
    if (!a.ok()) return a.status();
    o.agencies = *std::move(a);
  }
  if (!o.echo && o.agencies.size() < 2) {
    return absl::InvalidArgumentError("--agencies: at least two agencies are needed to swap");
  }
  for (absl::string_view p : absl::StrSplit(pairs, ',', absl::SkipWhitespace())) {
    o.pairs.emplace_back(absl::StripAsciiWhitespace(p));
  }
  return parsed;
}

}  // namespace msx::loadgen
