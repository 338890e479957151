#include "engine/journal/json.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace msx::journal {
namespace {

const char* SideName(Side s) {
  switch (s) {
    case Side::kBuy:
      return "buy";
    case Side::kSell:
      return "sell";
  }
  return "invalid";
}

const char* TifName(TimeInForce t) {
  switch (t) {
    case TimeInForce::kGtc:
      return "GTC";
    case TimeInForce::kGtd:
      return "GTD";
    case TimeInForce::kIoc:
      return "IOC";
    case TimeInForce::kFok:
      return "FOK";
  }
  return "invalid";
}

}  // namespace

const char* CommandTypeName(CommandType t) {
  switch (t) {
    case CommandType::kSubmitOffer:
      return "SubmitOffer";
    case CommandType::kCancelOffer:
      return "CancelOffer";
    case CommandType::kReplaceOffer:
      return "ReplaceOffer";
    case CommandType::kReplaceOfferOpenLots:
      return "ReplaceOfferOpenLots";
    case CommandType::kAdvanceTime:
      return "AdvanceTime";
    case CommandType::kSetHoldings:
      return "SetHoldings";
    case CommandType::kHaltPair:
      return "HaltPair";
    case CommandType::kResumePair:
      return "ResumePair";
    case CommandType::kSetOfferRetention:
      return "SetOfferRetention";
    case CommandType::kSubmitTermOffer:
      return "SubmitTermOffer";
    case CommandType::kCancelTermOffer:
      return "CancelTermOffer";
    case CommandType::kReplaceTermOffer:
      return "ReplaceTermOffer";
    case CommandType::kReturnObligation:
      return "ReturnObligation";
    case CommandType::kRecallObligation:
      return "RecallObligation";
    case CommandType::kPublishReference:
      return "PublishReference";
    case CommandType::kAdmitMember:
      return "AdmitMember";
    case CommandType::kSuspendMember:
      return "SuspendMember";
    case CommandType::kSetEmergencyLevel:
      return "SetEmergencyLevel";
    case CommandType::kRunAuction:
      return "RunAuction";
    case CommandType::kSubmitOfferWithNeed:
      return "SubmitOfferWithNeed";
    case CommandType::kConfirmDelivery:
      return "ConfirmDelivery";
    case CommandType::kFollowLiveReference:
      return "FollowLiveReference";
  }
  return "invalid";
}

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAccepted:
      return "Accepted";
    case EventType::kRejected:
      return "Rejected";
    case EventType::kFill:
      return "Fill";
    case EventType::kCancelled:
      return "Cancelled";
    case EventType::kReplaced:
      return "Replaced";
    case EventType::kExpired:
      return "Expired";
    case EventType::kBookLevel:
      return "BookLevel";
    case EventType::kHoldingsSet:
      return "HoldingsSet";
    case EventType::kPairHalted:
      return "PairHalted";
    case EventType::kPairResumed:
      return "PairResumed";
    case EventType::kTermAccepted:
      return "TermAccepted";
    case EventType::kLoanFill:
      return "LoanFill";
    case EventType::kTermCancelled:
      return "TermCancelled";
    case EventType::kTermExpired:
      return "TermExpired";
    case EventType::kObligation:
      return "Obligation";
    case EventType::kCollateral:
      return "Collateral";
    case EventType::kTermReplaced:
      return "TermReplaced";
    case EventType::kReferencePublished:
      return "ReferencePublished";
    case EventType::kPairBandChanged:
      return "PairBandChanged";
    case EventType::kMemberAdmitted:
      return "MemberAdmitted";
    case EventType::kMemberSuspended:
      return "MemberSuspended";
    case EventType::kEmergencyLevelSet:
      return "EmergencyLevelSet";
    case EventType::kAuction:
      return "Auction";
    case EventType::kDelivery:
      return "Delivery";
  }
  return "invalid";
}

