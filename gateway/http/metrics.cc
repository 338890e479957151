#include "gateway/http/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

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

// Per instrument id: whether it has a term book (only those can have obligations).
std::vector<bool> LendableInstruments(const ReferenceData& ref) {
  std::vector<bool> lendable(ref.instruments().size(), false);
  for (const TermBook& b : ref.term_books()) lendable[b.instrument] = true;
  return lendable;
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
    case CommandType::kReplaceTermOffer:
      return "replace_term_offer";
    case CommandType::kReturnObligation:
      return "return_obligation";
    case CommandType::kRecallObligation:
      return "recall_obligation";
    case CommandType::kPublishReference:
      return "publish_reference";
    case CommandType::kAdmitMember:
      return "admit_member";
    case CommandType::kSuspendMember:
      return "suspend_member";
    case CommandType::kSetEmergencyLevel:
      return "set_emergency_level";
    case CommandType::kRunAuction:
      return "run_auction";
    case CommandType::kSubmitOfferWithNeed:
      return "submit_offer_with_need";
    case CommandType::kConfirmDelivery:
      return "confirm_delivery";
    case CommandType::kFollowLiveReference:
      return "follow_live_reference";
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

const char* ObligationEventLabel(ObligationEventKind kind) {
  switch (kind) {
    case ObligationEventKind::kReturned:
      return "returned";
    case ObligationEventKind::kSettled:
      return "settled";
    case ObligationEventKind::kOverdue:
      return "overdue";
    case ObligationEventKind::kCollected:
      return "collected";
    case ObligationEventKind::kRecalled:
      return "recalled";
  }
  return nullptr;
}

CommandMetrics::CommandMetrics(const ReferenceData& ref)
    : ref_(ref),
      pairs_(ref.pairs().size()),
      term_books_(ref.term_books().size()),
      obligations_(ref.instruments().size()),
      group_commands_(PowersOfTwo(4096)) {}

void CommandMetrics::OnBatchSequenced(absl::Span<const CommandGroup> groups) {
  if (groups.empty()) return;
  // A command is rejected when one of its events is a kRejected (the engine then changed
  // nothing). Each Add is a relaxed load and store (one writer): no read-modify-write.
  for (const CommandGroup& g : groups) {
    bool rejected = false;
    for (const Event& ev : g.events) {
      switch (ev.type) {
        case EventType::kRejected:
          rejected = true;
          rejects_[static_cast<std::size_t>(ev.rejected.reason)].Add(1);
          break;
        case EventType::kFill:
          if (const FillEvent& f = ev.fill; f.pair < pairs_.size()) {
            PairCells& p = pairs_[f.pair];
            p.fills.Add(1);
            p.lots.Add(static_cast<std::uint64_t>(f.lots));
            p.base_amount.Add(static_cast<std::uint64_t>(f.base_amount));
            p.quote_amount.Add(static_cast<std::uint64_t>(f.quote_amount));
          }
          break;
        case EventType::kLoanFill:
          if (const LoanFillEvent& l = ev.loan_fill; l.book < term_books_.size()) {
            term_books_[l.book].loans.Add(1);
            term_books_[l.book].lots.Add(static_cast<std::uint64_t>(l.lots));
          }
          break;
        case EventType::kObligation: {
          const ObligationEvent& o = ev.obligation;
          const auto kind = static_cast<std::size_t>(o.kind);
          if (o.instrument < obligations_.size() && kind < kObligationKinds) {
            obligations_[o.instrument][kind].events.Add(1);
            obligations_[o.instrument][kind].amount.Add(static_cast<std::uint64_t>(o.amount));
          }
          break;
        }
        default:
          break;
      }
    }
    commands_[static_cast<std::size_t>(g.command->type)][rejected ? 1 : 0].Add(1);
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
  w->Family("msx_loans_total", "counter",
            "Loans made per term book (time swaps): fills of a lend against a borrow offer, "
            "each opening one obligation.");
  for (const TermBook& b : ref_.term_books()) {
    w->Sample("msx_loans_total", {{"term_book", b.symbol}},
              static_cast<double>(term_books_[b.id].loans.Get()));
  }
  w->Family("msx_loaned_lots_total", "counter", "Lots lent per term book (the near legs).");
  for (const TermBook& b : ref_.term_books()) {
    w->Sample("msx_loaned_lots_total", {{"term_book", b.symbol}},
              static_cast<double>(term_books_[b.id].lots.Get()));
  }
  const std::vector<bool> lendable = LendableInstruments(ref_);
  w->Family("msx_obligation_events_total", "counter",
            "Obligation events per instrument: returned (by the borrower), settled (in full "
            "at the due time), overdue (not settled in full at the due time), collected "
            "(from units an overdue borrower received), recalled (by the lender).");
  for (const Instrument& in : ref_.instruments()) {
    if (!lendable[in.id]) continue;
    for (std::size_t k = 1; k < kObligationKinds; ++k) {
      const char* kind = ObligationEventLabel(static_cast<ObligationEventKind>(k));
      if (kind == nullptr) continue;
      w->Sample("msx_obligation_events_total", {{"instrument", in.symbol}, {"kind", kind}},
                static_cast<double>(obligations_[in.id][k].events.Get()));
    }
  }
  w->Family("msx_obligation_repaid_amount_total", "counter",
            "Units moved from borrowers to lenders on obligations, per instrument and event "
            "kind, in the instrument's unit (label unit).");
  for (const Instrument& in : ref_.instruments()) {
    if (!lendable[in.id]) continue;
    for (std::size_t k = 1; k < kObligationKinds; ++k) {
      const auto kind_value = static_cast<ObligationEventKind>(k);
      const char* kind = ObligationEventLabel(kind_value);
      if (kind == nullptr || kind_value == ObligationEventKind::kRecalled) continue;
      w->Sample("msx_obligation_repaid_amount_total",
                {{"instrument", in.symbol}, {"kind", kind}, {"unit", in.unit}},
                static_cast<double>(obligations_[in.id][k].amount.Get()));
    }
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

EngineGauges ReadEngineGauges(const Engine& engine, const ReferenceData& ref) {
  EngineGauges g;
  g.resting.resize(ref.pairs().size());
  for (const PairBook& p : ref.pairs()) {
    const DepthInfo depth = engine.GetDepth(p.id, std::numeric_limits<int>::max());
    std::array<std::uint64_t, 2>& r = g.resting[p.id];
    for (const LevelInfo& l : depth.bids) r[0] += l.offer_count;
    for (const LevelInfo& l : depth.asks) r[1] += l.offer_count;
  }
  g.levels.reserve(ref.instruments().size());
  for (const Instrument& in : ref.instruments()) g.levels.push_back(engine.GetLevel(in.id));
  g.obligations.resize(ref.instruments().size());
  if (!ref.term_books().empty()) {
    for (const ObligationInfo& o : engine.ListObligations(std::nullopt)) {
      if (o.instrument >= g.obligations.size()) continue;
      int state;
      if (o.state == ObligationState::kOpen) {
        state = 0;
      } else if (o.state == ObligationState::kOverdue) {
        state = 1;
      } else {
        continue;
      }
      EngineGauges::Obligations& c = g.obligations[o.instrument][state];
      ++c.count;
      c.outstanding += static_cast<std::uint64_t>(o.outstanding);
    }
  }
  return g;
}

void RenderEngineGauges(const EngineGauges& g, const ReferenceData& ref, PrometheusWriter* w) {
  if (g.resting.size() == ref.pairs().size()) {
    w->Family("msx_book_resting_offers", "gauge", "Offers resting in each pair book, by side.");
    for (const PairBook& p : ref.pairs()) {
      w->Sample("msx_book_resting_offers", {{"pair", p.symbol}, {"side", "buy"}},
                static_cast<double>(g.resting[p.id][0]));
      w->Sample("msx_book_resting_offers", {{"pair", p.symbol}, {"side", "sell"}},
                static_cast<double>(g.resting[p.id][1]));
    }
  }
  if (g.levels.size() == ref.instruments().size()) {
    w->Family("msx_emergency_level", "gauge",
              "Emergency level of each instrument: 0 NORMAL, 1 INTEREST, 2 CAUTION, "
              "3 WARNING, 4 SERIOUS.");
    for (const Instrument& in : ref.instruments()) {
      w->Sample("msx_emergency_level", {{"instrument", in.symbol}},
                static_cast<double>(static_cast<int>(g.levels[in.id])));
    }
  }
  if (g.obligations.size() != ref.instruments().size() || ref.term_books().empty()) return;
  const std::vector<bool> lendable = LendableInstruments(ref);
  static constexpr const char* kStates[2] = {"open", "overdue"};
  w->Family("msx_obligations", "gauge",
            "Obligations (loans not yet repaid in full) per instrument and state.");
  for (const Instrument& in : ref.instruments()) {
    if (!lendable[in.id]) continue;
    for (int s = 0; s < 2; ++s) {
      w->Sample("msx_obligations", {{"instrument", in.symbol}, {"state", kStates[s]}},
                static_cast<double>(g.obligations[in.id][s].count));
    }
  }
  w->Family("msx_obligation_outstanding_amount", "gauge",
            "Units still owed on open and overdue obligations, in the instrument's unit "
            "(label unit).");
  for (const Instrument& in : ref.instruments()) {
    if (!lendable[in.id]) continue;
    for (int s = 0; s < 2; ++s) {
      w->Sample("msx_obligation_outstanding_amount",
                {{"instrument", in.symbol}, {"state", kStates[s]}, {"unit", in.unit}},
                static_cast<double>(g.obligations[in.id][s].outstanding));
    }
  }
}

}  // namespace msx::gateway::http
