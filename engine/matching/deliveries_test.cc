// Deliveries (issue 15 s.3; ENGINE.md "Deliveries"): a fill made while its pair is at
// WARNING or SERIOUS opens two deliveries (the seller's base, the buyer's quote), due by
// the fill's time plus the window of the first agreement, in configuration order, that
// both agencies belong to and that covers both minerals; the receiver or an admin confirms
// each; an unconfirmed one falls overdue at the first command after its deliver-by. Every
// expected number is computed by hand beside it.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

constexpr InstrumentId kCo = 0, kLi = 1, kGa = 2;
constexpr PairId kCoLi = 0;  // reference 100 per lot (1 kg CO = 100 kg LI), band 85..115
constexpr PairId kGaLi = 1;  // reference 50 per lot
constexpr AgencyId kKr = 0, kJp = 1, kUs = 2, kOps = 3;
constexpr TimeNs kT0 = 1'800'000'000'000'000'000;
constexpr TimeNs kSecond = 1'000'000'000;
constexpr TimeNs kDay = kNsPerDay;

// Agreements, in this order: LI-ONLY {KR, JP} lithium only, window 2 days (never governs
// a CO/LI fill: it does not cover cobalt); BILAT {KR, JP} cobalt and lithium, 3 days;
// BLOC {KR, JP, US} every mineral, the default 8 days. WARNING matches continuously here
// (so continuous fills happen at WARNING); SERIOUS auctions (the default policy, without
// a price control or cap so that the numbers stay simple).
ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1, 1'000'000, 0});
  b.AddInstrument({"LI", "lithium", "carbonate", "kg", 1, 10'000, 0});
  b.AddInstrument({"GA", "gallium", "4N", "kg", 1, 500'000, 0});
  b.AddPair({"CO", "LI", 1, 1500, 1000});
  b.AddPair({"GA", "LI", 1, 1500, 1000});
  b.AddAgency({"KR", "k", "KR"});
  b.AddAgency({"JP", "j", "JP"});
  b.AddAgency({"US", "u", "US"});
  b.AddAgency({.code = "OPS", .name = "o", .country = "XX", .role = Role::kAdmin});
  b.AddAgreement({"LI-ONLY", {"KR", "JP"}, {"lithium"}});
  b.AddAgreement({"BILAT", {"KR", "JP"}, {"cobalt", "lithium"}});
  b.AddAgreement({"BLOC", {"KR", "JP", "US"}, {}});
  for (const auto& [name, days] : {std::pair<const char*, int>{"LI-ONLY", 2}, {"BILAT", 3}}) {
    AgreementTermsSpec t;
    t.agreement = name;
    t.delivery_window_days = days;
    b.SetAgreementTerms(std::move(t));
  }
  LevelPolicy warning;  // continuous, no price control
  warning.mode = MatchingMode::kContinuous;
  warning.auction_interval_seconds = 0;
  warning.band_bps = 0;
  b.AddLevelPolicy({EmergencyLevel::kWarning, warning});
  LevelPolicy serious;
  serious.mode = MatchingMode::kCallAuction;
  serious.auction_interval_seconds = 60;
  serious.band_bps = 0;
  serious.agency_cap_bps = kFullShareBps;
  b.AddLevelPolicy({EmergencyLevel::kSerious, serious});
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

using testing::AdvanceTime;
using testing::ConfirmDelivery;
using testing::SetLevel;

Command Offer(AgencyId agency, PairId pair, Side side, Lots lots, Price price,
              ClientOfferId client) {
  return testing::Submit(agency, pair, side, lots, price, client);
}

class DeliveriesTest : public ::testing::Test {
 protected:
  DeliveriesTest() : ref_(MakeRef()), engine_(ref_, EngineOptions{.expected_offers = 256}) {
    for (AgencyId a : {kKr, kJp, kUs}) {
      for (InstrumentId i : {kCo, kLi, kGa}) {
        Command c{};
        c.type = CommandType::kSetHoldings;
        c.set_holdings = {a, i, 1'000'000};
        Do(c);
      }
    }
  }

  // Applies `c` one second after the previous command (or at `at`).
  const std::vector<Event>& Do(Command c, TimeNs at = 0) {
    c.seq = ++seq_;
    c.time = at != 0 ? at : time_ + kSecond;
    time_ = c.time;
    events_.clear();
    engine_.Apply(c, &events_);
    log_.push_back(c);
    return events_;
  }

  std::vector<DeliveryEvent> Deliveries() const {
    std::vector<DeliveryEvent> v;
    for (const Event& e : events_) {
      if (e.type == EventType::kDelivery) v.push_back(e.delivery);
    }
    return v;
  }
  RejectReason LastReject() const {
    for (const Event& e : events_) {
      if (e.type == EventType::kRejected) return e.rejected.reason;
    }
    return RejectReason::kNone;
  }

  // KR sells 10 lots of CO/LI at 100; JP buys them: one fill of 10 kg CO for 1,000 kg LI.
  TimeNs TradeKrJp() {
    Do(Offer(kKr, kCoLi, Side::kSell, 10, 100, ++client_));
    Do(Offer(kJp, kCoLi, Side::kBuy, 10, 100, ++client_));
    return time_;
  }

  const ReferenceData ref_;
  Engine engine_;
  Seq seq_ = 0;
  TimeNs time_ = kT0;
  ClientOfferId client_ = 0;
  std::vector<Event> events_;
  std::vector<Command> log_;
};

TEST_F(DeliveriesTest, FillsBelowWarningOpenNoDelivery) {
  TradeKrJp();  // NORMAL
  EXPECT_TRUE(Deliveries().empty());
  Do(SetLevel(kCo, EmergencyLevel::kCaution));
  TradeKrJp();
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_TRUE(engine_.ListDeliveries(std::nullopt).empty());
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
}

TEST_F(DeliveriesTest, ContinuousFillAtWarningOpensOneDeliveryPerSideDueByTheWindow) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs t = TradeKrJp();
  // The fill, then the seller's base leg and the buyer's quote leg. KR and JP share
  // LI-ONLY (lithium only: skipped), then BILAT (cobalt and lithium): 3 days.
  ASSERT_EQ(events_[1].type, EventType::kFill);
  const std::vector<DeliveryEvent> d = Deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].delivery, 1u);
  EXPECT_EQ(d[0].kind, DeliveryEventKind::kOpened);
  EXPECT_EQ(d[0].state, DeliveryState::kPending);
  EXPECT_EQ(d[0].fill_id, events_[1].fill.fill_id);
  EXPECT_EQ(d[0].instrument, kCo);
  EXPECT_EQ(d[0].deliverer, kKr);
  EXPECT_EQ(d[0].receiver, kJp);
  EXPECT_EQ(d[0].amount, 10);  // 10 lots x 1 kg
  EXPECT_EQ(d[0].agreement, 1u);
  EXPECT_EQ(d[0].deliver_by, t + 3 * kDay);
  EXPECT_EQ(d[1].delivery, 2u);
  EXPECT_EQ(d[1].instrument, kLi);
  EXPECT_EQ(d[1].deliverer, kJp);
  EXPECT_EQ(d[1].receiver, kKr);
  EXPECT_EQ(d[1].amount, 1000);  // 10 lots x 100
  EXPECT_EQ(d[1].deliver_by, t + 3 * kDay);
  // The ledger holds both; NextExpiry wakes the server one nanosecond after deliver-by.
  std::optional<DeliveryInfo> info = engine_.GetDelivery(2);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->fill_time, t);
  EXPECT_EQ(info->state, DeliveryState::kPending);
  EXPECT_EQ(engine_.NextExpiry(), t + 3 * kDay + 1);
  // The other pair (GA/LI) is at NORMAL: no delivery.
  Do(Offer(kKr, kGaLi, Side::kSell, 1, 50, ++client_));
  Do(Offer(kJp, kGaLi, Side::kBuy, 1, 50, ++client_));
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_EQ(engine_.ListDeliveries(kUs).size(), 0u);
  EXPECT_EQ(engine_.ListDeliveries(kKr).size(), 2u);
}

