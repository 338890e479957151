#include "engine/config/config.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "engine/matching/engine.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

msx::v1::ExchangeConfig Parse(absl::string_view text) {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ParseConfigText(text);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : msx::v1::ExchangeConfig();
}

constexpr char kSmall[] = R"pb(
  instruments { symbol: "CO-99.8" mineral: "cobalt" unit: "kg" lot_size: 1000
                reference_value_micro_usd: 33000000 }
  instruments { symbol: "LIOH-56.5" mineral: "lithium" unit: "kg" lot_size: 1000
                reference_value_micro_usd: 9000000 }
  pairs { base: "CO-99.8" quote: "LIOH-56.5" tick: 1 band_bps: 1500 max_lots: 100 }
  agencies { id: "KOMIR" tokens: "t1" holdings { instrument: "CO-99.8" amount: 5000 } }
  agencies { id: "JOGMEC" tokens: "t2" }
  agreements { name: "A" members: ["KOMIR", "JOGMEC"] }
)pb";

std::string LoadError(const msx::v1::ExchangeConfig& c) {
  absl::StatusOr<ReferenceData> r = LoadReferenceData(c);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(DefaultConfigTest, EmbeddedTextParsesAndLoads) {
  ASSERT_FALSE(DefaultConfigText().empty());
  const msx::v1::ExchangeConfig& c = DefaultConfig();
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_GE(ref->instruments().size(), 25u);
  EXPECT_GE(ref->pairs().size(), 40u);
  EXPECT_GE(ref->agreements().size(), 3u);
  int trading = 0, admins = 0;
  for (const Agency& a : ref->agencies()) (a.role == Role::kAdmin ? admins : trading)++;
  EXPECT_GE(trading, 6);
  EXPECT_EQ(admins, 1);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(DefaultConfigTest, CoversTheRequiredMineralsAndAllSeventeenRareEarths) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok());
  std::set<std::string> minerals;
  for (const Instrument& i : ref->instruments()) minerals.insert(i.mineral_name);
  for (const char* m :
       {"cobalt", "gallium", "germanium", "tungsten", "molybdenum", "lithium", "graphite",
        "antimony", "nickel", "lanthanum", "cerium", "praseodymium", "neodymium", "promethium",
        "samarium", "europium", "gadolinium", "terbium", "dysprosium", "holmium", "erbium",
        "thulium", "ytterbium", "lutetium", "scandium", "yttrium"}) {
    EXPECT_TRUE(minerals.count(m)) << m;
  }
}

TEST(DefaultConfigTest, KnownAgenciesHaveDemoTokensAndAdminExists) {
  const msx::v1::ExchangeConfig& c = DefaultConfig();
  std::set<std::string> tokens;
  for (const auto& a : c.agencies()) {
    ASSERT_EQ(a.tokens_size(), 1) << a.id();
    tokens.insert(a.tokens(0));
  }
  for (const char* t : {"demo-komir", "demo-jogmec", "demo-dla", "demo-cmsr-au", "demo-admin"}) {
    EXPECT_TRUE(tokens.count(t)) << t;
  }
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok());
  auto ops = ref->FindAgency("MSX-OPS");
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(ref->agencies()[*ops].role, Role::kAdmin);
}

// ---- Emergency levels (issue 15) ----

TEST(LevelPolicyConfigTest, LevelsNotListedKeepTheBuiltInPolicies) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(Parse(kSmall));
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (int l = 0; l < kNumEmergencyLevels; ++l) {
    const auto level = static_cast<EmergencyLevel>(l);
    const LevelPolicy want = DefaultLevelPolicy(level);
    const LevelPolicy& got = ref->level_policy(level);
    EXPECT_EQ(got.mode, want.mode) << EmergencyLevelName(level);
    EXPECT_EQ(got.band_bps, want.band_bps) << EmergencyLevelName(level);
  }
  EXPECT_EQ(ref->level_policy(EmergencyLevel::kNormal).mode, MatchingMode::kContinuous);
  EXPECT_TRUE(ref->level_policy(EmergencyLevel::kNormal).sales_below_minimum_stock_allowed);
  EXPECT_EQ(ref->level_policy(EmergencyLevel::kWarning).mode, MatchingMode::kCallAuction);
  EXPECT_FALSE(ref->level_policy(EmergencyLevel::kSerious).recall_allowed);
}

TEST(LevelPolicyConfigTest, ListedFieldsOverrideAndOthersKeepTheLevelsDefault) {
  msx::v1::ExchangeConfig c = Parse(std::string(kSmall) + R"pb(
    level_policies { level: EMERGENCY_LEVEL_CAUTION matching_mode: MATCHING_MODE_CALL_AUCTION
                     auction_interval_seconds: 30 agency_cap_bps: 5000 }
    level_policies { level: EMERGENCY_LEVEL_SERIOUS matching_mode: MATCHING_MODE_CONTINUOUS
                     recall_allowed: true }
  )pb");
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  const LevelPolicy& caution = ref->level_policy(EmergencyLevel::kCaution);
  EXPECT_EQ(caution.mode, MatchingMode::kCallAuction);
  EXPECT_EQ(caution.auction_interval_seconds, 30);
  EXPECT_EQ(caution.agency_cap_bps, 5000);
  EXPECT_EQ(caution.band_bps, 1000);  // CAUTION's built-in band
  EXPECT_FALSE(caution.sales_below_minimum_stock_allowed);
  const LevelPolicy& serious = ref->level_policy(EmergencyLevel::kSerious);
  EXPECT_EQ(serious.mode, MatchingMode::kContinuous);
  EXPECT_EQ(serious.auction_interval_seconds, 0);  // the built-in 60 s does not carry over
  EXPECT_TRUE(serious.recall_allowed);
  EXPECT_EQ(serious.band_bps, 200);
}

