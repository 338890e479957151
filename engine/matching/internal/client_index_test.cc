#include "engine/matching/internal/client_index.h"

#include <map>
#include <random>

#include "gtest/gtest.h"

namespace msx::internal {
namespace {

TEST(ClientIndexTest, IncreasingIdsAreFoundAcrossChunks) {
  ClientIndex index;
  index.Reset(2, 1024);
  for (ClientOfferId c = 1; c <= 10'000; ++c) index.Insert(0, c * 3, c);
  for (ClientOfferId c = 1; c <= 10'000; ++c) {
    ASSERT_EQ(index.Find(0, c * 3), c);
    ASSERT_EQ(index.Find(0, c * 3 + 1), 0u);
    ASSERT_EQ(index.Find(1, c * 3), 0u);
  }
  EXPECT_EQ(index.Find(0, 0), 0u);
  EXPECT_EQ(index.Find(0, 30'003), 0u);
}

TEST(ClientIndexTest, ArbitraryIdsMatchAReferenceMap) {
  std::mt19937_64 rng(5);
  ClientIndex index;
  index.Reset(3, 64);
  std::map<std::pair<AgencyId, ClientOfferId>, OfferId> want;
  OfferId next = 1;
  for (int i = 0; i < 50'000; ++i) {
    const AgencyId a = rng() % 3;
    // Mostly increasing with jumps back, sometimes random.
    const ClientOfferId c = rng() % 4 == 0 ? 1 + rng() % 100'000 : 1 + i * 2 + rng() % 3;
    const OfferId found = index.Find(a, c);
    auto it = want.find({a, c});
    ASSERT_EQ(found, it == want.end() ? 0 : it->second) << i;
    if (found == 0) {
      index.Insert(a, c, next);
      want[{a, c}] = next++;
    }
  }
  for (const auto& [key, offer] : want) ASSERT_EQ(index.Find(key.first, key.second), offer);
}

TEST(ClientIndexTest, PrefaultedPoolIsSharedAndOverflowsIntoNewChunks) {
  // The pool covers ~8,192 ids (2 chunks + one per agency); agency 1 takes most of it and
  // then needs chunks beyond the pool; every id stays findable, also after a Reset.
  ClientIndex index;
  for (int round = 0; round < 2; ++round) {
    index.Reset(3, 8192, /*prefault=*/true);
    for (ClientOfferId c = 1; c <= 30'000; ++c) index.Insert(1, c, c + 7);
    for (ClientOfferId c = 1; c <= 5'000; ++c) index.Insert(2, c * 2, c);
    for (ClientOfferId c = 1; c <= 30'000; ++c) ASSERT_EQ(index.Find(1, c), c + 7);
    for (ClientOfferId c = 1; c <= 5'000; ++c) {
      ASSERT_EQ(index.Find(2, c * 2), c);
      ASSERT_EQ(index.Find(2, c * 2 - 1), 0u);
    }
    EXPECT_EQ(index.Find(0, 1), 0u);
  }
}

}  // namespace
}  // namespace msx::internal
