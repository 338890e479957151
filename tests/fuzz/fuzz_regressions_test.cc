// Findings of the fuzzers whose failure is not visible to the corpus replay of the normal
// (unsanitized) build, checked here by their outcome. Each input lives in
// tests/fuzz/regressions/<target>/ (the replay runs it too, and under the sanitizers of
// scripts/fuzz.sh the original report).
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "engine/matching/engine.h"
#include "engine/testing/test_universe.h"
#include "gtest/gtest.h"

namespace msx {
namespace {

std::string Regression(const std::string& name) {
  const char* source = std::getenv("MSX_SOURCE_DIR");
  const std::string path =
      std::string(source != nullptr ? source : ".") + "/tests/fuzz/regressions/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// engine_load_state_fuzzer: a state whose holdings of one instrument add up past the
// int64 range made LoadState overflow a signed sum (UBSan: engine.cc, totals_) and
// accept the wrapped total. The engine never writes such a state: it is corruption.
TEST(EngineLoadStateRegressionTest, HoldingsWhoseSumOverflowsAreCorruption) {
  EngineOptions options;
  options.expected_offers = 64;
  Engine engine(testing::TestUniverse(), options);
  const absl::Status st = engine.LoadState(Regression("engine_load_state/holdings-sum-overflow"));
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("holdings overflow"), std::string::npos) << st;
  EXPECT_EQ(engine.OpenOfferCount(), 0u);
}

// engine_load_state_fuzzer (UBSan: signed-integer overflow `51509920738050056 * 980` in
// ReleaseReservation): LoadState accepted an open offer whose open lots x price does not
// fit in 64 bits, and the first cancel of it overflowed. The input is the seed
// state-after-40 with offer 6's open lots set to 51509920738050056 (x price 475). Submit
// and Replace never accept such an offer: it is corruption, named with the offer.
TEST(EngineLoadStateRegressionTest, OpenLotsTimesPriceOverflowIsCorruptionNamingTheOffer) {
  EngineOptions options;
  options.expected_offers = 64;
  Engine engine(testing::TestUniverse(), options);
  const absl::Status st =
      engine.LoadState(Regression("engine_load_state/open-lots-times-price-overflow"));
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("offer 6: open lots 51509920738050056 x price 475"),
            std::string::npos)
      << st;
  EXPECT_NE(st.message().find("overflows"), std::string::npos) << st;
  EXPECT_EQ(engine.OpenOfferCount(), 0u);
}

}  // namespace
}  // namespace msx
