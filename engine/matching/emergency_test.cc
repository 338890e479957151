// Live reference data and emergency levels (issue 15, ENGINE.md "Live reference data and
// emergency levels"): SetEmergencyLevel, PublishReference, AdmitMember / SuspendMember, the
// mandated-minimum-stock guard, and snapshots taken in the middle of an emergency.
#include <cstring>
#include <string>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "engine/testing/random_commands.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

using ::msx::testing::AdmitMember;
using ::msx::testing::AdvanceTime;
using ::msx::testing::EventsOf;
using ::msx::testing::FirstAccepted;
using ::msx::testing::FirstReject;
using ::msx::testing::kA0;
using ::msx::testing::kA1;
using ::msx::testing::kA2;
using ::msx::testing::kA3;
using ::msx::testing::kA4;
using ::msx::testing::kA5;
using ::msx::testing::kAaa;
using ::msx::testing::kAaaBbb;
using ::msx::testing::kBbb;
using ::msx::testing::PublishReference;
using ::msx::testing::Replace;
using ::msx::testing::SetHolding;
using ::msx::testing::SetLevel;
using ::msx::testing::Submit;
using ::msx::testing::SuspendMember;
using ::msx::testing::TestUniverse;

constexpr std::uint32_t kCore = 0, kAb = 1, kGamma = 2;  // TestUniverse's agreements
constexpr AgencyId kOps = 6;
constexpr PairId kAaaCcc = 2;

class EmergencyTest : public ::testing::Test {
 protected:
  explicit EmergencyTest(const ReferenceData& ref = TestUniverse())
      : engine_(ref, EngineOptions{.expected_offers = 4096}) {
    for (AgencyId a = 0; a < 6; ++a) {
      for (InstrumentId i = 0; i < 4; ++i) Do(SetHolding(a, i, 1'000'000));
    }
  }

  const std::vector<Event>& Do(Command c) {
    c.seq = ++seq_;
    c.time = time_ += 10;
    events_.clear();
    engine_.Apply(c, &events_);
    return events_;
  }

  OfferId Place(AgencyId agency, Side side, Lots lots, Price price, AgencyMask allow = 0) {
    Command c = Submit(agency, kAaaBbb, side, lots, price, ++client_);
    c.submit.allow = allow;
    return FirstAccepted(Do(c));
  }

  // The events of the last command of `type`, in order.
  std::vector<Event> Of(EventType type) const { return EventsOf(events_, type); }
  RejectReason LastReject() const { return FirstReject(events_); }

  Engine engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
  TimeNs time_ = 1'000;
  ClientOfferId client_ = 0;
};

