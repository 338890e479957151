// Tests of msx-drill's library: replay verification, reports checked against a
// hand-computed example, what-if scenarios, and errors on bad journals.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/drill/drill_journal.h"
#include "clients/drill/format.h"
#include "clients/drill/live.h"
#include "clients/drill/report.h"
#include "clients/drill/report_html.h"
#include "clients/drill/scenario.h"
#include "clients/drill/verify.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/codec.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/testing/traffic_journal.h"
#include "gtest/gtest.h"

namespace msx::drill {
namespace {

using msx::testing::TrafficOptions;
using msx::testing::TrafficStats;
using msx::testing::WriteTrafficJournal;

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msx-drill-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// ---- The hand-built example ----
//
// AAA (alpha, kg, lot 10, 1 USD/kg) and BBB (beta, kg, lot 1, 0.1 USD/kg): pair AAA/BBB,
// reference price 100 BBB per lot, band 85..115. Agencies AG-A, AG-B, AG-C, all in one
// agreement. t0 = 1,789,999,980 s, a whole minute.
constexpr char kHandConfig[] = R"(
instruments { symbol: "AAA" mineral: "alpha" unit: "kg" lot_size: 10 reference_value_micro_usd: 1000000 }
instruments { symbol: "BBB" mineral: "beta" unit: "kg" lot_size: 1 reference_value_micro_usd: 100000 }
pairs { base: "AAA" quote: "BBB" tick: 1 band_bps: 1500 max_lots: 1000 }
agencies { id: "AG-A" country: "KR" role: ROLE_AGENCY tokens: "t-a" }
agencies { id: "AG-B" country: "JP" role: ROLE_AGENCY tokens: "t-b" }
agencies { id: "AG-C" country: "US" role: ROLE_AGENCY tokens: "t-c" }
agreements { name: "ALL" members: ["AG-A", "AG-B", "AG-C"] }
)";
constexpr TimeNs kSecond = 1'000'000'000;
constexpr TimeNs kT0 = 1'789'999'980 * kSecond;
constexpr AgencyId kA = 0, kB = 1, kC = 2;
constexpr InstrumentId kAaa = 0, kBbb = 1;

Command Holding(AgencyId a, InstrumentId i, Amount total) {
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = SetHoldings{a, i, total};
  return c;
}

Command Offer(TimeNs at, AgencyId a, Side side, Lots lots, Price price, ClientOfferId id) {
  Command c{};
  c.time = at;
  c.type = CommandType::kSubmitOffer;
  c.submit.agency = a;
  c.submit.pair = 0;
  c.submit.side = side;
  c.submit.tif = TimeInForce::kGtc;
  c.submit.lots = lots;
  c.submit.price = price;
  c.submit.client_id = id;
  return c;
}

// seq 1-3 holdings; seq 4.. the offers (offer ids 1..7 in this order):
//   4  t0+1s  A sells 10 @ 100            rests                       (offer 1)
//   5  t0+2s  A sells 5 @ 102             rests                       (offer 2)
//   6  t0+3s  B buys 4 @ 101              fills 4 @ 100 with offer 1  (offer 3)
//   7  t0+6s  C buys 3 @ 100              fills 3 @ 100 with offer 1  (offer 4)
//   8  t0+70s C buys 5 @ 99               rests                       (offer 5)
//   9  t0+80s B buys 8 @ 102              fills 3 @ 100 (offer 1), 5 @ 102 (offer 2) (offer 6)
//  10  t0+90s A sells 2 @ 99              fills 2 @ 99 with offer 5   (offer 7)
std::vector<Command> HandCommands() {
  std::vector<Command> cmds = {Holding(kA, kAaa, 1000), Holding(kB, kBbb, 100000),
                               Holding(kC, kBbb, 100000)};
  for (Command& c : cmds) c.time = kT0;
  cmds.push_back(Offer(kT0 + 1 * kSecond, kA, Side::kSell, 10, 100, 1));
  cmds.push_back(Offer(kT0 + 2 * kSecond, kA, Side::kSell, 5, 102, 2));
  cmds.push_back(Offer(kT0 + 3 * kSecond, kB, Side::kBuy, 4, 101, 1));
  cmds.push_back(Offer(kT0 + 6 * kSecond, kC, Side::kBuy, 3, 100, 1));
  cmds.push_back(Offer(kT0 + 70 * kSecond, kC, Side::kBuy, 5, 99, 2));
  cmds.push_back(Offer(kT0 + 80 * kSecond, kB, Side::kBuy, 8, 102, 2));
  cmds.push_back(Offer(kT0 + 90 * kSecond, kA, Side::kSell, 2, 99, 3));
  return cmds;
}

msx::v1::ExchangeConfig HandConfig() {
  absl::StatusOr<msx::v1::ExchangeConfig> c = ParseConfigText(kHandConfig);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

// Applies `cmds` (seq assigned 1, 2, ...) to an engine and journals them in `dir`.
void WriteJournal(const std::string& dir, const msx::v1::ExchangeConfig& config,
                  const std::vector<Command>& cmds) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  ASSERT_TRUE(ref.ok()) << ref.status();
  Engine engine(*ref, EngineOptions{.expected_offers = 1024});
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
    ASSERT_TRUE((*writer)->Append(c, events).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

const PairReport* FindPair(const ReportData& r, const std::string& symbol) {
  for (const PairReport& p : r.pairs) {
    if (p.symbol == symbol) return &p;
  }
  return nullptr;
}

const InstrumentReport* FindInstrument(const ReportData& r, const std::string& symbol) {
  for (const InstrumentReport& i : r.instruments) {
    if (i.symbol == symbol) return &i;
  }
  return nullptr;
}

const AgencyHoldingRow* FindHolding(const ReportData& r, const std::string& agency,
                                    const std::string& symbol) {
  for (const AgencyReport& a : r.agencies) {
    if (a.code != agency) continue;
    for (const AgencyHoldingRow& h : a.rows) {
      if (h.symbol == symbol) return &h;
    }
  }
  return nullptr;
}

void ExpectHolding(const ReportData& r, const std::string& agency, const std::string& symbol,
                   Amount before, Amount received, Amount delivered, Amount after) {
  const AgencyHoldingRow* h = FindHolding(r, agency, symbol);
  ASSERT_NE(h, nullptr) << agency << " " << symbol;
  EXPECT_EQ(h->before, before) << agency << " " << symbol;
  EXPECT_EQ(h->received, received) << agency << " " << symbol;
  EXPECT_EQ(h->delivered, delivered) << agency << " " << symbol;
  EXPECT_EQ(h->after, after) << agency << " " << symbol;
}

// ---- Report ----

TEST(LiveTokensTest, EnvironmentNamesAreTheCodeUpperCasedWithUnderscores) {
  EXPECT_EQ(TokenEnvName("KOMIR"), "MSX_TOKEN_KOMIR");
  EXPECT_EQ(TokenEnvName("CMSR-AU"), "MSX_TOKEN_CMSR_AU");
  EXPECT_EQ(TokenEnvName("msx.ops 2"), "MSX_TOKEN_MSX_OPS_2");
}

TEST(LiveTokensTest, TokenFileIsItsFirstLineTrimmedAndAnUnusableOneIsNamed) {
  TempDir tmp;
  WriteAll(tmp.sub("t"), "  secret-token \nsecond line\n");
  WriteAll(tmp.sub("empty"), "\n");
  absl::StatusOr<std::string> t = ReadTokenFile("--token-file KOMIR", tmp.sub("t"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, "secret-token");
  EXPECT_EQ(ReadTokenFile("--token-file KOMIR", tmp.sub("empty")).status().message(),
            absl::StrCat("--token-file KOMIR: ", tmp.sub("empty"), " holds no token"));
  EXPECT_EQ(ReadTokenFile("--admin-token-file", tmp.sub("none")).status().message(),
            absl::StrCat("--admin-token-file: cannot read ", tmp.sub("none")));
}

// A configuration with only digests gives no token: the check names the admin, then the
// first agency with commands, and passes once the environment (or a flag) has them.
TEST(LiveTokensTest, MissingTokenIsNamedAndEverySourceCanSupplyIt) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 200;
  ASSERT_TRUE(WriteTrafficJournal(tmp.path(), DefaultConfig(), opt).ok());
  LiveOptions o;
  absl::Status s = CheckLiveTokens(tmp.path(), o);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no admin token")) << s;

  o.admin_token = "adm";
  s = CheckLiveTokens(tmp.path(), o);
  EXPECT_TRUE(absl::StrContains(s.message(), "no token for agency ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "(the first at seq ")) << s;

  std::map<std::string, std::string> env;
  o.getenv = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  for (const auto& a : DefaultConfig().agencies()) env[TokenEnvName(a.id())] = "from-env";
  EXPECT_TRUE(CheckLiveTokens(tmp.path(), o).ok());
  // One agency missing everywhere, but present on the command line or in a config file.
  env.erase("MSX_TOKEN_KOMIR");
  s = CheckLiveTokens(tmp.path(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "no token for agency KOMIR")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "--token-file KOMIR=FILE or set MSX_TOKEN_KOMIR"))
      << s;
  o.config_tokens["KOMIR"] = "from-config";
  EXPECT_TRUE(CheckLiveTokens(tmp.path(), o).ok());
  o.config_tokens.clear();
  o.tokens["KOMIR"] = "from-flag";
  EXPECT_TRUE(CheckLiveTokens(tmp.path(), o).ok());
  o.tokens.clear();
  o.skip_agencies_without_token = true;
  EXPECT_TRUE(CheckLiveTokens(tmp.path(), o).ok());
}

TEST(ReportTest, NearestRankPercentilesComeFromSortedSamples) {
  std::vector<std::int64_t> s = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  LatencyStats l = ComputeLatency(&s);
  EXPECT_EQ(l.count, 10u);
  EXPECT_EQ(l.p50, 5);  // rank ceil(5.0) = 5
  EXPECT_EQ(l.p90, 9);  // rank ceil(9.0) = 9
  EXPECT_EQ(l.max, 10);
  std::vector<std::int64_t> one = {42};
  l = ComputeLatency(&one);
  EXPECT_EQ(l.p50, 42);
  EXPECT_EQ(l.p90, 42);
  std::vector<std::int64_t> none;
  EXPECT_EQ(ComputeLatency(&none).count, 0u);
}

TEST(ReportTest, HandBuiltJournalGivesHandComputedFigures) {
  TempDir tmp;
  WriteJournal(tmp.path(), HandConfig(), HandCommands());
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();

  EXPECT_EQ(r->commands, 10u);
  EXPECT_EQ(r->offers_accepted, 7u);
  EXPECT_EQ(r->fills, 5u);
  EXPECT_EQ(r->holdings_before_seq, 4u);

  const PairReport* p = FindPair(*r, "AAA/BBB");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->fills, 5u);
  EXPECT_EQ(p->lots, 4 + 3 + 3 + 5 + 2);
  EXPECT_EQ(p->base_volume, 170);                                              // 17 lots x 10 kg
  EXPECT_EQ(p->quote_volume, 4 * 100 + 3 * 100 + 3 * 100 + 5 * 102 + 2 * 99);  // 1708
  EXPECT_EQ(p->resting_bid_lots, 3);                                           // offer 5: 5 - 2
  EXPECT_EQ(p->resting_bid_units, 30);
  EXPECT_EQ(p->resting_ask_lots, 0);
  EXPECT_EQ(p->resting_ask_units, 0);
  // First fills: offer 1 after 2 s, offer 2 after 78 s, offer 5 after 20 s; offers 3, 4,
  // 6 and 7 filled on arrival (0). Sorted: 0 0 0 0 2s 20s 78s; p50 = 4th, p90 = 7th.
  EXPECT_EQ(p->first_fill.count, 7u);
  EXPECT_EQ(p->first_fill.p50, 0);
  EXPECT_EQ(p->first_fill.p90, 78 * kSecond);
  EXPECT_EQ(p->first_fill.max, 78 * kSecond);

  const InstrumentReport* aaa = FindInstrument(*r, "AAA");
  const InstrumentReport* bbb = FindInstrument(*r, "BBB");
  ASSERT_NE(aaa, nullptr);
  ASSERT_NE(bbb, nullptr);
  EXPECT_EQ(aaa->fills, 5u);
  EXPECT_EQ(aaa->volume, 170);
  EXPECT_EQ(aaa->unfilled_demand, 30);
  EXPECT_EQ(bbb->volume, 1708);
  EXPECT_EQ(bbb->unfilled_demand, 0);
  EXPECT_EQ(bbb->first_fill.p90, 78 * kSecond);

  ExpectHolding(*r, "AG-A", "AAA", 1000, 0, 170, 830);
  ExpectHolding(*r, "AG-A", "BBB", 0, 1708, 0, 1708);
  ExpectHolding(*r, "AG-B", "AAA", 0, 120, 0, 120);
  ExpectHolding(*r, "AG-B", "BBB", 100000, 0, 1210, 98790);
  ExpectHolding(*r, "AG-C", "AAA", 0, 50, 0, 50);
  ExpectHolding(*r, "AG-C", "BBB", 100000, 0, 498, 99502);

  ASSERT_EQ(r->busiest_minutes.size(), 2u);
  EXPECT_EQ(r->busiest_minutes[0].minute_start, kT0 + 60 * kSecond);
  EXPECT_EQ(r->busiest_minutes[0].fills, 3u);
  EXPECT_EQ(r->busiest_minutes[1].minute_start, kT0);
  EXPECT_EQ(r->busiest_minutes[1].fills, 2u);

  const std::string text = RenderReportText("hand", *r);
  EXPECT_TRUE(absl::StrContains(text, "1,708 kg")) << text;
  EXPECT_TRUE(absl::StrContains(text, "78.000 s")) << text;
  const std::string json = RenderReportJson(*r);
  EXPECT_TRUE(absl::StrContains(json, "\"quote_volume\":1708")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"p90_ns\":78000000000")) << json;
}

TEST(ReportTest, HoldingsFromEventsEqualTheEngineAfterReplay) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 3000;
  opt.seed = 7;
  absl::StatusOr<TrafficStats> stats = WriteTrafficJournal(tmp.path(), DefaultConfig(), opt);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GT(stats->fills, 100u);
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fills, stats->fills);

  absl::StatusOr<DrillJournal> j = OpenDrillJournal(tmp.path());
  ASSERT_TRUE(j.ok()) << j.status();
  Engine engine(*j->ref, EngineOptions{});
  auto reader = journal::JournalReader::Open(tmp.path(), {});
  ASSERT_TRUE(reader.ok());
  journal::JournalEntry entry;
  std::vector<Event> events;
  while ((*reader)->Next(&entry)) engine.Apply(entry.command, &events);
  ASSERT_TRUE((*reader)->status().ok());
  int rows = 0;
  for (const AgencyReport& a : r->agencies) {
    for (const AgencyHoldingRow& h : a.rows) {
      HoldingInfo e = engine.GetHoldings(a.agency, h.instrument);
      EXPECT_EQ(h.after, e.available + e.reserved) << a.code << " " << h.symbol;
      ++rows;
    }
  }
  EXPECT_GT(rows, 20);
  // Resting demand equals the engine's final books.
  for (const PairReport& p : r->pairs) {
    DepthInfo d = engine.GetDepth(p.pair, 1 << 20);
    Lots bids = 0, asks = 0;
    for (const LevelInfo& l : d.bids) bids += l.lots;
    for (const LevelInfo& l : d.asks) asks += l.lots;
    EXPECT_EQ(p.resting_bid_lots, bids) << p.symbol;
    EXPECT_EQ(p.resting_ask_lots, asks) << p.symbol;
  }
}

// ---- Verify ----

TEST(VerifyTest, GeneratedJournalOverSeveralSegmentsReplaysByteForByte) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 20000;
  opt.segment_bytes = 256 << 10;
  absl::StatusOr<TrafficStats> stats = WriteTrafficJournal(tmp.path(), DefaultConfig(), opt);
  ASSERT_TRUE(stats.ok()) << stats.status();
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path(), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, stats->commands);
  EXPECT_EQ(v->commands + v->events, stats->records);
  EXPECT_EQ(v->fills, stats->fills);
  EXPECT_GT(v->read.segments, 3u);
  EXPECT_NE(v->state_digest, 0u);
  EXPECT_TRUE(absl::StartsWith(VerifySummary(tmp.path(), *v), "OK: "));
}

