// Collateral through the journal: pledges, releases and a forfeit are written, read back
// and replayed byte for byte; in a segment of a version before collateral (5) they are
// corruption, named with the file and offset.
#include <string>
#include <vector>

#include "engine/journal/journal_format.h"
#include "engine/journal/replay_test_util.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::CommandStream;
using testing::ExpectCorruption;
using testing::RelabelSegmentVersion;
using testing::ReplayAndCompare;
using testing::TempDir;
using testing::WriteJournal;
using testing::WrittenJournal;

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
  CommandStream s(1'800'000'000'000'000'000, 1000);
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {0, 0, 500'000};
  s.Add(c);
  c.set_holdings = {1, 1, 500'000};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{0, 0, Side::kSell, TimeInForce::kGtc, 20, 100, 0, 0, 0, 0, 1};
  s.Add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 10, 100, 0, 0, 0, 0, 2};
  s.Add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 10, 100, 0, 0, 0, 0, 3};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kReturnObligation;
  c.obligation = {1, 1, 10'100};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kSetHoldings;  // JOGMEC sells its cobalt elsewhere: overdue
  c.set_holdings = {1, 0, 0};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  s.Skip(30 * kNsPerDay);
  s.Add(c);
  s.Skip(5 * kNsPerDay);
  s.Add(c);
  return s.commands();
}

void WriteStream(const ReferenceData& ref, const std::string& dir, WrittenJournal* written) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(WriteJournal(engine, dir, "collateral", Stream(), written));
  ASSERT_EQ(engine.GetObligation(1)->collateral_state, CollateralState::kReleased);
  ASSERT_EQ(engine.GetObligation(2)->collateral_state, CollateralState::kForfeited);
}

TEST(CollateralJournalTest, PledgesReleasesAndForfeitsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  int kinds[4] = {0, 0, 0, 0};
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, nullptr, [&](const Event& e) {
        if (e.type == EventType::kCollateral) ++kinds[static_cast<int>(e.collateral.kind)];
      }));
  EXPECT_EQ(kinds[1], 2);  // two pledges
  EXPECT_EQ(kinds[2], 2);  // the returned loan's, and the rest of the forfeited one's
  EXPECT_EQ(kinds[3], 1);  // one forfeit
}

TEST(CollateralJournalTest, ACollateralEventInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(ref, dir.path(), &written));
  // Only the event types betray the version before collateral.
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kCollateralFormatVersion - 1));
  ExpectCorruption(dir.path(), "collateral event type 16 in a version 5 segment");
}

}  // namespace
}  // namespace msx::journal
