// msx-drill end to end: the real binary on journals written by a real msx-server under
// load, and on generated journals (its exit codes name the outcome).
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/journal/codec.h"
#include "engine/journal/reader.h"
#include "engine/testing/traffic_journal.h"
#include "gtest/gtest.h"
#include "tests/gateway_test_client.h"
#include "tests/testing/config_files.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::AgencyClient;
using testing::BuildPath;
using testing::CommandResult;
using testing::RunCommand;

CommandResult Drill(const std::vector<std::string>& args,
                    const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {BuildPath("clients/drill/msx-drill")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, env, std::chrono::seconds(120));
}

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

// Four agencies trade GA-4N/CO-99.8 (all in FORGE) from four threads at once, around
// the fair price, with cancels; then the server stops and msx-drill checks its data dir.
TEST(DrillE2eTest, ServerDataDirWrittenUnderLoadVerifiesAndReportsEveryFill) {
  testing::ServerProcess server;
  const std::string data_dir = testing::MakeTempDir("msx-drill-e2e");
  testing::ServerProcess::Options options;
  options.data_dir = data_dir;
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  const std::vector<std::string> tokens = {"demo-komir", "demo-jogmec", "demo-dla", "demo-cmsr-au"};
  std::atomic<int> fills{0}, accepted{0}, failures{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    threads.emplace_back([&, t] {
      AgencyClient client(server.address(), tokens[t]);
      const v1::Pair pair = client.Pair(testing::kGaCo);
      const std::int64_t fair = client.FairPrice(testing::kGaCo);
      std::mt19937_64 rng(t + 1);
      std::vector<std::uint64_t> mine;
      for (int i = 1; i <= 150; ++i) {
        if (i % 5 == 0 && !mine.empty()) {
          v1::CancelOfferResponse c;
          (void)client.Cancel(mine[rng() % mine.size()], &c);  // may already be filled
          continue;
        }
        const v1::Side side = rng() % 2 ? v1::SIDE_BUY : v1::SIDE_SELL;
        const std::int64_t price = fair + (static_cast<std::int64_t>(rng() % 7) - 3) * pair.tick();
        v1::SubmitOfferResponse resp;
        grpc::Status s = client.Submit(static_cast<std::uint64_t>(i), testing::kGaCo, side,
                                       1 + static_cast<std::int64_t>(rng() % 3), price, &resp);
        if (!s.ok()) {
          // Rejections (e.g. holdings) are fine; transport failures are not.
          if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
              s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            ++failures;
          }
          continue;
        }
        ++accepted;
        fills += resp.fills_size();
        mine.push_back(resp.offer().offer_id());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_GT(accepted.load(), 100);
  ASSERT_GT(fills.load(), 10);
  const int status = server.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << server.Output();

  CommandResult v = Drill({"verify", data_dir});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_TRUE(absl::StartsWith(v.out, "OK: ")) << v.out;
  EXPECT_TRUE(absl::StrContains(v.out, absl::StrCat("(", fills.load(), " fills)"))) << v.out;

  CommandResult r = Drill({"report", data_dir, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("\"fills\":", fills.load(), ",")))
      << r.out.substr(0, 400);
  EXPECT_TRUE(absl::StrContains(r.out, "\"pair\":\"GA-4N/CO-99.8\"")) << r.out.substr(0, 400);

  // A drill on the server's journal: KOMIR stops exporting gallium from the start.
  const std::string scenario = data_dir + "-scenario.textproto";
  WriteAll(scenario, R"(edits { at_seq: 1 export_ban { agency: "KOMIR" mineral: "gallium" } })");
  const std::string out = data_dir + "-drill";
  CommandResult d = Drill({"run", data_dir, "--scenario", scenario, "--out", out});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_TRUE(absl::StrContains(d.out, "export ban: KOMIR stops gallium")) << d.out;
  CommandResult dv = Drill({"verify", out});
  EXPECT_EQ(dv.exit_code, 0) << dv.out << dv.err;
  testing::RemoveTree(out);
  std::filesystem::remove(scenario);
  testing::RemoveTree(data_dir);
}

// A generated journal (no GTD offers, so the outcome does not depend on when the server's
// clock advances) replayed live onto a fresh server at 200x its pace gives the server
// exactly the journal's fills, and the server's own journal then verifies.
TEST(DrillE2eTest, LiveReplayReproducesTheJournalOnARealServer) {
  const std::string journal = testing::MakeTempDir("msx-drill-live-src");
  testing::TrafficOptions opt;
  opt.commands = 400;
  opt.gtd = false;
  auto stats = testing::WriteTrafficJournal(journal, DefaultConfig(), opt);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GT(stats->fills, 10u);

  testing::ServerProcess server;
  const std::string data_dir = testing::MakeTempDir("msx-drill-live-dst");
  testing::ServerProcess::Options options;
  options.data_dir = data_dir;
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  CommandResult live = Drill({"replay", journal, "--server", server.address(), "--speed", "200"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_TRUE(absl::StrContains(live.out, absl::StrCat(stats->fills, " fills;"))) << live.out;
  const int status = server.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << server.Output();

  CommandResult v = Drill({"verify", data_dir});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_TRUE(absl::StrContains(v.out, absl::StrCat("(", stats->fills, " fills)"))) << v.out;
  testing::RemoveTree(journal);
  testing::RemoveTree(data_dir);
}

// Every obligation as the admin sees it, without the times (a replay runs on another
// clock): "id lender->borrower book principal due returned outstanding state recalled".
std::vector<std::string> Obligations(AgencyClient& admin) {
  v1::ListObligationsResponse resp;
  grpc::Status s = admin.exchange().ListObligations(admin.Context().get(),
                                                    v1::ListObligationsRequest(), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::vector<std::string> out;
  for (const v1::Obligation& o : resp.obligations()) {
    out.push_back(absl::StrCat(o.obligation_id(), " ", o.lender(), "->", o.borrower(), " ",
                               o.book(), " ", o.principal(), " ", o.due_amount(), " ",
                               o.returned(), " ", o.outstanding(), " ",
                               v1::ObligationState_Name(o.state()), o.recalled() ? " recalled" : ""));
  }
  return out;
}

// Every instrument's level, reference value and floor.
std::vector<std::string> Levels(AgencyClient& client) {
  v1::GetLevelsResponse resp;
  grpc::Status s =
      client.exchange().GetLevels(client.Context().get(), v1::GetLevelsRequest(), &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::vector<std::string> out;
  for (const v1::InstrumentLevel& l : resp.levels()) {
    out.push_back(absl::StrCat(l.instrument(), " ", v1::EmergencyLevel_Name(l.level()), " ",
                               l.reference_value_micro_usd(), " ", l.floor_micro_usd()));
  }
  return out;
}

// A journal with term offers, loans, a cancel, a return, a recall and the emergency admin
// commands, written by a real server, replayed live onto a fresh one: the same obligations
// (same ids, parties, amounts, states) and the same levels and reference data.
TEST(DrillE2eTest, LiveReplayOfTermAndEmergencyCommandsGivesTheSameObligationsAndLevels) {
  const std::string source_dir = testing::MakeTempDir("msx-drill-live-term-src");
  testing::ServerProcess source;
  testing::ServerProcess::Options options;
  options.data_dir = source_dir;
  ASSERT_TRUE(source.Start(options).ok()) << source.Output();
  AgencyClient admin(source.address(), "demo-admin"), komir(source.address(), "demo-komir"),
      jogmec(source.address(), "demo-jogmec"), dla(source.address(), "demo-dla");
  auto term = [](AgencyClient& c, std::uint64_t id, const char* book, v1::TermSide side,
                 std::int64_t lots) {
    v1::SubmitTermOfferRequest req;
    req.set_client_offer_id(id);
    req.set_book(book);
    req.set_side(side);
    req.set_lots(lots);
    req.set_premium_bps(150);
    v1::SubmitTermOfferResponse resp;
    grpc::Status s = c.exchange().SubmitTermOffer(c.Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  v1::AdminCommandResponse ack;
  v1::SetEmergencyLevelRequest level;
  level.set_instrument("GA-4N");
  level.set_level(v1::EMERGENCY_LEVEL_CAUTION);
  level.set_reason("drill: gallium export controls");
  ASSERT_TRUE(admin.admin().SetEmergencyLevel(admin.Context().get(), level, &ack).ok());
  v1::PublishReferenceRequest publish;
  publish.set_instrument("GA-4N");
  publish.set_reference_value_micro_usd(admin.Instrument("GA-4N").reference_value_micro_usd() /
                                        100 * 103);
  ASSERT_TRUE(admin.admin().PublishReference(admin.Context().get(), publish, &ack).ok());
  v1::MemberRequest member;
  member.set_agreement("FORGE");
  member.set_agency("CMSR-AU");
  ASSERT_TRUE(admin.admin().SuspendMember(admin.Context().get(), member, &ack).ok());
  term(komir, 1, "CO-99.8@30D", v1::TERM_SIDE_LEND, 10);
  term(jogmec, 1, "CO-99.8@30D", v1::TERM_SIDE_BORROW, 6);  // obligation 1
  term(komir, 2, "CO-99.8@90D", v1::TERM_SIDE_LEND, 5);
  v1::SubmitTermOfferResponse loan2 = term(dla, 1, "CO-99.8@90D", v1::TERM_SIDE_BORROW, 5);
  ASSERT_EQ(loan2.obligations_size(), 1);
  v1::CancelTermOfferRequest cancel;
  cancel.set_offer_id(1);  // the 4 lots left of KOMIR's first lend
  v1::CancelTermOfferResponse cancelled;
  ASSERT_TRUE(komir.exchange().CancelTermOffer(komir.Context().get(), cancel, &cancelled).ok());
  v1::ReturnObligationRequest ret;
  ret.set_obligation_id(1);
  ret.set_amount(2'000);
  v1::ReturnObligationResponse returned;
  ASSERT_TRUE(jogmec.exchange().ReturnObligation(jogmec.Context().get(), ret, &returned).ok());
  v1::RecallObligationRequest recall;
  recall.set_obligation_id(loan2.obligations(0).obligation_id());
  v1::RecallObligationResponse recalled;
  ASSERT_TRUE(komir.exchange().RecallObligation(komir.Context().get(), recall, &recalled).ok());
  ASSERT_TRUE(admin.admin().AdmitMember(admin.Context().get(), member, &ack).ok());
  level.set_instrument("CO-99.8");
  level.set_level(v1::EMERGENCY_LEVEL_INTEREST);
  ASSERT_TRUE(admin.admin().SetEmergencyLevel(admin.Context().get(), level, &ack).ok());
  const std::vector<std::string> obligations = Obligations(admin);
  const std::vector<std::string> levels = Levels(admin);
  ASSERT_EQ(obligations.size(), 2u);
  ASSERT_TRUE(WIFEXITED(source.Stop(SIGTERM))) << source.Output();

  testing::ServerProcess target;
  const std::string target_dir = testing::MakeTempDir("msx-drill-live-term-dst");
  options.data_dir = target_dir;
  ASSERT_TRUE(target.Start(options).ok()) << target.Output();
  CommandResult live = Drill({"replay", source_dir, "--server", target.address(), "--speed", "max"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_TRUE(absl::StrContains(live.out, " 0 rejected)")) << live.out;
  AgencyClient target_admin(target.address(), "demo-admin");
  EXPECT_EQ(Obligations(target_admin), obligations);
  EXPECT_EQ(Levels(target_admin), levels);
  EXPECT_TRUE(WIFEXITED(target.Stop(SIGTERM))) << target.Output();
  testing::RemoveTree(source_dir);
  testing::RemoveTree(target_dir);
}

// Every term offer with ids 1..n as the admin sees it, without the times: "id agency book
// side premium original open filled state".
std::vector<std::string> TermOffers(AgencyClient& admin, std::uint64_t n) {
  std::vector<std::string> out;
  for (std::uint64_t id = 1; id <= n; ++id) {
    v1::GetTermOfferRequest req;
    req.set_offer_id(id);
    v1::TermOffer o;
    grpc::Status s = admin.exchange().GetTermOffer(admin.Context().get(), req, &o);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    out.push_back(absl::StrCat(o.offer_id(), " ", o.agency(), " ", o.book(), " ",
                               v1::TermSide_Name(o.side()), " ", o.premium_bps(), " ",
                               o.original_lots(), " ", o.open_lots(), " ", o.filled_lots(), " ",
                               v1::OfferState_Name(o.state())));
  }
  return out;
}

// ReplaceTermOffer (command type 14) is replayed live: a replace that keeps priority, one
// that re-enters at a new premium and lends as the taker (a loan the journal made by the
// replace, later partly returned: the return reaches the live obligation only if the
// replay mapped it), and one at the lent lots that cancels the rest. The live server ends
// with the same term offers and obligations as the source.
TEST(DrillE2eTest, LiveReplayOfTermReplacesGivesTheSameTermOffersAndObligations) {
  const std::string source_dir = testing::MakeTempDir("msx-drill-live-replace-src");
  testing::ServerProcess source;
  testing::ServerProcess::Options options;
  options.data_dir = source_dir;
  ASSERT_TRUE(source.Start(options).ok()) << source.Output();
  AgencyClient admin(source.address(), "demo-admin"), komir(source.address(), "demo-komir"),
      jogmec(source.address(), "demo-jogmec"), dla(source.address(), "demo-dla");
  auto term = [](AgencyClient& c, std::uint64_t id, v1::TermSide side, std::int64_t lots,
                 std::int64_t premium) {
    v1::SubmitTermOfferRequest req;
    req.set_client_offer_id(id);
    req.set_book("CO-99.8@30D");
    req.set_side(side);
    req.set_lots(lots);
    req.set_premium_bps(premium);
    v1::SubmitTermOfferResponse resp;
    grpc::Status s = c.exchange().SubmitTermOffer(c.Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  auto replace = [](AgencyClient& c, std::uint64_t offer, std::int64_t lots,
                    std::int64_t premium) {
    v1::ReplaceTermOfferRequest req;
    req.set_offer_id(offer);
    req.set_lots(lots);
    req.set_premium_bps(premium);
    v1::ReplaceTermOfferResponse resp;
    grpc::Status s = c.exchange().ReplaceTermOffer(c.Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  term(komir, 1, v1::TERM_SIDE_LEND, 10, 150);   // term offer 1
  replace(komir, 1, 8, 150);                     // fewer lots, same premium: keeps its place
  term(jogmec, 1, v1::TERM_SIDE_BORROW, 3, 100); // term offer 2: rests, 100 < 150
  v1::ReplaceTermOfferResponse crossed = replace(komir, 1, 8, 100);  // lends 3 as the taker
  ASSERT_EQ(crossed.obligations_size(), 1);
  v1::ReturnObligationRequest ret;
  ret.set_obligation_id(crossed.obligations(0).obligation_id());
  ret.set_amount(1'000);
  v1::ReturnObligationResponse returned;
  ASSERT_TRUE(jogmec.exchange().ReturnObligation(jogmec.Context().get(), ret, &returned).ok());
  term(dla, 1, v1::TERM_SIDE_BORROW, 2, 100);    // term offer 3: borrows 2 of offer 1
  v1::ReplaceTermOfferResponse cancelled = replace(komir, 1, 5, 100);  // 5 lent: the rest goes
  EXPECT_EQ(cancelled.offer().state(), v1::OFFER_STATE_CANCELLED);
  const std::vector<std::string> obligations = Obligations(admin);
  const std::vector<std::string> offers = TermOffers(admin, 3);
  ASSERT_EQ(obligations.size(), 2u);
  ASSERT_TRUE(WIFEXITED(source.Stop(SIGTERM))) << source.Output();

  testing::ServerProcess target;
  const std::string target_dir = testing::MakeTempDir("msx-drill-live-replace-dst");
  options.data_dir = target_dir;
  ASSERT_TRUE(target.Start(options).ok()) << target.Output();
  CommandResult live = Drill({"replay", source_dir, "--server", target.address(), "--speed", "max"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_TRUE(absl::StrContains(live.out, " 0 rejected)")) << live.out;
  AgencyClient target_admin(target.address(), "demo-admin");
  EXPECT_EQ(Obligations(target_admin), obligations);
  EXPECT_EQ(TermOffers(target_admin, 3), offers);
  EXPECT_TRUE(WIFEXITED(target.Stop(SIGTERM))) << target.Output();
  testing::RemoveTree(source_dir);
  testing::RemoveTree(target_dir);
}

// A real configuration holds only token digests (token_sha256), so it gives the live
// replay no token: the replay is refused before anything is sent, naming the agency (or
// the admin) and where its token can come from; with the tokens from files and the
// environment it reproduces the journal.
TEST(DrillE2eTest, LiveReplayTakesTokensFromFilesAndEnvironmentAndNamesAMissingOne) {
  const std::string scratch = testing::MakeTempDir("msx-drill-tokens");
  const std::string journal = scratch + "/journal";
  std::filesystem::create_directory(journal);
  testing::TrafficOptions opt;
  opt.commands = 300;
  opt.gtd = false;
  auto stats = testing::WriteTrafficJournal(journal, DefaultConfig(), opt);
  ASSERT_TRUE(stats.ok()) << stats.status();

  const std::string digests = scratch + "/exchange.textproto";
  {
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(
        testing::WithTokenDigests(DefaultConfig()), &text));
    std::ofstream(digests) << text;
  }
  testing::ServerProcess server;
  testing::ServerProcess::Options options;
  options.extra_args = {"--config", digests};
  ASSERT_TRUE(server.Start(options).ok()) << server.Output();
  const std::vector<std::string> replay = {"replay",          journal, "--server",
                                           server.address(), "--tokens-config", digests};

  CommandResult no_admin = Drill(replay);
  EXPECT_EQ(no_admin.exit_code, 2) << no_admin.out << no_admin.err;
  EXPECT_TRUE(absl::StrContains(no_admin.err, "no admin token")) << no_admin.err;
  EXPECT_TRUE(absl::StrContains(no_admin.err, "MSX_ADMIN_TOKEN")) << no_admin.err;

  CommandResult no_agency = Drill(replay, {"MSX_ADMIN_TOKEN=demo-admin"});
  EXPECT_EQ(no_agency.exit_code, 2) << no_agency.out << no_agency.err;
  EXPECT_TRUE(absl::StrContains(no_agency.err, "no token for agency ")) << no_agency.err;
  EXPECT_TRUE(absl::StrContains(no_agency.err, "--token-file ")) << no_agency.err;
  EXPECT_TRUE(absl::StrContains(no_agency.err, "MSX_TOKEN_")) << no_agency.err;
  // Refused before anything was sent.
  AgencyClient probe(server.address(), "demo-komir");
  v1::ListOffersResponse offers;
  ASSERT_TRUE(probe.ListOffers(&offers).ok());
  EXPECT_EQ(offers.offers_size(), 0);

  // Every agency's token from a file, CMSR-AU's from the environment, the admin's from a
  // file: the replay reproduces the journal's fills.
  std::vector<std::string> args = replay;
  for (const v1::AgencyConfig& a : DefaultConfig().agencies()) {
    if (a.role() == v1::ROLE_ADMIN || a.id() == "CMSR-AU") continue;
    const std::string file = scratch + "/token-" + a.id();
    std::ofstream(file) << a.tokens(0) << "\n";
    args.push_back("--token-file");
    args.push_back(a.id() + "=" + file);
  }
  const std::string admin_file = scratch + "/token-admin";
  std::ofstream(admin_file) << "  demo-admin  \n";
  args.push_back("--admin-token-file");
  args.push_back(admin_file);
  CommandResult live = Drill(args, {"MSX_TOKEN_CMSR_AU=demo-cmsr-au"});
  EXPECT_EQ(live.exit_code, 0) << live.out << live.err;
  EXPECT_TRUE(absl::StrContains(live.out, absl::StrCat(stats->fills, " fills;"))) << live.out;

  // A token file that cannot be read is named.
  CommandResult missing_file =
      Drill({"replay", journal, "--server", server.address(), "--token-file",
             "KOMIR=" + scratch + "/nope"});
  EXPECT_EQ(missing_file.exit_code, 2) << missing_file.err;
  EXPECT_TRUE(absl::StrContains(missing_file.err, "--token-file KOMIR: cannot read"))
      << missing_file.err;
  testing::RemoveTree(scratch);
}

class DrillCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("msx-drill-cli");
    testing::TrafficOptions opt;
    opt.commands = 3000;
    opt.segment_bytes = 64 << 10;
    auto stats = testing::WriteTrafficJournal(dir_, DefaultConfig(), opt);
    ASSERT_TRUE(stats.ok()) << stats.status();
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  // The segment path and record offset of the first Fill event.
  std::pair<std::string, std::uint64_t> FirstFill(std::string* payload) {
    auto segments = journal::ListSegments(dir_);
    for (const journal::SegmentInfo& s : *segments) {
      std::string bytes = ReadAll(s.path);
      journal::internal::SegmentParser parser(bytes);
      Seq first;
      if (!parser.ReadHeader(&first).ok()) continue;
      journal::internal::SegmentParser::Record rec;
      std::string error;
      while (parser.Next(&rec, &error) == journal::internal::SegmentParser::Result::kRecord) {
        if (rec.type == journal::RecordType::kEvent &&
            static_cast<EventType>(rec.payload[20]) == EventType::kFill) {
          *payload = std::string(rec.payload);
          return {s.path, rec.offset};
        }
      }
    }
    return {"", 0};
  }

  std::string dir_;
};

TEST_F(DrillCliTest, VerifyExitsZeroOnASoundJournal) {
  CommandResult r = Drill({"verify", dir_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.out, "OK: ")) << r.out;
  r = Drill({"verify", dir_, "--json", "--digest"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "\"ok\":true")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"state_digest\":")) << r.out;
}

TEST_F(DrillCliTest, EditedFillExitsOneNamingTheSequenceNumber) {
  std::string payload;
  auto [path, offset] = FirstFill(&payload);
  ASSERT_FALSE(path.empty());
  Event e;
  std::uint32_t index;
  ASSERT_TRUE(journal::DecodeEventPayload(payload, &e, &index).ok());
  e.fill.price += 1;
  std::string edited, record;
  journal::EncodeEventPayload(e, index, &edited);
  journal::AppendRecord(journal::RecordType::kEvent, edited, &record);
  std::string bytes = ReadAll(path);
  bytes.replace(offset, record.size(), record);
  WriteAll(path, bytes);
  CommandResult r = Drill({"verify", dir_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StartsWith(r.out, absl::StrCat("DIVERGED at seq ", e.seq, " "))) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat(path, ":", offset))) << r.out;
}

TEST_F(DrillCliTest, CorruptJournalExitsThreeNamingFileAndOffset) {
  std::string payload;
  auto [path, offset] = FirstFill(&payload);
  ASSERT_FALSE(path.empty());
  std::string bytes = ReadAll(path);
  bytes[offset + 30] ^= 0x40;
  WriteAll(path, bytes);
  for (const char* command : {"verify", "report"}) {
    CommandResult r = Drill({command, dir_});
    EXPECT_EQ(r.exit_code, 3) << command << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, absl::StrCat(path, ":", offset, ": "))) << r.err;
  }
  CommandResult missing = Drill({"report", dir_ + "/nope"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
}

TEST_F(DrillCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Drill({}).exit_code, 2);
  EXPECT_EQ(Drill({"frobnicate", dir_}).exit_code, 2);
  CommandResult bad_flag = Drill({"report", dir_, "--frob"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_flag.err, "unrecognised option '--frob'")) << bad_flag.err;
  CommandResult bad_value = Drill({"report", dir_, "--top", "x"});
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_value.err, "--top: not a non-negative integer: x"))
      << bad_value.err;
  EXPECT_EQ(Drill({"run", dir_, "--out", dir_ + "-o"}).exit_code, 2);  // no --scenario
  const std::string scenario = dir_ + "-bad.textproto";
  WriteAll(scenario, R"(edits { at_seq: 5 halt_pair { pair: "NOPE/NOPE" } })");
  CommandResult r = Drill({"run", dir_, "--scenario", scenario, "--out", dir_ + "-o"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "edits[0].halt_pair.pair: unknown pair \"NOPE/NOPE\""))
      << r.err;
  std::filesystem::remove(scenario);
  testing::RemoveTree(dir_ + "-o");
  CommandResult help = Drill({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.out, "Exit codes:")) << help.out;
}

TEST_F(DrillCliTest, ReportTextShowsTablesWithUnits) {
  CommandResult r = Drill({"report", dir_, "--top", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "Pair books")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Busiest minutes")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, " kg")) << r.out;
}

// Issue 15 s.5 through the binary: the gallium example declares 2,500,000 + 1,000,000 g of
// need more than the original (external_supply_loss), the drill's text and JSON carry the
// needs tables, and `report` on the drill journal shows them with the continuous
// comparison. A bad supply loss exits 2 naming the field.
TEST_F(DrillCliTest, SupplyLossScenarioDeclaresItsNeedAndTheReportsShowIt) {
  const char* src = std::getenv("MSX_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  const std::string scenario =
      std::string(src) + "/clients/drill/examples/gallium_export_ban.textproto";
  const std::string out = dir_ + "-needs";
  CommandResult r = Drill({"run", dir_, "--scenario", scenario, "--out", out, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  auto declared = [&](const char* which) {
    std::int64_t sum = 0;
    for (const nlohmann::json& l : j.at("comparison").at(which).at("needs").at("levels")) {
      if (l.at("instrument") == "GA-4N") sum += l.at("need_declared").get<std::int64_t>();
    }
    return sum;
  };
  EXPECT_EQ(declared("drill") - declared("original"), 2'500'000 + 1'000'000);
  EXPECT_FALSE(j.at("comparison").at("drill").at("needs").at("continuous").is_null());
  CommandResult report = Drill({"report", out});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_TRUE(absl::StrContains(report.out, "Declared needs per instrument and level"))
      << report.out;
  EXPECT_TRUE(absl::StrContains(report.out, "As run vs continuous matching")) << report.out;
  testing::RemoveTree(out);

  const std::string bad = dir_ + "-bad-loss.textproto";
  WriteAll(bad, R"(edits { at_seq: 5 external_supply_loss { agency: "KOMIR" instrument: "GA-4N" } })");
  CommandResult e = Drill({"run", dir_, "--scenario", bad, "--out", dir_ + "-o"});
  EXPECT_EQ(e.exit_code, 2) << e.err;
  EXPECT_TRUE(absl::StrContains(e.err, "edits[0].external_supply_loss.units: must be > 0"))
      << e.err;
  std::filesystem::remove(bad);
  testing::RemoveTree(dir_ + "-o");
}

}  // namespace
}  // namespace msx
