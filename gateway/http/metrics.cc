#include "gateway/http/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway::http {
namespace {

// 1, 2, 4, ... 4096 commands per group.
std::vector<std::uint64_t> PowersOfTwo(std::uint64_t max) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t b = 1; b <= max; b *= 2) out.push_back(b);
  return out;
}

void AppendNumber(std::string* out, double v) {
  if (std::isinf(v)) {
    absl::StrAppend(out, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    absl::StrAppend(out, static_cast<long long>(v));
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  out->append(buf);
}

void AppendEscaped(std::string* out, absl::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

std::vector<std::uint64_t> LatencyBoundsNs() {
  return {10'000,      25'000,      50'000,      100'000,     250'000,
          500'000,     1'000'000,   2'500'000,   5'000'000,   10'000'000,
          25'000'000,  50'000'000,  100'000'000, 250'000'000, 1'000'000'000};
}

Histogram::Histogram(std::vector<std::uint64_t> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

void Histogram::Observe(std::uint64_t value) {
  const std::size_t i =
      static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                               bounds_.begin());
  buckets_[i].Add(1);
  sum_.Add(value);
  count_.Add(1);
}

void PrometheusWriter::Family(absl::string_view name, absl::string_view type,
                              absl::string_view help) {
  absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void PrometheusWriter::Sample(
    absl::string_view name,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> labels,
    double value) {
  out_.append(name.data(), name.size());
  if (labels.size() != 0) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_.push_back(',');
      first = false;
      absl::StrAppend(&out_, k, "=\"");
      AppendEscaped(&out_, v);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
  AppendNumber(&out_, value);
  out_.push_back('\n');
}

void PrometheusWriter::HistogramSamples(absl::string_view name, const Histogram& h,
                                        double scale) {
  const std::string bucket = absl::StrCat(name, "_bucket");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.bucket(i);
    std::string le;
    if (i == h.bounds().size()) {
      le = "+Inf";
    } else {
      AppendNumber(&le, static_cast<double>(h.bounds()[i]) / scale);
    }
    Sample(bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  // _count after the buckets: a reader racing the writer may see a bucket ahead of the
  // count; Prometheus tolerates that (each sample is a separate series).
  Sample(absl::StrCat(name, "_sum"), static_cast<double>(h.sum()) / scale);
  Sample(absl::StrCat(name, "_count"), static_cast<double>(h.count()));
}

const char* CommandTypeLabel(CommandType type) {
  switch (type) {
    case CommandType::kSubmitOffer:
      return "submit_offer";
    case CommandType::kCancelOffer:
      return "cancel_offer";
    case CommandType::kReplaceOfferOpenLots:
      return "replace_offer_open_lots";
    case CommandType::kAdvanceTime:
      return "advance_time";
    case CommandType::kSetHoldings:
      return "set_holdings";
    case CommandType::kHaltPair:
      return "halt_pair";
    case CommandType::kResumePair:
      return "resume_pair";
    case CommandType::kReplaceOffer:
      return "replace_offer";
    case CommandType::kSetOfferRetention:
      return "set_offer_retention";
    case CommandType::kSubmitTermOffer:
      return "submit_term_offer";
    case CommandType::kCancelTermOffer:
      return "cancel_term_offer";
    case CommandType::kReturnObligation:
      return "return_obligation";
    case CommandType::kRecallObligation:
      return "recall_obligation";
  }
  return nullptr;  // a type this build does not know: not rendered
}

std::string RejectReasonLabel(RejectReason reason) {
  // The public name without its prefix: REJECT_REASON_PRICE_OUTSIDE_BAND -> price_outside_band.
  std::string name = v1::RejectReason_Name(static_cast<v1::RejectReason>(reason));
  constexpr absl::string_view kPrefix = "REJECT_REASON_";
  if (name.empty()) return absl::StrCat("reason_", static_cast<int>(reason));
  if (absl::string_view(name).substr(0, kPrefix.size()) == kPrefix) {
    name = name.substr(kPrefix.size());
  }
  absl::AsciiStrToLower(&name);
  return name;
}

CommandMetrics::CommandMetrics(const ReferenceData& ref)
    : ref_(ref), pairs_(ref.pairs().size()), group_commands_(PowersOfTwo(4096)) {}

void CommandMetrics::OnBatchSequenced(absl::Span<const CommandGroup> groups) {
  if (groups.empty()) return;
  // Summed locally first: one store per touched cell per batch. A command is rejected
  // when one of its events is a kRejected (the engine then changed nothing).
  std::array<std::array<std::uint64_t, 2>, kCommandTypes> by_type{};
  for (const CommandGroup& g : groups) {
    bool rejected = false;
    for (const Event& ev : g.events) {
      if (ev.type == EventType::kRejected) {
        rejected = true;
        rejects_[static_cast<std::size_t>(ev.rejected.reason) % kRejectReasons].Add(1);
      } else if (ev.type == EventType::kFill) {
        const FillEvent& f = ev.fill;
        if (f.pair < pairs_.size()) {
          PairCells& p = pairs_[f.pair];
          p.fills.Add(1);
          p.lots.Add(static_cast<std::uint64_t>(f.lots));
          p.base_amount.Add(static_cast<std::uint64_t>(f.base_amount));
          p.quote_amount.Add(static_cast<std::uint64_t>(f.quote_amount));
        }
      }
    }
    ++by_type[static_cast<std::size_t>(g.command->type) % kCommandTypes][rejected ? 1 : 0];
  }
  for (std::size_t t = 0; t < kCommandTypes; ++t) {
    for (int r = 0; r < 2; ++r) {
      if (by_type[t][r] != 0) commands_[t][r].Add(by_type[t][r]);
    }
  }
  group_commands_.Observe(groups.size());
}

std::uint64_t CommandMetrics::total_commands() const {
  std::uint64_t n = 0;
  for (const auto& t : commands_) n += t[0].Get() + t[1].Get();
  return n;
}

void CommandMetrics::Render(PrometheusWriter* w) const {
  w->Family("msx_commands_total", "counter",
            "Commands sequenced and journaled, by type and result (rejected: the engine "
            "turned it down, state unchanged).");
  for (std::size_t t = 1; t < kCommandTypes; ++t) {
    const char* type = CommandTypeLabel(static_cast<CommandType>(t));
    if (type == nullptr) continue;
    w->Sample("msx_commands_total", {{"type", type}, {"result", "accepted"}},
              static_cast<double>(commands_[t][0].Get()));
    w->Sample("msx_commands_total", {{"type", type}, {"result", "rejected"}},
              static_cast<double>(commands_[t][1].Get()));
  }
  w->Family("msx_rejects_total", "counter", "Rejected commands by reason.");
  for (std::size_t r = 1; r < kRejectReasons; ++r) {
    const auto reason = static_cast<RejectReason>(r);
    if (!v1::RejectReason_IsValid(static_cast<int>(r))) continue;
    w->Sample("msx_rejects_total", {{"reason", RejectReasonLabel(reason)}},
              static_cast<double>(rejects_[r].Get()));
  }
  w->Family("msx_fills_total", "counter", "Fills (swaps) per pair book.");
  for (const PairBook& p : ref_.pairs()) {
    w->Sample("msx_fills_total", {{"pair", p.symbol}},
              static_cast<double>(pairs_[p.id].fills.Get()));
  }
  w->Family("msx_filled_lots_total", "counter", "Base lots filled per pair book.");
  for (const PairBook& p : ref_.pairs()) {
    w->Sample("msx_filled_lots_total", {{"pair", p.symbol}},
              static_cast<double>(pairs_[p.id].lots.Get()));
  }
  w->Family("msx_filled_base_amount_total", "counter",
            "Base instrument delivered by fills per pair book, in the base instrument's "
            "unit (label unit).");
  for (const PairBook& p : ref_.pairs()) {
    w->Sample("msx_filled_base_amount_total",
              {{"pair", p.symbol}, {"unit", ref_.instruments()[p.base].unit}},
              static_cast<double>(pairs_[p.id].base_amount.Get()));
  }
  w->Family("msx_filled_quote_amount_total", "counter",
            "Quote instrument delivered by fills per pair book, in the quote instrument's "
            "unit (label unit).");
  for (const PairBook& p : ref_.pairs()) {
    w->Sample("msx_filled_quote_amount_total",
              {{"pair", p.symbol}, {"unit", ref_.instruments()[p.quote].unit}},
              static_cast<double>(pairs_[p.id].quote_amount.Get()));
  }
  w->Family("msx_sequencer_group_commands", "histogram",
            "Commands per sequencer group (one batch applied and handed to the journal).");
  w->HistogramSamples("msx_sequencer_group_commands", group_commands_, 1.0);
}

JournalMetrics::JournalMetrics()
    : commit_commands_(PowersOfTwo(4096)),
      write_ns_(LatencyBoundsNs()),
      sync_ns_(LatencyBoundsNs()) {}

void JournalMetrics::OnCommit(std::uint64_t commands, std::uint64_t write_ns,
                              std::uint64_t sync_ns) {
  commit_commands_.Observe(commands);
  write_ns_.Observe(write_ns);
  if (sync_ns != 0) sync_ns_.Observe(sync_ns);
}

void JournalMetrics::Render(PrometheusWriter* w) const {
  w->Family("msx_journal_group_commit_commands", "histogram",
            "Commands made durable per journal group commit (one write + fdatasync).");
  w->HistogramSamples("msx_journal_group_commit_commands", commit_commands_, 1.0);
  w->Family("msx_journal_write_duration_seconds", "histogram",
            "Time to write one group commit, fdatasync included.");
  w->HistogramSamples("msx_journal_write_duration_seconds", write_ns_, 1e9);
  w->Family("msx_journal_fdatasync_duration_seconds", "histogram",
            "Time spent in fdatasync per group commit (durability sync only).");
  w->HistogramSamples("msx_journal_fdatasync_duration_seconds", sync_ns_, 1e9);
}

}  // namespace msx::gateway::http
