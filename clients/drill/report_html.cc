#include "clients/drill/report_html.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/drill/chart_axis.h"
#include "clients/drill/format.h"
#include "clients/drill/html.h"
#include "clients/drill/svg_chart.h"

namespace msx::drill {
namespace {

constexpr char kCss[] = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;
  color:#1b1f24;background:#fff;line-height:1.4}
main{max-width:1120px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.5rem;margin:8px 0 4px}h2{font-size:1.2rem;margin:28px 0 8px;
  border-bottom:1px solid #d0d7de;padding-bottom:4px}
p.lead{margin:4px 0;color:#444}code{font-size:.95em;word-break:break-all}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9rem}
th,td{padding:3px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.up{color:#116329}td.down{color:#a40e26}
thead th{background:#f3f5f7;border-bottom:2px solid #d0d7de}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure.chart-figure{margin:0;padding:6px;border:1px solid #e3e6ea;border-radius:4px}
figcaption{font-size:.85rem;color:#333;text-align:center}
svg.chart{display:block;max-width:100%;height:auto;font-size:11px;font-family:inherit}
svg .grid{stroke:#e6e8eb;stroke-width:1}svg .axis{stroke:#57606a;stroke-width:1}
svg .tick-mark{stroke:#57606a}svg .tick{fill:#444}svg .axis-label{fill:#1b1f24;font-size:12px}
svg .category-label{fill:#1b1f24}svg .empty{fill:#777;font-style:italic}
p.note{font-size:.85rem;color:#555}
@media print{main{max-width:none}figure.chart-figure{break-inside:avoid}}
)css";

std::string Esc(const std::string& s) { return HtmlEscape(s); }

std::string Num(const char* key, std::int64_t v) {
  return absl::StrCat("<td class=\"num\" data-key=\"", key, "\">", Thousands(v), "</td>");
}
std::string NumU(const char* key, std::uint64_t v) {
  return absl::StrCat("<td class=\"num\" data-key=\"", key, "\">", ThousandsU(v), "</td>");
}
std::int64_t I(std::uint64_t v) { return static_cast<std::int64_t>(v); }

std::string Head(const std::string& title) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing is fetched and no script runs: the report is safe to open offline.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"msx-drill\">\n<title>",
      Esc(title), "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n<main>\n");
}

constexpr char kTail[] = "</main>\n</body>\n</html>\n";

std::string Span(const ReportData& r) {
  if (r.commands == 0) return "The journal holds no commands.";
  return absl::StrCat("Sequence ", r.first_seq, "..", r.last_seq, ", ", UtcTime(r.first_time),
                      " .. ", UtcTime(r.last_time), " UTC (", Duration(r.last_time - r.first_time),
                      ").");
}

// ---- report sections ----

std::string TotalsTable(const ReportData& r) {
  std::string out =
      "<table id=\"totals\" aria-label=\"Totals\"><thead><tr><th scope=\"col\">figure</th>"
      "<th scope=\"col\" class=\"num\">count</th></tr></thead><tbody>\n";
  const std::pair<const char*, std::uint64_t> rows[] = {
      {"commands", r.commands}, {"events", r.events}, {"offers_accepted", r.offers_accepted},
      {"rejects", r.rejects},   {"fills", r.fills},   {"torn_bytes", r.torn_bytes}};
  const char* names[] = {"commands", "events", "offers accepted",
                         "rejects",  "fills",  "torn tail bytes ignored"};
  for (std::size_t i = 0; i < 6; ++i) {
    absl::StrAppend(&out, "<tr><th scope=\"row\">", names[i], "</th>",
                    NumU(rows[i].first, rows[i].second), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

std::string VolumeCharts(const VolumeSeries& v, const std::vector<std::string>& names,
                         const std::string& id_prefix) {
  std::string out = "<div class=\"charts\">\n";
  for (std::size_t i = 0; i < v.instruments.size(); ++i) {
    const VolumeSeries::Row& row = v.instruments[i];
    TimeSeriesChart c;
    c.id = absl::StrCat(id_prefix, i);
    c.title = absl::StrCat(row.symbol, ": ", row.unit, " swapped per ", v.bucket_seconds, " s");
    c.value_label = absl::StrCat(row.unit, " per ", v.bucket_seconds, " s");
    c.unit = row.unit;
    c.start_s = v.start_second;
    c.bucket_s = v.bucket_seconds;
    c.buckets = v.buckets;
    for (std::size_t k = 0; k < row.volume.size() && k < names.size(); ++k) {
      c.series.push_back({names[k], row.volume[k]});
    }
    out += RenderTimeSeriesChart(c);
  }
  if (v.instruments.empty()) out += "<p class=\"note\">No instrument traded.</p>\n";
  out += "</div>\n";
  return out;
}

// Per unit (in order of first appearance), the instruments and their values.
struct UnitGroup {
  std::string unit;
  std::vector<std::string> symbols;
  std::vector<std::vector<std::int64_t>> values;  // [series][instrument]
};

std::string BarCharts(const std::vector<BarChart>& charts, const char* empty) {
  std::string out = "<div class=\"charts\">\n";
  for (const BarChart& c : charts) out += RenderBarChart(c);
  if (charts.empty()) absl::StrAppend(&out, "<p class=\"note\">", empty, "</p>\n");
  out += "</div>\n";
  return out;
}

std::vector<BarChart> UnfilledCharts(const std::vector<const ReportData*>& reports,
                                     const std::vector<std::string>& names) {
  // Instruments of every report by id; a report lacking one counts 0.
  std::map<InstrumentId, std::pair<std::string, std::string>> inst;  // id -> (symbol, unit)
  for (const ReportData* r : reports) {
    for (const InstrumentReport& i : r->instruments) inst[i.instrument] = {i.symbol, i.unit};
  }
  std::vector<UnitGroup> groups;
  for (const auto& [id, su] : inst) {
    UnitGroup* g = nullptr;
    for (UnitGroup& x : groups) {
      if (x.unit == su.second) g = &x;
    }
    if (g == nullptr) {
      g = &groups.emplace_back();
      g->unit = su.second;
      g->values.resize(reports.size());
    }
    g->symbols.push_back(su.first);
    for (std::size_t k = 0; k < reports.size(); ++k) {
      std::int64_t v = 0;
      for (const InstrumentReport& i : reports[k]->instruments) {
        if (i.instrument == id) v = i.unfilled_demand;
      }
      g->values[k].push_back(v);
    }
  }
  std::vector<BarChart> charts;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const UnitGroup& g = groups[gi];
    BarChart& c = charts.emplace_back();
    c.id = absl::StrCat("unfilled-", gi);
    c.title = absl::StrCat("Unfilled demand at the end, instruments in ", g.unit);
    c.value_label = absl::StrCat(g.unit, " still wanted by resting offers");
    c.unit = g.unit;
    c.categories = g.symbols;
    for (std::size_t k = 0; k < reports.size(); ++k) c.series.push_back({names[k], g.values[k]});
  }
  return charts;
}

std::vector<BarChart> NetCharts(const std::vector<const ReportData*>& reports,
                                const std::vector<std::string>& names) {
  // instrument id -> (symbol, unit, agency code -> net per report); agencies in order.
  struct Inst {
    std::string symbol, unit;
    std::vector<std::string> agencies;
    std::map<std::string, std::vector<std::int64_t>> net;
    bool nonzero = false;
  };
  std::map<InstrumentId, Inst> inst;
  for (std::size_t k = 0; k < reports.size(); ++k) {
    for (const AgencyReport& a : reports[k]->agencies) {
      for (const AgencyHoldingRow& h : a.rows) {
        Inst& x = inst[h.instrument];
        x.symbol = h.symbol;
        x.unit = h.unit;
        auto it = x.net.find(a.code);
        if (it == x.net.end()) {
          x.agencies.push_back(a.code);
          it = x.net.emplace(a.code, std::vector<std::int64_t>(reports.size(), 0)).first;
        }
        it->second[k] = h.received - h.delivered;
        if (it->second[k] != 0) x.nonzero = true;
      }
    }
  }
  std::vector<BarChart> charts;
  for (const auto& [id, x] : inst) {
    if (!x.nonzero) continue;
    BarChart& c = charts.emplace_back();
    c.id = absl::StrCat("net-", id);
    c.title = absl::StrCat(x.symbol, ": net position per agency (received - delivered)");
    c.value_label = absl::StrCat("net ", x.unit, " (+ received, - delivered)");
    c.unit = x.unit;
    c.categories = x.agencies;
    c.series.resize(reports.size());
    for (std::size_t k = 0; k < reports.size(); ++k) {
      c.series[k].name = names[k];
      for (const std::string& code : x.agencies) c.series[k].values.push_back(x.net.at(code)[k]);
    }
  }
  return charts;
}

BarChart MinutesChart(const ReportData& r, const std::string& id, const std::string& title) {
  BarChart c;
  c.id = id;
  c.title = title;
  c.value_label = "fills in the minute";
  c.unit = "fills";
  ChartSeries s{"fills", {}};
  for (const MinuteReport& m : r.busiest_minutes) {
    c.categories.push_back(UtcMinute(m.minute_start));
    s.values.push_back(I(m.fills));
  }
  c.series.push_back(std::move(s));
  return c;
}

std::string LatencyCell(const LatencyStats& s) {
  return absl::StrCat("<td class=\"num\">", s.count == 0 ? "-" : Duration(s.p50), "</td>");
}

std::string InstrumentsTable(const ReportData& r) {
  std::string out =
      "<table id=\"instruments\" aria-label=\"Instruments\"><thead><tr>"
      "<th scope=\"col\">instrument</th><th scope=\"col\">unit</th>"
      "<th scope=\"col\" class=\"num\">fills</th><th scope=\"col\" class=\"num\">swapped</th>"
      "<th scope=\"col\" class=\"num\">unfilled demand</th>"
      "<th scope=\"col\" class=\"num\">first fill p50</th></tr></thead><tbody>\n";
  for (const InstrumentReport& i : r.instruments) {
    absl::StrAppend(&out, "<tr data-instrument=\"", Esc(i.symbol), "\"><th scope=\"row\">",
                    Esc(i.symbol), "</th><td>", Esc(i.unit), "</td>", NumU("fills", i.fills),
                    Num("volume", i.volume), Num("unfilled_demand", i.unfilled_demand),
                    LatencyCell(i.first_fill), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

std::string PairsTable(const ReportData& r) {
  std::string out =
      "<table id=\"pairs\" aria-label=\"Pair books\"><thead><tr><th scope=\"col\">pair</th>"
      "<th scope=\"col\" class=\"num\">offers</th><th scope=\"col\" class=\"num\">fills</th>"
      "<th scope=\"col\" class=\"num\">lots</th><th scope=\"col\" class=\"num\">base swapped</th>"
      "<th scope=\"col\" class=\"num\">quote swapped</th>"
      "<th scope=\"col\" class=\"num\">resting bid lots</th>"
      "<th scope=\"col\" class=\"num\">resting ask lots</th></tr></thead><tbody>\n";
  for (const PairReport& p : r.pairs) {
    absl::StrAppend(&out, "<tr data-pair=\"", Esc(p.symbol), "\"><th scope=\"row\">", Esc(p.symbol),
                    "</th>", NumU("offers_accepted", p.offers_accepted), NumU("fills", p.fills),
                    Num("lots", p.lots), Num("base_volume", p.base_volume),
                    Num("quote_volume", p.quote_volume),
                    Num("resting_bid_lots", p.resting_bid_lots),
                    Num("resting_ask_lots", p.resting_ask_lots), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

std::string NetTable(const ReportData& r) {
  std::string out =
      "<table id=\"net-positions\" aria-label=\"Holdings per agency\"><thead><tr>"
      "<th scope=\"col\">agency</th><th scope=\"col\">instrument</th>"
      "<th scope=\"col\" class=\"num\">before</th><th scope=\"col\" class=\"num\">received</th>"
      "<th scope=\"col\" class=\"num\">delivered</th><th scope=\"col\" class=\"num\">net</th>"
      "<th scope=\"col\" class=\"num\">after</th><th scope=\"col\">unit</th></tr></thead>"
      "<tbody>\n";
  for (const AgencyReport& a : r.agencies) {
    for (const AgencyHoldingRow& h : a.rows) {
      absl::StrAppend(&out, "<tr data-agency=\"", Esc(a.code), "\" data-instrument=\"",
                      Esc(h.symbol), "\"><th scope=\"row\">", Esc(a.code), "</th><td>",
                      Esc(h.symbol), "</td>", Num("before", h.before), Num("received", h.received),
                      Num("delivered", h.delivered), Num("net", h.received - h.delivered),
                      Num("after", h.after), "<td>", Esc(h.unit), "</td></tr>\n");
    }
  }
  out += "</tbody></table>\n";
  return out;
}

std::string LoansTable(const ReportData& r) {
  std::string out =
      "<table id=\"loans\" aria-label=\"Loans\"><thead><tr>"
      "<th scope=\"col\">instrument</th><th scope=\"col\">unit</th>"
      "<th scope=\"col\" class=\"num\">loans</th><th scope=\"col\" class=\"num\">lent</th>"
      "<th scope=\"col\" class=\"num\">paid back</th>"
      "<th scope=\"col\" class=\"num\">closed</th>"
      "<th scope=\"col\" class=\"num\">fell overdue</th>"
      "<th scope=\"col\" class=\"num\">recalled</th>"
      "<th scope=\"col\" class=\"num\">open at end</th>"
      "<th scope=\"col\" class=\"num\">owed at end</th>"
      "<th scope=\"col\" class=\"num\">overdue at end</th>"
      "<th scope=\"col\" class=\"num\">overdue owed</th></tr></thead><tbody>\n";
  for (const LoanReport& l : r.loans) {
    absl::StrAppend(&out, "<tr data-instrument=\"", Esc(l.symbol), "\"><th scope=\"row\">",
                    Esc(l.symbol), "</th><td>", Esc(l.unit), "</td>", NumU("opened", l.opened),
                    Num("lent", l.lent), Num("paid_back", l.paid_back), NumU("closed", l.closed),
                    NumU("fell_overdue", l.fell_overdue), NumU("recalled", l.recalled),
                    NumU("outstanding_at_end", l.outstanding_at_end),
                    Num("owed_at_end", l.owed_at_end), NumU("overdue_at_end", l.overdue_at_end),
                    Num("overdue_owed_at_end", l.overdue_owed_at_end), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

// The declared-needs tables (needs.h), ids suffixed by `suffix`; cells keyed as NeedsJson.
std::string NeedsTables(const NeedReport& n, const std::string& suffix) {
  auto th = [](const char* name) {
    return absl::StrCat("<th scope=\"col\" class=\"num\">", name, "</th>");
  };
  auto figures = [](const NeedFigures& f) {
    return absl::StrCat(NumU("need_buys", f.buys), Num("need_declared", f.declared),
                        Num("allocated", f.allocated), Num("need_met", f.met),
                        Num("need_met_within_8_days", f.met_within_window));
  };
  const std::string figure_heads =
      absl::StrCat(th("need buys"), th("need declared"), th("allocated"), th("need met"),
                   th("met within 8 days"));
  std::string out = absl::StrCat(
      "<table id=\"needs-levels", suffix,
      "\" aria-label=\"Declared needs per instrument and level\"><thead><tr>"
      "<th scope=\"col\">instrument</th><th scope=\"col\">unit</th>"
      "<th scope=\"col\">level</th>",
      figure_heads, th("share within 8 days (bps)"), "</tr></thead><tbody>\n");
  for (const NeedLevelRow& l : n.levels) {
    absl::StrAppend(&out, "<tr data-instrument=\"", Esc(l.symbol), "\"><th scope=\"row\">",
                    Esc(l.symbol), "</th><td>", Esc(l.unit), "</td><td data-key=\"level\">",
                    EmergencyLevelName(l.level), "</td>", figures(l.figures),
                    Num("share_met_within_8_days_bps", l.share_within_window_bps), "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table>\n<table id=\"needs-agencies", suffix,
                  "\" aria-label=\"Allocation per agency and tier\"><thead><tr>"
                  "<th scope=\"col\">instrument</th><th scope=\"col\">level</th>"
                  "<th scope=\"col\">agency</th><th scope=\"col\">tier</th>",
                  figure_heads, "</tr></thead><tbody>\n");
  for (const NeedAgencyRow& a : n.agencies) {
    absl::StrAppend(&out, "<tr data-instrument=\"", Esc(a.symbol), "\"><th scope=\"row\">",
                    Esc(a.symbol), "</th><td data-key=\"level\">", EmergencyLevelName(a.level),
                    "</td><td data-key=\"agency\">", Esc(a.code), "</td><td data-key=\"tier\">",
                    PriorityTierName(a.tier), "</td>", figures(a.figures), "</tr>\n");
  }
  out += "</tbody></table>\n";
  if (!n.has_continuous) return out;
  absl::StrAppend(&out, "<table id=\"needs-continuous", suffix,
                  "\" aria-label=\"As run vs continuous matching\"><thead><tr>"
                  "<th scope=\"col\">instrument</th><th scope=\"col\">level</th>"
                  "<th scope=\"col\">agency</th>",
                  th("need declared"), th("need met"), th("continuous"), th("difference"),
                  th("within 8 days"), th("continuous"), th("difference"),
                  "</tr></thead><tbody>\n");
  for (const NeedContinuousRow& c : n.continuous) {
    absl::StrAppend(
        &out, "<tr data-instrument=\"", Esc(c.symbol), "\"><th scope=\"row\">", Esc(c.symbol),
        "</th><td data-key=\"level\">", EmergencyLevelName(c.level),
        "</td><td data-key=\"agency\">", Esc(c.code), "</td>", Num("need_declared", c.declared),
        Num("need_met", c.met), Num("continuous_need_met", c.continuous_met),
        Num("difference", c.met - c.continuous_met),
        Num("need_met_within_8_days", c.met_within_window),
        Num("continuous_need_met_within_8_days", c.continuous_met_within_window),
        Num("difference_within_8_days", c.met_within_window - c.continuous_met_within_window),
        "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

// `id` is the table's id ("deliveries", or "deliveries-original"/"-drill" in a drill).
std::string DeliveriesTable(const std::vector<AgencyDeliveryRow>& rows, const std::string& id,
                            const std::string& label) {
  std::string out = absl::StrCat(
      "<table id=\"", id, "\" aria-label=\"", label, "\"><thead><tr>"
      "<th scope=\"col\">agency</th><th scope=\"col\">instrument</th>"
      "<th scope=\"col\">unit</th><th scope=\"col\" class=\"num\">deliveries</th>"
      "<th scope=\"col\" class=\"num\">units</th>"
      "<th scope=\"col\" class=\"num\">confirmed</th>"
      "<th scope=\"col\" class=\"num\">late</th>"
      "<th scope=\"col\" class=\"num\">in window</th>"
      "<th scope=\"col\" class=\"num\">fell overdue</th>"
      "<th scope=\"col\" class=\"num\">overdue at end</th>"
      "<th scope=\"col\" class=\"num\">overdue units</th>"
      "<th scope=\"col\" class=\"num\">pending at end</th>"
      "<th scope=\"col\" class=\"num\">pending units</th></tr></thead><tbody>\n");
  for (const AgencyDeliveryRow& r : rows) {
    absl::StrAppend(&out, "<tr data-agency=\"", Esc(r.code), "\"><th scope=\"row\">",
                    Esc(r.code), "</th><td data-key=\"instrument\">", Esc(r.symbol), "</td><td>",
                    Esc(r.unit), "</td>", NumU("opened", r.opened), Num("units", r.units),
                    NumU("confirmed", r.confirmed), NumU("confirmed_late", r.confirmed_late),
                    NumU("confirmed_in_window", r.confirmed_in_window),
                    NumU("fell_overdue", r.fell_overdue), NumU("overdue_at_end", r.overdue_at_end),
                    Num("overdue_units_at_end", r.overdue_units_at_end),
                    NumU("pending_at_end", r.pending_at_end),
                    Num("pending_units_at_end", r.pending_units_at_end), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

constexpr char kNeedsNote[] =
    "<p class=\"note\">Per instrument and the emergency level in force when each need was "
    "declared (SubmitOfferWithNeed): need met = units the buys that declared a need bought, "
    "at most each need; allocated = units they bought in call auctions; within 8 days = "
    "fills at most 8 days after the need was declared. Continuous = the same commands "
    "replayed with every level matching continuously.</p>\n";

constexpr char kDeliveriesNote[] =
    "<p class=\"note\">Per agency that owes them: deliveries opened by fills under WARNING "
    "or SERIOUS (due by the fill's time + the agreement's delivery window), confirmed (late: "
    "after falling overdue; in window: by the deliver-by), fallen overdue, and still overdue "
    "or pending when the journal ends.</p>\n";

std::string MinutesTable(const ReportData& r, const std::string& id) {
  std::string out = absl::StrCat(
      "<table id=\"", id,
      "\" aria-label=\"Busiest minutes\"><thead><tr>"
      "<th scope=\"col\">minute (UTC)</th><th scope=\"col\" class=\"num\">fills</th></tr>"
      "</thead><tbody>\n");
  for (const MinuteReport& m : r.busiest_minutes) {
    absl::StrAppend(&out, "<tr><th scope=\"row\" data-key=\"minute_utc\">",
                    Esc(UtcMinute(m.minute_start)), "</th>", NumU("fills", m.fills), "</tr>\n");
  }
  out += "</tbody></table>\n";
  return out;
}

// ---- drill comparison ----

std::string Triple(const char* key, std::int64_t o, std::int64_t d) {
  const std::int64_t delta = d - o;
  return absl::StrCat("<td class=\"num\" data-key=\"", key, "\" data-col=\"original\">",
                      Thousands(o), "</td><td class=\"num\" data-key=\"", key,
                      "\" data-col=\"drill\">", Thousands(d), "</td><td class=\"num",
                      delta > 0   ? " up"
                      : delta < 0 ? " down"
                                  : "",
                      "\" data-key=\"", key, "\" data-col=\"delta\">", delta > 0 ? "+" : "",
                      Thousands(delta), "</td>");
}

const char kTripleHead[] =
    "<th scope=\"col\" class=\"num\">original</th><th scope=\"col\" class=\"num\">drill</th>"
    "<th scope=\"col\" class=\"num\">change</th>";

}  // namespace

std::string RenderReportHtml(const std::string& source, const ReportData& r) {
  std::string out = Head(absl::StrCat("MSX drill report: ", source));
  absl::StrAppend(&out, "<h1>MSX drill report</h1>\n<p class=\"lead\">Journal <code>", Esc(source),
                  "</code>. ", Esc(Span(r)), "</p>\n");
  if (r.torn_bytes > 0) {
    absl::StrAppend(&out, "<p class=\"note\">A torn tail of ", r.torn_bytes,
                    " bytes after the last complete command was ignored.</p>\n");
  }
  out += "<section aria-labelledby=\"h-totals\"><h2 id=\"h-totals\">Totals</h2>\n";
  out += TotalsTable(r);
  out += "</section>\n";

  const VolumeSeries v = BucketVolume({&r});
  out +=
      "<section aria-labelledby=\"h-volume\"><h2 id=\"h-volume\">Volume swapped over time, "
      "per instrument</h2>\n";
  out += VolumeCharts(v, {"volume"}, "volume-");
  out += "</section>\n";

  out +=
      "<section aria-labelledby=\"h-unfilled\"><h2 id=\"h-unfilled\">Unfilled demand at the "
      "end</h2>\n<p class=\"note\">Units that resting offers still want when the journal ends "
      "(the drill's shortfall), one chart per unit.</p>\n";
  out += BarCharts(UnfilledCharts({&r}, {"unfilled demand"}), "No instrument traded.");
  out += InstrumentsTable(r);
  out += "</section>\n";

  absl::StrAppend(&out,
                  "<section aria-labelledby=\"h-net\"><h2 id=\"h-net\">Net positions per "
                  "agency</h2>\n<p class=\"note\">Units received minus units delivered in fills. "
                  "Holdings are available + reserved; before = at sequence ",
                  r.holdings_before_seq, ", after the initial SetHoldings.</p>\n");
  out += BarCharts(NetCharts({&r}, {"net"}), "No agency received or delivered anything.");
  out += NetTable(r);
  out += "</section>\n";

  out +=
      "<section aria-labelledby=\"h-minutes\"><h2 id=\"h-minutes\">Busiest minutes</h2>\n"
      "<div class=\"charts\">\n";
  out += RenderBarChart(MinutesChart(r, "minutes", "Busiest minutes (UTC) by fills"));
  out += "</div>\n";
  out += MinutesTable(r, "busiest-minutes");
  out += "</section>\n";

  if (!r.loans.empty()) {
    out +=
        "<section aria-labelledby=\"h-loans\"><h2 id=\"h-loans\">Loans (time swaps), per "
        "instrument</h2>\n<p class=\"note\">Units lent in loans opened, units paid back to "
        "lenders (returns, settlement at the due time, collection), and what is still owed "
        "when the journal ends.</p>\n";
    out += LoansTable(r);
    out += "</section>\n";
  }

  if (!r.needs.empty()) {
    out +=
        "<section aria-labelledby=\"h-needs\"><h2 id=\"h-needs\">Declared needs "
        "(emergencies)</h2>\n";
    out += kNeedsNote;
    out += NeedsTables(r.needs, "");
    out += "</section>\n";
  }

  if (!r.deliveries.empty()) {
    out +=
        "<section aria-labelledby=\"h-deliveries\"><h2 id=\"h-deliveries\">Deliveries "
        "per agency</h2>\n";
    out += kDeliveriesNote;
    out += DeliveriesTable(r.deliveries, "deliveries", "Deliveries per agency");
    out += "</section>\n";
  }

  out += "<section aria-labelledby=\"h-pairs\"><h2 id=\"h-pairs\">Pair books</h2>\n";
  out += PairsTable(r);
  out +=
      "</section>\n<p class=\"note\">Generated by msx-drill; every figure equals "
      "<code>msx-drill report --json</code> for the same journal.</p>\n";
  out += kTail;
  return out;
}

std::string RenderDrillHtml(const std::string& source, const std::string& scenario,
                            const DrillResult& r) {
  const ReportData& o = r.original;
  const ReportData& d = r.drill;
  const std::vector<std::string> names = {"original", "drill"};
  std::string out = Head(absl::StrCat("MSX drill: ", scenario));
  absl::StrAppend(&out, "<h1>MSX drill: original vs drill</h1>\n<p class=\"lead\">Journal <code>",
                  Esc(source), "</code>, scenario <code>", Esc(scenario),
                  "</code>; drill journal written to <code>", Esc(r.out_dir), "</code> (",
                  ThousandsU(r.drill_commands), " commands from ", ThousandsU(r.original_commands),
                  " original).</p>\n<p class=\"lead\">Original: ", Esc(Span(o)), "</p>\n");

  out +=
      "<section aria-labelledby=\"h-edits\"><h2 id=\"h-edits\">Edits fired</h2>\n"
      "<table id=\"edits\" aria-label=\"Edits fired\"><thead><tr><th scope=\"col\">edit</th>"
      "<th scope=\"col\" class=\"num\">before original seq</th>"
      "<th scope=\"col\" class=\"num\">drill seq</th><th scope=\"col\" class=\"num\">commands"
      "</th><th scope=\"col\">what</th></tr></thead><tbody>\n";
  for (const FiredEdit& f : r.fired) {
    absl::StrAppend(&out, "<tr><th scope=\"row\">edits[", f.index, "]</th><td class=\"num\">",
                    f.before_original_seq ? absl::StrCat(f.before_original_seq) : "end",
                    "</td><td class=\"num\">", f.drill_seq ? absl::StrCat(f.drill_seq) : "-",
                    "</td>", NumU("commands", f.commands), "<td>", Esc(f.description),
                    "</td></tr>\n");
  }
  absl::StrAppend(&out,
                  "</tbody></table>\n<p class=\"note\">Dropped: ", ThousandsU(r.dropped_submits),
                  " submits under export bans, ", ThousandsU(r.dropped_offer_commands),
                  " commands on offers or loans the drill never made.</p>\n</section>\n");

  out +=
      "<section aria-labelledby=\"h-totals\"><h2 id=\"h-totals\">Totals</h2>\n"
      "<table id=\"totals\" aria-label=\"Totals, original and drill\"><thead><tr>"
      "<th scope=\"col\">figure</th>";
  out += kTripleHead;
  out += "</tr></thead><tbody>\n";
  struct TotalRow {
    const char* key;
    const char* name;
    std::uint64_t original, drill;
  };
  const TotalRow totals[] = {
      {"commands", "commands", o.commands, d.commands},
      {"offers_accepted", "offers accepted", o.offers_accepted, d.offers_accepted},
      {"rejects", "rejects", o.rejects, d.rejects},
      {"fills", "fills", o.fills, d.fills}};
  for (const TotalRow& t : totals) {
    const char* key = t.key;
    const std::pair<std::uint64_t, std::uint64_t> v{t.original, t.drill};
    absl::StrAppend(&out, "<tr data-key=\"", key, "\"><th scope=\"row\">", t.name, "</th>",
                    Triple(key, I(v.first), I(v.second)), "</tr>\n");
  }
  out += "</tbody></table>\n</section>\n";

  const VolumeSeries v = BucketVolume({&o, &d});
  out +=
      "<section aria-labelledby=\"h-volume\"><h2 id=\"h-volume\">Volume swapped over time, "
      "drill beside original</h2>\n";
  out += VolumeCharts(v, names, "volume-");
  out += "</section>\n";

  out +=
      "<section aria-labelledby=\"h-unfilled\"><h2 id=\"h-unfilled\">Unfilled demand at the "
      "end (shortfall)</h2>\n";
  out += BarCharts(UnfilledCharts({&o, &d}, names), "No instrument traded.");
  out +=
      "<table id=\"instruments\" aria-label=\"Instruments, original and drill\"><thead><tr>"
      "<th scope=\"col\" rowspan=\"2\">instrument</th><th scope=\"col\" rowspan=\"2\">unit"
      "</th><th scope=\"colgroup\" colspan=\"3\">fills</th><th scope=\"colgroup\" "
      "colspan=\"3\">volume</th><th scope=\"colgroup\" colspan=\"3\">shortfall</th></tr><tr>";
  for (int i = 0; i < 3; ++i) out += kTripleHead;
  out += "</tr></thead><tbody>\n";
  // The same instruments, in the same order, as ComparisonJson's (BucketVolume merges them
  // by id just as MatchInstruments does).
  std::map<std::string, const InstrumentReport*> oi, di;
  for (const InstrumentReport& i : o.instruments) oi[i.symbol] = &i;
  for (const InstrumentReport& i : d.instruments) di[i.symbol] = &i;
  for (const VolumeSeries::Row& row : v.instruments) {
    const InstrumentReport* a = oi.count(row.symbol) ? oi.at(row.symbol) : nullptr;
    const InstrumentReport* b = di.count(row.symbol) ? di.at(row.symbol) : nullptr;
    absl::StrAppend(&out, "<tr data-instrument=\"", Esc(row.symbol), "\"><th scope=\"row\">",
                    Esc(row.symbol), "</th><td>", Esc(row.unit), "</td>",
                    Triple("fills", a ? I(a->fills) : 0, b ? I(b->fills) : 0),
                    Triple("volume", a ? a->volume : 0, b ? b->volume : 0),
                    Triple("shortfall", a ? a->unfilled_demand : 0, b ? b->unfilled_demand : 0),
                    "</tr>\n");
  }
  out += "</tbody></table>\n</section>\n";

  out +=
      "<section aria-labelledby=\"h-net\"><h2 id=\"h-net\">Net positions per agency, drill "
      "beside original</h2>\n<p class=\"note\">Units received minus units delivered in "
      "fills.</p>\n";
  out += BarCharts(NetCharts({&o, &d}, names), "No agency received or delivered anything.");
  out += "</section>\n";

  out +=
      "<section aria-labelledby=\"h-minutes\"><h2 id=\"h-minutes\">Busiest minutes</h2>\n"
      "<div class=\"charts\">\n";
  out += RenderBarChart(MinutesChart(o, "minutes-original", "Original: busiest minutes (UTC)"));
  out += RenderBarChart(MinutesChart(d, "minutes-drill", "Drill: busiest minutes (UTC)"));
  out += "</div>\n";
  out += "<h3>Original</h3>\n" + MinutesTable(o, "busiest-minutes-original");
  out += "<h3>Drill</h3>\n" + MinutesTable(d, "busiest-minutes-drill");
  out += "</section>\n";
  if (!o.needs.empty() || !d.needs.empty()) {
    out +=
        "<section aria-labelledby=\"h-needs\"><h2 id=\"h-needs\">Declared needs "
        "(emergencies)</h2>\n";
    out += kNeedsNote;
    out += "<h3>Original</h3>\n" + NeedsTables(o.needs, "-original");
    out += "<h3>Drill</h3>\n" + NeedsTables(d.needs, "-drill");
    out += "</section>\n";
  }
  if (!o.deliveries.empty() || !d.deliveries.empty()) {
    out +=
        "<section aria-labelledby=\"h-deliveries\"><h2 id=\"h-deliveries\">Deliveries "
        "per agency, drill beside original</h2>\n";
    out += kDeliveriesNote;
    out += "<h3>Original</h3>\n";
    out += o.deliveries.empty() ? "<p class=\"note\">No deliveries.</p>\n"
                                : DeliveriesTable(o.deliveries, "deliveries-original",
                                                  "Deliveries per agency, original");
    out += "<h3>Drill</h3>\n";
    out += d.deliveries.empty() ? "<p class=\"note\">No deliveries.</p>\n"
                                : DeliveriesTable(d.deliveries, "deliveries-drill",
                                                  "Deliveries per agency, drill");
    out += "</section>\n";
  }
  out +=
      "<p class=\"note\">Generated by msx-drill; every figure equals "
      "<code>msx-drill run --json</code> for the same journal and scenario.</p>\n";
  out += kTail;
  return out;
}

}  // namespace msx::drill