TEST(LevelPolicyConfigTest, ErrorsNameTheLevelAndField) {
  auto error = [](absl::string_view policies) {
    return LoadError(Parse(std::string(kSmall) + std::string(policies)));
  };
  EXPECT_EQ(error("level_policies { matching_mode: MATCHING_MODE_CONTINUOUS }"),
            "level_policies[0] (?).level: must be EMERGENCY_LEVEL_NORMAL, _INTEREST, _CAUTION, "
            "_WARNING or _SERIOUS, got 0");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_WARNING }"
                  "level_policies { level: EMERGENCY_LEVEL_WARNING }"),
            "level_policies[1] (WARNING).level: level listed twice");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_WARNING auction_interval_seconds: 0 }"),
            "level_policies[0] (WARNING).auction_interval_seconds: must be between 1 and 86400 "
            "for a call auction, got 0");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_CAUTION auction_interval_seconds: 5 }"),
            "level_policies[0] (CAUTION).auction_interval_seconds: must be 0 (unset) under "
            "continuous matching, got 5");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_NORMAL band_bps: 10001 }"),
            "level_policies[0] (NORMAL).band_bps: must be between 1 and 10000 (or 0 for each "
            "pair's own band), got 10001");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_SERIOUS agency_cap_bps: 0 }"),
            "level_policies[0] (SERIOUS).agency_cap_bps: must be between 1 and 10000, got 0");
  EXPECT_EQ(error("level_policies { level: EMERGENCY_LEVEL_SERIOUS matching_mode: 7 }"),
            "level_policies[0] (SERIOUS).matching_mode: must be MATCHING_MODE_CONTINUOUS or "
            "MATCHING_MODE_CALL_AUCTION, got 7");
  EXPECT_EQ(error("level_policies { level: 9 }"),
            "level_policies[0] (?).level: must be EMERGENCY_LEVEL_NORMAL, _INTEREST, _CAUTION, "
            "_WARNING or _SERIOUS, got 9");
}

TEST(LevelPolicyConfigTest, MandatedStockAndTiersLoadPerAgency) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  auto* komir = c.mutable_agencies(0);
  auto* m = komir->add_mandated_minimum_stock();
  m->set_instrument("CO-99.8");
  m->set_amount(2000);
  komir->add_priority_tiers(msx::v1::PRIORITY_TIER_DEFENCE);
  komir->add_priority_tiers(msx::v1::PRIORITY_TIER_GENERAL);
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->MandatedMinimumStock(0, 0), 2000);
  EXPECT_EQ(ref->MandatedMinimumStock(0, 1), 0);
  EXPECT_EQ(ref->MandatedMinimumStock(1, 0), 0);
  EXPECT_EQ(ref->MandatedMinimumStock(9, 0), 0);  // unknown agency
  EXPECT_EQ(ref->AllowedTiers(0),
            TierBit(PriorityTier::kDefence) | TierBit(PriorityTier::kGeneral));
  EXPECT_EQ(ref->AllowedTiers(1), kGeneralOnly);  // none listed
  EXPECT_EQ(ref->AllowedTiers(9), 0);
}

TEST(LevelPolicyConfigTest, MandatedStockAndTierErrorsNameTheAgencyAndField) {
  auto error = [](absl::string_view komir_extra) {
    msx::v1::ExchangeConfig c = Parse(kSmall);
    msx::v1::AgencyConfig extra;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(std::string(komir_extra), &extra));
    c.mutable_agencies(0)->MergeFrom(extra);
    return LoadError(c);
  };
  EXPECT_EQ(error(R"pb(mandated_minimum_stock { instrument: "XX" amount: 1 })pb"),
            "agencies[0] (KOMIR).mandated_minimum_stock[0].instrument: unknown instrument \"XX\"");
  EXPECT_EQ(error(R"pb(mandated_minimum_stock { instrument: "CO-99.8" amount: 1 }
                      mandated_minimum_stock { instrument: "CO-99.8" amount: 2 })pb"),
            "agencies[0] (KOMIR).mandated_minimum_stock[1].instrument: instrument \"CO-99.8\" "
            "listed twice");
  EXPECT_EQ(error(R"pb(mandated_minimum_stock { instrument: "CO-99.8" amount: 0 })pb"),
            "agencies[0] (KOMIR).mandated_minimum_stock[0].amount: must be > 0");
  EXPECT_EQ(error("priority_tiers: [PRIORITY_TIER_GENERAL, PRIORITY_TIER_GENERAL]"),
            "agencies[0] (KOMIR).priority_tiers[1]: GENERAL listed twice");
  EXPECT_EQ(error("priority_tiers: [PRIORITY_TIER_UNSPECIFIED]"),
            "agencies[0] (KOMIR).priority_tiers[0]: must be PRIORITY_TIER_DEFENCE, "
            "PRIORITY_TIER_ESSENTIAL or PRIORITY_TIER_GENERAL, got 0");
  EXPECT_EQ(error("role: ROLE_ADMIN priority_tiers: [PRIORITY_TIER_GENERAL]"),
            "agencies[0] (KOMIR).priority_tiers[0]: an admin agency does not bid");
}