TEST_F(EmergencyTest, LevelNarrowsTheBandCancelsOffersOutsideAndKeepsPriorityInside) {
  // AAA/BBB: reference 100, band 85..115. CAUTION's built-in price control is 10 %.
  const OfferId low_bid = Place(kA0, Side::kBuy, 1, 86);
  const OfferId first = Place(kA1, Side::kBuy, 2, 95);
  const OfferId second = Place(kA0, Side::kBuy, 3, 95);
  const OfferId high_ask = Place(kA2, Side::kSell, 1, 112);
  ASSERT_NE(high_ask, 0u);

  Do(SetLevel(kAaa, EmergencyLevel::kCaution, "cobalt export ban"));
  ASSERT_FALSE(events_.empty());
  ASSERT_EQ(events_[0].type, EventType::kEmergencyLevelSet);
  EXPECT_EQ(events_[0].level_set.level, EmergencyLevel::kCaution);
  EXPECT_EQ(events_[0].level_set.previous, EmergencyLevel::kNormal);
  EXPECT_EQ(std::string(events_[0].level_set.reason, events_[0].level_set.reason_size),
            "cobalt export ban");
  const std::vector<Event> bands = Of(EventType::kPairBandChanged);
  ASSERT_EQ(bands.size(), 2u);  // AAA/BBB and AAA/CCC
  EXPECT_EQ(bands[0].band.pair, kAaaBbb);
  EXPECT_EQ(bands[0].band.reference_price, 100);
  EXPECT_EQ(bands[0].band.band_low, 90);
  EXPECT_EQ(bands[0].band.band_high, 110);
  EXPECT_EQ(bands[1].band.pair, kAaaCcc);
  const std::vector<Event> cancels = Of(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(cancels[0].cancelled.offer, low_bid);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kOutsideBand);
  EXPECT_EQ(cancels[1].cancelled.offer, high_ask);
  EXPECT_EQ(cancels[1].cancelled.reason, CancelReason::kOutsideBand);
  EXPECT_EQ(engine_.GetLevel(kAaa), EmergencyLevel::kCaution);
  EXPECT_EQ(engine_.GetPairLevel(kAaaBbb), EmergencyLevel::kCaution);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 90);
  // Reservations released: A0 holds 3 x 95 of BBB reserved, A2 nothing.
  EXPECT_EQ(engine_.GetHoldings(kA0, kBbb).reserved, 3 * 95);
  EXPECT_EQ(engine_.GetHoldings(kA2, kAaa).reserved, 0);
  // Market data: the book at 95 is still 5 lots.
  const DepthInfo depth = engine_.GetDepth(kAaaBbb, 5);
  ASSERT_EQ(depth.bids.size(), 1u);
  EXPECT_EQ(depth.bids[0].price, 95);
  EXPECT_EQ(depth.bids[0].lots, 5);
  // Time priority at 95 survived the move: A1's offer fills first.
  Place(kA2, Side::kSell, 3, 95);
  const std::vector<Event> fills = Of(EventType::kFill);
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[0].fill.maker_offer, first);
  EXPECT_EQ(fills[0].fill.lots, 2);
  EXPECT_EQ(fills[1].fill.maker_offer, second);
  // Outside the controlled band: rejected; back to NORMAL: the full band again.
  EXPECT_EQ(Place(kA0, Side::kBuy, 1, 86), 0u);
  EXPECT_EQ(LastReject(), RejectReason::kPriceOutsideBand);
  Do(SetLevel(kAaa, EmergencyLevel::kNormal));
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 85);
  EXPECT_NE(Place(kA0, Side::kBuy, 1, 86), 0u);
}

TEST_F(EmergencyTest, PairFollowsTheMoreSevereOfItsInstrumentsLevels) {
  Do(SetLevel(kBbb, EmergencyLevel::kSerious));
  EXPECT_EQ(engine_.GetPairLevel(kAaaBbb), EmergencyLevel::kSerious);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 98);  // SERIOUS: 2 %
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_high, 102);
  Do(SetLevel(kAaa, EmergencyLevel::kCaution));
  EXPECT_EQ(engine_.GetPairLevel(kAaaBbb), EmergencyLevel::kSerious);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 98);
}

TEST_F(EmergencyTest, BadLevelCommandsAreRejectedAndChangeNothing) {
  Command bad = SetLevel(kAaa, static_cast<EmergencyLevel>(5));
  Do(bad);
  EXPECT_EQ(LastReject(), RejectReason::kInvalidLevel);
  Command long_reason = SetLevel(kAaa, EmergencyLevel::kWarning);
  long_reason.set_level.reason_size = kMaxLevelReasonBytes + 1;
  Do(long_reason);
  EXPECT_EQ(LastReject(), RejectReason::kInvalidLevel);
  Do(SetLevel(99, EmergencyLevel::kWarning));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownInstrument);
  EXPECT_EQ(engine_.GetLevel(kAaa), EmergencyLevel::kNormal);
}

