// Tests of msx-drill's command line: every flag parsed, bad flags and values named.
#include "clients/drill/args.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace msx::drill {
namespace {

// The error message of a failed parse ("" when it succeeded, which fails the test).
std::string ErrorOf(const std::vector<std::string>& args) {
  absl::StatusOr<DrillArgs> a = ParseDrillArgs(args);
  EXPECT_FALSE(a.ok()) << "parsed";
  EXPECT_TRUE(a.ok() || absl::IsInvalidArgument(a.status())) << a.status();
  return a.ok() ? "" : std::string(a.status().message());
}

TEST(DrillArgsTest, EveryFlagIsParsed) {
  absl::StatusOr<DrillArgs> a = ParseDrillArgs({"run",
                                                "/data",
                                                "--json",
                                                "--digest",
                                                "--top",
                                                "7",
                                                "--scenario",
                                                "s.textproto",
                                                "--out",
                                                "/drill",
                                                "--speed",
                                                "10",
                                                "--server",
                                                "127.0.0.1:5",
                                                "--tokens-config",
                                                "c.textproto",
                                                "--token",
                                                "KOMIR=t1",
                                                "--token=JOGMEC=t=2",
                                                "--admin-token",
                                                "adm",
                                                "--client-id-offset",
                                                "18446744073709551615",
                                                "--fill-wait-ms",
                                                "20000"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->help);
  EXPECT_EQ(a->command, "run");
  EXPECT_EQ(a->dir, "/data");
  EXPECT_TRUE(a->json);
  EXPECT_TRUE(a->digest);
  EXPECT_EQ(a->top, 7);
  EXPECT_EQ(a->scenario, "s.textproto");
  EXPECT_EQ(a->out, "/drill");
  EXPECT_EQ(a->speed, "10");
  EXPECT_EQ(a->server, "127.0.0.1:5");
  EXPECT_EQ(a->tokens_config, "c.textproto");
  EXPECT_EQ(a->tokens.at("KOMIR"), "t1");
  EXPECT_EQ(a->tokens.at("JOGMEC"), "t=2");
  EXPECT_EQ(a->admin_token, "adm");
  EXPECT_EQ(a->client_id_offset, 18446744073709551615u);
  EXPECT_EQ(a->fill_wait_ms, 20000);
}

TEST(DrillArgsTest, TokenFilesAreKeptByAgencyAndTheLaterOneWins) {
  absl::StatusOr<DrillArgs> a = ParseDrillArgs(
      {"replay", "/data", "--token-file", "KOMIR=/k1", "--token-file=CMSR-AU=/c=1",
       "--token-file", "KOMIR=/k2", "--admin-token-file", "/adm",
       "--skip-agencies-without-token"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->token_files.size(), 2u);
  EXPECT_EQ(a->token_files.at("KOMIR"), "/k2");
  EXPECT_EQ(a->token_files.at("CMSR-AU"), "/c=1");
  EXPECT_EQ(a->admin_token_file, "/adm");
  EXPECT_TRUE(a->skip_agencies_without_token);
  EXPECT_FALSE(ParseDrillArgs({"replay", "/data"})->skip_agencies_without_token);
}

TEST(DrillArgsTest, DefaultsWhenOnlyCommandAndDirectoryAreGiven) {
  absl::StatusOr<DrillArgs> a = ParseDrillArgs({"report", "/data"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->json);
  EXPECT_EQ(a->top, 5);
  EXPECT_EQ(a->speed, "max");
  EXPECT_TRUE(a->tokens.empty());
  EXPECT_EQ(a->client_id_offset, 0u);
}

TEST(DrillArgsTest, HelpInAnyFormAsksForTheUsage) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"help"}, {"report", "/data", "--help"}}) {
    absl::StatusOr<DrillArgs> a = ParseDrillArgs(args);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(a->help) << args[0];
  }
  EXPECT_TRUE(absl::StrContains(DrillUsage(), "Exit codes:"));
}

TEST(DrillArgsTest, UnknownFlagIsNamed) {
  EXPECT_TRUE(absl::StrContains(ErrorOf({"report", "/data", "--frob"}), "'--frob'"));
  // Abbreviations are not guessed.
  EXPECT_TRUE(absl::StrContains(ErrorOf({"report", "/data", "--dig"}), "'--dig'"));
}

TEST(DrillArgsTest, BadValueNamesTheFlagAndTheValue) {
  EXPECT_EQ(ErrorOf({"report", "/data", "--top", "x"}), "--top: not a non-negative integer: x");
  EXPECT_EQ(ErrorOf({"report", "/data", "--top=-3"}), "--top: not a non-negative integer: -3");
  EXPECT_EQ(ErrorOf({"replay", "/data", "--client-id-offset", "ten"}),
            "--client-id-offset: not a non-negative integer: ten");
  EXPECT_EQ(ErrorOf({"replay", "/data", "--fill-wait-ms", "-1"}),
            "--fill-wait-ms: not a non-negative integer: -1");
  EXPECT_EQ(ErrorOf({"replay", "/data", "--client-id-offset=-1"}),
            "--client-id-offset: not a non-negative integer: -1");
  EXPECT_EQ(ErrorOf({"replay", "/data", "--token", "KOMIR"}),
            "--token: expected CODE=TOKEN, got KOMIR");
  EXPECT_EQ(ErrorOf({"replay", "/data", "--token-file", "KOMIR="}),
            "--token-file: expected CODE=FILE, got KOMIR=");
  EXPECT_TRUE(absl::StrContains(ErrorOf({"report", "/data", "--top"}), "'--top'"));
  EXPECT_TRUE(absl::StrContains(ErrorOf({"report", "/data", "--json=yes"}), "'--json'"));
}

TEST(DrillArgsTest, MissingOrExtraPositionalArgumentsAreNamed) {
  EXPECT_TRUE(absl::StrContains(ErrorOf({}), "missing command"));
  EXPECT_EQ(ErrorOf({"report"}), "report: missing journal directory");
  EXPECT_EQ(ErrorOf({"report", "/a", "/b"}), "unexpected argument /b");
}

}  // namespace
}  // namespace msx::drill
