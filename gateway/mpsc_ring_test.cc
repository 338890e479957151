#include "gateway/mpsc_ring.h"

#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

struct Item {
  std::uint32_t producer;
  std::uint32_t n;
};

TEST(MpscRingTest, FullRingRefusesPushInsteadOfBlocking) {
  MpscRing<Item> ring(4);
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(ring.TryPush(Item{0, i}));
  EXPECT_FALSE(ring.TryPush(Item{0, 99}));
  EXPECT_EQ(ring.size(), 4u);
  Item out{};
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(out.n, 0u);
  EXPECT_TRUE(ring.TryPush(Item{0, 4}));
}

TEST(MpscRingTest, PopsInFifoOrderAcrossWrapAround) {
  MpscRing<Item> ring(2);
  Item out{};
  for (std::uint32_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(ring.TryPush(Item{0, i}));
    ASSERT_TRUE(ring.TryPop(&out));
    EXPECT_EQ(out.n, i);
  }
  EXPECT_FALSE(ring.TryPop(&out));
}

TEST(MpscRingTest, PowerOfTwoCheckRejectsOtherSizes) {
  EXPECT_TRUE(MpscRing<Item>::IsPowerOfTwo(2));
  EXPECT_TRUE(MpscRing<Item>::IsPowerOfTwo(65536));
  EXPECT_FALSE(MpscRing<Item>::IsPowerOfTwo(0));
  EXPECT_FALSE(MpscRing<Item>::IsPowerOfTwo(1));
  EXPECT_FALSE(MpscRing<Item>::IsPowerOfTwo(3000));
}

TEST(MpscRingTest, ManyProducersDeliverEveryItemOnceAndInProducerOrder) {
  constexpr std::uint32_t kProducers = 4;
  constexpr std::uint32_t kPerProducer = 50000;
  MpscRing<Item> ring(64);
  std::vector<std::thread> producers;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&ring, p] {
      for (std::uint32_t i = 0; i < kPerProducer; ++i) {
        while (!ring.TryPush(Item{p, i})) std::this_thread::yield();
      }
    });
  }
  std::vector<std::uint32_t> next(kProducers, 0);
  for (std::uint32_t got = 0; got < kProducers * kPerProducer; ++got) {
    Item out{};
    ring.Pop(&out);  // blocks (spins, then sleeps) until a producer pushes
    ASSERT_LT(out.producer, kProducers);
    ASSERT_EQ(out.n, next[out.producer]) << "producer " << out.producer;
    ++next[out.producer];
  }
  for (auto& t : producers) t.join();
  for (std::uint32_t p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kPerProducer);
}

}  // namespace
}  // namespace msx::gateway
