#include "engine/journal/codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/journal/crc32c.h"

namespace msx::journal {
namespace {

using coding::FieldReader;
using coding::FieldWriter;

std::size_t CommandBodySize(CommandType type) {
  switch (type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitTermOffer:
      return kSubmitOfferBodySize;
    case CommandType::kCancelOffer:
    case CommandType::kCancelTermOffer:
      return kCancelOfferBodySize;
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      return kObligationCommandBodySize;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
    case CommandType::kReplaceTermOffer:
      return kReplaceOfferBodySize;
    case CommandType::kAdvanceTime:
      return kAdvanceTimeBodySize;
    case CommandType::kSetHoldings:
      return kSetHoldingsBodySize;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      return kPairCommandBodySize;
    case CommandType::kSetOfferRetention:
      return kSetOfferRetentionBodySize;
    case CommandType::kPublishReference:
      return kPublishReferenceBodySize;
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
      return kMemberBodySize;
    case CommandType::kSetEmergencyLevel:
      return kSetEmergencyLevelBodySize;
    case CommandType::kRunAuction:
      return kRunAuctionBodySize;
    case CommandType::kSubmitOfferWithNeed:
      return kSubmitOfferWithNeedBodySize;
    case CommandType::kConfirmDelivery:
      return kConfirmDeliveryBodySize;
    case CommandType::kFollowLiveReference:
      return kFollowLiveReferenceBodySize;
  }
  return static_cast<std::size_t>(-1);
}

std::size_t EventBodySize(EventType type) {
  switch (type) {
    case EventType::kAccepted:
    case EventType::kTermAccepted:
      return kAcceptedBodySize;
    case EventType::kLoanFill:
      return kLoanFillBodySize;
    case EventType::kObligation:
      return kObligationEventBodySize;
    case EventType::kCollateral:
      return kCollateralEventBodySize;
    case EventType::kRejected:
      return kRejectedBodySize;
    case EventType::kFill:
      return kFillBodySize;
    case EventType::kCancelled:
    case EventType::kTermCancelled:
      return kCancelledBodySize;
    case EventType::kReplaced:
    case EventType::kTermReplaced:
      return kReplacedBodySize;
    case EventType::kExpired:
    case EventType::kTermExpired:
      return kExpiredBodySize;
    case EventType::kBookLevel:
      return kBookLevelBodySize;
    case EventType::kHoldingsSet:
      return kHoldingsSetBodySize;
    case EventType::kPairHalted:
    case EventType::kPairResumed:
      return kPairEventBodySize;
    case EventType::kReferencePublished:
      return kReferencePublishedBodySize;
    case EventType::kPairBandChanged:
      return kPairBandChangedBodySize;
    case EventType::kMemberAdmitted:
    case EventType::kMemberSuspended:
      return kMemberEventBodySize;
    case EventType::kEmergencyLevelSet:
      return kEmergencyLevelSetBodySize;
    case EventType::kAuction:
      return kAuctionBodySize;
    case EventType::kDelivery:
      return kDeliveryBodySize;
  }
  return static_cast<std::size_t>(-1);
}

static_assert(kLevelReasonBytes == kMaxLevelReasonBytes);

void WriteReference(FieldWriter& w, const PublishReference& p) {
  w.U32(p.instrument);
  w.I64(p.reference_value);
  w.I64(p.floor);
  w.I64(p.effective_time);
}
void ReadReference(FieldReader& r, PublishReference* p) {
  p->instrument = r.U32();
  p->reference_value = r.I64();
  p->floor = r.I64();
  p->effective_time = r.I64();
}
// The reason is written whole (kLevelReasonBytes), zero past its size.
void WriteReason(FieldWriter& w, std::uint8_t size, const char* reason) {
  w.U8(size);
  for (std::size_t i = 0; i < kLevelReasonBytes; ++i) {
    w.U8(i < size ? static_cast<std::uint8_t>(reason[i]) : 0);
  }
}
absl::Status ReadReason(FieldReader& r, std::uint8_t* size, char* reason) {
  *size = r.U8();
  bool zero_tail = true;
  for (std::size_t i = 0; i < kLevelReasonBytes; ++i) {
    reason[i] = static_cast<char>(r.U8());
    if (i >= *size && reason[i] != 0) zero_tail = false;
  }
  if (*size > kLevelReasonBytes || !zero_tail) {
    return absl::DataLossError(absl::StrCat("level reason of ", static_cast<int>(*size),
                                            " bytes is over ", kLevelReasonBytes,
                                            " or not zero-padded"));
  }
  return absl::OkStatus();
}
absl::Status CheckLevel(std::uint8_t level, const char* field) {
  if (ValidEmergencyLevel(level)) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat(field, " is ", static_cast<int>(level), ", not an emergency level (0..4)"));
}

// Encoders that write into reserved space and return the end pointer.
char* WriteCommand(const Command& cmd, std::uint32_t event_count, char* p) {
  FieldWriter w(p);
  w.U64(cmd.seq);
  w.I64(cmd.time);
  w.U8(static_cast<std::uint8_t>(cmd.type));
  w.U32(event_count);
  switch (cmd.type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitTermOffer:
    case CommandType::kSubmitOfferWithNeed: {
      const SubmitOffer& s = SubmitBody(cmd);
      w.U32(s.agency);
      w.U32(s.pair);
      w.U8(static_cast<std::uint8_t>(s.side));
      w.U8(static_cast<std::uint8_t>(s.tif));
      w.I64(s.lots);
      w.I64(s.price);
      w.I64(s.min_fill);
      w.I64(s.expiry);
      w.U64(s.allow);
      w.U64(s.deny);
      w.U64(s.client_id);
      if (cmd.type == CommandType::kSubmitOfferWithNeed) {
        w.I64(cmd.submit_need.need);
        w.U8(static_cast<std::uint8_t>(cmd.submit_need.tier));
      }
      break;
    }
    case CommandType::kCancelOffer:
    case CommandType::kCancelTermOffer:
      w.U32(cmd.cancel.agency);
      w.U64(cmd.cancel.offer);
      break;
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      w.U32(cmd.obligation.agency);
      w.U64(cmd.obligation.obligation);
      w.I64(cmd.obligation.amount);
      break;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
    case CommandType::kReplaceTermOffer:
      w.U32(cmd.replace.agency);
      w.U64(cmd.replace.offer);
      w.I64(cmd.replace.lots);
      w.I64(cmd.replace.price);
      break;
    case CommandType::kAdvanceTime:
      break;
    case CommandType::kSetHoldings:
      w.U32(cmd.set_holdings.agency);
      w.U32(cmd.set_holdings.instrument);
      w.I64(cmd.set_holdings.total);
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      w.U32(cmd.pair.pair);
      break;
    case CommandType::kSetOfferRetention:
      w.I64(cmd.set_retention.retention);
      break;
    case CommandType::kPublishReference:
      WriteReference(w, cmd.publish_reference);
      break;
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
      w.U32(cmd.member.agreement);
      w.U32(cmd.member.agency);
      break;
    case CommandType::kSetEmergencyLevel:
      w.U32(cmd.set_level.instrument);
      w.U8(static_cast<std::uint8_t>(cmd.set_level.level));
      WriteReason(w, cmd.set_level.reason_size, cmd.set_level.reason);
      break;
    case CommandType::kRunAuction:
      w.U32(cmd.run_auction.instrument);
      break;
    case CommandType::kConfirmDelivery:
      w.U32(cmd.confirm_delivery.agency);
      w.U64(cmd.confirm_delivery.delivery);
      break;
    case CommandType::kFollowLiveReference:  // no body
      break;
  }
  return w.end();
}

char* WriteEvent(const Event& e, std::uint32_t index, char* p) {
  FieldWriter w(p);
  w.U64(e.seq);
  w.U32(index);
  w.I64(e.time);
  w.U8(static_cast<std::uint8_t>(e.type));
  switch (e.type) {
    case EventType::kAccepted:
    case EventType::kTermAccepted: {
      const AcceptedEvent& a = e.accepted;
      w.U64(a.offer);
      w.U32(a.agency);
      w.U32(a.pair);
      w.U8(static_cast<std::uint8_t>(a.side));
      w.U8(static_cast<std::uint8_t>(a.tif));
      w.I64(a.lots);
      w.I64(a.price);
      w.U64(a.client_id);
      break;
    }
    case EventType::kRejected: {
      const RejectedEvent& r = e.rejected;
      w.U8(static_cast<std::uint8_t>(r.command));
      w.U8(static_cast<std::uint8_t>(r.reason));
      w.U32(r.agency);
      w.U64(r.offer);
      w.U64(r.client_id);
      break;
    }
    case EventType::kFill: {
      const FillEvent& f = e.fill;
      w.U64(f.fill_id);
      w.U32(f.pair);
      w.U8(static_cast<std::uint8_t>(f.aggressor_side));
      w.U64(f.maker_offer);
      w.U64(f.taker_offer);
      w.U32(f.maker_agency);
      w.U32(f.taker_agency);
      w.I64(f.lots);
      w.I64(f.price);
      w.I64(f.base_amount);
      w.I64(f.quote_amount);
      w.I64(f.maker_open);
      w.I64(f.taker_open);
      break;
    }
    case EventType::kLoanFill: {
      const LoanFillEvent& f = e.loan_fill;
      w.U64(f.obligation);
      w.U32(f.book);
      w.U32(f.agreement);
      w.U64(f.maker_offer);
      w.U64(f.taker_offer);
      w.U32(f.lender);
      w.U32(f.borrower);
      w.I64(f.lots);
      w.I64(f.premium_bps);
      w.I64(f.due_amount);
      w.I64(f.maker_open);
      w.I64(f.taker_open);
      w.U8(static_cast<std::uint8_t>(f.aggressor_side));
      break;
    }
    case EventType::kObligation: {
      const ObligationEvent& o = e.obligation;
      w.U64(o.obligation);
      w.U8(static_cast<std::uint8_t>(o.kind));
      w.U8(static_cast<std::uint8_t>(o.state));
      w.U32(o.lender);
      w.U32(o.borrower);
      w.U32(o.instrument);
      w.I64(o.amount);
      w.I64(o.outstanding);
      w.I64(o.due_time);
      break;
    }
    case EventType::kCollateral: {
      const CollateralEvent& c = e.collateral;
      w.U64(c.obligation);
      w.U8(static_cast<std::uint8_t>(c.kind));
      w.U8(static_cast<std::uint8_t>(c.state));
      w.U32(c.lender);
      w.U32(c.borrower);
      w.U32(c.instrument);
      w.I64(c.amount);
      w.I64(c.covered);
      w.I64(c.outstanding);
      break;
    }
    case EventType::kCancelled:
    case EventType::kTermCancelled: {
      const CancelledEvent& c = e.cancelled;
      w.U64(c.offer);
      w.U32(c.agency);
      w.U8(static_cast<std::uint8_t>(c.reason));
      w.I64(c.lots);
      break;
    }
    case EventType::kReplaced:
    case EventType::kTermReplaced: {
      const ReplacedEvent& r = e.replaced;
      w.U64(r.offer);
      w.U32(r.agency);
      w.I64(r.lots);
      w.I64(r.price);
      w.U8(r.kept_priority ? 1 : 0);
      break;
    }
    case EventType::kExpired:
    case EventType::kTermExpired:
      w.U64(e.expired.offer);
      w.U32(e.expired.agency);
      w.I64(e.expired.lots);
      break;
    case EventType::kBookLevel: {
      const BookLevelEvent& b = e.book_level;
      w.U32(b.pair);
      w.U8(static_cast<std::uint8_t>(b.side));
      w.I64(b.price);
      w.I64(b.lots);
      w.U32(b.offer_count);
      break;
    }
    case EventType::kHoldingsSet: {
      const HoldingsSetEvent& h = e.holdings_set;
      w.U32(h.agency);
      w.U32(h.instrument);
      w.I64(h.available);
      w.I64(h.reserved);
      break;
    }
    case EventType::kPairHalted:
    case EventType::kPairResumed:
      w.U32(e.pair.pair);
      break;
    case EventType::kReferencePublished:
      WriteReference(w, e.reference_published);
      break;
    case EventType::kPairBandChanged:
      w.U32(e.band.pair);
      w.I64(e.band.reference_price);
      w.I64(e.band.band_low);
      w.I64(e.band.band_high);
      w.I64(e.band.floor_price);
      break;
    case EventType::kMemberAdmitted:
    case EventType::kMemberSuspended:
      w.U32(e.member.agreement);
      w.U32(e.member.agency);
      break;
    case EventType::kEmergencyLevelSet:
      w.U32(e.level_set.instrument);
      w.U8(static_cast<std::uint8_t>(e.level_set.level));
      w.U8(static_cast<std::uint8_t>(e.level_set.previous));
      WriteReason(w, e.level_set.reason_size, e.level_set.reason);
      break;
    case EventType::kAuction: {
      const AuctionEvent& a = e.auction;
      w.U32(a.pair);
      w.U8(a.crossed ? 1 : 0);
      w.I64(a.price);
      w.I64(a.executable);
      w.I64(a.executed);
      w.I64(a.supply);
      w.I64(a.demand);
      w.I64(a.agency_cap);
      break;
    }
    case EventType::kDelivery: {
      const DeliveryEvent& d = e.delivery;
      w.U64(d.delivery);
      w.U64(d.fill_id);
      w.U8(static_cast<std::uint8_t>(d.kind));
      w.U8(static_cast<std::uint8_t>(d.state));
      w.U32(d.pair);
      w.U32(d.instrument);
      w.U32(d.deliverer);
      w.U32(d.receiver);
      w.U32(d.agreement);
      w.U32(d.by);
      w.I64(d.amount);
      w.I64(d.deliver_by);
      break;
    }
  }
  return w.end();
}

// Frames the payload already written at `record + kRecordHeaderSize`.
void FinishRecord(RecordType type, char* record, std::size_t payload_size) {
  record[kRecordTypeOffset] = static_cast<char>(type);
  std::uint32_t crc = crc32c::Value(record + kRecordTypeOffset, 1 + payload_size);
  std::uint32_t masked = crc32c::Mask(crc);
  std::uint32_t len = static_cast<std::uint32_t>(payload_size);
  std::memcpy(record + kRecordCrcOffset, &masked, 4);
  std::memcpy(record + kRecordLengthOffset, &len, 4);
}

}  // namespace

