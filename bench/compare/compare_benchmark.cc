// msx_compare_bench: the MSX engine and Liquibook's OrderBook side by side on identical
// command streams (Google Benchmark, one thread). Built only with -DMSX_LIQUIBOOK_DIR; see
// bench/compare/README.md.
//
// One seeded generator writes each stream once as a list of neutral `Op`s (add, cancel,
// replace), and each book gets the same ops translated 1:1:
//   AddHalfCross      adds only; half of them are priced through the opposite touch
//   DeepCancel/N      one bid level per pair book holding N offers; cancel one at a random
//                     position, then add one to the same level (depth stays N)
//   MoveHeavy         50 % replaces that move a resting offer's price (and maybe its lots),
//                     50 % adds (half crossing) or cancels, keeping ~100k offers resting
//   Sweep             takers that each take 1-5 makers across 1-3 price levels, between
//                     passive adds that put back the makers they took (~12 per book side)
// Each stream also has a single-book variant (`/1book`): the same generator on pair 0 only,
// with the per-book prefill and enough timed commands to time (the 50-book streams keep
// the whole 50-book working set, and AddHalfCross's grows to ~600k offers while timed).
// MSX runs with its checks on: 8 agencies in an agreement, eligibility looked up for every
// match, holdings reserved and moved on every fill. Everyone is eligible with everyone and
// funded far beyond the streams, and buyers (even agencies) never meet their own sells (odd
// agencies), so both books must produce the same fills. At startup every stream is run
// through both books and the fills (count, lots, notional, an order-sensitive hash of
// taker/maker/lots/price), cancelled lots and the open lots left are compared; any
// difference aborts the run.
//
// items_per_second = commands per second. One benchmark iteration replays the whole timed
// part of a stream on books rebuilt from its prefill outside the timed region. The engines
// are interleaved: for each stream, round 1 runs msx, msx_prefetch, liquibook, then round 2
// the same, and so on (--rounds=N, default 5; names end in /round:K); ratios.sh takes
// the median over rounds of each round's ratio.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "book/order_book.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/bench_market.h"

namespace msx {
namespace {

namespace lb = liquibook::book;

using testing::kAgencies;
using testing::kInstruments;
using testing::kPairs;
using testing::kRef;
using testing::Rng;
constexpr Price kLow = 8'500;    // the bench market's band (1,500 bps, tick 1)
constexpr Price kHigh = 11'500;

// The bench market (engine/testing/bench_market.h) with one agreement covering every agency
// and every mineral: the engine still looks eligibility up on every match, but never skips a
// maker, so its fills can be compared with a book that has no notion of eligibility.
const ReferenceData& CompareUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    std::vector<std::string> all = testing::AddBenchMarket(b);
    b.AddAgreement({"ALL", all, {}});
    return testing::BuildBenchMarketOrDie(b, "compare universe");
  }();
  return *ref;
}

// ---- The neutral command stream ----

enum class OpType : std::uint8_t { kAdd, kCancel, kReplace };

// One command of a stream. `offer` is the MSX offer id: for an add the id the engine will
// assign (offers are numbered in acceptance order and every add is accepted), for a cancel
// or replace the target. A replace sets new open lots (MSX's kReplaceOfferOpenLots, as the
// other books do) and carries `delta`, the change
// from the open lots at that point (Liquibook's size_delta); the target is always open.
struct Op {
  OpType type;
  Side side;
  std::uint16_t pair;
  std::uint32_t agency;
  std::uint32_t offer;
  std::int32_t lots;
  std::int32_t price;
  std::int32_t delta;
};
static_assert(sizeof(Op) == 24);

struct Stream {
  std::string name;
  std::vector<Op> ops;
  std::size_t prefill = 0;       // ops[0, prefill) build the book; the rest are timed
  std::size_t max_offer_id = 0;  // number of adds in the whole stream
  std::uint64_t timed_adds = 0;
  std::uint64_t timed_adds_crossing = 0;  // timed adds that filled on arrival
  std::uint64_t timed_replaces = 0;
  std::uint64_t timed_replaces_crossing = 0;
  std::uint64_t timed_cancels = 0;
  std::uint64_t timed_fills = 0;
};

