#include "engine/testing/test_universe.h"

#include <cstdio>
#include <cstdlib>

#include "engine/matching/reference_data_builder.h"

namespace msx::testing {

const ReferenceData& TestUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
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
    absl::StatusOr<ReferenceData> built = b.Build();
    if (!built.ok()) {
      std::fprintf(stderr, "TestUniverse: %s\n", std::string(built.status().message()).c_str());
      std::abort();
    }
    return new ReferenceData(*std::move(built));
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
