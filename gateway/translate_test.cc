#include "gateway/translate.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "gateway/internal/call.h"
#include "gateway/sequencer.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

class TranslateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ReferenceData> ref = LoadReferenceData(DefaultConfig());
    ASSERT_TRUE(ref.ok()) << ref.status();
    ref_ = std::make_unique<ReferenceData>(*std::move(ref));
    pair_ = ref_->pairs().front().symbol;
  }

  v1::SubmitOfferRequest ValidSubmit() const {
    v1::SubmitOfferRequest r;
    r.set_client_offer_id(7);
    r.set_pair(pair_);
    r.set_side(v1::SIDE_SELL);
    r.set_lots(3);
    r.set_price(ref_->pairs().front().reference_price);
    return r;
  }

  std::unique_ptr<ReferenceData> ref_;
  std::string pair_;
};

TEST_F(TranslateTest, ValidSubmitBecomesSubmitCommand) {
  absl::StatusOr<Command> cmd = SubmitToCommand(*ref_, 2, ValidSubmit());
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->type, CommandType::kSubmitOffer);
  EXPECT_EQ(cmd->submit.agency, 2u);
  EXPECT_EQ(cmd->submit.side, Side::kSell);
  EXPECT_EQ(cmd->submit.tif, TimeInForce::kGtc);
  EXPECT_EQ(cmd->submit.lots, 3);
  EXPECT_EQ(cmd->submit.client_id, 7u);
}

// ReplaceOfferRequest.lots is the new total (issue 12, defect 7): the command must be the
// total-lots replace, never the legacy open-lots one that old journals hold.
TEST_F(TranslateTest, ReplaceBecomesTotalLotsReplaceCommand) {
  v1::ReplaceOfferRequest r;
  r.set_offer_id(17);
  r.set_lots(8);
  r.set_price(2100);
  absl::StatusOr<Command> cmd = ReplaceToCommand(3, r);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->type, CommandType::kReplaceOffer);
  EXPECT_EQ(static_cast<int>(cmd->type), 8);
  EXPECT_EQ(cmd->replace.agency, 3u);
  EXPECT_EQ(cmd->replace.offer, 17u);
  EXPECT_EQ(cmd->replace.lots, 8);
  EXPECT_EQ(cmd->replace.price, 2100);
}

TEST_F(TranslateTest, ZeroClientOfferIdIsInvalidArgumentNamingTheField) {
  v1::SubmitOfferRequest r = ValidSubmit();
  r.set_client_offer_id(0);
  absl::Status s = SubmitToCommand(*ref_, 0, r).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("client_offer_id"), absl::string_view::npos) << s;
}

TEST_F(TranslateTest, UnknownPairIsNotFoundWithRejectReasonName) {
  v1::SubmitOfferRequest r = ValidSubmit();
  r.set_pair(std::string(10000, 'X'));
  absl::Status s = SubmitToCommand(*ref_, 0, r).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_UNKNOWN_PAIR: pair: ")) << s;
  EXPECT_LT(s.message().size(), 200u) << "a huge field must not make a huge error";
}

TEST_F(TranslateTest, NegativeLotsAndUnknownSideAreRejectedByField) {
  v1::SubmitOfferRequest r = ValidSubmit();
  r.set_lots(-1);
  absl::Status s = SubmitToCommand(*ref_, 0, r).status();
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_INVALID_LOTS: lots")) << s;
  r = ValidSubmit();
  r.set_side(static_cast<v1::Side>(42));
  s = SubmitToCommand(*ref_, 0, r).status();
  EXPECT_TRUE(absl::StartsWith(s.message(), "REJECT_REASON_INVALID_SIDE: side")) << s;
}

TEST_F(TranslateTest, UnknownCounterpartyNamesItsIndex) {
  v1::SubmitOfferRequest r = ValidSubmit();
  r.add_deny_counterparties("JOGMEC");
  r.add_deny_counterparties("NOPE");
  absl::Status s = SubmitToCommand(*ref_, 0, r).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("deny_counterparties[1]"), absl::string_view::npos) << s;
}

