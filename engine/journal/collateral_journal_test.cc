// Collateral through the journal: pledges, releases and a forfeit are written, read back
// and replayed byte for byte; in a segment of a version before collateral (5) they are
// corruption, named with the file and offset.
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
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
  b.AddInstrument({"LI", "lithium", "hydroxide", "kg", 1000, 9'000'000, 0});
  b.AddAgency({"KOMIR", "k", "KR"});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgreement({"SECURED", {"KOMIR", "JOGMEC"}, {}});
  b.AddTermBook({"CO", 30, 1000});
  AgreementTermsSpec t;
  t.agreement = "SECURED";
  t.default_credit_limit = 1'000'000'000'000'000;
  t.grace_days = 5;
  t.collateral_bps = 12000;
  t.collateral_instruments = {"LI"};
  b.SetAgreementTerms(t);
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

// Two loans: the first returned in full (its pledge released), the second overdue and,
// after the grace period, forfeited.
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
  c.set_holdings = {1, 1, 500'000};
  add(c);
  c = Command{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{0, 0, Side::kSell, TimeInForce::kGtc, 20, 100, 0, 0, 0, 0, 1};
  add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 10, 100, 0, 0, 0, 0, 2};
  add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 10, 100, 0, 0, 0, 0, 3};
  add(c);
  c = Command{};
  c.type = CommandType::kReturnObligation;
  c.obligation = {1, 1, 10'100};
  add(c);
  c = Command{};
  c.type = CommandType::kSetHoldings;  // JOGMEC sells its cobalt elsewhere: overdue
  c.set_holdings = {1, 0, 0};
  add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  t += 30 * kNsPerDay;
  add(c);
  t += 5 * kNsPerDay;
  add(c);
  return v;
}

void WriteStream(const ReferenceData& ref, const std::string& dir) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = "collateral";
  auto writer = JournalWriter::Open(dir, wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Command& c : Stream()) {
    std::vector<Event> ev;
    engine.Apply(c, &ev);
    ASSERT_TRUE((*writer)->Append(c, ev).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  ASSERT_EQ(engine.GetObligation(1)->collateral_state, CollateralState::kReleased);
  ASSERT_EQ(engine.GetObligation(2)->collateral_state, CollateralState::kForfeited);
}

TEST(CollateralJournalTest, PledgesReleasesAndForfeitsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WriteStream(ref, dir.path());
  auto reader = JournalReader::Open(dir.path(), ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  JournalEntry entry;
  std::size_t n = 0;
  int kinds[4] = {0, 0, 0, 0};
  while ((*reader)->Next(&entry)) {
    std::vector<Event> ev;
    replay.Apply(entry.command, &ev);
    ASSERT_EQ(entry.events.size(), ev.size()) << "seq " << entry.command.seq;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      std::string a, b;
      EncodeEventPayload(ev[i], 0, &a);
      EncodeEventPayload(entry.events[i], 0, &b);
      ASSERT_EQ(a, b) << "seq " << entry.command.seq << " event " << i;
      if (ev[i].type == EventType::kCollateral) ++kinds[static_cast<int>(ev[i].collateral.kind)];
    }
    ++n;
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, Stream().size());
  EXPECT_EQ(kinds[1], 2);  // two pledges
  EXPECT_EQ(kinds[2], 2);  // the returned loan's, and the rest of the forfeited one's
  EXPECT_EQ(kinds[3], 1);  // one forfeit
}

TEST(CollateralJournalTest, ACollateralEventInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WriteStream(ref, dir.path());
  const std::string seg = dir.file(SegmentFileName(1));
  std::string bytes = ReadAll(seg);
  ASSERT_EQ(GetFixed16(bytes.data() + kSegmentHeaderVersionOffset), kFormatVersion);
  // Rewrite the header as the version before collateral, with a valid CRC: only the event
  // types betray it.
  std::string header = bytes.substr(0, kSegmentHeaderCrcOffset);
  std::string v;
  PutFixed16(&v, kCollateralFormatVersion - 1);
  header.replace(kSegmentHeaderVersionOffset, 2, v);
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), header.size())));
  WriteAll(seg, header + bytes.substr(kSegmentHeaderSize));
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find("collateral event type 16 in a version 5 segment"),
            std::string::npos)
      << stats.status();
}

}  // namespace
}  // namespace msx::journal
