// Journal benchmarks (msx_journal_bench). In one run:
//   BM_BareAppendFdatasync      the floor: write() one group-sized record + fdatasync
//   BM_BareOverwriteFdatasync   the floor into pre-zeroed space: pwrite() the same record
//                               over durable zeros + fdatasync (no file-size change)
//   BM_JournalTimeToDurable/P   one producer: Append + WaitDurable, per command; P is
//                               WriterOptions::preallocate_bytes (0 = append, the old way)
//   BM_JournalPreallocAB        preallocate_bytes 0 vs default, interleaved per command
//   BM_JournalConcurrentDurable 8 producer threads append flat out; time until all durable
//                               (third arg: preallocate_bytes)
//   BM_Crc32c                   checksum throughput (hardware and portable)
//   BM_JournalVerify            read + verify a large journal (no engine)
//   BM_JournalRecover           Recover(): read, verify and replay through the engine
// Latency benchmarks report p50/p99/p999 in microseconds as counters.
//
// Files go to $MSX_BENCH_DIR (default ./msx-journal-bench, created and removed); it must
// be on the disk being measured (not tmpfs). The recovery journal size is
// $MSX_BENCH_RECOVERY_RECORDS records (default 10,000,000); MSX_BENCH_KEEP=1 keeps it
// (for profiling `msx-journal verify` on it).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/testing/swap_traffic.h"
#include "engine/testing/test_universe.h"

namespace msx::journal {
namespace {

using Clock = std::chrono::steady_clock;

std::string BenchRoot() {
  const char* env = std::getenv("MSX_BENCH_DIR");
  return env != nullptr ? env : "./msx-journal-bench";
}

std::string FreshDir(const std::string& name) {
  std::string dir = BenchRoot() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A typical command group: a submit with its Accepted event (a fill adds ~115 bytes).
void TypicalGroup(Seq seq, Command* cmd, Event* ev) {
  *cmd = Command{};
  cmd->seq = seq;
  cmd->time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq);
  cmd->type = CommandType::kSubmitOffer;
  cmd->submit.agency = 1;
  cmd->submit.pair = 2;
  cmd->submit.side = Side::kSell;
  cmd->submit.tif = TimeInForce::kGtc;
  cmd->submit.lots = 10;
  cmd->submit.price = 100;
  cmd->submit.client_id = seq;
  *ev = Event{};
  ev->seq = seq;
  ev->time = cmd->time;
  ev->type = EventType::kAccepted;
  ev->accepted.offer = seq;
  ev->accepted.agency = 1;
  ev->accepted.pair = 2;
  ev->accepted.side = Side::kSell;
  ev->accepted.tif = TimeInForce::kGtc;
  ev->accepted.lots = 10;
  ev->accepted.price = 100;
  ev->accepted.client_id = seq;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, std::size_t(q * us.size()))]; };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["p999_us"] = at(0.999);
  state.counters["max_us"] = us.back();
}

// The bytes of one typical command group (see TypicalGroup), as the journal frames it.
std::string TypicalGroupBytes() {
  Command cmd;
  Event ev;
  TypicalGroup(1, &cmd, &ev);
  std::string bytes;
  AppendCommandGroup(cmd, {&ev, 1}, &bytes);
  return bytes;
}

// Creates (truncating) DIR/bare.log for writing; -1 after SkipWithError.
int OpenBareFile(benchmark::State& state, const std::string& dir) {
  const std::string path = dir + "/bare.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) state.SkipWithError("cannot open bench file");
  return fd;
}