TEST_F(TranslateTest, ExpiryOnlyWithGtd) {
  v1::SubmitOfferRequest r = ValidSubmit();
  r.set_time_in_force(v1::TIME_IN_FORCE_GTD);
  EXPECT_EQ(SubmitToCommand(*ref_, 0, r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_expire_time_ns(1);
  EXPECT_TRUE(SubmitToCommand(*ref_, 0, r).ok());
  r.set_time_in_force(v1::TIME_IN_FORCE_IOC);
  EXPECT_EQ(SubmitToCommand(*ref_, 0, r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TranslateTest, RejectReasonsMapToPreciseCodes) {
  Command cmd{};
  cmd.type = CommandType::kSubmitOffer;
  EXPECT_EQ(RejectToStatus(*ref_, cmd, RejectReason::kUnknownOffer).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RejectToStatus(*ref_, cmd, RejectReason::kPairHalted).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RejectToStatus(*ref_, cmd, RejectReason::kInsufficientHoldings).code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status band = RejectToStatus(*ref_, cmd, RejectReason::kPriceOutsideBand);
  EXPECT_EQ(band.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(band.message(), "REJECT_REASON_PRICE_OUTSIDE_BAND: price")) << band;
  EXPECT_EQ(RejectToStatus(*ref_, cmd, RejectReason::kPriceOffTick).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TranslateTest, GrpcStatusKeepsCodeAndMessage) {
  grpc::Status g = ToGrpcStatus(absl::ResourceExhaustedError("queue full"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(g.error_message(), "queue full");
}

// A recall refused by the emergency level reaches the lender as FAILED_PRECONDITION naming
// the instrument's level (ObligationApplied, on the sequencer thread, reads it).
TEST_F(TranslateTest, ARecallForbiddenByTheEmergencyLevelNamesTheLevel) {
  Engine engine(*ref_, EngineOptions{.expected_offers = 64});
  const AgencyId komir = *ref_->FindAgency("KOMIR"), jogmec = *ref_->FindAgency("JOGMEC");
  const InstrumentId co = *ref_->FindInstrument("CO-99.8");
  const TermBookId book = *ref_->FindTermBook("CO-99.8@30D");
  Seq seq = 0;
  auto run = [&](Command c) {
    c.seq = ++seq;
    c.time = 1'800'000'000'000'000'000 + static_cast<TimeNs>(seq);
    std::vector<Event> ev;
    engine.Apply(c, &ev);
    return std::make_pair(c, ev);
  };
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {komir, co, 100'000};
  run(c);
  c = Command{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit = SubmitOffer{komir, book, Side::kSell, TimeInForce::kGtc, 10, 0, 0, 0, 0, 0, 1};
  run(c);
  c.submit = SubmitOffer{jogmec, book, Side::kBuy, TimeInForce::kGtc, 10, 0, 0, 0, 0, 0, 2};
  run(c);
  c = Command{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = co;
  c.set_level.level = EmergencyLevel::kWarning;
  run(c);
  c = Command{};
  c.type = CommandType::kRecallObligation;
  c.obligation = {komir, 1, 0};
  auto [cmd, events] = run(c);
  const SequencerView view{engine, *ref_, seq};
  v1::Obligation ob;
  std::uint64_t applied_seq = 0;
  absl::Status s = internal::ObligationApplied(view, cmd, events, &ob, &applied_seq);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "REJECT_REASON_RECALL_FORBIDDEN_AT_LEVEL")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "CO-99.8 is at emergency level WARNING")) << s;
}

// Term books take FOK and a minimum fill (issue 14): the request's fields reach the
// command, a minimum above the lots is refused naming the field, and ReplaceTermOffer is
// the total-lots term replace (command 14).
TEST_F(TranslateTest, TermSubmitCarriesFokAndMinFillAndReplaceTermIsItsOwnCommand) {
  v1::SubmitTermOfferRequest t;
  t.set_client_offer_id(9);
  t.set_book(ref_->term_books().front().symbol);
  t.set_side(v1::TERM_SIDE_BORROW);
  t.set_lots(5);
  t.set_premium_bps(150);
  t.set_time_in_force(v1::TIME_IN_FORCE_FOK);
  t.set_min_fill_lots(2);
  absl::StatusOr<Command> cmd = SubmitTermToCommand(*ref_, 1, t);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->submit.tif, TimeInForce::kFok);
  EXPECT_EQ(cmd->submit.min_fill, 2);
  t.set_min_fill_lots(6);
  absl::Status s = SubmitTermToCommand(*ref_, 1, t).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "REJECT_REASON_INVALID_MIN_FILL: min_fill_lots"))
      << s;
  v1::ReplaceTermOfferRequest r;
  r.set_offer_id(4);
  r.set_lots(12);
  r.set_premium_bps(90);
  cmd = ReplaceTermToCommand(3, r);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->type, CommandType::kReplaceTermOffer);
  EXPECT_EQ(cmd->replace.agency, 3u);
  EXPECT_EQ(cmd->replace.offer, 4u);
  EXPECT_EQ(cmd->replace.lots, 12);
  EXPECT_EQ(cmd->replace.price, 90);
  r.set_premium_bps(10'001);
  s = ReplaceTermToCommand(3, r).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "premium_bps")) << s;
}

}  // namespace
}  // namespace msx::gateway