// A journal written across emergency level changes, a pending reference publication, a
// suspension and a readmission replays byte for byte (issue 15).
TEST(VerifyTest, JournalAcrossEmergencyLevelChangesReplaysByteForByte) {
  TempDir tmp;
  std::vector<Command> cmds = HandCommands();
  auto admin = [](TimeNs at, CommandType type) {
    Command c{};
    c.time = at;
    c.type = type;
    return c;
  };
  Command warning = admin(kT0 + 100 * kSecond, CommandType::kSetEmergencyLevel);
  warning.set_level = SetEmergencyLevel{kAaa, EmergencyLevel::kWarning, 10, "export ban"};
  cmds.push_back(warning);  // band 95..105: C's 3 lots at 99 stay
  cmds.push_back(Offer(kT0 + 110 * kSecond, kA, Side::kSell, 2, 104, 4));
  Command publish = admin(kT0 + 120 * kSecond, CommandType::kPublishReference);
  publish.publish_reference = PublishReference{kAaa, 1'060'000, 0, kT0 + 130 * kSecond};
  cmds.push_back(publish);  // pending: reference 106, band 101..111 at WARNING
  Command tick = admin(kT0 + 130 * kSecond, CommandType::kAdvanceTime);
  cmds.push_back(tick);     // applies it: C's bid at 99 is cancelled
  Command suspend = admin(kT0 + 140 * kSecond, CommandType::kSuspendMember);
  suspend.member = MemberCommand{0, kA};
  cmds.push_back(suspend);  // A's ask at 104 relied on ALL alone: cancelled
  Command admit = admin(kT0 + 150 * kSecond, CommandType::kAdmitMember);
  admit.member = MemberCommand{0, kA};
  cmds.push_back(admit);
  Command normal = admin(kT0 + 160 * kSecond, CommandType::kSetEmergencyLevel);
  normal.set_level = SetEmergencyLevel{kAaa, EmergencyLevel::kNormal, 0, ""};
  cmds.push_back(normal);
  cmds.push_back(Offer(kT0 + 170 * kSecond, kA, Side::kSell, 2, 104, 5));
  cmds.push_back(Offer(kT0 + 180 * kSecond, kB, Side::kBuy, 2, 104, 4));  // fills
  WriteJournal(tmp.path(), HandConfig(), cmds);

  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path(), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, cmds.size());
  EXPECT_EQ(v->fills, 6u);  // the hand example's 5 and the last one
  // The journal holds what happened: a level set, a band change and both cancels.
  int levels = 0, bands = 0, outside = 0, suspended = 0;
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(tmp.path(), journal::ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) {
    for (const Event& e : entry.events) {
      levels += e.type == EventType::kEmergencyLevelSet;
      bands += e.type == EventType::kPairBandChanged;
      outside += e.type == EventType::kCancelled && e.cancelled.reason == CancelReason::kOutsideBand;
      suspended += e.type == EventType::kCancelled &&
                   e.cancelled.reason == CancelReason::kMemberSuspended;
    }
  }
  EXPECT_EQ(levels, 2);
  EXPECT_EQ(bands, 3);  // WARNING, the publication, NORMAL
  EXPECT_EQ(outside, 1);
  EXPECT_EQ(suspended, 1);
}

