#include "clients/loadgen/histogram.h"

#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace msx::loadgen {
namespace {

TEST(LatencyHistogramTest, SmallValuesHaveExactBuckets) {
  for (std::uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(LatencyHistogram::BucketIndex(v), v);
    EXPECT_EQ(LatencyHistogram::BucketLowest(v), v);
    EXPECT_EQ(LatencyHistogram::BucketHighest(v), v);
  }
}

TEST(LatencyHistogramTest, BucketsTileTheWholeRangeWithoutGaps) {
  std::size_t n = LatencyHistogram::BucketCount();
  EXPECT_EQ(LatencyHistogram::BucketLowest(0), 0u);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketHighest(i) + 1, LatencyHistogram::BucketLowest(i + 1))
        << i;
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketLowest(i)), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketHighest(i)), i);
  }
  EXPECT_EQ(LatencyHistogram::BucketIndex(UINT64_MAX), n - 1);
  EXPECT_EQ(LatencyHistogram::BucketHighest(n - 1), UINT64_MAX);
}

TEST(LatencyHistogramTest, BucketWidthStaysBelowOnePercentOfItsValues) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t v = rng() >> (rng() % 64);
    std::size_t b = LatencyHistogram::BucketIndex(v);
    std::uint64_t lo = LatencyHistogram::BucketLowest(b), hi = LatencyHistogram::BucketHighest(b);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    // width / lowest <= 2^-7
    ASSERT_LE(hi - lo, lo / 128) << v;
  }
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPerMillion(500000), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.mean(), 0);
}

TEST(LatencyHistogramTest, PercentilesOfOneToThousandAreExactInTheLinearRange) {
  LatencyHistogram h;
  for (int v = 1; v <= 200; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 200u);
  EXPECT_EQ(h.ValueAtPerMillion(500000), 100);
  EXPECT_EQ(h.ValueAtPerMillion(990000), 198);
  EXPECT_EQ(h.ValueAtPerMillion(1000000), 200);
  EXPECT_EQ(h.ValueAtPerMillion(0), 1);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 200);
  EXPECT_EQ(h.mean(), 100);  // 20100 / 200 = 100.5, rounded down
}

TEST(LatencyHistogramTest, LargePercentilesAreWithinBucketPrecision) {
  LatencyHistogram h;
  // 1..100000 microseconds in nanoseconds.
  for (std::int64_t us = 1; us <= 100000; ++us) h.Record(us * 1000);
  std::int64_t p50 = h.ValueAtPerMillion(500000);
  std::int64_t p999 = h.ValueAtPerMillion(999000);
  EXPECT_GE(p50, 50000 * 1000);
  EXPECT_LE(p50, 50000 * 1000 + 50000 * 1000 / 128);
  EXPECT_GE(p999, 99900 * 1000);
  EXPECT_LE(p999, 99900 * 1000 + 99900 * 1000 / 128);
  EXPECT_EQ(h.ValueAtPerMillion(1000000), 100000 * 1000);  // capped at the exact max
}

TEST(LatencyHistogramTest, OutlierShowsOnlyAtTheTail) {
  LatencyHistogram h;
  for (int i = 0; i < 999; ++i) h.Record(50000);
  h.Record(9000000);
  EXPECT_LE(h.ValueAtPerMillion(990000), 50000 + 50000 / 128);
  EXPECT_GE(h.ValueAtPerMillion(999000), 49000);
  EXPECT_EQ(h.ValueAtPerMillion(999001), 9000000);
  EXPECT_EQ(h.max(), 9000000);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  std::mt19937_64 rng(11);
  for (int i = 0; i < 5000; ++i) {
    std::int64_t v = static_cast<std::int64_t>(rng() % 10000000);
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.mean(), all.mean());
  for (std::int64_t q : {0, 100000, 500000, 900000, 990000, 999000, 1000000}) {
    EXPECT_EQ(a.ValueAtPerMillion(q), all.ValueAtPerMillion(q)) << q;
  }
}

TEST(LatencyHistogramTest, NegativeValuesCountAsZeroAndResetClears) {
  LatencyHistogram h;
  h.Record(-5);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 0);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAtPerMillion(500000), 0);
}

}  // namespace
}  // namespace msx::loadgen
