// Time swaps through the journal: term commands and their events are written, read back
// and replayed byte for byte; in a segment of a version before time swaps they are
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
  CommandStream s(1'800'000'000'000'000'000, 1000);
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {0, 0, 500'000};
  s.Add(c);
  c.set_holdings = {1, 0, 10'000};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{0, 0, Side::kSell, TimeInForce::kGtc, 200, 150, 0, 0, 0, 0, 7};
  s.Add(c);
  c.submit = SubmitOffer{1, 0, Side::kBuy, TimeInForce::kIoc, 150, 150, 0, 0, 0, 0, 9};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kCancelTermOffer;
  c.cancel = {0, 1};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kReturnObligation;
  c.obligation = {1, 1, 50'000};
  s.Add(c);
  c.type = CommandType::kRecallObligation;
  c.obligation = {0, 1, 0};
  s.Add(c);
  c = Command{};
  c.type = CommandType::kAdvanceTime;
  s.Skip(9 * kNsPerDay);
  s.Add(c);
  return s.commands();
}

TEST(TimeSwapsJournalTest, TermCommandsAndEventsReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(WriteJournal(engine, dir.path(), "time swaps", Stream(), &written));
  ASSERT_EQ(engine.GetObligation(1)->state, ObligationState::kClosed);  // settled
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  bool saw_loan = false, saw_obligation = false;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, nullptr, [&](const Event& e) {
        saw_loan |= e.type == EventType::kLoanFill;
        saw_obligation |= e.type == EventType::kObligation;
      }));
  EXPECT_TRUE(saw_loan);
  EXPECT_TRUE(saw_obligation);
}

TEST(TimeSwapsJournalTest, ATimeSwapRecordInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WrittenJournal written;
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  ASSERT_NO_FATAL_FAILURE(WriteJournal(engine, dir.path(), "time swaps", Stream(), &written));
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kTimeSwapsFormatVersion - 1));
  ExpectCorruption(dir.path(), "time-swap command type 10 in a version 3 segment");
}

}  // namespace
}  // namespace msx::journal
