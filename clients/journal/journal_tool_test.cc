#include "clients/journal/journal_tool.h"

#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/dir_lock.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "gtest/gtest.h"

namespace msx::journal_tool {
namespace {

using journal::testing::TempDir;

struct Output {
  int code;
  std::string out;
  std::string err;
};

Output RunTool(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = Run(args, out, err);
  return {code, out.str(), err.str()};
}

// A journal written the way msx-server writes one: the default configuration as CONFIG,
// its initial holdings as SetHoldings, then offers that cross at the reference price.
class JournalToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const msx::v1::ExchangeConfig& config = DefaultConfig();
    auto ref = LoadReferenceData(config);
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::make_unique<ReferenceData>(*std::move(ref));
    Engine engine(*ref_, EngineOptions{});
    journal::WriterOptions o;
    o.durability = journal::Durability::kNone;
    o.config = config.SerializeAsString();
    auto writer = journal::JournalWriter::Open(dir_.path(), o);
    ASSERT_TRUE(writer.ok()) << writer.status();
    auto holdings = InitialHoldingCommands(config, *ref_);
    ASSERT_TRUE(holdings.ok());
    std::vector<Command> cmds = *holdings;
    // Every pair of trading agencies on pair 0 offers both ways at the reference price.
    const PairBook& pair = ref_->pairs()[0];
    ClientOfferId id = 0;
    for (const Agency& a : ref_->agencies()) {
      if (a.role != Role::kAgency) continue;
      for (Side side : {Side::kSell, Side::kBuy}) {
        Command c{};
        c.type = CommandType::kSubmitOffer;
        c.submit.agency = a.id;
        c.submit.pair = pair.id;
        c.submit.side = side;
        c.submit.tif = TimeInForce::kGtc;
        c.submit.lots = 1;
        c.submit.price = pair.reference_price;
        c.submit.client_id = ++id;
        cmds.push_back(c);
      }
    }
    std::vector<Event> events;
    Seq seq = 0;
    for (Command& c : cmds) {
      c.seq = ++seq;
      c.time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq);
      events.clear();
      engine.Apply(c, &events);
      for (const Event& e : events) {
        if (e.type != EventType::kBookLevel) ++journaled_events_;
      }
      ASSERT_TRUE((*writer)->Append(c, events).ok());
    }
    commands_ = seq;
    ASSERT_TRUE((*writer)->Close().ok());
  }

  // Copies the journal into the subdirectory `name` of dir_; returns its path.
  std::string CopyJournalTo(const std::string& name) {
    const std::string to = dir_.file(name);
    std::filesystem::create_directory(to);
    for (const auto& f : std::filesystem::directory_iterator(dir_.path())) {
      if (f.is_regular_file()) std::filesystem::copy(f.path(), to);
    }
    return to;
  }

  std::string Segment() {
    auto s = journal::ListSegments(dir_.path());
    return s->front().path;
  }

  TempDir dir_;
  std::unique_ptr<ReferenceData> ref_;
  std::uint64_t commands_ = 0;
  std::uint64_t journaled_events_ = 0;
};

TEST_F(JournalToolTest, VerifySoundJournalExitsZero) {
  Output o = RunTool({"verify", dir_.path()});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StartsWith(o.out, "ok: 1 segments")) << o.out;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat(commands_, " commands"))) << o.out;
}

TEST_F(JournalToolTest, VerifyReplayRegeneratesEveryEvent) {
  Output o = RunTool({"verify", dir_.path(), "--replay"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("replayed ", commands_, " commands"))) << o.out;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat(journaled_events_, " events"))) << o.out;
}

TEST_F(JournalToolTest, VerifyDamagedJournalPrintsFileAndOffsetAndExitsOne) {
  auto reader = journal::JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  journal::JournalEntry e;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*reader)->Next(&e));
  journal::testing::FlipByte(e.file, e.offset + 12);
  Output o = RunTool({"verify", dir_.path()});
  EXPECT_EQ(o.code, kExitDamaged);
  EXPECT_TRUE(absl::StrContains(o.err, absl::StrCat(e.file, ":", e.offset, ": "))) << o.err;
  EXPECT_TRUE(o.out.empty()) << o.out;
}

