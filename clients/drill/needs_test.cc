// Tests of the drill's emergency parts (issue 15, section 5): the external_supply_loss edit,
// checked against a small journal with WARNING-level allocation auctions whose every
// figure is computed by hand below.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/drill/format.h"
#include "clients/drill/report.h"
#include "clients/drill/report_html.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/testing/traffic_journal.h"
#include "gtest/gtest.h"

namespace msx::drill {
namespace {

using journal::testing::TempDir;

// AAA and CCC (kg, lot 10, 1 USD/kg) against BBB (kg, lot 1, 0.1 USD/kg): pairs AAA/BBB and
// CCC/BBB, reference price 100 BBB per lot. WARNING: a call auction every 60 s, a price
// control of 5 % (band 95..105: the auction prices at the reference, 100), at most 50 % of
// an auction's supply per agency. AG-S sells; AG-D may bid DEFENCE, AG-E ESSENTIAL, AG-G
// and AG-F GENERAL only.
constexpr char kAuctionConfig[] = R"(
instruments { symbol: "AAA" mineral: "alpha" unit: "kg" lot_size: 10 reference_value_micro_usd: 1000000 }
instruments { symbol: "BBB" mineral: "beta" unit: "kg" lot_size: 1 reference_value_micro_usd: 100000 }
instruments { symbol: "CCC" mineral: "gamma" unit: "kg" lot_size: 10 reference_value_micro_usd: 1000000 }
pairs { base: "AAA" quote: "BBB" tick: 1 band_bps: 1500 max_lots: 1000 }
pairs { base: "CCC" quote: "BBB" tick: 1 band_bps: 1500 max_lots: 1000 }
agencies { id: "AG-S" country: "AU" role: ROLE_AGENCY tokens: "t-s" }
agencies { id: "AG-D" country: "US" role: ROLE_AGENCY tokens: "t-d"
           priority_tiers: [PRIORITY_TIER_DEFENCE, PRIORITY_TIER_GENERAL] }
agencies { id: "AG-E" country: "KR" role: ROLE_AGENCY tokens: "t-e"
           priority_tiers: [PRIORITY_TIER_ESSENTIAL, PRIORITY_TIER_GENERAL] }
agencies { id: "AG-G" country: "JP" role: ROLE_AGENCY tokens: "t-g" }
agencies { id: "AG-F" country: "FR" role: ROLE_AGENCY tokens: "t-f" }
agreements { name: "ALL" members: ["AG-S", "AG-D", "AG-E", "AG-G", "AG-F"] }
level_policies { level: EMERGENCY_LEVEL_WARNING matching_mode: MATCHING_MODE_CALL_AUCTION
                 auction_interval_seconds: 60 band_bps: 500 agency_cap_bps: 5000 }
)";
constexpr TimeNs kSecond = 1'000'000'000;
constexpr TimeNs kDay = 86'400 * kSecond;
constexpr TimeNs kT0 = 1'789'999'980 * kSecond;
constexpr AgencyId kS = 0, kD = 1, kE = 2, kG = 3, kF = 4;
constexpr InstrumentId kAaa = 0, kBbb = 1, kCcc = 2;
constexpr PairId kAaaBbb = 0, kCccBbb = 1;

Command At(TimeNs t, CommandType type) {
  Command c{};
  c.time = t;
  c.type = type;
  return c;
}

Command Holding(AgencyId a, InstrumentId i, Amount total) {
  Command c = At(kT0, CommandType::kSetHoldings);
  c.set_holdings = SetHoldings{a, i, total};
  return c;
}

Command Sell(TimeNs t, PairId pair, Lots lots, ClientOfferId id) {
  Command c = At(t, CommandType::kSubmitOffer);
  c.submit = SubmitOffer{kS, pair, Side::kSell, TimeInForce::kGtc, lots, 100, 0, 0, 0, 0, id};
  return c;
}

Command Buy(TimeNs t, AgencyId a, PairId pair, Lots lots, ClientOfferId id) {
  Command c = At(t, CommandType::kSubmitOffer);
  c.submit = SubmitOffer{a, pair, Side::kBuy, TimeInForce::kGtc, lots, 100, 0, 0, 0, 0, id};
  return c;
}

Command NeedBuy(TimeNs t, AgencyId a, PairId pair, Lots lots, Amount need, PriorityTier tier,
                ClientOfferId id) {
  Command c = At(t, CommandType::kSubmitOfferWithNeed);
  c.submit_need.offer =
      SubmitOffer{a, pair, Side::kBuy, TimeInForce::kGtc, lots, 100, 0, 0, 0, 0, id};
  c.submit_need.need = need;
  c.submit_need.tier = tier;
  return c;
}

Command Level(TimeNs t, EmergencyLevel level) {
  Command c = At(t, CommandType::kSetEmergencyLevel);
  c.set_level = SetEmergencyLevel{kAaa, level, 0, ""};
  return c;
}

Command Tick(TimeNs t) {
  Command c = At(t, CommandType::kRunAuction);
  c.run_auction = RunAuction{kAaa};
  return c;
}

// The journal (seq: command; offer ids in brackets):
//   1-6   holdings: AG-S 1000 kg AAA and CCC, the four buyers 100,000 kg BBB each
//   7     t0+1s  S sells 5 CCC @ 100                                          [1]
//   8     t0+1s  G buys 1 CCC, no need: fills 1 (NORMAL)                      [2]
//   9     t0+1s  F buys 2 CCC, need 20 kg GENERAL: fills 2 (NORMAL)           [3]
//   10    t0+2s  AAA -> WARNING
//   11    t0+3s  S sells 20 AAA @ 100: rests (call-auction mode)              [4]
//   12    t0+4s  D buys 12 AAA, need 120 kg DEFENCE                           [5]
//   13    t0+5s  E buys 7 AAA, need 70 kg GENERAL                             [6]
//   14    t0+6s  G buys 5 AAA, need 50 kg GENERAL                             [7]
//   15    t0+7s  F buys 3 AAA, need 30 kg GENERAL                             [8]
//   16    t0+60s auction 1: supply 20, cap 10 lots. DEFENCE: D claims 12, capped: 10.
//                GENERAL, 10 lots for claims E 7, G 5, F 3 (weights 70, 50, 30): quotas
//                4.67, 3.33, 2 -> 4, 3, 2, the lot left to the largest remainder (E):
//                E 5, G 3, F 2.
//   17    t0+9d  S sells 4 AAA @ 100                                          [9]
//   18    t0+9d+60s auction 2: supply 4, cap 2. DEFENCE: D claims 2 (20 kg of need left): 2.
//                GENERAL, 2 lots for claims E 2, G 2, F 1 (needs left 20, 20, 10): quotas
//                0.8, 0.8, 0.4 -> 0 each; the two lots to the largest remainders, E and
//                G (tied, E first in time): E 1, G 1.
//   19    t0+9d+70s AAA -> NORMAL (the resting buys E 1, G 1, F 1 lot cross nothing)
std::vector<Command> AuctionCommands() {
  std::vector<Command> c = {Holding(kS, kAaa, 1000), Holding(kS, kCcc, 1000),
                            Holding(kD, kBbb, 100000), Holding(kE, kBbb, 100000),
                            Holding(kG, kBbb, 100000), Holding(kF, kBbb, 100000)};
  c.push_back(Sell(kT0 + kSecond, kCccBbb, 5, 1));
  c.push_back(Buy(kT0 + kSecond, kG, kCccBbb, 1, 1));
  c.push_back(NeedBuy(kT0 + kSecond, kF, kCccBbb, 2, 20, PriorityTier::kGeneral, 1));
  c.push_back(Level(kT0 + 2 * kSecond, EmergencyLevel::kWarning));
  c.push_back(Sell(kT0 + 3 * kSecond, kAaaBbb, 20, 2));
  c.push_back(NeedBuy(kT0 + 4 * kSecond, kD, kAaaBbb, 12, 120, PriorityTier::kDefence, 1));
  c.push_back(NeedBuy(kT0 + 5 * kSecond, kE, kAaaBbb, 7, 70, PriorityTier::kGeneral, 1));
  c.push_back(NeedBuy(kT0 + 6 * kSecond, kG, kAaaBbb, 5, 50, PriorityTier::kGeneral, 2));
  c.push_back(NeedBuy(kT0 + 7 * kSecond, kF, kAaaBbb, 3, 30, PriorityTier::kGeneral, 2));
  c.push_back(Tick(kT0 + 60 * kSecond));
  c.push_back(Sell(kT0 + 9 * kDay, kAaaBbb, 4, 3));
  c.push_back(Tick(kT0 + 9 * kDay + 60 * kSecond));
  c.push_back(Level(kT0 + 9 * kDay + 70 * kSecond, EmergencyLevel::kNormal));
  return c;
}

msx::v1::ExchangeConfig AuctionConfig() {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ParseConfigText(kAuctionConfig);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// Applies `cmds` (seq 1, 2, ...) to an engine and journals them in `dir`.
void WriteJournal(const std::string& dir, const std::vector<Command>& cmds) {
  const msx::v1::ExchangeConfig config = AuctionConfig();
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  ASSERT_TRUE(ref.ok()) << ref.status();
  Engine engine(*ref, EngineOptions{.expected_offers = 64});
  journal::WriterOptions wo;
  wo.durability = journal::Durability::kNone;
  wo.config = config.SerializeAsString();
  auto writer = journal::JournalWriter::Open(dir, std::move(wo));
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<Event> events;
  Seq seq = 0;
  for (Command c : cmds) {
    c.seq = ++seq;
    events.clear();
    engine.Apply(c, &events);
    for (const Event& e : events) {
      ASSERT_NE(e.type, EventType::kRejected) << "seq " << c.seq;
    }
    ASSERT_TRUE((*writer)->Append(c, events).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

// What the journal in `dir` shows, read straight from its records: the need each agency
// declared (accepted SubmitOfferWithNeed), and the lots each agency bought in each auction
// (RunAuction commands, in order).
struct JournalNeeds {
  std::map<AgencyId, Amount> declared;
  std::vector<std::map<AgencyId, Lots>> auctions;
};

JournalNeeds ReadNeeds(const std::string& dir) {
  JournalNeeds out;
  auto reader = journal::JournalReader::Open(dir, journal::ReaderOptions{});
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) {
    const Command& c = entry.command;
    if (c.type == CommandType::kRunAuction) out.auctions.emplace_back();
    for (const Event& e : entry.events) {
      if (e.type == EventType::kAccepted && c.type == CommandType::kSubmitOfferWithNeed) {
        out.declared[c.submit_need.offer.agency] += c.submit_need.need;
      }
      if (e.type == EventType::kFill && c.type == CommandType::kRunAuction) {
        out.auctions.back()[e.fill.taker_agency] += e.fill.lots;
      }
    }
  }
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  return out;
}

msx::v1::Scenario Scenario(const std::string& text) {
  absl::StatusOr<msx::v1::Scenario> s = ParseScenarioText(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(SupplyLossTest, HandBuiltJournalAllocatesAsComputedByHand) {
  TempDir tmp;
  WriteJournal(tmp.path(), AuctionCommands());
  const JournalNeeds n = ReadNeeds(tmp.path());
  EXPECT_EQ(n.declared, (std::map<AgencyId, Amount>{{kD, 120}, {kE, 70}, {kG, 50}, {kF, 50}}));
  ASSERT_EQ(n.auctions.size(), 2u);
  EXPECT_EQ(n.auctions[0], (std::map<AgencyId, Lots>{{kD, 10}, {kE, 5}, {kG, 3}, {kF, 2}}));
  EXPECT_EQ(n.auctions[1], (std::map<AgencyId, Lots>{{kD, 2}, {kE, 1}, {kG, 1}}));
}

// AG-E loses 40 kg of AAA supply just before the first auction: the drill adds one buy of
// 4 lots at the reference price declaring 40 kg in ESSENTIAL (AG-E's most urgent allowed
// tier). Auction 1 then: DEFENCE D 10 (capped); ESSENTIAL E 4 (its claim); GENERAL, 6 lots
// for claims E 6 (its cap of 10 less the 4), G 5, F 3, weights 70, 50, 30: quotas 2.8, 2,
// 1.2 -> 2, 2, 1, the lot left to E (remainder 120/150): E 3, G 2, F 1.
TEST(SupplyLossTest, RaisesTheDeclaredNeedByExactlyTheUnitsAndShiftsTheAllocation) {
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  WriteJournal(journal, AuctionCommands());
  const std::string out = tmp.file("drill");
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 16 external_supply_loss { agency: "AG-E" instrument: "AAA" units: 40 } }
  )"),
                                           out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 1u);
  EXPECT_EQ(r->fired[0].description,
            "supply loss: AG-E needs 40 kg more AAA: buy 4 lots AAA/BBB @ 100, ESSENTIAL "
            "(offer 9)");
  EXPECT_EQ(r->fired[0].commands, 1u);
  EXPECT_EQ(r->fired[0].drill_seq, 16u);

  const JournalNeeds before = ReadNeeds(journal);
  const JournalNeeds after = ReadNeeds(out);
  Amount total_before = 0, total_after = 0;
  for (const auto& [a, need] : before.declared) total_before += need;
  for (const auto& [a, need] : after.declared) total_after += need;
  EXPECT_EQ(total_after - total_before, 40);
  EXPECT_EQ(after.declared.at(kE), 70 + 40);
  ASSERT_EQ(after.auctions.size(), 2u);
  EXPECT_EQ(after.auctions[0], (std::map<AgencyId, Lots>{{kD, 10}, {kE, 7}, {kG, 2}, {kF, 1}}));

  absl::StatusOr<VerifyResult> v = VerifyReplay(out, /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

// A tier and a pair given explicitly: 25 kg is 3 lots of 10 kg.
TEST(SupplyLossTest, ExplicitTierAndPairAreUsed) {
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  WriteJournal(journal, AuctionCommands());
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 16 external_supply_loss { agency: "AG-D" instrument: "AAA" units: 25
                                                tier: PRIORITY_TIER_GENERAL pair: "AAA/BBB" } }
  )"),
                                           tmp.file("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 1u);
  EXPECT_EQ(r->fired[0].description,
            "supply loss: AG-D needs 25 kg more AAA: buy 3 lots AAA/BBB @ 100, GENERAL "
            "(offer 9)");
}

TEST(SupplyLossTest, BadEditsAreRejectedNamingTheField) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(AuctionConfig());
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto err = [&](const std::string& text) {
    absl::StatusOr<std::vector<ResolvedEdit>> r = ResolveScenario(Scenario(text), *ref);
    EXPECT_FALSE(r.ok()) << text;
    return std::string(r.status().message());
  };
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-X" instrument: "AAA" units: 1 } })"),
            "edits[0].external_supply_loss.agency: unknown agency \"AG-X\"");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "ZZZ" units: 1 } })"),
            "edits[0].external_supply_loss.instrument: unknown instrument \"ZZZ\"");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "BBB" units: 1 } })"),
            "edits[0].external_supply_loss.instrument: no pair has \"BBB\" as its base");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "AAA" } })"),
            "edits[0].external_supply_loss.units: must be > 0");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "AAA" units: -5 } })"),
            "edits[0].external_supply_loss.units: must be > 0");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-G" instrument: "AAA"
                                                              units: 1 tier: PRIORITY_TIER_DEFENCE } })"),
            "edits[0].external_supply_loss.tier: AG-G may not declare needs in tier DEFENCE "
            "(allowed: GENERAL)");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "AAA"
                                                              units: 1 tier: PRIORITY_TIER_DEFENCE } })"),
            "edits[0].external_supply_loss.tier: AG-E may not declare needs in tier DEFENCE "
            "(allowed: ESSENTIAL, GENERAL)");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "AAA"
                                                              units: 1 pair: "CCC/BBB" } })"),
            "edits[0].external_supply_loss.pair: \"CCC/BBB\" does not have \"AAA\" as its base");
  EXPECT_EQ(err(R"(edits { at_seq: 1 external_supply_loss { agency: "AG-E" instrument: "AAA"
                                                              units: 1 pair: "AAA/ZZZ" } })"),
            "edits[0].external_supply_loss.pair: unknown pair \"AAA/ZZZ\"");
  EXPECT_EQ(err(R"(edits { external_supply_loss { agency: "AG-E" instrument: "AAA" units: 1 } })"),
            "edits[0]: needs a trigger (at_seq or at_time_ns)");
  EXPECT_EQ(err(R"(edits { at_seq: 1 halt_pair { pair: "AAA/BBB" } }
                   edits { at_time_ns: 5 external_supply_loss { agency: "AG-E" instrument: "AAA"
                                                                 units: 0 } })"),
            "edits[1].external_supply_loss.units: must be > 0");
  // A good one resolves.
  absl::StatusOr<std::vector<ResolvedEdit>> ok = ResolveScenario(
      Scenario(R"(edits { at_time_ns: 5 external_supply_loss { agency: "AG-D" instrument: "CCC" units: 7 } })"),
      *ref);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].kind, ResolvedEdit::Kind::kSupplyLoss);
  EXPECT_EQ((*ok)[0].units, 7);
  EXPECT_EQ((*ok)[0].tier, PriorityTier::kDefence);
  EXPECT_TRUE((*ok)[0].any_pair);
  EXPECT_EQ((*ok)[0].instrument, kCcc);
}