TEST_F(EmergencyTest, PublishedReferenceMovesTheBandAndCancelsWhatItLeavesOutside) {
  const OfferId bid = Place(kA0, Side::kBuy, 1, 86);
  const OfferId ask = Place(kA1, Side::kSell, 1, 114);
  Do(PublishReference(kAaa, 1'100'000, 0));
  ASSERT_EQ(events_[0].type, EventType::kReferencePublished);
  const std::vector<Event> bands = Of(EventType::kPairBandChanged);
  ASSERT_EQ(bands.size(), 2u);
  EXPECT_EQ(bands[0].band.reference_price, 110);
  EXPECT_EQ(bands[0].band.band_low, 94);   // ceil(93.5)
  EXPECT_EQ(bands[0].band.band_high, 126); // floor(126.5)
  const std::vector<Event> cancels = Of(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.offer, bid);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kOutsideBand);
  EXPECT_EQ(engine_.GetOffer(ask)->status, OfferStatus::kOpen);
  EXPECT_EQ(engine_.GetInstrumentState(kAaa).reference_value, 1'100'000);
  // A floor: the lowest price becomes the floor's.
  Do(PublishReference(kAaa, 1'100'000, 1'050'000));
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).floor_price, 105);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 105);
  EXPECT_EQ(Place(kA0, Side::kBuy, 1, 104), 0u);
  EXPECT_EQ(LastReject(), RejectReason::kBelowFloor);
  // A floor above the value (and above the whole band) binds: its price is the only one.
  Do(PublishReference(kAaa, 1'000'000, 1'300'000));
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).reference_price, 100);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_low, 130);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).band_high, 130);
  EXPECT_EQ(engine_.GetOffer(ask)->status, OfferStatus::kCancelled);  // 114 < 130
  EXPECT_NE(Place(kA0, Side::kBuy, 1, 130), 0u);
}

TEST_F(EmergencyTest, BadPublicationsAreRejected) {
  Do(PublishReference(kAaa, 0, 0));
  EXPECT_EQ(LastReject(), RejectReason::kInvalidReference);
  Do(PublishReference(kAaa, 1000, -1));
  EXPECT_EQ(LastReject(), RejectReason::kInvalidReference);
  Do(PublishReference(42, 1000, 0));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownInstrument);
  Do(PublishReference(kAaa, 1, 0));  // AAA/BBB would price 1 lot at 0 BBB
  EXPECT_EQ(LastReject(), RejectReason::kNoValidPrice);
  EXPECT_EQ(engine_.GetInstrumentState(kAaa).reference_value, 1'000'000);
}

TEST_F(EmergencyTest, PublicationWaitsForItsEffectiveTime) {
  const TimeNs at = time_ + 1'000;
  Do(PublishReference(kAaa, 1'200'000, 0, at));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].type, EventType::kReferencePublished);
  EXPECT_TRUE(engine_.GetInstrumentState(kAaa).pending);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).reference_price, 100);
  ASSERT_TRUE(engine_.NextExpiry().has_value());
  EXPECT_EQ(*engine_.NextExpiry(), at);
  time_ = at - 20;  // the next command is at - 10
  Do(AdvanceTime());
  EXPECT_TRUE(Of(EventType::kPairBandChanged).empty());
  time_ = at - 10;  // the next command is at `at`
  Do(AdvanceTime());
  ASSERT_EQ(Of(EventType::kPairBandChanged).size(), 2u);
  EXPECT_EQ(engine_.GetPairBand(kAaaBbb).reference_price, 120);
  EXPECT_FALSE(engine_.GetInstrumentState(kAaa).pending);
  EXPECT_FALSE(engine_.NextExpiry().has_value());
}

TEST_F(EmergencyTest, SuspensionCancelsOnlyTheOffersThatReliedOnThatAgreement) {
  // A3 is in CORE (every mineral) and AB (alpha, beta); A4 only in AB.
  const OfferId only_a4 = Place(kA3, Side::kBuy, 1, 90, AgencyMask{1} << kA4);
  const OfferId anyone = Place(kA3, Side::kBuy, 1, 91);
  const OfferId a4_ask = Place(kA4, Side::kSell, 1, 110);
  Do(SuspendMember(kAb, kA3));
  ASSERT_EQ(events_[0].type, EventType::kMemberSuspended);
  EXPECT_EQ(events_[0].member.agreement, kAb);
  EXPECT_EQ(events_[0].member.agency, kA3);
  const std::vector<Event> cancels = Of(EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.offer, only_a4);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kMemberSuspended);
  EXPECT_EQ(engine_.GetOffer(anyone)->status, OfferStatus::kOpen);
  EXPECT_EQ(engine_.GetOffer(a4_ask)->status, OfferStatus::kOpen);  // not A4's agreement change
  EXPECT_EQ(engine_.EligiblePartners(kAaaBbb, kA4), 0u);
  // A3 and A4 no longer trade: A3's crossing bid rests.
  Place(kA3, Side::kBuy, 1, 110);
  EXPECT_TRUE(Of(EventType::kFill).empty());
  // Readmitted: they trade again.
  Do(AdmitMember(kAb, kA3));
  EXPECT_EQ(events_[0].type, EventType::kMemberAdmitted);
  Place(kA3, Side::kBuy, 1, 110);
  ASSERT_EQ(Of(EventType::kFill).size(), 1u);
  EXPECT_EQ(Of(EventType::kFill)[0].fill.maker_offer, a4_ask);
}