TEST_F(DeliveriesTest, TheQuoteAtWarningMakesThePairsFillsDeliveries) {
  Do(SetLevel(kLi, EmergencyLevel::kWarning));  // CO/LI's quote
  TradeKrJp();
  EXPECT_EQ(Deliveries().size(), 2u);
}

TEST_F(DeliveriesTest, AFillBetweenOtherAgenciesTakesTheirFirstCommonAgreement) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  Do(Offer(kUs, kCoLi, Side::kSell, 4, 101, ++client_));
  const TimeNs t = Do(Offer(kKr, kCoLi, Side::kBuy, 4, 101, ++client_)).front().time;
  const std::vector<DeliveryEvent> d = Deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].agreement, 2u);  // BLOC, the only one with US
  EXPECT_EQ(d[0].deliver_by, t + 8 * kDay);
  EXPECT_EQ(d[0].deliverer, kUs);
  EXPECT_EQ(d[1].amount, 404);  // 4 lots x 101
}

TEST_F(DeliveriesTest, UnconfirmedDeliveriesFallOverdueOneNanosecondAfterDeliverBy) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs t = TradeKrJp();
  const TimeNs by = t + 3 * kDay;
  Do(AdvanceTime(), by);  // at deliver-by: still on time
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_EQ(engine_.GetDelivery(1)->state, DeliveryState::kPending);
  Do(AdvanceTime(), by + 1);
  const std::vector<DeliveryEvent> d = Deliveries();
  ASSERT_EQ(d.size(), 2u);  // both legs, in (deliver_by, id) order
  EXPECT_EQ(d[0].delivery, 1u);
  EXPECT_EQ(d[0].kind, DeliveryEventKind::kOverdue);
  EXPECT_EQ(d[0].state, DeliveryState::kOverdue);
  EXPECT_EQ(d[1].delivery, 2u);
  EXPECT_EQ(engine_.GetDelivery(2)->state, DeliveryState::kOverdue);
  EXPECT_EQ(engine_.NextExpiry(), std::nullopt);
  Do(AdvanceTime(), by + 2 * kDay);  // once only
  EXPECT_TRUE(Deliveries().empty());
}

