// msx_engine_bench: in-process matching engine benchmarks (Google Benchmark, one thread).
//
//   BM_AddNoCross        adds that rest (no match), books growing from empty
//   BM_AddCross          alternating resting sell / crossing buy (every second add fills)
//   BM_Cancel            cancel a random resting offer out of ~1M across 50 pair books
//   BM_CancelDeepLevel/N cancel a random offer from ONE price level holding N offers
//   BM_Sweep/M/L         one incoming offer takes M makers spread over L price levels
//                        (books refilled untimed); items_per_second = sweeps/s
//   BM_MixedWorkload     50 pair books, 8 agencies with partial eligibility, ~1M resting
//                        offers; 10 % crossing IOC adds, the rest adds or cancels so that
//                        the book holds 1M offers (steady by construction, ~46/44/10)
//   BM_MixedLatency      the same mix, each command timed; p50/p99/p99.9 ns as counters
//   BM_MixedWorkloadTrimmed  the former headline: a 60/30/10 mix that grows the book,
//                        held near 1M by untimed trim cancels (counter trim_cancels)
//
// items_per_second = engine commands per second. Setup (books, holdings, the prefill) is
// outside the timed region. Results and the exact command line: bench/README.md.
#include <sys/mman.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/bench_market.h"

namespace msx {
namespace {

using testing::kAgencies;
using testing::kInstruments;
using testing::kPairs;
using testing::kRef;
using testing::Rng;

// The bench market (engine/testing/bench_market.h). Eligibility is partial: CORE = AG0..AG5
// on every mineral, SUB = AG4..AG7 on minerals m00..m09, BI = AG6, AG7 on every mineral. So
// e.g. AG0 never swaps with AG6 and AG4 swaps with AG6 only on some books.
const ReferenceData& BenchUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    testing::AddBenchMarket(b);
    b.AddAgreement({"CORE", {"AG0", "AG1", "AG2", "AG3", "AG4", "AG5"}, {}});
    std::vector<std::string> half;
    for (int i = 0; i < 10; ++i) half.push_back("m0" + std::to_string(i));
    b.AddAgreement({"SUB", {"AG4", "AG5", "AG6", "AG7"}, half});
    b.AddAgreement({"BI", {"AG6", "AG7"}, {}});
    return testing::BuildBenchMarketOrDie(b, "engine bench universe");
  }();
  return *ref;
}

// An engine with every agency funded far beyond any workload, plus a command builder.
class Harness {
 public:
  explicit Harness(std::size_t expected_offers)
      : engine_(BenchUniverse(),
                EngineOptions{.expected_offers = expected_offers, .prefault = true}) {
    events_.reserve(1 << 16);
    for (AgencyId a = 0; a < kAgencies; ++a) {
      for (InstrumentId i = 0; i < kInstruments; ++i) {
        Command c{};
        c.type = CommandType::kSetHoldings;
        c.set_holdings = {a, i, Amount{1} << 50};
        Apply(c);
      }
    }
  }

  void Apply(Command c) { ApplyInPlace(&c); }
  // Sets the command's seq and time and applies it where it is (no copy).
  void ApplyInPlace(Command* c) {
    c->seq = ++seq_;
    c->time = static_cast<TimeNs>(seq_) + clock_offset_;
    events_.clear();
    engine_.Apply(*c, &events_);
  }

  Command Submit(AgencyId agency, PairId pair, Side side, Lots lots, Price price,
                 TimeInForce tif = TimeInForce::kGtc) {
    Command c;
    SetSubmit(&c, agency, pair, side, lots, price, tif);
    return c;
  }
  static Command Cancel(AgencyId agency, OfferId id) {
    Command c;
    SetCancel(&c, agency, id);
    return c;
  }
  // The same, written into `*c` (the mixed driver's queue) instead of a copy.
  void SetSubmit(Command* c, AgencyId agency, PairId pair, Side side, Lots lots, Price price,
                 TimeInForce tif = TimeInForce::kGtc) {
    *c = Command{};
    c->type = CommandType::kSubmitOffer;
    c->submit.agency = agency;
    c->submit.pair = pair;
    c->submit.side = side;
    c->submit.tif = tif;
    c->submit.lots = lots;
    c->submit.price = price;
    c->submit.client_id = ++client_id_;
  }
  static void SetCancel(Command* c, AgencyId agency, OfferId id) {
    *c = Command{};
    c->type = CommandType::kCancelOffer;
    c->cancel = {agency, id};
  }