// The example shipped with the tool: every edit fires as one accepted command on a
// default-configuration journal, and the drill journal replays byte for byte.
TEST(SupplyLossTest, GalliumExampleFiresEveryEditOnADefaultConfigJournal) {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  const std::string path =
      src ? std::string(src) + "/clients/drill/examples/gallium_export_ban.textproto"
          : std::filesystem::path(__FILE__).parent_path().string() +
                "/examples/gallium_export_ban.textproto";
  absl::StatusOr<msx::v1::Scenario> scenario = ReadScenarioFile(path);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  msx::testing::TrafficOptions opt;
  opt.commands = 2000;
  ASSERT_TRUE(msx::testing::WriteTrafficJournal(journal, DefaultConfig(), opt).ok());
  absl::StatusOr<DrillResult> r = RunDrill(journal, *scenario, tmp.file("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 4u);
  for (const FiredEdit& f : r->fired) {
    EXPECT_EQ(f.commands, 1u) << f.description;
    EXPECT_FALSE(absl::StrContains(f.description, "rejected")) << f.description;
  }
  EXPECT_TRUE(absl::StartsWith(r->fired[1].description,
                               "supply loss: KOMIR needs 2,500,000 g more GA-4N: buy 25 lots "))
      << r->fired[1].description;
  EXPECT_TRUE(absl::StrContains(r->fired[2].description, "GA-4N/CO-99.8 @ 2121, DEFENCE (offer"))
      << r->fired[2].description;
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.file("drill"), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

// ---- The needs report ----

void ExpectFigures(const NeedFigures& f, std::uint64_t buys, Amount declared, Amount allocated,
                   Amount met, Amount within) {
  EXPECT_EQ(f.buys, buys);
  EXPECT_EQ(f.declared, declared);
  EXPECT_EQ(f.allocated, allocated);
  EXPECT_EQ(f.met, met);
  EXPECT_EQ(f.met_within_window, within);
}

const NeedAgencyRow* FindAgencyRow(const NeedReport& n, const std::string& symbol,
                                   const std::string& agency, PriorityTier tier) {
  for (const NeedAgencyRow& a : n.agencies) {
    if (a.symbol == symbol && a.code == agency && a.tier == tier) return &a;
  }
  return nullptr;
}

// Every figure of the hand-built journal (AuctionCommands above).
// As run: D 10 + 2 lots (100 kg within 8 days: the second auction is on day 9), E 5 + 1,
// G 3 + 1, F 2 in auctions; F's CCC buy fills 2 lots at NORMAL at once; G's plain CCC
// buy declares nothing. AAA at WARNING: declared 120 + 70 + 50 + 30 = 270, met 240, within
// 8 days 100 + 50 + 30 + 20 = 200, share 200 x 10000 / 270 = 7407 bps.
// Continuous (the same commands, every level continuous; the RunAuctions are refused): S's
// 20 lots go first come, first served: D 12, E 7, G 1 (F none); S's 4 lots on day 9 go to
// G's 4 open lots, the older buy. So D 120 (120 within 8 days), E 70 (70), G 50 (10), F 0.
TEST(NeedsReportTest, HandBuiltAuctionJournalGivesHandComputedNeeds) {
  TempDir tmp;
  WriteJournal(tmp.path(), AuctionCommands());
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  const NeedReport& n = r->needs;

  ASSERT_EQ(n.levels.size(), 2u);
  EXPECT_EQ(n.levels[0].symbol, "AAA");
  EXPECT_EQ(n.levels[0].level, EmergencyLevel::kWarning);
  ExpectFigures(n.levels[0].figures, 4, 270, 240, 240, 200);
  EXPECT_EQ(n.levels[0].share_within_window_bps, 7407);
  EXPECT_EQ(n.levels[1].symbol, "CCC");
  EXPECT_EQ(n.levels[1].level, EmergencyLevel::kNormal);
  ExpectFigures(n.levels[1].figures, 1, 20, 0, 20, 20);
  EXPECT_EQ(n.levels[1].share_within_window_bps, 10000);

  ASSERT_EQ(n.agencies.size(), 5u);
  const std::vector<std::tuple<std::string, EmergencyLevel, std::string, PriorityTier>> keys = {
      {"AAA", EmergencyLevel::kWarning, "AG-D", PriorityTier::kDefence},
      {"AAA", EmergencyLevel::kWarning, "AG-E", PriorityTier::kGeneral},
      {"AAA", EmergencyLevel::kWarning, "AG-G", PriorityTier::kGeneral},
      {"AAA", EmergencyLevel::kWarning, "AG-F", PriorityTier::kGeneral},
      {"CCC", EmergencyLevel::kNormal, "AG-F", PriorityTier::kGeneral}};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(n.agencies[i].symbol, std::get<0>(keys[i])) << i;
    EXPECT_EQ(n.agencies[i].level, std::get<1>(keys[i])) << i;
    EXPECT_EQ(n.agencies[i].code, std::get<2>(keys[i])) << i;
    EXPECT_EQ(n.agencies[i].tier, std::get<3>(keys[i])) << i;
  }
  ExpectFigures(n.agencies[0].figures, 1, 120, 120, 120, 100);
  ExpectFigures(n.agencies[1].figures, 1, 70, 60, 60, 50);
  ExpectFigures(n.agencies[2].figures, 1, 50, 40, 40, 30);
  ExpectFigures(n.agencies[3].figures, 1, 30, 20, 20, 20);
  ExpectFigures(n.agencies[4].figures, 1, 20, 0, 20, 20);

  ASSERT_TRUE(n.has_continuous);
  ASSERT_EQ(n.continuous.size(), 5u);
  struct Want {
    const char* symbol;
    const char* agency;
    Amount declared, met, continuous, within, continuous_within;
  };
  const Want want[] = {{"AAA", "AG-D", 120, 120, 120, 100, 120},
                       {"AAA", "AG-E", 70, 60, 70, 50, 70},
                       {"AAA", "AG-G", 50, 40, 50, 30, 10},
                       {"AAA", "AG-F", 30, 20, 0, 20, 0},
                       {"CCC", "AG-F", 20, 20, 20, 20, 20}};
  for (std::size_t i = 0; i < 5; ++i) {
    const NeedContinuousRow& c = n.continuous[i];
    EXPECT_EQ(c.symbol, want[i].symbol) << i;
    EXPECT_EQ(c.code, want[i].agency) << i;
    EXPECT_EQ(c.declared, want[i].declared) << i;
    EXPECT_EQ(c.met, want[i].met) << i;
    EXPECT_EQ(c.continuous_met, want[i].continuous) << i;
    EXPECT_EQ(c.met_within_window, want[i].within) << i;
    EXPECT_EQ(c.continuous_met_within_window, want[i].continuous_within) << i;
  }

  // The JSON, text and HTML print the same figures.
  const nlohmann::json j = nlohmann::json::parse(RenderReportJson(*r));
  const nlohmann::json& level = j.at("needs").at("levels").at(0);
  EXPECT_EQ(level.at("instrument"), "AAA");
  EXPECT_EQ(level.at("level"), "WARNING");
  EXPECT_EQ(level.at("need_declared"), 270);
  EXPECT_EQ(level.at("need_met_within_8_days"), 200);
  EXPECT_EQ(level.at("share_met_within_8_days_bps"), 7407);
  const nlohmann::json& f = j.at("needs").at("continuous").at(3);
  EXPECT_EQ(f.at("agency"), "AG-F");
  EXPECT_EQ(f.at("difference"), 20);
  EXPECT_EQ(j.at("needs").at("agencies").at(0).at("tier"), "DEFENCE");
  const std::string text = RenderReportText("t", *r);
  EXPECT_NE(text.find("74.07 %"), std::string::npos) << text;
  EXPECT_NE(text.find("As run vs continuous matching"), std::string::npos) << text;
  const std::string html = RenderReportHtml("t", *r);
  EXPECT_NE(html.find("data-key=\"share_met_within_8_days_bps\">7,407</td>"), std::string::npos);
  EXPECT_NE(html.find("id=\"needs-continuous\""), std::string::npos);
  EXPECT_NE(html.find("data-key=\"continuous_need_met_within_8_days\">10</td>"),
            std::string::npos);
}

// Without need buys there is no needs section and no continuous replay.
TEST(NeedsReportTest, JournalWithoutNeedBuysHasNoNeeds) {
  TempDir tmp;
  std::vector<Command> cmds = AuctionCommands();
  cmds.resize(8);  // holdings, S's CCC sell, G's plain buy
  WriteJournal(tmp.path(), cmds);
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->needs.empty());
  EXPECT_FALSE(r->needs.has_continuous);
  EXPECT_EQ(RenderReportText("t", *r).find("Declared needs"), std::string::npos);
  EXPECT_EQ(RenderReportHtml("t", *r).find("needs-levels"), std::string::npos);
}

// The 40 kg supply loss of AG-E (see above) in the drill's report: AAA's declared need
// grows by exactly 40, AG-E's new ESSENTIAL buy is allocated its 4 lots in auction 1,
// and the others' GENERAL allocation shrinks. Auction 2 in the drill: DEFENCE D 2;
// GENERAL, 2 lots for claims E 2, G 2, F 2 (capped at 2; needs left 40, 30, 20):
// quotas 0.89, 0.67, 0.44 -> 0 each, the lots to E and G.
TEST(NeedsReportTest, SupplyLossShowsInTheDrillNeedsAndAllocation) {
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  WriteJournal(journal, AuctionCommands());
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 16 external_supply_loss { agency: "AG-E" instrument: "AAA" units: 40 } }
  )"),
                                           tmp.file("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  const NeedReport& o = r->original.needs;
  const NeedReport& d = r->drill.needs;
  ASSERT_EQ(o.levels.size(), 2u);
  ASSERT_EQ(d.levels.size(), 2u);
  EXPECT_EQ(d.levels[0].figures.declared - o.levels[0].figures.declared, 40);
  ExpectFigures(d.levels[0].figures, 5, 310, 240, 240, 200);
  EXPECT_EQ(d.levels[0].share_within_window_bps, 6451);
  const NeedAgencyRow* ess = FindAgencyRow(d, "AAA", "AG-E", PriorityTier::kEssential);
  ASSERT_NE(ess, nullptr);
  ExpectFigures(ess->figures, 1, 40, 40, 40, 40);
  const NeedAgencyRow* e = FindAgencyRow(d, "AAA", "AG-E", PriorityTier::kGeneral);
  const NeedAgencyRow* g = FindAgencyRow(d, "AAA", "AG-G", PriorityTier::kGeneral);
  const NeedAgencyRow* f = FindAgencyRow(d, "AAA", "AG-F", PriorityTier::kGeneral);
  const NeedAgencyRow* dd = FindAgencyRow(d, "AAA", "AG-D", PriorityTier::kDefence);
  ASSERT_TRUE(e && g && f && dd);
  ExpectFigures(dd->figures, 1, 120, 120, 120, 100);
  ExpectFigures(e->figures, 1, 70, 40, 40, 30);
  ExpectFigures(g->figures, 1, 50, 30, 30, 20);
  ExpectFigures(f->figures, 1, 30, 10, 10, 10);
  // The original's report is the one BuildReport makes, continuous comparison included.
  absl::StatusOr<ReportData> again = BuildReport(journal, 5);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(RenderReportJson(*again), RenderReportJson(r->original));
  absl::StatusOr<ReportData> drill_again = BuildReport(tmp.file("drill"), 5);
  ASSERT_TRUE(drill_again.ok()) << drill_again.status();
  EXPECT_EQ(RenderReportJson(*drill_again), RenderReportJson(r->drill));
  const std::string html = RenderDrillHtml(journal, "s", *r);
  EXPECT_NE(html.find("id=\"needs-levels-drill\""), std::string::npos);
  EXPECT_NE(html.find("data-key=\"share_met_within_8_days_bps\">6,451</td>"), std::string::npos);
}