Command ToCommand(const Op& op, Seq seq) {
  Command c{};
  c.seq = seq;
  c.time = static_cast<TimeNs>(seq);
  switch (op.type) {
    case OpType::kAdd:
      c.type = CommandType::kSubmitOffer;
      c.submit.agency = op.agency;
      c.submit.pair = op.pair;
      c.submit.side = op.side;
      c.submit.tif = TimeInForce::kGtc;
      c.submit.lots = op.lots;
      c.submit.price = op.price;
      c.submit.client_id = seq;
      break;
    case OpType::kCancel:
      c.type = CommandType::kCancelOffer;
      c.cancel = {op.agency, op.offer};
      break;
    case OpType::kReplace:
      // The open-lots replace: the other books' replaces set the open quantity too.
      c.type = CommandType::kReplaceOfferOpenLots;
      c.replace = {op.agency, op.offer, op.lots, op.price};
      break;
  }
  return c;
}

EngineOptions MsxOptions(const Stream& s) {
  return EngineOptions{.expected_offers = s.max_offer_id + 1024, .prefault = true};
}

// Every agency funded far beyond any stream.
void FundAll(Engine& engine, Seq* seq, std::vector<Event>* events) {
  for (AgencyId a = 0; a < kAgencies; ++a) {
    for (InstrumentId i = 0; i < kInstruments; ++i) {
      Command c{};
      c.seq = ++*seq;
      c.time = static_cast<TimeNs>(c.seq);
      c.type = CommandType::kSetHoldings;
      c.set_holdings = {a, i, Amount{1} << 50};
      events->clear();
      engine.Apply(c, events);
    }
  }
}

// Writes a stream while applying it to an MSX engine (the oracle), so that cancels and
// replaces always name an offer that is open at that point and replace deltas are exact.
// The books compared later replay the finished stream from scratch.
class StreamWriter {
 public:
  // The stream's ops use pairs 0 .. pairs - 1.
  StreamWriter(std::string name, std::size_t expected_offers, std::uint64_t seed, int pairs)
      : oracle_(CompareUniverse(),
                EngineOptions{.expected_offers = expected_offers, .prefault = false}),
        rng_{seed},
        pairs_(pairs) {
    stream_.name = std::move(name);
    events_.reserve(1024);
    offers_.reserve(expected_offers + 1);
    offers_.push_back({});
    FundAll(oracle_, &seq_, &events_);
  }

  Rng& rng() { return rng_; }
  DepthInfo Depth(PairId pair) const { return oracle_.GetDepth(pair, 1); }
  PairId RandomPair() { return static_cast<PairId>(rng_.Below(static_cast<std::uint64_t>(pairs_))); }
  std::size_t LiveCount() const { return live_.size(); }
  void EndPrefill() { stream_.prefill = stream_.ops.size(); }

  static AgencyId AgencyFor(Rng& rng, Side side) {
    // Buyers are even agencies, sellers odd: no offer ever meets its own agency.
    return static_cast<AgencyId>(2 * rng.Below(kAgencies / 2) + (side == Side::kSell ? 1 : 0));
  }

  // A price that does not cross: buys 1..57 ticks below the reference and below the best
  // ask, sells likewise above.
  Price PassivePrice(PairId pair, Side side) {
    const Price away = 1 + static_cast<Price>(rng_.Below(8) * rng_.Below(9));
    const DepthInfo d = oracle_.GetDepth(pair, 1);
    if (side == Side::kBuy) {
      Price p = kRef - away;
      if (!d.asks.empty()) p = std::min(p, d.asks[0].price - 1);
      return std::max(p, kLow);
    }
    Price p = kRef + away;
    if (!d.bids.empty()) p = std::max(p, d.bids[0].price + 1);
    return std::min(p, kHigh);
  }

  // A price 0..2 ticks through the opposite touch, or a passive one if that side is empty.
  Price CrossingPrice(PairId pair, Side side) {
    const DepthInfo d = oracle_.GetDepth(pair, 1);
    const Price through = static_cast<Price>(rng_.Below(3));
    if (side == Side::kBuy && !d.asks.empty()) return std::min(d.asks[0].price + through, kHigh);
    if (side == Side::kSell && !d.bids.empty()) return std::max(d.bids[0].price - through, kLow);
    return PassivePrice(pair, side);
  }

  void Add(PairId pair, Side side, Lots lots, Price price) {
    Op op{};
    op.type = OpType::kAdd;
    op.side = side;
    op.pair = static_cast<std::uint16_t>(pair);
    op.agency = AgencyFor(rng_, side);
    op.offer = static_cast<std::uint32_t>(++stream_.max_offer_id);
    op.lots = static_cast<std::int32_t>(lots);
    op.price = static_cast<std::int32_t>(price);
    Push(op);
  }