  // Submits a resting offer and returns its id (0 if it did not rest).
  OfferId Rest(AgencyId agency, PairId pair, Side side, Lots lots, Price price) {
    Apply(Submit(agency, pair, side, lots, price));
    return events_.empty() || events_[0].type != EventType::kAccepted ? 0
                                                                       : events_[0].accepted.offer;
  }

  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  const std::vector<Event>& events() const { return events_; }

  // Moves the clock (command time = seq + offset) `ns` forward.
  void AdvanceClock(TimeNs ns) { clock_offset_ += ns; }

 private:
  Engine engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
  TimeNs clock_offset_ = 0;
  ClientOfferId client_id_ = 0;
};

// A non-crossing price: buys below the reference, sells above, 1..64 ticks away with more
// weight near the touch.
Price RestingPrice(Rng& rng, Side side) {
  const Price away = 1 + static_cast<Price>(rng.Below(8) * rng.Below(9));
  return side == Side::kBuy ? kRef - away : kRef + away;
}

struct Live {
  AgencyId agency;
  OfferId id;
};

// Asks for transparent huge pages on the 2 MiB-aligned part of [p, p + bytes): the driver's
// list of live offers is read at random, like the engine's offer records.
void AdviseHugePages(void* p, std::size_t bytes) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

void Prefill(Harness& h, Rng& rng, int count, std::vector<Live>* live) {
  live->reserve(live->size() + count);
  for (int i = 0; i < count; ++i) {
    const AgencyId a = static_cast<AgencyId>(rng.Below(kAgencies));
    const Side side = rng.Below(2) ? Side::kBuy : Side::kSell;
    const OfferId id = h.Rest(a, static_cast<PairId>(rng.Below(kPairs)), side,
                              1 + static_cast<Lots>(rng.Below(20)), RestingPrice(rng, side));
    if (id != 0) live->push_back({a, id});
  }
}

