#include "gateway/mpsc_ring.h"

#include <chrono>
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

// Parameter: the consumer's busy-wait before parking (0 = park at once).
class MpscRingPopTest : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(MpscRingPopTest, ManyProducersDeliverEveryItemOnceAndInProducerOrder) {
  constexpr std::uint32_t kProducers = 4;
  constexpr std::uint32_t kPerProducer = 50000;
  MpscRing<Item> ring(64, GetParam());
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
    ring.Pop(&out);  // blocks (maybe spins, then sleeps) until a producer pushes
    ASSERT_LT(out.producer, kProducers);
    ASSERT_EQ(out.n, next[out.producer]) << "producer " << out.producer;
    ++next[out.producer];
  }
  for (auto& t : producers) t.join();
  for (std::uint32_t p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kPerProducer);
}

TEST_P(MpscRingPopTest, ParkedConsumerWakesForALaterPush) {
  MpscRing<Item> ring(4, GetParam());
  std::thread producer([&ring] {
    // Long after any busy-wait ended: the consumer is parked on the futex by now.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(ring.TryPush(Item{1, 7}));
  });
  Item out{};
  ring.Pop(&out);
  EXPECT_EQ(out.producer, 1u);
  EXPECT_EQ(out.n, 7u);
  producer.join();
}

INSTANTIATE_TEST_SUITE_P(SpinBeforePark, MpscRingPopTest,
                         ::testing::Values(std::int64_t{0}, std::int64_t{20000}));

}  // namespace
}  // namespace msx::gateway
