#include "gateway/replication/stream_lag.h"

#include <gtest/gtest.h>

namespace msx::replication {
namespace {

using Clock = StreamLag::Clock;
using std::chrono::milliseconds;

class StreamLagTest : public ::testing::Test {
 protected:
  Clock::time_point At(int ms) const { return t0_ + milliseconds(ms); }
  const Clock::time_point t0_ = Clock::now();
  StreamLag lag_;
};

TEST_F(StreamLagTest, CaughtUpIsZero) {
  EXPECT_EQ(lag_.Seconds(At(0)), 0);
  lag_.Learnt(5, At(0));
  lag_.Applied(5);
  EXPECT_EQ(lag_.Seconds(At(1000)), 0);
  lag_.Learnt(5, At(2000));  // nothing new
  EXPECT_EQ(lag_.Seconds(At(3000)), 0);
}

TEST_F(StreamLagTest, AgeOfTheOldestUnappliedMessageFromWhenItWasLearnt) {
  lag_.Learnt(10, At(0));
  lag_.Learnt(20, At(100));
  EXPECT_DOUBLE_EQ(lag_.Seconds(At(500)), 0.5);  // message 10 known since 0
  lag_.Applied(10);
  EXPECT_DOUBLE_EQ(lag_.Seconds(At(500)), 0.4);  // 11..20 known since 100
  lag_.Applied(15);
  EXPECT_DOUBLE_EQ(lag_.Seconds(At(500)), 0.4);
  lag_.Applied(20);
  EXPECT_EQ(lag_.Seconds(At(500)), 0);
}

TEST_F(StreamLagTest, SteadilyOneMessageBehindDoesNotGrow) {
  // Every poll the stream is one message ahead and the previous one gets applied: the
  // lag is one poll, however long this goes on (not the time since last caught up).
  for (int i = 1; i <= 1000; ++i) {
    lag_.Learnt(static_cast<std::uint64_t>(i), At(50 * i));
    lag_.Applied(static_cast<std::uint64_t>(i - 1));
    EXPECT_DOUBLE_EQ(lag_.Seconds(At(50 * i + 50)), 0.05) << i;
  }
}

TEST_F(StreamLagTest, ALearntSequenceAlreadyAppliedIsNoLag) {
  lag_.Applied(30);  // the follower read past what it last asked
  lag_.Learnt(25, At(0));
  EXPECT_EQ(lag_.Seconds(At(100)), 0);
}

TEST_F(StreamLagTest, FullDatesStillReportALagNeverZero) {
  const int n = static_cast<int>(StreamLag::kMaxDates);
  for (int s = 1; s <= n + 10; ++s) lag_.Learnt(static_cast<std::uint64_t>(s), At(s));
  // Messages n+1 .. n+10 were folded into the newest date (At(n)).
  lag_.Applied(static_cast<std::uint64_t>(n + 5));
  EXPECT_DOUBLE_EQ(lag_.Seconds(At(n + 1000)), 1.0);
  lag_.Applied(static_cast<std::uint64_t>(n + 10));
  EXPECT_EQ(lag_.Seconds(At(n + 1000)), 0);
}

}  // namespace
}  // namespace msx::replication
