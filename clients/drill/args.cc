#include "clients/drill/args.h"

#include <boost/program_options.hpp>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/common/command_line.h"

namespace msx::drill {
namespace po = boost::program_options;
namespace {

constexpr char kUsage[] = R"(msx-drill: replay MSX journals for emergency drills.

Usage:
  msx-drill verify DIR [--json] [--digest]
      Replay every command of the journal in DIR through a fresh engine built from the
      journal's own configuration and check that every regenerated journaled event equals
      the journaled one byte for byte. Prints a one-line summary, or the first divergence
      (sequence number, file:offset, command, expected and actual event as JSON).
      --digest also prints the digest of the engine's final state (Engine::StateDigest).
  msx-drill report DIR [--json] [--top N] [--html FILE]
      Drill report: per pair book and instrument the volume swapped, fills, unfilled
      demand left resting at the end, time from acceptance to first fill (p50/p90/max,
      nearest rank); per agency the units received/delivered and holdings before/after,
      and loans lent and borrowed per instrument (returned, overdue, recalled, owed);
      per instrument and emergency level the need declared by buys with a declared need,
      allocated in auctions, met, met within 8 days, per agency and tier, and what
      continuous matching would have given each agency (a second replay); per agency
      its deliveries under WARNING/SERIOUS (confirmed, late, in window, overdue, pending
      at the end);
      the N busiest minutes by fills (default 5). Text by default, --json for one object.
      --html FILE also writes it as one self-contained HTML file with charts (volume over
      time per instrument, unfilled demand, net positions, busiest minutes; inline CSS
      and SVG, nothing fetched: it opens offline). Its figures equal --json's.
  msx-drill run DIR --scenario FILE --out OUTDIR [--json] [--top N] [--html FILE]
                [LIVE OPTIONS]
      What-if replay: apply the edits of FILE (msx.v1.Scenario, protobuf text format, see
      proto/msx/v1/drill.proto: export_ban, supply_shock, halt_pair, resume_pair,
      inject_offer, set_level, publish_reference, admit_member, suspend_member, default,
      recall_all, external_supply_loss (an agency bids for `units` more of an instrument:
      a buy declaring that need at the reference price), each at_seq or at_time_ns) while
      replaying DIR, write the drill as a new journal in OUTDIR (replayable: msx-drill
      verify OUTDIR) and compare it with the original side by side (fills, volume,
      shortfalls per instrument; declared needs and deliveries per agency of both).
      --html FILE also writes the comparison as HTML, the drill beside the original on
      the same axes, with both deliveries tables.
      With --server, the drill journal is then also replayed live (see replay).
  msx-drill replay DIR [--speed X] [--server HOST:PORT[,HOST:PORT...] | --live] [LIVE OPTIONS]
      Without --server or --live: the offline replay (--speed max), same as verify.
      With --server: resubmit the journal's commands to a running msx-server over gRPC at
      X times the original pace (X = max, 1, 10, 0.5, ...): offers, cancels and replaces
      and term offers, returns and recalls as their agencies, SetHoldings/HaltPair/
      ResumePair and the emergency commands (PublishReference, AdmitMember, SuspendMember,
      SetEmergencyLevel) as the admin, ConfirmDelivery as the receiver (or the admin).
      Offer, term offer, obligation and delivery ids are translated to the live server's
      (a delivery by the live fill the same submit or replace made, or the same
      auction fill on a party's execution stream, never by amount);
      AdvanceTime and RunAuction are skipped (the server keeps its own time and auction
      ticks). Deliveries and loans the journal confirms, returns or recalls but the live
      server has no counterpart of are not sent and are named in the summary ("Unmatched:
      ... journal delivery ids 3, 7"); the exit status stays 0. A journal with commands
      of an agency that has no token is refused before anything is sent, naming the
      agency (see the tokens below).
  msx-drill --help

Live options:
  --server HOST:PORT         the msx-server to replay against (the only network use);
                             several, comma-separated (a primary and its hot standbys):
                             a call answered UNAVAILABLE is sent again, unchanged, to
                             the next in turn for up to 10 s, as msx does (a submit keeps
                             its client offer id, so nothing is executed twice)
  --live                     replay against MSX_SERVER (same syntax) when --server is
                             not given (the environment alone never makes a replay live)
  --speed X                  max (default) or a positive decimal multiple of the pace
  --token-file CODE=FILE     the token of agency CODE is the first line of FILE
                             (repeatable)
  --token CODE=TOKEN         the same on the command line (visible in ps; prefer a file)
  env MSX_TOKEN_<CODE>       an agency's token from the environment, CODE upper-cased
                             with other characters as _ (MSX_TOKEN_CMSR_AU); used when
                             neither flag names the agency
  --tokens-config FILE       plaintext tokens (first of each agency, first admin) of this
                             msx.v1.ExchangeConfig text file, used last; a real
                             configuration holds only token_sha256 digests, which give
                             none. Default: the embedded configuration's demo tokens
  --admin-token-file FILE    the admin token (SetHoldings, HaltPair, ResumePair); also
  --admin-token TOKEN        on the command line, or env MSX_ADMIN_TOKEN
  --skip-agencies-without-token
                             skip the commands of agencies (and the admin commands)
                             without a token instead of refusing the replay
  --client-id-offset N       add N to every client_offer_id (to replay twice on one server)
  --fill-wait-ms N           how long an auction fill's report is waited for on its
                             party's execution stream once that stream has gone quiet
                             (default 300); raise it on a loaded machine

Holdings "before" are those after the journal's initial SetHoldings commands (just before
its first command of another type).

Exit codes:
  0  success (verify: the journal replays byte for byte)
  1  verify: replay diverged (the first divergence is printed)
  2  usage error: bad arguments, bad scenario file
  3  the journal cannot be read: missing, corrupt (file:offset named), bad configuration
  4  the drill journal (OUTDIR) or the --html file could not be written
  5  live replay: the server could not be reached or refused the replay
)";

}  // namespace

const char* DrillUsage() { return kUsage; }

absl::StatusOr<DrillArgs> ParseDrillArgs(const std::vector<std::string>& args) {
  DrillArgs a;
  std::string top, client_id_offset, fill_wait_ms;
  std::vector<std::string> tokens, token_files, positional;
  // The flags are documented in kUsage, which is the --help text.
  po::options_description flags;
  po::options_description_easy_init add = flags.add_options();
  add("help,h", "");
  add("json", po::bool_switch(&a.json), "");
  add("digest", po::bool_switch(&a.digest), "");
  add("top", po::value(&top), "");
  add("scenario", po::value(&a.scenario), "");
  add("out", po::value(&a.out), "");
  add("html", po::value(&a.html), "");
  add("speed", po::value(&a.speed), "");
  add("server", po::value(&a.server), "");
  add("live", po::bool_switch(&a.live), "");
  add("tokens-config", po::value(&a.tokens_config), "");
  add("token", po::value(&tokens)->composing(), "");
  add("admin-token", po::value(&a.admin_token), "");
  add("token-file", po::value(&token_files)->composing(), "");
  add("admin-token-file", po::value(&a.admin_token_file), "");
  add("skip-agencies-without-token", po::bool_switch(&a.skip_agencies_without_token), "");
  add("client-id-offset", po::value(&client_id_offset), "");
  add("fill-wait-ms", po::value(&fill_wait_ms), "");
  po::variables_map vm;
  if (absl::Status s = clients::ParseFlags(args, flags, &positional, &vm); !s.ok()) return s;
  if (vm.count("help") || (!positional.empty() && positional[0] == "help")) {
    a.help = true;
    return a;
  }
  if (vm.count("top") && (!absl::SimpleAtoi(top, &a.top) || a.top < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--top: not a non-negative integer: ", top));
  }
  if (vm.count("client-id-offset") && !absl::SimpleAtoi(client_id_offset, &a.client_id_offset)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--client-id-offset: not a non-negative integer: ", client_id_offset));
  }
  if (vm.count("fill-wait-ms") &&
      (!absl::SimpleAtoi(fill_wait_ms, &a.fill_wait_ms) || a.fill_wait_ms < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fill-wait-ms: not a non-negative integer: ", fill_wait_ms));
  }
  for (const std::string& t : tokens) {
    const std::size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size()) {
      return absl::InvalidArgumentError(absl::StrCat("--token: expected CODE=TOKEN, got ", t));
    }
    a.tokens[t.substr(0, eq)] = t.substr(eq + 1);
  }
  for (const std::string& t : token_files) {
    const std::size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: expected CODE=FILE, got ", t));
    }
    a.token_files[t.substr(0, eq)] = t.substr(eq + 1);
  }
  if (positional.empty()) {
    return absl::InvalidArgumentError("missing command (verify, report, run or replay)");
  }
  a.command = positional[0];
  if (positional.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(a.command, ": missing journal directory"));
  }
  if (positional.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", positional[2]));
  }
  a.dir = positional[1];
  return a;
}

}  // namespace msx::drill
