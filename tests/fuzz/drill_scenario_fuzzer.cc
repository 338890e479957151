// Fuzz target: the drill scenario loader and what-if replay (clients/drill/scenario.h).
//
// The input is a Scenario in protobuf text format, run on a small synthetic journal of the
// embedded default configuration (written once per process with the real JournalWriter).
// Invariants:
//   * a scenario that parses and resolves has one resolved edit per edit, in order, with
//     ids inside the reference data, a positive supply-shock denominator, and a supply
//     loss of > 0 units on a pair whose base is its instrument;
//   * a resolve error is INVALID_ARGUMENT naming the edit ("edits[<i>]...");
//   * RunDrill succeeds on a resolved scenario, fires each edit at most once, replays every
//     command of the journal, and the drill journal it writes replays and verifies on its
//     own (msx-drill verify: every regenerated event equals the journaled one) with as many
//     commands as the result says; the text and JSON renderings do not fail.
#include <dirent.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"
#include "engine/matching/reference_data.h"
#include "engine/testing/traffic_journal.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

struct Fixture {
  std::string root;
  std::string journal;
  msx::ReferenceData ref;
  std::uint64_t commands = 0;
};

std::string MakeTemp() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/msx-fuzz-drill-XXXXXX";
  MSX_FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  return tmpl;
}

void RemoveTree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(dir + "/" + e->d_name);
    }
  }
  ::closedir(d);
  for (const std::string& n : names) {
    if (::unlink(n.c_str()) != 0) RemoveTree(n);
  }
  ::rmdir(dir.c_str());
}

const Fixture& GetFixture() {
  static const Fixture* const fixture = [] {
    auto ref = msx::LoadReferenceData(msx::DefaultConfig());
    MSX_FUZZ_CHECK(ref.ok(), "default config: %s", ref.status().ToString().c_str());
    auto* f = new Fixture{MakeTemp(), "", *std::move(ref), 0};
    f->journal = f->root + "/journal";
    msx::testing::TrafficOptions options;
    options.commands = 300;
    options.seed = 12;
    options.mean_gap_ns = 1'000'000'000;  // one command a second: time triggers spread out
    auto stats = msx::testing::WriteTrafficJournal(f->journal, msx::DefaultConfig(), options);
    MSX_FUZZ_CHECK(stats.ok(), "traffic journal: %s", stats.status().ToString().c_str());
    f->commands = stats->commands;
    std::atexit([] { RemoveTree(GetFixture().root); });
    return f;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& fx = GetFixture();
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<msx::v1::Scenario> scenario = msx::drill::ParseScenarioText(text);
  if (!scenario.ok()) return 0;
  if (scenario->edits_size() > 64) return 0;  // keep one run short

  absl::StatusOr<std::vector<msx::drill::ResolvedEdit>> edits =
      msx::drill::ResolveScenario(*scenario, fx.ref);
  if (!edits.ok()) {
    MSX_FUZZ_CHECK(absl::IsInvalidArgument(edits.status()) &&
                       absl::StartsWith(edits.status().message(), "edits["),
                   "resolve error does not name the edit: %s",
                   edits.status().ToString().c_str());
    return 0;
  }
  MSX_FUZZ_CHECK(static_cast<int>(edits->size()) == scenario->edits_size(),
                 "%zu resolved edits for %d edits", edits->size(), scenario->edits_size());
  for (std::size_t i = 0; i < edits->size(); ++i) {
    const msx::drill::ResolvedEdit& e = (*edits)[i];
    MSX_FUZZ_CHECK(e.index == static_cast<int>(i), "edit %zu resolved as index %d", i, e.index);
    MSX_FUZZ_CHECK(e.agency < fx.ref.agencies().size() && e.pair < fx.ref.pairs().size() &&
                       e.instrument < fx.ref.instruments().size(),
                   "edit %zu resolved to ids outside the reference data", i);
    MSX_FUZZ_CHECK(e.denominator > 0 && e.numerator >= 0, "edit %zu: supply shock %lld/%lld", i,
                   static_cast<long long>(e.numerator), static_cast<long long>(e.denominator));
    if (e.kind == msx::drill::ResolvedEdit::Kind::kSupplyLoss) {
      MSX_FUZZ_CHECK(e.units > 0 && (e.any_pair || fx.ref.pairs()[e.pair].base == e.instrument),
                     "edit %zu: supply loss of %lld units on a pair without its base", i,
                     static_cast<long long>(e.units));
    }
  }

  const std::string out = fx.root + "/out";
  RemoveTree(out);
  absl::StatusOr<msx::drill::DrillResult> result =
      msx::drill::RunDrill(fx.journal, *scenario, out, 5);
  MSX_FUZZ_CHECK(result.ok(), "RunDrill failed on a resolved scenario: %s",
                 result.status().ToString().c_str());
  MSX_FUZZ_CHECK(result->original_commands == fx.commands, "replayed %llu of %llu commands",
                 static_cast<unsigned long long>(result->original_commands),
                 static_cast<unsigned long long>(fx.commands));
  std::set<int> fired;
  for (const msx::drill::FiredEdit& f : result->fired) {
    MSX_FUZZ_CHECK(f.index >= 0 && f.index < scenario->edits_size() && fired.insert(f.index).second,
                   "edit %d fired twice or does not exist", f.index);
  }
  MSX_FUZZ_CHECK(static_cast<int>(fired.size()) == scenario->edits_size(),
                 "%zu of %d edits fired (every edit fires, at the end at the latest)",
                 fired.size(), scenario->edits_size());
  absl::StatusOr<msx::drill::VerifyResult> verified = msx::drill::VerifyReplay(out);
  MSX_FUZZ_CHECK(verified.ok(), "the drill journal does not read: %s",
                 verified.status().ToString().c_str());
  MSX_FUZZ_CHECK(!verified->diverged,
                 "the drill journal does not replay: seq %llu: journaled %s, replayed %s",
                 static_cast<unsigned long long>(verified->divergence.seq),
                 verified->divergence.expected.dump().c_str(),
                 verified->divergence.actual.dump().c_str());
  MSX_FUZZ_CHECK(verified->commands == result->drill_commands,
                 "the drill journal holds %llu commands, the result says %llu",
                 static_cast<unsigned long long>(verified->commands),
                 static_cast<unsigned long long>(result->drill_commands));
  MSX_FUZZ_CHECK(!msx::drill::RenderDrillText(*result).empty() &&
                     !msx::drill::RenderDrillJson(*result).empty(),
                 "empty rendering");
  RemoveTree(out);
  return 0;
}