// Finds the `nth` fill record in the journal; returns its segment path, record offset,
// event and index, and the command's seq.
struct FoundFill {
  std::string path;
  std::uint64_t offset = 0;
  Event event{};
  std::uint32_t index = 0;
};

FoundFill FindFill(const std::string& dir, int nth) {
  FoundFill found;
  auto segments = journal::ListSegments(dir);
  EXPECT_TRUE(segments.ok());
  int seen = 0;
  for (const journal::SegmentInfo& s : *segments) {
    std::string bytes = ReadAll(s.path);
    journal::internal::SegmentParser parser(bytes);
    Seq first;
    EXPECT_TRUE(parser.ReadHeader(&first).ok());
    journal::internal::SegmentParser::Record rec;
    std::string error;
    while (parser.Next(&rec, &error) == journal::internal::SegmentParser::Result::kRecord) {
      if (rec.type != journal::RecordType::kEvent) continue;
      Event e;
      std::uint32_t index;
      EXPECT_TRUE(journal::DecodeEventPayload(rec.payload, &e, &index).ok());
      if (e.type == EventType::kFill && seen++ == nth) {
        found.path = s.path;
        found.offset = rec.offset;
        found.event = e;
        found.index = index;
        return found;
      }
    }
  }
  ADD_FAILURE() << "fewer than " << nth + 1 << " fills";
  return found;
}