  // Half of the adds cross (when the opposite side has an offer), half rest.
  void AddHalfCross() {
    const PairId pair = RandomPair();
    const Side side = rng_.Below(2) ? Side::kBuy : Side::kSell;
    const Lots lots = 1 + static_cast<Lots>(rng_.Below(20));
    const bool cross = rng_.Below(2) != 0;
    Add(pair, side, lots, cross ? CrossingPrice(pair, side) : PassivePrice(pair, side));
  }

  // A uniformly random open offer.
  OfferId RandomLive() { return live_[rng_.Below(live_.size())]; }

  // An op of `type` on open offer `id` (its side, pair, agency and id filled in).
  Op OpOn(OpType type, OfferId id) const {
    const OfferState& o = offers_[id];
    Op op{};
    op.type = type;
    op.side = o.side;
    op.pair = static_cast<std::uint16_t>(o.pair);
    op.agency = o.agency;
    op.offer = static_cast<std::uint32_t>(id);
    return op;
  }

  // Cancels an open offer; returns its pair.
  PairId Cancel(OfferId id) {
    const PairId pair = offers_[id].pair;
    Push(OpOn(OpType::kCancel, id));
    return pair;
  }

  // Moves an open offer 1..4 ticks up or down (never to its own price, so both books
  // re-queue it at the back of the new level) and, half the time, gives it new lots.
  void Move(OfferId id) {
    const OfferState& o = offers_[id];
    Price step = 1 + static_cast<Price>(rng_.Below(4));
    if (rng_.Below(2)) step = -step;
    Price price = std::clamp(o.price + step, kLow, kHigh);
    if (price == o.price) price = o.price - step;
    const Lots lots = rng_.Below(2) ? o.open : 1 + static_cast<Lots>(rng_.Below(20));
    Op op = OpOn(OpType::kReplace, id);
    op.lots = static_cast<std::int32_t>(lots);
    op.price = static_cast<std::int32_t>(price);
    op.delta = static_cast<std::int32_t>(lots - o.open);
    Push(op);
  }

  // A passive add at most 5 ticks from the reference price and never crossing: sells at
  // kRef - 2 .. kRef + 3 but above the best bid, buys mirrored.
  void AddNearReference(PairId pair, Side side) {
    const DepthInfo d = oracle_.GetDepth(pair, 1);
    const Price off = static_cast<Price>(rng_.Below(6));
    Price price;
    if (side == Side::kSell) {
      price = kRef - 2 + off;
      if (!d.bids.empty()) price = std::max(price, d.bids[0].price + 1);
    } else {
      price = kRef + 2 - off;
      if (!d.asks.empty()) price = std::min(price, d.asks[0].price - 1);
    }
    Add(pair, side, 1 + static_cast<Lots>(rng_.Below(20)), price);
  }

  // A taker on `pair` that takes the first K (uniform 1..5) resting offers of the
  // opposite side in time priority, within its best three price levels (fewer if the
  // side holds fewer): priced at the K-th maker's level, with the lots of the first K - 1
  // and 1 .. all of the K-th's. Returns the makers it fills completely, or -1 (nothing
  // added) when the opposite side is empty.
  int AddSweep(PairId pair, Side side) {
    const Side opp = side == Side::kBuy ? Side::kSell : Side::kBuy;
    const DepthInfo d = oracle_.GetDepth(pair, 3);
    const std::vector<LevelInfo>& levels = opp == Side::kSell ? d.asks : d.bids;
    if (levels.empty()) return -1;
    const Price last_level = levels.back().price;
    // The opposite side's open offers within those levels, in priority: best price first,
    // then time (acceptance order: this stream never moves an offer).
    makers_.clear();
    for (OfferId id : live_) {
      const OfferState& o = offers_[id];
      if (o.pair != pair || o.side != opp) continue;
      if (opp == Side::kSell ? o.price > last_level : o.price < last_level) continue;
      makers_.push_back(id);
    }
    std::sort(makers_.begin(), makers_.end(), [&](OfferId a, OfferId b) {
      const Price pa = offers_[a].price, pb = offers_[b].price;
      if (pa != pb) return opp == Side::kSell ? pa < pb : pa > pb;
      return a < b;
    });
    const std::size_t k = std::min<std::size_t>(1 + rng_.Below(5), makers_.size());
    Lots lots = 0;
    for (std::size_t i = 0; i + 1 < k; ++i) lots += offers_[makers_[i]].open;
    const Lots last_open = offers_[makers_[k - 1]].open;
    const Lots last = 1 + static_cast<Lots>(rng_.Below(static_cast<std::uint64_t>(last_open)));
    Add(pair, side, lots + last, offers_[makers_[k - 1]].price);
    return static_cast<int>(k) - (last < last_open ? 1 : 0);
  }

