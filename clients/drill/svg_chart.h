// Inline SVG charts for msx-drill's HTML reports: a time-series step chart and a
// horizontal bar chart (grouped when there are several series, diverging around zero when
// values are negative). Each chart is one <figure> holding an <svg role="img"> with a
// <title> and a <desc> (a text alternative listing the figures), axes with tick labels
// and an axis label, and a legend when there is more than one series.
//
// Coordinates are integers computed from the integer data (chart_axis.h); no floating
// point is involved, so no NaN or infinity can reach the document. Every string is
// escaped (html.h). Elements carry classes for tests and styling: "chart" (the svg),
// "axis-label", "tick", "bar" (with data-series and data-value, the exact integer),
// "series" (a time-series path, with data-series and data-total), "legend".
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_DRILL_SVG_CHART_H_
#define MSX_CLIENTS_DRILL_SVG_CHART_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace msx::drill {

struct ChartSeries {
  std::string name;                  // legend text, e.g. "original", "drill"
  std::vector<std::int64_t> values;  // one per bucket or category
};

// Values per time bucket: bucket k covers [start_s + k * bucket_s, start_s + (k+1) * bucket_s).
struct TimeSeriesChart {
  std::string id;           // unique in the page; prefixes the ids of the svg's elements
  std::string title;        // the caption and the svg's <title>
  std::string value_label;  // y axis label, e.g. "kg per 10 s"
  std::string unit;         // appended to values in the text alternative
  std::int64_t start_s = 0;
  std::int64_t bucket_s = 1;        // > 0
  std::size_t buckets = 0;          // 0: an empty chart saying so
  std::vector<ChartSeries> series;  // missing values count as 0
};
std::string RenderTimeSeriesChart(const TimeSeriesChart& chart);

struct BarChart {
  std::string id, title, value_label, unit;
  std::vector<std::string> categories;  // one row per category, top to bottom
  std::vector<ChartSeries> series;      // missing values count as 0
};
std::string RenderBarChart(const BarChart& chart);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_SVG_CHART_H_
