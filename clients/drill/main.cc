// msx-drill: replays MSX journals for emergency drills, offline (and, with --server, live
// against a running msx-server). See kUsage.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/drill/huge_pages.h"
#include "clients/drill/live.h"
#include "clients/drill/report.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"

namespace {

constexpr char kUsage[] = R"(msx-drill: replay MSX journals for emergency drills.

Usage:
  msx-drill verify DIR [--json] [--digest]
      Replay every command of the journal in DIR through a fresh engine built from the
      journal's own configuration and check that every regenerated journaled event equals
      the journaled one byte for byte. Prints a one-line summary, or the first divergence
      (sequence number, file:offset, command, expected and actual event as JSON).
      --digest also prints the digest of the engine's final state (Engine::StateDigest).
  msx-drill report DIR [--json] [--top N]
      Drill report: per pair book and instrument the volume swapped, fills, unfilled
      demand left resting at the end, time from acceptance to first fill (p50/p90/max,
      nearest rank); per agency the units received/delivered and holdings before/after;
      the N busiest minutes by fills (default 5). Text by default, --json for one object.
  msx-drill run DIR --scenario FILE --out OUTDIR [--json] [--top N] [LIVE OPTIONS]
      What-if replay: apply the edits of FILE (msx.v1.Scenario, protobuf text format, see
      proto/msx/v1/drill.proto: export_ban, supply_shock, halt_pair, resume_pair,
      inject_offer, each at_seq or at_time_ns) while replaying DIR, write the drill as a
      new journal in OUTDIR (replayable: msx-drill verify OUTDIR) and compare it with the
      original side by side (fills, volume, shortfalls per instrument).
      With --server, the drill journal is then also replayed live (see replay).
  msx-drill replay DIR [--speed X] [--server HOST:PORT LIVE OPTIONS]
      Without --server: the offline replay (--speed max), same as verify.
      With --server: resubmit the journal's commands to a running msx-server over gRPC at
      X times the original pace (X = max, 1, 10, 0.5, ...): offers, cancels and replaces
      as their agencies, SetHoldings/HaltPair/ResumePair as the admin. Offer ids are
      translated to the live server's; AdvanceTime is skipped (the server keeps its own
      time); commands of agencies without a token are skipped.
  msx-drill --help

Live options:
  --server HOST:PORT         the msx-server to replay against (the only network use)
  --speed X                  max (default) or a positive decimal multiple of the pace
  --tokens-config FILE       take every agency's (first) token and the admin token from
                             this msx.v1.ExchangeConfig text file (journals hold no
                             tokens); default: the embedded default configuration's demo
                             tokens
  --token CODE=TOKEN         the token of one agency (repeatable; overrides the above)
  --admin-token TOKEN        the admin token (SetHoldings, HaltPair, ResumePair)
  --client-id-offset N       add N to every client_offer_id (to replay twice on one server)

Holdings "before" are those after the journal's initial SetHoldings commands (just before
its first command of another type).

Exit codes:
  0  success (verify: the journal replays byte for byte)
  1  verify: replay diverged (the first divergence is printed)
  2  usage error: bad arguments, bad scenario file
  3  the journal cannot be read: missing, corrupt (file:offset named), bad configuration
  4  the drill journal could not be written (OUTDIR)
  5  live replay: the server could not be reached or refused the replay
)";

constexpr int kExitOk = 0;
constexpr int kExitDiverged = 1;
constexpr int kExitUsage = 2;
constexpr int kExitJournal = 3;
constexpr int kExitOutput = 4;
constexpr int kExitLive = 5;

struct Args {
  std::string command;
  std::string dir;
  bool json = false;
  bool digest = false;
  int top = 5;
  std::string scenario;
  std::string out;
  std::string speed = "max";
  std::string server;
  std::string tokens_config;
  std::map<std::string, std::string> tokens;
  std::string admin_token;
  std::uint64_t client_id_offset = 0;
};

int Usage(const std::string& error) {
  std::cerr << "msx-drill: " << error << "\n(msx-drill --help for usage)\n";
  return kExitUsage;
}

int JournalError(const absl::Status& s) {
  std::cerr << "msx-drill: " << s.message() << "\n";
  return kExitJournal;
}

std::optional<std::string> ParseArgs(int argc, char** argv, Args* a) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      (void)name;
      return std::string(argv[++i]);
    };
    if (arg == "--json") {
      a->json = true;
    } else if (arg == "--digest") {
      a->digest = true;
    } else if (arg == "--top" || arg == "--scenario" || arg == "--out" || arg == "--speed" ||
               arg == "--server" || arg == "--tokens-config" || arg == "--token" ||
               arg == "--admin-token" || arg == "--client-id-offset") {
      std::optional<std::string> v = value(arg.c_str());
      if (!v) return absl::StrCat(arg, " needs a value");
      if (arg == "--top") {
        if (!absl::SimpleAtoi(*v, &a->top) || a->top < 0) {
          return absl::StrCat("--top: not a non-negative integer: ", *v);
        }
      } else if (arg == "--scenario") {
        a->scenario = *v;
      } else if (arg == "--out") {
        a->out = *v;
      } else if (arg == "--speed") {
        a->speed = *v;
      } else if (arg == "--server") {
        a->server = *v;
      } else if (arg == "--tokens-config") {
        a->tokens_config = *v;
      } else if (arg == "--admin-token") {
        a->admin_token = *v;
      } else if (arg == "--client-id-offset") {
        if (!absl::SimpleAtoi(*v, &a->client_id_offset)) {
          return absl::StrCat("--client-id-offset: not a non-negative integer: ", *v);
        }
      } else {
        const std::size_t eq = v->find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == v->size()) {
          return absl::StrCat("--token: expected CODE=TOKEN, got ", *v);
        }
        a->tokens[v->substr(0, eq)] = v->substr(eq + 1);
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return absl::StrCat("unknown flag ", arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.empty()) return std::string("missing command (verify, report or run)");
  a->command = positional[0];
  if (positional.size() < 2) return absl::StrCat(a->command, ": missing journal directory");
  if (positional.size() > 2) return absl::StrCat("unexpected argument ", positional[2]);
  a->dir = positional[1];
  return std::nullopt;
}

