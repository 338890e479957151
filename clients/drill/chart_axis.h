// Chart axes for msx-drill's HTML reports: "nice" tick values for an integer value axis
// and for a UTC time axis, their labels, and the integer mapping from data to pixels.
// All arithmetic is on integers (128-bit intermediates where a product or a difference of
// two int64 values could overflow), so an axis never holds NaN or infinity, whatever the
// data: empty, one point, all zero, or values near the int64 limits.
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_DRILL_CHART_AXIS_H_
#define MSX_CLIENTS_DRILL_CHART_AXIS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace msx::drill {

// A value axis: the domain [lo, hi] (lo < hi) covers the data and zero; ticks are the
// multiples of step (1, 2 or 5 times a power of ten) inside the domain, ascending, plus lo
// and hi themselves when fewer than two multiples fit (only near the int64 limits).
struct ValueAxis {
  std::int64_t lo = 0;
  std::int64_t hi = 1;
  std::uint64_t step = 1;
  std::vector<std::int64_t> ticks;
};

// The axis for data in [min, max]. The domain always includes 0 (bars and volumes start
// at zero). Empty data: pass min = max = 0, which gives the domain [0, 1]. The domain is
// [floor(min/step)*step, ceil(max/step)*step] with the smallest step that needs at most
// max_ticks intervals, clamped to the int64 range. REQUIRES: min <= max, max_ticks >= 1.
ValueAxis NiceValueAxis(std::int64_t min, std::int64_t max, int max_ticks);

// A tick label of `axis`: exact. Below a magnitude of one million (the largest of |lo|,
// |hi|) with thousands separators ("12,500"); above, scaled with a suffix (k, M, G, T, P,
// E) and exactly the decimals the step needs ("2.5M", "-9.2E").
std::string FormatAxisValue(std::int64_t v, const ValueAxis& axis);

// A time axis over whole UTC seconds [lo_s, hi_s] (lo_s < hi_s): ticks at the multiples of
// step_s (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7 days,
// then doublings) inside it, ascending; at most max_ticks + 1 ticks.
struct TimeAxis {
  std::int64_t lo_s = 0;
  std::int64_t hi_s = 1;
  std::int64_t step_s = 1;
  std::vector<std::int64_t> ticks_s;
};

// REQUIRES: max_ticks >= 1. An empty or inverted span becomes [lo_s, lo_s + 1].
TimeAxis NiceTimeAxis(std::int64_t lo_s, std::int64_t hi_s, int max_ticks);

// A time tick label: "HH:MM:SS" for steps under a minute, "HH:MM" under a day, else
// "YYYY-MM-DD" (UTC).
std::string FormatTimeTick(std::int64_t s, std::int64_t step_s);
// "YYYY-MM-DD HH:MM:SS" (UTC) of a second since the epoch.
std::string UtcSecond(std::int64_t s);

// Maps v (clamped to [lo, hi]) linearly onto [p0, p1] (p1 may be below p0, for a y axis
// that grows upwards), rounded to the nearest integer. REQUIRES: lo < hi.
int ScaleToPixel(std::int64_t v, std::int64_t lo, std::int64_t hi, int p0, int p1);

// Floor division (rounds towards negative infinity). REQUIRES: d > 0.
inline std::int64_t FloorDiv(std::int64_t n, std::int64_t d) {
  const std::int64_t q = n / d;
  return (n % d != 0 && n < 0) ? q - 1 : q;
}

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_CHART_AXIS_H_
