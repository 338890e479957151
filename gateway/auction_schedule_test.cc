// AuctionSchedule (gateway/auction_schedule.h): an instrument whose level auctions every N
// seconds is owed one auction each time the clock crosses a multiple of N seconds, never
// two for one grid time, none at a level that does not auction, and a schedule started
// from the journal's clock (a restart) or moved by replicated commands (a standby) does not
// repeat an auction already journaled.
#include "gateway/auction_schedule.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

constexpr TimeNs kSecond = 1000000000;
// A whole minute of UTC: the default WARNING and SERIOUS policies auction every 60 s.
constexpr TimeNs kMinute0 = TimeNs{29000000} * 60 * kSecond;

class AuctionScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::make_unique<ReferenceData>(*std::move(ref));
    engine_ = std::make_unique<Engine>(*ref_, EngineOptions{});
    cobalt_ = *ref_->FindInstrument("CO-99.8");
    gallium_ = *ref_->FindInstrument("GA-4N");
  }

  void SetLevel(InstrumentId instrument, EmergencyLevel level, TimeNs time) {
    Command c{};
    c.type = CommandType::kSetEmergencyLevel;
    c.seq = ++seq_;
    c.time = time;
    c.set_level.instrument = instrument;
    c.set_level.level = level;
    std::vector<Event> events;
    engine_->Apply(c, &events);
    ASSERT_EQ(engine_->GetLevel(instrument), level);
  }

  std::vector<InstrumentId> Due(AuctionSchedule& s, TimeNs now) {
    std::vector<InstrumentId> due;
    s.Due(*ref_, *engine_, now, &due);
    return due;
  }

  std::unique_ptr<ReferenceData> ref_;
  std::unique_ptr<Engine> engine_;
  InstrumentId cobalt_ = 0, gallium_ = 0;
  Seq seq_ = 0;
};

TEST_F(AuctionScheduleTest, NothingIsOwedWhileNoLevelAuctions) {
  AuctionSchedule s(kMinute0 - kSecond);
  EXPECT_TRUE(Due(s, kMinute0).empty());
  EXPECT_TRUE(Due(s, kMinute0 + 600 * kSecond).empty());
  SetLevel(cobalt_, EmergencyLevel::kCaution, kMinute0 + 601 * kSecond);  // continuous
  EXPECT_TRUE(Due(s, kMinute0 + 1200 * kSecond).empty());
}

TEST_F(AuctionScheduleTest, AnAuctioningInstrumentIsOwedOneAuctionPerGridTime) {
  SetLevel(cobalt_, EmergencyLevel::kWarning, kMinute0 - 30 * kSecond);
  AuctionSchedule s(kMinute0 - 30 * kSecond);
  EXPECT_TRUE(Due(s, kMinute0 - kSecond).empty());
  EXPECT_EQ(Due(s, kMinute0), std::vector<InstrumentId>{cobalt_});
  EXPECT_TRUE(Due(s, kMinute0).empty()) << "the same grid time twice";
  EXPECT_TRUE(Due(s, kMinute0 + 59 * kSecond).empty());
  EXPECT_EQ(Due(s, kMinute0 + 61 * kSecond), std::vector<InstrumentId>{cobalt_});
  // A late tick (the server was busy, or down) owes one auction, not one per grid time.
  EXPECT_EQ(Due(s, kMinute0 + 300 * kSecond), std::vector<InstrumentId>{cobalt_});
  // A clock that does not move owes nothing.
  EXPECT_TRUE(Due(s, kMinute0 + 290 * kSecond).empty());
  EXPECT_EQ(s.consulted_until(), kMinute0 + 300 * kSecond);
}

TEST_F(AuctionScheduleTest, EveryAuctioningInstrumentIsOwedInIdOrderUntilItsLevelDrops) {
  SetLevel(cobalt_, EmergencyLevel::kWarning, kMinute0 - 30 * kSecond);
  SetLevel(gallium_, EmergencyLevel::kSerious, kMinute0 - 20 * kSecond);
  AuctionSchedule s(kMinute0 - kSecond);
  std::vector<InstrumentId> both = {cobalt_, gallium_};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(Due(s, kMinute0 + kSecond), both);
  SetLevel(gallium_, EmergencyLevel::kNormal, kMinute0 + 2 * kSecond);
  EXPECT_EQ(Due(s, kMinute0 + 60 * kSecond), std::vector<InstrumentId>{cobalt_});
}

// After a restart the schedule starts at the journal's last command: an auction journaled
// at the grid time is not repeated; one whose grid time passed while the server was down
// runs at once.
TEST_F(AuctionScheduleTest, AScheduleStartedFromTheJournalsClockDoesNotRepeatAnAuction) {
  SetLevel(cobalt_, EmergencyLevel::kWarning, kMinute0 - 30 * kSecond);
  AuctionSchedule after_auction(kMinute0);  // the journal ends with the auction at kMinute0
  EXPECT_TRUE(Due(after_auction, kMinute0 + 5 * kSecond).empty());
  AuctionSchedule after_outage(kMinute0 + 10 * kSecond);
  EXPECT_EQ(Due(after_outage, kMinute0 + 200 * kSecond), std::vector<InstrumentId>{cobalt_});
}

// A standby's schedule follows the replicated commands, so after a promotion it owes only
// what the old primary had not run.
TEST_F(AuctionScheduleTest, ObservedCommandsMoveTheScheduleOnWithoutAnAuction) {
  SetLevel(cobalt_, EmergencyLevel::kWarning, kMinute0 - 30 * kSecond);
  AuctionSchedule s(kMinute0 - 30 * kSecond);
  s.Observe(kMinute0);                   // the primary's RunAuction at the grid time
  s.Observe(kMinute0 - 10 * kSecond);    // never backwards
  EXPECT_EQ(s.consulted_until(), kMinute0);
  EXPECT_TRUE(Due(s, kMinute0 + 30 * kSecond).empty());
  EXPECT_EQ(Due(s, kMinute0 + 60 * kSecond), std::vector<InstrumentId>{cobalt_});
}

}  // namespace
}  // namespace msx::gateway