std::size_t CommandPayloadSize(CommandType type) {
  std::size_t body = CommandBodySize(type);
  return body == static_cast<std::size_t>(-1) ? 0 : kCommandPrefixSize + body;
}

std::size_t EventPayloadSize(EventType type) {
  std::size_t body = EventBodySize(type);
  return body == static_cast<std::size_t>(-1) ? 0 : kEventPrefixSize + body;
}

void EncodeCommandPayload(const Command& cmd, std::uint32_t event_count, std::string* out) {
  std::size_t old = out->size();
  out->resize(old + CommandPayloadSize(cmd.type));
  WriteCommand(cmd, event_count, out->data() + old);
}

void EncodeEventPayload(const Event& event, std::uint32_t index, std::string* out) {
  std::size_t old = out->size();
  out->resize(old + EventPayloadSize(event.type));
  WriteEvent(event, index, out->data() + old);
}

std::size_t EncodeEventPayloadTo(const Event& event, std::uint32_t index, char* out) {
  return static_cast<std::size_t>(WriteEvent(event, index, out) - out);
}

absl::Status DecodeCommandPayload(absl::string_view payload, Command* cmd,
                                  std::uint32_t* event_count) {
  if (payload.size() < kCommandPrefixSize) {
    return absl::DataLossError(absl::StrCat("command payload of ", payload.size(),
                                            " bytes is shorter than ", kCommandPrefixSize));
  }
  auto type = static_cast<CommandType>(static_cast<std::uint8_t>(payload[16]));
  std::size_t expected = CommandPayloadSize(type);
  if (expected == 0) {
    return absl::DataLossError(
        absl::StrCat("command_type ", static_cast<int>(payload[16]), " is unknown"));
  }
  if (payload.size() != expected) {
    return absl::DataLossError(absl::StrCat("command payload length ", payload.size(),
                                            " does not match command_type ", static_cast<int>(type),
                                            " (", expected, ")"));
  }
  std::memset(static_cast<void*>(cmd), 0, sizeof(*cmd));
  FieldReader r(payload.data());
  cmd->seq = r.U64();
  cmd->time = r.I64();
  cmd->type = static_cast<CommandType>(r.U8());
  *event_count = r.U32();
  switch (type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitTermOffer:
    case CommandType::kSubmitOfferWithNeed: {
      SubmitOffer& s =
          type == CommandType::kSubmitOfferWithNeed ? cmd->submit_need.offer : cmd->submit;
      s.agency = r.U32();
      s.pair = r.U32();
      s.side = static_cast<Side>(r.U8());
      s.tif = static_cast<TimeInForce>(r.U8());
      s.lots = r.I64();
      s.price = r.I64();
      s.min_fill = r.I64();
      s.expiry = r.I64();
      s.allow = r.U64();
      s.deny = r.U64();
      s.client_id = r.U64();
      if (type == CommandType::kSubmitOfferWithNeed) {
        cmd->submit_need.need = r.I64();
        cmd->submit_need.tier = static_cast<PriorityTier>(r.U8());
      }
      break;
    }
    case CommandType::kCancelOffer:
    case CommandType::kCancelTermOffer:
      cmd->cancel.agency = r.U32();
      cmd->cancel.offer = r.U64();
      break;
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      cmd->obligation.agency = r.U32();
      cmd->obligation.obligation = r.U64();
      cmd->obligation.amount = r.I64();
      break;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
    case CommandType::kReplaceTermOffer:
      cmd->replace.agency = r.U32();
      cmd->replace.offer = r.U64();
      cmd->replace.lots = r.I64();
      cmd->replace.price = r.I64();
      break;
    case CommandType::kAdvanceTime:
      break;
    case CommandType::kSetHoldings:
      cmd->set_holdings.agency = r.U32();
      cmd->set_holdings.instrument = r.U32();
      cmd->set_holdings.total = r.I64();
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      cmd->pair.pair = r.U32();
      break;
    case CommandType::kSetOfferRetention:
      cmd->set_retention.retention = r.I64();
      break;
    case CommandType::kPublishReference:
      ReadReference(r, &cmd->publish_reference);
      break;
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
      cmd->member.agreement = r.U32();
      cmd->member.agency = r.U32();
      break;
    case CommandType::kSetEmergencyLevel: {
      SetEmergencyLevel& l = cmd->set_level;
      l.instrument = r.U32();
      const std::uint8_t level = r.U8();
      if (absl::Status s = CheckLevel(level, "set_level.level"); !s.ok()) return s;
      l.level = static_cast<EmergencyLevel>(level);
      return ReadReason(r, &l.reason_size, l.reason);
    }
    case CommandType::kRunAuction:
      cmd->run_auction.instrument = r.U32();
      break;
    case CommandType::kConfirmDelivery:
      cmd->confirm_delivery.agency = r.U32();
      cmd->confirm_delivery.delivery = r.U64();
      break;
    case CommandType::kFollowLiveReference:  // no body
      break;
  }
  return absl::OkStatus();
}