TEST(DefaultConfigTest, EmbeddedPoliciesEscalateWithTheLevel) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(DefaultConfig().level_policies_size(), kNumEmergencyLevels);
  const LevelPolicy& normal = ref->level_policy(EmergencyLevel::kNormal);
  EXPECT_EQ(normal.mode, MatchingMode::kContinuous);
  EXPECT_TRUE(normal.recall_allowed);
  EXPECT_TRUE(normal.sales_below_minimum_stock_allowed);
  EXPECT_FALSE(ref->level_policy(EmergencyLevel::kInterest).sales_below_minimum_stock_allowed);
  const LevelPolicy& warning = ref->level_policy(EmergencyLevel::kWarning);
  EXPECT_EQ(warning.mode, MatchingMode::kCallAuction);
  EXPECT_GT(warning.auction_interval_seconds, 0);
  EXPECT_LT(warning.agency_cap_bps, kFullShareBps);
  EXPECT_FALSE(warning.recall_allowed);
  // Bands only narrow as the level rises (0 = the pairs' own).
  std::int32_t prev = kFullShareBps;
  for (int l = 1; l < kNumEmergencyLevels; ++l) {
    const std::int32_t band = ref->level_policy(static_cast<EmergencyLevel>(l)).band_bps;
    if (band == 0) continue;
    EXPECT_LE(band, prev) << l;
    prev = band;
  }
  // DLA may bid for defence needs; every trading agency has at least GENERAL.
  EXPECT_TRUE(ref->AllowedTiers(*ref->FindAgency("DLA")) & TierBit(PriorityTier::kDefence));
  for (const Agency& a : ref->agencies()) {
    if (a.role == Role::kAdmin) continue;
    EXPECT_TRUE(ref->AllowedTiers(a.id) & TierBit(PriorityTier::kGeneral)) << a.code;
  }
  EXPECT_GT(ref->MandatedMinimumStock(*ref->FindAgency("KOMIR"), *ref->FindInstrument("CO-99.8")),
            0);
}

TEST(DefaultConfigTest, NdPrFloorAboveTheMarketBinds) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  const Instrument& ndpr = ref->instruments()[*ref->FindInstrument("NDPR-OX")];
  EXPECT_GT(ndpr.floor, ndpr.reference_value);
  // Base: NDPR-OX/CO-99.8, reference 2273 (0.075 x 1e6 / 33); the floor's price is
  // ceil(0.080 x 1e6 / 33) = 2425, above the reference: band 2425..2613.
  const PairBook& base = ref->pairs()[*ref->FindPair("NDPR-OX/CO-99.8")];
  EXPECT_EQ(base.reference_price, 2273);
  EXPECT_EQ(base.floor_price, 2425);
  EXPECT_EQ(base.band_low, 2425);
  EXPECT_EQ(base.band_high, 2613);
  // The engine refuses a sale of NdPr at the reference price.
  Engine engine(*ref, EngineOptions{.expected_offers = 64});
  absl::StatusOr<std::vector<Command>> holdings = InitialHoldingCommands(DefaultConfig(), *ref);
  ASSERT_TRUE(holdings.ok());
  std::vector<Event> events;
  Seq seq = 0;
  for (Command c : *holdings) {
    c.seq = ++seq;
    engine.Apply(c, &events);
  }
  auto submit = [&](PairId pair, Side side, Price price) {
    Command c{};
    c.seq = ++seq;
    c.type = CommandType::kSubmitOffer;
    c.submit = SubmitOffer{*ref->FindAgency("DLA"), pair, side, TimeInForce::kGtc, 1, price,
                           0, 0, 0, 0, seq};
    events.clear();
    engine.Apply(c, &events);
    return events.front().type == EventType::kRejected ? events.front().rejected.reason
                                                       : RejectReason::kNone;
  };
  EXPECT_EQ(submit(base.id, Side::kSell, 2273), RejectReason::kBelowFloor);
  EXPECT_EQ(submit(base.id, Side::kSell, 2425), RejectReason::kNone);
  // Quote: DY-OX/NDPR-OX (tick 100), reference round(250,000 x 100,000 / 75,000) = 333,333,
  // band 283,400..383,300; paying in NdPr at no less than its floor caps the price at
  // floor_to_tick(250,000 x 100,000 / 80,000) = 312,500, below the reference.
  ASSERT_TRUE(DefaultConfig().quote_floors_cap_price());
  const PairBook& quote = ref->pairs()[*ref->FindPair("DY-OX/NDPR-OX")];
  EXPECT_EQ(quote.reference_price, 333333);
  EXPECT_EQ(quote.band_low, 283400);
  EXPECT_EQ(quote.band_high, 312500);
  EXPECT_EQ(quote.floor_price, 0);
  EXPECT_EQ(submit(quote.id, Side::kBuy, 333300), RejectReason::kPriceOutsideBand);
  EXPECT_EQ(submit(quote.id, Side::kBuy, 312600), RejectReason::kPriceOutsideBand);
  EXPECT_EQ(submit(quote.id, Side::kBuy, 312500), RejectReason::kNone);
}