TEST(VerifyTest, EditedFillWithFixedCrcFailsAtExactlyItsSequenceNumber) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 5000;
  opt.segment_bytes = 128 << 10;
  ASSERT_TRUE(WriteTrafficJournal(tmp.path(), DefaultConfig(), opt).ok());
  FoundFill f = FindFill(tmp.path(), 200);
  ASSERT_FALSE(f.path.empty());

  // Decode, change the lots, re-encode and re-frame: the CRC is valid, the content wrong.
  Event edited = f.event;
  edited.fill.lots += 1;
  std::string payload;
  journal::EncodeEventPayload(edited, f.index, &payload);
  std::string record;
  journal::AppendRecord(journal::RecordType::kEvent, payload, &record);
  std::string bytes = ReadAll(f.path);
  bytes.replace(f.offset, record.size(), record);
  WriteAll(f.path, bytes);
  ASSERT_TRUE(journal::VerifyJournal(tmp.path()).ok()) << "framing must still verify";

  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path());
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->diverged);
  EXPECT_EQ(v->divergence.seq, f.event.seq);
  EXPECT_EQ(v->divergence.index, f.index);
  EXPECT_EQ(v->divergence.file, f.path);
  EXPECT_EQ(v->divergence.offset, f.offset);
  EXPECT_EQ(v->divergence.expected.at("lots"), edited.fill.lots) << v->divergence.expected;
  EXPECT_EQ(v->divergence.actual.at("lots"), f.event.fill.lots) << v->divergence.actual;
  EXPECT_EQ(v->divergence.command.at("seq"), f.event.seq) << v->divergence.command;
  EXPECT_EQ(v->commands, f.event.seq);
  EXPECT_TRUE(absl::StrContains(DivergenceMessage(v->divergence),
                                absl::StrCat("DIVERGED at seq ", f.event.seq)));
}

TEST(VerifyTest, FlippedByteIsCorruptionNamingFileAndOffset) {
  TempDir tmp;
  TrafficOptions opt;
  opt.commands = 3000;
  opt.segment_bytes = 64 << 10;
  ASSERT_TRUE(WriteTrafficJournal(tmp.path(), DefaultConfig(), opt).ok());
  FoundFill f = FindFill(tmp.path(), 3);
  std::string bytes = ReadAll(f.path);
  bytes[f.offset + 20] ^= 0x5a;  // inside the payload
  WriteAll(f.path, bytes);
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path());
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(absl::IsDataLoss(v.status())) << v.status();
  EXPECT_TRUE(absl::StrContains(v.status().message(), absl::StrCat(f.path, ":", f.offset)))
      << v.status();
  // The report and the drill refuse it the same way.
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StrContains(r.status().message(), absl::StrCat(f.path, ":", f.offset)));
}

// Loans per instrument, built from the events alone, agree with the engine's own ledger:
// three loans of cobalt, a partial return, a recall, one settled at its due time, one
// overdue, one still open at the end.
TEST(ReportTest, LoansFromEventsEqualTheEngineLedger) {
  const v1::ExchangeConfig config = DefaultConfig();
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  ASSERT_TRUE(ref.ok()) << ref.status();
  Engine engine(*ref, EngineOptions{});
  ReportBuilder builder(*ref, 3);
  const AgencyId komir = *ref->FindAgency("KOMIR"), jogmec = *ref->FindAgency("JOGMEC"),
                 dla = *ref->FindAgency("DLA");
  const InstrumentId co = *ref->FindInstrument("CO-99.8");
  const TermBookId co30 = *ref->FindTermBook("CO-99.8@30D"), co90 = *ref->FindTermBook("CO-99.8@90D");
  const Amount lot = ref->instruments()[co].lot_size;
  Seq seq = 0;
  TimeNs now = 1'800'000'000'000'000'000;
  auto run = [&](Command c) {
    c.seq = ++seq;
    c.time = now;
    std::vector<Event> events;
    engine.Apply(c, &events);
    builder.Add(c, events);
    for (const Event& e : events) EXPECT_NE(e.type, EventType::kRejected) << seq;
  };
  auto set = [&](AgencyId a, Amount total) {
    Command c{};
    c.type = CommandType::kSetHoldings;
    c.set_holdings = {a, co, total};
    run(c);
  };
  auto term = [&](AgencyId a, TermBookId book, Side side, Lots lots) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{a, book, side, TimeInForce::kGtc, lots, 150, 0, 0, 0, 0, 0};
    run(c);
  };
  auto obligation = [&](CommandType type, AgencyId a, ObligationId id, Amount amount) {
    Command c{};
    c.type = type;
    c.obligation = {a, id, amount};
    run(c);
  };
  for (AgencyId a : {komir, jogmec, dla}) set(a, 100 * lot);
  term(komir, co30, Side::kSell, 10);
  term(jogmec, co30, Side::kBuy, 10);  // obligation 1, due in 30 days
  term(komir, co90, Side::kSell, 5);
  term(dla, co90, Side::kBuy, 5);      // obligation 2
  obligation(CommandType::kReturnObligation, jogmec, 1, 3 * lot);
  obligation(CommandType::kRecallObligation, komir, 2, 0);  // due in 8 days
  set(dla, 2 * lot);  // pays 2 lots of obligation 2 at its due time; the rest is overdue
  now += 31 * kNsPerDay;
  Command tick{};
  tick.type = CommandType::kAdvanceTime;
  run(tick);  // 1 settles, 2 falls overdue
  term(jogmec, co90, Side::kSell, 2);
  term(komir, co90, Side::kBuy, 2);  // obligation 3, open
  ASSERT_EQ(engine.GetObligation(1)->state, ObligationState::kClosed);
  ASSERT_EQ(engine.GetObligation(2)->state, ObligationState::kOverdue);
  ASSERT_EQ(engine.GetObligation(2)->returned, 2 * lot);
  ASSERT_EQ(engine.GetObligation(3)->state, ObligationState::kOpen);

  const ReportData r = builder.Finish();
  ASSERT_EQ(r.loans.size(), 1u);
  const LoanReport& l = r.loans[0];
  EXPECT_EQ(l.symbol, "CO-99.8");
  EXPECT_EQ(l.opened, 3u);
  EXPECT_EQ(l.lent, 17 * lot);
  EXPECT_EQ(l.paid_back, engine.GetObligation(1)->due_amount + 2 * lot);
  EXPECT_EQ(l.closed, 1u);
  EXPECT_EQ(l.fell_overdue, 1u);
  EXPECT_EQ(l.recalled, 1u);
  EXPECT_EQ(l.outstanding_at_end, 2u);
  EXPECT_EQ(l.owed_at_end,
            engine.GetObligation(2)->outstanding + engine.GetObligation(3)->outstanding);
  EXPECT_EQ(l.overdue_at_end, 1u);
  EXPECT_EQ(l.overdue_owed_at_end, engine.GetObligation(2)->outstanding);
  const nlohmann::ordered_json j = ReportJson(r);
  ASSERT_EQ(j["loans"].size(), 1u);
  EXPECT_EQ(j["loans"][0]["instrument"], "CO-99.8");
  EXPECT_EQ(j["loans"][0]["overdue_owed_at_end"].get<Amount>(), l.overdue_owed_at_end);
  const std::string html = RenderReportHtml("j", r);
  EXPECT_TRUE(absl::StrContains(html, "<table id=\"loans\""));
  EXPECT_TRUE(absl::StrContains(
      html, absl::StrCat("data-key=\"overdue_owed_at_end\">", Thousands(l.overdue_owed_at_end))))
      << html;
}

