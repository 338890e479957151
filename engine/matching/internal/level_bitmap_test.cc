#include "engine/matching/internal/level_bitmap.h"

#include <random>
#include <set>

#include "gtest/gtest.h"

namespace msx::internal {
namespace {

TEST(LevelBitmapTest, NextAndPrevMatchAReferenceSet) {
  std::mt19937_64 rng(3);
  for (std::int64_t size : {1, 63, 64, 65, 4095, 4096, 4097, 70'000}) {
    LevelBitmap bits;
    bits.Resize(size);
    std::set<std::int64_t> want;
    for (int i = 0; i < 3000; ++i) {
      const std::int64_t k = static_cast<std::int64_t>(rng() % size);
      if (rng() % 3 == 0) {
        bits.Clear(k);
        want.erase(k);
      } else {
        bits.Set(k);
        want.insert(k);
      }
      const std::int64_t q = static_cast<std::int64_t>(rng() % (size + 2)) - 1;
      auto next = want.lower_bound(q);
      ASSERT_EQ(bits.NextAtOrAfter(q), next == want.end() ? -1 : *next) << size << " " << q;
      auto prev = want.upper_bound(q);
      ASSERT_EQ(bits.PrevAtOrBefore(q), prev == want.begin() ? -1 : *std::prev(prev))
          << size << " " << q;
      ASSERT_EQ(bits.Test(k), want.count(k) == 1);
    }
  }
}

TEST(LevelBitmapTest, EmptyBitmapHasNoLevels) {
  LevelBitmap bits;
  bits.Resize(100);
  EXPECT_EQ(bits.NextAtOrAfter(0), -1);
  EXPECT_EQ(bits.PrevAtOrBefore(99), -1);
  EXPECT_EQ(bits.NextAtOrAfter(1000), -1);
  EXPECT_EQ(bits.PrevAtOrBefore(-5), -1);
}

}  // namespace
}  // namespace msx::internal
