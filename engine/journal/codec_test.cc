#include "engine/journal/codec.h"

#include <cstring>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/json.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

class CodecTest : public ::testing::Test {
 protected:
  std::int64_t I() { return static_cast<std::int64_t>(rng_()); }
  std::uint64_t U() { return rng_(); }
  std::uint32_t U32() { return static_cast<std::uint32_t>(rng_()); }
  Side S() { return rng_() % 2 ? Side::kBuy : Side::kSell; }

  Command RandomCommand(CommandType type) {
    Command c{};
    c.seq = U();
    c.time = I();
    c.type = type;
    switch (type) {
      case CommandType::kSubmitOffer:
      case CommandType::kSubmitTermOffer:
        c.submit =
            SubmitOffer{U32(), U32(), S(), TimeInForce::kFok, I(), I(), I(), I(), U(), U(), U()};
        break;
      case CommandType::kCancelOffer:
      case CommandType::kCancelTermOffer:
        c.cancel = CancelOffer{U32(), U()};
        break;
      case CommandType::kReturnObligation:
      case CommandType::kRecallObligation:
        c.obligation = ObligationCommand{U32(), U(), I()};
        break;
      case CommandType::kReplaceOffer:
      case CommandType::kReplaceOfferOpenLots:
      case CommandType::kReplaceTermOffer:
        c.replace = ReplaceOffer{U32(), U(), I(), I()};
        break;
      case CommandType::kSetOfferRetention:
        c.set_retention = SetOfferRetention{I()};
        break;
      case CommandType::kAdvanceTime:
        break;
      case CommandType::kSetHoldings:
        c.set_holdings = SetHoldings{U32(), U32(), I()};
        break;
      case CommandType::kHaltPair:
      case CommandType::kResumePair:
        c.pair = PairCommand{U32()};
        break;
      case CommandType::kPublishReference:
        c.publish_reference = PublishReference{U32(), I(), I(), I()};
        break;
      case CommandType::kAdmitMember:
      case CommandType::kSuspendMember:
        c.member = MemberCommand{U32(), U32()};
        break;
      case CommandType::kSetEmergencyLevel:
        c.set_level.instrument = U32();
        c.set_level.level = static_cast<EmergencyLevel>(rng_() % kNumEmergencyLevels);
        c.set_level.reason_size = static_cast<std::uint8_t>(rng_() % (kMaxLevelReasonBytes + 1));
        for (int k = 0; k < c.set_level.reason_size; ++k) c.set_level.reason[k] = 'a' + k % 26;
        break;
      case CommandType::kRunAuction:
        c.run_auction = RunAuction{U32()};
        break;
      case CommandType::kSubmitOfferWithNeed:
        c.submit_need = SubmitOfferWithNeed{
            SubmitOffer{U32(), U32(), S(), TimeInForce::kGtd, I(), I(), I(), I(), U(), U(), U()},
            I(), static_cast<PriorityTier>(rng_() % 256)};
        break;
      case CommandType::kConfirmDelivery:
        c.confirm_delivery = ConfirmDelivery{U32(), U()};
        break;
      case CommandType::kFollowLiveReference:  // no body
        break;
    }
    return c;
  }