TEST(VerifyTest, ForgedOfferIdWithValidCrcDivergesAndReportSurvives) {
  TempDir tmp;
  WriteJournal(tmp.path(), HandConfig(), HandCommands());
  auto segments = journal::ListSegments(tmp.path());
  ASSERT_TRUE(segments.ok());
  const std::string path = segments->front().path;
  std::string bytes = ReadAll(path);
  journal::internal::SegmentParser parser(bytes);
  Seq first;
  ASSERT_TRUE(parser.ReadHeader(&first).ok());
  journal::internal::SegmentParser::Record rec;
  std::string error;
  bool forged = false;
  while (!forged &&
         parser.Next(&rec, &error) == journal::internal::SegmentParser::Result::kRecord) {
    if (rec.type != journal::RecordType::kEvent) continue;
    Event e;
    std::uint32_t index;
    ASSERT_TRUE(journal::DecodeEventPayload(rec.payload, &e, &index).ok());
    if (e.type != EventType::kAccepted) continue;
    e.accepted.offer = OfferId{1} << 60;
    std::string payload, record;
    journal::EncodeEventPayload(e, index, &payload);
    journal::AppendRecord(journal::RecordType::kEvent, payload, &record);
    bytes.replace(rec.offset, record.size(), record);
    forged = true;
  }
  ASSERT_TRUE(forged);
  WriteAll(path, bytes);
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path());
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->diverged);
  EXPECT_EQ(v->divergence.seq, 4u);
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commands, 10u);
}

TEST(VerifyTest, TornTailIsACleanEndAndIsReported) {
  TempDir tmp;
  WriteJournal(tmp.path(), HandConfig(), HandCommands());
  auto segments = journal::ListSegments(tmp.path());
  ASSERT_TRUE(segments.ok());
  const std::string last = segments->back().path;
  std::filesystem::resize_file(last, std::filesystem::file_size(last) - 7);
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged);
  EXPECT_EQ(v->commands, 9u);  // the last group lost its tail
  EXPECT_GT(v->read.torn_bytes, 0u);
  EXPECT_TRUE(absl::StrContains(VerifySummary(tmp.path(), *v), "torn tail"));
  absl::StatusOr<ReportData> r = BuildReport(tmp.path(), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commands, 9u);
  EXPECT_EQ(r->torn_bytes, v->read.torn_bytes);
  EXPECT_TRUE(absl::StrContains(RenderReportText("t", *r), "torn tail"))
      << RenderReportText("t", *r);
}

TEST(VerifyTest, MissingOrEmptyDirectoryIsNotFound) {
  TempDir tmp;
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.sub("nope"));
  EXPECT_TRUE(absl::IsNotFound(v.status())) << v.status();
  v = VerifyReplay(tmp.path());
  EXPECT_TRUE(absl::IsNotFound(v.status())) << v.status();
  EXPECT_TRUE(absl::StrContains(v.status().message(), "no journal segments"));
}

TEST(VerifyTest, GarbageSegmentIsCorruptionAtOffsetZero) {
  TempDir tmp;
  const std::string path = tmp.sub("00000000000000000001.msxj");
  WriteAll(path, std::string(100, 'x'));
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.path());
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(absl::IsDataLoss(v.status())) << v.status();
  EXPECT_TRUE(absl::StrContains(v.status().message(), path + ":0:")) << v.status();
}

// ---- Scenarios ----

msx::v1::Scenario Scenario(const std::string& text) {
  absl::StatusOr<msx::v1::Scenario> s = ParseScenarioText(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(DrillTest, ExportBanWithdrawsOffersAndLeavesTheExpectedSmallerVolume) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  WriteJournal(journal, HandConfig(), HandCommands());
  // Before seq 8: A's open offers (offer 1 with 3 lots, offer 2 with 5) are cancelled and
  // its sell at seq 10 is dropped, so only the fills of seq 6 and 7 remain.
  const std::string out = tmp.sub("drill");
  absl::StatusOr<DrillResult> r = RunDrill(
      journal, Scenario(R"(edits { at_seq: 8 export_ban { agency: "AG-A" mineral: "alpha" } })"),
      out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 1u);
  EXPECT_EQ(r->fired[0].before_original_seq, 8u);
  EXPECT_EQ(r->fired[0].commands, 2u);
  EXPECT_EQ(r->dropped_submits, 1u);
  EXPECT_EQ(r->original_commands, 10u);
  EXPECT_EQ(r->drill_commands, 11u);  // 10 - 1 dropped + 2 cancels

  EXPECT_EQ(r->original.fills, 5u);
  EXPECT_EQ(r->drill.fills, 2u);
  const InstrumentReport* aaa = FindInstrument(r->drill, "AAA");
  ASSERT_NE(aaa, nullptr);
  EXPECT_EQ(aaa->volume, 70);  // 7 lots x 10 kg, down from 170
  EXPECT_EQ(FindInstrument(r->original, "AAA")->volume, 170);
  // Shortfall: C's 5 lots at 99 and B's 8 lots at 102 rest unfilled: 130 kg of AAA.
  EXPECT_EQ(aaa->unfilled_demand, 130);
  ExpectHolding(r->drill, "AG-A", "AAA", 1000, 0, 70, 930);

  // The drill journal is a journal: it verifies, and its report matches the drill's.
  absl::StatusOr<VerifyResult> v = VerifyReplay(out);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, 11u);
  absl::StatusOr<ReportData> again = BuildReport(out, 5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(RenderReportJson(*again), RenderReportJson(r->drill));

  const std::string text = RenderDrillText(*r);
  EXPECT_TRUE(absl::StrContains(text, "export ban: AG-A stops alpha (2 open offers cancelled)"))
      << text;
  EXPECT_TRUE(absl::StrContains(RenderDrillJson(*r), "\"fills\":{\"original\":5,\"drill\":2"))
      << RenderDrillJson(*r);
}

TEST(DrillTest, SupplyShockScalesHoldingsExactlyAndCancelsWhatNoLongerFits) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  WriteJournal(journal, HandConfig(), HandCommands());
  // B's BBB x 2/3 before the first offer; A's AAA x 1/10 once both its sells rest: 100 kg
  // left, 150 kg reserved, so the newest sell (offer 2, 50 kg) is cancelled. Then B and C
  // take 4 + 3 lots of offer 1 (seq 6, 7), B's buy at seq 9 takes its last 3 lots and rests
  // 5, and A's sell at seq 10 is rejected: it has no AAA left.
  const std::string out = tmp.sub("drill");
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 4 supply_shock { agency: "AG-B" instrument: "BBB" numerator: 2 denominator: 3 } }
      edits { at_seq: 6 supply_shock { agency: "AG-A" instrument: "AAA" numerator: 1 denominator: 10 } }
  )"),
                                           out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 2u);
  EXPECT_EQ(r->fired[0].commands, 1u);
  EXPECT_EQ(r->fired[1].before_original_seq, 6u);
  EXPECT_EQ(r->fired[1].commands, 2u);  // cancel offer 2, then set holdings
  EXPECT_EQ(r->drill.fills, 3u);
  EXPECT_EQ(r->drill.rejects, 1u);
  ExpectHolding(r->drill, "AG-B", "BBB", 66666, 0, 4 * 100 + 3 * 100, 66666 - 700);
  ExpectHolding(r->drill, "AG-A", "AAA", 1000, 0, 100, 0);
  ExpectHolding(r->drill, "AG-C", "AAA", 0, 30, 0, 30);
  absl::StatusOr<VerifyResult> v = VerifyReplay(out);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

