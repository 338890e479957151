#include "engine/testing/term_book_fixture.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "engine/matching/reference_data_builder.h"
#include "engine/testing/test_universe.h"

namespace msx::testing {

const ReferenceData& TermBookUniverse() {
  static const ReferenceData* const ref = [] {
    ReferenceDataBuilder b;
    b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, kCoValue, 0});
    b.AddInstrument({"LI", "lithium", "hydroxide", "kg", 1000, kLiValue, 0});
    b.AddInstrument({"GA", "gallium", "4N", "kg", 10, kGaValue, 0});
    b.AddInstrument({"NI", "nickel", "metal", "kg", 1000, kNiValue, 0});
    b.AddInstrument({"NI2", "nickel", "powder", "kg", 1000, kNiValue, 0});
    b.AddPair({"CO", "LI", 1, 1500, 100000});
    for (const char* code : {"KOMIR", "JOGMEC", "DLA", "KABIL", "DERA"}) {
      b.AddAgency({code, code, "XX"});
    }
    b.AddAgency({"OPS", "ops", "XX", Role::kAdmin});
    b.AddAgreement({"CORE", {"KOMIR", "JOGMEC", "DLA"}, {"cobalt", "lithium", "gallium"}});
    b.AddAgreement({"NOREC", {"KOMIR", "KABIL", "DERA"}, {"cobalt"}});
    b.AddAgreement({"PLEDGE", {"JOGMEC", "DERA"}, {"cobalt"}});
    b.AddAgreement({"SECURED", {"KOMIR", "JOGMEC", "DLA"}, {"nickel"}});
    b.AddAgreement({"HALF", {"KOMIR", "KABIL"}, {"nickel"}});
    b.AddTermBook({"CO", 90, 100000});
    b.AddTermBook({"CO", 30, 1000});
    b.AddTermBook({"NI", 90, 100000});
    constexpr MicroUsd kUsd100M = 100'000'000'000'000;
    AgreementTermsSpec core;
    core.agreement = "CORE";
    core.default_credit_limit = kUsd100M;
    core.recall_allowed = true;
    b.SetAgreementTerms(core);
    AgreementTermsSpec norec;
    norec.agreement = "NOREC";
    norec.credit_limits = {{"KABIL", kNorecLimit}, {"DERA", kNorecLimit}};
    b.SetAgreementTerms(norec);
    AgreementTermsSpec pledge;
    pledge.agreement = "PLEDGE";
    pledge.default_credit_limit = kUsd100M;
    pledge.collateral_bps = 10000;
    pledge.collateral_instruments = {"LI"};
    b.SetAgreementTerms(pledge);
    AgreementTermsSpec secured;
    secured.agreement = "SECURED";
    secured.default_credit_limit = kUsd100M;
    secured.grace_days = kSecuredGraceDays;
    secured.collateral_bps = kSecuredBps;
    secured.collateral_instruments = {"NI2", "LI", "GA"};
    b.SetAgreementTerms(secured);
    AgreementTermsSpec half;
    half.agreement = "HALF";
    half.default_credit_limit = kUsd100M;
    half.collateral_bps = 5000;
    half.collateral_instruments = {"LI"};
    b.SetAgreementTerms(half);
    absl::StatusOr<ReferenceData> built = b.Build();
    if (!built.ok()) {
      std::fprintf(stderr, "TermBookUniverse: %s\n", std::string(built.status().message()).c_str());
      std::abort();
    }
    return new ReferenceData(*std::move(built));
  }();
  return *ref;
}

TermBookTest::TermBookTest()
    : ref_(TermBookUniverse()), engine_(ref_, EngineOptions{.expected_offers = kExpectedOffers}) {
  for (AgencyId a : {kKomir, kJogmec, kDla, kKabil, kDera}) {
    for (InstrumentId i : {kCo, kLi, kNi}) Set(a, i, 1'000'000);
  }
}

std::vector<Event> TermBookTest::Run(Command c) {
  c.seq = ++seq_;
  c.time = now_;
  std::vector<Event> ev;
  engine_.Apply(c, &ev);
  return ev;
}

std::vector<Event> TermBookTest::Set(AgencyId agency, InstrumentId instrument, Amount total) {
  return Run(SetHolding(agency, instrument, total));
}

std::vector<Event> TermBookTest::Term(AgencyId agency, TermBookId book, Side side, Lots lots,
                                      std::int64_t bps, TimeInForce tif, Lots min_fill,
                                      TimeNs expiry, AgencyMask deny) {
  Command c = TermOffer(agency, book, side, lots, bps, tif);
  c.submit.min_fill = min_fill;
  c.submit.expiry = expiry;
  c.submit.deny = deny;
  return Run(c);
}

std::vector<Event> TermBookTest::Replace(AgencyId agency, OfferId offer, Lots total,
                                         std::int64_t bps) {
  return Run(ReplaceTermOffer(agency, offer, total, bps));
}

std::vector<Event> TermBookTest::Return(AgencyId borrower, ObligationId id, Amount amount) {
  return Run(ReturnObligation(borrower, id, amount));
}

std::vector<Event> TermBookTest::Recall(AgencyId lender, ObligationId id) {
  return Run(RecallObligation(lender, id));
}

std::vector<Event> TermBookTest::Advance(TimeNs to) {
  now_ = to;
  return Run(AdvanceTime());
}

HoldingInfo TermBookTest::H(AgencyId agency, InstrumentId instrument) const {
  return engine_.GetHoldings(agency, instrument);
}

ObligationInfo TermBookTest::Ob(ObligationId id) const {
  std::optional<ObligationInfo> o = engine_.GetObligation(id);
  EXPECT_TRUE(o.has_value()) << "obligation " << id;
  return o.value_or(ObligationInfo{});
}

OfferInfo TermBookTest::Offer(OfferId id) const {
  return engine_.GetTermOffer(id).value_or(OfferInfo{});
}

std::uint32_t TermBookTest::SnapshotVersion(const std::string& state) {
  std::uint32_t v = 0;
  if (state.size() >= 12) std::memcpy(&v, state.data() + 8, 4);
  return v;
}

}  // namespace msx::testing