absl::Status DecodeEventPayload(absl::string_view payload, Event* event, std::uint32_t* index) {
  if (payload.size() < kEventPrefixSize) {
    return absl::DataLossError(absl::StrCat("event payload of ", payload.size(),
                                            " bytes is shorter than ", kEventPrefixSize));
  }
  auto type = static_cast<EventType>(static_cast<std::uint8_t>(payload[20]));
  std::size_t expected = EventPayloadSize(type);
  if (expected == 0) {
    return absl::DataLossError(
        absl::StrCat("event_type ", static_cast<int>(payload[20]), " is unknown"));
  }
  if (payload.size() != expected) {
    return absl::DataLossError(absl::StrCat("event payload length ", payload.size(),
                                            " does not match event_type ", static_cast<int>(type),
                                            " (", expected, ")"));
  }
  std::memset(static_cast<void*>(event), 0, sizeof(*event));
  FieldReader r(payload.data());
  event->seq = r.U64();
  *index = r.U32();
  event->time = r.I64();
  event->type = static_cast<EventType>(r.U8());
  switch (type) {
    case EventType::kAccepted:
    case EventType::kTermAccepted: {
      AcceptedEvent& a = event->accepted;
      a.offer = r.U64();
      a.agency = r.U32();
      a.pair = r.U32();
      a.side = static_cast<Side>(r.U8());
      a.tif = static_cast<TimeInForce>(r.U8());
      a.lots = r.I64();
      a.price = r.I64();
      a.client_id = r.U64();
      break;
    }
    case EventType::kRejected: {
      RejectedEvent& j = event->rejected;
      j.command = static_cast<CommandType>(r.U8());
      j.reason = static_cast<RejectReason>(r.U8());
      j.agency = r.U32();
      j.offer = r.U64();
      j.client_id = r.U64();
      break;
    }
    case EventType::kFill: {
      FillEvent& f = event->fill;
      f.fill_id = r.U64();
      f.pair = r.U32();
      f.aggressor_side = static_cast<Side>(r.U8());
      f.maker_offer = r.U64();
      f.taker_offer = r.U64();
      f.maker_agency = r.U32();
      f.taker_agency = r.U32();
      f.lots = r.I64();
      f.price = r.I64();
      f.base_amount = r.I64();
      f.quote_amount = r.I64();
      f.maker_open = r.I64();
      f.taker_open = r.I64();
      break;
    }
    case EventType::kLoanFill: {
      LoanFillEvent& f = event->loan_fill;
      f.obligation = r.U64();
      f.book = r.U32();
      f.agreement = r.U32();
      f.maker_offer = r.U64();
      f.taker_offer = r.U64();
      f.lender = r.U32();
      f.borrower = r.U32();
      f.lots = r.I64();
      f.premium_bps = r.I64();
      f.due_amount = r.I64();
      f.maker_open = r.I64();
      f.taker_open = r.I64();
      f.aggressor_side = static_cast<Side>(r.U8());
      break;
    }
    case EventType::kObligation: {
      ObligationEvent& o = event->obligation;
      o.obligation = r.U64();
      const std::uint8_t kind = r.U8();
      const std::uint8_t state = r.U8();
      if (kind < 1 || kind > 5) {
        return absl::DataLossError(
            absl::StrCat("obligation.kind is ", static_cast<int>(kind), ", not 1..5"));
      }
      if (state < 1 || state > 3) {
        return absl::DataLossError(
            absl::StrCat("obligation.state is ", static_cast<int>(state), ", not 1..3"));
      }
      o.kind = static_cast<ObligationEventKind>(kind);
      o.state = static_cast<ObligationState>(state);
      o.lender = r.U32();
      o.borrower = r.U32();
      o.instrument = r.U32();
      o.amount = r.I64();
      o.outstanding = r.I64();
      o.due_time = r.I64();
      break;
    }
    case EventType::kCollateral: {
      CollateralEvent& c = event->collateral;
      c.obligation = r.U64();
      const std::uint8_t kind = r.U8();
      const std::uint8_t state = r.U8();
      if (kind < 1 || kind > 3) {
        return absl::DataLossError(
            absl::StrCat("collateral.kind is ", static_cast<int>(kind), ", not 1..3"));
      }
      if (state < 1 || state > 3) {
        return absl::DataLossError(
            absl::StrCat("collateral.state is ", static_cast<int>(state), ", not 1..3"));
      }
      c.kind = static_cast<CollateralEventKind>(kind);
      c.state = static_cast<ObligationState>(state);
      c.lender = r.U32();
      c.borrower = r.U32();
      c.instrument = r.U32();
      c.amount = r.I64();
      c.covered = r.I64();
      c.outstanding = r.I64();
      break;
    }
    case EventType::kCancelled:
    case EventType::kTermCancelled: {
      CancelledEvent& c = event->cancelled;
      c.offer = r.U64();
      c.agency = r.U32();
      c.reason = static_cast<CancelReason>(r.U8());
      c.lots = r.I64();
      break;
    }
    case EventType::kReplaced:
    case EventType::kTermReplaced: {
      ReplacedEvent& p = event->replaced;
      p.offer = r.U64();
      p.agency = r.U32();
      p.lots = r.I64();
      p.price = r.I64();
      std::uint8_t kept = r.U8();
      if (kept > 1) {
        return absl::DataLossError(
            absl::StrCat("replaced.kept_priority is ", static_cast<int>(kept), ", not 0 or 1"));
      }
      p.kept_priority = kept == 1;
      break;
    }
    case EventType::kExpired:
    case EventType::kTermExpired:
      event->expired.offer = r.U64();
      event->expired.agency = r.U32();
      event->expired.lots = r.I64();
      break;
    case EventType::kBookLevel: {
      BookLevelEvent& b = event->book_level;
      b.pair = r.U32();
      b.side = static_cast<Side>(r.U8());
      b.price = r.I64();
      b.lots = r.I64();
      b.offer_count = r.U32();
      break;
    }
    case EventType::kHoldingsSet: {
      HoldingsSetEvent& h = event->holdings_set;
      h.agency = r.U32();
      h.instrument = r.U32();
      h.available = r.I64();
      h.reserved = r.I64();
      break;
    }
    case EventType::kPairHalted:
    case EventType::kPairResumed:
      event->pair.pair = r.U32();
      break;
    case EventType::kReferencePublished:
      ReadReference(r, &event->reference_published);
      break;
    case EventType::kPairBandChanged: {
      PairBandEvent& b = event->band;
      b.pair = r.U32();
      b.reference_price = r.I64();
      b.band_low = r.I64();
      b.band_high = r.I64();
      b.floor_price = r.I64();
      break;
    }
    case EventType::kMemberAdmitted:
    case EventType::kMemberSuspended:
      event->member.agreement = r.U32();
      event->member.agency = r.U32();
      break;
    case EventType::kEmergencyLevelSet: {
      EmergencyLevelEvent& l = event->level_set;
      l.instrument = r.U32();
      const std::uint8_t level = r.U8();
      const std::uint8_t previous = r.U8();
      if (absl::Status s = CheckLevel(level, "level_set.level"); !s.ok()) return s;
      if (absl::Status s = CheckLevel(previous, "level_set.previous"); !s.ok()) return s;
      l.level = static_cast<EmergencyLevel>(level);
      l.previous = static_cast<EmergencyLevel>(previous);
      return ReadReason(r, &l.reason_size, l.reason);
    }
    case EventType::kAuction: {
      AuctionEvent& a = event->auction;
      a.pair = r.U32();
      const std::uint8_t crossed = r.U8();
      if (crossed > 1) {
        return absl::DataLossError(
            absl::StrCat("auction.crossed is ", static_cast<int>(crossed), ", not 0 or 1"));
      }
      a.crossed = crossed == 1;
      a.price = r.I64();
      a.executable = r.I64();
      a.executed = r.I64();
      a.supply = r.I64();
      a.demand = r.I64();
      a.agency_cap = r.I64();
      break;
    }
    case EventType::kDelivery: {
      DeliveryEvent& d = event->delivery;
      d.delivery = r.U64();
      d.fill_id = r.U64();
      const std::uint8_t kind = r.U8();
      const std::uint8_t state = r.U8();
      if (kind < 1 || kind > 3) {
        return absl::DataLossError(
            absl::StrCat("delivery.kind is ", static_cast<int>(kind), ", not 1..3"));
      }
      if (state < 1 || state > 3) {
        return absl::DataLossError(
            absl::StrCat("delivery.state is ", static_cast<int>(state), ", not 1..3"));
      }
      d.kind = static_cast<DeliveryEventKind>(kind);
      d.state = static_cast<DeliveryState>(state);
      d.pair = r.U32();
      d.instrument = r.U32();
      d.deliverer = r.U32();
      d.receiver = r.U32();
      d.agreement = r.U32();
      d.by = r.U32();
      d.amount = r.I64();
      d.deliver_by = r.I64();
      break;
    }
  }
  return absl::OkStatus();
}

