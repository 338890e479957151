// Drill reports: what a journal's command stream did, per pair book, per instrument, per
// agency and per minute. Built from the journaled events alone (no engine), so a report
// also works on the event stream a drill regenerates.
//
// Definitions (all exact integers):
// - Volume swapped: per pair, the base units (sum of fill base_amount) and quote units
//   (sum of quote_amount); per instrument, the units of it that changed hands in fills on
//   any pair (base_amount where it is the base, quote_amount where it is the quote).
// - Fills: per pair, its fills; per instrument, fills on pairs that involve it.
// - Unfilled demand left resting at the end: per pair, the open lots of resting buy
//   offers (and the base units they still want, lots x base lot size) and of resting
//   sell offers (and the quote units they still want, lots x price); per instrument, the
//   units of it that resting offers still want (the bids of pairs where it is the base
//   plus the asks of pairs where it is the quote). This is the drill's "shortfall".
// - Time to first fill: for every offer that filled at least once, the time of its first
//   fill minus the time it was accepted (0 for an offer that filled on arrival). Per pair
//   over its offers; per instrument over the offers of pairs involving it. Percentiles are
//   nearest-rank over the sorted samples: p-th = sorted[ceil(p/100 * n) - 1].
// - Holdings: an agency's total (available + reserved) per instrument, from HoldingsSet
//   events and fills. "Before" is the state after the journal's leading run of
//   SetHoldings commands, i.e. just before the first command of any other type (all zero
//   if the journal starts with another command; the final state if it holds nothing
//   else). "After" is the state after the last command. Received/delivered count fills
//   only: a seller delivers base and receives quote, a buyer the reverse.
// - Loans (time swaps), per instrument lent: loans opened (LoanFill events) and the units
//   they moved (principal); units paid back to lenders (returns, settlement at the due
//   time, collection of overdue ones); obligations closed, obligations that fell overdue
//   and obligations recalled (one each however many events); at the end, obligations
//   still open or overdue, how many of them are overdue and the units still owed on them.
//   The same per agency and instrument, as lender and as borrower: agency_loans.h.
// - Declared needs (issue 15): per instrument and emergency level, need declared, met,
//   met within 8 days, allocation per agency and tier, and continuous matching's: needs.h.
// - Busiest minutes: UTC calendar minutes (command time / 60 s) ranked by number of
//   fills, ties by earlier minute.
// - Volume over time: per instrument, the units of it that changed hands in each UTC
//   second (fill time floored to the second), summed into equal buckets by BucketVolume:
//   the smallest width of 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h,
//   1 day, then doublings, that covers the span in at most kMaxVolumeBuckets buckets
//   aligned to multiples of the width since the epoch. The JSON and HTML reports show these
//   buckets.
//
// Thread-safety: a ReportBuilder is used by one thread; ReportData is a value.
#ifndef MSX_CLIENTS_DRILL_REPORT_H_
#define MSX_CLIENTS_DRILL_REPORT_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "clients/drill/agency_loans.h"
#include "clients/drill/deliveries.h"
#include "clients/drill/needs.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::drill {

struct LatencyStats {
  std::uint64_t count = 0;  // offers with at least one fill
  std::int64_t p50 = 0;     // nanoseconds
  std::int64_t p90 = 0;
  std::int64_t max = 0;
};

// Nearest-rank percentile of ascending `sorted` samples; 0 when empty.
// REQUIRES: 0 < percent <= 100.
std::int64_t NearestRank(const std::vector<std::int64_t>& sorted, int percent);
// Sorts `samples` and fills count/p50/p90/max.
LatencyStats ComputeLatency(std::vector<std::int64_t>* samples);

struct PairReport {
  PairId pair = 0;
  std::string symbol, base, quote, base_unit, quote_unit;
  std::uint64_t offers_accepted = 0;
  std::uint64_t fills = 0;
  Lots lots = 0;
  Amount base_volume = 0;
  Amount quote_volume = 0;
  Lots resting_bid_lots = 0;
  Amount resting_bid_units = 0;  // base units still wanted by resting buy offers
  Lots resting_ask_lots = 0;
  Amount resting_ask_units = 0;  // quote units still wanted by resting sell offers
  LatencyStats first_fill;
};