TEST(DefaultConfigTest, CatalogueFollowsForgeAndPaxSilica) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto agreement = [&](const std::string& name) -> const Agreement* {
    for (const Agreement& g : ref->agreements()) {
      if (g.name == name) return &g;
    }
    return nullptr;
  };
  auto member = [&](const Agreement* g, const char* code) {
    return (g->members >> *ref->FindAgency(code)) & 1;
  };
  const Agreement* forge = agreement("FORGE");
  ASSERT_NE(forge, nullptr);
  EXPECT_TRUE(forge->minerals.empty());  // rare earths included
  EXPECT_EQ(agreement("MSP-CORE"), nullptr);
  const Agreement* pax = agreement("PAX-SILICA");
  ASSERT_NE(pax, nullptr);
  for (const char* code :
       {"DLA", "KOMIR", "JOGMEC", "CMSR-AU", "IL-MOE", "SG-EDB", "UK-DBT", "QA-QIA"}) {
    EXPECT_EQ(member(pax, code), 1u) << code;
  }
  EXPECT_EQ(member(pax, "KABIL"), 0u);
  // Silicon and rare earths, nothing else: Israel and Qatar trade silicon for NdPr, not cobalt.
  const AgencyId il = *ref->FindAgency("IL-MOE"), qa = *ref->FindAgency("QA-QIA");
  EXPECT_TRUE(ref->EligiblePartners(*ref->FindPair("SI-553/NDPR-OX"), il) &
              (AgencyMask{1} << qa));
  EXPECT_FALSE(ref->EligiblePartners(*ref->FindPair("SI-553/CO-99.8"), il) &
               (AgencyMask{1} << qa));
}

TEST(LoadReferenceDataTest, FloorAboveTheBandBecomesItsOnlyPrice) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  // CO-99.8 floored at 40 USD/kg, above its 33 reference: CO/LIOH reference 3667, band
  // 3117..4217; the floor's price ceil(40e6 x 1000 / 9e6) = 4445 is above the band.
  c.mutable_instruments(0)->set_floor_micro_usd(40000000);
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->pairs()[0].floor_price, 4445);
  EXPECT_EQ(ref->pairs()[0].band_low, 4445);
  EXPECT_EQ(ref->pairs()[0].band_high, 4445);
}

TEST(DefaultConfigTest, SomeAgreementLeavesOutMembersOrMinerals) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok());
  const AgencyMask all_trading = [&] {
    AgencyMask m = 0;
    for (const Agency& a : ref->agencies()) {
      if (a.role == Role::kAgency) m |= AgencyMask{1} << a.id;
    }
    return m;
  }();
  bool partial = false;
  for (const Agreement& g : ref->agreements()) {
    if (g.members != all_trading || !g.minerals.empty()) partial = true;
  }
  EXPECT_TRUE(partial);
  // KABIL trades rare earths with DLA but not cobalt.
  const AgencyId kabil = *ref->FindAgency("KABIL");
  const AgencyId dla = *ref->FindAgency("DLA");
  const PairId ree = *ref->FindPair("DY-OX/NDPR-OX");
  const PairId co = *ref->FindPair("GA-4N/CO-99.8");
  EXPECT_TRUE(ref->EligiblePartners(ree, kabil) & (AgencyMask{1} << dla));
  EXPECT_FALSE(ref->EligiblePartners(co, kabil) & (AgencyMask{1} << dla));
}

TEST(DefaultConfigTest, DemoCanTradeOutOfTheBox) {
  // Every agency's initial holdings apply cleanly, and a KOMIR sell of cobalt for lithium
  // hydroxide at the reference price fills against a CMSR-AU buy.
  const msx::v1::ExchangeConfig& c = DefaultConfig();
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok());
  absl::StatusOr<std::vector<Command>> holdings = InitialHoldingCommands(c, *ref);
  ASSERT_TRUE(holdings.ok());
  EXPECT_GE(holdings->size(), 6u * 3);
  Engine engine(*ref, EngineOptions{.expected_offers = 1024});
  std::vector<Event> events;
  Seq seq = 0;
  for (Command cmd : *holdings) {
    cmd.seq = ++seq;
    cmd.time = 1;
    engine.Apply(cmd, &events);
  }
  for (const Event& e : events) EXPECT_EQ(e.type, EventType::kHoldingsSet);
  const PairId pair = *ref->FindPair("CO-99.8/LIOH-56.5");
  const PairBook& pb = ref->pairs()[pair];
  Command sell{};
  sell.seq = ++seq;
  sell.time = 2;
  sell.type = CommandType::kSubmitOffer;
  sell.submit = {*ref->FindAgency("KOMIR"), pair, Side::kSell, TimeInForce::kGtc, 10,
                 pb.reference_price, 0, 0, 0, 0, 1};
  Command buy = sell;
  buy.seq = ++seq;
  buy.submit.agency = *ref->FindAgency("CMSR-AU");
  buy.submit.side = Side::kBuy;
  events.clear();
  engine.Apply(sell, &events);
  engine.Apply(buy, &events);
  int fills = 0;
  for (const Event& e : events) fills += e.type == EventType::kFill;
  EXPECT_EQ(fills, 1);
}