TEST_F(EmergencyTest, SuspensionKeepsAnOfferThatCouldTradeWithNobodyBefore) {
  // A3's bid accepts only A5, who shares no agreement covering alpha and beta with A3: it
  // relied on no agreement, so losing AB changes nothing for it.
  const OfferId only_a5 = Place(kA3, Side::kBuy, 1, 90, AgencyMask{1} << kA5);
  ASSERT_NE(only_a5, 0u);
  Do(SuspendMember(kAb, kA3));
  ASSERT_EQ(events_[0].type, EventType::kMemberSuspended);
  EXPECT_TRUE(Of(EventType::kCancelled).empty());
  EXPECT_EQ(engine_.GetOffer(only_a5)->status, OfferStatus::kOpen);
}

TEST_F(EmergencyTest, AdmissionMakesANewMemberEligibleAtOnce) {
  EXPECT_EQ(engine_.EligiblePartners(kAaaBbb, kA5), 0u);  // GAMMA covers gamma and beta only
  const OfferId ask = Place(kA0, Side::kSell, 1, 100);
  Place(kA5, Side::kBuy, 1, 100);
  EXPECT_TRUE(Of(EventType::kFill).empty());
  Do(AdmitMember(kCore, kA5));
  EXPECT_EQ((engine_.AgreementMembers(kCore) >> kA5) & 1, 1u);
  Place(kA5, Side::kBuy, 1, 100);
  ASSERT_EQ(Of(EventType::kFill).size(), 1u);
  EXPECT_EQ(Of(EventType::kFill)[0].fill.maker_offer, ask);
}

TEST_F(EmergencyTest, MembershipRejects) {
  Do(AdmitMember(kCore, kA0));
  EXPECT_EQ(LastReject(), RejectReason::kAlreadyMember);
  Do(SuspendMember(kGamma, kA1));
  EXPECT_EQ(LastReject(), RejectReason::kNotMember);
  Do(AdmitMember(9, kA0));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownAgreement);
  Do(AdmitMember(kCore, 40));
  EXPECT_EQ(LastReject(), RejectReason::kUnknownAgency);
  Do(AdmitMember(kCore, kOps));
  EXPECT_EQ(LastReject(), RejectReason::kAdminCannotTrade);
}

// X must keep 50 units of AAA (5 lots) and Y 1,000 units of BBB.
const ReferenceData& MandateUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    b.AddInstrument({"AAA", "alpha", "test", "kg", 10, 1000000, 0});
    b.AddInstrument({"BBB", "beta", "test", "kg", 1, 100000, 0});
    b.AddPair({"AAA", "BBB", 1, 1500, 1000});
    AgencySpec x{"XX", "x", "XX", Role::kAgency};
    x.mandated_minimum_stock = {{"AAA", 50}};
    AgencySpec y{"YY", "y", "XX", Role::kAgency};
    y.mandated_minimum_stock = {{"BBB", 1000}};
    b.AddAgency(x).AddAgency(y);
    b.AddAgreement({"XY", {"XX", "YY"}, {}});
    auto built = b.Build();
    EXPECT_TRUE(built.ok()) << built.status();
    return new ReferenceData(*std::move(built));
  }();
  return *ref;
}

class MandatedStockTest : public ::testing::Test {
 protected:
  MandatedStockTest() : engine_(MandateUniverse(), EngineOptions{.expected_offers = 64}) {
    Do(SetHolding(0, kAaa, 100));
    Do(SetHolding(1, kBbb, 1500));
  }
  RejectReason Do(Command c) {
    c.seq = ++seq_;
    c.time = ++time_;
    events_.clear();
    engine_.Apply(c, &events_);
    return FirstReject(events_);
  }
  OfferId LastAccepted() const { return FirstAccepted(events_); }
  Engine engine_;
  std::vector<Event> events_;
  Seq seq_ = 0;
  TimeNs time_ = 0;
};