nlohmann::ordered_json CommandJson(const Command& c) {
  nlohmann::ordered_json o;
  o["seq"] = c.seq;
  o["time"] = c.time;
  o["type"] = CommandTypeName(c.type);
  switch (c.type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitTermOffer:  // pair = term book, price = premium bps
    case CommandType::kSubmitOfferWithNeed:
      o["agency"] = SubmitBody(c).agency;
      o["pair"] = SubmitBody(c).pair;
      o["side"] = SideName(SubmitBody(c).side);
      o["tif"] = TifName(SubmitBody(c).tif);
      o["lots"] = SubmitBody(c).lots;
      o["price"] = SubmitBody(c).price;
      o["min_fill"] = SubmitBody(c).min_fill;
      o["expiry"] = SubmitBody(c).expiry;
      o["allow"] = SubmitBody(c).allow;
      o["deny"] = SubmitBody(c).deny;
      o["client_id"] = SubmitBody(c).client_id;
      if (c.type == CommandType::kSubmitOfferWithNeed) {
        o["need"] = c.submit_need.need;
        o["tier"] = std::string(PriorityTierName(c.submit_need.tier));
      }
      break;
    case CommandType::kCancelOffer:
    case CommandType::kCancelTermOffer:
      o["agency"] = c.cancel.agency;
      o["offer"] = c.cancel.offer;
      break;
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      o["agency"] = c.obligation.agency;
      o["obligation"] = c.obligation.obligation;
      o["amount"] = c.obligation.amount;
      break;
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
    case CommandType::kReplaceTermOffer:
      o["agency"] = c.replace.agency;
      o["offer"] = c.replace.offer;
      o["lots"] = c.replace.lots;
      o["price"] = c.replace.price;
      break;
    case CommandType::kAdvanceTime:
      break;
    case CommandType::kSetHoldings:
      o["agency"] = c.set_holdings.agency;
      o["instrument"] = c.set_holdings.instrument;
      o["total"] = c.set_holdings.total;
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      o["pair"] = c.pair.pair;
      break;
    case CommandType::kSetOfferRetention:
      o["retention_ns"] = c.set_retention.retention;
      break;
    case CommandType::kPublishReference:
      o["instrument"] = c.publish_reference.instrument;
      o["reference_value"] = c.publish_reference.reference_value;
      o["floor"] = c.publish_reference.floor;
      o["effective_time"] = c.publish_reference.effective_time;
      break;
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
      o["agreement"] = c.member.agreement;
      o["agency"] = c.member.agency;
      break;
    case CommandType::kSetEmergencyLevel:
      o["instrument"] = c.set_level.instrument;
      o["level"] = std::string(EmergencyLevelName(c.set_level.level));
      o["reason"] = std::string(c.set_level.reason, std::min<std::size_t>(
                                                        c.set_level.reason_size,
                                                        kMaxLevelReasonBytes));
      break;
    case CommandType::kRunAuction:
      o["instrument"] = c.run_auction.instrument;
      break;
    case CommandType::kConfirmDelivery:
      o["agency"] = c.confirm_delivery.agency;
      o["delivery"] = c.confirm_delivery.delivery;
      break;
    case CommandType::kFollowLiveReference:
      break;
  }
  return o;
}