TEST(DefaultConfigTest, ServerSectionHasDefaults) {
  const msx::v1::ServerConfig s = ServerConfigWithDefaults(DefaultConfig().server());
  EXPECT_EQ(s.listen(), "127.0.0.1:50051");
  EXPECT_EQ(s.data_dir(), "./data");
  EXPECT_EQ(s.durability(), msx::v1::DURABILITY_SYNC);
  const msx::v1::ServerConfig empty = ServerConfigWithDefaults(msx::v1::ServerConfig());
  EXPECT_EQ(empty.listen(), "127.0.0.1:50051");
  EXPECT_EQ(empty.queue_capacity(), 65536);
  EXPECT_EQ(empty.max_streams_per_agency(), 64);
  EXPECT_EQ(empty.stream_max_queued_messages(), 65536);
  EXPECT_EQ(empty.stream_max_queued_bytes(), 16 << 20);
}

TEST(ParseConfigTextTest, SyntaxErrorNamesLineAndColumn) {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ParseConfigText("instruments {\n  symbol: \n}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(c.status().message(), "config line 3:")) << c.status();
}

TEST(ParseConfigTextTest, UnknownFieldIsAnError) {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ParseConfigText("bogus: 1");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::StrContains(c.status().message(), "bogus")) << c.status();
}

TEST(ReadConfigFileTest, MissingFileIsNotFoundNamingThePath) {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ReadConfigFile("/nonexistent/msx.textproto");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(c.status().message(), "/nonexistent/msx.textproto"));
}

TEST(LoadReferenceDataTest, SmallConfigLoadsWithDerivedBand) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(Parse(kSmall));
  ASSERT_TRUE(ref.ok()) << ref.status();
  const PairBook& pb = ref->pairs()[0];
  EXPECT_EQ(pb.symbol, "CO-99.8/LIOH-56.5");
  EXPECT_EQ(pb.reference_price, 3667);  // 33e6 * 1000 / 9e6 = 3666.67 -> 3667
  EXPECT_EQ(pb.band_low, 3117);         // ceil(3667 * 0.85 = 3116.95)
  EXPECT_EQ(pb.band_high, 4217);        // floor(3667 * 1.15 = 4217.05)
}

TEST(LoadReferenceDataTest, BadTickNamesPairAndField) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_pairs(0)->set_tick(0);
  EXPECT_EQ(LoadError(c), "pairs[0] (CO-99.8/LIOH-56.5).tick: must be > 0");
}

TEST(LoadReferenceDataTest, UnknownQuoteNamesPairAndField) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_pairs(0)->set_quote("GA-4N");
  EXPECT_EQ(LoadError(c), "pairs[0] (CO-99.8/GA-4N).quote: unknown instrument");
}

TEST(LoadReferenceDataTest, BadLotSizeNamesInstrument) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_instruments(1)->set_lot_size(-5);
  EXPECT_EQ(LoadError(c), "instruments[1] (LIOH-56.5).lot_size: must be > 0");
}

TEST(LoadReferenceDataTest, DuplicateInstrumentIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  *c.add_instruments() = c.instruments(0);
  EXPECT_EQ(LoadError(c), "instruments[2] (CO-99.8).symbol: duplicate symbol");
}

TEST(LoadReferenceDataTest, UnknownAgreementMemberNamesIndex) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_agreements(0)->add_members("DLA");
  EXPECT_EQ(LoadError(c), "agreements[0] (A).members[2]: unknown agency \"DLA\"");
}

TEST(LoadReferenceDataTest, UnknownAgreementMineralIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_agreements(0)->add_minerals("unobtainium");
  EXPECT_EQ(LoadError(c), "agreements[0] (A).minerals[0]: unknown mineral \"unobtainium\"");
}

TEST(LoadReferenceDataTest, BadAgencyIdIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_agencies(1)->set_id("jogmec");
  EXPECT_EQ(LoadError(c), "agencies[1] (jogmec).id: must match [A-Z0-9-]{2,16}");
}

TEST(LoadReferenceDataTest, DuplicateTokenNamesOwner) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_agencies(1)->set_tokens(0, "t1");
  EXPECT_EQ(LoadError(c), "agencies[1] (JOGMEC).tokens[0]: token already belongs to agency KOMIR");
}