TEST(DrillTest, HaltAndInjectedOffersAreJournaledAndVerify) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  WriteJournal(journal, HandConfig(), HandCommands());
  const std::string out = tmp.sub("drill");
  // Seq 6 and 7 are rejected (halted). Seq 9 (B buys 8 @ 102) takes 8 lots of offer 1 at
  // 100; seq 10 (A sells 2 @ 99) fills C's bid; the injected sell of B (1 lot @ 99, from
  // the 80 kg it received) fills C's bid once more.
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 6 halt_pair { pair: "AAA/BBB" } }
      edits { at_seq: 8 resume_pair { pair: "AAA/BBB" } }
      edits { at_seq: 1000 inject_offer { agency: "AG-B" pair: "AAA/BBB" side: SIDE_SELL lots: 1 price: 99 } }
  )"),
                                           out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 3u);
  EXPECT_EQ(r->fired[2].before_original_seq, 0u);  // beyond the journal: at the end
  EXPECT_EQ(r->drill.rejects, 2u);
  EXPECT_EQ(r->drill.fills, 3u);
  EXPECT_EQ(FindInstrument(r->drill, "AAA")->volume, 80 + 20 + 10);
  ExpectHolding(r->drill, "AG-B", "AAA", 0, 80, 10, 70);
  absl::StatusOr<VerifyResult> v = VerifyReplay(out);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, r->drill_commands);
}

TEST(DrillTest, EmergencyEditsAreJournaledCancelWhatTheyPushOutAndVerify) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  WriteJournal(journal, HandConfig(), HandCommands());
  const std::string out = tmp.sub("drill");
  // Before seq 8, AAA goes to WARNING (band 95..105: offer 1's 3 lots at 100 and offer 2
  // at 102 stay), so C's bid at 99 (seq 8) rests. Before seq 9 a reference of 106 moves
  // the band to 101..111: offer 1 (100) and C's bid (99) are cancelled. WARNING allocates
  // by call auction (engine/matching/AUCTION.md "In the engine"); no grid minute passes
  // before the journal ends, so the drill adds no auction tick (and B's buy declares no
  // need anyway): B's buy of 8 at 102 rests although it crosses offer 2.
  // Before seq 10 B is suspended from ALL, its only agreement: its resting 8 lots are
  // cancelled. A's sell at 99 (seq 10) lies outside the band: rejected. B is admitted
  // again after the journal's end.
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 8 set_level { instrument: "AAA" level: "WARNING" reason: "export ban" } }
      edits { at_seq: 9 publish_reference { instrument: "AAA" reference_value_micro_usd: 1060000 } }
      edits { at_seq: 10 suspend_member { agreement: "ALL" agency: "AG-B" } }
      edits { at_seq: 1000 admit_member { agreement: "ALL" agency: "AG-B" } }
  )"),
                                           out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 4u);
  EXPECT_EQ(r->fired[0].description, "level: AAA -> WARNING (export ban) (0 offers cancelled)");
  EXPECT_EQ(r->fired[1].description,
            "reference: AAA 1060000 micro-USD, floor 0 (2 offers cancelled)");
  EXPECT_EQ(r->fired[2].description, "suspend AG-B from ALL (1 offer cancelled)");
  EXPECT_EQ(r->fired[3].description, "admit AG-B to ALL (0 offers cancelled)");
  for (const FiredEdit& f : r->fired) EXPECT_EQ(f.commands, 1u) << f.description;
  EXPECT_EQ(r->drill_commands, r->original_commands + 4);
  EXPECT_EQ(r->drill.fills, 2u);  // seq 6 and 7
  EXPECT_EQ(r->drill.rejects, 1u);
  EXPECT_EQ(FindInstrument(r->drill, "AAA")->volume, 40 + 30);
  // The drill journal holds the admin commands and replays byte for byte.
  absl::StatusOr<VerifyResult> v = VerifyReplay(out, /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, r->drill_commands);
  absl::StatusOr<ReportData> again = BuildReport(out, 5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(RenderReportJson(*again), RenderReportJson(r->drill));
}

