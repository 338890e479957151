// msx_time_swaps_bench: time swaps in the engine alone (Google Benchmark, one thread).
//
//   BM_SettleSameInstant/n/overdue   n obligations (n loans of 1 lot made at one instant,
//                                    31 borrowers) fall due together: the one AdvanceTime
//                                    that settles them all (overdue:1 = the borrowers hold
//                                    nothing, every one becomes overdue). Bar (issue 14):
//                                    one pass, O(n log n), for n = 1,000,000.
//   BM_LoadStateOpenObligations/n    LoadState of an engine holding n open obligations.
//                                    Bar: <= 1 s for n = 1,000,000.
//   BM_MixedWithTermBooks            1,000,000 commands, 80 % on a pair book (GTC submits
//                                    that rest, cancels of them) and 20 % on a term book
//                                    (lends, borrows that make a loan, returns), time
//                                    running 60 days so that a third of the loans settle
//                                    at their due time. latency:0 reports commands/s;
//                                    latency:1 adds p50/p99/p99.9 of the per-command time
//                                    (steady_clock around each Apply, which adds its own
//                                    ~20 ns).
//                                    Bar: >= 4 M commands/s, p99 <= 1 us.
// Inputs are built outside the timed region; each iteration starts from a fresh engine.
// Results: bench/README.md.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"

namespace msx {
namespace {

constexpr TimeNs kT0 = 1'800'000'000'000'000'000;
constexpr int kAgencies = 32;
constexpr PairId kPair = 0;
constexpr TermBookId kBook = 0;  // CO@30D
constexpr InstrumentId kCo = 0, kLi = 1;

ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, 33'000'000, 0});
  b.AddInstrument({"LI", "lithium", "hydroxide", "kg", 1000, 9'000'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1'000'000});
  std::vector<std::string> members;
  for (int a = 0; a < kAgencies; ++a) {
    const std::string code = absl::StrCat("A", a);
    b.AddAgency({code, code, "XX"});
    members.push_back(code);
  }
  b.AddAgreement({"ALL", members, {}});
  b.AddTermBook({"CO", 30, Lots{1} << 40});
  AgreementTermsSpec terms;
  terms.agreement = "ALL";
  terms.default_credit_limit = MicroUsd{1} << 60;
  terms.recall_allowed = true;
  b.SetAgreementTerms(terms);
  return *b.Build();
}

const ReferenceData& Ref() {
  static const ReferenceData* ref = new ReferenceData(MakeRef());
  return *ref;
}

Command SetHoldings(AgencyId a, InstrumentId i, Amount total) {
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {a, i, total};
  return c;
}

