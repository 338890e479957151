// Tests of the HTML drill report's parts: escaping, axis ticks (empty, single point, all
// zero, negative and int64-limit data), pixel scaling, the SVG charts, volume buckets, and
// the report pages (figures equal the JSON's; data strings are escaped).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "clients/drill/chart_axis.h"
#include "clients/drill/html.h"
#include "clients/drill/report.h"
#include "clients/drill/report_html.h"
#include "clients/drill/svg_chart.h"
#include "engine/config/config.h"
#include "engine/testing/traffic_journal.h"
#include "gtest/gtest.h"

namespace msx::drill {
namespace {

using msx::testing::TrafficOptions;
using msx::testing::TrafficStats;
using msx::testing::WriteTrafficJournal;

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// ---- escaping ----

TEST(HtmlEscapeTest, EscapesMarkupCharacters) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("\"><script>alert(1)</script>"),
            "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");  // no double-decoding shortcut
}

TEST(HtmlEscapeTest, ControlCharactersAndInvalidUtf8BecomeReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(HtmlEscape(std::string("a\0b", 3)), "a" + fffd + "b");
  EXPECT_EQ(HtmlEscape("\x07\x1b\x1f\x7f"), fffd + fffd + fffd + fffd);
  EXPECT_EQ(HtmlEscape("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
  EXPECT_EQ(HtmlEscape("\xff"), fffd);                                   // never a UTF-8 byte
  EXPECT_EQ(HtmlEscape("\xc3"), fffd);                                   // truncated sequence
  EXPECT_EQ(HtmlEscape("\xc0\xaf"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(HtmlEscape("\xed\xa0\x80"), fffd + fffd + fffd);             // surrogate
  EXPECT_EQ(HtmlEscape("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
}

TEST(HtmlEscapeTest, ValidUtf8PassesThrough) {
  EXPECT_EQ(HtmlEscape("é 漢字 🙂 KOMIR"), "é 漢字 🙂 KOMIR");
  EXPECT_EQ(CodePoints("é 漢字 🙂"), 6u);
  EXPECT_EQ(CodePoints("\xff\xfe"), 2u);
}

// ---- value axis ----

// The invariants every axis keeps, whatever the data.
void ExpectSaneAxis(const ValueAxis& a, std::int64_t min, std::int64_t max, int max_ticks) {
  EXPECT_LT(a.lo, a.hi);
  EXPECT_LE(a.lo, std::min<std::int64_t>(min, 0));
  EXPECT_GE(a.hi, std::max<std::int64_t>(max, 0));
  ASSERT_GE(a.ticks.size(), 2u);
  EXPECT_LE(a.ticks.size(), static_cast<std::size_t>(max_ticks) + 2);
  for (std::size_t i = 0; i < a.ticks.size(); ++i) {
    EXPECT_GE(a.ticks[i], a.lo);
    EXPECT_LE(a.ticks[i], a.hi);
    if (i > 0) {
      EXPECT_LT(a.ticks[i - 1], a.ticks[i]);
    }
    const std::string label = FormatAxisValue(a.ticks[i], a);
    EXPECT_FALSE(label.empty());
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(label), "nan")) << label;
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(label), "inf")) << label;
  }
}

TEST(ValueAxisTest, TypicalDataGetsRoundTicksFromZero) {
  const ValueAxis a = NiceValueAxis(3, 97, 5);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 100);
  EXPECT_EQ(a.step, 20u);
  EXPECT_EQ(a.ticks, (std::vector<std::int64_t>{0, 20, 40, 60, 80, 100}));
  ExpectSaneAxis(a, 3, 97, 5);
}

TEST(ValueAxisTest, EmptyAndAllZeroDataGiveZeroToOne) {
  const ValueAxis a = NiceValueAxis(0, 0, 5);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 1);
  EXPECT_EQ(a.ticks, (std::vector<std::int64_t>{0, 1}));
  ExpectSaneAxis(a, 0, 0, 5);
}

