#include "engine/testing/test_universe.h"

#include <cstdio>
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

}  // namespace msx::testing