void AppendRecord(RecordType type, absl::string_view payload, std::string* out) {
  std::size_t old = out->size();
  out->resize(old + kRecordHeaderSize + payload.size());
  char* rec = out->data() + old;
  if (!payload.empty()) std::memcpy(rec + kRecordHeaderSize, payload.data(), payload.size());
  FinishRecord(type, rec, payload.size());
}

std::uint32_t AppendCommandGroup(const Command& cmd, absl::Span<const Event> events,
                                 std::string* out) {
  std::uint32_t count = 0;
  std::size_t total = kRecordHeaderSize + CommandPayloadSize(cmd.type);
  for (const Event& e : events) {
    if (!IsJournaled(e.type)) continue;
    ++count;
    total += kRecordHeaderSize + EventPayloadSize(e.type);
  }
  std::size_t old = out->size();
  out->resize(old + total);
  char* rec = out->data() + old;
  char* end = WriteCommand(cmd, count, rec + kRecordHeaderSize);
  FinishRecord(RecordType::kCommand, rec, end - (rec + kRecordHeaderSize));
  rec = end;
  std::uint32_t index = 0;
  for (const Event& e : events) {
    if (!IsJournaled(e.type)) continue;
    end = WriteEvent(e, index++, rec + kRecordHeaderSize);
    FinishRecord(RecordType::kEvent, rec, end - (rec + kRecordHeaderSize));
    rec = end;
  }
  return count;
}

void AppendSegmentHeader(Seq first_seq, std::string* out) {
  std::size_t old = out->size();
  out->append(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed16(out, kFormatVersion);
  PutFixed16(out, static_cast<std::uint16_t>(kSegmentHeaderSize));
  PutFixed32(out, 0);
  PutFixed64(out, first_seq);
  PutFixed32(out, 0);
  PutFixed32(out, crc32c::Mask(crc32c::Value(out->data() + old, kSegmentHeaderCrcOffset)));
}

std::string SegmentFileName(Seq first_seq) {
  std::string digits = std::to_string(first_seq);
  return std::string(kSeqDigits - digits.size(), '0') + digits + kSegmentSuffix;
}

bool ParseSegmentFileName(absl::string_view name, Seq* first_seq) {
  constexpr std::size_t kSuffixLen = sizeof(kSegmentSuffix) - 1;
  if (name.size() != kSeqDigits + kSuffixLen) return false;
  if (name.substr(kSeqDigits) != kSegmentSuffix) return false;
  unsigned __int128 v = 0;
  for (int i = 0; i < kSeqDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > static_cast<unsigned __int128>(~std::uint64_t{0})) return false;
  *first_seq = static_cast<Seq>(v);
  return true;
}

}  // namespace msx::journal