TEST(ValueAxisTest, SinglePointIsCoveredWithZero) {
  const ValueAxis a = NiceValueAxis(7'300, 7'300, 4);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 8'000);
  EXPECT_EQ(a.step, 2'000u);
  ExpectSaneAxis(a, 7'300, 7'300, 4);
  const ValueAxis n = NiceValueAxis(-1, -1, 4);
  EXPECT_EQ(n.lo, -1);
  EXPECT_EQ(n.hi, 0);
  ExpectSaneAxis(n, -1, -1, 4);
}

TEST(ValueAxisTest, NegativeAndPositiveDataStraddleZero) {
  const ValueAxis a = NiceValueAxis(-250, 1'000, 5);
  EXPECT_EQ(a.step, 500u);
  EXPECT_EQ(a.ticks, (std::vector<std::int64_t>{-500, 0, 500, 1'000}));
  ExpectSaneAxis(a, -250, 1'000, 5);
}

TEST(ValueAxisTest, Int64LimitsNeitherOverflowNorLoseTheData) {
  for (auto [lo, hi] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {kMin, kMax}, {0, kMax}, {kMin, 0}, {kMax, kMax}, {kMin, kMin}, {kMax - 1, kMax}}) {
    for (int ticks : {1, 2, 5, 10}) {
      SCOPED_TRACE(absl::StrCat(lo, "..", hi, " ticks ", ticks));
      ExpectSaneAxis(NiceValueAxis(lo, hi, ticks), lo, hi, ticks);
    }
  }
  const ValueAxis a = NiceValueAxis(kMin, kMax, 5);
  EXPECT_EQ(a.lo, kMin);
  EXPECT_EQ(a.hi, kMax);
  EXPECT_EQ(a.ticks,
            (std::vector<std::int64_t>{-5'000'000'000'000'000'000, 0, 5'000'000'000'000'000'000}));
  EXPECT_EQ(FormatAxisValue(a.ticks[0], a), "-5E");
}

TEST(ValueAxisTest, LabelsAreExactWithThousandsOrScaledSuffix) {
  EXPECT_EQ(FormatAxisValue(12'500, NiceValueAxis(0, 12'500, 5)), "12,500");
  const ValueAxis m = NiceValueAxis(0, 2'400'000, 5);  // step 500,000
  EXPECT_EQ(m.step, 500'000u);
  EXPECT_EQ(FormatAxisValue(2'500'000, m), "2.5M");
  EXPECT_EQ(FormatAxisValue(0, m), "0");
  EXPECT_EQ(FormatAxisValue(-1'000'000, NiceValueAxis(-1'000'000, 2'000'000, 3)), "-1M");
  const ValueAxis g = NiceValueAxis(0, 1'230'000'000, 10);  // step 200,000,000
  EXPECT_EQ(FormatAxisValue(1'400'000'000, g), "1.4G");
}

// ---- time axis and scaling ----

TEST(TimeAxisTest, TicksAreRoundUtcTimesInsideTheSpan) {
  const std::int64_t t0 = 1'790'000'000;  // 2026-09-21 14:13:20 UTC
  const TimeAxis a = NiceTimeAxis(t0, t0 + 200, 5);
  EXPECT_EQ(a.step_s, 60);
  ASSERT_FALSE(a.ticks_s.empty());
  for (std::int64_t t : a.ticks_s) {
    EXPECT_EQ(t % 60, 0);
    EXPECT_GE(t, t0);
    EXPECT_LE(t, t0 + 200);
  }
  EXPECT_EQ(FormatTimeTick(a.ticks_s[0], a.step_s), "14:14");
  EXPECT_EQ(FormatTimeTick(t0, 1), "14:13:20");
  EXPECT_EQ(FormatTimeTick(t0, 86400), "2026-09-21");
  EXPECT_EQ(UtcSecond(t0), "2026-09-21 14:13:20");
}

TEST(TimeAxisTest, EmptySpanAndHugeSpanStayFinite) {
  const TimeAxis single = NiceTimeAxis(100, 100, 5);
  EXPECT_LT(single.lo_s, single.hi_s);
  const TimeAxis huge = NiceTimeAxis(-9'000'000'000, 9'000'000'000, 5);
  EXPECT_LE(huge.ticks_s.size(), 6u);
  EXPECT_GE(huge.ticks_s.size(), 1u);
  const TimeAxis top = NiceTimeAxis(kMax, kMax, 5);
  EXPECT_LT(top.lo_s, top.hi_s);
}

TEST(ScaleTest, MapsEndpointsExactlyAndClampsOutsideValues) {
  EXPECT_EQ(ScaleToPixel(0, 0, 100, 10, 110), 10);
  EXPECT_EQ(ScaleToPixel(100, 0, 100, 10, 110), 110);
  EXPECT_EQ(ScaleToPixel(50, 0, 100, 200, 0), 100);  // y grows upwards
  EXPECT_EQ(ScaleToPixel(kMin, kMin, kMax, 0, 500), 0);
  EXPECT_EQ(ScaleToPixel(kMax, kMin, kMax, 0, 500), 500);
  EXPECT_EQ(ScaleToPixel(0, kMin, kMax, 0, 500), 250);
  EXPECT_EQ(ScaleToPixel(-5, 0, 10, 0, 100), 0);
  EXPECT_EQ(ScaleToPixel(50, 0, 10, 0, 100), 100);
  EXPECT_EQ(ScaleToPixel(1, 0, 3, 0, 100), 33);
  EXPECT_EQ(ScaleToPixel(2, 0, 3, 0, 100), 67);
}

// ---- charts ----

// No number in a chart may be NaN or infinite, and no negative size may appear.
void ExpectFiniteSvg(const std::string& svg) {
  EXPECT_FALSE(std::regex_search(svg, std::regex(R"(\b(nan|inf|infinity)\b)", std::regex::icase)))
      << svg;
  EXPECT_FALSE(absl::StrContains(svg, "width=\"-")) << svg;
  EXPECT_FALSE(absl::StrContains(svg, "height=\"-")) << svg;
}

TEST(SvgChartTest, BarChartHasAccessibleNameAxesAndExactValues) {
  BarChart c;
  c.id = "net-1";
  c.title = "CO-99.8 net";
  c.value_label = "net kg";
  c.unit = "kg";
  c.categories = {"KOMIR", "JOGMEC"};
  c.series = {{"original", {1'200, -300}}, {"drill", {900, 0}}};
  const std::string svg = RenderBarChart(c);
  EXPECT_TRUE(absl::StrContains(svg, "role=\"img\"")) << svg;
  EXPECT_TRUE(absl::StrContains(svg, "aria-labelledby=\"net-1-svg-t net-1-svg-d\""));
  EXPECT_TRUE(absl::StrContains(svg, "<title id=\"net-1-svg-t\">CO-99.8 net</title>"));
  EXPECT_TRUE(absl::StrContains(svg, "KOMIR: original 1,200 kg, drill 900 kg"));
  EXPECT_TRUE(absl::StrContains(svg, "<text class=\"axis-label\""));
  EXPECT_TRUE(absl::StrContains(svg, "data-value=\"-300\""));
  EXPECT_TRUE(absl::StrContains(svg, "class=\"legend\""));
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 0, true);
  // Four bars, the negative one left of zero.
  std::size_t bars = 0;
  for (std::size_t p = svg.find("class=\"bar\""); p != std::string::npos;
       p = svg.find("class=\"bar\"", p + 1)) {
    ++bars;
  }
  EXPECT_EQ(bars, 4u);
  ExpectFiniteSvg(svg);
}

TEST(SvgChartTest, ChartsOfExtremeOrMissingDataStayFinite) {
  BarChart b;
  b.id = "x";
  b.title = "extremes";
  b.categories = {"min", "max", "zero"};
  b.series = {{"s", {kMin, kMax}}};  // the third value is missing: 0
  ExpectFiniteSvg(RenderBarChart(b));
  BarChart empty;
  empty.id = "e";
  const std::string e = RenderBarChart(empty);
  EXPECT_TRUE(absl::StrContains(e, "no data"));
  ExpectFiniteSvg(e);

  TimeSeriesChart t;
  t.id = "t";
  t.title = "time";
  t.start_s = 1'790'000'000;
  t.bucket_s = 10;
  t.buckets = 3;
  t.series = {{"a", {kMax, kMax, kMax}}, {"b", {kMin}}};
  ExpectFiniteSvg(RenderTimeSeriesChart(t));
  t.buckets = 1;  // a single point
  t.series = {{"a", {5}}};
  const std::string one = RenderTimeSeriesChart(t);
  EXPECT_TRUE(absl::StrContains(one, "data-total=\"5\"")) << one;
  ExpectFiniteSvg(one);
  t.buckets = 0;
  t.series.clear();
  const std::string none = RenderTimeSeriesChart(t);
  EXPECT_TRUE(absl::StrContains(none, "no data"));
  ExpectFiniteSvg(none);
  t.start_s = kMax;  // the end of the last bucket saturates
  t.buckets = 2;
  t.series = {{"a", {0, 0}}};
  ExpectFiniteSvg(RenderTimeSeriesChart(t));
}

TEST(SvgChartTest, EveryDataStringIsEscaped) {
  const std::string evil = "<script>x</script>\"'&";
  BarChart c;
  c.id = evil;
  c.title = evil;
  c.value_label = evil;
  c.unit = evil;
  c.categories = {evil};
  c.series = {{evil, {1}}, {evil, {2}}};
  TimeSeriesChart t;
  t.id = evil;
  t.title = evil;
  t.value_label = evil;
  t.unit = evil;
  t.buckets = 1;
  t.series = {{evil, {1}}, {evil, {2}}};
  for (const std::string& svg : {RenderBarChart(c), RenderTimeSeriesChart(t)}) {
    EXPECT_FALSE(absl::StrContains(svg, "<script")) << svg;
    EXPECT_FALSE(absl::StrContains(svg, "\"'")) << svg;
    EXPECT_TRUE(absl::StrContains(svg, "&lt;script&gt;x&lt;/script&gt;&quot;&#39;&amp;"));
  }
}

// ---- volume buckets ----

ReportData VolumeReport(std::int64_t first_s, std::int64_t last_s,
                        std::vector<VolumePoint> points) {
  ReportData r;
  r.commands = 2;
  r.first_time = first_s * 1'000'000'000;
  r.last_time = last_s * 1'000'000'000 + 999'999'999;
  InstrumentReport& i = r.instruments.emplace_back();
  i.instrument = 3;
  i.symbol = "CO-99.8";
  i.unit = "kg";
  i.volume_by_second = std::move(points);
  return r;
}

TEST(BucketVolumeTest, PicksTheSmallestRoundWidthAndSumsExactly) {
  const ReportData r = VolumeReport(1'000, 1'199, {{1'000, 5}, {1'001, 7}, {1'150, 11}});
  const VolumeSeries v = BucketVolume({&r}, 120);
  EXPECT_EQ(v.bucket_seconds, 2);  // 200 s in 100 buckets
  EXPECT_EQ(v.start_second, 1'000);
  EXPECT_EQ(v.buckets, 100u);
  ASSERT_EQ(v.instruments.size(), 1u);
  EXPECT_EQ(v.instruments[0].volume[0][0], 12);
  EXPECT_EQ(v.instruments[0].volume[0][75], 11);
  const VolumeSeries coarse = BucketVolume({&r}, 4);
  EXPECT_EQ(coarse.bucket_seconds, 60);
  EXPECT_EQ(coarse.start_second, 960);
  EXPECT_EQ(coarse.buckets, 4u);  // 960, 1020, 1080, 1140
  EXPECT_EQ(coarse.instruments[0].volume[0], (std::vector<Amount>{12, 0, 0, 11}));
}

TEST(BucketVolumeTest, DrillAndOriginalShareOneAxis) {
  const ReportData o = VolumeReport(1'000, 1'009, {{1'000, 5}});
  ReportData d = VolumeReport(1'005, 1'030, {{1'030, 9}});
  d.instruments[0].instrument = 1;  // another instrument, listed first (by id)
  d.instruments[0].symbol = "GA-4N";
  const VolumeSeries v = BucketVolume({&o, &d}, 120);
  EXPECT_EQ(v.start_second, 1'000);
  EXPECT_EQ(v.bucket_seconds, 1);
  EXPECT_EQ(v.buckets, 31u);
  ASSERT_EQ(v.instruments.size(), 2u);
  EXPECT_EQ(v.instruments[0].symbol, "GA-4N");
  EXPECT_EQ(v.instruments[0].volume[0], std::vector<Amount>(31, 0));
  EXPECT_EQ(v.instruments[0].volume[1][30], 9);
  EXPECT_EQ(v.instruments[1].volume[0][0], 5);
}

TEST(BucketVolumeTest, EmptyAndExtremeSpans) {
  const ReportData empty;
  const VolumeSeries e = BucketVolume({&empty});
  EXPECT_EQ(e.buckets, 0u);
  ReportData wide = VolumeReport(0, 0, {{kMin / 1'000'000'000, 1}});
  wide.first_time = kMin;
  wide.last_time = kMax;
  const VolumeSeries w = BucketVolume({&wide});
  EXPECT_LE(w.buckets, static_cast<std::size_t>(kMaxVolumeBuckets));
  EXPECT_GE(w.buckets, 1u);
  EXPECT_EQ(w.instruments[0].volume[0][0], 1);
}

// ---- report pages ----

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msx-chart-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The integer shown in the first cell with data-key="key" after `from`, or -1.
std::int64_t CellAfter(const std::string& html, std::size_t from, const std::string& key) {
  const std::string tag = absl::StrCat("data-key=\"", key, "\">");
  const std::size_t p = html.find(tag, from);
  if (p == std::string::npos) return -1;
  const std::size_t start = p + tag.size();
  const std::string text =
      absl::StrReplaceAll(html.substr(start, html.find('<', start) - start), {{",", ""}});
  return std::stoll(text);
}

TEST(ReportHtmlTest, FiguresEqualTheJsonReport) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 3'000;
  ASSERT_TRUE(WriteTrafficJournal(tmp.sub("j"), DefaultConfig(), opt).ok());
  absl::StatusOr<ReportData> r = BuildReport(tmp.sub("j"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json j = nlohmann::json::parse(RenderReportJson(*r));
  const std::string html = RenderReportHtml(tmp.sub("j"), *r);
  ExpectFiniteSvg(html);
  const std::size_t totals = html.find("id=\"totals\"");
  ASSERT_NE(totals, std::string::npos);
  for (const char* key : {"commands", "events", "offers_accepted", "rejects", "fills"}) {
    EXPECT_EQ(CellAfter(html, totals, key), j.at(key).get<std::int64_t>()) << key;
  }
  ASSERT_GT(j.at("fills").get<std::int64_t>(), 0);
  for (const nlohmann::json& i : j.at("instruments")) {
    const std::size_t row = html.find(
        absl::StrCat("<tr data-instrument=\"", i.at("instrument").get<std::string>(), "\""));
    ASSERT_NE(row, std::string::npos) << i;
    EXPECT_EQ(CellAfter(html, row, "volume"), i.at("volume").get<std::int64_t>());
    EXPECT_EQ(CellAfter(html, row, "unfilled_demand"), i.at("unfilled_demand").get<std::int64_t>());
  }
  // Each volume chart's series total equals the instrument's volume, and its buckets the
  // JSON's volume_over_time.
  const nlohmann::json& v = j.at("volume_over_time");
  for (const nlohmann::json& row : v.at("instruments")) {
    std::int64_t sum = 0;
    for (const nlohmann::json& x : row.at("volume")) sum += x.get<std::int64_t>();
    for (const nlohmann::json& i : j.at("instruments")) {
      if (i.at("instrument") == row.at("instrument")) {
        EXPECT_EQ(sum, i.at("volume"));
      }
    }
  }
  std::size_t paths = 0;
  for (std::size_t p = html.find("class=\"series\""); p != std::string::npos;
       p = html.find("class=\"series\"", p + 1)) {
    ++paths;
  }
  EXPECT_EQ(paths, v.at("instruments").size());
}

TEST(ReportHtmlTest, EveryDataStringIsEscapedAndNothingIsFetched) {
  const std::string evil = "<img src=x onerror=alert(1)>\"'&";
  ReportData r;
  r.commands = 1;
  InstrumentReport& i = r.instruments.emplace_back();
  i.symbol = "instrument " + evil;
  i.unit = "unit " + evil;
  i.volume_by_second = {{0, 4}};
  AgencyReport& a = r.agencies.emplace_back();
  a.code = "agency " + evil;
  AgencyHoldingRow& h = a.rows.emplace_back();
  h.symbol = "holding " + evil;
  h.unit = "hu " + evil;
  h.received = 3;
  PairReport& p = r.pairs.emplace_back();
  p.symbol = "pair " + evil;
  r.busiest_minutes.push_back({0, 1});
  DrillResult d;
  d.out_dir = "/tmp/" + evil;
  d.fired.push_back({.index = 0,
                     .drill_seq = 1,
                     .before_original_seq = 1,
                     .commands = 1,
                     .description = "edit " + evil});
  d.original = r;
  d.drill = r;
  for (const std::string& html :
       {RenderReportHtml("/data/" + evil, r), RenderDrillHtml("/data/" + evil, "s/" + evil, d)}) {
    EXPECT_FALSE(absl::StrContains(html, "<img")) << html;
    EXPECT_FALSE(absl::StrContains(html, "<script")) << html;
    EXPECT_FALSE(absl::StrContains(html, "\"'")) << html;
    EXPECT_TRUE(absl::StrContains(html, "agency &lt;img src=x onerror=alert(1)&gt;&quot;&#39;"));
    EXPECT_TRUE(absl::StrContains(html, "default-src 'none'"));
    // Nothing to fetch: no tag has a src or href attribute (quoted values, where escaped
    // data lives, are dropped first).
    const std::string tags = std::regex_replace(html, std::regex(R"("[^"]*")"), "\"\"");
    EXPECT_FALSE(std::regex_search(tags, std::regex(R"(<[^>]*\s(src|href)\s*=)"))) << tags;
    ExpectFiniteSvg(html);
  }
}

}  // namespace
}  // namespace msx::drill