// Units of an instrument that changed hands during one UTC second.
struct VolumePoint {
  std::int64_t second = 0;  // since the epoch
  Amount volume = 0;
};

struct InstrumentReport {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  std::uint64_t fills = 0;
  Amount volume = 0;
  Amount unfilled_demand = 0;  // units still wanted by resting offers
  LatencyStats first_fill;
  std::vector<VolumePoint> volume_by_second;  // seconds with volume, ascending
};

struct LoanReport {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  std::uint64_t opened = 0;
  Amount lent = 0;             // principal of the loans opened
  Amount paid_back = 0;        // units that went back to lenders
  std::uint64_t closed = 0;    // obligations closed (returned, settled or collected)
  std::uint64_t fell_overdue = 0;
  std::uint64_t recalled = 0;
  std::uint64_t outstanding_at_end = 0;  // obligations still open or overdue
  std::uint64_t overdue_at_end = 0;
  Amount owed_at_end = 0;      // units still owed on them
  Amount overdue_owed_at_end = 0;
};

struct AgencyHoldingRow {
  InstrumentId instrument = 0;
  std::string symbol, unit;
  Amount before = 0;
  Amount received = 0;
  Amount delivered = 0;
  Amount after = 0;
};

struct AgencyReport {
  AgencyId agency = 0;
  std::string code;
  std::uint64_t fills = 0;             // fills the agency took part in
  std::vector<AgencyHoldingRow> rows;  // instruments with any non-zero figure
};

struct MinuteReport {
  TimeNs minute_start = 0;
  std::uint64_t fills = 0;
};

struct ReportData {
  std::uint64_t commands = 0;
  std::uint64_t events = 0;  // journaled events (no BookLevel)
  std::uint64_t fills = 0;
  std::uint64_t offers_accepted = 0;
  std::uint64_t rejects = 0;
  Seq first_seq = 0, last_seq = 0;
  TimeNs first_time = 0, last_time = 0;
  Seq holdings_before_seq = 0;   // first non-SetHoldings command (0 = none)
  std::uint64_t torn_bytes = 0;  // BuildReport: bytes of a torn tail that were ignored
  // Every pair/instrument with an accepted offer or a fill, in configuration order.
  std::vector<PairReport> pairs;
  std::vector<InstrumentReport> instruments;
  std::vector<AgencyReport> agencies;         // agencies with any holdings or fills
  std::vector<LoanReport> loans;  // instruments with a loan, in configuration order
  std::vector<AgencyLoanRow> agency_loans;  // per agency and instrument (agency_loans.h)
  std::vector<MinuteReport> busiest_minutes;  // at most top_minutes, busiest first
  // Declared needs per instrument and level (needs.h); `needs.continuous` is filled by
  // BuildReport and RunDrill (a second, continuous replay) when there are need buys.
  NeedReport needs;
  // Deliveries per deliverer and instrument (deliveries.h): opened by fills under WARNING
  // or SERIOUS, confirmed, fallen overdue, overdue at the end.
  std::vector<AgencyDeliveryRow> deliveries;
};

inline constexpr int kMaxVolumeBuckets = 120;

// Volume over time of one or more reports on common axes (a drill beside its original).
struct VolumeSeries {
  std::int64_t start_second = 0;  // start of the first bucket, a multiple of bucket_seconds
  std::int64_t bucket_seconds = 1;
  std::size_t buckets = 0;  // 0 when no report holds a command
  struct Row {
    std::string symbol, unit;
    std::vector<std::vector<Amount>> volume;  // [report][bucket]
  };
  // Instruments active in any report, in configuration order.
  std::vector<Row> instruments;
};

// Buckets the volume of `reports` over the span from the earliest first_time to the
// latest last_time of those with commands. REQUIRES: max_buckets >= 1.
VolumeSeries BucketVolume(const std::vector<const ReportData*>& reports,
                          int max_buckets = kMaxVolumeBuckets);

