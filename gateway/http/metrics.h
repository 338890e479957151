// The exchange's Prometheus metrics: counters and histograms written by the thread that
// owns the work (the sequencer once per group, the journal writer once per group commit)
// and read by the HTTP thread when /metrics is scraped (gateway/http/METRICS.md lists
// them).
//
// Cost on the hot path: a cell is a relaxed atomic with ONE writer at a time (the holder
// of the sequencing role, or the thread that owns the journal file), so an update is a
// plain load and store, no lock-prefixed read-modify-write and never a lock. Writers
// update once per group of commands (CountGroup), never per command from the gRPC
// threads. Readers may see a group half counted; every counter is monotonic.
//
// Thread-safety: Cell/Histogram writers must be serialized by the caller (see above);
// readers may run concurrently on any thread.
#ifndef MSX_GATEWAY_HTTP_METRICS_H_
#define MSX_GATEWAY_HTTP_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "gateway/sequencer_observer.h"

namespace msx::gateway::http {

// A monotonic counter or a gauge with one writer at a time.
class Cell {
 public:
  Cell() = default;
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;
  // REQUIRES: writers serialized (happens-before between them, e.g. a mutex hand-off).
  void Add(std::uint64_t d) {
    value_.store(value_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  void Set(std::uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  std::uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A histogram with fixed upper bounds (Prometheus `le`), one writer at a time. Values are
// integers in the unit of the bounds (nanoseconds for durations; rendered in seconds).
class Histogram {
 public:
  // `bounds` ascending; an implicit +Inf bucket follows.
  explicit Histogram(std::vector<std::uint64_t> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // REQUIRES: writers serialized.
  void Observe(std::uint64_t value);

  const std::vector<std::uint64_t>& bounds() const { return bounds_; }
  // Count of the bucket (non-cumulative); i == bounds().size() is +Inf.
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].Get(); }
  std::uint64_t count() const { return count_.Get(); }
  std::uint64_t sum() const { return sum_.Get(); }

 private:
  const std::vector<std::uint64_t> bounds_;
  std::vector<Cell> buckets_;
  Cell count_;
  Cell sum_;
};

// Appends the Prometheus text exposition format (version 0.0.4). Label values are
// escaped (backslash, double quote, newline).
class PrometheusWriter {
 public:
  // Starts a metric family: `# HELP` and `# TYPE` lines. type: counter, gauge, histogram.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // One sample; `labels` is a list of (name, value).
  void Sample(absl::string_view name,
              std::initializer_list<std::pair<absl::string_view, absl::string_view>> labels,
              double value);
  void Sample(absl::string_view name, double value) { Sample(name, {}, value); }
  // A histogram's _bucket/_sum/_count samples; `scale` divides bounds and sum (1e9 for a
  // histogram in nanoseconds rendered in seconds).
  void HistogramSamples(absl::string_view name, const Histogram& h, double scale);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// Counters of the applied commands: a sequencer observer that counts each batch once
// (OnBatchSequenced), on the thread that holds the sequencing role.
class CommandMetrics final : public SequencerObserver {
 public:
  // One cell per value of the (8-bit) enums: a value this build does not name is counted
  // in its own cell and not rendered, never folded onto another reason.
  static constexpr std::size_t kCommandTypes = 256;
  static constexpr std::size_t kRejectReasons = 256;
  static_assert(sizeof(CommandType) == 1 && sizeof(RejectReason) == 1);

  explicit CommandMetrics(const ReferenceData& ref);
  CommandMetrics(const CommandMetrics&) = delete;
  CommandMetrics& operator=(const CommandMetrics&) = delete;

  // Counts a batch of sequenced commands and their events. Sequencing role only.
  void OnBatchSequenced(absl::Span<const CommandGroup> groups) override;

  void Render(PrometheusWriter* w) const;

  // For tests and the dashboard.
  std::uint64_t commands(CommandType type, bool rejected) const {
    return commands_[static_cast<std::size_t>(type)][rejected ? 1 : 0].Get();
  }
  std::uint64_t total_commands() const;
  std::uint64_t rejects(RejectReason reason) const {
    return rejects_[static_cast<std::size_t>(reason)].Get();
  }
  std::uint64_t fills(PairId pair) const { return pairs_[pair].fills.Get(); }
  std::uint64_t loans(TermBookId book) const { return term_books_[book].loans.Get(); }
  std::uint64_t obligation_events(InstrumentId instrument, ObligationEventKind kind) const {
    const auto k = static_cast<std::size_t>(kind);
    return k < kObligationKinds ? obligations_[instrument][k].events.Get() : 0;
  }

 private:
  struct PairCells {
    Cell fills;
    Cell lots;
    Cell base_amount;
    Cell quote_amount;
  };
  struct TermBookCells {
    Cell loans;
    Cell lots;
  };
  struct ObligationCells {
    Cell events;
    Cell amount;  // units moved from the borrower to the lender
  };
  static constexpr std::size_t kObligationKinds = 6;  // ObligationEventKind 1..5
  const ReferenceData& ref_;
  std::array<std::array<Cell, 2>, kCommandTypes> commands_;  // [type][rejected]
  std::array<Cell, kRejectReasons> rejects_;
  std::vector<PairCells> pairs_;
  std::vector<TermBookCells> term_books_;
  std::vector<std::array<ObligationCells, kObligationKinds>> obligations_;  // [instrument][kind]
  Histogram group_commands_;  // commands per sequencer group
};

// Gauges read from the engine's state for one scrape, by a sequencer query (the engine
// is the sequencer's alone): offers resting per pair book and side, obligations per
// instrument and state, each instrument's emergency level. Read on the sequencing thread,
// rendered on the HTTP thread.
struct EngineGauges {
  struct Obligations {
    std::uint64_t count = 0;        // obligations in the state
    std::uint64_t outstanding = 0;  // units still owed on them, in the instrument's unit
  };
  std::vector<std::array<std::uint64_t, 2>> resting;      // [pair][0 = buy, 1 = sell]
  std::vector<std::array<Obligations, 2>> obligations;    // [instrument][0 = open, 1 = overdue]
  std::vector<EmergencyLevel> levels;                      // [instrument]
};
// Sequencing role (reads `engine`). Cost: every level of every pair book, every
// obligation ever opened.
EngineGauges ReadEngineGauges(const Engine& engine, const ReferenceData& ref);
void RenderEngineGauges(const EngineGauges& gauges, const ReferenceData& ref,
                        PrometheusWriter* w);

// Journal group commits, updated by the thread that wrote them (one at a time).
class JournalMetrics {
 public:
  JournalMetrics();
  // One write (+ fdatasync) round: `commands` made durable, `sync_ns` spent in fdatasync
  // (0 under durability none). REQUIRES: writers serialized (the journal's file owner).
  void OnCommit(std::uint64_t commands, std::uint64_t write_ns, std::uint64_t sync_ns);
  void Render(PrometheusWriter* w) const;
  std::uint64_t commits() const { return commit_commands_.count(); }

 private:
  Histogram commit_commands_;
  Histogram write_ns_;
  Histogram sync_ns_;
};

// Latency histogram bounds: 10 us .. 1 s, roughly 1-2.5-5 per decade, in nanoseconds.
std::vector<std::uint64_t> LatencyBoundsNs();

// Snake-case names for labels: "submit_offer", "insufficient_holdings". CommandTypeLabel
// returns null for a value that is not a known CommandType.
const char* CommandTypeLabel(CommandType type);
std::string RejectReasonLabel(RejectReason reason);
// "returned", "settled", "overdue", "collected", "recalled"; null for an unknown value.
const char* ObligationEventLabel(ObligationEventKind kind);

}  // namespace msx::gateway::http

#endif  // MSX_GATEWAY_HTTP_METRICS_H_