TEST(LoadReferenceDataTest, HoldingOfUnknownInstrumentIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_agencies(0)->mutable_holdings(0)->set_instrument("XX");
  EXPECT_EQ(LoadError(c), "agencies[0] (KOMIR).holdings[0].instrument: unknown instrument \"XX\"");
}

TEST(LoadReferenceDataTest, BandOutsideRangeIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_pairs(0)->set_band_bps(0);
  EXPECT_EQ(LoadError(c), "pairs[0] (CO-99.8/LIOH-56.5).band_bps: must be in 1..10000");
}

TEST(LoadReferenceDataTest, TickWiderThanBandIsRejected) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_pairs(0)->set_tick(5000);
  EXPECT_TRUE(absl::StrContains(LoadError(c), "pairs[0] (CO-99.8/LIOH-56.5).tick: leaves no"));
}

// A quote's floor caps the price only where the configuration says so
// (quote_floors_cap_price): configurations from before keep their bands.
TEST(LoadReferenceDataTest, QuoteFloorCapsBandHighWhenTheConfigurationSaysSo) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  // LIOH floored at 10 USD/kg: paying 1 lot of CO (33e6 x 1000) in lithium at no less
  // than 10e6 a kg caps the price at 3300, inside the band 3117..4217.
  c.mutable_instruments(1)->set_floor_micro_usd(10000000);
  absl::StatusOr<ReferenceData> before = LoadReferenceData(c);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_FALSE(before->quote_floors_cap_price());
  EXPECT_EQ(before->pairs()[0].band_low, 3117);
  EXPECT_EQ(before->pairs()[0].band_high, 4217);
  c.set_quote_floors_cap_price(true);
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->pairs()[0].reference_price, 3667);
  EXPECT_EQ(ref->pairs()[0].band_low, 3117);
  EXPECT_EQ(ref->pairs()[0].band_high, 3300);
  EXPECT_EQ(ref->pairs()[0].floor_price, 0);
  // Floored at 12 USD/kg: cap 2750, below the whole band: the band's only price.
  c.mutable_instruments(1)->set_floor_micro_usd(12000000);
  ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->pairs()[0].band_low, 2750);
  EXPECT_EQ(ref->pairs()[0].band_high, 2750);
  // With CO also floored at 40 USD/kg (floor price 4445), no price satisfies both floors.
  c.mutable_instruments(0)->set_floor_micro_usd(40000000);
  EXPECT_EQ(LoadError(c),
            "pairs[0] (CO-99.8/LIOH-56.5).quote: quote floor caps the price below one tick or "
            "below the base's floor price");
}

TEST(LoadReferenceDataTest, FloorRaisesBandLow) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  // Floor $32/kg: price * 9e6 >= 32e6 * 1000 -> price >= 3555.6 -> 3556 > 3117.
  c.mutable_instruments(0)->set_floor_micro_usd(32000000);
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(c);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->pairs()[0].floor_price, 3556);
  EXPECT_EQ(ref->pairs()[0].band_low, 3556);
}

TEST(LoadReferenceDataTest, QueueCapacityMustBePowerOfTwo) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_server()->set_queue_capacity(1000);
  EXPECT_EQ(LoadError(c), "server.queue_capacity: must be a power of two, got 1000");
}

TEST(LoadReferenceDataTest, EveryServerNumberIsBounded) {
  struct Case {
    void (*set)(msx::v1::ServerConfig*);
    const char* error;
  };
  const Case cases[] = {
      {[](msx::v1::ServerConfig* s) { s->set_queue_capacity(1073741824); },
       "server.queue_capacity: must be between 2 and 16777216 (or 0 for 65536), got 1073741824"},
      {[](msx::v1::ServerConfig* s) { s->set_queue_capacity(1); },
       "server.queue_capacity: must be between 2 and 16777216 (or 0 for 65536), got 1"},
      {[](msx::v1::ServerConfig* s) { s->set_queue_capacity(-4); },
       "server.queue_capacity: must be between 2 and 16777216 (or 0 for 65536), got -4"},
      {[](msx::v1::ServerConfig* s) { s->set_time_tick_ms(9223372036854775807); },
       "server.time_tick_ms: must be between 1 and 3600000 (or 0 for 100), got "
       "9223372036854775807"},
      {[](msx::v1::ServerConfig* s) { s->set_max_streams_per_agency(-1); },
       "server.max_streams_per_agency: must be between 1 and 100000 (or 0 for 64), got -1"},
      {[](msx::v1::ServerConfig* s) { s->set_stream_max_queued_messages(-5); },
       "server.stream_max_queued_messages: must be between 1 and 16777216 (or 0 for 65536), "
       "got -5"},
      {[](msx::v1::ServerConfig* s) { s->set_stream_max_queued_bytes(100); },
       "server.stream_max_queued_bytes: must be between 1024 and 4294967296 (or 0 for "
       "16777216), got 100"},
      {[](msx::v1::ServerConfig* s) { s->set_time_tick_ms(-1); },
       "server.time_tick_ms: must be between 1 and 3600000 (or 0 for 100), got -1"},
      {[](msx::v1::ServerConfig* s) { s->set_journal_segment_bytes(100); },
       "server.journal_segment_bytes: must be between 4096 and 17179869184 (or 0 for "
       "67108864), got 100"},
      {[](msx::v1::ServerConfig* s) { s->set_journal_segment_bytes(1ll << 40); },
       "server.journal_segment_bytes: must be between 4096 and 17179869184 (or 0 for "
       "67108864), got 1099511627776"},
      {[](msx::v1::ServerConfig* s) { s->set_snapshot_every_records(-5); },
       "server.snapshot_every_records: must be between 1 and 1000000000000 (or 0 for "
       "1000000), got -5"},
      {[](msx::v1::ServerConfig* s) { s->set_snapshot_every_records(1ll << 62); },
       "server.snapshot_every_records: must be between 1 and 1000000000000 (or 0 for "
       "1000000), got 4611686018427387904"},
  };
  for (const Case& k : cases) {
    msx::v1::ExchangeConfig c = Parse(kSmall);
    k.set(c.mutable_server());
    EXPECT_EQ(LoadError(c), k.error);
  }
}

