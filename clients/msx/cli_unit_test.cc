// Unit tests of the msx command line: argument handling, exit codes and rendering.
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "clients/msx/auction_commands.h"
#include "clients/msx/cli.h"
#include "clients/msx/exit_codes.h"
#include "clients/msx/render.h"
#include "gtest/gtest.h"

namespace msx::cli {
namespace {

class CliParseTest : public ::testing::Test {
 protected:
  absl::StatusOr<Invocation> Parse(std::vector<std::string> args) {
    return ParseInvocation(args, [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }
  absl::flat_hash_map<std::string, std::string> env_;
};

TEST_F(CliParseTest, DefaultsToLoopbackServerWithoutToken) {
  auto inv = Parse({"pairs"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "pairs");
  EXPECT_EQ(inv->connection.server, "127.0.0.1:50051");
  EXPECT_EQ(inv->connection.token, "");
  EXPECT_FALSE(inv->connection.tls);
  EXPECT_FALSE(inv->json);
}

TEST_F(CliParseTest, EnvironmentSuppliesServerAndToken) {
  env_["MSX_SERVER"] = "127.0.0.1:6000";
  env_["MSX_TOKEN"] = "demo-komir";
  auto inv = Parse({"holdings"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->connection.server, "127.0.0.1:6000");
  EXPECT_EQ(inv->connection.token, "demo-komir");
}

TEST_F(CliParseTest, FlagsOverrideEnvironmentAndMayFollowTheSubcommand) {
  env_["MSX_SERVER"] = "127.0.0.1:6000";
  env_["MSX_TOKEN"] = "demo-komir";
  auto inv = Parse({"holdings", "--server", "127.0.0.1:7000", "--token=demo-dla", "--json"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->connection.server, "127.0.0.1:7000");
  EXPECT_EQ(inv->connection.token, "demo-dla");
  EXPECT_TRUE(inv->json);
}

TEST_F(CliParseTest, ExpiryOffsetsThatCouldOverflowAreUsageErrors) {
  std::vector<std::string> base = {"submit", "--pair", "GA-4N/CO-99.8", "--side", "sell",
                                   "--lots", "1", "--price", "2100", "--tif", "gtd"};
  for (const char* ms : {"0", "-5", "9223372036854", "9223372036854775807"}) {
    auto args = base;
    args.push_back(std::string("--expire-in-ms=") + ms);
    auto inv = Parse(args);
    ASSERT_FALSE(inv.ok()) << ms;
    EXPECT_NE(inv.status().message().find("--expire-in-ms must be between 1 and"),
              std::string::npos)
        << inv.status();
  }
  auto ok = base;
  ok.insert(ok.end(), {"--expire-in-ms", "60000"});
  EXPECT_TRUE(Parse(ok).ok());
  auto bad_ns = base;
  bad_ns.push_back("--expire-ns=-1");
  auto inv = Parse(bad_ns);
  ASSERT_FALSE(inv.ok());
  EXPECT_NE(inv.status().message().find("--expire-ns must be a positive"), std::string::npos);
}

TEST_F(CliParseTest, BookTakesPairPositionallyAndDepthFlag) {
  auto inv = Parse({"--json", "book", "CO-99.8/GA-4N", "--depth", "3"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->args["pair"].as<std::string>(), "CO-99.8/GA-4N");
  EXPECT_EQ(inv->args["depth"].as<std::int32_t>(), 3);
  EXPECT_TRUE(inv->json);
}

TEST_F(CliParseTest, SubmitCollectsEveryField) {
  auto inv = Parse({"submit", "--pair", "CO-99.8/GA-4N", "--side", "SELL", "--lots", "12",
                    "--price", "74", "--tif", "gtd", "--expire-in-ms", "5000", "--min-fill",
                    "2", "--allow", "JOGMEC", "--allow", "DLA", "--deny", "CMSR-AU",
                    "--client-id", "77", "--deadline-ms", "250"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  const auto& a = inv->args;
  EXPECT_EQ(a["lots"].as<std::int64_t>(), 12);
  EXPECT_EQ(a["price"].as<std::int64_t>(), 74);
  EXPECT_EQ(a["min-fill"].as<std::int64_t>(), 2);
  EXPECT_EQ(a["allow"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"JOGMEC", "DLA"}));
  EXPECT_EQ(a["deny"].as<std::vector<std::string>>(), std::vector<std::string>{"CMSR-AU"});
  EXPECT_EQ(a["client-id"].as<std::uint64_t>(), 77u);
  EXPECT_EQ(inv->connection.deadline_ms, 250);
}

TEST_F(CliParseTest, SubmitWithoutRequiredFlagIsUsageError) {
  auto inv = Parse({"submit", "--pair", "CO-99.8/GA-4N", "--side", "buy", "--lots", "1"});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(inv.status().message().find("price"), std::string::npos);
}

TEST_F(CliParseTest, BadSideNamesTheFlag) {
  auto inv = Parse({"submit", "--pair", "P", "--side", "hold", "--lots", "1", "--price", "1"});
  ASSERT_FALSE(inv.ok());
  EXPECT_NE(inv.status().message().find("--side"), std::string::npos);
}

TEST_F(CliParseTest, GtdNeedsAnExpiryAndExpiryNeedsGtd) {
  EXPECT_FALSE(Parse({"submit", "--pair", "P", "--side", "buy", "--lots", "1", "--price", "1",
                      "--tif", "gtd"})
                   .ok());
  EXPECT_FALSE(Parse({"submit", "--pair", "P", "--side", "buy", "--lots", "1", "--price", "1",
                      "--expire-ns", "5"})
                   .ok());
}

TEST_F(CliParseTest, NonNumericLotsIsUsageError) {
  auto inv = Parse({"submit", "--pair", "P", "--side", "buy", "--lots", "many", "--price", "1"});
  ASSERT_FALSE(inv.ok());
  EXPECT_NE(inv.status().message().find("lots"), std::string::npos);
}

TEST_F(CliParseTest, ZeroClientIdIsRejected) {
  EXPECT_FALSE(Parse({"submit", "--pair", "P", "--side", "buy", "--lots", "1", "--price", "1",
                      "--client-id", "0"})
                   .ok());
}

TEST_F(CliParseTest, UnknownSubcommandAndUnknownFlagAreUsageErrors) {
  auto a = Parse({"explode"});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("explode"), std::string::npos);
  auto b = Parse({"pairs", "--bogus"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("bogus"), std::string::npos);
  EXPECT_FALSE(Parse({}).ok());
}

TEST_F(CliParseTest, ExtraPositionalArgumentIsUsageError) {
  EXPECT_FALSE(Parse({"pairs", "surplus"}).ok());
  EXPECT_FALSE(Parse({"cancel", "1", "2"}).ok());
}

TEST_F(CliParseTest, WatchResumesFromSequenceWithCount) {
  auto inv = Parse({"watch", "--from-seq", "42", "--count", "3"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->args["from-seq"].as<std::uint64_t>(), 42u);
  EXPECT_EQ(inv->args["count"].as<std::int64_t>(), 3);
}

TEST_F(CliParseTest, SetHoldingsTakesThreePositionals) {
  auto inv = Parse({"set-holdings", "KOMIR", "CO-99.8", "5000"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->args["agency"].as<std::string>(), "KOMIR");
  EXPECT_EQ(inv->args["instrument"].as<std::string>(), "CO-99.8");
  EXPECT_EQ(inv->args["total"].as<std::int64_t>(), 5000);
}

TEST_F(CliParseTest, MutualTlsNeedsCertAndKeyTogether) {
  EXPECT_FALSE(Parse({"pairs", "--cert-file", "c.pem"}).ok());
  auto inv = Parse({"pairs", "--cert-file", "c.pem", "--key-file", "k.pem"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_TRUE(inv->connection.tls);
}

TEST_F(CliParseTest, AdminActionsAreTwoWordsAndLevelsAreNamed) {
  auto inv = Parse({"admin", "set-level", "CO-99.8", "Warning", "--reason", "export ban",
                    "--json"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "admin set-level");
  EXPECT_EQ(inv->args["instrument"].as<std::string>(), "CO-99.8");
  EXPECT_EQ(inv->args["reason"].as<std::string>(), "export ban");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(*ParseLevel(inv->args["level"].as<std::string>()), v1::EMERGENCY_LEVEL_WARNING);
  auto bad = Parse({"admin", "set-level", "CO-99.8", "red"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("level must be normal, interest, caution, warning or "
                                        "serious, not 'red'"),
            std::string::npos)
      << bad.status();
  EXPECT_FALSE(Parse({"admin", "set-level", "CO-99.8", "unspecified"}).ok());
  EXPECT_FALSE(Parse({"admin"}).ok());
  EXPECT_FALSE(Parse({"admin", "promote", "X"}).ok());
  auto member = Parse({"admin", "suspend", "FORGE", "IL-MOE"});
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(member->args["agreement"].as<std::string>(), "FORGE");
  EXPECT_EQ(member->args["agency"].as<std::string>(), "IL-MOE");
  auto help = Parse({"admin", "publish-reference", "--help"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_NE(help->help.find("Usage: msx admin publish-reference INSTRUMENT VALUE"),
            std::string::npos);
}

TEST_F(CliParseTest, EverySubcommandHasHelpListingGlobalOptionsAndExitCodes) {
  for (const auto& name : SubcommandNames()) {
    auto inv = Parse({name, "--help"});
    ASSERT_TRUE(inv.ok()) << name << ": " << inv.status();
    EXPECT_NE(inv->help.find("Usage: msx " + name), std::string::npos) << name;
    EXPECT_NE(inv->help.find("--server"), std::string::npos) << name;
    EXPECT_NE(inv->help.find("UNAUTHENTICATED"), std::string::npos) << name;
  }
  auto top = Parse({"--help"});
  ASSERT_TRUE(top.ok());
  for (const auto& name : SubcommandNames()) {
    EXPECT_NE(top->help.find("  " + name), std::string::npos) << name;
  }
}

// Allocation auctions: `msx buy ... --need N --tier T` (auction_commands.h).
TEST_F(CliParseTest, BuyTakesANeedAndATierAndSellAndBadTiersAreUsageErrors) {
  const std::vector<std::string> buy = {"buy", "--pair", "CO-99.8/LIOH-56.5", "--lots", "5",
                                        "--price", "3667"};
  auto with = [&](std::vector<std::string> extra, const std::string& command = "buy") {
    std::vector<std::string> args = buy;
    args[0] = command;
    args.insert(args.end(), extra.begin(), extra.end());
    return Parse(args);
  };
  auto ok = with({"--need", "5000", "--tier", "Defence"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->command, "buy");
  EXPECT_EQ(ok->args["need"].as<std::int64_t>(), 5000);
  v1::SubmitOfferRequest req;
  SetNeed(ok->args, &req);
  EXPECT_EQ(req.declared_need(), 5000);
  EXPECT_EQ(req.priority_tier(), v1::PRIORITY_TIER_DEFENCE);
  auto general = with({"--need", "5000"});
  ASSERT_TRUE(general.ok()) << general.status();
  SetNeed(general->args, &req);
  EXPECT_EQ(req.priority_tier(), v1::PRIORITY_TIER_GENERAL);
  auto submit = Parse({"submit", "--pair", "CO-99.8/LIOH-56.5", "--side", "buy", "--lots", "5",
                       "--price", "3667", "--need", "5000", "--tier", "essential"});
  ASSERT_TRUE(submit.ok()) << submit.status();

  auto expect_usage = [](const absl::StatusOr<Invocation>& inv, const std::string& flag) {
    ASSERT_FALSE(inv.ok());
    EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(inv.status().message().find(flag), std::string::npos) << inv.status();
  };
  expect_usage(with({"--need", "5000", "--tier", "military"}), "--tier");
  expect_usage(with({"--tier", "defence"}), "--tier needs --need");
  expect_usage(with({"--need", "0"}), "--need");
  expect_usage(with({"--need", "5000"}, "sell"), "--need is for buys");
  expect_usage(with({"--side", "buy"}), "side");
}

TEST(ExitCodeTest, EveryGrpcCodeHasItsOwnExitCodeAboveUsage) {
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::OK), kExitOk);
  std::set<int> seen;
  for (int c = 1; c <= 16; ++c) {
    int exit = ExitCodeFor(static_cast<grpc::StatusCode>(c));
    EXPECT_GT(exit, kExitNotServing);
    EXPECT_LT(exit, 126);  // shells reserve 126+
    EXPECT_TRUE(seen.insert(exit).second) << "duplicate exit code " << exit;
  }
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::FAILED_PRECONDITION), 19);
  EXPECT_EQ(ExitCodeFor(grpc::StatusCode::UNAUTHENTICATED), 26);
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
}

TEST(ExitCodeTest, TableListsEveryCode) {
  std::string table = ExitCodeTable();
  EXPECT_NE(table.find("13  INVALID_ARGUMENT"), std::string::npos);
  EXPECT_NE(table.find("26  UNAUTHENTICATED"), std::string::npos);
  EXPECT_NE(table.find("2  usage error"), std::string::npos);
}

TEST(ClientOfferIdTest, GeneratedIdsAreNonZeroAndDistinct) {
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    std::uint64_t id = GenerateClientOfferId();
    EXPECT_NE(id, 0u);
    EXPECT_LT(id, std::uint64_t{1} << 63);
    ids.insert(id);
  }
  EXPECT_GT(ids.size(), 990u);
}

TEST(RenderTest, FormatsThousandsExactly) {
  EXPECT_EQ(FormatThousands(0), "0");
  EXPECT_EQ(FormatThousands(999), "999");
  EXPECT_EQ(FormatThousands(12000), "12,000");
  EXPECT_EQ(FormatThousands(-1234567), "-1,234,567");
  EXPECT_EQ(FormatThousands(INT64_MIN), "-9,223,372,036,854,775,808");
}

TEST(RenderTest, FormatsMicroUsdWithoutFloatingPoint) {
  EXPECT_EQ(FormatMicroUsd(12500000), "12.50");
  EXPECT_EQ(FormatMicroUsd(1234567), "1.234567");
  EXPECT_EQ(FormatMicroUsd(1000000000000), "1,000,000.00");
  EXPECT_EQ(FormatMicroUsd(-5), "-0.000005");
}

TEST(RenderTest, FormatsTimeAsUtc) {
  EXPECT_EQ(FormatTimeNs(1000000001), "1970-01-01T00:00:01.000000001Z");
}

TEST(RenderTest, CatalogAttachesUnitsToLotsAndPrices) {
  v1::ListInstrumentsResponse instruments;
  auto* co = instruments.add_instruments();
  co->set_symbol("CO-99.8");
  co->set_unit("kg");
  co->set_lot_size(1000);
  auto* ga = instruments.add_instruments();
  ga->set_symbol("GA-4N");
  ga->set_unit("kg");
  ga->set_lot_size(10);
  v1::ListPairsResponse pairs;
  auto* p = pairs.add_pairs();
  p->set_symbol("CO-99.8/GA-4N");
  p->set_base("CO-99.8");
  p->set_quote("GA-4N");
  Catalog catalog(instruments, pairs);
  EXPECT_EQ(catalog.Lots("CO-99.8/GA-4N", 12), "12 lots = 12,000 kg CO-99.8");
  EXPECT_EQ(catalog.Lots("CO-99.8/GA-4N", 1), "1 lot = 1,000 kg CO-99.8");
  EXPECT_EQ(catalog.Price("CO-99.8/GA-4N", 74), "74 kg GA-4N per lot");
  EXPECT_EQ(catalog.Lots("UNKNOWN/PAIR", 3), "3 lots");
}

TEST(RenderTest, TableAlignsColumnsAndRightAlignsNumbers) {
  Table t({"NAME", "LOTS"});
  t.AddRow({"a", "1"});
  t.AddRow({"longer", "1,000"});
  EXPECT_EQ(t.Render(), "NAME    LOTS\na           1\nlonger  1,000\n");
}

}  // namespace
}  // namespace msx::cli