  Stream Finish() { return std::move(stream_); }

 private:
  struct OfferState {
    Lots open = 0;
    Price price = 0;
    Side side = Side::kBuy;
    PairId pair = 0;
    AgencyId agency = 0;
    std::size_t live_pos = 0;
    bool live = false;
  };

  void Push(const Op& op) {
    stream_.ops.push_back(op);
    events_.clear();
    oracle_.Apply(ToCommand(op, ++seq_), &events_);
    bool filled = false;
    for (const Event& e : events_) {
      switch (e.type) {
        case EventType::kAccepted: {
          if (e.accepted.offer != op.offer) Fail("the engine numbered offers differently");
          offers_.push_back({e.accepted.lots, e.accepted.price, e.accepted.side, e.accepted.pair,
                             e.accepted.agency, 0, false});
          Link(e.accepted.offer);
          break;
        }
        case EventType::kFill:
          filled = true;
          if (stream_.prefill != 0) ++stream_.timed_fills;
          Update(e.fill.maker_offer, e.fill.maker_open);
          Update(e.fill.taker_offer, e.fill.taker_open);
          break;
        case EventType::kCancelled:
          Update(e.cancelled.offer, 0);
          break;
        case EventType::kReplaced:
          offers_[e.replaced.offer].price = e.replaced.price;
          Update(e.replaced.offer, e.replaced.lots);
          break;
        case EventType::kRejected:
          Fail("the engine rejected a generated command");
          break;
        default:
          break;
      }
    }
    if (stream_.prefill == 0) return;  // still prefilling: no statistics
    switch (op.type) {
      case OpType::kAdd:
        ++stream_.timed_adds;
        stream_.timed_adds_crossing += filled;
        break;
      case OpType::kReplace:
        ++stream_.timed_replaces;
        stream_.timed_replaces_crossing += filled;
        break;
      case OpType::kCancel:
        ++stream_.timed_cancels;
        break;
    }
  }

  void Link(OfferId id) {
    OfferState& o = offers_[id];
    if (o.open == 0 || o.live) return;
    o.live = true;
    o.live_pos = live_.size();
    live_.push_back(id);
  }

  void Update(OfferId id, Lots open) {
    OfferState& o = offers_[id];
    o.open = open;
    if (open != 0 || !o.live) return;
    o.live = false;
    const OfferId last = live_.back();
    live_[o.live_pos] = last;
    offers_[last].live_pos = o.live_pos;
    live_.pop_back();
  }

  void Fail(const char* what) {
    std::fprintf(stderr, "msx_compare_bench: stream %s, op %zu: %s\n", stream_.name.c_str(),
                 stream_.ops.size() - 1, what);
    std::exit(1);
  }

  Engine oracle_;
  Rng rng_;
  int pairs_;
  std::vector<OfferId> makers_;  // AddSweep's scratch
  Stream stream_;
  std::vector<Event> events_;
  std::vector<OfferState> offers_;  // by offer id
  std::vector<OfferId> live_;
  Seq seq_ = 0;
};

// A stream over `pairs` books (kPairs, or 1 for the single-book variants, named
// "<name>/1book").
std::string StreamName(const std::string& name, int pairs) {
  return pairs == 1 ? name + "/1book" : name;
}

Stream MakeAddHalfCross(int pairs, int prefill, int timed) {
  StreamWriter w(StreamName("AddHalfCross", pairs), prefill + timed, 101, pairs);
  for (int i = 0; i < prefill; ++i) {
    const PairId pair = w.RandomPair();
    const Side side = w.rng().Below(2) ? Side::kBuy : Side::kSell;
    w.Add(pair, side, 1 + static_cast<Lots>(w.rng().Below(20)), w.PassivePrice(pair, side));
  }
  w.EndPrefill();
  for (int i = 0; i < timed; ++i) w.AddHalfCross();
  return w.Finish();
}

