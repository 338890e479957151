// VerifyReplicatedBatch on real journal bytes built with the journal's own codec, and on
// each way a payload can be wrong.
#include "gateway/replication/replicated_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"

namespace msx::replication {
namespace {

Command Halt(Seq seq) {
  Command cmd;
  std::memset(&cmd, 0, sizeof(cmd));
  cmd.seq = seq;
  cmd.time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq);
  cmd.type = CommandType::kHaltPair;
  cmd.pair.pair = 3;
  return cmd;
}

Event Halted(Seq seq) {
  Event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.seq = seq;
  ev.time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq);
  ev.type = EventType::kPairHalted;
  ev.pair.pair = 3;
  return ev;
}

// Groups first..last, each a command with `events` events.
std::string Groups(Seq first, Seq last, int events = 2) {
  std::string out;
  for (Seq s = first; s <= last; ++s) {
    std::vector<Event> evs(events, Halted(s));
    journal::AppendCommandGroup(Halt(s), evs, &out);
  }
  return out;
}

constexpr size_t kGroupSize = journal::kRecordHeaderSize + journal::kCommandPrefixSize + 4 +
                              2 * (journal::kRecordHeaderSize + journal::kEventPrefixSize + 4);

TEST(ReplicatedBatchTest, AcceptsConsecutiveWholeGroups) {
  std::string payload = Groups(7, 9);
  auto batch = VerifyReplicatedBatch(payload, 7);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->first_seq, 7u);
  EXPECT_EQ(batch->last_seq, 9u);
  EXPECT_EQ(batch->commands, 3u);
  EXPECT_EQ(batch->records, 9u);
  auto no_events = VerifyReplicatedBatch(Groups(1, 1, 0), 1);
  ASSERT_TRUE(no_events.ok()) << no_events.status();
  EXPECT_EQ(no_events->records, 1u);
}

TEST(ReplicatedBatchTest, GapOrRepeatInCommandSeqIsDataLossAtItsOffset) {
  std::string payload = Groups(7, 9);
  auto gap = VerifyReplicatedBatch(payload, 6);
  ASSERT_TRUE(absl::IsDataLoss(gap.status()));
  EXPECT_EQ(gap.status().message(), "replicated batch, offset 0: command seq 7, expected 6");
  std::string skipped = Groups(7, 7) + Groups(9, 9);
  auto inner = VerifyReplicatedBatch(skipped, 7);
  ASSERT_TRUE(absl::IsDataLoss(inner.status()));
  EXPECT_EQ(inner.status().message(), absl::StrCat("replicated batch, offset ", Groups(7, 7).size(),
                                                   ": command seq 9, expected 8"));
}

TEST(ReplicatedBatchTest, FlippedByteFailsTheCrc) {
  std::string payload = Groups(1, 2);
  payload[Groups(1, 1).size() + journal::kRecordHeaderSize + 3] ^= 0x40;  // inside group 2
  auto bad = VerifyReplicatedBatch(payload, 1);
  ASSERT_TRUE(absl::IsDataLoss(bad.status()));
  EXPECT_EQ(bad.status().message(), absl::StrCat("replicated batch, offset ", Groups(1, 1).size(),
                                                 ": record CRC mismatch"));
}

TEST(ReplicatedBatchTest, CutPayloadAndMissingEventsAreDataLoss) {
  std::string payload = Groups(1, 2);
  for (size_t cut : {payload.size() - 1, payload.size() - 5, size_t{4}}) {
    auto bad = VerifyReplicatedBatch(payload.substr(0, cut), 1);
    EXPECT_TRUE(absl::IsDataLoss(bad.status())) << "cut at " << cut;
  }
  // Drop the last EVENT record of group 1: its count no longer matches.
  std::string g1 = Groups(1, 1);
  size_t event_size = journal::kRecordHeaderSize + journal::kEventPrefixSize + 4;
  std::string short_group = g1.substr(0, g1.size() - event_size) + Groups(2, 2);
  auto missing = VerifyReplicatedBatch(short_group, 1);
  ASSERT_TRUE(absl::IsDataLoss(missing.status()));
  EXPECT_NE(missing.status().message().find("event(s) of command 1 are missing"), std::string::npos)
      << missing.status();
  EXPECT_TRUE(absl::IsDataLoss(VerifyReplicatedBatch("", 1).status()));
}

TEST(ReplicatedBatchTest, ConfigRecordIsNotReplicated) {
  std::string payload;
  journal::AppendRecord(journal::RecordType::kConfig, "cfg", &payload);
  payload += Groups(1, 1);
  auto bad = VerifyReplicatedBatch(payload, 1);
  ASSERT_TRUE(absl::IsDataLoss(bad.status()));
  EXPECT_NE(bad.status().message().find("record type 1"), std::string::npos) << bad.status();
}

TEST(ReplicatedBatchTest, GroupSizeMatchesTheFormat) {
  // Guards the fixture itself against format drift (FORMAT.md record and prefix sizes).
  EXPECT_EQ(Groups(1, 1).size(), kGroupSize);
}

}  // namespace
}  // namespace msx::replication
