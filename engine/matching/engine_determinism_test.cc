// Same commands in, same events out, byte for byte: a million random commands applied to
// two engines give equal digests of the event streams and equal state digests; a snapshot
// taken midway and restored continues identically.
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/testing/random_commands.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::RandomCommands;
using ::msx::testing::TestUniverse;

std::uint64_t Fnv(std::uint64_t h, const void* data, std::size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

struct RunResult {
  std::uint64_t events_digest;
  std::uint64_t state_digest;
  std::uint64_t event_count;
};

RunResult RunCommands(int commands) {
  Engine engine(TestUniverse(), EngineOptions{.expected_offers = 1 << 16});
  RandomCommands::Options o;
  o.max_holding = 1'000'000;
  RandomCommands gen(20261123, o);
  std::vector<Event> events;
  events.reserve(4096);
  RunResult r{1469598103934665603ull, 0, 0};
  for (int i = 0; i < commands; ++i) {
    events.clear();
    engine.Apply(gen.Next(), &events);
    gen.Observe(events, 0);
    r.events_digest = Fnv(r.events_digest, events.data(), events.size() * sizeof(Event));
    r.event_count += events.size();
  }
  r.state_digest = engine.StateDigest();
  return r;
}

TEST(DeterminismTest, MillionRandomCommandsTwiceGiveEqualDigests) {
  const RunResult a = RunCommands(1'000'000);
  const RunResult b = RunCommands(1'000'000);
  EXPECT_GT(a.event_count, 1'000'000u);
  EXPECT_EQ(a.events_digest, b.events_digest);
  EXPECT_EQ(a.state_digest, b.state_digest);
  EXPECT_EQ(a.event_count, b.event_count);
}

TEST(DeterminismTest, RestoredSnapshotContinuesWithIdenticalEvents) {
  Engine engine(TestUniverse(), EngineOptions{.expected_offers = 1 << 12});
  RandomCommands gen(77);
  std::vector<Event> events;
  for (int i = 0; i < 20'000; ++i) {
    events.clear();
    engine.Apply(gen.Next(), &events);
    gen.Observe(events, 0);
  }
  Engine restored(TestUniverse(), EngineOptions{.expected_offers = 1 << 12});
  ASSERT_TRUE(restored.LoadState(engine.SaveState()).ok());
  ASSERT_EQ(restored.StateDigest(), engine.StateDigest());
  std::vector<Event> a, b;
  for (int i = 0; i < 20'000; ++i) {
    const Command c = gen.Next();
    a.clear();
    b.clear();
    engine.Apply(c, &a);
    restored.Apply(c, &b);
    ASSERT_EQ(a.size(), b.size()) << "command " << i;
    ASSERT_TRUE(a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0)
        << "command " << i;
    gen.Observe(a, 0);
  }
  EXPECT_EQ(restored.StateDigest(), engine.StateDigest());
}

}  // namespace
}  // namespace msx
