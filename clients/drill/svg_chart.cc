#include "clients/drill/svg_chart.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "clients/drill/chart_axis.h"
#include "clients/drill/format.h"
#include "clients/drill/html.h"

namespace msx::drill {
namespace {

constexpr int kWidth = 520;
constexpr int kLegendHeight = 18;
constexpr int kTicks = 5;
// Colour-blind-safe pair (blue, orange); the second series is also dashed (lines) or
// outlined (bars), so the two differ without colour.
constexpr const char* kColours[] = {"#1f5fa8", "#d9731a", "#3a9a5b", "#8a4fb0"};
constexpr const char* kDash[] = {"", "6 3", "2 2", "8 2 2 2"};

const char* Colour(std::size_t i) { return kColours[i % 4]; }
const char* Dash(std::size_t i) { return kDash[i % 4]; }

std::int64_t Value(const ChartSeries& s, std::size_t i) {
  return i < s.values.size() ? s.values[i] : 0;
}

// a + b, saturated at the int64 limits (totals of huge test values must not overflow).
std::int64_t SatAdd(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

std::string WithUnit(std::int64_t v, const std::string& unit) {
  return unit.empty() ? Thousands(v) : absl::StrCat(Thousands(v), " ", unit);
}

// <svg ...><title/><desc/>: the accessible name and text alternative of a chart.
std::string SvgOpen(const std::string& id, int height, const std::string& title,
                    const std::string& desc) {
  const std::string eid = HtmlEscape(id);
  return absl::StrCat("<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" ",
                      "viewBox=\"0 0 ", kWidth, " ", height, "\" width=\"", kWidth, "\" height=\"",
                      height, "\" aria-labelledby=\"", eid, "-t ", eid, "-d\"><title id=\"", eid,
                      "-t\">", HtmlEscape(title), "</title><desc id=\"", eid, "-d\">",
                      HtmlEscape(desc), "</desc>\n");
}

std::string FigureOpen(const std::string& id) {
  return absl::StrCat("<figure class=\"chart-figure\" id=\"", HtmlEscape(id), "\">\n");
}

std::string FigureClose(const std::string& title) {
  return absl::StrCat("<figcaption>", HtmlEscape(title), "</figcaption>\n</figure>\n");
}

// A legend row at the top, one swatch per series; empty for a single series.
std::string Legend(const std::vector<ChartSeries>& series, int left, bool lines) {
  if (series.size() < 2) return "";
  std::string out = "<g class=\"legend\">";
  int x = left;
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (lines) {
      absl::StrAppend(&out, "<line x1=\"", x, "\" y1=\"9\" x2=\"", x + 18, "\" y2=\"9\" stroke=\"",
                      Colour(i), "\" stroke-width=\"2\" stroke-dasharray=\"", Dash(i), "\"/>");
    } else {
      absl::StrAppend(&out, "<rect x=\"", x, "\" y=\"4\" width=\"18\" height=\"10\" fill=\"",
                      Colour(i), "\"", i > 0 ? " stroke=\"#000\"" : "", "/>");
    }
    absl::StrAppend(&out, "<text x=\"", x + 22, "\" y=\"13\">", HtmlEscape(series[i].name),
                    "</text>");
    x += 30 + 7 * static_cast<int>(std::min<std::size_t>(CodePoints(series[i].name), 30));
  }
  out += "</g>\n";
  return out;
}

// The time (in seconds) of the edge of bucket k, saturated to the int64 range.
std::int64_t BucketEdge(const TimeSeriesChart& c, std::size_t k) {
  const __int128 t = static_cast<__int128>(c.start_s) + static_cast<__int128>(k) * c.bucket_s;
  return static_cast<std::int64_t>(std::min<__int128>(t, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

std::string RenderTimeSeriesChart(const TimeSeriesChart& c) {
  const int top = 10 + (c.series.size() > 1 ? kLegendHeight : 0);
  const int left = 76, right = kWidth - 14, plot_h = 140;
  const int bottom = top + plot_h;
  const int height = bottom + 42;

  std::int64_t vmin = 0, vmax = 0;
  for (const ChartSeries& s : c.series) {
    for (std::size_t k = 0; k < c.buckets; ++k) {
      vmin = std::min(vmin, Value(s, k));
      vmax = std::max(vmax, Value(s, k));
    }
  }
  const ValueAxis y = NiceValueAxis(vmin, vmax, 4);
  const std::int64_t t_lo = c.start_s;
  const std::int64_t t_hi = BucketEdge(c, std::max<std::size_t>(c.buckets, 1));
  const TimeAxis x = NiceTimeAxis(t_lo, t_hi, kTicks);
  const auto px = [&](std::int64_t t) { return ScaleToPixel(t, x.lo_s, x.hi_s, left, right); };
  const auto py = [&](std::int64_t v) { return ScaleToPixel(v, y.lo, y.hi, bottom, top); };

  // Text alternative: per series its total and its busiest bucket.
  std::string desc;
  if (c.buckets == 0) {
    desc = "No data.";
  } else {
    desc = absl::StrCat(c.buckets, c.buckets == 1 ? " bucket" : " buckets", " of ", c.bucket_s,
                        " s from ", UtcSecond(c.start_s), " UTC.");
    for (const ChartSeries& s : c.series) {
      std::int64_t total = 0;
      std::size_t peak = 0;
      for (std::size_t k = 0; k < c.buckets; ++k) {
        total = SatAdd(total, Value(s, k));
        if (Value(s, k) > Value(s, peak)) peak = k;
      }
      absl::StrAppend(&desc, " ", s.name.empty() ? "" : s.name + ": ", "total ",
                      WithUnit(total, c.unit), ", peak ", WithUnit(Value(s, peak), c.unit), " at ",
                      UtcSecond(BucketEdge(c, peak)), ".");
    }
  }

  std::string out = FigureOpen(c.id) + SvgOpen(c.id + "-svg", height, c.title, desc);
  out += Legend(c.series, left, /*lines=*/true);
  // Grid and y ticks.
  out += "<g class=\"y-axis\">";
  for (std::int64_t t : y.ticks) {
    const int yy = py(t);
    absl::StrAppend(&out, "<line class=\"grid\" x1=\"", left, "\" y1=\"", yy, "\" x2=\"", right,
                    "\" y2=\"", yy, "\"/><text class=\"tick\" x=\"", left - 6, "\" y=\"", yy + 4,
                    "\" text-anchor=\"end\">", HtmlEscape(FormatAxisValue(t, y)), "</text>");
  }
  absl::StrAppend(&out, "<text class=\"axis-label\" transform=\"translate(13,", (top + bottom) / 2,
                  ") rotate(-90)\" text-anchor=\"middle\">", HtmlEscape(c.value_label),
                  "</text></g>\n<g class=\"x-axis\">");
  for (std::int64_t t : x.ticks_s) {
    const int xx = px(t);
    absl::StrAppend(&out, "<line class=\"tick-mark\" x1=\"", xx, "\" y1=\"", bottom, "\" x2=\"", xx,
                    "\" y2=\"", bottom + 4, "\"/><text class=\"tick\" x=\"", xx, "\" y=\"",
                    bottom + 16, "\" text-anchor=\"middle\">",
                    HtmlEscape(FormatTimeTick(t, x.step_s)), "</text>");
  }
  absl::StrAppend(
      &out, "<text class=\"axis-label\" x=\"", (left + right) / 2, "\" y=\"", bottom + 34,
      "\" text-anchor=\"middle\">",
      HtmlEscape(absl::StrCat("time (UTC) from ", UtcSecond(t_lo), ", ", c.bucket_s, " s buckets")),
      "</text></g>\n");
  absl::StrAppend(&out, "<line class=\"axis\" x1=\"", left, "\" y1=\"", top, "\" x2=\"", left,
                  "\" y2=\"", bottom, "\"/><line class=\"axis\" x1=\"", left, "\" y1=\"", py(0),
                  "\" x2=\"", right, "\" y2=\"", py(0), "\"/>\n");
  if (c.buckets == 0) {
    absl::StrAppend(&out, "<text class=\"empty\" x=\"", (left + right) / 2, "\" y=\"",
                    (top + bottom) / 2, "\" text-anchor=\"middle\">no data</text>\n");
  }
  // One step line per series: flat across each bucket at its value.
  for (std::size_t i = 0; i < c.series.size() && c.buckets > 0; ++i) {
    const ChartSeries& s = c.series[i];
    std::int64_t total = 0;
    std::string d = absl::StrCat("M", px(BucketEdge(c, 0)), " ", py(Value(s, 0)));
    for (std::size_t k = 0; k < c.buckets; ++k) {
      total = SatAdd(total, Value(s, k));
      if (k > 0) absl::StrAppend(&d, " V", py(Value(s, k)));
      absl::StrAppend(&d, " H", px(BucketEdge(c, k + 1)));
    }
    absl::StrAppend(&out, "<path class=\"series\" data-series=\"", HtmlEscape(s.name),
                    "\" data-total=\"", total, "\" d=\"", d, "\" fill=\"none\" stroke=\"",
                    Colour(i), "\" stroke-width=\"2\" stroke-dasharray=\"", Dash(i), "\"/>\n");
  }
  out += "</svg>\n";
  out += FigureClose(c.title);
  return out;
}

std::string RenderBarChart(const BarChart& c) {
  std::size_t longest = 0;
  for (const std::string& cat : c.categories) longest = std::max(longest, CodePoints(cat));
  const int left =
      std::clamp(14 + 7 * static_cast<int>(std::min<std::size_t>(longest, 40)), 60, 200);
  const int right = kWidth - 16;
  const int top = 10 + (c.series.size() > 1 ? kLegendHeight : 0);
  const int n = static_cast<int>(std::max<std::size_t>(c.series.size(), 1));
  const int bar_h = 12, band = 8 + bar_h * n;
  const int plot_h = c.categories.empty() ? 30 : band * static_cast<int>(c.categories.size());
  const int bottom = top + plot_h;
  const int height = bottom + 42;

  std::int64_t vmin = 0, vmax = 0;
  for (const ChartSeries& s : c.series) {
    for (std::size_t k = 0; k < c.categories.size(); ++k) {
      vmin = std::min(vmin, Value(s, k));
      vmax = std::max(vmax, Value(s, k));
    }
  }
  const ValueAxis x = NiceValueAxis(vmin, vmax, kTicks);
  const auto px = [&](std::int64_t v) { return ScaleToPixel(v, x.lo, x.hi, left, right); };

  std::string desc;
  if (c.categories.empty()) desc = "No data.";
  for (std::size_t k = 0; k < c.categories.size(); ++k) {
    absl::StrAppend(&desc, k > 0 ? "; " : "", c.categories[k], ":");
    for (std::size_t i = 0; i < c.series.size(); ++i) {
      absl::StrAppend(&desc, i > 0 ? "," : "", " ",
                      c.series.size() > 1 ? c.series[i].name + " " : "",
                      WithUnit(Value(c.series[i], k), c.unit));
    }
  }
  if (!desc.empty() && desc.back() != '.') desc += ".";

  std::string out = FigureOpen(c.id) + SvgOpen(c.id + "-svg", height, c.title, desc);
  out += Legend(c.series, left, /*lines=*/false);
  out += "<g class=\"x-axis\">";
  for (std::int64_t t : x.ticks) {
    const int xx = px(t);
    absl::StrAppend(&out, "<line class=\"grid\" x1=\"", xx, "\" y1=\"", top, "\" x2=\"", xx,
                    "\" y2=\"", bottom, "\"/><text class=\"tick\" x=\"", xx, "\" y=\"", bottom + 16,
                    "\" text-anchor=\"middle\">", HtmlEscape(FormatAxisValue(t, x)), "</text>");
  }
  absl::StrAppend(&out, "<text class=\"axis-label\" x=\"", (left + right) / 2, "\" y=\"",
                  bottom + 34, "\" text-anchor=\"middle\">", HtmlEscape(c.value_label),
                  "</text></g>\n");
  if (c.categories.empty()) {
    absl::StrAppend(&out, "<text class=\"empty\" x=\"", (left + right) / 2, "\" y=\"",
                    (top + bottom) / 2 + 4, "\" text-anchor=\"middle\">no data</text>\n");
  }
  const int zero = px(0);
  for (std::size_t k = 0; k < c.categories.size(); ++k) {
    const int band_top = top + band * static_cast<int>(k);
    absl::StrAppend(&out, "<g class=\"category\"><text class=\"category-label\" x=\"", left - 6,
                    "\" y=\"", band_top + band / 2 + 4, "\" text-anchor=\"end\">",
                    HtmlEscape(c.categories[k]), "</text>");
    for (std::size_t i = 0; i < c.series.size(); ++i) {
      const std::int64_t v = Value(c.series[i], k);
      const int end = px(v);
      const int x0 = std::min(zero, end), w = std::max(zero, end) - x0;
      absl::StrAppend(&out, "<rect class=\"bar\" data-series=\"", HtmlEscape(c.series[i].name),
                      "\" data-value=\"", v, "\" x=\"", x0, "\" y=\"",
                      band_top + 4 + bar_h * static_cast<int>(i), "\" width=\"", w, "\" height=\"",
                      bar_h - 2, "\" fill=\"", Colour(i), "\"",
                      i > 0 ? " stroke=\"#000\" stroke-width=\"1\"" : "", "><title>",
                      HtmlEscape(absl::StrCat(
                          c.categories[k], c.series.size() > 1 ? " (" + c.series[i].name + ")" : "",
                          ": ", WithUnit(v, c.unit))),
                      "</title></rect>");
    }
    out += "</g>\n";
  }
  absl::StrAppend(&out, "<line class=\"axis\" x1=\"", zero, "\" y1=\"", top, "\" x2=\"", zero,
                  "\" y2=\"", bottom, "\"/><line class=\"axis\" x1=\"", left, "\" y1=\"", bottom,
                  "\" x2=\"", right, "\" y2=\"", bottom, "\"/>\n</svg>\n");
  out += FigureClose(c.title);
  return out;
}

}  // namespace msx::drill
