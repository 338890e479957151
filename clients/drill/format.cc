#include "clients/drill/format.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace msx::drill {

std::string ThousandsU(std::uint64_t v) {
  std::string digits = absl::StrCat(v);
  std::string out;
  const int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Thousands(std::int64_t v) {
  if (v >= 0) return ThousandsU(static_cast<std::uint64_t>(v));
  // Negate in unsigned arithmetic so that INT64_MIN is exact.
  return absl::StrCat("-", ThousandsU(0 - static_cast<std::uint64_t>(v)));
}

std::string Duration(std::int64_t ns) {
  const bool negative = ns < 0;
  std::uint64_t v = negative ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  std::string sign = negative ? "-" : "";
  if (v < 1000) return absl::StrCat(sign, v, " ns");
  struct Unit {
    std::uint64_t div;
    const char* name;
  };
  const Unit unit = v < 1'000'000       ? Unit{1'000, "us"}
                    : v < 1'000'000'000 ? Unit{1'000'000, "ms"}
                                        : Unit{1'000'000'000, "s"};
  const std::uint64_t whole = v / unit.div;
  const std::uint64_t frac = (v % unit.div) / (unit.div / 1000);
  return absl::StrFormat("%s%d.%03d %s", sign, whole, frac, unit.name);
}

namespace {

std::string FormatUtc(std::int64_t ns, bool with_seconds) {
  // Floor division so that times before the epoch land in the right second.
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  if (gmtime_r(&t, &tm) == nullptr) return absl::StrCat(ns, " ns");
  if (!with_seconds) {
    return absl::StrFormat("%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min);
  }
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem / 1'000'000);
}

}  // namespace

std::string UtcTime(std::int64_t ns) { return FormatUtc(ns, true); }
std::string UtcMinute(std::int64_t ns) { return FormatUtc(ns, false); }

std::string TextTable::Render(int indent) const {
  std::vector<std::size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l(static_cast<std::size_t>(indent), ' ');
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      const std::string pad(width[i] - cell.size(), ' ');
      if (i > 0) l += "  ";
      const bool left = i == 0 || std::find(left_.begin(), left_.end(), i) != left_.end();
      l += left ? cell + pad : pad + cell;
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(header_);
  for (const auto& r : rows_) line(r);
  return out;
}

}  // namespace msx::drill
