// The figures of one msx-loadgen run (RunLoad in loadgen.h) and their renderings: a JSON
// object on one line and a human-readable text.
//
// Counting: `sent` calls, each ends as `ok`, `rejected` (the engine turned the command
// down: the error message starts with "REJECT_REASON_") or an error by gRPC code.
// With api "order-entry" an operation is one request on an OrderEntry stream: `errors`
// then counts requests lost to a failed stream (by the stream's gRPC status; a stream the
// generator had to cancel after the run counts its unanswered requests as
// DEADLINE_EXCEEDED), `response_errors` the responses whose own code is neither OK nor a
// REJECT_REASON_ (e.g. RESOURCE_EXHAUSTED beyond the server's in-flight limit).
// `fills` counts matches from SubmitOffer replies (the aggressor's fills); `exec_fills`
// counts aggressor Fill reports seen on the agencies' StreamExecutions; both count each
// match once. Latency histograms hold OK replies only.
//
// Thread-safety: values; functions are pure.
#ifndef MSX_CLIENTS_LOADGEN_SUMMARY_H_
#define MSX_CLIENTS_LOADGEN_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clients/loadgen/histogram.h"

namespace msx::loadgen {

struct Summary {
  std::string mode;           // "exchange" or "echo"
  std::string api = "unary";  // "unary" or "order-entry"
  int window = 0;             // order-entry: requests in flight per stream
  std::string exec_stream;    // "batches", "reports" or "none" (no execution streams)
  int streams = 0;            // order-entry: streams opened (channels x agencies)
  std::int64_t target_rate = 0;
  int concurrency = 0;
  int pairs = 0;
  int agencies = 0;
  std::uint64_t sent = 0, ok = 0, rejected = 0;
  std::uint64_t submits = 0, cancels = 0;
  std::map<std::string, std::uint64_t> errors;           // gRPC code name -> count
  std::map<std::string, std::uint64_t> response_errors;  // order-entry: response code -> count
  std::map<std::string, std::uint64_t> reject_reasons;   // REJECT_REASON_* -> count
  std::uint64_t fills = 0, exec_fills = 0, exec_reports = 0;
  std::uint64_t cleanup_cancels = 0;  // this run's offers still resting at the end, cancelled
  // Crossing halves left resting because the other half failed (rejected, cancelled by the
  // engine); queued ahead of the passive offers for the mix's cancels.
  std::uint64_t orphans = 0;
  std::int64_t elapsed_ns = 0;       // start to last reply
  std::int64_t max_send_lag_ns = 0;  // worst lateness of a send behind its due time
  LatencyHistogram submit;           // submit -> reply, from the due time (ns)
  LatencyHistogram cancel;           // cancel -> reply, from the due time (ns)
  LatencyHistogram rtt;              // any call, from its actual send (ns)
  LatencyHistogram exec;             // submit due time -> first execution report of that offer (ns)
  std::vector<std::string> notes;    // skipped pairs, stream errors

  // errors plus response_errors.
  std::uint64_t error_count() const;
  // Completed calls (submits and cancels) per second over elapsed_ns: what --rate targets.
  double achieved_rate() const;
  // Swap offers submitted per second over elapsed_ns (the calls without the cancels).
  double offer_rate() const;
};

// One JSON object on one line with at least: api, window, streams, sent, ok, rejected,
// errors and response_errors (objects),
// rate (calls/s), offer_rate (submits/s), fills, p50_us, p90_us, p99_us, p999_us, max_us,
// exec_p50_us, exec_p99_us.
std::string SummaryJson(const Summary& s);
// A human-readable multi-line summary.
std::string SummaryText(const Summary& s);

// Microseconds with one decimal, truncated, from nanoseconds (negative as 0): "52.3".
std::string Micros(std::int64_t ns);

}  // namespace msx::loadgen

#endif  // MSX_CLIENTS_LOADGEN_SUMMARY_H_
