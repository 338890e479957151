#include "clients/loadgen/histogram.h"

#include <algorithm>
#include <bit>

namespace msx::loadgen {
namespace {

constexpr std::uint64_t kSub = std::uint64_t{1} << LatencyHistogram::kSubBucketBits;
// Values below this are exact: one bucket each.
constexpr std::uint64_t kExactLimit = kSub * 2;

}  // namespace

std::size_t LatencyHistogram::BucketIndex(std::uint64_t value) {
  if (value < kExactLimit) return static_cast<std::size_t>(value);
  int shift = std::bit_width(value) - (kSubBucketBits + 1);
  // value >> shift lies in [kSub, 2 * kSub).
  return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kSub + (value >> shift));
}

std::uint64_t LatencyHistogram::BucketLowest(std::size_t index) {
  if (index < kExactLimit) return index;
  // Invert BucketIndex: index = shift * kSub + top, top in [kSub, 2 * kSub).
  std::uint64_t shift = index / kSub - 1;
  std::uint64_t top = index - shift * kSub;
  return top << shift;
}

std::uint64_t LatencyHistogram::BucketHighest(std::size_t index) {
  if (index + 1 >= BucketCount()) return UINT64_MAX;
  return BucketLowest(index + 1) - 1;
}

std::size_t LatencyHistogram::BucketCount() { return BucketIndex(UINT64_MAX) + 1; }

LatencyHistogram::LatencyHistogram() : buckets_(BucketCount(), 0) {}

void LatencyHistogram::Record(std::int64_t value) {
  if (value < 0) value = 0;
  ++buckets_[BucketIndex(static_cast<std::uint64_t>(value))];
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  ++count_;
  sum_ += static_cast<std::uint64_t>(value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

std::int64_t LatencyHistogram::mean() const {
  return count_ == 0 ? 0 : static_cast<std::int64_t>(sum_ / count_);
}

std::int64_t LatencyHistogram::ValueAtPerMillion(std::int64_t per_million) const {
  if (count_ == 0) return 0;
  per_million = std::clamp<std::int64_t>(per_million, 0, 1000000);
  // rank = ceil(count * q), at least 1; count < 2^44 keeps the product in range.
  std::uint64_t rank =
      (count_ * static_cast<std::uint64_t>(per_million) + 999999) / 1000000;
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      std::uint64_t high = BucketHighest(i);
      return std::min<std::int64_t>(static_cast<std::int64_t>(
                                        std::min<std::uint64_t>(high, INT64_MAX)),
                                    max_);
    }
  }
  return max_;
}

}  // namespace msx::loadgen