Stream MakeDeepCancel(int pairs, int depth, int timed_cycles) {
  StreamWriter w(StreamName("DeepCancel/" + std::to_string(depth), pairs),
                 static_cast<std::size_t>(depth) * pairs + timed_cycles, 202 + depth, pairs);
  for (int k = 0; k < depth; ++k) {
    for (PairId pair = 0; pair < static_cast<PairId>(pairs); ++pair) {
      w.Add(pair, Side::kBuy, 1 + static_cast<Lots>(w.rng().Below(20)), kRef - 1);
    }
  }
  w.EndPrefill();
  for (int i = 0; i < timed_cycles; ++i) {
    // Cancel an offer at a random position of a random level, then queue a new one at the
    // back of that level, so every level keeps `depth` offers.
    const PairId pair = w.Cancel(w.RandomLive());
    w.Add(pair, Side::kBuy, 1 + static_cast<Lots>(w.rng().Below(20)), kRef - 1);
  }
  return w.Finish();
}

Stream MakeMoveHeavy(int pairs, int prefill, int timed) {
  StreamWriter w(StreamName("MoveHeavy", pairs), prefill + timed / 3, 303, pairs);
  for (int i = 0; i < prefill; ++i) {
    const PairId pair = w.RandomPair();
    const Side side = w.rng().Below(2) ? Side::kBuy : Side::kSell;
    w.Add(pair, side, 1 + static_cast<Lots>(w.rng().Below(20)), w.PassivePrice(pair, side));
  }
  w.EndPrefill();
  for (int i = 0; i < timed; ++i) {
    // Half moves; the other half adds or cancels, whichever keeps the book near its
    // prefilled size (so adds make up for cancels and for the offers fills remove).
    if (w.rng().Below(2) != 0 && w.LiveCount() != 0) {
      w.Move(w.RandomLive());
    } else if (w.LiveCount() < static_cast<std::size_t>(prefill)) {
      w.AddHalfCross();
    } else {
      w.Cancel(w.RandomLive());
    }
  }
  return w.Finish();
}

// Crossing adds that sweep: every book side holds kPerSide offers within a few ticks of
// the reference price (about two per level); each timed command is either a taker
// (StreamWriter::AddSweep: 1-5 makers over 1-3 levels) or, while more than `lag` makers
// taken earlier wait to be put back, a passive add that puts a random one of them back on
// the side it was taken from. Takers lean against the mid's drift (a buy is 3x as likely
// as a sell when the mid is below the reference, and vice versa), so prices stay near it.
Stream MakeSweep(int pairs, int timed) {
  constexpr int kPerSide = 12;
  StreamWriter w(StreamName("Sweep", pairs), static_cast<std::size_t>(2 * kPerSide * pairs) + timed,
                 404, pairs);
  for (int k = 0; k < kPerSide; ++k) {
    for (PairId pair = 0; pair < static_cast<PairId>(pairs); ++pair) {
      w.AddNearReference(pair, Side::kSell);
      w.AddNearReference(pair, Side::kBuy);
    }
  }
  w.EndPrefill();
  struct Refill {
    PairId pair;
    Side side;
  };
  std::vector<Refill> pending;
  // At most `lag` makers wait to be put back: the books stay within a few offers of full.
  const std::size_t lag = static_cast<std::size_t>(std::max(2 * pairs, 4));
  for (int i = 0; i < timed; ++i) {
    if (pending.size() > lag) {
      const std::size_t k = w.rng().Below(pending.size());
      const Refill r = pending[k];
      pending[k] = pending.back();
      pending.pop_back();
      w.AddNearReference(r.pair, r.side);
      continue;
    }
    const PairId pair = w.RandomPair();
    const DepthInfo d = w.Depth(pair);
    const Price mid2 = (d.bids.empty() ? kRef : d.bids[0].price) + (d.asks.empty() ? kRef : d.asks[0].price);
    const std::uint64_t buy_in_4 = mid2 < 2 * kRef ? 3 : mid2 > 2 * kRef ? 1 : 2;
    const Side side = w.rng().Below(4) < buy_in_4 ? Side::kBuy : Side::kSell;
    const Side opp = side == Side::kBuy ? Side::kSell : Side::kBuy;
    const int taken = w.AddSweep(pair, side);
    if (taken < 0) {
      w.AddNearReference(pair, opp);  // that side is empty: refill it instead
      continue;
    }
    for (int k = 0; k < taken; ++k) pending.push_back({pair, opp});
  }
  return w.Finish();
}

// ---- What both books must agree on ----

