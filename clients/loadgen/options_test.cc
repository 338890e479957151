#include "clients/loadgen/options.h"

#include "clients/loadgen/loadgen.h"
#include "gtest/gtest.h"

namespace msx::loadgen {
namespace {

TEST(LoadgenOptionsTest, DefaultsAreTenSecondsAtOneThousandPerSecondOnLoopback) {
  auto p = ParseLoadgenOptions({});
  ASSERT_TRUE(p.ok()) << p.status();
  const LoadgenOptions& o = p->options;
  EXPECT_EQ(o.server, "127.0.0.1:50051");
  EXPECT_EQ(o.rate, 1000);
  EXPECT_EQ(o.duration_ms, 10000);
  EXPECT_EQ(o.count, 0);
  EXPECT_EQ(o.concurrency, 4);
  EXPECT_EQ(o.threads, 2);
  ASSERT_EQ(o.agencies.size(), 4u);
  EXPECT_EQ(o.agencies[0].agency, "KOMIR");
  EXPECT_EQ(o.agencies[0].token, "demo-komir");
}

TEST(LoadgenOptionsTest, ServersComeFromTheFlagElseMsxServer) {
  auto env = ParseLoadgenOptions({}, "10.0.0.1:1,10.0.0.2:1");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->options.server, "10.0.0.1:1,10.0.0.2:1");
  auto flag = ParseLoadgenOptions({"--server", "10.0.0.3:1"}, "10.0.0.1:1,10.0.0.2:1");
  ASSERT_TRUE(flag.ok()) << flag.status();
  EXPECT_EQ(flag->options.server, "10.0.0.3:1");
}

TEST(LoadgenOptionsTest, SeveralServersAreForTheUnaryApiOnly) {
  auto oe = ParseLoadgenOptions({"--server", "a:1,b:1", "--api", "order-entry"});
  ASSERT_FALSE(oe.ok());
  EXPECT_NE(oe.status().message().find("--server"), absl::string_view::npos) << oe.status();
  EXPECT_FALSE(ParseLoadgenOptions({"--server", "a:1,b:1", "--echo"}).ok());
  EXPECT_FALSE(ParseLoadgenOptions({"--server", " , "}).ok());
  EXPECT_TRUE(ParseLoadgenOptions({"--server", "a:1,b:1"}).ok());
}

TEST(LoadgenOptionsTest, CountAloneMeansNoDurationLimit) {
  auto p = ParseLoadgenOptions({"--count", "50", "--rate", "0", "--concurrency", "1"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->options.count, 50);
  EXPECT_EQ(p->options.duration_ms, 0);
  EXPECT_EQ(p->options.rate, 0);
  EXPECT_EQ(p->options.threads, 1);
}

TEST(LoadgenOptionsTest, FractionalDurationIsMilliseconds) {
  auto p = ParseLoadgenOptions({"--duration", "1.5"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->options.duration_ms, 1500);
}

TEST(LoadgenOptionsTest, AgenciesParseAsAgencyEqualsToken) {
  auto a = ParseAgencies("KOMIR=demo-komir, DLA=demo-dla");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[1].agency, "DLA");
  EXPECT_EQ((*a)[1].token, "demo-dla");
  EXPECT_FALSE(ParseAgencies("KOMIR").ok());
  EXPECT_FALSE(ParseAgencies("KOMIR=a,KOMIR=b").ok());
  EXPECT_FALSE(ParseAgencies("=x").ok());
}

TEST(LoadgenOptionsTest, SwappingNeedsTwoAgenciesUnlessEchoing) {
  EXPECT_FALSE(ParseLoadgenOptions({"--agencies", "KOMIR=demo-komir"}).ok());
  EXPECT_TRUE(ParseLoadgenOptions({"--agencies", "KOMIR=demo-komir", "--echo"}).ok());
}

TEST(LoadgenOptionsTest, OutOfRangeValuesNameTheirFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  for (const Case& c : std::vector<Case>{{{"--rate", "-1"}, "--rate"},
                                         {{"--concurrency", "0"}, "--concurrency"},
                                         {{"--cancel-percent", "90"}, "--cancel-percent"},
                                         {{"--duration", "-2"}, "--duration"},
                                         {{"--threads", "8", "--concurrency", "2"}, "--threads"},
                                         {{"--max-lots", "0"}, "--max-lots"},
                                         {{"--rate", "fast"}, "rate"},
                                         {{"--bogus"}, "bogus"}}) {
    auto p = ParseLoadgenOptions(c.args);
    ASSERT_FALSE(p.ok()) << c.flag;
    EXPECT_NE(p.status().message().find(c.flag), std::string::npos) << p.status();
  }
}

TEST(LoadgenOptionsTest, ApiDefaultsToUnaryWithTheDefaultWindow) {
  auto p = ParseLoadgenOptions({});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->options.api, "unary");
  EXPECT_EQ(p->options.window, kDefaultOrderEntryWindow);
}

TEST(LoadgenOptionsTest, OrderEntryTakesAWindowUpToTheServersLimit) {
  auto p = ParseLoadgenOptions({"--api", "order-entry", "--window", "128", "--rate", "0"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->options.api, "order-entry");
  EXPECT_EQ(p->options.window, 128);
  EXPECT_EQ(p->options.rate, 0);
  auto dflt = ParseLoadgenOptions({"--api", "order-entry"});
  ASSERT_TRUE(dflt.ok()) << dflt.status();
  EXPECT_EQ(dflt->options.window, 32);
  auto batches = ParseLoadgenOptions({"--api", "order-entry-batches", "--window", "64"});
  ASSERT_TRUE(batches.ok()) << batches.status();
  EXPECT_EQ(batches->options.api, "order-entry-batches");
  EXPECT_EQ(batches->options.window, 64);
  EXPECT_FALSE(ParseLoadgenOptions({"--api", "order-entry-batches", "--echo"}).ok());
  auto max = ParseLoadgenOptions({"--api", "order-entry", "--window", "4096"});
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(max->options.window, kMaxOrderEntryWindow);
}

TEST(LoadgenOptionsTest, BadApiOrWindowNamesTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {{"--api", "bidi"}, "--api"},
           {{"--api", "order-entry", "--window", "0"}, "--window"},
           {{"--api", "order-entry", "--window", "4097"}, "4096"},
           {{"--api", "order-entry", "--window", "-3"}, "--window"},
           {{"--api", "order-entry", "--window", "lots"}, "window"},
           {{"--window", "8"}, "only to --api order-entry(-batches)"},
           {{"--api", "unary", "--window", "8"}, "only to --api order-entry(-batches)"},
           {{"--api", "order-entry", "--echo"}, "--echo"}}) {
    auto p = ParseLoadgenOptions(c.args);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.text), std::string::npos) << p.status();
  }
}

