// Term books on live reference data through the journal (ENGINE.md "Time swaps", "Live
// reference data"; FORMAT.md version 10): a journal that holds the switch, then loans,
// publications (one waiting for its time), an admission and a suspension that cancels
// term offers, replays byte for byte, and recovery from a snapshot taken after the live
// changes equals the full replay. The same commands without the switch in a segment
// relabelled as version 9 still read and replay as an old journal did (term books on the
// configuration), and the switch itself in a version 9 segment is corruption.
#include <string>
#include <vector>

#include "engine/journal/journal_format.h"
#include "engine/journal/replay_test_util.h"
#include "engine/matching/engine.h"
#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using msx::testing::AdmitMember;
using msx::testing::FollowLiveReference;
using msx::testing::kCo;
using msx::testing::kCo30;
using msx::testing::kCo90;
using msx::testing::kCore;
using msx::testing::kCoValue;
using msx::testing::kJogmec;
using msx::testing::kKabil;
using msx::testing::kKomir;
using msx::testing::kNorec;
using msx::testing::kTermBookT0;
using msx::testing::PublishReference;
using msx::testing::SuspendMember;
using msx::testing::TermBookUniverse;
using msx::testing::TermOffer;
using testing::CommandStream;
using testing::ExpectCorruption;
using testing::RelabelSegmentVersion;
using testing::ReplayAndCompare;
using testing::TempDir;
using testing::WriteJournal;
using testing::WrittenJournal;

const EngineOptions kOptions{.expected_offers = 256};

// Holdings, [the switch], a NOREC loan to KABIL, cobalt's value doubled (credit used
// re-valued), KABIL admitted to CORE and borrowing under it, KOMIR's lends (one open only
// to CORE members), a publication waiting for its time, KOMIR suspended from CORE (its
// CORE-only lend cancelled), the publication's time, a return.
std::vector<Command> Stream(bool follow) {
  CommandStream s(kTermBookT0, 1'000'000'000);
  if (follow) s.Add(FollowLiveReference());
  for (AgencyId a : {msx::testing::kKomir, kJogmec, msx::testing::kDla, kKabil,
                     msx::testing::kDera}) {
    for (InstrumentId i : {kCo, msx::testing::kLi, msx::testing::kNi}) {
      s.Add(msx::testing::SetHolding(a, i, 1'000'000));
    }
  }
  s.Add(TermOffer(kKomir, kCo90, Side::kSell, 20, 0));
  s.Add(TermOffer(kKabil, kCo90, Side::kBuy, 5, 0));  // loan 1, under NOREC
  s.Add(PublishReference(kCo, 2 * kCoValue, 0));
  s.Add(TermOffer(kKabil, kCo90, Side::kBuy, 1, 0));  // live: beyond NOREC's limit
  s.Add(AdmitMember(kCore, kKabil));
  s.Add(TermOffer(kKabil, kCo90, Side::kBuy, 3, 0));  // live: under CORE
  Command core_only = TermOffer(kKomir, kCo30, Side::kSell, 4, 10);
  core_only.submit.allow = (AgencyMask{1} << kJogmec) | (AgencyMask{1} << msx::testing::kDla);
  s.Add(core_only);
  s.Add(PublishReference(kCo, kCoValue, 0, s.time() + 5'000'000'000));
  s.Add(SuspendMember(kCore, kKomir));
  s.Skip(10'000'000'000);
  s.Add(msx::testing::AdvanceTime());  // the publication applies
  s.Add(msx::testing::ReturnObligation(kKabil, 1, 1'000));
  s.Add(TermOffer(kJogmec, kCo90, Side::kBuy, 2, 0));
  return s.commands();
}

void WriteStream(bool follow, const std::string& dir, WrittenJournal* written) {
  Engine engine(TermBookUniverse(), kOptions);
  // The snapshot right after the admission (live changes made, more to come).
  ASSERT_NO_FATAL_FAILURE(WriteJournal(engine, dir, "live terms", Stream(follow), written,
                                       [](const Engine&, const std::vector<Event>& ev) {
                                         return !ev.empty() &&
                                                ev[0].type == EventType::kMemberAdmitted;
                                       }));
}

TEST(LiveTermsJournalTest, LiveChangesReplayByteForByteAndRecoverFromASnapshot) {
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(/*follow=*/true, dir.path(), &written));
  ASSERT_FALSE(written.snapshot.empty());
  Engine replay(TermBookUniverse(), kOptions);
  Engine recovered(TermBookUniverse(), kOptions);
  ASSERT_TRUE(recovered.LoadState(written.snapshot).ok());
  ASSERT_TRUE(recovered.TermsFollowLive());
  std::vector<Event> term_cancels;
  std::vector<RejectReason> rejects;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, &recovered, [&](const Event& e) {
        if (e.type == EventType::kTermCancelled) term_cancels.push_back(e);
        if (e.type == EventType::kRejected) rejects.push_back(e.rejected.reason);
      }));
  EXPECT_TRUE(replay.TermsFollowLive());
  // The live rules were at work: the second borrow beyond the re-valued limit, the third
  // under CORE, KOMIR's CORE-only lend cancelled by the suspension.
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0], RejectReason::kCreditLimitExceeded);
  EXPECT_EQ(replay.GetObligation(2)->agreement, kCore);
  ASSERT_EQ(term_cancels.size(), 1u);
  EXPECT_EQ(term_cancels[0].cancelled.reason, CancelReason::kMemberSuspended);
  EXPECT_EQ(term_cancels[0].cancelled.agency, kKomir);
  // Back at the configured value: 4,000 kg still owed under NOREC.
  EXPECT_EQ(replay.CreditUsed(kNorec, kKabil), 4'000 * kCoValue);
}

TEST(LiveTermsJournalTest, AVersion9JournalReadsAndReplaysWithTermsOnTheConfiguration) {
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(/*follow=*/false, dir.path(), &written));
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kLiveTermsFormatVersion - 1));
  Engine replay(TermBookUniverse(), kOptions);
  Engine recovered(TermBookUniverse(), kOptions);
  ASSERT_TRUE(recovered.LoadState(written.snapshot).ok());
  std::size_t term_cancels = 0;
  ASSERT_NO_FATAL_FAILURE(
      ReplayAndCompare(dir.path(), written, replay, &recovered, [&](const Event& e) {
        term_cancels += e.type == EventType::kTermCancelled;
      }));
  EXPECT_FALSE(replay.TermsFollowLive());
  EXPECT_EQ(term_cancels, 0u);
  // Loans under the configured agreements only; credit at the configured value.
  EXPECT_EQ(replay.GetObligation(2)->agreement, kNorec);
}

TEST(LiveTermsJournalTest, TheSwitchInAVersion9SegmentIsCorruption) {
  TempDir dir;
  WrittenJournal written;
  ASSERT_NO_FATAL_FAILURE(WriteStream(/*follow=*/true, dir.path(), &written));
  ASSERT_NO_FATAL_FAILURE(
      RelabelSegmentVersion(dir.file(SegmentFileName(1)), kLiveTermsFormatVersion - 1));
  ExpectCorruption(dir.path(), "FollowLiveReference command type 25 in a version 9 segment");
}

}  // namespace
}  // namespace msx::journal
