// End to end, term books on live reference data (engine/matching/ENGINE.md "Time swaps",
// "Live reference data"): a real msx-server starting a new exchange journals the switch
// (FollowLiveReference) once, right after the initial holdings, so the exchange's term
// books follow AdmitMember / SuspendMember / PublishReference; restarted on that journal it
// writes no second one (a recovered journal keeps what it says: one written before the
// switch existed is never switched by a restart).
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/matching/engine.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

// The command types of the journal in `dir`, in sequence order.
std::vector<CommandType> JournaledTypes(const std::string& dir) {
  std::vector<CommandType> types;
  auto reader = journal::JournalReader::Open(dir, journal::ReaderOptions{});
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return types;
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) types.push_back(entry.command.type);
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  return types;
}

TEST(LiveTermsE2eTest, ANewExchangeJournalsTheSwitchOnceAfterItsHoldings) {
  const std::string scratch = testing::MakeTempDir("msx-live-terms");
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.data_dir = scratch + "/data";
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Output();

  std::vector<CommandType> types = JournaledTypes(options.data_dir);
  std::size_t k = 0;
  while (k < types.size() && types[k] == CommandType::kSetHoldings) ++k;
  ASSERT_GT(k, 0u) << "the initial holdings come first";
  ASSERT_LT(k, types.size());
  EXPECT_EQ(types[k], CommandType::kFollowLiveReference);
  EXPECT_EQ(std::count(types.begin(), types.end(), CommandType::kFollowLiveReference), 1);

  // Restarted on its journal, the server writes no second switch.
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Output();
  types = JournaledTypes(options.data_dir);
  EXPECT_EQ(std::count(types.begin(), types.end(), CommandType::kFollowLiveReference), 1);

  // A replay of the journal follows the live reference data.
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  const ReferenceData* r = &*ref;
  journal::RecoveryOptions recovery;
  recovery.use_snapshots = false;
  absl::StatusOr<journal::RecoveryResult> replayed = journal::Recover(
      options.data_dir, [r] { return std::make_unique<Engine>(*r, EngineOptions{1 << 10}); },
      recovery);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_TRUE(replayed->engine->TermsFollowLive());

  testing::RemoveTree(scratch);
}

}  // namespace
}  // namespace msx