struct Summary {
  std::uint64_t fills = 0;
  std::uint64_t fill_lots = 0;
  std::uint64_t notional = 0;      // sum of lots * price over fills
  std::uint64_t fill_hash = 14695981039346656037ull;  // over (taker, maker, lots, price)
  std::uint64_t cancelled_lots = 0;
  std::uint64_t rejects = 0;
  std::uint64_t open_offers = 0;   // left in the book at the end
  std::uint64_t open_lots = 0;

  void AddFill(std::uint64_t taker, std::uint64_t maker, std::uint64_t lots,
               std::uint64_t price) {
    ++fills;
    fill_lots += lots;
    notional += lots * price;
    for (std::uint64_t x : {taker, maker, lots, price}) fill_hash = (fill_hash ^ x) * 1099511628211ull;
  }
  bool operator==(const Summary&) const = default;
};

void PrintSummary(const char* who, const Summary& s) {
  std::fprintf(stderr,
               "  %-9s fills %llu, lots %llu, notional %llu, hash %016llx, cancelled lots %llu, "
               "rejects %llu, open offers %llu, open lots %llu\n",
               who, static_cast<unsigned long long>(s.fills),
               static_cast<unsigned long long>(s.fill_lots),
               static_cast<unsigned long long>(s.notional),
               static_cast<unsigned long long>(s.fill_hash),
               static_cast<unsigned long long>(s.cancelled_lots),
               static_cast<unsigned long long>(s.rejects),
               static_cast<unsigned long long>(s.open_offers),
               static_cast<unsigned long long>(s.open_lots));
}

// ---- MSX ----

class MsxRunner {
 public:
  // With `tally`, every event is counted into *tally (for the startup check).
  MsxRunner(const Stream& stream, bool prefetch, Summary* tally)
      : stream_(stream), prefetch_(prefetch), tally_(tally) {
    events_.reserve(1 << 16);
  }

  // A fresh engine holding the stream's prefill.
  void Reset() {
    engine_.reset();
    engine_ = std::make_unique<Engine>(CompareUniverse(), MsxOptions(stream_));
    seq_ = 0;
    FundAll(*engine_, &seq_, &events_);
    for (std::size_t i = 0; i < stream_.prefill; ++i) Step(i);
  }

  void Step(std::size_t i) {
    if (prefetch_ && i + 1 < stream_.ops.size()) {
      engine_->Prefetch(ToCommand(stream_.ops[i + 1], seq_ + 2));
    }
    events_.clear();
    engine_->Apply(ToCommand(stream_.ops[i], ++seq_), &events_);
    benchmark::DoNotOptimize(events_.data());
    if (tally_ != nullptr) Tally();
  }

  void FinishTally() {
    for (PairId pair = 0; pair < kPairs; ++pair) {
      const DepthInfo d = engine_->GetDepth(pair, 1 << 20);
      for (const auto* side : {&d.bids, &d.asks}) {
        for (const LevelInfo& l : *side) {
          tally_->open_offers += l.offer_count;
          tally_->open_lots += static_cast<std::uint64_t>(l.lots);
        }
      }
    }
  }

 private:
  void Tally() {
    for (const Event& e : events_) {
      if (e.type == EventType::kFill) {
        tally_->AddFill(e.fill.taker_offer, e.fill.maker_offer,
                        static_cast<std::uint64_t>(e.fill.lots),
                        static_cast<std::uint64_t>(e.fill.price));
      } else if (e.type == EventType::kCancelled) {
        tally_->cancelled_lots += static_cast<std::uint64_t>(e.cancelled.lots);
      } else if (e.type == EventType::kRejected) {
        ++tally_->rejects;
      }
    }
  }

  const Stream& stream_;
  const bool prefetch_;
  Summary* const tally_;
  std::unique_ptr<Engine> engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
};

// ---- Liquibook ----

// The minimal order Liquibook's OrderBook<LbOrder*> needs.
struct LbOrder {
  std::uint32_t id = 0;
  lb::Price limit = 0;
  lb::Quantity qty = 0;
  bool buy = false;

  bool is_buy() const { return buy; }
  lb::Price price() const { return limit; }
  lb::Quantity order_qty() const { return qty; }
  lb::Price stop_price() const { return 0; }
};

// One pair's book. The callbacks only count (when tallying) and keep the order's price
// current after a replace, which Liquibook leaves to the application (its cancel and
// replace find the order at order->price()).
class LbBook : public lb::OrderBook<LbOrder*> {
 public:
  explicit LbBook(Summary* tally) : tally_(tally) {}