TEST(CheckListenAddressTest, AcceptsHostPortAndRefusesTheRest) {
  for (const char* ok : {"127.0.0.1:0", "127.0.0.1:50051", "localhost:65535", "0.0.0.0:1",
                         "[::1]:50051", "[::]:0"}) {
    EXPECT_TRUE(CheckListenAddress(ok).ok()) << ok << ": " << CheckListenAddress(ok);
  }
  const std::pair<const char*, const char*> bad[] = {
      {"nonsense", "expected HOST:PORT (e.g. 127.0.0.1:50051), got \"nonsense\""},
      {"127.0.0.1:99999",
       "port must be a number between 0 and 65535, got \"99999\" in \"127.0.0.1:99999\""},
      {"127.0.0.1:", "port must be a number between 0 and 65535, got \"\" in \"127.0.0.1:\""},
      {"127.0.0.1:-1",
       "port must be a number between 0 and 65535, got \"-1\" in \"127.0.0.1:-1\""},
      {"127.0.0.1:0x50",
       "port must be a number between 0 and 65535, got \"0x50\" in \"127.0.0.1:0x50\""},
      {"127.0.0.1:4294967297", "port must be a number between 0 and 65535, got \"4294967297\""},
      {":50051", "empty host in \":50051\""},
      {"::1:50051", "an IPv6 host goes in brackets"},
  };
  for (const auto& [address, error] : bad) {
    absl::Status s = CheckListenAddress(address);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << address;
    EXPECT_TRUE(absl::StartsWith(s.message(), error)) << address << ": " << s;
  }
}

TEST(LoadReferenceDataTest, ListenAddressIsChecked) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  c.mutable_server()->set_listen("127.0.0.1:99999");
  EXPECT_EQ(LoadError(c),
            "server.listen: port must be a number between 0 and 65535, got \"99999\" in "
            "\"127.0.0.1:99999\"");
}

TEST(LoadReferenceDataTest, OfferRetentionIsBoundedAndDefaultsToSevenDays) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  EXPECT_EQ(OfferRetentionNs(c.server()), 7ll * 24 * 3600 * 1'000'000'000);
  c.mutable_server()->set_offer_retention_seconds(-1);
  EXPECT_TRUE(ValidateConfig(c).ok()) << ValidateConfig(c);
  EXPECT_EQ(OfferRetentionNs(c.server()), 0);  // kept forever
  c.mutable_server()->set_offer_retention_seconds(3600);
  EXPECT_EQ(OfferRetentionNs(c.server()), 3600ll * 1'000'000'000);
  c.mutable_server()->set_offer_retention_seconds(kMaxOfferRetentionSeconds);
  EXPECT_TRUE(ValidateConfig(c).ok()) << ValidateConfig(c);
  c.mutable_server()->set_offer_retention_seconds(-2);
  EXPECT_EQ(LoadError(c),
            "server.offer_retention_seconds: must be between 1 and 3153600000 (or 0 for 604800, "
            "-1 to keep every offer forever), got -2");
  c.mutable_server()->set_offer_retention_seconds(kMaxOfferRetentionSeconds + 1);
  EXPECT_NE(LoadError(c), "");
}

TEST(LoadReferenceDataTest, ServerNumbersAtTheirBoundsAreAccepted) {
  msx::v1::ExchangeConfig c = Parse(kSmall);
  msx::v1::ServerConfig* s = c.mutable_server();
  s->set_queue_capacity(16777216);
  s->set_time_tick_ms(3600000);
  s->set_journal_segment_bytes(4096);
  s->set_snapshot_every_records(1);
  EXPECT_TRUE(ValidateConfig(c).ok()) << ValidateConfig(c);
  s->set_queue_capacity(2);
  s->set_time_tick_ms(1);
  s->set_journal_segment_bytes(16ll << 30);
  s->set_snapshot_every_records(1000000000000);
  EXPECT_TRUE(ValidateConfig(c).ok()) << ValidateConfig(c);
}

// ---- Time swaps: term books and agreement terms ----

constexpr char kTerms[] = R"pb(
  instruments { symbol: "CO-99.8" mineral: "cobalt" unit: "kg" lot_size: 1000
                reference_value_micro_usd: 33000000
                term_tenor_days: [30, 90] term_max_lots: 500 }
  agencies { id: "KOMIR" tokens: "t1" }
  agencies { id: "JOGMEC" tokens: "t2" }
  agencies { id: "DLA" tokens: "t3" }
  agreements { name: "A" members: ["KOMIR", "JOGMEC"]
               default_credit_limit_micro_usd: 1000000
               credit_limits { borrower: "JOGMEC" limit_micro_usd: 7000000 }
               recall_allowed: true recall_notice_days: 3 }
  agreements { name: "B" members: ["KOMIR", "DLA"] }
)pb";

