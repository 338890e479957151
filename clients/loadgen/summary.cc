#include "clients/loadgen/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace msx::loadgen {
namespace {

// Seconds with three decimals, from nanoseconds.
std::string Seconds(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

std::string Micros(std::int64_t ns) {
  if (ns < 0) ns = 0;
  return absl::StrCat(ns / 1000, ".", (ns % 1000) / 100);
}

std::uint64_t Summary::error_count() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  for (const auto& [k, v] : response_errors) n += v;
  return n;
}

double Summary::achieved_rate() const {
  if (elapsed_ns <= 0) return 0;
  return static_cast<double>(ok + rejected + error_count()) * 1e9 / static_cast<double>(elapsed_ns);
}

double Summary::offer_rate() const {
  if (elapsed_ns <= 0) return 0;
  return static_cast<double>(submits) * 1e9 / static_cast<double>(elapsed_ns);
}

std::string SummaryJson(const Summary& s) {
  // Decimal figures are rounded to the digits the text summary shows; nlohmann prints the
  // shortest text that reads back as the same double (401.4, 0.3, 2001.0).
  // Dividing by the power of ten (not multiplying by 0.1) gives the double nearest the
  // decimal.
  auto micros = [](std::int64_t ns) {
    return static_cast<double>(std::max<std::int64_t>(ns, 0) / 100) / 10;
  };
  auto decimals = [](double v, double scale) { return std::round(v * scale) / scale; };
  const LatencyHistogram& h = s.submit;
  nlohmann::ordered_json j;
  j["mode"] = s.mode;
  j["api"] = s.api;
  j["window"] = s.window;
  j["exec_stream"] = s.exec_stream;
  j["streams"] = s.streams;
  j["target_rate"] = s.target_rate;
  j["concurrency"] = s.concurrency;
  j["agencies"] = s.agencies;
  j["pairs"] = s.pairs;
  j["sent"] = s.sent;
  j["ok"] = s.ok;
  j["rejected"] = s.rejected;
  j["submits"] = s.submits;
  j["cancels"] = s.cancels;
  j["cleanup_cancels"] = s.cleanup_cancels;
  j["errors"] = nlohmann::ordered_json(s.errors);
  j["response_errors"] = nlohmann::ordered_json(s.response_errors);
  j["reject_reasons"] = nlohmann::ordered_json(s.reject_reasons);
  j["orphans"] = s.orphans;
  j["elapsed_s"] = decimals(static_cast<double>(s.elapsed_ns) / 1e9, 1000);
  j["rate"] = decimals(s.achieved_rate(), 10);
  j["offer_rate"] = decimals(s.offer_rate(), 10);
  j["fills"] = s.fills;
  j["exec_fills"] = s.exec_fills;
  j["exec_reports"] = s.exec_reports;
  j["latency_count"] = h.count();
  j["p50_us"] = micros(h.ValueAtPerMillion(500000));
  j["p90_us"] = micros(h.ValueAtPerMillion(900000));
  j["p99_us"] = micros(h.ValueAtPerMillion(990000));
  j["p999_us"] = micros(h.ValueAtPerMillion(999000));
  j["max_us"] = micros(h.max());
  j["mean_us"] = micros(h.mean());
  j["cancel_p50_us"] = micros(s.cancel.ValueAtPerMillion(500000));
  j["cancel_p99_us"] = micros(s.cancel.ValueAtPerMillion(990000));
  j["rtt_p50_us"] = micros(s.rtt.ValueAtPerMillion(500000));
  j["rtt_p99_us"] = micros(s.rtt.ValueAtPerMillion(990000));
  j["exec_count"] = s.exec.count();
  j["exec_p50_us"] = micros(s.exec.ValueAtPerMillion(500000));
  j["exec_p99_us"] = micros(s.exec.ValueAtPerMillion(990000));
  j["exec_max_us"] = micros(s.exec.max());
  j["max_send_lag_us"] = micros(s.max_send_lag_ns);
  return j.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                nlohmann::ordered_json::error_handler_t::replace);
}

std::string SummaryText(const Summary& s) {
  auto line = [](const char* name, const LatencyHistogram& h) {
    return absl::StrCat("  ", name, " (", h.count(), "): p50 ", Micros(h.ValueAtPerMillion(500000)),
                        "  p90 ", Micros(h.ValueAtPerMillion(900000)), "  p99 ",
                        Micros(h.ValueAtPerMillion(990000)), "  p99.9 ",
                        Micros(h.ValueAtPerMillion(999000)), "  max ", Micros(h.max()), " us\n");
  };
  char rate[32], offer_rate[32];
  std::snprintf(rate, sizeof(rate), "%.1f", s.achieved_rate());
  std::snprintf(offer_rate, sizeof(offer_rate), "%.1f", s.offer_rate());
  std::string errors;
  for (const auto& [k, v] : s.errors) absl::StrAppend(&errors, " ", k, "=", v);
  for (const auto& [k, v] : s.response_errors) {
    absl::StrAppend(&errors, " ", k, "=", v, " (in responses)");
  }
  std::string rejects;
  for (const auto& [k, v] : s.reject_reasons) absl::StrAppend(&rejects, " ", k, "=", v);
  std::string out = absl::StrCat(
      "msx-loadgen ", s.mode, ": target ",
      s.target_rate > 0 ? absl::StrCat(s.target_rate, "/s open loop") : std::string("closed loop"),
      ", ", s.concurrency, " channels",
      s.api == "order-entry"
          ? absl::StrCat(", order-entry: ", s.streams, " streams, window ", s.window)
          : std::string(", unary calls"),
      s.mode == "exchange" ? absl::StrCat(", ", s.agencies, " agencies, ", s.pairs, " pairs") : "",
      "\n  sent ", s.sent, " (", s.submits, " submits, ", s.cancels, " cancels), ok ", s.ok,
      ", rejected ", s.rejected, rejects.empty() ? "" : " [" + rejects.substr(1) + "]", ", errors ",
      s.error_count(), errors.empty() ? "" : " [" + errors.substr(1) + "]", "\n  achieved ", rate,
      " calls/s (", offer_rate, " offers/s) over ", Seconds(s.elapsed_ns), " s; fills ", s.fills,
      " (streams saw ", s.exec_fills, "); ", s.cleanup_cancels,
      " offers left resting were cancelled after the run\n");
  out += line("submit->reply us, from due time", s.submit);
  if (s.cancel.count() > 0) out += line("cancel->reply us, from due time", s.cancel);
  out += line("round trip us, from actual send", s.rtt);
  if (s.mode == "exchange") out += line("submit->execution report us", s.exec);
  absl::StrAppend(&out, "  worst send lag behind schedule: ", Micros(s.max_send_lag_ns), " us\n");
  for (const auto& n : s.notes) absl::StrAppend(&out, "  note: ", n, "\n");
  return out;
}

}  // namespace msx::loadgen