 protected:
  void on_fill(LbOrder* const& order, LbOrder* const& matched_order, lb::Quantity fill_qty,
               lb::Cost fill_cost, bool, bool) override {
    if (tally_ != nullptr) tally_->AddFill(order->id, matched_order->id, fill_qty, fill_cost / fill_qty);
  }
  void on_cancel(LbOrder* const&, lb::Quantity quantity) override {
    if (tally_ != nullptr) tally_->cancelled_lots += quantity;
  }
  void on_replace(LbOrder* const& order, lb::Quantity, lb::Quantity, lb::Price new_price) override {
    order->limit = new_price;
  }
  void on_reject(LbOrder* const&, const char*) override { CountReject(); }
  void on_cancel_reject(LbOrder* const&, const char*) override { CountReject(); }
  void on_replace_reject(LbOrder* const&, const char*) override { CountReject(); }

 private:
  void CountReject() {
    if (tally_ != nullptr) ++tally_->rejects;
  }

  Summary* const tally_;
};

class LiquibookRunner {
 public:
  LiquibookRunner(const Stream& stream, Summary* tally) : stream_(stream), tally_(tally) {}

  // Fresh books (one per pair) holding the stream's prefill.
  void Reset() {
    books_.clear();
    for (int p = 0; p < kPairs; ++p) books_.push_back(std::make_unique<LbBook>(tally_));
    orders_.assign(stream_.max_offer_id + 1, LbOrder{});
    for (std::size_t i = 0; i < stream_.prefill; ++i) Step(i);
  }

  void Step(std::size_t i) {
    const Op& op = stream_.ops[i];
    LbBook& book = *books_[op.pair];
    LbOrder* order = &orders_[op.offer];
    switch (op.type) {
      case OpType::kAdd:
        *order = LbOrder{op.offer, static_cast<lb::Price>(op.price),
                         static_cast<lb::Quantity>(op.lots), op.side == Side::kBuy};
        book.add(order);
        break;
      case OpType::kCancel:
        book.cancel(order);
        break;
      case OpType::kReplace:
        book.replace(order, op.delta, static_cast<lb::Price>(op.price));
        break;
    }
  }

  void FinishTally() {
    for (const auto& book : books_) {
      for (const auto* side : {&book->bids(), &book->asks()}) {
        for (const auto& [price, tracker] : *side) {
          ++tally_->open_offers;
          tally_->open_lots += tracker.open_qty();
        }
      }
    }
  }

 private:
  const Stream& stream_;
  Summary* const tally_;
  std::vector<std::unique_ptr<LbBook>> books_;
  std::vector<LbOrder> orders_;  // by MSX offer id
};

// ---- Startup check and benchmarks ----

template <class Runner>
Summary RunWhole(Runner& runner, Summary* tally, const Stream& s) {
  runner.Reset();
  for (std::size_t i = s.prefill; i < s.ops.size(); ++i) runner.Step(i);
  runner.FinishTally();
  return *tally;
}

// Runs the whole stream through both books; exits if they disagree.
void CheckAgreement(const Stream& s) {
  Summary msx_tally, lb_tally;
  Summary msx, liquibook;
  {
    MsxRunner r(s, /*prefetch=*/false, &msx_tally);
    msx = RunWhole(r, &msx_tally, s);
  }
  {
    LiquibookRunner r(s, &lb_tally);
    liquibook = RunWhole(r, &lb_tally, s);
  }
  const std::size_t timed = s.ops.size() - s.prefill;
  std::fprintf(stderr,
               "check %s: %zu prefill + %zu timed commands (%llu adds, %.1f %% crossing; "
               "%llu replaces, %.1f %% crossing; %llu cancels; %.2f fills per crossing "
               "command)\n",
               s.name.c_str(), s.prefill, timed, static_cast<unsigned long long>(s.timed_adds),
               s.timed_adds ? 100.0 * static_cast<double>(s.timed_adds_crossing) /
                                  static_cast<double>(s.timed_adds)
                            : 0.0,
               static_cast<unsigned long long>(s.timed_replaces),
               s.timed_replaces ? 100.0 * static_cast<double>(s.timed_replaces_crossing) /
                                      static_cast<double>(s.timed_replaces)
                                : 0.0,
               static_cast<unsigned long long>(s.timed_cancels),
               s.timed_adds_crossing + s.timed_replaces_crossing
                   ? static_cast<double>(s.timed_fills) /
                         static_cast<double>(s.timed_adds_crossing + s.timed_replaces_crossing)
                   : 0.0);
  PrintSummary("msx", msx);
  PrintSummary("liquibook", liquibook);
  if (!(msx == liquibook) || msx.rejects != 0) {
    std::fprintf(stderr,
                 "msx_compare_bench: MSX and Liquibook DISAGREE on stream %s (or rejected "
                 "commands); the books would not be doing the same work. Aborting.\n",
                 s.name.c_str());
    std::exit(1);
  }
}