// The time step that marks an earlier delivery overdue leaves one whose deliver-by is that
// command's own time pending: overdue is strictly after deliver-by for each delivery, not
// only for the earliest.
TEST_F(DeliveriesTest, AStepAtALaterDeliverByMarksOnlyTheEarlierOnesOverdue) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs by_bilat = TradeKrJp() + 3 * kDay;  // deliveries 1, 2 (BILAT, 3 days)
  Do(Offer(kUs, kCoLi, Side::kSell, 4, 101, ++client_));
  const TimeNs by_bloc = Do(Offer(kKr, kCoLi, Side::kBuy, 4, 101, ++client_)).front().time +
                         8 * kDay;  // deliveries 3, 4 (BLOC, 8 days)
  ASSERT_LT(by_bilat, by_bloc);
  Do(AdvanceTime(), by_bloc);  // after 1 and 2's deliver-by, at 3 and 4's
  const std::vector<DeliveryEvent> d = Deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].delivery, 1u);
  EXPECT_EQ(d[1].delivery, 2u);
  EXPECT_EQ(engine_.GetDelivery(3)->state, DeliveryState::kPending);
  EXPECT_EQ(engine_.GetDelivery(4)->state, DeliveryState::kPending);
  EXPECT_EQ(engine_.NextExpiry(), by_bloc + 1);
  Do(ConfirmDelivery(kKr, 3), by_bloc);  // at its deliver-by: on time
  EXPECT_EQ(engine_.GetDelivery(3)->state, DeliveryState::kConfirmed);
  Do(AdvanceTime(), by_bloc + 1);
  ASSERT_EQ(Deliveries().size(), 1u);
  EXPECT_EQ(Deliveries()[0].delivery, 4u);
}

