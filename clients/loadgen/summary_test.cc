// Tests of the run summary's JSON: every string escaped, every figure a JSON number.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "clients/loadgen/loadgen.h"
#include "gtest/gtest.h"

namespace msx::loadgen {
namespace {

// Quotes, a backslash, control characters (NUL, newline, tab, BEL, ESC, US, DEL), Latin and
// CJK letters and an emoji.
const std::string kAwkward =
    std::string("q\"uo\\te \0 \n\t\x07\x1b\x1f\x7f", 16) + " é 漢字 🙂";

nlohmann::json Parse(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
  return j;
}

TEST(SummaryJsonTest, RoundTripsAnyStringAndKeepsCountsExact) {
  Summary s;
  s.mode = "mode " + kAwkward;
  s.api = "api " + kAwkward;
  s.exec_stream = "stream " + kAwkward;
  s.errors["error " + kAwkward] = 3;
  s.response_errors["response " + kAwkward] = 4;
  s.reject_reasons["reason " + kAwkward] = 5;
  s.sent = std::numeric_limits<std::uint64_t>::max();
  const nlohmann::json j = Parse(SummaryJson(s));
  EXPECT_EQ(j.at("mode"), s.mode);
  EXPECT_EQ(j.at("api"), s.api);
  EXPECT_EQ(j.at("exec_stream"), s.exec_stream);
  EXPECT_EQ(j.at("errors").at("error " + kAwkward), 3);
  EXPECT_EQ(j.at("response_errors").at("response " + kAwkward), 4);
  EXPECT_EQ(j.at("reject_reasons").at("reason " + kAwkward), 5);
  EXPECT_EQ(j.at("sent").get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
}

TEST(SummaryJsonTest, FiguresAreNumbersWithTheTextSummarysDecimals) {
  Summary s;
  s.mode = "exchange";
  s.elapsed_ns = 2'000'000'000;
  s.ok = 3001;  // 1500.5 calls/s
  s.submits = 2001;
  s.max_send_lag_ns = 52'345;
  for (std::int64_t ns : {401'400, 401'400, 401'400}) s.submit.Record(ns);
  const nlohmann::json j = Parse(SummaryJson(s));
  EXPECT_DOUBLE_EQ(j.at("elapsed_s").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j.at("rate").get<double>(), 1500.5);
  EXPECT_DOUBLE_EQ(j.at("offer_rate").get<double>(), 1000.5);
  EXPECT_DOUBLE_EQ(j.at("max_send_lag_us").get<double>(), 52.3);
  EXPECT_TRUE(j.at("p50_us").is_number());
  EXPECT_EQ(j.at("latency_count"), 3);
  EXPECT_TRUE(j.at("errors").is_object());
  EXPECT_TRUE(j.at("errors").empty());
}

}  // namespace
}  // namespace msx::loadgen