// One iteration = one pass over the timed part of the stream, on books rebuilt (untimed)
// from its prefill, so that both books are measured on exactly the same commands (the
// cost per command changes along a stream as its book changes shape).
template <class Runner>
void RunTimed(benchmark::State& state, const Stream& s, Runner& runner) {
  const std::size_t end = s.ops.size();
  for (auto _ : state) {
    state.PauseTiming();
    runner.Reset();
    state.ResumeTiming();
    for (std::size_t i = s.prefill; i < end; ++i) runner.Step(i);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(end - s.prefill));
  state.counters["commands_per_pass"] = static_cast<double>(end - s.prefill);
}

void BM_Msx(benchmark::State& state, const Stream* s, bool prefetch) {
  MsxRunner runner(*s, prefetch, nullptr);
  RunTimed(state, *s, runner);
}

void BM_Liquibook(benchmark::State& state, const Stream* s) {
  LiquibookRunner runner(*s, nullptr);
  RunTimed(state, *s, runner);
}

}  // namespace
}  // namespace msx

int main(int argc, char** argv) {
  // Ours (the rest are Google Benchmark's): --rounds=N, rounds of the interleaved runs;
  // --streams=REGEX, generate, check and time only the streams whose name matches.
  int rounds = 5;
  std::regex only(".*");
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) {
      rounds = std::atoi(argv[i] + 9);
      if (rounds < 1) {
        std::fprintf(stderr, "msx_compare_bench: --rounds wants a positive count, got %s\n",
                     argv[i] + 9);
        return 1;
      }
    } else if (std::strncmp(argv[i], "--streams=", 10) == 0) {
      only = std::regex(argv[i] + 10);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Single-book variants: the per-book prefill of the 50-book stream, and at least 20k
  // timed commands.
  static const std::vector<msx::Stream> streams = [&] {
    using msx::kPairs;
    using msx::Stream;
    const std::vector<std::pair<std::string, std::function<Stream()>>> makers = {
        {"AddHalfCross", [] { return msx::MakeAddHalfCross(kPairs, 100'000, 2'000'000); }},
        {"AddHalfCross/1book", [] { return msx::MakeAddHalfCross(1, 100'000 / kPairs, 40'000); }},
        {"DeepCancel/1000", [] { return msx::MakeDeepCancel(kPairs, 1'000, 50'000); }},
        {"DeepCancel/1000/1book", [] { return msx::MakeDeepCancel(1, 1'000, 10'000); }},
        {"DeepCancel/5000", [] { return msx::MakeDeepCancel(kPairs, 5'000, 25'000); }},
        {"DeepCancel/5000/1book", [] { return msx::MakeDeepCancel(1, 5'000, 10'000); }},
        {"MoveHeavy", [] { return msx::MakeMoveHeavy(kPairs, 100'000, 1'000'000); }},
        {"MoveHeavy/1book", [] { return msx::MakeMoveHeavy(1, 100'000 / kPairs, 40'000); }},
        {"Sweep", [] { return msx::MakeSweep(kPairs, 1'000'000); }},
        {"Sweep/1book", [] { return msx::MakeSweep(1, 200'000); }},
    };
    std::vector<Stream> v;
    for (const auto& [name, make] : makers) {
      if (!std::regex_search(name, only)) continue;
      v.push_back(make());
      if (v.back().name != name) std::abort();  // the table and the generator disagree
    }
    return v;
  }();
  for (const msx::Stream& s : streams) msx::CheckAgreement(s);
  for (const msx::Stream& s : streams) {
    for (int r = 1; r <= rounds; ++r) {
      const std::string round = "/round:" + std::to_string(r);
      benchmark::RegisterBenchmark((s.name + "/msx" + round).c_str(), msx::BM_Msx, &s, false);
      benchmark::RegisterBenchmark((s.name + "/msx_prefetch" + round).c_str(), msx::BM_Msx, &s,
                                   true);
      benchmark::RegisterBenchmark((s.name + "/liquibook" + round).c_str(), msx::BM_Liquibook,
                                   &s);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