// The same journal recorded at NORMAL (no level change, no RunAuction: the need buys match
// continuously), drilled with AAA raised to WARNING before S's sell. The drill adds the
// server's auction ticks on the 60 s grid: t0+60s (auction 1, fills), t0+120s (nothing
// left to sell: no fill, so no more ticks until the next command), and t0+9d+60s before
// the last command (auction 2). The needs come out as in the hand-built WARNING journal.
TEST(NeedsReportTest, DrillRaisingALevelAddsTheAuctionTicksTheServerWouldSend) {
  std::vector<Command> normal;
  for (const Command& c : AuctionCommands()) {
    if (c.type != CommandType::kSetEmergencyLevel && c.type != CommandType::kRunAuction) {
      normal.push_back(c);
    }
  }
  normal.push_back(At(kT0 + 9 * kDay + 70 * kSecond, CommandType::kAdvanceTime));
  ASSERT_EQ(normal.size(), 16u);  // seq 10 is S's AAA sell
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  WriteJournal(journal, normal);
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 10 set_level { instrument: "AAA" level: "WARNING" } }
  )"),
                                           tmp.file("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->auction_ticks, 3u);
  EXPECT_EQ(r->drill_commands, 16u + 1 + 3);
  const JournalNeeds drilled = ReadNeeds(tmp.file("drill"));
  ASSERT_EQ(drilled.auctions.size(), 3u);
  EXPECT_EQ(drilled.auctions[0], (std::map<AgencyId, Lots>{{kD, 10}, {kE, 5}, {kG, 3}, {kF, 2}}));
  EXPECT_TRUE(drilled.auctions[1].empty());
  EXPECT_EQ(drilled.auctions[2], (std::map<AgencyId, Lots>{{kD, 2}, {kE, 1}, {kG, 1}}));
  const NeedReport& d = r->drill.needs;
  ASSERT_EQ(d.levels.size(), 2u);
  EXPECT_EQ(d.levels[0].level, EmergencyLevel::kWarning);
  ExpectFigures(d.levels[0].figures, 4, 270, 240, 240, 200);
  // The original matched continuously: first come, first served (as the continuous
  // replay of the WARNING journal above).
  const NeedReport& o = r->original.needs;
  ASSERT_EQ(o.levels.size(), 2u);
  EXPECT_EQ(o.levels[0].level, EmergencyLevel::kNormal);
  ExpectFigures(o.levels[0].figures, 4, 270, 0, 240, 200);
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.file("drill"), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

// Deliveries (deliveries.h) of the hand-built journal plus two confirmations by AG-D. Each
// auction fill opens two deliveries (the base from S, then the quote from the buyer), due
// 8 days after the fill. Auction 1 (t0+60s) opens 1-8 (D 100 kg / 1,000 BBB, E 50 / 500,
// G 30 / 300, F 20 / 200), all overdue at S's sell on day 9; auction 2 opens 9-14 (D 20 /
// 200, E 10 / 100, G 10 / 100), pending at the end. D confirms 1 (late) and 9 (in time).
TEST(DeliveriesReportTest, HandBuiltAuctionJournalGivesHandComputedDeliveries) {
  std::vector<Command> cmds = AuctionCommands();
  for (DeliveryId id : {DeliveryId{1}, DeliveryId{9}}) {
    Command c = At(kT0 + 9 * kDay + 80 * kSecond, CommandType::kConfirmDelivery);
    c.confirm_delivery = ConfirmDelivery{kD, id};
    cmds.push_back(c);
  }
  TempDir tmp;
  WriteJournal(tmp.path(), cmds);
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  struct Want {
    const char* agency;
    const char* instrument;
    std::uint64_t opened;
    Amount units;
    std::uint64_t confirmed, late, fell_overdue, overdue;
    Amount overdue_units;
    std::uint64_t pending;
    Amount pending_units;
  };
  const Want want[] = {{"AG-S", "AAA", 7, 240, 2, 1, 4, 3, 100, 2, 20},
                       {"AG-D", "BBB", 2, 1200, 0, 0, 1, 1, 1000, 1, 200},
                       {"AG-E", "BBB", 2, 600, 0, 0, 1, 1, 500, 1, 100},
                       {"AG-G", "BBB", 2, 400, 0, 0, 1, 1, 300, 1, 100},
                       {"AG-F", "BBB", 1, 200, 0, 0, 1, 1, 200, 0, 0}};
  ASSERT_EQ(r->deliveries.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    const AgencyDeliveryRow& d = r->deliveries[i];
    EXPECT_EQ(d.code, want[i].agency) << i;
    EXPECT_EQ(d.symbol, want[i].instrument) << i;
    EXPECT_EQ(d.opened, want[i].opened) << i;
    EXPECT_EQ(d.units, want[i].units) << i;
    EXPECT_EQ(d.confirmed, want[i].confirmed) << i;
    EXPECT_EQ(d.confirmed_late, want[i].late) << i;
    EXPECT_EQ(d.fell_overdue, want[i].fell_overdue) << i;
    EXPECT_EQ(d.overdue_at_end, want[i].overdue) << i;
    EXPECT_EQ(d.overdue_units_at_end, want[i].overdue_units) << i;
    EXPECT_EQ(d.pending_at_end, want[i].pending) << i;
    EXPECT_EQ(d.pending_units_at_end, want[i].pending_units) << i;
  }
  const nlohmann::json j = nlohmann::json::parse(RenderReportJson(*r));
  EXPECT_EQ(j.at("deliveries").at(0).at("overdue_units_at_end"), 100);
  EXPECT_NE(RenderReportText("t", *r).find("Deliveries per agency"), std::string::npos);
  EXPECT_NE(RenderReportHtml("t", *r).find("data-key=\"overdue_units_at_end\">1,000</td>"),
            std::string::npos);
}

// The figures of a "Deliveries per agency" HTML table (table id `id`): per row (a
// data-agency tr), data-key -> cell text with the thousands separators removed.
std::vector<std::map<std::string, std::string>> HtmlDeliveryRows(const std::string& html,
                                                                  const std::string& id) {
  std::vector<std::map<std::string, std::string>> rows;
  const std::size_t begin = html.find(absl::StrCat("<table id=\"", id, "\""));
  if (begin == std::string::npos) return rows;
  const std::string table = html.substr(begin, html.find("</table>", begin) - begin);
  for (std::size_t tr = table.find("<tr data-agency="); tr != std::string::npos;
       tr = table.find("<tr data-agency=", tr + 1)) {
    const std::string row = table.substr(tr, table.find("</tr>", tr) - tr);
    std::map<std::string, std::string>& cells = rows.emplace_back();
    const std::size_t q = row.find('"') + 1;
    cells["agency"] = row.substr(q, row.find('"', q) - q);
    for (std::size_t k = row.find("data-key=\""); k != std::string::npos;
         k = row.find("data-key=\"", k + 1)) {
      const std::size_t key = k + 10;
      const std::size_t gt = row.find('>', key);
      std::string v = row.substr(gt + 1, row.find('<', gt) - gt - 1);
      v.erase(std::remove(v.begin(), v.end(), ','), v.end());
      cells[row.substr(key, row.find('"', key) - key)] = v;
    }
  }
  return rows;
}

// `msx-drill run --html` shows the deliveries of the original and of the drill, and every
// figure equals the JSON's (comparison.original/drill.deliveries) and the text's table. The
// drill is the 40 kg supply loss of AG-E above: AG-E's extra ESSENTIAL buy takes 4 lots of
// auction 1, so AG-S delivers to one more buyer and AG-E owes one more BBB leg.
TEST(DeliveriesReportTest, DrillHtmlAndTextShowTheJsonDeliveriesOfBoth) {
  std::vector<Command> cmds = AuctionCommands();
  for (DeliveryId id : {DeliveryId{1}, DeliveryId{9}}) {
    Command c = At(kT0 + 9 * kDay + 80 * kSecond, CommandType::kConfirmDelivery);
    c.confirm_delivery = ConfirmDelivery{kD, id};
    cmds.push_back(c);
  }
  TempDir tmp;
  const std::string journal = tmp.file("journal");
  WriteJournal(journal, cmds);
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 16 external_supply_loss { agency: "AG-E" instrument: "AAA" units: 40 } }
  )"),
                                           tmp.file("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->original.deliveries.empty());
  ASSERT_FALSE(r->drill.deliveries.empty());
  EXPECT_NE(DeliveriesJson(r->original.deliveries), DeliveriesJson(r->drill.deliveries));
  const nlohmann::json j = nlohmann::json::parse(RenderDrillJson(*r));
  const std::string html = RenderDrillHtml(journal, "s", *r);
  const std::string text = RenderDrillText(*r);
  const std::size_t drill_text = text.find("\nDrill: Deliveries per agency");
  ASSERT_NE(text.find("\nOriginal: Deliveries per agency"), std::string::npos) << text;
  ASSERT_NE(drill_text, std::string::npos) << text;
  for (const char* col : {"original", "drill"}) {
    SCOPED_TRACE(col);
    const nlohmann::json& want = j.at("comparison").at(col).at("deliveries");
    const auto rows = HtmlDeliveryRows(html, absl::StrCat("deliveries-", col));
    ASSERT_EQ(rows.size(), want.size()) << html;
    // The text's table of this side: each data line's cells, split at blanks.
    const std::string side = std::string(col) == "original"
                                 ? text.substr(text.find("\nOriginal: Deliveries"),
                                               drill_text - text.find("\nOriginal: Deliveries"))
                                 : text.substr(drill_text);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const nlohmann::json& w = want[i];
      EXPECT_EQ(rows[i].at("agency"), w.at("agency").get<std::string>()) << i;
      EXPECT_EQ(rows[i].at("instrument"), w.at("instrument").get<std::string>()) << i;
      for (const char* key : {"opened", "units", "confirmed", "confirmed_late",
                              "confirmed_in_window", "fell_overdue", "overdue_at_end",
                              "overdue_units_at_end", "pending_at_end", "pending_units_at_end"}) {
        EXPECT_EQ(rows[i].at(key), absl::StrCat(w.at(key).get<std::int64_t>())) << i << " " << key;
      }
      EXPECT_EQ(w.at("confirmed").get<std::int64_t>(),
                w.at("confirmed_late").get<std::int64_t>() +
                    w.at("confirmed_in_window").get<std::int64_t>());
      const std::string unit = w.at("unit").get<std::string>();
      const auto n = [&](const char* key) { return Thousands(w.at(key).get<std::int64_t>()); };
      const std::string line = absl::StrCat(
          w.at("agency").get<std::string>(), " ", w.at("instrument").get<std::string>(), " ",
          n("opened"), " ", n("units"), " ", unit, " ", n("confirmed"), " ", n("confirmed_late"),
          " ", n("confirmed_in_window"), " ", n("fell_overdue"), " ", n("overdue_at_end"), " ",
          n("overdue_units_at_end"), " ", unit, " ", n("pending_at_end"), " ",
          n("pending_units_at_end"), " ", unit);
      std::string squeezed;  // the text with runs of blanks made one, indents dropped
      for (char c : side) {
        if (c != ' ' || (!squeezed.empty() && squeezed.back() != ' ' && squeezed.back() != '\n')) {
          squeezed += c;
        }
      }
      EXPECT_TRUE(absl::StrContains(squeezed, "\n" + line + "\n")) << line << "\n" << side;
    }
  }
  // The report of one journal has the same column.
  EXPECT_NE(RenderReportHtml("t", r->original).find("data-key=\"confirmed_in_window\""),
            std::string::npos);
}

}  // namespace
}  // namespace msx::drill
