// Fuzz target: the gateway's request -> command translation (gateway/translate.h), the
// validation every request passes before it reaches the sequencer and the journal.
//
// Input: a selector byte (which request type), an agency byte (the authenticated caller,
// modulo the agencies of the embedded default configuration), then the request message in
// protobuf wire format, exactly as a client sends it. Invariants:
//   * a rejected request is INVALID_ARGUMENT or NOT_FOUND with a message that names a field
//     and stays short however long the input is (user text is echoed cut to
//     kMaxEchoedChars), and maps to the same gRPC code;
//   * an accepted request becomes a command of the right type for the caller, with ids
//     inside the reference data, positive lots and price, and known side and time in
//     force: nothing the engine or the journal could not hold;
//   * the command survives the journal codec unchanged (encode, decode, compare);
//   * applied to a fresh engine in which every agency holds plenty of everything, it
//     produces events, and an accepted submit is found by its client id with
//     SameSubmitParameters true (so a retry of the same request is recognised as one);
//     a reject maps through RejectToStatus to a short error too.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config/config.h"
#include "engine/journal/codec.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "gateway/translate.h"
#include "msx/v1/exchange.pb.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Longest error message: a fixed text plus at most a few echoed fields and numbers.
constexpr std::size_t kMaxMessage = 512;

const msx::ReferenceData& Ref() {
  static const msx::ReferenceData* const ref = [] {
    auto r = msx::LoadReferenceData(msx::DefaultConfig());
    MSX_FUZZ_CHECK(r.ok(), "default config: %s", r.status().ToString().c_str());
    return new msx::ReferenceData(*std::move(r));
  }();
  return *ref;
}

void CheckError(const absl::Status& status) {
  MSX_FUZZ_CHECK(absl::IsInvalidArgument(status) || absl::IsNotFound(status), "unexpected code: %s",
                 status.ToString().c_str());
  MSX_FUZZ_CHECK(!status.message().empty() && status.message().size() <= kMaxMessage,
                 "message of %zu bytes", status.message().size());
  const grpc::Status g = msx::gateway::ToGrpcStatus(status);
  MSX_FUZZ_CHECK(static_cast<int>(g.error_code()) == static_cast<int>(status.code()) &&
                     g.error_message() == status.message(),
                 "gRPC status differs");
}

void CheckCommand(const msx::ReferenceData& ref, msx::AgencyId caller, const msx::Command& cmd) {
  const std::size_t pairs = ref.pairs().size();
  switch (cmd.type) {
    case msx::CommandType::kSubmitOfferWithNeed:
      // A declared need makes a buy that may rest in a call auction, in one of the three
      // tiers; whether the agency may use that tier is the engine's check (reason 61).
      MSX_FUZZ_CHECK(cmd.submit_need.offer.side == msx::Side::kBuy && cmd.submit_need.need > 0,
                     "need %lld on side %d", static_cast<long long>(cmd.submit_need.need),
                     static_cast<int>(cmd.submit_need.offer.side));
      MSX_FUZZ_CHECK(static_cast<int>(cmd.submit_need.tier) >= 1 &&
                         static_cast<int>(cmd.submit_need.tier) <= msx::kNumPriorityTiers,
                     "tier %d", static_cast<int>(cmd.submit_need.tier));
      [[fallthrough]];
    case msx::CommandType::kSubmitOffer: {
      const msx::SubmitOffer& s = msx::SubmitBody(cmd);
      MSX_FUZZ_CHECK(s.agency == caller && s.pair < pairs && s.lots > 0 && s.price > 0 &&
                         (s.side == msx::Side::kBuy || s.side == msx::Side::kSell) &&
                         static_cast<int>(s.tif) >= 1 && static_cast<int>(s.tif) <= 4 &&
                         s.min_fill >= 0 && s.min_fill <= s.lots && s.client_id != 0,
                     "submit out of domain");
      MSX_FUZZ_CHECK(s.tif == msx::TimeInForce::kGtd ? s.expiry > 0 : s.expiry == 0,
                     "expiry %lld with tif %d", static_cast<long long>(s.expiry),
                     static_cast<int>(s.tif));
      const msx::AgencyMask valid = ref.agencies().size() >= 64
                                        ? ~msx::AgencyMask{0}
                                        : (msx::AgencyMask{1} << ref.agencies().size()) - 1;
      MSX_FUZZ_CHECK((s.allow & ~valid) == 0 && (s.deny & ~valid) == 0,
                     "allow/deny name agencies that do not exist");
      break;
    }
    case msx::CommandType::kCancelOffer:
      MSX_FUZZ_CHECK(cmd.cancel.agency == caller, "cancel for another agency");
      break;
    case msx::CommandType::kReplaceOffer:
      MSX_FUZZ_CHECK(cmd.replace.agency == caller && cmd.replace.price > 0,
                     "replace out of domain");
      break;
    case msx::CommandType::kSetHoldings:
      MSX_FUZZ_CHECK(cmd.set_holdings.agency < ref.agencies().size() &&
                         cmd.set_holdings.instrument < ref.instruments().size() &&
                         cmd.set_holdings.total >= 0,
                     "set holdings out of domain");
      break;
    case msx::CommandType::kHaltPair:
    case msx::CommandType::kResumePair:
      MSX_FUZZ_CHECK(cmd.pair.pair < pairs, "pair %u", cmd.pair.pair);
      break;
    default:
      MSX_FUZZ_CHECK(false, "unexpected command type %d", static_cast<int>(cmd.type));
  }
  // Journalable: what the gateway accepts is what the journal writes and reads back.
  std::string payload;
  msx::journal::EncodeCommandPayload(cmd, 0, &payload);
  msx::Command decoded;
  std::uint32_t events = 0;
  const absl::Status st = msx::journal::DecodeCommandPayload(payload, &decoded, &events);
  MSX_FUZZ_CHECK(st.ok() && std::memcmp(&decoded, &cmd, sizeof cmd) == 0,
                 "command does not survive the journal codec: %s", st.ToString().c_str());
}