  Event RandomEvent(EventType type) {
    Event e{};
    e.seq = U();
    e.time = I();
    e.type = type;
    switch (type) {
      case EventType::kAccepted:
      case EventType::kTermAccepted:
        e.accepted = AcceptedEvent{U(), U32(), U32(), S(), TimeInForce::kGtd, I(), I(), U()};
        break;
      case EventType::kRejected:
        e.rejected = RejectedEvent{CommandType::kReplaceOffer, RejectReason::kPriceOutsideBand,
                                   U32(), U(), U()};
        break;
      case EventType::kFill:
        e.fill = FillEvent{U(), U32(), S(), U(), U(), U32(), U32(), I(), I(), I(), I(), I(), I()};
        break;
      case EventType::kLoanFill:
        e.loan_fill = LoanFillEvent{U(),  U32(), U32(), U(), U(), U32(), U32(),
                                    I(),  I(),   I(),   I(), I(), S()};
        break;
      case EventType::kObligation:
        e.obligation = ObligationEvent{U(), ObligationEventKind::kCollected,
                                       ObligationState::kOverdue, U32(), U32(), U32(), I(), I(),
                                       I()};
        break;
      case EventType::kCollateral:
        e.collateral = CollateralEvent{U(), CollateralEventKind::kForfeited,
                                       ObligationState::kOverdue, U32(), U32(), U32(), I(), I(),
                                       I()};
        break;
      case EventType::kCancelled:
      case EventType::kTermCancelled:
        e.cancelled = CancelledEvent{U(), U32(), CancelReason::kSelfMatch, I()};
        break;
      case EventType::kReplaced:
      case EventType::kTermReplaced:
        e.replaced = ReplacedEvent{U(), U32(), I(), I(), rng_() % 2 == 0};
        break;
      case EventType::kExpired:
      case EventType::kTermExpired:
        e.expired = ExpiredEvent{U(), U32(), I()};
        break;
      case EventType::kBookLevel:
        e.book_level = BookLevelEvent{U32(), S(), I(), I(), U32()};
        break;
      case EventType::kHoldingsSet:
        e.holdings_set = HoldingsSetEvent{U32(), U32(), I(), I()};
        break;
      case EventType::kPairHalted:
      case EventType::kPairResumed:
        e.pair = PairCommand{U32()};
        break;
      case EventType::kReferencePublished:
        e.reference_published = PublishReference{U32(), I(), I(), I()};
        break;
      case EventType::kPairBandChanged:
        e.band = PairBandEvent{U32(), I(), I(), I(), I()};
        break;
      case EventType::kMemberAdmitted:
      case EventType::kMemberSuspended:
        e.member = MemberCommand{U32(), U32()};
        break;
      case EventType::kEmergencyLevelSet:
        e.level_set.instrument = U32();
        e.level_set.level = static_cast<EmergencyLevel>(rng_() % kNumEmergencyLevels);
        e.level_set.previous = static_cast<EmergencyLevel>(rng_() % kNumEmergencyLevels);
        e.level_set.reason_size = static_cast<std::uint8_t>(rng_() % (kMaxLevelReasonBytes + 1));
        for (int k = 0; k < e.level_set.reason_size; ++k) e.level_set.reason[k] = 'z' - k % 26;
        break;
      case EventType::kAuction:
        e.auction = AuctionEvent{U32(), rng_() % 2 == 0, I(), I(), I(), I(), I(), I()};
        break;
      case EventType::kDelivery:
        e.delivery = DeliveryEvent{U(),
                                   U(),
                                   static_cast<DeliveryEventKind>(1 + rng_() % 3),
                                   static_cast<DeliveryState>(1 + rng_() % 3),
                                   U32(),
                                   U32(),
                                   U32(),
                                   U32(),
                                   U32(),
                                   U32(),
                                   I(),
                                   I()};
        break;
    }
    return e;
  }

  std::mt19937_64 rng_{7};
};

constexpr CommandType kAllCommands[] = {
    CommandType::kSubmitOffer, CommandType::kCancelOffer,   CommandType::kReplaceOfferOpenLots,
    CommandType::kAdvanceTime, CommandType::kSetHoldings,   CommandType::kHaltPair,
    CommandType::kResumePair,  CommandType::kReplaceOffer,  CommandType::kSetOfferRetention,
    CommandType::kSubmitTermOffer, CommandType::kCancelTermOffer, CommandType::kReturnObligation,
    CommandType::kRecallObligation, CommandType::kPublishReference, CommandType::kAdmitMember,
    CommandType::kSuspendMember, CommandType::kSetEmergencyLevel,
    CommandType::kRunAuction, CommandType::kSubmitOfferWithNeed, CommandType::kReplaceTermOffer,
    CommandType::kConfirmDelivery, CommandType::kFollowLiveReference};
constexpr EventType kAllEvents[] = {
    EventType::kAccepted,   EventType::kRejected,   EventType::kFill,      EventType::kCancelled,
    EventType::kReplaced,   EventType::kExpired,    EventType::kBookLevel, EventType::kHoldingsSet,
    EventType::kPairHalted, EventType::kPairResumed, EventType::kTermAccepted,
    EventType::kLoanFill,   EventType::kTermCancelled, EventType::kTermExpired,
    EventType::kObligation, EventType::kCollateral, EventType::kReferencePublished, EventType::kPairBandChanged,
    EventType::kMemberAdmitted, EventType::kMemberSuspended, EventType::kEmergencyLevelSet,
    EventType::kAuction, EventType::kTermReplaced, EventType::kDelivery};