void BM_AddNoCross(benchmark::State& state) {
  Harness h(1 << 22);
  Rng rng{42};
  std::vector<Live> warm;
  Prefill(h, rng, 200'000, &warm);  // every book allocated, memory touched
  std::vector<Command> cmds(1 << 16);
  for (Command& c : cmds) {
    const Side side = rng.Below(2) ? Side::kBuy : Side::kSell;
    c = h.Submit(static_cast<AgencyId>(rng.Below(kAgencies)), static_cast<PairId>(rng.Below(kPairs)),
                 side, 1 + static_cast<Lots>(rng.Below(20)), RestingPrice(rng, side));
  }
  std::size_t i = 0;
  ClientOfferId client = 1'000'000'000;
  for (auto _ : state) {
    Command c = cmds[i++ & (cmds.size() - 1)];
    c.submit.client_id = ++client;
    h.Apply(c);
    benchmark::DoNotOptimize(h.events().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["open_offers"] = static_cast<double>(h.engine().OpenOfferCount());
}
BENCHMARK(BM_AddNoCross);

void BM_AddCross(benchmark::State& state) {
  // Each pair: a resting sell at the reference price from AG0, then a buy at the same price
  // from AG1 that fills it. Half the adds cross; the book stays small.
  Harness h(1 << 22);
  Rng rng{7};
  std::vector<Live> warm;
  Prefill(h, rng, 200'000, &warm);
  std::uint64_t n = 0;
  for (auto _ : state) {
    const PairId pair = static_cast<PairId>(rng.Below(kPairs));
    if ((n++ & 1) == 0) {
      h.Apply(h.Submit(0, pair, Side::kSell, 5, kRef));
    } else {
      h.Apply(h.Submit(1, pair, Side::kBuy, 5, kRef + 3));
    }
    benchmark::DoNotOptimize(h.events().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddCross);

void BM_Cancel(benchmark::State& state) {
  Harness h(1 << 22);
  Rng rng{9};
  std::vector<Live> live;
  Prefill(h, rng, 1'000'000, &live);
  for (auto _ : state) {
    if (live.size() < 1000) {
      state.PauseTiming();
      Prefill(h, rng, 500'000, &live);
      state.ResumeTiming();
    }
    const std::size_t k = rng.Below(live.size());
    const Live l = live[k];
    live[k] = live.back();
    live.pop_back();
    h.Apply(Harness::Cancel(l.agency, l.id));
    benchmark::DoNotOptimize(h.events().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cancel);

void BM_CancelDeepLevel(benchmark::State& state) {
  // One price level holding `depth` offers; cancel random ones (not just the head or
  // tail). A scan would make this O(depth); the intrusive list keeps it O(1).
  const int depth = static_cast<int>(state.range(0));
  Harness h(1 << 22);
  Rng rng{11};
  std::vector<Live> live;
  auto fill = [&] {
    while (static_cast<int>(live.size()) < depth) {
      const AgencyId a = static_cast<AgencyId>(rng.Below(kAgencies));
      live.push_back({a, h.Rest(a, 0, Side::kBuy, 1, kRef - 1)});
    }
  };
  fill();
  for (auto _ : state) {
    if (static_cast<int>(live.size()) < depth / 2) {
      state.PauseTiming();
      fill();
      state.ResumeTiming();
    }
    const std::size_t k = rng.Below(live.size());
    const Live l = live[k];
    live[k] = live.back();
    live.pop_back();
    h.Apply(Harness::Cancel(l.agency, l.id));
    benchmark::DoNotOptimize(h.events().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["depth"] = depth;
}
BENCHMARK(BM_CancelDeepLevel)->Arg(1'000)->Arg(10'000)->Arg(100'000);

// One incoming offer that takes `makers` resting offers spread over `levels` price levels
// (makers / levels per level, each level's makers from five agencies in turn: the walk
// merges several FIFOs). Every pair book holds kSlots such stacks of asks, one above the
// other; a batch is kSlots x 50 buys from AG0 (eligible with the makers' agencies), each
// priced at its stack's top level with exactly the lots of its makers, so each takes
// exactly its stack and nothing more. A batch's takers run one pair after another (no
// two consecutive sweeps in the same book). The stacks are refilled with the timer
// paused. Finished offers are purged during the refill (a retention window far longer
// than a batch, and a clock jump of two windows before each refill), so memory stays flat
// and no purge runs while timed.
//
// items_per_second counts sweeps. Cost per additional fill = (t(M) - t(1)) / (M - 1) with
// t = 1e9 / items_per_second, the ns per sweep, at equal L.
void BM_Sweep(benchmark::State& state) {
  const int makers = static_cast<int>(state.range(0));
  const int levels = static_cast<int>(state.range(1));
  constexpr int kSlots = 20;
  constexpr TimeNs kRetention = TimeNs{1} << 40;
  Harness h(1 << 22);
  {
    Command c{};
    c.type = CommandType::kSetOfferRetention;
    c.set_retention.retention = kRetention;
    h.Apply(c);
  }
  std::vector<Command> takers;
  takers.reserve(kSlots * kPairs);
  std::vector<Command> refill;
  refill.reserve(static_cast<std::size_t>(kSlots * kPairs * makers));
  for (int slot = 0; slot < kSlots; ++slot) {
    for (PairId pair = 0; pair < kPairs; ++pair) {
      Lots total = 0;
      Price top = 0;
      for (int k = 0; k < makers; ++k) {
        // Makers k = 0.. fill the stack's levels bottom up, makers / levels each (the
        // remainder on the lowest levels).
        const int level = k * levels / makers;
        const Price price = kRef + 1 + slot * levels + level;
        const Lots lots = 1 + (k * 7 + slot) % 13;
        const AgencyId agency = static_cast<AgencyId>(1 + k % 5);  // AG1..AG5
        refill.push_back(h.Submit(agency, pair, Side::kSell, lots, price));
        total += lots;
        top = price;
      }
      takers.push_back(h.Submit(0, pair, Side::kBuy, total, top));
    }
  }
  const auto refill_books = [&] {
    h.AdvanceClock(2 * kRetention);
    Command c{};
    c.type = CommandType::kAdvanceTime;
    while (h.engine().RetainedOfferCount() > h.engine().OpenOfferCount()) h.Apply(c);
    for (const Command& r : refill) h.Apply(r);
  };
  refill_books();
  std::uint64_t fills = 0;
  std::uint64_t sweeps = 0;
  for (auto _ : state) {
    for (Command& t : takers) {
      h.ApplyInPlace(&t);
      benchmark::DoNotOptimize(h.events().data());
    }
    state.PauseTiming();
    // Outside the timing: check each batch did what it says, then refill.
    if (h.engine().OpenOfferCount() != 0) {
      state.SkipWithError("a sweep left offers open");
      break;
    }
    fills += takers.size() * static_cast<std::uint64_t>(makers);
    sweeps += takers.size();
    refill_books();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(sweeps));
  state.counters["fills_per_sweep"] = sweeps ? static_cast<double>(fills) / static_cast<double>(sweeps) : 0;
}
BENCHMARK(BM_Sweep)
    ->ArgNames({"makers", "levels"})
    ->Args({1, 1})
    ->Args({4, 1})
    ->Args({4, 4})
    ->Args({16, 1})
    ->Args({16, 2})
    ->Args({16, 4});

// The mixed workload, one command per call to Step(). Cancels pick a random offer this
// driver placed; one that a crossing add has filled meanwhile is rejected as unknown,
// which the engine must also handle (counted in `rejects`).
//
// Commands wait in a queue of kQueue, as in a sequencer: each is generated (in place, into
// the slot the command just applied leaves free; applied there too, without copies)
// kQueue commands before it is applied, so a cancel cannot pick one of the 7 latest
// offers. With
// `pipelined`, every step hints three queued commands to Engine::Prefetch, one hop each
// (engine.h): hop 0 for the command 6 places ahead, hop 1 for 4 ahead, hop 2 for 2 ahead,
// so each hop has two commands' time to arrive before the next one reads it. (On this VM a
// random read that leaves the cache costs ~200-330 ns, more than a whole command.)
//
// Harness cost is kept out of the way of the engine: `live_` is reserved up front (no
// reallocation inside the timed loop), random numbers need no division, and the slot of
// `live_` a cancel takes was drawn and prefetched kSlots cancels earlier (the list holds
// ~1.5 M entries, so reading a random one is a cache miss of the driver, not of the engine).
//
// The book is held at about 1 M resting offers, the size the issue specifies, in one of two
// ways (`Mix`):
// - kSteady (BM_MixedWorkload, BM_MixedLatency): 10 % of the commands are small crossing
//   IOC adds; each of the others is a resting add when the engine holds fewer than
//   kOpenTarget offers and a cancel of a random offer of the driver's list otherwise. Adds
//   thus balance cancels plus the makers the IOCs fill, by construction: the book stays
//   within a few offers of 1.00 M, and every command that keeps it there is timed. The
//   resulting mix is about 46 % adds, 44 % cancels, 10 % IOCs.
// - kTrimmed (BM_MixedWorkloadTrimmed, the former headline): a fixed 60 % resting adds,
//   30 % cancels, 10 % IOCs, which grows the book by ~0.28 offers per command; every
//   kTrimCheck steps, when the engine holds more than kTrimAbove offers, the timer is
//   paused and random offers of the driver's list are cancelled (MaybeTrim, not timed,
//   counter trim_cancels) until it is back at kOpenTarget. About a third of its removals
//   are outside the timing.
class MixedWorkload {
 public:
  enum class Mix { kSteady, kTrimmed };

  MixedWorkload(Mix mix, bool pipelined)
      : h_(1 << 23), rng_{2026}, mix_(mix), pipelined_(pipelined) {
    live_.reserve(1 << 23);
    AdviseHugePages(live_.data(), live_.capacity() * sizeof(Live));
    live_.resize(live_.capacity());  // touch the pages now (clear() keeps them)
    live_.clear();
    Prefill(h_, rng_, 1'000'000, &live_);
    for (std::size_t& k : next_slots_) k = Slot(rng_.Next());
    for (Command& c : queue_) Generate(&c);
  }

  void Step() {
    Command& current = queue_[head_ & (kQueue - 1)];
    if (pipelined_) {
      const Engine& e = h_.engine();
      e.Prefetch(queue_[(head_ + 6) & (kQueue - 1)], 0);
      e.Prefetch(queue_[(head_ + 4) & (kQueue - 1)], 1);
      e.Prefetch(queue_[(head_ + 2) & (kQueue - 1)], 2);
    }
    h_.ApplyInPlace(&current);
    if (current.type == CommandType::kCancelOffer) {
      ++cancels_;
    } else if (current.submit.tif == TimeInForce::kIoc) {
      ++iocs_;
    }
    const std::vector<Event>& ev = h_.events();
    if (current.type == CommandType::kSubmitOffer && current.submit.tif == TimeInForce::kGtc &&
        !ev.empty() && ev[0].type == EventType::kAccepted) {
      live_.push_back({current.submit.agency, ev[0].accepted.offer});
    }
    for (const Event& e : ev) {
      fills_ += e.type == EventType::kFill;
      rejects_ += e.type == EventType::kRejected;
    }
    Generate(&current);  // applied after the kQueue - 1 commands now queued before it
    ++head_;
  }

  static constexpr std::size_t kOpenTarget = 1'000'000;
  static constexpr std::size_t kTrimAbove = 1'050'000;
  static constexpr std::uint64_t kTrimCheck = 1 << 14;  // power of two

  // Every kTrimCheck steps, when the book has outgrown kTrimAbove: with the timer paused,
  // cancels random offers of the driver's list until the engine holds kOpenTarget (offers
  // a cross filled meanwhile are rejected as unknown, as in the timed mix). The queued
  // commands were generated from the list already and are not touched.
  void MaybeTrim(benchmark::State& state) {
    if (mix_ == Mix::kSteady) return;
    const bool due = (head_ & (kTrimCheck - 1)) == 0;
    if (!due || h_.engine().OpenOfferCount() <= kTrimAbove) [[likely]] return;
    state.PauseTiming();
    Command c{};
    while (h_.engine().OpenOfferCount() > kOpenTarget && !live_.empty()) {
      const Live l = TakeLive(Slot(rng_.Next()));
      Harness::SetCancel(&c, l.agency, l.id);
      h_.ApplyInPlace(&c);
      ++trimmed_;
    }
    state.ResumeTiming();
  }

  Engine& engine() { return h_.engine(); }
  std::size_t open_offers() const { return h_.engine().OpenOfferCount(); }
  std::uint64_t trimmed() const { return trimmed_; }
  std::uint64_t fills() const { return fills_; }
  std::uint64_t rejects() const { return rejects_; }
  std::uint64_t steps() const { return head_; }
  std::uint64_t cancels() const { return cancels_; }
  std::uint64_t iocs() const { return iocs_; }

 private:
  static constexpr std::size_t kQueue = 8;  // power of two

  // Writes the next command of the mix into `*c`.
  void Generate(Command* c) {
    const std::uint64_t r = rng_.Below(100);
    const bool add = mix_ == Mix::kSteady
                         ? r < 90 && h_.engine().OpenOfferCount() < kOpenTarget
                         : r < 60;
    if (add || live_.empty()) {
      const AgencyId a = static_cast<AgencyId>(rng_.Below(kAgencies));
      const Side side = rng_.Below(2) ? Side::kBuy : Side::kSell;
      return h_.SetSubmit(c, a, static_cast<PairId>(rng_.Below(kPairs)), side,
                          1 + static_cast<Lots>(rng_.Below(20)), RestingPrice(rng_, side));
    }
    if (r < 90) {
      // A slot drawn (and prefetched) kSlots cancels ago, unless the list has shrunk below
      // it since; a fresh one in its place.
      std::size_t& slot = next_slots_[next_slot_++ & (kSlots - 1)];
      std::size_t k = slot;
      if (k >= live_.size()) k = Slot(rng_.Next());
      slot = Slot(rng_.Next());
      __builtin_prefetch(live_.data() + slot);
      const Live l = TakeLive(k);
      return Harness::SetCancel(c, l.agency, l.id);
    }
    // Crossing IOC: takes the touch (a few ticks deep) of a random book.
    const AgencyId a = static_cast<AgencyId>(rng_.Below(kAgencies));
    const Side side = rng_.Below(2) ? Side::kBuy : Side::kSell;
    h_.SetSubmit(c, a, static_cast<PairId>(rng_.Below(kPairs)), side,
                 1 + static_cast<Lots>(rng_.Below(10)),
                 side == Side::kBuy ? kRef + 3 : kRef - 3, TimeInForce::kIoc);
  }

  // Removes entry k of `live_` (the last one takes its place) and returns it.
  Live TakeLive(std::size_t k) {
    const Live l = live_[k];
    live_[k] = live_.back();
    live_.pop_back();
    return l;
  }

  // A uniform index into `live_` from 64 random bits.
  std::size_t Slot(std::uint64_t bits) const {
    return static_cast<std::size_t>(
        (static_cast<unsigned __int128>(bits) * live_.size()) >> 64);
  }

  Harness h_;
  Rng rng_;
  Mix mix_;
  bool pipelined_;
  std::vector<Live> live_;
  static constexpr std::size_t kSlots = 4;  // power of two
  std::size_t next_slots_[kSlots] = {};
  std::size_t next_slot_ = 0;
  Command queue_[kQueue] = {};
  std::uint64_t head_ = 0;
  std::uint64_t fills_ = 0;
  std::uint64_t rejects_ = 0;
  std::uint64_t trimmed_ = 0;
  std::uint64_t cancels_ = 0;
  std::uint64_t iocs_ = 0;
};

// The counters both mixed benchmarks report about the run.
void ReportMixedCounters(benchmark::State& state, const MixedWorkload& w) {
  state.counters["open_offers"] = static_cast<double>(w.open_offers());
  state.counters["fills"] = static_cast<double>(w.fills());
  state.counters["rejects"] = static_cast<double>(w.rejects());
  state.counters["trim_cancels"] = static_cast<double>(w.trimmed());
  // The timed mix (the steps include any before the measured run's iterations).
  const double steps = static_cast<double>(std::max<std::uint64_t>(w.steps(), 1));
  state.counters["cancel_share"] = static_cast<double>(w.cancels()) / steps;
  state.counters["ioc_share"] = static_cast<double>(w.iocs()) / steps;
}

void BM_MixedWorkload(benchmark::State& state) {
  MixedWorkload w(MixedWorkload::Mix::kSteady, /*pipelined=*/state.range(0) != 0);
  for (auto _ : state) w.Step();
  state.SetItemsProcessed(state.iterations());
  ReportMixedCounters(state, w);
}
BENCHMARK(BM_MixedWorkload)->ArgName("prefetch")->Arg(0)->Arg(1);

void BM_MixedWorkloadTrimmed(benchmark::State& state) {
  MixedWorkload w(MixedWorkload::Mix::kTrimmed, /*pipelined=*/state.range(0) != 0);
  for (auto _ : state) {
    w.Step();
    w.MaybeTrim(state);
  }
  state.SetItemsProcessed(state.iterations());
  ReportMixedCounters(state, w);
}
BENCHMARK(BM_MixedWorkloadTrimmed)->ArgName("prefetch")->Arg(0)->Arg(1);

// Per-command latency of the mixed workload from the TSC, calibrated against
// steady_clock over the run. Histogram of 1 ns buckets up to 100 us.
void BM_MixedLatency(benchmark::State& state) {
  MixedWorkload w(MixedWorkload::Mix::kSteady, /*pipelined=*/state.range(0) != 0);
  constexpr std::size_t kBuckets = 100'000;
  std::vector<std::uint64_t> hist(kBuckets + 1, 0);
  std::vector<std::uint64_t> cycles;
  cycles.reserve(1 << 22);
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t c0 = __rdtsc();
  for (auto _ : state) {
    const std::uint64_t a = __rdtsc();
    w.Step();
    const std::uint64_t b = __rdtsc();
    if (cycles.size() < cycles.capacity()) cycles.push_back(b - a);
    w.MaybeTrim(state);
  }
  const std::uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  const double ns_per_cycle =
      std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
  for (std::uint64_t c : cycles) {
    const std::size_t ns = static_cast<std::size_t>(static_cast<double>(c) * ns_per_cycle);
    ++hist[std::min(ns, kBuckets)];
  }
  auto percentile = [&](double p) {
    const std::uint64_t target = static_cast<std::uint64_t>(p * static_cast<double>(cycles.size()));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i <= kBuckets; ++i) {
      seen += hist[i];
      if (seen > target) return static_cast<double>(i);
    }
    return static_cast<double>(kBuckets);
  };
  state.SetItemsProcessed(state.iterations());
  state.counters["p50_ns"] = percentile(0.50);
  state.counters["p99_ns"] = percentile(0.99);
  state.counters["p999_ns"] = percentile(0.999);
  state.counters["samples"] = static_cast<double>(cycles.size());
}
BENCHMARK(BM_MixedLatency)->ArgName("prefetch")->Arg(0)->Arg(1);

}  // namespace
}  // namespace msx

BENCHMARK_MAIN();