void RunOnEngine(const msx::ReferenceData& ref, msx::Command cmd) {
  msx::EngineOptions options;
  options.expected_offers = 64;
  msx::Engine engine(ref, options);
  std::vector<msx::Event> events;
  msx::Seq seq = 0;
  constexpr msx::TimeNs kTime = 1'790'000'000'000'000'000;  // 2026-09-21
  for (msx::AgencyId a = 0; a < ref.agencies().size(); ++a) {
    for (msx::InstrumentId i = 0; i < ref.instruments().size(); ++i) {
      msx::Command h{};
      h.type = msx::CommandType::kSetHoldings;
      h.seq = ++seq;
      h.time = kTime;
      h.set_holdings = {a, i, 1'000'000'000'000};
      engine.Apply(h, &events);
    }
  }
  events.clear();
  cmd.seq = ++seq;
  cmd.time = kTime;
  engine.Apply(cmd, &events);
  MSX_FUZZ_CHECK(!events.empty(), "a translated command produced no event");
  for (const msx::Event& e : events) {
    if (e.type == msx::EventType::kRejected &&
        e.rejected.reason != msx::RejectReason::kDuplicateClientId) {
      const absl::Status st = msx::gateway::RejectToStatus(ref, cmd, e.rejected.reason);
      MSX_FUZZ_CHECK(!st.ok() && st.message().size() <= kMaxMessage, "reject %d maps to %s",
                     static_cast<int>(e.rejected.reason), st.ToString().c_str());
    }
    if (e.type == msx::EventType::kAccepted &&
        (cmd.type == msx::CommandType::kSubmitOffer ||
         cmd.type == msx::CommandType::kSubmitOfferWithNeed)) {
      const msx::SubmitOffer& submit = msx::SubmitBody(cmd);
      auto info = engine.FindByClientId(submit.agency, submit.client_id);
      MSX_FUZZ_CHECK(info.has_value(), "accepted submit not found by its client id");
      MSX_FUZZ_CHECK(msx::gateway::SameSubmitParameters(*info, cmd),
                     "a retry of this accepted submit would not be recognised");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const msx::ReferenceData& ref = Ref();
  const int selector = data[0] % 7;
  const auto caller = static_cast<msx::AgencyId>(data[1] % ref.agencies().size());
  const std::uint8_t* body = data + 2;
  const int body_size = static_cast<int>(size - 2);

  absl::StatusOr<msx::Command> cmd;
  switch (selector) {
    case 0: {
      msx::v1::SubmitOfferRequest req;
      if (!req.ParseFromArray(body, body_size)) return 0;
      cmd = msx::gateway::SubmitToCommand(ref, caller, req);
      break;
    }
    case 1: {
      msx::v1::CancelOfferRequest req;
      if (!req.ParseFromArray(body, body_size)) return 0;
      cmd = msx::gateway::CancelToCommand(caller, req);
      break;
    }
    case 2: {
      msx::v1::ReplaceOfferRequest req;
      if (!req.ParseFromArray(body, body_size)) return 0;
      cmd = msx::gateway::ReplaceToCommand(caller, req);
      break;
    }
    case 3: {
      msx::v1::SetHoldingsRequest req;
      if (!req.ParseFromArray(body, body_size)) return 0;
      cmd = msx::gateway::SetHoldingsToCommand(ref, req);
      break;
    }
    case 4:
    case 5: {
      msx::v1::HaltPairRequest req;
      if (!req.ParseFromArray(body, body_size)) return 0;
      cmd = msx::gateway::PairToCommand(
          ref, selector == 4 ? msx::CommandType::kHaltPair : msx::CommandType::kResumePair,
          req.pair());
      break;
    }
    case 6: {
      msx::v1::SetHoldingsRequest req;  // any message with a string: an agency code
      if (!req.ParseFromArray(body, body_size)) return 0;
      absl::StatusOr<msx::AgencyId> a = msx::gateway::LookupAgency(ref, "agency", req.agency());
      if (!a.ok()) {
        CheckError(a.status());
      } else {
        MSX_FUZZ_CHECK(*a < ref.agencies().size() && ref.agencies()[*a].code == req.agency(),
                       "agency lookup returned another agency");
      }
      return 0;
    }
  }
  if (!cmd.ok()) {
    CheckError(cmd.status());
    return 0;
  }
  CheckCommand(ref, caller, *cmd);
  RunOnEngine(ref, *cmd);
  return 0;
}