TEST_F(CodecTest, EveryCommandTypeRoundTripsFieldForField) {
  for (CommandType type : kAllCommands) {
    for (int i = 0; i < 200; ++i) {
      Command in = RandomCommand(type);
      std::string bytes;
      EncodeCommandPayload(in, 17, &bytes);
      ASSERT_EQ(bytes.size(), CommandPayloadSize(type));
      Command out;
      std::uint32_t count = 0;
      ASSERT_TRUE(DecodeCommandPayload(bytes, &out, &count).ok());
      EXPECT_EQ(count, 17u);
      ASSERT_EQ(CommandToJson(out), CommandToJson(in));
      std::string again;
      EncodeCommandPayload(out, 17, &again);
      ASSERT_EQ(again, bytes);
    }
  }
}

TEST_F(CodecTest, EveryEventTypeRoundTripsFieldForField) {
  for (EventType type : kAllEvents) {
    for (int i = 0; i < 200; ++i) {
      Event in = RandomEvent(type);
      std::string bytes;
      EncodeEventPayload(in, 3, &bytes);
      ASSERT_EQ(bytes.size(), EventPayloadSize(type));
      Event out;
      std::uint32_t index = 0;
      ASSERT_TRUE(DecodeEventPayload(bytes, &out, &index).ok());
      EXPECT_EQ(index, 3u);
      ASSERT_EQ(EventToJson(out), EventToJson(in));
      std::string again;
      EncodeEventPayload(out, 3, &again);
      ASSERT_EQ(again, bytes);
    }
  }
}

TEST_F(CodecTest, PayloadSizesMatchFormatTables) {
  EXPECT_EQ(CommandPayloadSize(CommandType::kSubmitOffer), 21u + 66);
  EXPECT_EQ(CommandPayloadSize(CommandType::kCancelOffer), 21u + 12);
  EXPECT_EQ(CommandPayloadSize(CommandType::kReplaceOffer), 21u + 28);
  EXPECT_EQ(CommandPayloadSize(CommandType::kReplaceOfferOpenLots), 21u + 28);
  EXPECT_EQ(static_cast<int>(CommandType::kReplaceOffer), 8);
  EXPECT_EQ(static_cast<int>(CommandType::kReplaceOfferOpenLots), 3);
  EXPECT_EQ(CommandPayloadSize(CommandType::kAdvanceTime), 21u);
  EXPECT_EQ(CommandPayloadSize(CommandType::kSetHoldings), 21u + 16);
  EXPECT_EQ(CommandPayloadSize(CommandType::kHaltPair), 21u + 4);
  EXPECT_EQ(CommandPayloadSize(static_cast<CommandType>(0)), 0u);
  EXPECT_EQ(CommandPayloadSize(CommandType::kSetOfferRetention), 21u + 8);
  EXPECT_EQ(static_cast<int>(CommandType::kSetOfferRetention), 9);
  EXPECT_EQ(EventPayloadSize(EventType::kFill), 21u + 85);
  EXPECT_EQ(EventPayloadSize(EventType::kAccepted), 21u + 42);
  EXPECT_EQ(CommandPayloadSize(CommandType::kSubmitTermOffer), 21u + 66);
  EXPECT_EQ(CommandPayloadSize(CommandType::kReturnObligation), 21u + 20);
  EXPECT_EQ(CommandPayloadSize(CommandType::kRecallObligation), 21u + 20);
  EXPECT_EQ(CommandPayloadSize(CommandType::kReplaceTermOffer), 21u + 28);
  EXPECT_EQ(static_cast<int>(CommandType::kReplaceTermOffer), 14);
  EXPECT_EQ(CommandPayloadSize(static_cast<CommandType>(15)), 0u);
  EXPECT_EQ(EventPayloadSize(EventType::kLoanFill), 21u + 81);
  EXPECT_EQ(EventPayloadSize(EventType::kObligation), 21u + 46);
  EXPECT_EQ(EventPayloadSize(EventType::kTermAccepted), 21u + 42);
  EXPECT_EQ(EventPayloadSize(EventType::kCollateral), 21u + 46);
  EXPECT_EQ(EventPayloadSize(EventType::kTermReplaced), 21u + 29);
  EXPECT_EQ(static_cast<int>(EventType::kTermReplaced), 17);
  EXPECT_EQ(EventPayloadSize(static_cast<EventType>(18)), 0u);
  EXPECT_EQ(CommandPayloadSize(CommandType::kConfirmDelivery), 21u + 12);
  EXPECT_EQ(EventPayloadSize(EventType::kDelivery), 21u + 58);
  EXPECT_EQ(CommandPayloadSize(CommandType::kFollowLiveReference), 21u);
  EXPECT_EQ(static_cast<int>(CommandType::kFollowLiveReference), 25);
  EXPECT_EQ(CommandPayloadSize(static_cast<CommandType>(26)), 0u);
}