TEST_F(MandatedStockTest, SalesBelowTheMinimumAreRefusedOnlyWhereThePolicySaysSo) {
  // NORMAL allows them: 6 lots leave 40 < 50.
  EXPECT_EQ(Do(Submit(0, 0, Side::kSell, 6, 110, 1)), RejectReason::kNone);
  EXPECT_EQ(Do(::msx::testing::Cancel(0, LastAccepted())), RejectReason::kNone);
  // INTEREST does not.
  EXPECT_EQ(Do(SetLevel(kAaa, EmergencyLevel::kInterest)), RejectReason::kNone);
  EXPECT_EQ(Do(Submit(0, 0, Side::kSell, 6, 110, 2)), RejectReason::kBelowMandatedStock);
  EXPECT_EQ(Do(Submit(0, 0, Side::kSell, 5, 110, 3)), RejectReason::kNone);  // leaves 50
  const OfferId five = LastAccepted();
  // Raising it by a replace would go below too.
  EXPECT_EQ(Do(Replace(0, five, 6, 110)), RejectReason::kBelowMandatedStock);
  EXPECT_EQ(Do(Replace(0, five, 4, 110)), RejectReason::kNone);  // lowering is fine
  // The quote side: a buy gives BBB away, governed by BBB's level (still NORMAL).
  EXPECT_EQ(Do(Submit(1, 0, Side::kBuy, 6, 100, 4)), RejectReason::kNone);  // 900 left
  EXPECT_EQ(Do(SetLevel(kBbb, EmergencyLevel::kWarning)), RejectReason::kNone);
  // WARNING's 5 % control: band 95..105.
  EXPECT_EQ(Do(Submit(1, 0, Side::kBuy, 1, 100, 5)), RejectReason::kBelowMandatedStock);
}

// ---- Snapshots and replay ----

// A command stream with every emergency command in it, over random traffic.
std::vector<Command> EmergencyStream(int n) {
  ::msx::testing::RandomCommands::Options opt;
  opt.set_retention = 1;
  ::msx::testing::RandomCommands gen(20261203, opt);
  Engine shadow(TestUniverse(), EngineOptions{.expected_offers = 1 << 14});
  std::vector<Command> cmds;
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Command c = gen.Next();
    const int k = i % 97;
    const Seq seq = c.seq;
    const TimeNs time = c.time;
    if (k == 10) c = SetLevel(kAaa, EmergencyLevel::kWarning, "drill");
    if (k == 20) c = SetLevel(static_cast<InstrumentId>(i / 97 % 4), EmergencyLevel::kCaution);
    if (k == 40) c = PublishReference(kAaa, 1'000'000 + (i % 7) * 20'000, 0, time + 150);
    if (k == 50) c = SuspendMember(kAb, kA3);
    if (k == 60) c = AdmitMember(kAb, kA3);
    if (k == 70) c = PublishReference(kBbb, 100'000 - (i % 5) * 2'000, 0, time);
    if (k == 80) c = SetLevel(kBbb, EmergencyLevel::kSerious, "stocks low");
    if (k == 90) c = SetLevel(kAaa, EmergencyLevel::kNormal);
    if (k == 92) c = SetLevel(kBbb, EmergencyLevel::kNormal);
    if (k == 94) c = SetLevel(static_cast<InstrumentId>(i / 97 % 4), EmergencyLevel::kNormal);
    c.seq = seq;
    c.time = time;
    events.clear();
    shadow.Apply(c, &events);
    gen.Observe(events, 0);
    cmds.push_back(c);
  }
  return cmds;
}

bool SameEvents(const std::vector<Event>& a, const std::vector<Event>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0);
}

