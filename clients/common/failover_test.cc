#include "clients/common/failover.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace msx::clients {
namespace {

using std::chrono::milliseconds;

TEST(SplitServerListTest, TrimsBlanksAndDropsEmptyEntries) {
  EXPECT_EQ(SplitServerList(" a:1, b:2,,c:3 ,"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_TRUE(SplitServerList(" , ").empty());
}

TEST(ChooseServerListTest, FlagThenEnvironmentThenFallback) {
  EXPECT_EQ(ChooseServerList("f:1", "e:1", "d:1"), "f:1");
  EXPECT_EQ(ChooseServerList("", "e:1,e:2", "d:1"), "e:1,e:2");
  EXPECT_EQ(ChooseServerList("", "", "d:1"), "d:1");
  EXPECT_EQ(ChooseServerList("", nullptr, "d:1"), "d:1");
}

TEST(ServerFailoverTest, OneServerGivesUpAtTheFirstUnavailable) {
  ServerFailover f({"a:1"});
  ServerFailover::Attempt a = f.Start();
  EXPECT_FALSE(f.OnUnavailable(&a));
  EXPECT_EQ(f.failovers(), 0u);
}

TEST(ServerFailoverTest, MovesOnInTurnAndPausesAfterAFullTurn) {
  ServerFailover f({"a:1", "b:2", "c:3"}, FailoverPolicy{milliseconds(60000), milliseconds(500)});
  ServerFailover::Attempt a = f.Start();
  EXPECT_EQ(a.index, 0u);
  ASSERT_TRUE(f.OnUnavailable(&a));
  EXPECT_EQ(a.index, 1u);
  EXPECT_LE(a.not_before, ServerFailover::Clock::now());  // no pause within a turn
  EXPECT_EQ(f.current(), 1u);                             // others follow
  ASSERT_TRUE(f.OnUnavailable(&a));
  EXPECT_EQ(a.index, 2u);
  ASSERT_TRUE(f.OnUnavailable(&a));  // a full turn: a, b, c all refused
  EXPECT_EQ(a.index, 0u);
  EXPECT_GT(a.not_before, ServerFailover::Clock::now() + milliseconds(100));
  EXPECT_EQ(f.failovers(), 3u);
}

TEST(ServerFailoverTest, AnsweredServerBecomesCurrentForNewCalls) {
  ServerFailover f({"a:1", "b:2"});
  ServerFailover::Attempt a = f.Start();
  ASSERT_TRUE(f.OnUnavailable(&a));
  f.OnAnswered(a);
  EXPECT_EQ(f.Start().index, 1u);
  // A call that started on the old server and fails later does not move others back.
  ServerFailover::Attempt stale;
  stale.index = 0;
  ASSERT_TRUE(f.OnUnavailable(&stale));
  EXPECT_EQ(f.current(), 1u);
}

TEST(ServerFailoverTest, GivesUpOnceTheWindowHasPassed) {
  ServerFailover f({"a:1", "b:2"}, FailoverPolicy{milliseconds(0), milliseconds(0)});
  ServerFailover::Attempt a = f.Start();
  EXPECT_FALSE(f.OnUnavailable(&a));
}

TEST(ServerFailoverTest, RunRetriesUntilAServerAnswers) {
  ServerFailover f({"a:1", "b:2"}, FailoverPolicy{milliseconds(60000), milliseconds(1)});
  std::vector<std::string> called;
  // a refuses, b refuses (a takeover in progress), a refuses, b answers.
  int result = f.Run(
      [&](std::size_t index) {
        called.push_back(f.server(index));
        return called.size() < 4 ? 14 : 0;
      },
      [](int code) { return code == 14; });
  EXPECT_EQ(result, 0);
  EXPECT_EQ(called, (std::vector<std::string>{"a:1", "b:2", "a:1", "b:2"}));
  EXPECT_EQ(f.current(), 1u);
}

}  // namespace
}  // namespace msx::clients
