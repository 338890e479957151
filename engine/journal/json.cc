#include "engine/journal/json.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

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
    case CommandType::kAdvanceTime:
      return "AdvanceTime";
    case CommandType::kSetHoldings:
      return "SetHoldings";
    case CommandType::kHaltPair:
      return "HaltPair";
    case CommandType::kResumePair:
      return "ResumePair";
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
  }
  return "invalid";
}

namespace {

// Appends ,"name":value pairs.
class Obj {
 public:
  Obj& Num(const char* name, std::int64_t v) {
    absl::StrAppend(&s_, ",\"", name, "\":", v);
    return *this;
  }
  Obj& UNum(const char* name, std::uint64_t v) {
    absl::StrAppend(&s_, ",\"", name, "\":", v);
    return *this;
  }
  Obj& Str(const char* name, const char* v) {
    absl::StrAppend(&s_, ",\"", name, "\":\"", v, "\"");
    return *this;
  }
  Obj& Bool(const char* name, bool v) {
    absl::StrAppend(&s_, ",\"", name, "\":", v ? "true" : "false");
    return *this;
  }
  std::string Done() {
    s_[0] = '{';
    s_ += '}';
    return std::move(s_);
  }

 private:
  std::string s_;
};

}  // namespace

std::string CommandToJson(const Command& c) {
  Obj o;
  o.UNum("seq", c.seq).Num("time", c.time).Str("type", CommandTypeName(c.type));
  switch (c.type) {
    case CommandType::kSubmitOffer:
      o.UNum("agency", c.submit.agency)
          .UNum("pair", c.submit.pair)
          .Str("side", SideName(c.submit.side))
          .Str("tif", TifName(c.submit.tif))
          .Num("lots", c.submit.lots)
          .Num("price", c.submit.price)
          .Num("min_fill", c.submit.min_fill)
          .Num("expiry", c.submit.expiry)
          .UNum("allow", c.submit.allow)
          .UNum("deny", c.submit.deny)
          .UNum("client_id", c.submit.client_id);
      break;
    case CommandType::kCancelOffer:
      o.UNum("agency", c.cancel.agency).UNum("offer", c.cancel.offer);
      break;
    case CommandType::kReplaceOffer:
      o.UNum("agency", c.replace.agency)
          .UNum("offer", c.replace.offer)
          .Num("lots", c.replace.lots)
          .Num("price", c.replace.price);
      break;
    case CommandType::kAdvanceTime:
      break;
    case CommandType::kSetHoldings:
      o.UNum("agency", c.set_holdings.agency)
          .UNum("instrument", c.set_holdings.instrument)
          .Num("total", c.set_holdings.total);
      break;
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
      o.UNum("pair", c.pair.pair);
      break;
  }
  return o.Done();
}

std::string EventToJson(const Event& e) {
  Obj o;
  o.UNum("seq", e.seq).Num("time", e.time).Str("type", EventTypeName(e.type));
  switch (e.type) {
    case EventType::kAccepted:
      o.UNum("offer", e.accepted.offer)
          .UNum("agency", e.accepted.agency)
          .UNum("pair", e.accepted.pair)
          .Str("side", SideName(e.accepted.side))
          .Str("tif", TifName(e.accepted.tif))
          .Num("lots", e.accepted.lots)
          .Num("price", e.accepted.price)
          .UNum("client_id", e.accepted.client_id);
      break;
    case EventType::kRejected:
      o.Str("command", CommandTypeName(e.rejected.command))
          .UNum("reason", static_cast<std::uint64_t>(e.rejected.reason))
          .UNum("agency", e.rejected.agency)
          .UNum("offer", e.rejected.offer)
          .UNum("client_id", e.rejected.client_id);
      break;
    case EventType::kFill:
      o.UNum("fill_id", e.fill.fill_id)
          .UNum("pair", e.fill.pair)
          .Str("aggressor_side", SideName(e.fill.aggressor_side))
          .UNum("maker_offer", e.fill.maker_offer)
          .UNum("taker_offer", e.fill.taker_offer)
          .UNum("maker_agency", e.fill.maker_agency)
          .UNum("taker_agency", e.fill.taker_agency)
          .Num("lots", e.fill.lots)
          .Num("price", e.fill.price)
          .Num("base_amount", e.fill.base_amount)
          .Num("quote_amount", e.fill.quote_amount)
          .Num("maker_open", e.fill.maker_open)
          .Num("taker_open", e.fill.taker_open);
      break;
    case EventType::kCancelled:
      o.UNum("offer", e.cancelled.offer)
          .UNum("agency", e.cancelled.agency)
          .UNum("reason", static_cast<std::uint64_t>(e.cancelled.reason))
          .Num("lots", e.cancelled.lots);
      break;
    case EventType::kReplaced:
      o.UNum("offer", e.replaced.offer)
          .UNum("agency", e.replaced.agency)
          .Num("lots", e.replaced.lots)
          .Num("price", e.replaced.price)
          .Bool("kept_priority", e.replaced.kept_priority);
      break;
    case EventType::kExpired:
      o.UNum("offer", e.expired.offer).UNum("agency", e.expired.agency).Num("lots", e.expired.lots);
      break;
    case EventType::kBookLevel:
      o.UNum("pair", e.book_level.pair)
          .Str("side", SideName(e.book_level.side))
          .Num("price", e.book_level.price)
          .Num("lots", e.book_level.lots)
          .UNum("offer_count", e.book_level.offer_count);
      break;
    case EventType::kHoldingsSet:
      o.UNum("agency", e.holdings_set.agency)
          .UNum("instrument", e.holdings_set.instrument)
          .Num("available", e.holdings_set.available)
          .Num("reserved", e.holdings_set.reserved);
      break;
    case EventType::kPairHalted:
    case EventType::kPairResumed:
      o.UNum("pair", e.pair.pair);
      break;
  }
  return o.Done();
}

}  // namespace msx::journal