TEST(EmergencyReplayTest, RecoveryFromASnapshotTakenMidEmergencyEqualsFullReplay) {
  const std::vector<Command> cmds = EmergencyStream(3000);
  Engine full(TestUniverse(), EngineOptions{.expected_offers = 1 << 14});
  std::vector<std::vector<Event>> full_events(cmds.size());
  std::string snapshot;
  std::size_t cut = 0;
  int changes = 0;
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    full.Apply(cmds[i], &full_events[i]);
    for (const Event& e : full_events[i]) changes += e.type == EventType::kPairBandChanged;
    // Cut while an instrument is above NORMAL and a publication is pending.
    if (snapshot.empty() && i > 1000 && full.GetLevel(kAaa) != EmergencyLevel::kNormal &&
        full.GetInstrumentState(kAaa).pending) {
      snapshot = full.SaveState();
      cut = i + 1;
    }
  }
  ASSERT_FALSE(snapshot.empty()) << "the stream never held a pending publication mid-emergency";
  EXPECT_GT(changes, 20);
  Engine recovered(TestUniverse(), EngineOptions{.expected_offers = 1 << 14});
  ASSERT_TRUE(recovered.LoadState(snapshot).ok());
  EXPECT_EQ(recovered.SaveState(), snapshot);
  EXPECT_NE(recovered.GetLevel(kAaa), EmergencyLevel::kNormal);
  for (std::size_t i = cut; i < cmds.size(); ++i) {
    std::vector<Event> events;
    recovered.Apply(cmds[i], &events);
    ASSERT_TRUE(SameEvents(events, full_events[i])) << "command seq " << cmds[i].seq;
  }
  EXPECT_EQ(recovered.StateDigest(), full.StateDigest());
}

TEST(EmergencyReplayTest, ReplayIsByteForByte) {
  const std::vector<Command> cmds = EmergencyStream(2000);
  Engine a(TestUniverse(), EngineOptions{.expected_offers = 1 << 14});
  Engine b(TestUniverse(), EngineOptions{.expected_offers = 1 << 14});
  int emergency_events = 0;
  for (const Command& c : cmds) {
    std::vector<Event> ea, eb;
    a.Apply(c, &ea);
    b.Apply(c, &eb);
    ASSERT_TRUE(SameEvents(ea, eb)) << "seq " << c.seq;
    for (const Event& e : ea) emergency_events += static_cast<int>(e.type) >= 20;
  }
  EXPECT_GT(emergency_events, 50);
  EXPECT_EQ(a.StateDigest(), b.StateDigest());
}

// Version of a state image: the u32 after the 8-byte magic.
std::uint32_t ImageVersion(const std::string& s) {
  std::uint32_t v = 0;
  std::memcpy(&v, s.data() + 8, sizeof v);  // little-endian hosts only, as the engine
  return v;
}