TEST_F(CodecTest, SetHoldingsEncodesLittleEndianFieldByField) {
  Command c{};
  c.seq = 1;
  c.time = 0x0102030405060708;
  c.type = CommandType::kSetHoldings;
  c.set_holdings = SetHoldings{0, 2, 1000};
  std::string bytes;
  EncodeCommandPayload(c, 1, &bytes);
  EXPECT_EQ(absl::BytesToHexString(bytes),
            "0100000000000000"    // seq
            "0807060504030201"    // time
            "05"                  // command_type SetHoldings
            "01000000"            // event_count
            "00000000"            // agency
            "02000000"            // instrument
            "e803000000000000");  // total = 1000
}

TEST_F(CodecTest, DecodeRejectsPayloadLengthThatDoesNotMatchType) {
  std::string bytes;
  EncodeCommandPayload(RandomCommand(CommandType::kCancelOffer), 0, &bytes);
  bytes.push_back('\0');
  Command c;
  std::uint32_t n;
  absl::Status s = DecodeCommandPayload(bytes, &c, &n);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("length"), absl::string_view::npos) << s;
  bytes.resize(10);
  EXPECT_TRUE(absl::IsDataLoss(DecodeCommandPayload(bytes, &c, &n)));
}

TEST_F(CodecTest, DecodeRejectsUnknownTypes) {
  std::string bytes;
  EncodeCommandPayload(RandomCommand(CommandType::kAdvanceTime), 0, &bytes);
  bytes[16] = 99;
  Command c;
  std::uint32_t n;
  absl::Status s = DecodeCommandPayload(bytes, &c, &n);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("command_type 99"), absl::string_view::npos) << s;

  std::string ev;
  EncodeEventPayload(RandomEvent(EventType::kPairHalted), 0, &ev);
  ev[20] = 0;
  Event e;
  EXPECT_TRUE(absl::IsDataLoss(DecodeEventPayload(ev, &e, &n)));
}

TEST_F(CodecTest, DecodeRejectsKeptPriorityOtherThanZeroOrOne) {
  std::string bytes;
  EncodeEventPayload(RandomEvent(EventType::kReplaced), 0, &bytes);
  bytes.back() = 2;
  Event e;
  std::uint32_t n;
  absl::Status s = DecodeEventPayload(bytes, &e, &n);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("kept_priority"), absl::string_view::npos) << s;
}

TEST_F(CodecTest, RecordFramingHasMaskedCrcOverTypeAndPayload) {
  std::string rec;
  AppendRecord(RecordType::kConfig, "abc", &rec);
  ASSERT_EQ(rec.size(), kRecordHeaderSize + 3);
  EXPECT_EQ(GetFixed32(rec.data() + 4), 3u);
  EXPECT_EQ(rec[8], 1);
  EXPECT_EQ(crc32c::Unmask(GetFixed32(rec.data())), crc32c::Value(rec.data() + 8, 4));
}

TEST_F(CodecTest, CommandGroupSkipsBookLevelEventsAndCountsTheRest) {
  Command c = RandomCommand(CommandType::kSubmitOffer);
  std::vector<Event> events = {RandomEvent(EventType::kAccepted),
                               RandomEvent(EventType::kBookLevel), RandomEvent(EventType::kFill)};
  std::string out;
  EXPECT_EQ(AppendCommandGroup(c, events, &out), 2u);
  EXPECT_EQ(out.size(), 3 * kRecordHeaderSize + CommandPayloadSize(c.type) +
                            EventPayloadSize(EventType::kAccepted) +
                            EventPayloadSize(EventType::kFill));
  Command back;
  std::uint32_t count = 0;
  ASSERT_TRUE(DecodeCommandPayload(
                  absl::string_view(out).substr(kRecordHeaderSize, CommandPayloadSize(c.type)),
                  &back, &count)
                  .ok());
  EXPECT_EQ(count, 2u);
}