TEST_F(JournalToolTest, VerifyReportsATornTailAsNotDamage) {
  std::string seg = Segment();
  journal::testing::TruncateTo(seg, journal::testing::FileSize(seg) - 3);
  Output o = RunTool({"verify", dir_.path()});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StrContains(o.out, "torn tail")) << o.out;
  // The verified bytes are the ones kept: up to where the torn tail starts.
  auto reader = journal::JournalReader::Open(dir_.path(), {});
  ASSERT_TRUE(reader.ok());
  journal::JournalEntry e;
  while ((*reader)->Next(&e)) {
  }
  const journal::ReadStats& st = (*reader)->stats();
  ASSERT_GT(st.torn_bytes, 0u);
  EXPECT_EQ(st.bytes, st.torn_offset);
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat(", ", st.torn_offset, " bytes, "))) << o.out;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("after offset ", st.torn_offset))) << o.out;
}

TEST_F(JournalToolTest, VerifyReportsPreallocatedZerosApartFromTornBytesAndCanCutThem) {
  // A preallocating writer that crashed: its segment ends in zeros, nothing torn.
  std::string seg = Segment();
  const std::uint64_t data_end = journal::testing::FileSize(seg);
  journal::testing::AppendZeros(seg, 1 << 20);
  Output o = RunTool({"verify", dir_.path()});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_FALSE(absl::StrContains(o.out, "torn tail")) << o.out;
  EXPECT_TRUE(absl::StrContains(
      o.out, absl::StrCat("zero fill: ", 1 << 20, " bytes after offset ", data_end)))
      << o.out;
  Output stats = RunTool({"stats", dir_.path()});
  EXPECT_EQ(stats.code, kExitOk) << stats.err;
  EXPECT_TRUE(absl::StrContains(stats.out, absl::StrCat("\"zero_fill_bytes\":", 1 << 20)))
      << stats.out;
  EXPECT_EQ(RunTool({"dump", dir_.path()}).code, kExitOk);
  Output cut = RunTool({"verify", dir_.path(), "--truncate-torn-tail"});
  EXPECT_EQ(cut.code, kExitOk) << cut.err;
  EXPECT_EQ(journal::testing::FileSize(seg), data_end);
}

TEST_F(JournalToolTest, TruncatingRefusesALockedDirectoryButReadingDoesNot) {
  // A running msx-server holds DIR/LOCK; cutting its live tail would lose acknowledged work.
  auto server = journal::DirLock::Acquire(dir_.path());
  ASSERT_TRUE(server.ok()) << server.status();
  std::string seg = Segment();
  journal::testing::TruncateTo(seg, journal::testing::FileSize(seg) - 3);
  const std::uint64_t torn_size = journal::testing::FileSize(seg);
  for (const char* flag : {"--truncate-torn-tail", "--truncate-at-corruption"}) {
    Output o = RunTool({"verify", dir_.path(), flag});
    EXPECT_EQ(o.code, kExitDamaged) << flag << ": " << o.out;
    EXPECT_TRUE(absl::StrContains(o.err, dir_.path() + " is in use: another msx-server holds"))
        << o.err;
    EXPECT_EQ(journal::testing::FileSize(seg), torn_size) << flag << " modified a locked journal";
  }
  EXPECT_EQ(RunTool({"verify", dir_.path()}).code, kExitOk);
  EXPECT_EQ(RunTool({"dump", dir_.path()}).code, kExitOk);
  server->reset();
  Output o = RunTool({"verify", dir_.path(), "--truncate-torn-tail"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_LT(journal::testing::FileSize(seg), torn_size);
}

TEST_F(JournalToolTest, DumpPrintsOneJsonObjectPerRecord) {
  Output o = RunTool({"dump", dir_.path()});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  std::vector<std::string> lines = absl::StrSplit(o.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1 + commands_ + journaled_events_);
  EXPECT_TRUE(absl::StartsWith(lines[0], "{\"record\":\"config\"")) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "{\"record\":\"command\"")) << lines[1];
  for (const std::string& l : lines) {
    EXPECT_EQ(l.front(), '{');
    EXPECT_EQ(l.back(), '}');
  }
  EXPECT_TRUE(absl::StrContains(o.out, "\"type\":\"SetHoldings\""));
}

