// LatencyHistogram: a high-dynamic-range, log-linear histogram of non-negative integer
// values (the load generator records nanoseconds), in the spirit of HdrHistogram.
//
// Layout: values below 2^(kSubBucketBits+1) have a bucket each (exact). Above that, each
// power-of-two range [2^k, 2^(k+1)) is split into 2^kSubBucketBits equal buckets, so any
// recorded value is reported with a relative error below 2^-kSubBucketBits (< 0.8 %).
// The bucket index of v >= 2^(s+1), s = kSubBucketBits, is
//   shift = bit_width(v) - (s + 1),  index = shift * 2^s + (v >> shift),
// which continues the exact range without gaps. Integer arithmetic only.
//
// Thread-safety: not synchronised; use one per thread and Merge() them.
// Record() is O(1) and never allocates (the buckets are allocated once).
#ifndef MSX_CLIENTS_LOADGEN_HISTOGRAM_H_
#define MSX_CLIENTS_LOADGEN_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace msx::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;

  LatencyHistogram();

  // Negative values are recorded as 0.
  void Record(std::int64_t value);
  void Merge(const LatencyHistogram& other);
  void Reset();

  std::uint64_t count() const { return count_; }
  std::int64_t min() const { return count_ == 0 ? 0 : min_; }
  std::int64_t max() const { return max_; }
  // Integer mean, rounded down; 0 when empty.
  std::int64_t mean() const;

  // The value at `per_million` parts per million (500000 = median, 999000 = p99.9): the
  // highest value equivalent to the bucket holding the ceil(count * q)-th smallest value,
  // capped at max(). 0 when empty. REQUIRES: 0 <= per_million <= 1000000.
  std::int64_t ValueAtPerMillion(std::int64_t per_million) const;

  // Bucket arithmetic, exposed for tests.
  static std::size_t BucketIndex(std::uint64_t value);
  static std::uint64_t BucketLowest(std::size_t index);
  static std::uint64_t BucketHighest(std::size_t index);
  static std::size_t BucketCount();

 private:
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // Sum for the mean; saturating in practice (2^64 ns is 584 years of latency).
  std::uint64_t sum_ = 0;
};

}  // namespace msx::loadgen

#endif  // MSX_CLIENTS_LOADGEN_HISTOGRAM_H_
