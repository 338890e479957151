// SubmitOffer with a declared need and a priority tier (issue 15 s.3; AUCTION.md "In the
// engine"): the request's shape is checked on the gRPC thread (INVALID_ARGUMENT naming
// declared_need or priority_tier), a buy with a need becomes the engine's
// kSubmitOfferWithNeed, the engine's refusals 61 and 62 become PERMISSION_DENIED and
// FAILED_PRECONDITION naming the field, and the offer shows its need and tier (also on a
// retry, which must repeat them).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "gateway/internal/call.h"
#include "gateway/sequencer.h"
#include "gateway/translate.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

constexpr char kPair[] = "CO-99.8/LIOH-56.5";  // base cobalt (lot 1,000 kg)

class NeedTranslateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::make_unique<ReferenceData>(*std::move(ref));
    engine_ = std::make_unique<Engine>(*ref_, EngineOptions{});
    komir_ = *ref_->FindAgency("KOMIR");
    dla_ = *ref_->FindAgency("DLA");
    pair_ = *ref_->FindPair(kPair);
  }

  v1::SubmitOfferRequest Buy(std::uint64_t client_id, std::int64_t need,
                             v1::PriorityTier tier) const {
    v1::SubmitOfferRequest r;
    r.set_client_offer_id(client_id);
    r.set_pair(kPair);
    r.set_side(v1::SIDE_BUY);
    r.set_lots(4);
    r.set_price(ref_->pairs()[pair_].reference_price);
    r.set_declared_need(need);
    r.set_priority_tier(tier);
    return r;
  }

  // Applies `cmd` as the sequencer would and answers as SubmitOffer does.
  absl::Status Submit(AgencyId agency, const v1::SubmitOfferRequest& req,
                      v1::SubmitOfferResponse* resp) {
    absl::StatusOr<Command> cmd = SubmitToCommand(*ref_, agency, req);
    if (!cmd.ok()) return cmd.status();
    Apply(&*cmd);
    return internal::SubmitApplied(SequencerView{*engine_, *ref_, seq_}, *cmd, events_, resp);
  }

  void Apply(Command* cmd) {
    cmd->seq = ++seq_;
    cmd->time = static_cast<TimeNs>(seq_) * 1000;
    events_.clear();
    engine_->Apply(*cmd, &events_);
  }

  void Fund(AgencyId agency, const std::string& instrument, std::int64_t total) {
    v1::SetHoldingsRequest h;
    h.set_agency(ref_->agencies()[agency].code);
    h.set_instrument(instrument);
    h.set_total(total);
    absl::StatusOr<Command> cmd = SetHoldingsToCommand(*ref_, h);
    ASSERT_TRUE(cmd.ok()) << cmd.status();
    Apply(&*cmd);
  }

  static void ExpectError(const absl::Status& s, absl::StatusCode code,
                          const std::string& field) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), field + ": ")) << s;
  }

  std::unique_ptr<ReferenceData> ref_;
  std::unique_ptr<Engine> engine_;
  AgencyId komir_ = 0, dla_ = 0;
  PairId pair_ = 0;
  Seq seq_ = 0;
  std::vector<Event> events_;
};

TEST_F(NeedTranslateTest, BuyWithNeedBecomesSubmitOfferWithNeed) {
  absl::StatusOr<Command> cmd =
      SubmitToCommand(*ref_, dla_, Buy(9, 3500, v1::PRIORITY_TIER_DEFENCE));
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->type, CommandType::kSubmitOfferWithNeed);
  EXPECT_EQ(cmd->submit_need.need, 3500);
  EXPECT_EQ(cmd->submit_need.tier, PriorityTier::kDefence);
  const SubmitOffer& s = SubmitBody(*cmd);
  EXPECT_EQ(s.agency, dla_);
  EXPECT_EQ(s.pair, pair_);
  EXPECT_EQ(s.side, Side::kBuy);
  EXPECT_EQ(s.lots, 4);
  EXPECT_EQ(s.client_id, 9u);
}

TEST_F(NeedTranslateTest, ANeedWithoutTierIsGeneralAndNoNeedStaysAPlainSubmit) {
  absl::StatusOr<Command> general =
      SubmitToCommand(*ref_, komir_, Buy(1, 1000, v1::PRIORITY_TIER_UNSPECIFIED));
  ASSERT_TRUE(general.ok()) << general.status();
  EXPECT_EQ(general->type, CommandType::kSubmitOfferWithNeed);
  EXPECT_EQ(general->submit_need.tier, PriorityTier::kGeneral);
  absl::StatusOr<Command> plain =
      SubmitToCommand(*ref_, komir_, Buy(2, 0, v1::PRIORITY_TIER_UNSPECIFIED));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->type, CommandType::kSubmitOffer);
}