TEST_F(JournalToolTest, DumpAfterSkipsEarlierCommands) {
  Output o = RunTool({"dump", dir_.path(), "--after", std::to_string(commands_ - 1)});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("\"seq\":", commands_, ",")));
  EXPECT_FALSE(absl::StrContains(o.out, absl::StrCat("\"seq\":", commands_ - 1, ",")));
}

TEST_F(JournalToolTest, FlagsMayComeBeforeTheCommandAndTakeAnEqualsSign) {
  Output o = RunTool({"--after", std::to_string(commands_ - 2), "dump",
                      absl::StrCat("--until=", commands_ - 1), dir_.path()});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("\"seq\":", commands_ - 1, ",")));
  EXPECT_FALSE(absl::StrContains(o.out, absl::StrCat("\"seq\":", commands_, ",")));
  EXPECT_FALSE(absl::StrContains(o.out, absl::StrCat("\"seq\":", commands_ - 2, ",")));
}

TEST_F(JournalToolTest, StatsCountsCommandsAndEvents) {
  Output o = RunTool({"stats", dir_.path()});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("\"commands\":", commands_, ","))) << o.out;
  EXPECT_TRUE(absl::StrContains(o.out, "\"SubmitOffer\":")) << o.out;
}

// A directory name with quotes, a backslash, control characters (newline, tab, BEL, ESC,
// US, DEL), Latin and CJK letters and an emoji: dump and stats must print it as a JSON
// string that reads back as the same bytes.
TEST_F(JournalToolTest, DumpAndStatsRoundTripAnyDirectoryName) {
  const std::string awkward = CopyJournalTo("q\"uo\\te \n\t\x07\x1b\x1f\x7f é 漢字 🙂");
  Output dump = RunTool({"dump", awkward});
  ASSERT_EQ(dump.code, kExitOk) << dump.err;
  std::vector<std::string> lines = absl::StrSplit(dump.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1 + commands_ + journaled_events_);
  std::uint64_t seq = 0;
  for (const std::string& l : lines) {
    nlohmann::json j = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << l;
    const std::string file = j.at("file");
    EXPECT_EQ(file.substr(0, awkward.size() + 1), awkward + "/") << l;
    if (j.at("record") == "command") {
      // Times above 2^53 keep every digit (no detour through a double).
      ++seq;
      EXPECT_EQ(j.at("command").at("seq").get<std::uint64_t>(), seq);
      EXPECT_EQ(j.at("command").at("time").get<std::int64_t>(),
                1'700'000'000'000'000'000 + static_cast<std::int64_t>(seq));
    }
  }
  EXPECT_EQ(seq, commands_);
  Output stats = RunTool({"stats", awkward});
  ASSERT_EQ(stats.code, kExitOk) << stats.err;
  nlohmann::json j = nlohmann::json::parse(stats.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON: " << stats.out;
  EXPECT_EQ(j.at("dir"), awkward);
  EXPECT_EQ(j.at("commands"), commands_);
}

// A file name need not be UTF-8; the JSON stays valid (each bad byte becomes U+FFFD).
TEST_F(JournalToolTest, StatsOfANonUtf8DirectoryNameIsStillJson) {
  const std::string latin1 = CopyJournalTo("caf\xe9");
  Output stats = RunTool({"stats", latin1});
  nlohmann::json j = nlohmann::json::parse(stats.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON: " << stats.out << stats.err;
  EXPECT_EQ(j.at("dir"), dir_.file("caf\xef\xbf\xbd"));
}

TEST(JournalJsonTest, CommandsAndEventsKeepEvery64BitDigit) {
  Command c{};
  c.type = CommandType::kSubmitOffer;
  c.seq = std::numeric_limits<Seq>::max();
  c.time = std::numeric_limits<TimeNs>::min();
  c.submit.client_id = std::numeric_limits<ClientOfferId>::max();
  c.submit.allow = std::numeric_limits<std::uint64_t>::max() - 1;
  nlohmann::json command = nlohmann::json::parse(journal::CommandToJson(c));
  EXPECT_EQ(command.at("seq").get<Seq>(), c.seq);
  EXPECT_EQ(command.at("time").get<TimeNs>(), c.time);
  EXPECT_EQ(command.at("client_id").get<ClientOfferId>(), c.submit.client_id);
  EXPECT_EQ(command.at("allow").get<std::uint64_t>(), c.submit.allow);
  EXPECT_EQ(command.at("type"), "SubmitOffer");
  Event e{};
  e.type = EventType::kFill;
  e.fill.fill_id = std::numeric_limits<std::uint64_t>::max();
  e.fill.quote_amount = std::numeric_limits<Amount>::min();
  nlohmann::json event = nlohmann::json::parse(journal::EventToJson(e));
  EXPECT_EQ(event.at("fill_id").get<std::uint64_t>(), e.fill.fill_id);
  EXPECT_EQ(event.at("quote_amount").get<Amount>(), e.fill.quote_amount);
  EXPECT_EQ(event.at("type"), "Fill");
}

TEST(JournalToolUsageTest, BadArgumentsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(RunTool({}).code, kExitUsage);
  EXPECT_EQ(RunTool({"frobnicate", "/tmp"}).code, kExitUsage);
  EXPECT_EQ(RunTool({"dump", "/tmp", "--after", "x"}).code, kExitUsage);
  EXPECT_EQ(RunTool({"stats", "/tmp", "--replay"}).code, kExitUsage);
  Output help = RunTool({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_TRUE(absl::StrContains(help.out, "verify DIR"));
}

TEST(JournalToolUsageTest, UnknownFlagIsNamedAndExitsTwo) {
  Output o = RunTool({"verify", "/tmp", "--frob"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StartsWith(o.err, "msx-journal: unrecognised option '--frob'\n")) << o.err;
  // Abbreviations are not guessed: --truncate-* must be spelled out.
  o = RunTool({"verify", "/tmp", "--truncate-torn"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(o.err, "'--truncate-torn'")) << o.err;
}

TEST(JournalToolUsageTest, BadValueNamesTheFlagAndTheValueAndExitsTwo) {
  Output o = RunTool({"dump", "/tmp", "--after", "-1"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StartsWith(o.err, "msx-journal: --after: expects a sequence number, got '-1'"))
      << o.err;
  o = RunTool({"dump", "/tmp", "--until=12x"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StartsWith(o.err, "msx-journal: --until: expects a sequence number, got '12x'"))
      << o.err;
  o = RunTool({"dump", "/tmp", "--until"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(o.err, "'--until'")) << o.err;
  o = RunTool({"verify", "/tmp", "--replay=yes"});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_TRUE(absl::StrContains(o.err, "'--replay'")) << o.err;
}

TEST(JournalToolUsageTest, MissingDirectoryIsReportedAndExitsOne) {
  Output o = RunTool({"verify", "/nonexistent/msx-journal-dir"});
  EXPECT_EQ(o.code, kExitDamaged);
  EXPECT_TRUE(absl::StrContains(o.err, "/nonexistent/msx-journal-dir")) << o.err;
}

}  // namespace
}  // namespace msx::journal_tool