void BM_BareAppendFdatasync(benchmark::State& state) {
  std::string dir = FreshDir("bare");
  const int fd = OpenBareFile(state, dir);
  if (fd < 0) return;
  const std::string bytes = TypicalGroupBytes();
  std::vector<double> us;
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::close(fd);
  state.counters["bytes_per_append"] = static_cast<double>(bytes.size());
  ReportPercentiles(state, us);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_BareAppendFdatasync)->Iterations(3000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// What the preallocating writer does per commit, without the journal: the file is
// zero-filled and made durable up front (outside the timed loop), then each iteration
// overwrites the next record-sized piece of the zeros and fdatasyncs.
void BM_BareOverwriteFdatasync(benchmark::State& state) {
  std::string dir = FreshDir("bare-overwrite");
  const int fd = OpenBareFile(state, dir);
  if (fd < 0) return;
  const std::string bytes = TypicalGroupBytes();
  const std::string zeros(static_cast<std::size_t>(state.max_iterations) * bytes.size() + 4096,
                          '\0');
  if (::pwrite(fd, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()) ||
      ::fdatasync(fd) != 0) {
    state.SkipWithError("zero fill failed");
    ::close(fd);
    return;
  }
  std::vector<double> us;
  off_t at = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (::pwrite(fd, bytes.data(), bytes.size(), at) != static_cast<ssize_t>(bytes.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    at += static_cast<off_t>(bytes.size());
  }
  ::close(fd);
  state.counters["bytes_per_append"] = static_cast<double>(bytes.size());
  ReportPercentiles(state, us);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_BareOverwriteFdatasync)
    ->Iterations(3000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Args of the journal latency benchmarks: preallocate_bytes 0 (append, the old writer) and
// the default. 10,000 iterations write ~1.7 MB, so the zeros are extended during the run
// and the extensions show in the tail.
void PreallocArgs(benchmark::internal::Benchmark* b) {
  b->Arg(0)->Arg(static_cast<std::int64_t>(kDefaultPreallocateBytes));
}

void BM_JournalTimeToDurable(benchmark::State& state) {
  std::string dir = FreshDir("single");
  WriterOptions o;
  o.durability = Durability::kSync;
  o.preallocate_bytes = static_cast<std::uint64_t>(state.range(0));
  o.config = std::string(2000, 'c');
  auto writer = JournalWriter::Open(dir, o);
  if (!writer.ok()) {
    state.SkipWithError(std::string(writer.status().message()).c_str());
    return;
  }
  std::vector<double> us;
  Seq seq = 0;
  Command cmd;
  Event ev;
  for (auto _ : state) {
    TypicalGroup(++seq, &cmd, &ev);
    auto t0 = Clock::now();
    absl::Status s = (*writer)->Append(cmd, {&ev, 1});
    if (s.ok()) s = (*writer)->WaitDurable(seq);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ReportPercentiles(state, us);
  const WriterStats st = (*writer)->stats();
  state.counters["syncs"] = static_cast<double>(st.syncs);
  state.counters["zero_fills"] = static_cast<double>(st.zero_fills);
  state.counters["appends_past_zeros"] = static_cast<double>(st.appends_past_zeros);
  (*writer)->Close().IgnoreError();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalTimeToDurable)
    ->Apply(PreallocArgs)
    ->Iterations(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The floor and the journal interleaved, one sample each per iteration, so that both see
// the same disk and the same machine load (this machine is shared): the ratio of the
// medians is the journal's overhead over a bare fdatasync. The floor is always the bare
// append; the arg is the journal's preallocate_bytes (0 = append like the floor).
void BM_FloorVsJournalInterleaved(benchmark::State& state) {
  std::string dir = FreshDir("interleaved");
  std::string path = dir + "/bare.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  WriterOptions o;
  o.durability = Durability::kSync;
  o.preallocate_bytes = static_cast<std::uint64_t>(state.range(0));
  o.config = std::string(2000, 'c');
  auto writer = JournalWriter::Open(dir + "/journal", o);
  if (fd < 0 || !writer.ok()) {
    state.SkipWithError("cannot open bench files");
    return;
  }
  Command cmd;
  Event ev;
  TypicalGroup(1, &cmd, &ev);
  std::string bytes;
  AppendCommandGroup(cmd, {&ev, 1}, &bytes);
  std::vector<double> floor_us, journal_us;
  Seq seq = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
      break;
    }
    auto t1 = Clock::now();
    TypicalGroup(++seq, &cmd, &ev);
    absl::Status s = (*writer)->Append(cmd, {&ev, 1});
    if (s.ok()) s = (*writer)->WaitDurable(seq);
    auto t2 = Clock::now();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    floor_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    journal_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  ::close(fd);
  state.counters["zero_fills"] = static_cast<double>((*writer)->stats().zero_fills);
  (*writer)->Close().IgnoreError();
  if (floor_us.empty()) return;
  std::sort(floor_us.begin(), floor_us.end());
  std::sort(journal_us.begin(), journal_us.end());
  auto p = [](const std::vector<double>& v, double q) {
    return v[std::min(v.size() - 1, std::size_t(q * v.size()))];
  };
  state.counters["floor_p50_us"] = p(floor_us, 0.5);
  state.counters["journal_p50_us"] = p(journal_us, 0.5);
  state.counters["floor_p99_us"] = p(floor_us, 0.99);
  state.counters["journal_p99_us"] = p(journal_us, 0.99);
  state.counters["journal_p999_us"] = p(journal_us, 0.999);
  state.counters["journal_max_us"] = journal_us.back();
  state.counters["p50_ratio"] = p(journal_us, 0.5) / p(floor_us, 0.5);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_FloorVsJournalInterleaved)
    ->Apply(PreallocArgs)
    ->Iterations(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// A/B of preallocation on the same disk at the same moment: two journals, one appending
// (preallocate_bytes 0) and one preallocating (the default), one command each per
// iteration, in alternating order. The ratio of the medians is what preallocation saves.
void BM_JournalPreallocAB(benchmark::State& state) {
  std::string dir = FreshDir("prealloc-ab");
  std::unique_ptr<JournalWriter> writers[2];
  for (int i = 0; i < 2; ++i) {
    WriterOptions o;
    o.durability = Durability::kSync;
    o.preallocate_bytes = i == 0 ? 0 : kDefaultPreallocateBytes;
    o.config = std::string(2000, 'c');
    auto w = JournalWriter::Open(dir + (i == 0 ? "/append" : "/prealloc"), o);
    if (!w.ok()) {
      state.SkipWithError(std::string(w.status().message()).c_str());
      return;
    }
    writers[i] = *std::move(w);
  }
  std::vector<double> us[2];
  Seq seq = 0;
  Command cmd;
  Event ev;
  for (auto _ : state) {
    TypicalGroup(++seq, &cmd, &ev);
    for (int k = 0; k < 2; ++k) {
      const int i = (static_cast<int>(seq) + k) % 2;
      auto t0 = Clock::now();
      absl::Status s = writers[i]->Append(cmd, {&ev, 1});
      if (s.ok()) s = writers[i]->WaitDurable(seq);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      us[i].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  state.counters["zero_fills"] = static_cast<double>(writers[1]->stats().zero_fills);
  for (auto& w : writers) w->Close().IgnoreError();
  for (auto& v : us) std::sort(v.begin(), v.end());
  auto p = [](const std::vector<double>& v, double q) {
    return v[std::min(v.size() - 1, std::size_t(q * v.size()))];
  };
  if (us[0].empty()) return;
  state.counters["append_p50_us"] = p(us[0], 0.5);
  state.counters["prealloc_p50_us"] = p(us[1], 0.5);
  state.counters["append_p99_us"] = p(us[0], 0.99);
  state.counters["prealloc_p99_us"] = p(us[1], 0.99);
  state.counters["append_p999_us"] = p(us[0], 0.999);
  state.counters["prealloc_p999_us"] = p(us[1], 0.999);
  state.counters["append_max_us"] = us[0].back();
  state.counters["prealloc_max_us"] = us[1].back();
  state.counters["p50_ratio"] = p(us[1], 0.5) / p(us[0], 0.5);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalPreallocAB)->Iterations(10000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Producers append without waiting (the gateway's many clients each wait for their own
// reply, but together they keep the queue full); one iteration ends when everything the
// producers appended is durable. records/s counts COMMAND + EVENT records made durable.
void BM_JournalConcurrentDurable(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int per_producer = static_cast<int>(state.range(1));
  std::uint64_t records = 0, syncs = 0, past_zeros = 0, zero_fills = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = FreshDir("concurrent");
    WriterOptions o;
    o.durability = Durability::kSync;
    o.preallocate_bytes = static_cast<std::uint64_t>(state.range(2));
    o.config = std::string(2000, 'c');
    auto writer = JournalWriter::Open(dir, o);
    if (!writer.ok()) {
      state.SkipWithError(std::string(writer.status().message()).c_str());
      break;
    }
    state.ResumeTiming();
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&] {
        Command cmd;
        Event ev;
        for (int i = 0; i < per_producer; ++i) {
          TypicalGroup(0, &cmd, &ev);
          if (!(*writer)->AppendAssigningSeq(&cmd, {&ev, 1}).ok()) return;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    absl::Status s = (*writer)->Flush();
    state.PauseTiming();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    records += 2ull * producers * per_producer;
    syncs += (*writer)->stats().syncs;
    past_zeros += (*writer)->stats().appends_past_zeros;
    zero_fills += (*writer)->stats().zero_fills;
    (*writer)->Close().IgnoreError();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
  state.counters["groups_per_s"] =
      benchmark::Counter(static_cast<double>(records / 2), benchmark::Counter::kIsRate);
  state.counters["records_per_sync"] =
      syncs ? static_cast<double>(records) / static_cast<double>(syncs) : 0;
  state.counters["appends_past_zeros"] = static_cast<double>(past_zeros);
  state.counters["zero_fills"] = static_cast<double>(zero_fills);
}
BENCHMARK(BM_JournalConcurrentDurable)
    ->Args({8, 200000, 0})
    ->Args({8, 200000, static_cast<std::int64_t>(kDefaultPreallocateBytes)})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<std::size_t>(state.range(0)), 'x');
  const bool hardware = state.range(1) != 0;
  if (hardware && !crc32c::internal::HardwareAvailable()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  for (auto _ : state) {
    std::uint32_t c = hardware ? crc32c::internal::ExtendHardware(0, data.data(), data.size())
                               : crc32c::internal::ExtendPortable(0, data.data(), data.size());
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  state.SetLabel(hardware ? "sse4.2" : "slice-by-8");
}
BENCHMARK(BM_Crc32c)->Args({100, 0})->Args({100, 1})->Args({65536, 0})->Args({65536, 1});

// ---- Recovery: one journal of N records built once (outside the timed loops) ----

std::uint64_t RecoveryRecords() {
  const char* env = std::getenv("MSX_BENCH_RECOVERY_RECORDS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 10'000'000;
}

std::unique_ptr<Engine> NewEngine() {
  return std::make_unique<Engine>(msx::testing::TestUniverse(), EngineOptions{});
}

struct RecoveryJournal {
  std::string dir;
  std::uint64_t records = 0;
  std::uint64_t commands = 0;
  std::uint64_t fills = 0;
  std::uint64_t digest = 0;
  std::string error;
};

const RecoveryJournal& BuildRecoveryJournal() {
  static RecoveryJournal* j = [] {
    auto* r = new RecoveryJournal;
    r->dir = FreshDir("recovery");
    WriterOptions o;
    o.durability = Durability::kNone;
    o.config = "test universe";
    auto writer = JournalWriter::Open(r->dir, o);
    if (!writer.ok()) {
      r->error = std::string(writer.status().message());
      return r;
    }
    auto engine = NewEngine();
    msx::testing::SwapTraffic traffic(2026);
    std::vector<Event> events;
    const std::uint64_t target = RecoveryRecords();
    for (Seq s = 1; r->records < target; ++s) {
      Command cmd = traffic.Next(s);
      events.clear();
      engine->Apply(cmd, &events);
      absl::Status st = (*writer)->Append(cmd, events);
      if (!st.ok()) {
        r->error = std::string(st.message());
        return r;
      }
      ++r->records;
      ++r->commands;
      for (const Event& e : events) {
        if (!IsJournaled(e.type)) continue;
        ++r->records;
        r->fills += e.type == EventType::kFill;
      }
    }
    if (absl::Status st = (*writer)->Close(); !st.ok()) r->error = std::string(st.message());
    r->digest = engine->StateDigest();
    return r;
  }();
  return *j;
}

void BM_JournalVerify(benchmark::State& state) {
  const RecoveryJournal& j = BuildRecoveryJournal();
  if (!j.error.empty()) {
    state.SkipWithError(j.error.c_str());
    return;
  }
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    auto st = VerifyJournal(j.dir);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.status().message()).c_str());
      break;
    }
    bytes = st->bytes;
  }
  state.counters["records"] = static_cast<double>(j.records);
  state.counters["journal_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(j.records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_JournalVerify)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_JournalRecover(benchmark::State& state) {
  const RecoveryJournal& j = BuildRecoveryJournal();
  if (!j.error.empty()) {
    state.SkipWithError(j.error.c_str());
    return;
  }
  RecoveryOptions o;
  o.use_snapshots = false;
  for (auto _ : state) {
    auto r = Recover(j.dir, NewEngine, o);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    state.PauseTiming();  // the check is the benchmark's, not recovery's
    const bool same = r->engine->StateDigest() == j.digest && r->fills_verified == j.fills;
    r->engine.reset();
    state.ResumeTiming();
    if (!same) {
      state.SkipWithError("recovered state differs from the engine that wrote the journal");
      break;
    }
  }
  state.counters["records"] = static_cast<double>(j.records);
  state.counters["commands"] = static_cast<double>(j.commands);
  state.counters["fills"] = static_cast<double>(j.fills);
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(j.records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_JournalRecover)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The engine alone on the same commands, held in memory: the part of recovery that is not
// the journal's (reading, verifying, decoding, comparing events).
void BM_EngineApplyOnly(benchmark::State& state) {
  const RecoveryJournal& j = BuildRecoveryJournal();
  if (!j.error.empty()) {
    state.SkipWithError(j.error.c_str());
    return;
  }
  std::vector<Command> commands;
  {
    auto reader = JournalReader::Open(j.dir, {});
    if (!reader.ok()) {
      state.SkipWithError("cannot open the journal");
      return;
    }
    JournalEntry e;
    while ((*reader)->Next(&e)) commands.push_back(e.command);
  }
  std::vector<Event> out;
  out.reserve(256);
  for (auto _ : state) {
    auto engine = NewEngine();
    for (const Command& c : commands) {
      out.clear();
      engine->Apply(c, &out);
    }
    benchmark::DoNotOptimize(engine->last_seq());
  }
  state.counters["commands"] = static_cast<double>(commands.size());
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(j.records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EngineApplyOnly)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace msx::journal

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (std::getenv("MSX_BENCH_KEEP") == nullptr) {
    std::filesystem::remove_all(msx::journal::BenchRoot());
  }
  return 0;
}