// An export ban that drops an agency's very first offer: every later offer id shifts, and a
// cancel of a later offer must still reach it (the translation must not stop at the gap).
TEST(DrillTest, OfferIdsAfterADroppedFirstOfferAreStillTranslated) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  std::vector<Command> cmds = HandCommands();
  Command cancel{};
  cancel.time = kT0 + 100 * kSecond;
  cancel.type = CommandType::kCancelOffer;
  cancel.cancel = CancelOffer{kC, 5};  // C's bid of 5 at 99: 3 lots left after seq 10
  cmds.push_back(cancel);
  WriteJournal(journal, HandConfig(), cmds);
  // A exports no alpha from the start: its offers 1, 2 and 7 are dropped, so B's and C's
  // offers 3, 4, 5, 6 become the drill's 1..4 and rest unfilled; the cancel reaches 3.
  absl::StatusOr<DrillResult> r = RunDrill(
      journal, Scenario(R"(edits { at_seq: 4 export_ban { agency: "AG-A" mineral: "alpha" } })"),
      tmp.sub("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dropped_submits, 3u);
  EXPECT_EQ(r->dropped_offer_commands, 0u);
  EXPECT_EQ(r->drill.rejects, 0u);
  EXPECT_EQ(r->drill.fills, 0u);
  EXPECT_EQ(r->drill_commands, r->original_commands - 3);
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.sub("drill"), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

// Term offers and obligations have their own id spaces; when a drill shifts them, a
// cancel, return or recall must still reach the same offer or loan, or be dropped.
TEST(DrillTest, TermOfferAndObligationIdsAreTranslatedLikeOfferIds) {
  const v1::ExchangeConfig config = DefaultConfig();
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  ASSERT_TRUE(ref.ok()) << ref.status();
  const AgencyId komir = *ref->FindAgency("KOMIR"), jogmec = *ref->FindAgency("JOGMEC"),
                 dla = *ref->FindAgency("DLA");
  const InstrumentId co = *ref->FindInstrument("CO-99.8");
  const TermBookId co30 = *ref->FindTermBook("CO-99.8@30D");
  const Amount lot = ref->instruments()[co].lot_size;
  std::vector<Command> cmds;
  auto at = [&](Command c) {
    c.time = kT0 + static_cast<TimeNs>(cmds.size()) * kSecond;
    cmds.push_back(c);
  };
  for (AgencyId a : {komir, jogmec, dla}) at(Holding(a, co, 100 * lot));
  auto term = [&](AgencyId a, Side side, Lots lots) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{a, co30, side, TimeInForce::kGtc, lots, 150, 0, 0, 0, 0, 0};
    at(c);
  };
  auto obligation = [&](CommandType type, AgencyId a, std::uint64_t id, Amount amount) {
    Command c{};
    c.type = type;
    c.obligation = {a, id, amount};
    at(c);
  };
  // Original: term offers 1 (DLA lends 5), 2 (KOMIR lends 12), 3 (JOGMEC borrows 10:
  // obligation 1 from DLA, 5 lots; obligation 2 from KOMIR, 5 lots); KOMIR cancels the 7
  // lots left of offer 2; JOGMEC returns 5 lots on obligation 2; DLA recalls obligation 1.
  term(dla, Side::kSell, 5);       // seq 4
  term(komir, Side::kSell, 12);    // seq 5
  term(jogmec, Side::kBuy, 10);    // seq 6
  Command cancel{};
  cancel.type = CommandType::kCancelTermOffer;
  cancel.cancel = CancelOffer{komir, 2};
  at(cancel);                      // seq 7
  obligation(CommandType::kReturnObligation, jogmec, 2, 5 * lot);  // seq 8
  obligation(CommandType::kRecallObligation, dla, 1, 0);           // seq 9
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  WriteJournal(journal, config, cmds);

  // Drill: DLA has no cobalt before seq 4, so its lend is rejected. KOMIR's lend becomes
  // term offer 1, JOGMEC's borrow term offer 2, taking 10 lots of it: obligation 1. The
  // cancel must reach KOMIR's offer (2 lots left), the return the KOMIR loan, and DLA's
  // recall names a loan the drill never made: dropped.
  const std::string out = tmp.sub("drill");
  absl::StatusOr<DrillResult> r = RunDrill(journal, Scenario(R"(
      edits { at_seq: 4 supply_shock { agency: "DLA" instrument: "CO-99.8" numerator: 0 denominator: 1 } }
  )"),
                                           out, 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dropped_offer_commands, 1u);
  EXPECT_EQ(r->drill.rejects, 1u);  // DLA's lend only
  ASSERT_EQ(r->drill.loans.size(), 1u);
  EXPECT_EQ(r->drill.loans[0].opened, 1u);
  EXPECT_EQ(r->drill.loans[0].lent, 10 * lot);
  EXPECT_EQ(r->drill.loans[0].paid_back, 5 * lot);
  EXPECT_EQ(r->drill.loans[0].recalled, 0u);
  ASSERT_EQ(r->original.loans.size(), 1u);
  EXPECT_EQ(r->original.loans[0].opened, 2u);
  EXPECT_EQ(r->original.loans[0].recalled, 1u);
  EXPECT_EQ(r->original.rejects, 0u);
  absl::StatusOr<VerifyResult> v = VerifyReplay(out, /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

TEST(DrillTest, ScenarioErrorsNameTheEditAndField) {
  const ReferenceData* ref = nullptr;
  absl::StatusOr<ReferenceData> loaded = LoadReferenceData(HandConfig());
  ASSERT_TRUE(loaded.ok());
  ref = &*loaded;
  auto err = [&](const std::string& text) {
    absl::StatusOr<std::vector<ResolvedEdit>> r = ResolveScenario(Scenario(text), *ref);
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  EXPECT_EQ(err(R"(edits { at_seq: 1 export_ban { agency: "AG-A" mineral: "gamma" } })"),
            "edits[0].export_ban.mineral: unknown mineral \"gamma\"");
  EXPECT_EQ(err(R"(edits { at_seq: 1 halt_pair { pair: "AAA/BBB" } }
                   edits { at_seq: 1 supply_shock { agency: "AG-A" instrument: "AAA" denominator: 0 } })"),
            "edits[1].supply_shock.denominator: must be > 0");
  EXPECT_EQ(err(R"(edits { halt_pair { pair: "AAA/BBB" } })"),
            "edits[0]: needs a trigger (at_seq or at_time_ns)");
  EXPECT_EQ(err(R"(edits { at_seq: 3 inject_offer { agency: "ZZ" pair: "AAA/BBB" } })"),
            "edits[0].inject_offer.agency: unknown agency \"ZZ\"");
  EXPECT_EQ(err(R"(edits { at_seq: 3 set_level { instrument: "AAA" level: "RED" } })"),
            "edits[0].set_level.level: unknown level \"RED\" (NORMAL, INTEREST, CAUTION, "
            "WARNING or SERIOUS)");
  EXPECT_EQ(err(R"(edits { at_seq: 3 set_level { instrument: "ZZZ" level: "WARNING" } })"),
            "edits[0].set_level.instrument: unknown instrument \"ZZZ\"");
  EXPECT_EQ(err(R"(edits { at_seq: 3 publish_reference { instrument: "AAA" } })"),
            "edits[0].publish_reference.reference_value_micro_usd: must be > 0");
  EXPECT_EQ(err(R"(edits { at_seq: 3 suspend_member { agreement: "NONE" agency: "AG-A" } })"),
            "edits[0].suspend_member.agreement: unknown agreement \"NONE\"");
  absl::StatusOr<msx::v1::Scenario> bad = ParseScenarioText("edits { at_sequence: 1 }");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "scenario line 1:")) << bad.status();
}

// The example scenario shipped with the tool runs on a default-configuration journal.
TEST(DrillTest, ExampleScenarioFiresEveryEditOnADefaultConfigJournal) {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  const std::string path =
      src ? std::string(src) + "/clients/drill/examples/cobalt_crisis.textproto"
          : std::filesystem::path(__FILE__).parent_path().string() +
                "/examples/cobalt_crisis.textproto";
  absl::StatusOr<msx::v1::Scenario> scenario = ReadScenarioFile(path);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  TrafficOptions opt;
  opt.commands = 2000;
  ASSERT_TRUE(WriteTrafficJournal(journal, DefaultConfig(), opt).ok());
  absl::StatusOr<DrillResult> r = RunDrill(journal, *scenario, tmp.sub("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 5u);
  EXPECT_GT(r->dropped_submits, 0u);  // DLA's later cobalt submits
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.sub("drill"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
}

// The emergency example: every edit fires as a journaled admin command (none rejected) and
// the drill journal replays byte for byte, state digest included.
TEST(DrillTest, EmergencyExampleScenarioFiresEveryEditOnADefaultConfigJournal) {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  const std::string path =
      src ? std::string(src) + "/clients/drill/examples/cobalt_emergency.textproto"
          : std::filesystem::path(__FILE__).parent_path().string() +
                "/examples/cobalt_emergency.textproto";
  absl::StatusOr<msx::v1::Scenario> scenario = ReadScenarioFile(path);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  TrafficOptions opt;
  opt.commands = 2000;
  ASSERT_TRUE(WriteTrafficJournal(journal, DefaultConfig(), opt).ok());
  absl::StatusOr<DrillResult> r = RunDrill(journal, *scenario, tmp.sub("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fired.size(), 5u);
  for (const FiredEdit& f : r->fired) {
    EXPECT_EQ(f.commands, 1u) << f.description;
    EXPECT_FALSE(absl::StrContains(f.description, "rejected")) << f.description;
  }
  EXPECT_TRUE(absl::StartsWith(r->fired[0].description, "level: CO-99.8 -> WARNING (export ban)"))
      << r->fired[0].description;
  absl::StatusOr<VerifyResult> v = VerifyReplay(tmp.sub("drill"), /*state_digest=*/true);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->diverged) << DivergenceMessage(v->divergence);
  EXPECT_EQ(v->commands, r->drill_commands);
}

TEST(DrillTest, OutputDirectoryHoldingAJournalIsRefused) {
  TempDir tmp;
  WriteJournal(tmp.path(), HandConfig(), HandCommands());
  absl::StatusOr<DrillResult> r = RunDrill(tmp.path(), msx::v1::Scenario(), tmp.path(), 5);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
}

TEST(DrillTest, EmptyScenarioReproducesTheOriginalJournal) {
  TempDir tmp;
  const std::string journal = tmp.sub("journal");
  TrafficOptions opt;
  opt.commands = 4000;
  ASSERT_TRUE(WriteTrafficJournal(journal, DefaultConfig(), opt).ok());
  absl::StatusOr<DrillResult> r = RunDrill(journal, msx::v1::Scenario(), tmp.sub("drill"), 5);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(RenderReportJson(r->original), RenderReportJson(r->drill));
  absl::StatusOr<VerifyResult> a = VerifyReplay(journal, true);
  absl::StatusOr<VerifyResult> b = VerifyReplay(tmp.sub("drill"), true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->state_digest, b->state_digest);
}

// ---- JSON output ----

// Quotes, a backslash, control characters (NUL, newline, tab, BEL, ESC, US, DEL), Latin and
// CJK letters and an emoji: every string a JSON writer must escape or pass through intact.
const std::string kAwkward =
    std::string("q\"uo\\te \0 \n\t\x07\x1b\x1f\x7f", 16) + " é 漢字 🙂";

ReportData AwkwardReport() {
  ReportData r;
  r.commands = std::numeric_limits<std::uint64_t>::max();
  r.first_time = std::numeric_limits<std::int64_t>::min();
  PairReport& p = r.pairs.emplace_back();
  p.symbol = "pair " + kAwkward;
  p.base = "base " + kAwkward;
  p.quote = "quote " + kAwkward;
  p.base_unit = "bu " + kAwkward;
  p.quote_unit = "qu " + kAwkward;
  InstrumentReport& i = r.instruments.emplace_back();
  i.symbol = "instrument " + kAwkward;
  i.unit = "unit " + kAwkward;
  AgencyReport& a = r.agencies.emplace_back();
  a.code = "agency " + kAwkward;
  AgencyHoldingRow& h = a.rows.emplace_back();
  h.symbol = "holding " + kAwkward;
  h.unit = "hu " + kAwkward;
  return r;
}

void ExpectAwkwardReport(const nlohmann::json& j) {
  EXPECT_EQ(j.at("commands").get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(j.at("first_time_ns").get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  const nlohmann::json& p = j.at("pairs").at(0);
  EXPECT_EQ(p.at("pair"), "pair " + kAwkward);
  EXPECT_EQ(p.at("base"), "base " + kAwkward);
  EXPECT_EQ(p.at("quote"), "quote " + kAwkward);
  EXPECT_EQ(p.at("base_unit"), "bu " + kAwkward);
  EXPECT_EQ(p.at("quote_unit"), "qu " + kAwkward);
  const nlohmann::json& i = j.at("instruments").at(0);
  EXPECT_EQ(i.at("instrument"), "instrument " + kAwkward);
  EXPECT_EQ(i.at("unit"), "unit " + kAwkward);
  const nlohmann::json& a = j.at("agencies").at(0);
  EXPECT_EQ(a.at("agency"), "agency " + kAwkward);
  EXPECT_EQ(a.at("holdings").at(0).at("instrument"), "holding " + kAwkward);
  EXPECT_EQ(a.at("holdings").at(0).at("unit"), "hu " + kAwkward);
}

// Parses `text` as one JSON document; a parse error fails the test (and yields null).
nlohmann::json Parse(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
  return j;
}

TEST(JsonOutputTest, ReportJsonRoundTripsAnyStringAndExtremeIntegers) {
  ExpectAwkwardReport(Parse(RenderReportJson(AwkwardReport())));
}

TEST(JsonOutputTest, DrillJsonRoundTripsAnyStringAndExtremeIntegers) {
  DrillResult d;
  d.out_dir = "/tmp/" + kAwkward;
  d.fired.push_back({.index = 3,
                     .drill_seq = 7,
                     .before_original_seq = 9,
                     .commands = 1,
                     .description = "edit " + kAwkward});
  d.original = AwkwardReport();
  d.drill = AwkwardReport();
  const nlohmann::json j = Parse(RenderDrillJson(d));
  EXPECT_EQ(j.at("out_dir"), d.out_dir);
  EXPECT_EQ(j.at("fired").at(0).at("description"), "edit " + kAwkward);
  const nlohmann::json& c = j.at("comparison");
  EXPECT_EQ(c.at("instruments").at(0).at("instrument"), "instrument " + kAwkward);
  EXPECT_EQ(c.at("instruments").at(0).at("unit"), "unit " + kAwkward);
  ExpectAwkwardReport(c.at("original"));
  ExpectAwkwardReport(c.at("drill"));
}

TEST(JsonOutputTest, VerifyJsonRoundTripsAnyPathAndNamesTheDivergence) {
  VerifyResult r;
  r.diverged = true;
  r.commands = std::numeric_limits<std::uint64_t>::max();
  r.divergence.seq = 12;
  r.divergence.file = "/data/" + kAwkward + "/00000000000000000001.msxj";
  r.divergence.offset = 4096;
  Command c{};
  c.type = CommandType::kSubmitOffer;
  c.seq = 12;
  c.submit.client_id = std::numeric_limits<ClientOfferId>::max();
  r.divergence.command = journal::CommandJson(c);
  const nlohmann::json j = Parse(RenderVerifyJson("/data/" + kAwkward, r));
  EXPECT_EQ(j.at("dir"), "/data/" + kAwkward);
  EXPECT_EQ(j.at("ok"), false);
  EXPECT_EQ(j.at("commands").get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
  const nlohmann::json& d = j.at("divergence");
  EXPECT_EQ(d.at("file"), r.divergence.file);
  EXPECT_EQ(d.at("offset"), 4096);
  EXPECT_EQ(d.at("command").at("client_id").get<std::uint64_t>(),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(d.at("command").at("type"), "SubmitOffer");
  EXPECT_TRUE(d.at("expected").is_null());
  EXPECT_TRUE(d.at("actual").is_null());
}

}  // namespace
}  // namespace msx::drill
