// Obligation reports rebuilt from the journal (a stream resumed past the in-memory window:
// Reports::HistoryReports) must say what the live reports said when the command ran, not
// what the obligation is now: an obligation that was recalled, paid down, fell overdue and
// had its pledge forfeit after an event is reported at that event as it was then.
#include <memory>
#include <string>
#include <vector>

#include "engine/testing/term_book_fixture.h"
#include "engine/testing/test_universe.h"
#include "gateway/history_reader.h"
#include "gateway/hubs.h"
#include "gateway/reports.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

using ::msx::testing::kCo90;
using ::msx::testing::kDla;
using ::msx::testing::kJogmec;
using ::msx::testing::kKomir;
using ::msx::testing::kNi;
using ::msx::testing::kNi90;
using ::msx::testing::kSecuredGraceDays;

class ObligationHistoryTest : public msx::testing::TermBookTest {
 protected:
  ObligationHistoryTest()
      : exec_hub_(ref_.agencies().size()),
        book_hub_(ref_.pairs().size()),
        reports_(ref_, &exec_hub_, &book_hub_, 100000, seq_),
        start_(seq_) {}

  // Applies `c` as the sequencer does: the engine, then the reports observer; keeps the
  // journaled group for the history.
  std::vector<Event> Apply(Command c) {
    c.seq = ++seq_;
    c.time = now_;
    std::vector<Event> ev;
    engine_.Apply(c, &ev);
    reports_.OnApplied(engine_, c, ev);
    groups_.push_back(HistoryGroup{c, ev});
    return ev;
  }

  // The obligation reports of `agency`: as the live stream carried them, and as a stream
  // resumed from the journal gets them now.
  std::vector<v1::ObligationReport> Live(AgencyId agency) const {
    std::vector<std::shared_ptr<const v1::ExecutionReport>> out;
    Seq upto = 0;
    EXPECT_TRUE(reports_.RecentExecutions(agency, start_, seq_, &out, &upto));
    return ObligationReports(out);
  }
  std::vector<v1::ObligationReport> Rebuilt(AgencyId agency) const {
    std::vector<HistoryGroup> mine;
    for (const HistoryGroup& g : groups_) {
      HistoryGroup h{g.command, {}};
      for (const Event& e : g.events) {
        if (EventConcerns(e, agency)) h.events.push_back(e);
      }
      if (!h.events.empty()) mine.push_back(h);
    }
    std::vector<std::shared_ptr<const v1::ExecutionReport>> out;
    reports_.HistoryReports(engine_, agency, mine, &out);
    return ObligationReports(out);
  }
  static std::vector<v1::ObligationReport> ObligationReports(
      const std::vector<std::shared_ptr<const v1::ExecutionReport>>& reports) {
    std::vector<v1::ObligationReport> v;
    for (const auto& r : reports) {
      if (r->has_obligation()) v.push_back(r->obligation());
    }
    return v;
  }

  ExecHub exec_hub_;
  BookHub book_hub_;
  Reports reports_;
  const Seq start_;  // the holdings the fixture set before the reports began
  std::vector<HistoryGroup> groups_;
};

TEST_F(ObligationHistoryTest, ReportsRebuiltFromTheJournalAreTheLiveOnesThoughTheLoanChangedSince) {
  // A cobalt loan (CORE: recalls allowed), paid down, then recalled.
  Apply(msx::testing::TermOffer(kKomir, kCo90, Side::kSell, 10, 0));
  Apply(msx::testing::TermOffer(kDla, kCo90, Side::kBuy, 10, 0));  // obligation 1
  Apply(msx::testing::ReturnObligation(kDla, 1, 1'000));           // not recalled yet
  Apply(msx::testing::RecallObligation(kKomir, 1));
  // A nickel loan against a pledge (SECURED), paid down, overdue, its pledge forfeit.
  Apply(msx::testing::TermOffer(kKomir, kNi90, Side::kSell, 10, 0));
  Apply(msx::testing::TermOffer(kJogmec, kNi90, Side::kBuy, 10, 0));  // obligation 2, pledged
  Apply(msx::testing::ReturnObligation(kJogmec, 2, 2'000));           // nothing covered yet
  Apply(msx::testing::SetHolding(kJogmec, kNi, 0));
  const TimeNs due = Ob(2).due_time;
  now_ = due;
  Apply(msx::testing::AdvanceTime());  // obligation 2 overdue, still pledged
  now_ = due + kSecuredGraceDays * kNsPerDay;
  Apply(msx::testing::AdvanceTime());  // forfeit: covered, closed
  ASSERT_TRUE(Ob(1).recalled);
  ASSERT_EQ(Ob(2).collateral_state, CollateralState::kForfeited);
  ASSERT_GT(Ob(2).covered, 0);

  for (AgencyId agency : {kKomir, kDla, kJogmec}) {
    const std::vector<v1::ObligationReport> live = Live(agency);
    const std::vector<v1::ObligationReport> rebuilt = Rebuilt(agency);
    ASSERT_FALSE(live.empty());
    ASSERT_EQ(live.size(), rebuilt.size()) << "agency " << agency;
    for (std::size_t i = 0; i < live.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(live[i], rebuilt[i]))
          << "agency " << agency << " report " << i << "\n live:    " << live[i].ShortDebugString()
          << "\n rebuilt: " << rebuilt[i].ShortDebugString();
    }
  }
}

}  // namespace
}  // namespace msx::gateway