TEST_F(NeedTranslateTest, MalformedNeedsAreInvalidArgumentNamingTheField) {
  const auto code = absl::StatusCode::kInvalidArgument;
  ExpectError(SubmitToCommand(*ref_, komir_, Buy(1, -5, v1::PRIORITY_TIER_GENERAL)).status(),
              code, "declared_need");
  ExpectError(SubmitToCommand(*ref_, komir_, Buy(1, 0, v1::PRIORITY_TIER_ESSENTIAL)).status(),
              code, "priority_tier");
  ExpectError(
      SubmitToCommand(*ref_, komir_, Buy(1, 10, static_cast<v1::PriorityTier>(7))).status(),
      code, "priority_tier");
  v1::SubmitOfferRequest sell = Buy(1, 1000, v1::PRIORITY_TIER_GENERAL);
  sell.set_side(v1::SIDE_SELL);
  const absl::Status s = SubmitToCommand(*ref_, komir_, sell).status();
  ExpectError(s, code, "declared_need");
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_INVALID_NEED: ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "only a buy")) << s;
}

TEST_F(NeedTranslateTest, ATierTheAgencyMayNotUseIsPermissionDenied) {
  Fund(komir_, "LIOH-56.5", 5000000);
  v1::SubmitOfferResponse resp;
  // KOMIR's configuration allows ESSENTIAL and GENERAL only.
  const absl::Status s = Submit(komir_, Buy(1, 3000, v1::PRIORITY_TIER_DEFENCE), &resp);
  ExpectError(s, absl::StatusCode::kPermissionDenied, "priority_tier");
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_TIER_NOT_ALLOWED: ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "DEFENCE")) << s;
}

TEST_F(NeedTranslateTest, TheOfferShowsItsNeedAndARetryMustRepeatIt) {
  Fund(dla_, "LIOH-56.5", 5000000);
  v1::SubmitOfferResponse first;
  ASSERT_TRUE(Submit(dla_, Buy(5, 3500, v1::PRIORITY_TIER_DEFENCE), &first).ok());
  EXPECT_EQ(first.offer().declared_need(), 3500);
  EXPECT_EQ(first.offer().priority_tier(), v1::PRIORITY_TIER_DEFENCE);

  v1::SubmitOfferResponse retry;
  ASSERT_TRUE(Submit(dla_, Buy(5, 3500, v1::PRIORITY_TIER_DEFENCE), &retry).ok());
  EXPECT_EQ(retry.offer().offer_id(), first.offer().offer_id());
  EXPECT_EQ(retry.seq(), first.seq());
  v1::SubmitOfferResponse other;
  ExpectError(Submit(dla_, Buy(5, 4000, v1::PRIORITY_TIER_DEFENCE), &other),
              absl::StatusCode::kAlreadyExists, "client_offer_id");
  ExpectError(Submit(dla_, Buy(5, 3500, v1::PRIORITY_TIER_ESSENTIAL), &other),
              absl::StatusCode::kAlreadyExists, "client_offer_id");
  ExpectError(Submit(dla_, Buy(5, 0, v1::PRIORITY_TIER_UNSPECIFIED), &other),
              absl::StatusCode::kAlreadyExists, "client_offer_id");
}

TEST_F(NeedTranslateTest, AnOfferThatCannotRestInAnAuctionIsFailedPrecondition) {
  Fund(dla_, "LIOH-56.5", 5000000);
  v1::SetEmergencyLevelRequest level;
  level.set_instrument("CO-99.8");
  level.set_level(v1::EMERGENCY_LEVEL_WARNING);
  level.set_reason("test");
  absl::StatusOr<Command> set = SetLevelToCommand(*ref_, level);
  ASSERT_TRUE(set.ok()) << set.status();
  Apply(&*set);
  v1::SubmitOfferRequest ioc = Buy(6, 3500, v1::PRIORITY_TIER_DEFENCE);
  ioc.set_time_in_force(v1::TIME_IN_FORCE_IOC);
  v1::SubmitOfferResponse resp;
  const absl::Status s = Submit(dla_, ioc, &resp);
  ExpectError(s, absl::StatusCode::kFailedPrecondition, "time_in_force");
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_CALL_AUCTION_ONLY: ")) << s;
  v1::SubmitOfferRequest listed = Buy(7, 3500, v1::PRIORITY_TIER_DEFENCE);
  listed.add_allow_counterparties("KOMIR");
  ExpectError(Submit(dla_, listed, &resp), absl::StatusCode::kFailedPrecondition,
              "allow_counterparties");
  // A resting buy with a need is accepted at WARNING and waits for the auction.
  ASSERT_TRUE(Submit(dla_, Buy(8, 3500, v1::PRIORITY_TIER_DEFENCE), &resp).ok());
  EXPECT_EQ(resp.offer().open_lots(), 4);
  EXPECT_EQ(resp.fills_size(), 0);
}

}  // namespace
}  // namespace msx::gateway