Command Term(AgencyId a, Side side, Lots lots, std::int64_t bps, TimeInForce tif,
             ClientOfferId client_id) {
  Command c{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{a, kBook, side, tif, lots, bps, 0, 0, 0, 0, client_id};
  return c;
}

class Runner {
 public:
  explicit Runner(std::size_t expected) : engine_(Ref(), EngineOptions{.expected_offers = expected}) {}
  void Apply(Command c) {
    c.seq = ++seq_;
    c.time = std::max(c.time, now_);
    now_ = c.time;
    events_.clear();
    engine_.Apply(c, &events_);
  }
  Engine& engine() { return engine_; }
  TimeNs now() const { return now_; }

 private:
  Engine engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
  TimeNs now_ = kT0;
};

// n loans of one lot at kT0: agency 0 lends n lots in one offer, agencies 1..31 borrow
// one lot each (IOC at the lend's premium).
void MakeLoans(Runner* r, std::int64_t n, bool borrowers_keep_units) {
  r->Apply(SetHoldings(0, kCo, n * 1000));
  for (AgencyId a = 1; a < kAgencies; ++a) {
    r->Apply(SetHoldings(a, kCo, borrowers_keep_units ? 1'000'000'000 : 0));
  }
  r->Apply(Term(0, Side::kSell, n, 100, TimeInForce::kGtc, 1));
  for (std::int64_t i = 0; i < n; ++i) {
    r->Apply(Term(static_cast<AgencyId>(1 + i % (kAgencies - 1)), Side::kBuy, 1, 100,
                  TimeInForce::kIoc, static_cast<ClientOfferId>(i + 1)));
  }
  if (!borrowers_keep_units) {
    // They spend what they borrowed: nothing is left to settle from.
    for (AgencyId a = 1; a < kAgencies; ++a) r->Apply(SetHoldings(a, kCo, 0));
  }
}

void BM_SettleSameInstant(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const bool overdue = state.range(1) != 0;
  for (auto _ : state) {
    state.PauseTiming();
    Runner r(1 << 10);
    MakeLoans(&r, n, !overdue);
    Command c{};
    c.type = CommandType::kAdvanceTime;
    c.time = kT0 + 30 * kNsPerDay;
    state.ResumeTiming();
    r.Apply(c);
    state.PauseTiming();
    std::optional<ObligationInfo> last = r.engine().GetObligation(static_cast<ObligationId>(n));
    if (!last || last->state != (overdue ? ObligationState::kOverdue : ObligationState::kClosed)) {
      state.SkipWithError("the obligations did not settle as expected");
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SettleSameInstant)
    ->ArgsProduct({{100'000, 1'000'000}, {0, 1}})
    ->ArgNames({"n", "overdue"})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

void BM_LoadStateOpenObligations(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::string image;
  {
    Runner r(1 << 10);
    MakeLoans(&r, n, true);
    image = r.engine().SaveState();
  }
  for (auto _ : state) {
    state.PauseTiming();
    Engine copy(Ref(), EngineOptions{.expected_offers = 1 << 10});
    state.ResumeTiming();
    absl::Status s = copy.LoadState(image);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.counters["image_MB"] = static_cast<double>(image.size()) / 1e6;
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_LoadStateOpenObligations)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// The mixed stream: per block of 10 commands, 8 on the pair book (4 GTC submits that rest
// away from the reference price, 4 cancels of submits made 400 commands earlier) and 2 on
// the term book: a lend of 1 lot and the borrow that takes it; every other block, a full
// return (or a recall) of an earlier loan and a borrow that finds nothing. Time advances
// evenly over 60 days, so loans made early and not returned settle at their due time.
std::vector<Command> MixedStream(std::int64_t total) {
  std::mt19937_64 rng(14);
  std::vector<Command> cmds;
  cmds.reserve(static_cast<std::size_t>(total) + 100);
  for (AgencyId a = 0; a < kAgencies; ++a) {
    cmds.push_back(SetHoldings(a, kCo, Amount{1} << 40));
    cmds.push_back(SetHoldings(a, kLi, Amount{1} << 40));
  }
  const Price ref = Ref().pairs()[kPair].reference_price;
  const TimeNs step = 60 * kNsPerDay / total;
  OfferId next_pair_offer = 1;
  ObligationId next_obligation = 1;
  std::vector<AgencyId> pair_owner;       // by pair offer id - 1
  std::vector<AgencyId> loan_borrower;    // by obligation id - 1
  std::vector<AgencyId> loan_lender;
  std::vector<Amount> loan_due;
  ClientOfferId client = 1;
  std::int64_t block = 0;
  TimeNs t = kT0;
  while (static_cast<std::int64_t>(cmds.size()) < total) {
    for (int k = 0; k < 4; ++k) {
      const AgencyId a = static_cast<AgencyId>(rng() % kAgencies);
      const bool sell = (rng() & 1) != 0;
      const Price p = sell ? ref + 10 + static_cast<Price>(rng() % 200)
                           : ref - 10 - static_cast<Price>(rng() % 200);
      Command c{};
      c.type = CommandType::kSubmitOffer;
      c.submit = SubmitOffer{a, kPair, sell ? Side::kSell : Side::kBuy, TimeInForce::kGtc,
                             1 + static_cast<Lots>(rng() % 10), p, 0, 0, 0, 0, client++};
      c.time = (t += step);
      cmds.push_back(c);
      pair_owner.push_back(a);
      ++next_pair_offer;
    }
    for (int k = 0; k < 4; ++k) {
      const OfferId victim = next_pair_offer - 400 + static_cast<OfferId>(k);
      if (next_pair_offer <= 400) break;
      Command c{};
      c.type = CommandType::kCancelOffer;
      c.cancel = {pair_owner[victim - 1], victim};
      c.time = (t += step);
      cmds.push_back(c);
    }
    const AgencyId lender = static_cast<AgencyId>(rng() % kAgencies);
    const AgencyId borrower = static_cast<AgencyId>((lender + 1 + rng() % (kAgencies - 1)) % kAgencies);
    if (block % 2 == 0 || next_obligation <= 100) {
      Command lend = Term(lender, Side::kSell, 1, 100, TimeInForce::kGtc, client++);
      lend.time = (t += step);
      cmds.push_back(lend);
      Command borrow = Term(borrower, Side::kBuy, 1, 100, TimeInForce::kIoc, client++);
      borrow.time = (t += step);
      cmds.push_back(borrow);
      loan_borrower.push_back(borrower);
      loan_lender.push_back(lender);
      loan_due.push_back(1010);
      ++next_obligation;
    } else {
      // An earlier loan: two of every three are returned in full, the third is recalled
      // (it then settles 8 days later, at its new due time). Then a borrow that finds no
      // lend (the book is empty between blocks) and ends as an IOC remainder.
      const ObligationId id = next_obligation - 100;
      Command c{};
      c.type = CommandType::kReturnObligation;
      c.obligation = {loan_borrower[id - 1], id, loan_due[id - 1]};
      if (id % 3 == 0) {
        c.type = CommandType::kRecallObligation;
        c.obligation = {loan_lender[id - 1], id, 0};
      }
      c.time = (t += step);
      cmds.push_back(c);
      Command borrow = Term(borrower, Side::kBuy, 1, 100, TimeInForce::kIoc, client++);
      borrow.time = (t += step);
      cmds.push_back(borrow);
    }
    ++block;
  }
  return cmds;
}

void BM_MixedWithTermBooks(benchmark::State& state) {
  const bool timed = state.range(0) != 0;  // per-command clock reads (latency) or not
  const std::int64_t total = 1'000'000;
  const std::vector<Command> cmds = MixedStream(total);
  std::vector<std::int64_t> ns;
  ns.reserve(cmds.size());
  std::int64_t rejects = 0, loans = 0, settled = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Engine engine(Ref(), EngineOptions{.expected_offers = 1 << 20, .prefault = true});
    std::vector<Event> events;
    events.reserve(4096);
    ns.clear();
    rejects = loans = settled = 0;
    state.ResumeTiming();
    Seq seq = 0;
    for (Command c : cmds) {
      c.seq = ++seq;
      events.clear();
      if (timed) {
        const auto t0 = std::chrono::steady_clock::now();
        engine.Apply(c, &events);
        const auto t1 = std::chrono::steady_clock::now();
        ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      } else {
        engine.Apply(c, &events);
      }
      for (const Event& e : events) {
        rejects += e.type == EventType::kRejected;
        loans += e.type == EventType::kLoanFill;
        settled += e.type == EventType::kObligation &&
                   e.obligation.kind == ObligationEventKind::kSettled;
      }
    }
  }
  if (timed && !ns.empty()) {
    std::sort(ns.begin(), ns.end());
    state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
    state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
    state.counters["p999_ns"] = static_cast<double>(ns[ns.size() * 999 / 1000]);
  }
  state.counters["rejects"] = static_cast<double>(rejects);
  state.counters["loans"] = static_cast<double>(loans);
  state.counters["settled"] = static_cast<double>(settled);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(cmds.size()));
}
BENCHMARK(BM_MixedWithTermBooks)->ArgName("latency")->Arg(0)->Arg(1)->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace msx

BENCHMARK_MAIN();