TEST_F(DeliveriesTest, AnyCommandAfterDeliverByMarksOverdueBeforeItsOwnWork) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs by = TradeKrJp() + 3 * kDay;
  // A confirmation one nanosecond late: the delivery falls overdue first, then is
  // confirmed (late); the other leg stays overdue.
  Do(ConfirmDelivery(kJp, 1), by + 1);
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].delivery.kind, DeliveryEventKind::kOverdue);
  EXPECT_EQ(events_[1].delivery.kind, DeliveryEventKind::kOverdue);
  EXPECT_EQ(events_[2].delivery.kind, DeliveryEventKind::kConfirmed);
  EXPECT_EQ(events_[2].delivery.delivery, 1u);
  const DeliveryInfo d = *engine_.GetDelivery(1);
  EXPECT_EQ(d.state, DeliveryState::kConfirmed);
  EXPECT_EQ(d.confirmed_time, by + 1);
  EXPECT_GT(d.confirmed_time, d.deliver_by);  // late
}

TEST_F(DeliveriesTest, TheReceiverOrAnAdminConfirmsAndNobodyElse) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs by = TradeKrJp() + 3 * kDay;
  // Delivery 1: KR delivers CO to JP.
  Do(ConfirmDelivery(kKr, 1));  // the deliverer
  EXPECT_EQ(LastReject(), RejectReason::kNotDeliveryParty);
  EXPECT_EQ(events_[0].rejected.offer, 1u);
  Do(ConfirmDelivery(kUs, 1));  // a third agency
  EXPECT_EQ(LastReject(), RejectReason::kNotDeliveryParty);
  Do(ConfirmDelivery(kJp, 3));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownDelivery);
  Do(ConfirmDelivery(kJp, 0));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownDelivery);
  Do(ConfirmDelivery(7, 1));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownAgency);
  EXPECT_EQ(engine_.GetDelivery(1)->state, DeliveryState::kPending);
  Do(ConfirmDelivery(kJp, 1), by);  // at deliver-by: on time
  ASSERT_EQ(Deliveries().size(), 1u);
  EXPECT_EQ(Deliveries()[0].kind, DeliveryEventKind::kConfirmed);
  EXPECT_EQ(Deliveries()[0].by, kJp);
  Do(ConfirmDelivery(kJp, 1));
  EXPECT_EQ(LastReject(), RejectReason::kDeliveryAlreadyConfirmed);
  Do(ConfirmDelivery(kOps, 2), by);  // the admin confirms KR's receipt of the lithium
  ASSERT_EQ(Deliveries().size(), 1u);
  EXPECT_EQ(Deliveries()[0].by, kOps);
  // Both confirmed in time: nothing falls overdue later.
  Do(AdvanceTime(), by + kDay);
  EXPECT_TRUE(Deliveries().empty());
  EXPECT_EQ(engine_.GetDelivery(1)->state, DeliveryState::kConfirmed);
  EXPECT_EQ(engine_.GetDelivery(2)->confirmed_by, kOps);
}

TEST_F(DeliveriesTest, AuctionFillsAtSeriousOpenDeliveries) {
  Do(SetLevel(kCo, EmergencyLevel::kSerious));
  Do(Offer(kKr, kCoLi, Side::kSell, 6, 100, ++client_));
  Command need{};
  need.type = CommandType::kSubmitOfferWithNeed;
  need.submit_need.offer =
      SubmitOffer{kJp, kCoLi, Side::kBuy, TimeInForce::kGtc, 6, 100, 0, 0, 0, 0, ++client_};
  need.submit_need.need = 6;
  need.submit_need.tier = PriorityTier::kGeneral;
  Do(need);
  EXPECT_TRUE(Deliveries().empty());  // rests: the book auctions
  Command tick{};
  tick.type = CommandType::kRunAuction;
  tick.run_auction.instrument = kCo;
  const TimeNs t = Do(tick).front().time;
  const std::vector<DeliveryEvent> d = Deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].deliverer, kKr);
  EXPECT_EQ(d[0].amount, 6);
  EXPECT_EQ(d[1].amount, 600);
  EXPECT_EQ(d[0].deliver_by, t + 3 * kDay);
}