TEST_F(CodecTest, SegmentHeaderCarriesMagicVersionAndFirstSeq) {
  std::string h;
  AppendSegmentHeader(42, &h);
  ASSERT_EQ(h.size(), kSegmentHeaderSize);
  EXPECT_EQ(h.substr(0, 8), std::string("MSXJRNL\0", 8));
  EXPECT_EQ(GetFixed16(h.data() + 8), kFormatVersion);
  EXPECT_EQ(GetFixed64(h.data() + 16), 42u);
  EXPECT_EQ(crc32c::Unmask(GetFixed32(h.data() + 28)), crc32c::Value(h.data(), 28));
}

TEST_F(CodecTest, SegmentFileNamesSortInSequenceOrderAndParseBack) {
  EXPECT_EQ(SegmentFileName(1), "00000000000000000001.msxj");
  EXPECT_LT(SegmentFileName(9), SegmentFileName(10));
  EXPECT_EQ(SegmentFileName(~std::uint64_t{0}), "18446744073709551615.msxj");
  Seq s = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000001000.msxj", &s));
  EXPECT_EQ(s, 1000u);
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000100.msxj", &s));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000001000.msxj.discarded", &s));
  EXPECT_FALSE(ParseSegmentFileName("99999999999999999999.msxj", &s));  // > 2^64 - 1
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000100x.msxj", &s));
}

TEST_F(CodecTest, EmergencyLevelOutOfRangeOrUnpaddedReasonIsDataLoss) {
  Command c = RandomCommand(CommandType::kSetEmergencyLevel);
  c.set_level.reason_size = 3;
  std::memset(c.set_level.reason, 0, sizeof c.set_level.reason);
  std::memcpy(c.set_level.reason, "ban", 3);
  std::string bytes;
  EncodeCommandPayload(c, 0, &bytes);
  Command out;
  std::uint32_t count;
  ASSERT_TRUE(DecodeCommandPayload(bytes, &out, &count).ok());
  std::string bad_level = bytes;
  bad_level[kCommandPrefixSize + 4] = 5;  // level
  absl::Status s = DecodeCommandPayload(bad_level, &out, &count);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("set_level.level is 5"), std::string::npos) << s;
  std::string unpadded = bytes;
  unpadded[kCommandPrefixSize + 6 + 10] = 'x';  // past reason_size 3
  s = DecodeCommandPayload(unpadded, &out, &count);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("level reason of 3 bytes"), std::string::npos) << s;
  std::string too_long = bytes;
  too_long[kCommandPrefixSize + 5] = 61;  // reason_size
  EXPECT_EQ(DecodeCommandPayload(too_long, &out, &count).code(), absl::StatusCode::kDataLoss);
}

// FORMAT.md "Worked example", byte for byte, so that the document cannot drift.
TEST_F(CodecTest, WorkedExampleOfFormatMdEncodesToTheDocumentedBytes) {
  std::string out;
  AppendSegmentHeader(1, &out);
  AppendRecord(RecordType::kConfig, std::string("\x0a\x01\x41", 3), &out);
  Command cmd{};
  cmd.seq = 1;
  cmd.time = 1'700'000'000'000'000'000;
  cmd.type = CommandType::kSetHoldings;
  cmd.set_holdings = SetHoldings{0, 2, 1000};
  Event e{};
  e.seq = 1;
  e.time = cmd.time;
  e.type = EventType::kHoldingsSet;
  e.holdings_set = HoldingsSetEvent{0, 2, 1000, 0};
  AppendCommandGroup(cmd, {&e, 1}, &out);
  EXPECT_EQ(absl::BytesToHexString(out),
            "4d53584a524e4c00"
            "0a00"
            "2000"
            "00000000"
            "0100000000000000"
            "00000000"
            "17a3b665"
            "357081b9"
            "03000000"
            "01"
            "0a0141"
            "a05e6208"
            "25000000"
            "02"
            "0100000000000000"
            "00002a36fe9c9717"
            "05"
            "01000000"
            "00000000"
            "02000000"
            "e803000000000000"
            "186f6a05"
            "2d000000"
            "03"
            "0100000000000000"
            "00000000"
            "00002a36fe9c9717"
            "08"
            "00000000"
            "02000000"
            "e803000000000000"
            "0000000000000000");
}

}  // namespace
}  // namespace msx::journal
