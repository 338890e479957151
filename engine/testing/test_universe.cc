#include "engine/testing/test_universe.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine/matching/reference_data_builder.h"

namespace msx::testing {

namespace {

void AddTestUniverse(ReferenceDataBuilder& b) {
  b.AddInstrument({"AAA", "alpha", "test", "kg", 10, 1000000, 0});
  b.AddInstrument({"BBB", "beta", "test", "kg", 1, 100000, 0});
  b.AddInstrument({"CCC", "gamma", "test", "kg", 100, 500000, 450000});
  b.AddInstrument({"DDD", "delta", "test", "kg", 1, 100000000, 0});
  b.AddPair({"AAA", "BBB", 1, 1500, 1000});
  b.AddPair({"CCC", "BBB", 5, 1500, 1000});
  b.AddPair({"AAA", "CCC", 1, 1500, 1000});
  b.AddPair({"DDD", "BBB", 10, 1500, 100});
  for (const char* code : {"A0", "A1", "A2", "A3", "A4", "A5"}) {
    b.AddAgency({code, code, "XX", Role::kAgency});
  }
  b.AddAgency({"OPS", "operations", "XX", Role::kAdmin});
  b.AddAgreement({"CORE", {"A0", "A1", "A2", "A3"}, {}});
  b.AddAgreement({"AB", {"A3", "A4"}, {"alpha", "beta"}});
  b.AddAgreement({"GAMMA", {"A0", "A5"}, {"gamma", "beta"}});
}

const ReferenceData* BuildOrDie(const ReferenceDataBuilder& b, const char* name) {
  absl::StatusOr<ReferenceData> built = b.Build();
  if (!built.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, std::string(built.status().message()).c_str());
    std::abort();
  }
  return new ReferenceData(*std::move(built));
}

}  // namespace

const ReferenceData& TestUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    AddTestUniverse(b);
    return BuildOrDie(b, "TestUniverse");
  }();
  return *ref;
}