TEST_F(DeliveriesTest, TheLedgerIsInTheSnapshotAndARestoredEngineGoesOnIdentically) {
  EXPECT_EQ(engine_.SaveState().substr(8, 4), std::string("\x02\0\0\0", 4));  // no ledger
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs by = TradeKrJp() + 3 * kDay;
  Do(ConfirmDelivery(kJp, 1));
  const std::string image = engine_.SaveState();
  EXPECT_EQ(image.substr(8, 4), std::string("\x08\0\0\0", 4));
  Engine restored(ref_, EngineOptions{.expected_offers = 256});
  ASSERT_TRUE(restored.LoadState(image).ok());
  EXPECT_EQ(restored.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(restored.NextExpiry(), by + 1);
  ASSERT_TRUE(restored.GetDelivery(1).has_value());
  EXPECT_EQ(restored.GetDelivery(1)->confirmed_by, kJp);
  // The same next command on both: delivery 2 falls overdue in each.
  Command next = AdvanceTime();
  next.seq = seq_ + 1;
  next.time = by + 1;
  std::vector<Event> a, b;
  engine_.Apply(next, &a);
  restored.Apply(next, &b);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), a.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)));
  EXPECT_EQ(restored.StateDigest(), engine_.StateDigest());
}

TEST_F(DeliveriesTest, ASnapshotWithABrokenDeliveryRecordIsDataLoss) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  TradeKrJp();
  const std::string image = engine_.SaveState();
  // Delivery 2's record (SNAPSHOT.md "deliveries"): fill 1, pair 0, LI, JP delivers to KR
  // under BILAT (1), 1,000 kg; its state byte follows fill_time and deliver_by.
  std::string record;
  auto u32 = [&](std::uint32_t v) { record.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&](std::uint64_t v) { record.append(reinterpret_cast<const char*>(&v), 8); };
  u64(1);
  u32(kCoLi);
  u32(kLi);
  u32(kJp);
  u32(kKr);
  u32(1);
  u64(1000);
  const std::size_t at = image.find(record);
  ASSERT_NE(at, std::string::npos);
  std::string bad = image;
  const std::size_t state_at = at + record.size() + 16;
  ASSERT_EQ(bad[state_at], 1);  // pending
  bad[state_at] = 4;
  Engine restored(ref_, EngineOptions{.expected_offers = 16});
  const absl::Status s = restored.LoadState(bad);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("delivery 2: state not 1..3"), std::string::npos) << s;
}

TEST_F(DeliveriesTest, AReplayOfTheSameCommandsGivesTheSameEventsAndLedger) {
  Do(SetLevel(kCo, EmergencyLevel::kWarning));
  const TimeNs by = TradeKrJp() + 3 * kDay;
  Do(Offer(kUs, kCoLi, Side::kSell, 4, 101, ++client_));
  Do(Offer(kKr, kCoLi, Side::kBuy, 4, 101, ++client_));
  Do(ConfirmDelivery(kKr, 3));  // the deliverer of delivery 3 (US): rejected
  Do(ConfirmDelivery(kKr, 4));
  Do(AdvanceTime(), by + 1);
  Engine replay(ref_, EngineOptions{.expected_offers = 256});
  Engine again(ref_, EngineOptions{.expected_offers = 256});
  std::vector<Event> a, b;
  for (const Command& c : log_) {
    replay.Apply(c, &a);
    again.Apply(c, &b);
  }
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)));
  EXPECT_EQ(replay.StateDigest(), engine_.StateDigest());
  EXPECT_EQ(replay.ListDeliveries(std::nullopt).size(), 4u);
}

}  // namespace
}  // namespace msx