TEST(TermConfigTest, TenorsMakeOneTermBookEachNamedSymbolAtDays) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(Parse(kTerms));
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_EQ(ref->term_books().size(), 2u);
  EXPECT_EQ(ref->term_books()[1].symbol, "CO-99.8@90D");
  EXPECT_EQ(ref->term_books()[1].tenor, 90 * kNsPerDay);
  EXPECT_EQ(ref->term_books()[1].max_lots, 500);
  EXPECT_EQ(ref->FindTermBook("CO-99.8@30D"), 0u);
  EXPECT_FALSE(ref->FindTermBook("CO-99.8@60D").has_value());
}

TEST(TermConfigTest, CreditLimitsPerBorrowerWithDefaultAndRecallTerms) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(Parse(kTerms));
  ASSERT_TRUE(ref.ok()) << ref.status();
  const Agreement& a = ref->agreements()[0];
  EXPECT_EQ(a.credit_limit[0], 1000000);  // KOMIR: the default
  EXPECT_EQ(a.credit_limit[1], 7000000);  // JOGMEC: its own
  EXPECT_EQ(a.credit_limit[2], 0);        // DLA: not a member
  EXPECT_TRUE(a.recall_allowed);
  EXPECT_EQ(a.recall_notice, 3 * kNsPerDay);
  const Agreement& b = ref->agreements()[1];
  EXPECT_EQ(b.credit_limit[0], 0);  // no limit given: may not borrow under B
  EXPECT_FALSE(b.recall_allowed);
  EXPECT_EQ(b.recall_notice, 8 * kNsPerDay);  // the default notice
  EXPECT_EQ(b.grace, 30 * kNsPerDay);
}

TEST(TermConfigTest, BadTenorNamesInstrumentAndField) {
  msx::v1::ExchangeConfig c = Parse(kTerms);
  c.mutable_instruments(0)->set_term_tenor_days(1, 0);
  EXPECT_EQ(LoadError(c),
            "instruments[0] (CO-99.8).term_tenor_days[1]: must be between 1 and 3650 days, got 0");
  c = Parse(kTerms);
  c.mutable_instruments(0)->set_term_tenor_days(1, 30);
  EXPECT_EQ(LoadError(c), "instruments[0] (CO-99.8).term_tenor_days[1]: tenor 30 listed twice");
  c = Parse(kTerms);
  c.mutable_instruments(0)->set_term_max_lots(0);
  EXPECT_EQ(LoadError(c),
            "instruments[0] (CO-99.8).term_max_lots: must be > 0 when term_tenor_days is set");
}

TEST(TermConfigTest, BadCreditLimitNamesAgreementAndField) {
  msx::v1::ExchangeConfig c = Parse(kTerms);
  c.mutable_agreements(0)->mutable_credit_limits(0)->set_borrower("DLA");
  EXPECT_EQ(LoadError(c),
            "agreements[0] (A).credit_limits[0].borrower: \"DLA\" is not a member of the "
            "agreement");
  c = Parse(kTerms);
  c.mutable_agreements(0)->mutable_credit_limits(0)->set_limit_micro_usd(-1);
  EXPECT_EQ(LoadError(c), "agreements[0] (A).credit_limits[0].limit_micro_usd: must be >= 0");
  c = Parse(kTerms);
  c.mutable_agreements(1)->set_recall_notice_days(4000);
  EXPECT_EQ(LoadError(c),
            "agreements[1] (B).recall_notice_days: must be between 0 and 3650 (0 = 8)");
  c = Parse(kTerms);
  *c.mutable_agreements(0)->add_credit_limits() = c.agreements(0).credit_limits(0);
  EXPECT_EQ(LoadError(c), "agreements[0] (A).credit_limits[1].borrower: \"JOGMEC\" listed twice");
}

TEST(DefaultConfigTest, CobaltIsLentFor30_90And180DaysWithCreditUnderForge) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (const char* s : {"CO-99.8@30D", "CO-99.8@90D", "CO-99.8@180D"}) {
    EXPECT_TRUE(ref->FindTermBook(s).has_value()) << s;
  }
  const Agreement& core = ref->agreements()[0];
  EXPECT_EQ(core.name, "FORGE");
  EXPECT_GT(core.credit_limit[*ref->FindAgency("JOGMEC")], 0);
  EXPECT_TRUE(core.recall_allowed);
  EXPECT_EQ(core.recall_notice, 8 * kNsPerDay);
}

}  // namespace
}  // namespace msx