class ReportBuilder {
 public:
  // REQUIRES: `ref` outlives the builder. top_minutes >= 0.
  ReportBuilder(const ReferenceData& ref, int top_minutes);
  ReportBuilder(const ReportBuilder&) = delete;
  ReportBuilder& operator=(const ReportBuilder&) = delete;

  // Accounts one command and its events (kBookLevel events are ignored, so the engine's
  // raw output may be passed). REQUIRES: commands in sequence order; offer ids as the
  // engine assigns them (1, 2, 3, ...).
  void Add(const Command& cmd, absl::Span<const Event> events);

  // Computes the report. The builder must not be used afterwards.
  ReportData Finish();

 private:
  struct OfferTrack {
    TimeNs accepted_time = 0;
    Lots open = 0;
    Price price = 0;
    PairId pair = 0;
    Side side = Side::kBuy;
    bool filled = false;
  };
  struct PairAcc {
    std::uint64_t offers = 0, fills = 0;
    Lots lots = 0;
    Amount base_volume = 0, quote_volume = 0;
    std::vector<std::int64_t> first_fill;
  };
  struct ObligationTrack {
    InstrumentId instrument = 0;
    Amount outstanding = 0;
    ObligationState state = ObligationState::kOpen;
    bool fell_overdue = false;
    bool recalled = false;
  };
  void FirstFill(OfferId id, TimeNs time);
  Amount& Holding(AgencyId a, InstrumentId i) { return holdings_[a * num_instruments_ + i]; }

  const ReferenceData& ref_;
  const int top_minutes_;
  const std::size_t num_instruments_;
  ReportData data_;
  std::vector<OfferTrack> offers_;  // index = offer id (0 unused)
  std::vector<PairAcc> pairs_;
  std::vector<ObligationTrack> obligations_;  // index = obligation id (0 unused)
  std::vector<LoanReport> loans_;             // [instrument]
  std::vector<Amount> holdings_;  // [agency * instruments + instrument]
  std::vector<Amount> before_;
  bool have_before_ = false;
  std::vector<Amount> received_, delivered_;
  std::vector<std::uint64_t> agency_fills_;
  std::vector<std::pair<TimeNs, std::uint64_t>> minutes_;  // (minute index, fills), ascending
  std::vector<std::vector<VolumePoint>> volume_by_second_;  // [instrument]
  AgencyLoanLedger agency_loans_;
  NeedLedger needs_;
  DeliveryLedger deliveries_;
};

// Reads `dir` (verifying framing and CRCs, not replaying) and builds its report. Errors as
// VerifyReplay's reading errors. When the journal holds need buys, it is also replayed
// once with continuous matching (ContinuousNeeds, scenario.h) for the needs comparison.
absl::StatusOr<ReportData> BuildReport(const std::string& dir, int top_minutes);

std::string RenderReportText(const std::string& title, const ReportData& r);
// {"commands", ..., "pairs": [...], "instruments": [...], "agencies": [...],
// "loans": [...], "agency_loans": [...], "needs": NeedsJson (needs.h), "deliveries": [...],
// "busiest_minutes": [...], "volume_over_time": {"start_second", "bucket_seconds",
// "buckets", "instruments": [{"instrument", "unit", "volume": [...]}]}}: every figure of
// the text report, integers exact.
nlohmann::ordered_json ReportJson(const ReportData& r);
std::string RenderReportJson(const ReportData& r);  // ReportJson as compact text

// Side by side, per instrument: fills, volume and unfilled demand (shortfall) in the
// original and in the drill, with the differences; plus totals.
std::string RenderComparisonText(const ReportData& original, const ReportData& drill);
// {"totals": {...}, "instruments": [{symbol, fills:{original,drill, delta}, volume:{...},
// shortfall:{...}}], "volume_over_time": {"start_second", "bucket_seconds", "buckets",
// "instruments": [{"instrument", "unit", "original": [...], "drill": [...]}]},
// "original": report, "drill": report}
nlohmann::ordered_json ComparisonJson(const ReportData& original, const ReportData& drill);
std::string RenderComparisonJson(const ReportData& original, const ReportData& drill);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_REPORT_H_
