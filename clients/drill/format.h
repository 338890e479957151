// Text rendering helpers for msx-drill reports: an aligned text table and exact integer
// formatting (thousands separators, durations, UTC times). JSON is built with
// nlohmann::ordered_json and printed by journal::JsonText. Not on any hot path.
//
// Thread-safety: values; no shared state.
#ifndef MSX_CLIENTS_DRILL_FORMAT_H_
#define MSX_CLIENTS_DRILL_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace msx::drill {

// 1234567 -> "1,234,567"; -5000 -> "-5,000".
std::string Thousands(std::int64_t v);
std::string ThousandsU(std::uint64_t v);
// Exact decimal rendering of a nanosecond duration with the largest fitting unit and three
// decimals, truncated: 999 -> "999 ns", 1500 -> "1.500 us", 2'000'000'123 -> "2.000 s".
std::string Duration(std::int64_t ns);
// Nanoseconds since the epoch as "2026-11-23 19:31:06.123" (UTC, milliseconds truncated).
std::string UtcTime(std::int64_t ns);
// Nanoseconds since the epoch as "2026-11-23 19:31" (UTC).
std::string UtcMinute(std::int64_t ns);

// A text table: the first column left-aligned, the others right-aligned (unless made
// left-aligned, for text), two spaces apart.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void LeftAlign(std::size_t column) { left_.push_back(column); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Every line indented by `indent` spaces, each ending in '\n'.
  std::string Render(int indent = 2) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> left_;
};

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_FORMAT_H_