nlohmann::ordered_json EventJson(const Event& e) {
  nlohmann::ordered_json o;
  o["seq"] = e.seq;
  o["time"] = e.time;
  o["type"] = EventTypeName(e.type);
  switch (e.type) {
    case EventType::kAccepted:
    case EventType::kTermAccepted:
      o["offer"] = e.accepted.offer;
      o["agency"] = e.accepted.agency;
      o["pair"] = e.accepted.pair;
      o["side"] = SideName(e.accepted.side);
      o["tif"] = TifName(e.accepted.tif);
      o["lots"] = e.accepted.lots;
      o["price"] = e.accepted.price;
      o["client_id"] = e.accepted.client_id;
      break;
    case EventType::kRejected:
      o["command"] = CommandTypeName(e.rejected.command);
      o["reason"] = static_cast<std::uint64_t>(e.rejected.reason);
      o["agency"] = e.rejected.agency;
      o["offer"] = e.rejected.offer;
      o["client_id"] = e.rejected.client_id;
      break;
    case EventType::kFill:
      o["fill_id"] = e.fill.fill_id;
      o["pair"] = e.fill.pair;
      o["aggressor_side"] = SideName(e.fill.aggressor_side);
      o["maker_offer"] = e.fill.maker_offer;
      o["taker_offer"] = e.fill.taker_offer;
      o["maker_agency"] = e.fill.maker_agency;
      o["taker_agency"] = e.fill.taker_agency;
      o["lots"] = e.fill.lots;
      o["price"] = e.fill.price;
      o["base_amount"] = e.fill.base_amount;
      o["quote_amount"] = e.fill.quote_amount;
      o["maker_open"] = e.fill.maker_open;
      o["taker_open"] = e.fill.taker_open;
      break;
    case EventType::kLoanFill: {
      const LoanFillEvent& f = e.loan_fill;
      o["obligation"] = f.obligation;
      o["book"] = f.book;
      o["agreement"] = f.agreement;
      o["maker_offer"] = f.maker_offer;
      o["taker_offer"] = f.taker_offer;
      o["lender"] = f.lender;
      o["borrower"] = f.borrower;
      o["lots"] = f.lots;
      o["premium_bps"] = f.premium_bps;
      o["due_amount"] = f.due_amount;
      o["maker_open"] = f.maker_open;
      o["taker_open"] = f.taker_open;
      o["aggressor_side"] = SideName(f.aggressor_side);
      break;
    }
    case EventType::kObligation: {
      const ObligationEvent& b = e.obligation;
      o["obligation"] = b.obligation;
      o["kind"] = static_cast<std::uint64_t>(b.kind);
      o["state"] = static_cast<std::uint64_t>(b.state);
      o["lender"] = b.lender;
      o["borrower"] = b.borrower;
      o["instrument"] = b.instrument;
      o["amount"] = b.amount;
      o["outstanding"] = b.outstanding;
      o["due_time"] = b.due_time;
      break;
    }
    case EventType::kCollateral: {
      const CollateralEvent& b = e.collateral;
      o["obligation"] = b.obligation;
      o["kind"] = static_cast<std::uint64_t>(b.kind);
      o["state"] = static_cast<std::uint64_t>(b.state);
      o["lender"] = b.lender;
      o["borrower"] = b.borrower;
      o["instrument"] = b.instrument;
      o["amount"] = b.amount;
      o["covered"] = b.covered;
      o["outstanding"] = b.outstanding;
      break;
    }
    case EventType::kCancelled:
    case EventType::kTermCancelled:
      o["offer"] = e.cancelled.offer;
      o["agency"] = e.cancelled.agency;
      o["reason"] = static_cast<std::uint64_t>(e.cancelled.reason);
      o["lots"] = e.cancelled.lots;
      break;
    case EventType::kReplaced:
    case EventType::kTermReplaced:
      o["offer"] = e.replaced.offer;
      o["agency"] = e.replaced.agency;
      o["lots"] = e.replaced.lots;
      o["price"] = e.replaced.price;
      o["kept_priority"] = e.replaced.kept_priority;
      break;
    case EventType::kExpired:
    case EventType::kTermExpired:
      o["offer"] = e.expired.offer;
      o["agency"] = e.expired.agency;
      o["lots"] = e.expired.lots;
      break;
    case EventType::kBookLevel:
      o["pair"] = e.book_level.pair;
      o["side"] = SideName(e.book_level.side);
      o["price"] = e.book_level.price;
      o["lots"] = e.book_level.lots;
      o["offer_count"] = e.book_level.offer_count;
      break;
    case EventType::kHoldingsSet:
      o["agency"] = e.holdings_set.agency;
      o["instrument"] = e.holdings_set.instrument;
      o["available"] = e.holdings_set.available;
      o["reserved"] = e.holdings_set.reserved;
      break;
    case EventType::kPairHalted:
    case EventType::kPairResumed:
      o["pair"] = e.pair.pair;
      break;
    case EventType::kReferencePublished:
      o["instrument"] = e.reference_published.instrument;
      o["reference_value"] = e.reference_published.reference_value;
      o["floor"] = e.reference_published.floor;
      o["effective_time"] = e.reference_published.effective_time;
      break;
    case EventType::kPairBandChanged:
      o["pair"] = e.band.pair;
      o["reference_price"] = e.band.reference_price;
      o["band_low"] = e.band.band_low;
      o["band_high"] = e.band.band_high;
      o["floor_price"] = e.band.floor_price;
      break;
    case EventType::kMemberAdmitted:
    case EventType::kMemberSuspended:
      o["agreement"] = e.member.agreement;
      o["agency"] = e.member.agency;
      break;
    case EventType::kEmergencyLevelSet:
      o["instrument"] = e.level_set.instrument;
      o["level"] = std::string(EmergencyLevelName(e.level_set.level));
      o["previous"] = std::string(EmergencyLevelName(e.level_set.previous));
      o["reason"] = std::string(e.level_set.reason, std::min<std::size_t>(
                                                        e.level_set.reason_size,
                                                        kMaxLevelReasonBytes));
      break;
    case EventType::kAuction:
      o["pair"] = e.auction.pair;
      o["crossed"] = e.auction.crossed;
      o["price"] = e.auction.price;
      o["executable"] = e.auction.executable;
      o["executed"] = e.auction.executed;
      o["supply"] = e.auction.supply;
      o["demand"] = e.auction.demand;
      o["agency_cap"] = e.auction.agency_cap;
      break;
    case EventType::kDelivery: {
      const DeliveryEvent& d = e.delivery;
      static constexpr const char* kKinds[] = {"invalid", "opened", "overdue", "confirmed"};
      static constexpr const char* kStates[] = {"invalid", "pending", "overdue", "confirmed"};
      const auto kind = static_cast<std::size_t>(d.kind);
      const auto state = static_cast<std::size_t>(d.state);
      o["delivery"] = d.delivery;
      o["fill_id"] = d.fill_id;
      o["kind"] = kKinds[kind <= 3 ? kind : 0];
      o["state"] = kStates[state <= 3 ? state : 0];
      o["pair"] = d.pair;
      o["instrument"] = d.instrument;
      o["deliverer"] = d.deliverer;
      o["receiver"] = d.receiver;
      o["agreement"] = d.agreement;
      o["by"] = d.by;
      o["amount"] = d.amount;
      o["deliver_by"] = d.deliver_by;
      break;
    }
  }
  return o;
}

std::string CommandToJson(const Command& c) { return JsonText(CommandJson(c)); }
std::string EventToJson(const Event& e) { return JsonText(EventJson(e)); }

std::string JsonText(const nlohmann::ordered_json& value) {
  return value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                    nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace msx::journal
