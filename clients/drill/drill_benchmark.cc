// msx-drill benchmarks: offline replay + byte-for-byte verification, and the drill report,
// on a journal of synthetic valid traffic generated once in setup (default configuration,
// see engine/testing/traffic_journal.h). Records are COMMAND + EVENT records.
//
//   build-drill/bench/msx_drill_bench --benchmark_format=json
// Rates are per CPU second of this process (the machine is shared; real time is printed
// alongside and equals CPU time on an idle machine: nothing here waits for I/O once the
// journal is in the page cache).
//   MSX_DRILL_BENCH_COMMANDS=4000000 (default 1,500,000) sets the journal size;
//   MSX_DRILL_BENCH_DIR=DIR generates the journal into DIR and keeps it (e.g. to time
//   `msx-drill verify DIR` on it), or reuses the journal DIR already holds.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "benchmark/benchmark.h"
#include "clients/drill/huge_pages.h"
#include "clients/drill/report.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"
#include "engine/journal/reader.h"
#include "engine/testing/traffic_journal.h"

namespace {

class BenchJournal {
 public:
  static BenchJournal& Get() {
    static BenchJournal j;
    return j;
  }
  const std::string& dir() const { return dir_; }
  const msx::testing::TrafficStats& stats() const { return stats_; }
  bool ok() const { return ok_; }

 private:
  BenchJournal() {
    if (const char* keep = std::getenv("MSX_DRILL_BENCH_DIR")) {
      dir_ = keep;
      keep_ = true;
    } else {
      const char* base = std::getenv("TMPDIR");
      std::string tmpl = std::string(base ? base : "/tmp") + "/msx-drill-bench-XXXXXX";
      dir_ = ::mkdtemp(tmpl.data());
    }
    if (keep_) {
      auto existing = msx::journal::VerifyJournal(dir_);
      if (existing.ok() && existing->commands > 0) {
        stats_.commands = existing->commands;
        stats_.records = existing->records - existing->config_records;
        stats_.fills = existing->fills;
        ok_ = true;
        return;
      }
    }
    msx::testing::TrafficOptions opt;
    opt.commands = 1'500'000;
    if (const char* n = std::getenv("MSX_DRILL_BENCH_COMMANDS"))
      opt.commands = std::strtoull(n, nullptr, 10);
    auto stats = msx::testing::WriteTrafficJournal(dir_, msx::DefaultConfig(), opt);
    ok_ = stats.ok();
    if (ok_) stats_ = *stats;
  }
  ~BenchJournal() {
    if (keep_) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  bool keep_ = false;
  msx::testing::TrafficStats stats_;
  bool ok_ = false;
};

void SetCounters(benchmark::State& state, const msx::testing::TrafficStats& s) {
  state.counters["records"] = static_cast<double>(s.records);
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(s.records), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["commands_per_s"] = benchmark::Counter(
      static_cast<double>(s.commands), benchmark::Counter::kIsIterationInvariantRate);
}

// Reads, CRC-checks and decodes every record, replays every command through a fresh
// engine and compares every regenerated event with the journaled one, encoded.
void BM_VerifyReplay(benchmark::State& state) {
  BenchJournal& j = BenchJournal::Get();
  if (!j.ok()) {
    state.SkipWithError("could not generate the journal");
    return;
  }
  for (auto _ : state) {
    auto r = msx::drill::VerifyReplay(j.dir());
    if (!r.ok() || r->diverged) {
      state.SkipWithError("verify failed");
      return;
    }
    benchmark::DoNotOptimize(r->state_digest);
  }
  SetCounters(state, j.stats());
}
BENCHMARK(BM_VerifyReplay)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Reads the journal and builds the full drill report (no engine).
void BM_Report(benchmark::State& state) {
  BenchJournal& j = BenchJournal::Get();
  if (!j.ok()) {
    state.SkipWithError("could not generate the journal");
    return;
  }
  for (auto _ : state) {
    auto r = msx::drill::BuildReport(j.dir(), 5);
    if (!r.ok()) {
      state.SkipWithError("report failed");
      return;
    }
    benchmark::DoNotOptimize(r->fills);
  }
  SetCounters(state, j.stats());
}
BENCHMARK(BM_Report)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

// BENCHMARK_MAIN, with malloc on transparent huge pages as msx-drill runs
// (MSX_DRILL_NO_HUGE_PAGES=1 measures without).
int main(int argc, char** argv) {
  msx::drill::EnableHugePageMalloc(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
