// Time swaps through the journal: term commands and their events are written, read back
// and replayed byte for byte; in a segment of a version before time swaps they are
// corruption, named with the file and offset.
#include <string>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, 33'000'000, 0});
  b.AddAgency({"KOMIR", "k", "KR"});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC"}, {}});
  b.AddTermBook({"CO", 30, 1000});
  AgreementTermsSpec t;
  t.agreement = "CORE";
  t.default_credit_limit = 1'000'000'000'000'000;
  t.recall_allowed = true;
  b.SetAgreementTerms(t);
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

// A loan, a partial return, a recall, a settlement: every time-swap command and event.
std::vector<Command> Stream() {
  std::vector<Command> v;
  Seq seq = 0;
  TimeNs t = 1'800'000'000'000'000'000;
  auto add = [&](Command c) {
    c.seq = ++seq;
    c.time = (t += 1000);
    v.push_back(c);
  };
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {0, 0, 500'000};
  add(c);
  c.set_holdings = {1, 0, 10'000};
  add(c);
  c = Command{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{0, 0, Side::kSell, TimeInForce::kGtc, 200, 150, 0, 0, 0, 0, 7};
  add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 150, 150, 0, 0, 0, 0, 9};
  add(c);
  c = Command{};
  c.type = CommandType::kCancelTermOffer;
  c.cancel = {0, 1};
  add(c);
  c = Command{};
  c.type = CommandType::kReturnObligation;
  c.obligation = {1, 1, 50'000};
  add(c);
  c.type = CommandType::kRecallObligation;
  c.obligation = {0, 1, 0};
  add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  t += 9 * kNsPerDay;
  add(c);
  return v;
}

TEST(TimeSwapsJournalTest, TermCommandsAndEventsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  std::vector<std::vector<Event>> written;
  {
    Engine engine(ref, EngineOptions{.expected_offers = 64});
    WriterOptions wo;
    wo.durability = Durability::kNone;
    wo.config = "time swaps";
    auto writer = JournalWriter::Open(dir.path(), wo);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const Command& c : Stream()) {
      std::vector<Event> ev;
      engine.Apply(c, &ev);
      ASSERT_TRUE((*writer)->Append(c, ev).ok());
      written.push_back(ev);
    }
    ASSERT_TRUE((*writer)->Close().ok());
    ASSERT_EQ(engine.GetObligation(1)->state, ObligationState::kClosed);  // settled
  }
  auto reader = JournalReader::Open(dir.path(), ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  JournalEntry entry;
  std::size_t n = 0;
  bool saw_loan = false, saw_obligation = false;
  while ((*reader)->Next(&entry)) {
    std::vector<Event> ev;
    replay.Apply(entry.command, &ev);
    ASSERT_EQ(entry.events.size(), ev.size()) << "seq " << entry.command.seq;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      std::string a, b;
      EncodeEventPayload(ev[i], 0, &a);
      EncodeEventPayload(entry.events[i], 0, &b);
      ASSERT_EQ(a, b) << "seq " << entry.command.seq << " event " << i;
      saw_loan |= ev[i].type == EventType::kLoanFill;
      saw_obligation |= ev[i].type == EventType::kObligation;
    }
    ++n;
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, Stream().size());
  EXPECT_TRUE(saw_loan);
  EXPECT_TRUE(saw_obligation);
}

TEST(TimeSwapsJournalTest, ATimeSwapRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  {
    Engine engine(ref, EngineOptions{.expected_offers = 64});
    WriterOptions wo;
    wo.durability = Durability::kNone;
    wo.config = "time swaps";
    auto writer = JournalWriter::Open(dir.path(), wo);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const Command& c : Stream()) {
      std::vector<Event> ev;
      engine.Apply(c, &ev);
      ASSERT_TRUE((*writer)->Append(c, ev).ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }
  const std::string seg = dir.file(SegmentFileName(1));
  std::string bytes = ReadAll(seg);
  ASSERT_EQ(GetFixed16(bytes.data() + kSegmentHeaderVersionOffset), kFormatVersion);
  // Rewrite the header as the version before time swaps, with a valid CRC: only the record
  // types betray it.
  std::string header = bytes.substr(0, kSegmentHeaderCrcOffset);
  std::string v;
  PutFixed16(&v, kTimeSwapsFormatVersion - 1);
  header.replace(kSegmentHeaderVersionOffset, 2, v);
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), header.size())));
  WriteAll(seg, header + bytes.substr(kSegmentHeaderSize));
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find("time-swap command type 10 in a version 3 segment"),
            std::string::npos)
      << stats.status();
}

}  // namespace
}  // namespace msx::journal
