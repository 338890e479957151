#include "clients/drill/chart_axis.h"

#include <time.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/drill/format.h"

namespace msx::drill {
namespace {

using i128 = __int128;
constexpr i128 kMin = std::numeric_limits<std::int64_t>::min();
constexpr i128 kMax = std::numeric_limits<std::int64_t>::max();

// Floor and ceiling division of 128-bit values by a positive divisor.
i128 FloorDiv128(i128 n, i128 d) {
  const i128 q = n / d;
  return (n % d != 0 && n < 0) ? q - 1 : q;
}
i128 CeilDiv128(i128 n, i128 d) {
  const i128 q = n / d;
  return (n % d != 0 && n > 0) ? q + 1 : q;
}

std::uint64_t Magnitude(std::int64_t v) {
  return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

}  // namespace

ValueAxis NiceValueAxis(std::int64_t min, std::int64_t max, int max_ticks) {
  if (max_ticks < 1) max_ticks = 1;
  if (min > max) std::swap(min, max);
  i128 lo = std::min<std::int64_t>(min, 0);
  i128 hi = std::max<std::int64_t>(max, 0);
  if (lo == hi) hi = 1;        // all zero (or empty): [0, 1]
  const i128 range = hi - lo;  // at most 2^64 - 1
  const i128 want = CeilDiv128(range, max_ticks);
  // The smallest 1, 2 or 5 times a power of ten >= want (at most 2 * 10^19: fits).
  i128 step = 1;
  for (i128 p = 1;; p *= 10) {
    if (p >= want) {
      step = p;
      break;
    }
    if (2 * p >= want) {
      step = 2 * p;
      break;
    }
    if (5 * p >= want) {
      step = 5 * p;
      break;
    }
  }
  const i128 nice_lo = std::max(kMin, FloorDiv128(lo, step) * step);
  const i128 nice_hi = std::min(kMax, CeilDiv128(hi, step) * step);
  ValueAxis axis;
  axis.lo = static_cast<std::int64_t>(nice_lo);
  axis.hi = static_cast<std::int64_t>(nice_hi);
  axis.step = static_cast<std::uint64_t>(step);  // <= 2 * 10^19 < 2^64
  for (i128 t = CeilDiv128(nice_lo, step) * step; t <= nice_hi; t += step) {
    axis.ticks.push_back(static_cast<std::int64_t>(t));
  }
  if (axis.ticks.size() < 2) {
    axis.ticks.push_back(axis.lo);
    axis.ticks.push_back(axis.hi);
    std::sort(axis.ticks.begin(), axis.ticks.end());
    axis.ticks.erase(std::unique(axis.ticks.begin(), axis.ticks.end()), axis.ticks.end());
  }
  return axis;
}

std::string FormatAxisValue(std::int64_t v, const ValueAxis& axis) {
  const std::uint64_t magnitude = std::max(Magnitude(axis.lo), Magnitude(axis.hi));
  if (magnitude < 1'000'000 || v == 0) return Thousands(v);
  struct Suffix {
    std::uint64_t div;
    int exp;
    const char* name;
  };
  static constexpr Suffix kSuffixes[] = {{1'000'000'000'000'000'000, 18, "E"},
                                         {1'000'000'000'000'000, 15, "P"},
                                         {1'000'000'000'000, 12, "T"},
                                         {1'000'000'000, 9, "G"},
                                         {1'000'000, 6, "M"}};
  Suffix s = kSuffixes[4];
  for (const Suffix& c : kSuffixes) {
    if (magnitude >= c.div) {
      s = c;
      break;
    }
  }
  // Decimals: enough that every multiple of the step is exact (step = m * 10^e).
  int e = 0;
  for (std::uint64_t st = axis.step; st % 10 == 0 && st > 0; st /= 10) ++e;
  const int decimals = std::max(0, s.exp - e);
  const std::uint64_t m = Magnitude(v);
  std::string out = absl::StrCat(v < 0 ? "-" : "", m / s.div);
  if (decimals > 0) {
    std::uint64_t frac = m % s.div;
    std::uint64_t unit = s.div;
    std::string digits;
    for (int i = 0; i < decimals; ++i) {
      unit /= 10;
      digits.push_back(static_cast<char>('0' + frac / unit));
      frac %= unit;
    }
    absl::StrAppend(&out, ".", digits);
  }
  absl::StrAppend(&out, s.name);
  return out;
}

TimeAxis NiceTimeAxis(std::int64_t lo_s, std::int64_t hi_s, int max_ticks) {
  if (max_ticks < 1) max_ticks = 1;
  TimeAxis axis;
  axis.lo_s = lo_s;
  axis.hi_s = hi_s > lo_s ? hi_s : lo_s + (lo_s < kMax ? 1 : 0);
  if (axis.hi_s == axis.lo_s) --axis.lo_s;  // lo_s was INT64_MAX
  static constexpr std::int64_t kSteps[] = {1,     2,     5,     10,    15,     30,    60,
                                            120,   300,   600,   900,   1800,   3600,  7200,
                                            10800, 21600, 43200, 86400, 172800, 604800};
  const i128 span = static_cast<i128>(axis.hi_s) - axis.lo_s;
  i128 step = 0;
  for (std::int64_t s : kSteps) {
    if (CeilDiv128(span, s) <= max_ticks) {
      step = s;
      break;
    }
  }
  if (step == 0) {
    step = 604800;
    while (CeilDiv128(span, step) > max_ticks) step *= 2;  // terminates: span < 2^64
  }
  axis.step_s = static_cast<std::int64_t>(std::min(step, kMax));
  for (i128 t = CeilDiv128(axis.lo_s, step) * step; t <= axis.hi_s; t += step) {
    axis.ticks_s.push_back(static_cast<std::int64_t>(t));
  }
  return axis;
}

namespace {

bool Gmtime(std::int64_t s, struct tm* tm) {
  const time_t t = static_cast<time_t>(s);
  return gmtime_r(&t, tm) != nullptr;
}

}  // namespace

std::string FormatTimeTick(std::int64_t s, std::int64_t step_s) {
  struct tm tm;
  if (!Gmtime(s, &tm)) return absl::StrCat(s, " s");
  if (step_s < 60) return absl::StrFormat("%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (step_s < 86400) return absl::StrFormat("%02d:%02d", tm.tm_hour, tm.tm_min);
  return absl::StrFormat("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string UtcSecond(std::int64_t s) {
  struct tm tm;
  if (!Gmtime(s, &tm)) return absl::StrCat(s, " s");
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int ScaleToPixel(std::int64_t v, std::int64_t lo, std::int64_t hi, int p0, int p1) {
  if (hi <= lo) return p0;
  v = std::clamp(v, lo, hi);
  const i128 num = (static_cast<i128>(v) - lo) * (p1 - p0);
  const i128 den = static_cast<i128>(hi) - lo;
  // Round half away from zero.
  const i128 q = num >= 0 ? (2 * num + den) / (2 * den) : -((-2 * num + den) / (2 * den));
  return p0 + static_cast<int>(q);
}

}  // namespace msx::drill
