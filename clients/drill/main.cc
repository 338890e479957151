// msx-drill: replays MSX journals for emergency drills, offline (and, with --server, live
// against a running msx-server). The command line is in args.h.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "clients/drill/args.h"
#include "clients/drill/drill_journal.h"
#include "clients/drill/huge_pages.h"
#include "clients/drill/live.h"
#include "clients/drill/report.h"
#include "clients/drill/report_html.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"

namespace {

using msx::drill::DrillArgs;
using msx::drill::kExitDiverged;
using msx::drill::kExitJournal;
using msx::drill::kExitLive;
using msx::drill::kExitOk;
using msx::drill::kExitOutput;
using msx::drill::kExitUsage;

int Usage(const std::string& error) {
  std::cerr << "msx-drill: " << error << "\n(msx-drill --help for usage)\n";
  return kExitUsage;
}

int JournalError(const absl::Status& s) {
  std::cerr << "msx-drill: " << s.message() << "\n";
  return kExitJournal;
}

// Writes `text` to `path` (replacing it); false (with a message on stderr) on failure.
bool WriteHtml(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    std::cerr << "msx-drill: --html: cannot write " << path << "\n";
    return false;
  }
  return true;
}

int Verify(const DrillArgs& a) {
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

int Report(const DrillArgs& a) {
  absl::StatusOr<msx::drill::ReportData> r = msx::drill::BuildReport(a.dir, a.top);
  if (!r.ok()) return JournalError(r.status());
  std::cout << (a.json ? msx::drill::RenderReportJson(*r) + "\n"
                       : msx::drill::RenderReportText(a.dir, *r));
  if (!a.html.empty() && !WriteHtml(a.html, msx::drill::RenderReportHtml(a.dir, *r))) {
    return kExitOutput;
  }
  return kExitOk;
}

// Replays `dir` against a.server. REQUIRES: !a.server.empty().
int Live(const DrillArgs& a, const std::string& dir) {
  absl::StatusOr<msx::drill::Speed> speed = msx::drill::ParseSpeed(a.speed);
  if (!speed.ok()) return Usage(std::string(speed.status().message()));
  msx::drill::LiveOptions options;
  options.server = a.server;
  options.speed = *speed;
  options.client_id_offset = a.client_id_offset;
  options.fill_wait_ms = a.fill_wait_ms;
  if (!a.tokens_config.empty()) {
    absl::StatusOr<msx::v1::ExchangeConfig> config = msx::ReadConfigFile(a.tokens_config);
    if (!config.ok()) return Usage(std::string(config.status().message()));
    msx::drill::TokensFromConfig(*config, &options);
  } else {
    msx::drill::TokensFromConfig(msx::DefaultConfig(), &options);
  }
  options.tokens = a.tokens;
  for (const auto& [code, path] : a.token_files) {
    absl::StatusOr<std::string> token =
        msx::drill::ReadTokenFile(absl::StrCat("--token-file ", code), path);
    if (!token.ok()) return Usage(std::string(token.status().message()));
    options.tokens[code] = *std::move(token);
  }
  options.admin_token = a.admin_token;
  if (!a.admin_token_file.empty()) {
    absl::StatusOr<std::string> token =
        msx::drill::ReadTokenFile("--admin-token-file", a.admin_token_file);
    if (!token.ok()) return Usage(std::string(token.status().message()));
    options.admin_token = *std::move(token);
  }
  options.getenv = [](const char* name) -> const char* { return std::getenv(name); };
  options.skip_agencies_without_token = a.skip_agencies_without_token;
  // A missing token is the caller's to fix (exit 2), and is found before anything is sent;
  // the journal's own errors (a bad configuration is InvalidArgument too) come first.
  if (absl::StatusOr<msx::drill::DrillJournal> j = msx::drill::OpenDrillJournal(dir); !j.ok()) {
    return JournalError(j.status());
  }
  if (absl::Status s = msx::drill::CheckLiveTokens(dir, options); !s.ok()) {
    if (absl::IsInvalidArgument(s)) return Usage(std::string(s.message()));
    return JournalError(s);
  }
  absl::StatusOr<msx::drill::LiveResult> r = msx::drill::LiveReplay(dir, options);
  if (!r.ok()) {
    std::cerr << "msx-drill: " << r.status().message() << "\n";
    const absl::Status& s = r.status();
    return absl::IsDataLoss(s) || absl::IsNotFound(s) ? kExitJournal : kExitLive;
  }
  std::cout << msx::drill::RenderLiveText(*r);
  return kExitOk;
}

int Replay(const DrillArgs& a) {
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

int Run(const DrillArgs& a) {
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
  if (!a.html.empty() &&
      !WriteHtml(a.html, msx::drill::RenderDrillHtml(a.dir, a.scenario, *r))) {
    return kExitOutput;
  }
  if (a.server.empty()) return kExitOk;
  return Live(a, a.out);
}

}  // namespace

int main(int argc, char** argv) {
  msx::drill::EnableHugePageMalloc(argv);
  absl::StatusOr<DrillArgs> a =
      msx::drill::ParseDrillArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!a.ok()) return Usage(std::string(a.status().message()));
  if (a->help) {
    std::cout << msx::drill::DrillUsage();
    return kExitOk;
  }
  if (!a->html.empty() && a->command != "report" && a->command != "run") {
    return Usage("--html is an option of report and run");
  }
  if (a->live && a->server.empty()) {
    const char* env = std::getenv("MSX_SERVER");
    if (env == nullptr || env[0] == '\0') {
      return Usage("--live: MSX_SERVER is not set; give --server HOST:PORT[,HOST:PORT...]");
    }
    a->server = env;
  }
  if (a->command == "verify") return Verify(*a);
  if (a->command == "report") return Report(*a);
  if (a->command == "run") return Run(*a);
  if (a->command == "replay") return Replay(*a);
  return Usage(absl::StrCat("unknown command \"", a->command, "\""));
}