int Verify(const Args& a) {
  absl::StatusOr<msx::drill::VerifyResult> r = msx::drill::VerifyReplay(a.dir, a.digest);
  if (!r.ok()) return JournalError(r.status());
  if (a.json) {
    std::cout << msx::drill::RenderVerifyJson(a.dir, *r) << "\n";
  } else if (r->diverged) {
    std::cout << msx::drill::DivergenceMessage(r->divergence) << "\n";
  } else {
    std::cout << msx::drill::VerifySummary(a.dir, *r) << "\n";
  }
  return r->diverged ? kExitDiverged : kExitOk;
}

int Report(const Args& a) {
  absl::StatusOr<msx::drill::ReportData> r = msx::drill::BuildReport(a.dir, a.top);
  if (!r.ok()) return JournalError(r.status());
  std::cout << (a.json ? msx::drill::RenderReportJson(*r) + "\n"
                       : msx::drill::RenderReportText(a.dir, *r));
  return kExitOk;
}

// Replays `dir` against a.server. REQUIRES: !a.server.empty().
int Live(const Args& a, const std::string& dir) {
  absl::StatusOr<msx::drill::Speed> speed = msx::drill::ParseSpeed(a.speed);
  if (!speed.ok()) return Usage(std::string(speed.status().message()));
  msx::drill::LiveOptions options;
  options.server = a.server;
  options.speed = *speed;
  options.client_id_offset = a.client_id_offset;
  if (!a.tokens_config.empty()) {
    absl::StatusOr<msx::v1::ExchangeConfig> config = msx::ReadConfigFile(a.tokens_config);
    if (!config.ok()) return Usage(std::string(config.status().message()));
    msx::drill::TokensFromConfig(*config, &options);
  } else {
    msx::drill::TokensFromConfig(msx::DefaultConfig(), &options);
  }
  for (const auto& [code, token] : a.tokens) options.tokens[code] = token;
  if (!a.admin_token.empty()) options.admin_token = a.admin_token;
  absl::StatusOr<msx::drill::LiveResult> r = msx::drill::LiveReplay(dir, options);
  if (!r.ok()) {
    std::cerr << "msx-drill: " << r.status().message() << "\n";
    const absl::Status& s = r.status();
    return absl::IsDataLoss(s) || absl::IsNotFound(s) ? kExitJournal : kExitLive;
  }
  std::cout << msx::drill::RenderLiveText(*r);
  return kExitOk;
}

int Replay(const Args& a) {
  absl::StatusOr<msx::drill::Speed> speed = msx::drill::ParseSpeed(a.speed);
  if (!speed.ok()) return Usage(std::string(speed.status().message()));
  if (a.server.empty()) {
    if (!speed->max) {
      return Usage("--speed other than max replays against a live server: give --server");
    }
    return Verify(a);
  }
  return Live(a, a.dir);
}

int Run(const Args& a) {
  if (a.scenario.empty()) return Usage("run: --scenario FILE is required");
  if (a.out.empty()) return Usage("run: --out OUTDIR is required");
  absl::StatusOr<msx::drill::Speed> speed = msx::drill::ParseSpeed(a.speed);
  if (!speed.ok()) return Usage(std::string(speed.status().message()));
  if (!speed->max && a.server.empty()) {
    return Usage("--speed other than max replays against a live server: give --server");
  }
  absl::StatusOr<msx::v1::Scenario> scenario = msx::drill::ReadScenarioFile(a.scenario);
  if (!scenario.ok()) return Usage(std::string(scenario.status().message()));
  absl::StatusOr<msx::drill::DrillResult> r = msx::drill::RunDrill(a.dir, *scenario, a.out, a.top);
  if (!r.ok()) {
    const absl::Status& s = r.status();
    std::cerr << "msx-drill: " << s.message() << "\n";
    if (absl::IsInvalidArgument(s) && s.message().rfind("edits[", 0) == 0) return kExitUsage;
    if (absl::IsDataLoss(s) || absl::IsNotFound(s) || absl::IsInvalidArgument(s)) {
      return kExitJournal;
    }
    return kExitOutput;
  }
  std::cout << (a.json ? msx::drill::RenderDrillJson(*r) + "\n" : msx::drill::RenderDrillText(*r));
  if (a.server.empty()) return kExitOk;
  return Live(a, a.out);
}

}  // namespace

int main(int argc, char** argv) {
  msx::drill::EnableHugePageMalloc(argv);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
  }
  Args a;
  if (std::optional<std::string> err = ParseArgs(argc, argv, &a)) return Usage(*err);
  if (a.command == "verify") return Verify(a);
  if (a.command == "report") return Report(a);
  if (a.command == "run") return Run(a);
  if (a.command == "replay") return Replay(a);
  return Usage(absl::StrCat("unknown command \"", a.command, "\""));
}