TEST(EmergencyReplayTest, LiveDataGoesIntoVersionFourOnlyWhenItDiffersFromTheConfiguration) {
  Engine e(TestUniverse(), EngineOptions{.expected_offers = 64});
  EXPECT_EQ(ImageVersion(e.SaveState()), 2u);  // byte for byte as before emergencies
  std::vector<Event> out;
  Command c = SetLevel(kAaa, EmergencyLevel::kWarning, "drill");
  c.seq = 1;
  c.time = 10;
  e.Apply(c, &out);
  const std::string warning = e.SaveState();
  EXPECT_EQ(ImageVersion(warning), 4u);
  Engine f(TestUniverse(), EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(f.LoadState(warning).ok());
  EXPECT_EQ(f.GetLevel(kAaa), EmergencyLevel::kWarning);
  EXPECT_EQ(f.GetPairBand(kAaaBbb).band_low, 95);
  c = SetLevel(kAaa, EmergencyLevel::kNormal);
  c.seq = 2;
  c.time = 20;
  e.Apply(c, &out);
  EXPECT_EQ(ImageVersion(e.SaveState()), 2u);  // back as configured
}

TEST(EmergencyReplayTest, ASuspensionAloneGoesIntoTheSnapshotAndSurvivesRecovery) {
  Engine e(TestUniverse(), EngineOptions{.expected_offers = 64});
  std::vector<Event> out;
  Command c = SuspendMember(kAb, kA3);
  c.seq = 1;
  c.time = 10;
  e.Apply(c, &out);
  const std::string suspended = e.SaveState();
  EXPECT_EQ(ImageVersion(suspended), 4u);  // levels and references as configured
  Engine f(TestUniverse(), EngineOptions{.expected_offers = 64});
  ASSERT_TRUE(f.LoadState(suspended).ok());
  EXPECT_EQ((f.AgreementMembers(kAb) >> kA3) & 1, 0u);
  EXPECT_EQ(f.EligiblePartners(kAaaBbb, kA4), 0u);
  EXPECT_EQ(f.SaveState(), suspended);
  EXPECT_EQ(f.StateDigest(), e.StateDigest());
}

TEST(EmergencyReplayTest, SnapshotRefusesImpossibleLiveData) {
  Engine e(TestUniverse(), EngineOptions{.expected_offers = 64});
  std::vector<Event> out;
  Command c = SetLevel(kAaa, EmergencyLevel::kWarning);
  c.seq = 1;
  c.time = 10;
  e.Apply(c, &out);
  std::string s = e.SaveState();
  // The first instrument's level byte: magic 8 + version 4 + header 72 + 4 halt bytes +
  // value 8 + floor 8.
  const std::size_t level_at = 8 + 4 + 72 + 4 + 16;
  ASSERT_EQ(s[level_at], 3);  // WARNING
  s[level_at] = 9;
  Engine f(TestUniverse(), EngineOptions{.expected_offers = 64});
  const absl::Status st = f.LoadState(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("invalid live reference data of instrument 0 at offset 88"),
            std::string::npos)
      << st;
}

// A quote's floor caps the price where the configuration turns that on (ENGINE.md
// "Reference data"): AAA (value 1,000,000, lot 10) paid in BBB (100,000): reference 100,
// band 85..115. A live publication of BBB's floor at 105,000 caps the price at
// floor(1,000,000 x 10 / 105,000) = 95: the resting bid at 110 now pays BBB away below its
// floor and is cancelled; the bid at 95 stays; a bid at 96 is outside the band.
std::vector<Event> PublishQuoteFloor(bool quote_floors_cap_price) {
  ReferenceDataBuilder b;
  b.AddInstrument({"AAA", "alpha", "test", "kg", 10, 1'000'000, 0});
  b.AddInstrument({"BBB", "beta", "test", "kg", 1, 100'000, 0});
  b.AddPair({"AAA", "BBB", 1, 1500, 1000});
  b.AddAgency({"XX", "x", "XX"}).AddAgency({"YY", "y", "XX"});
  b.AddAgreement({"XY", {"XX", "YY"}, {}});
  b.SetQuoteFloorsCapPrice(quote_floors_cap_price);
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  Engine engine(*ref, EngineOptions{.expected_offers = 64});
  Seq seq = 0;
  std::vector<Event> ev;
  auto apply = [&](Command c) {
    c.seq = ++seq;
    c.time = seq;
    ev.clear();
    engine.Apply(c, &ev);
    return ev;
  };
  apply(SetHolding(0, 1, 1'000'000));
  EXPECT_NE(FirstAccepted(apply(Submit(0, 0, Side::kBuy, 1, 110, 1))), 0u);
  EXPECT_NE(FirstAccepted(apply(Submit(0, 0, Side::kBuy, 1, 95, 2))), 0u);
  std::vector<Event> published = apply(PublishReference(1, 100'000, 105'000));
  EXPECT_EQ(FirstReject(apply(Submit(0, 0, Side::kBuy, 1, 96, 3))),
            quote_floors_cap_price ? RejectReason::kPriceOutsideBand : RejectReason::kNone);
  return published;
}

TEST(QuoteFloorTest, APublishedQuoteFloorCapsThePriceAndCancelsWhatLiesAbove) {
  const std::vector<Event> ev = PublishQuoteFloor(true);
  const std::vector<Event> bands = EventsOf(ev, EventType::kPairBandChanged);
  ASSERT_EQ(bands.size(), 1u);
  EXPECT_EQ(bands[0].band.reference_price, 100);
  EXPECT_EQ(bands[0].band.band_low, 85);
  EXPECT_EQ(bands[0].band.band_high, 95);
  const std::vector<Event> cancels = EventsOf(ev, EventType::kCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.offer, 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kOutsideBand);
}

TEST(QuoteFloorTest, WithoutTheSwitchAQuoteFloorCapsNothing) {
  const std::vector<Event> ev = PublishQuoteFloor(false);
  EXPECT_TRUE(EventsOf(ev, EventType::kPairBandChanged).empty());
  EXPECT_TRUE(EventsOf(ev, EventType::kCancelled).empty());
}

}  // namespace
}  // namespace msx