TEST(LoadgenOptionsTest, ExecStreamIsBatchesReportsOrNone) {
  for (const std::string v : {"batches", "reports", "none"}) {
    auto p = ParseLoadgenOptions({"--exec-stream", v});
    ASSERT_TRUE(p.ok()) << v << ": " << p.status();
    EXPECT_EQ(p->options.exec_stream, v);
  }
  EXPECT_EQ(ParseLoadgenOptions({})->options.exec_stream, "batches");
  auto bad = ParseLoadgenOptions({"--exec-stream", "off"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--exec-stream"), std::string::npos) << bad.status();
}

TEST(LoadgenOptionsTest, PairsListIsSplitOnCommas) {
  auto p = ParseLoadgenOptions({"--pairs", "GA-4N/CO-99.8, CO-99.8/LIOH-56.5"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->options.pairs, (std::vector<std::string>{"GA-4N/CO-99.8", "CO-99.8/LIOH-56.5"}));
}

TEST(LoadgenOptionsTest, HelpDescribesOpenLoopAndEveryFlag) {
  auto p = ParseLoadgenOptions({"--help"});
  ASSERT_TRUE(p.ok());
  for (const char* flag :
       {"--server", "--rate", "--duration", "--count", "--concurrency", "--agencies", "--pairs",
        "--json", "--echo", "coordinated", "--api", "order-entry", "--window"}) {
    EXPECT_NE(p->help.find(flag), std::string::npos) << flag;
  }
}

TEST(LoadgenSummaryTest, JsonCarriesEveryRequiredKey) {
  Summary s;
  s.mode = "exchange";
  s.sent = 10;
  s.ok = 8;
  s.rejected = 1;
  s.errors["UNAVAILABLE"] = 1;
  s.submits = 9;
  s.cancels = 1;
  s.fills = 3;
  s.elapsed_ns = 2000000000;
  for (int i = 1; i <= 8; ++i) s.submit.Record(i * 10000);
  s.exec.Record(50000);
  std::string json = SummaryJson(s);
  for (const char* key :
       {"\"sent\":10", "\"ok\":8", "\"rejected\":1", "\"errors\":{\"UNAVAILABLE\":1}",
        "\"rate\":5.0", "\"offer_rate\":4.5", "\"fills\":3", "\"p50_us\":40.1",
        "\"p90_us\":", "\"p99_us\":", "\"p999_us\":", "\"max_us\":80.0", "\"exec_p50_us\":50.0",
        "\"exec_p99_us\":50.0"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_NE(json.find("\"api\":\"unary\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"response_errors\":{}"), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
}

TEST(LoadgenSummaryTest, OrderEntryJsonSaysSoAndSeparatesResponseErrors) {
  Summary s;
  s.mode = "exchange";
  s.api = "order-entry";
  s.window = 16;
  s.streams = 8;
  s.sent = 10;
  s.ok = 7;
  s.errors["CANCELLED"] = 1;
  s.response_errors["RESOURCE_EXHAUSTED"] = 2;
  s.elapsed_ns = 1000000000;
  std::string json = SummaryJson(s);
  for (const char* key :
       {"\"api\":\"order-entry\"", "\"window\":16", "\"streams\":8", "\"errors\":{\"CANCELLED\":1}",
        "\"response_errors\":{\"RESOURCE_EXHAUSTED\":2}", "\"rate\":10.0"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  EXPECT_EQ(s.error_count(), 3u);
  EXPECT_NE(SummaryText(s).find("RESOURCE_EXHAUSTED=2 (in responses)"), std::string::npos)
      << SummaryText(s);
}

}  // namespace
}  // namespace msx::loadgen
