// Human-readable rendering for `msx`: aligned tables and amounts with their units, e.g.
// "12 lots = 12,000 kg CO-99.8". Exact integer formatting; no floating point.
//
// Thread-safety: Catalog is immutable after construction; functions are pure.
#ifndef MSX_CLIENTS_MSX_RENDER_H_
#define MSX_CLIENTS_MSX_RENDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "msx/v1/exchange.pb.h"

namespace msx::cli {

// 12000 -> "12,000"; -1234567 -> "-1,234,567".
std::string FormatThousands(std::int64_t value);

// Micro-USD -> "USD 12.50", keeping up to six decimals without trailing zeros (two at
// least): 12500000 -> "12.50", 1234567 -> "1.234567".
std::string FormatMicroUsd(std::int64_t micro_usd);

// Nanoseconds since the Unix epoch -> "2026-11-23T19:20:45.123456789Z".
std::string FormatTimeNs(std::int64_t time_ns);

const char* SideName(v1::Side side);             // "buy", "sell", "?"
const char* TimeInForceName(v1::TimeInForce t);  // "GTC", ...
const char* OfferStateName(v1::OfferState s);    // "open", "filled", ...

// The reference data needed to attach units to numbers. Unknown symbols render without
// units rather than failing (the catalogue may be older than an offer).
class Catalog {
 public:
  Catalog() = default;
  Catalog(const v1::ListInstrumentsResponse& instruments, const v1::ListPairsResponse& pairs);

  // "12 lots = 12,000 kg CO-99.8" (base side of `pair`).
  std::string Lots(const std::string& pair, std::int64_t lots) const;
  // "888 kg GA-4N" (an amount of `pair`'s quote instrument).
  std::string QuoteAmount(const std::string& pair, std::int64_t amount) const;
  // "74 kg GA-4N per lot".
  std::string Price(const std::string& pair, std::int64_t price) const;
  // "1,000 kg CO-99.8" (an amount of an instrument).
  std::string Amount(const std::string& instrument, std::int64_t amount) const;

 private:
  absl::flat_hash_map<std::string, v1::Instrument> instruments_;
  absl::flat_hash_map<std::string, v1::Pair> pairs_;
};

// A text table: a header row and data rows, columns padded to their widest cell; cells
// that look numeric are right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace msx::cli

#endif  // MSX_CLIENTS_MSX_RENDER_H_