const ReferenceData& TermUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    AddTestUniverse(b);
    b.AddAgreement({"SPARE", {"A0", "A1"}, {"beta"}});
    b.AddTermBook({"AAA", 1, 40});
    b.AddTermBook({"AAA", 3, 40});
    b.AddTermBook({"BBB", 2, 200});
    b.AddTermBook({"CCC", 1, 20});
    b.AddTermBook({"DDD", 5, 10});
    // Field by field: AgreementTermsSpec grows (collateral), and the rest keep defaults.
    auto terms = [&](const char* agreement, MicroUsd default_limit,
                     std::vector<std::pair<std::string, MicroUsd>> limits, bool recall,
                     std::int32_t notice_days) {
      AgreementTermsSpec t;
      t.agreement = agreement;
      t.credit_limits = std::move(limits);
      t.default_credit_limit = default_limit;
      t.recall_allowed = recall;
      t.recall_notice_days = notice_days;
      b.SetAgreementTerms(std::move(t));
    };
    terms("CORE", 100'000'000, {{"A1", 1'000'000'000}, {"A2", 0}}, true, 1);
    terms("AB", 200'000'000, {}, true, 0);
    terms("GAMMA", 150'000'000, {{"A5", 500'000'000}}, false, 0);
    terms("SPARE", 50'000'000, {}, false, 0);
    b.AddAgreement({"SECURED", {"A2", "A3", "A4", "A5"}, {}});
    AgreementTermsSpec secured;
    secured.agreement = "SECURED";
    secured.default_credit_limit = 300'000'000;
    secured.recall_allowed = true;
    secured.recall_notice_days = 1;
    secured.grace_days = 1;
    secured.collateral_bps = 8000;
    secured.collateral_instruments = {"CCC", "BBB"};
    b.SetAgreementTerms(std::move(secured));
    return BuildOrDie(b, "TermUniverse");
  }();
  return *ref;
}

Command Submit(AgencyId agency, PairId pair, Side side, Lots lots, Price price,
               ClientOfferId client_id, TimeInForce tif) {
  Command c{};
  c.type = CommandType::kSubmitOffer;
  c.submit.agency = agency;
  c.submit.pair = pair;
  c.submit.side = side;
  c.submit.tif = tif;
  c.submit.lots = lots;
  c.submit.price = price;
  c.submit.client_id = client_id;
  return c;
}

Command Cancel(AgencyId agency, OfferId offer) {
  Command c{};
  c.type = CommandType::kCancelOffer;
  c.cancel.agency = agency;
  c.cancel.offer = offer;
  return c;
}

Command Replace(AgencyId agency, OfferId offer, Lots lots, Price price) {
  Command c{};
  c.type = CommandType::kReplaceOffer;
  c.replace.agency = agency;
  c.replace.offer = offer;
  c.replace.lots = lots;
  c.replace.price = price;
  return c;
}

Command ReplaceOpenLots(AgencyId agency, OfferId offer, Lots lots, Price price) {
  Command c = Replace(agency, offer, lots, price);
  c.type = CommandType::kReplaceOfferOpenLots;
  return c;
}

Command SetHolding(AgencyId agency, InstrumentId instrument, Amount total) {
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings.agency = agency;
  c.set_holdings.instrument = instrument;
  c.set_holdings.total = total;
  return c;
}

Command AdvanceTime() {
  Command c{};
  c.type = CommandType::kAdvanceTime;
  return c;
}

Command Halt(PairId pair) {
  Command c{};
  c.type = CommandType::kHaltPair;
  c.pair.pair = pair;
  return c;
}

Command Resume(PairId pair) {
  Command c{};
  c.type = CommandType::kResumePair;
  c.pair.pair = pair;
  return c;
}

Command TermOffer(AgencyId agency, TermBookId book, Side side, Lots lots, Price premium_bps,
                  TimeInForce tif, ClientOfferId client_id) {
  Command c{};
  c.type = CommandType::kSubmitTermOffer;
  c.submit.agency = agency;
  c.submit.pair = book;
  c.submit.side = side;
  c.submit.tif = tif;
  c.submit.lots = lots;
  c.submit.price = premium_bps;
  c.submit.client_id = client_id;
  return c;
}

Command CancelTermOffer(AgencyId agency, OfferId offer) {
  Command c = Cancel(agency, offer);
  c.type = CommandType::kCancelTermOffer;
  return c;
}

Command ReplaceTermOffer(AgencyId agency, OfferId offer, Lots lots, Price premium_bps) {
  Command c = Replace(agency, offer, lots, premium_bps);
  c.type = CommandType::kReplaceTermOffer;
  return c;
}

Command ReturnObligation(AgencyId borrower, ObligationId obligation, Amount amount) {
  Command c{};
  c.type = CommandType::kReturnObligation;
  c.obligation = {borrower, obligation, amount};
  return c;
}

Command RecallObligation(AgencyId lender, ObligationId obligation) {
  Command c{};
  c.type = CommandType::kRecallObligation;
  c.obligation = {lender, obligation, 0};
  return c;
}

Command SetLevel(InstrumentId instrument, EmergencyLevel level, std::string_view reason) {
  Command c{};
  c.type = CommandType::kSetEmergencyLevel;
  c.set_level.instrument = instrument;
  c.set_level.level = level;
  const std::size_t n = std::min(reason.size(), sizeof(c.set_level.reason));
  c.set_level.reason_size = static_cast<std::uint8_t>(n);
  std::memcpy(c.set_level.reason, reason.data(), n);
  return c;
}

Command PublishReference(InstrumentId instrument, MicroUsd value, MicroUsd floor,
                         TimeNs effective) {
  Command c{};
  c.type = CommandType::kPublishReference;
  c.publish_reference = {instrument, value, floor, effective};
  return c;
}

Command AdmitMember(std::uint32_t agreement, AgencyId agency) {
  Command c{};
  c.type = CommandType::kAdmitMember;
  c.member = {agreement, agency};
  return c;
}

Command SuspendMember(std::uint32_t agreement, AgencyId agency) {
  Command c = AdmitMember(agreement, agency);
  c.type = CommandType::kSuspendMember;
  return c;
}

Command SubmitWithNeed(AgencyId agency, PairId pair, Lots lots, Price price, Amount need,
                       PriorityTier tier, ClientOfferId client_id, TimeInForce tif) {
  Command c{};
  c.type = CommandType::kSubmitOfferWithNeed;
  c.submit_need.offer = Submit(agency, pair, Side::kBuy, lots, price, client_id, tif).submit;
  c.submit_need.need = need;
  c.submit_need.tier = tier;
  return c;
}

Command RunAuction(InstrumentId instrument) {
  Command c{};
  c.type = CommandType::kRunAuction;
  c.run_auction.instrument = instrument;
  return c;
}

Command FollowLiveReference() {
  Command c{};
  c.type = CommandType::kFollowLiveReference;
  return c;
}

Command ConfirmDelivery(AgencyId agency, DeliveryId id) {
  Command c{};
  c.type = CommandType::kConfirmDelivery;
  c.confirm_delivery = {agency, id};
  return c;
}

RejectReason FirstReject(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.type == EventType::kRejected) return e.rejected.reason;
  }
  return RejectReason::kNone;
}

OfferId FirstAccepted(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.type == EventType::kAccepted) return e.accepted.offer;
  }
  return 0;
}

std::vector<Event> EventsOf(const std::vector<Event>& events, EventType type) {
  std::vector<Event> v;
  for (const Event& e : events) {
    if (e.type == type) v.push_back(e);
  }
  return v;
}

}  // namespace msx::testing
