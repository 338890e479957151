#include "clients/msx/render.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace msx::cli {

std::string FormatThousands(std::int64_t value) {
  // Work on the magnitude as unsigned so INT64_MIN does not overflow.
  std::uint64_t mag = value < 0 ? 0 - static_cast<std::uint64_t>(value)
                                : static_cast<std::uint64_t>(value);
  std::string digits = std::to_string(mag);
  std::string out;
  int lead = static_cast<int>(digits.size() % 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (static_cast<int>(i) - lead) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

std::string FormatMicroUsd(std::int64_t micro_usd) {
  std::uint64_t mag = micro_usd < 0 ? 0 - static_cast<std::uint64_t>(micro_usd)
                                    : static_cast<std::uint64_t>(micro_usd);
  char frac[8];
  std::snprintf(frac, sizeof(frac), "%06llu", static_cast<unsigned long long>(mag % 1000000));
  std::string f = frac;
  while (f.size() > 2 && f.back() == '0') f.pop_back();
  return absl::StrCat(micro_usd < 0 ? "-" : "",
                      FormatThousands(static_cast<std::int64_t>(mag / 1000000)), ".", f);
}

std::string FormatTimeNs(std::int64_t time_ns) {
  std::int64_t secs = time_ns / 1000000000, nanos = time_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(nanos));
  return buf;
}

const char* SideName(v1::Side side) {
  switch (side) {
    case v1::SIDE_BUY: return "buy";
    case v1::SIDE_SELL: return "sell";
    default: return "?";
  }
}

const char* TimeInForceName(v1::TimeInForce t) {
  switch (t) {
    case v1::TIME_IN_FORCE_GTC: return "GTC";
    case v1::TIME_IN_FORCE_GTD: return "GTD";
    case v1::TIME_IN_FORCE_IOC: return "IOC";
    case v1::TIME_IN_FORCE_FOK: return "FOK";
    default: return "GTC";
  }
}

const char* OfferStateName(v1::OfferState s) {
  switch (s) {
    case v1::OFFER_STATE_OPEN: return "open";
    case v1::OFFER_STATE_FILLED: return "filled";
    case v1::OFFER_STATE_CANCELLED: return "cancelled";
    case v1::OFFER_STATE_EXPIRED: return "expired";
    default: return "?";
  }
}

Catalog::Catalog(const v1::ListInstrumentsResponse& instruments,
                 const v1::ListPairsResponse& pairs) {
  for (const auto& i : instruments.instruments()) instruments_[i.symbol()] = i;
  for (const auto& p : pairs.pairs()) pairs_[p.symbol()] = p;
}

std::string Catalog::Amount(const std::string& instrument, std::int64_t amount) const {
  auto it = instruments_.find(instrument);
  if (it == instruments_.end()) return absl::StrCat(FormatThousands(amount), " ", instrument);
  return absl::StrCat(FormatThousands(amount), " ", it->second.unit(), " ", instrument);
}

std::string Catalog::Lots(const std::string& pair, std::int64_t lots) const {
  std::string head = absl::StrCat(FormatThousands(lots), lots == 1 ? " lot" : " lots");
  auto p = pairs_.find(pair);
  if (p == pairs_.end()) return head;
  auto i = instruments_.find(p->second.base());
  if (i == instruments_.end()) return absl::StrCat(head, " ", p->second.base());
  // Saturate rather than overflow on absurd inputs; the server rejects them anyway.
  std::int64_t units = 0;
  if (__builtin_mul_overflow(lots, i->second.lot_size(), &units)) {
    return absl::StrCat(head, " of ", p->second.base());
  }
  return absl::StrCat(head, " = ", Amount(p->second.base(), units));
}

std::string Catalog::QuoteAmount(const std::string& pair, std::int64_t amount) const {
  auto p = pairs_.find(pair);
  if (p == pairs_.end()) return FormatThousands(amount);
  return Amount(p->second.quote(), amount);
}

std::string Catalog::Price(const std::string& pair, std::int64_t price) const {
  return absl::StrCat(QuoteAmount(pair, price), " per lot");
}

namespace {
bool LooksNumeric(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == ',' || c == '-' || c == '.')) return false;
  }
  return true;
}
}  // namespace

std::string Table::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  for (size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& row, bool header) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      std::string pad(width[c] - cell.size(), ' ');
      bool right = !header && LooksNumeric(cell);
      out += right ? pad + cell : cell + pad;
      if (c + 1 < width.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header_, true);
  for (const auto& row : rows_) out += line(row, false);
  return out;
}

}  // namespace msx::cli
