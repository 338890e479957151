#include "gateway/translate.h"

#include "gateway/translate_internal.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace msx::gateway {
// Shared with translate_time_swaps.cc (translate_internal.h).
namespace internal {

// Quotes user input for an error message, cut to kMaxEchoedChars.
std::string Echo(const std::string& s) {
  if (s.size() <= kMaxEchoedChars) return absl::StrCat("\"", s, "\"");
  return absl::StrCat("\"", s.substr(0, kMaxEchoedChars), "...\" (", s.size(), " bytes)");
}

absl::Status Invalid(RejectReason reason, absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(RejectReasonName(reason), ": ", field, ": ",
                                                 what));
}

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<AgencyMask> CounterpartyMask(
    const ReferenceData& ref, const char* field,
    const google::protobuf::RepeatedPtrField<std::string>& codes) {
  if (codes.size() > kMaxCounterparties) {
    return Invalid(RejectReason::kUnknownCounterparty, field,
                   absl::StrCat("at most ", kMaxCounterparties, " agencies, got ", codes.size()));
  }
  AgencyMask mask = 0;
  for (int i = 0; i < codes.size(); ++i) {
    std::optional<AgencyId> id = ref.FindAgency(codes[i]);
    if (!id) {
      return Invalid(RejectReason::kUnknownCounterparty, absl::StrCat(field, "[", i, "]"),
                     absl::StrCat(Echo(codes[i]), " is not a known agency"));
    }
    mask |= AgencyMask{1} << *id;
  }
  return mask;
}

const std::string& PairSymbol(const ReferenceData& ref, PairId pair) {
  static const std::string kUnknown = "?";
  return pair < ref.pairs().size() ? ref.pairs()[pair].symbol : kUnknown;
}

}  // namespace internal

namespace {
using internal::AddAgencies;
using internal::CounterpartyMask;
using internal::Echo;
using internal::Invalid;
using internal::InvalidField;
using internal::PairSymbol;
using internal::ToProtoState;
using internal::ToProtoTif;
}  // namespace

const char* RejectReasonName(RejectReason reason) {
  return v1::RejectReason_Name(static_cast<v1::RejectReason>(reason)).c_str();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<PairId> LookupPair(const ReferenceData& ref, const std::string& pair) {
  if (pair.empty()) return InvalidField("pair", "required, e.g. \"CO-99.8/GA-4N\"");
  std::optional<PairId> id = ref.FindPair(pair);
  if (!id) {
    return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownPair),
                                            ": pair: ", Echo(pair), " is not listed"));
  }
  return *id;
}

absl::StatusOr<int> BookDepth(int requested) {
  const int depth = requested == 0 ? 10 : requested;
  if (depth < 0 || depth > 1000) {
    return InvalidField("depth", absl::StrCat("must be in 0..1000 (0 = 10), got ", requested));
  }
  return depth;
}

absl::StatusOr<AgencyId> LookupAgency(const ReferenceData& ref, const std::string& field,
                                      const std::string& code) {
  if (code.empty()) return InvalidField(field, "required, e.g. \"KOMIR\"");
  std::optional<AgencyId> id = ref.FindAgency(code);
  if (!id) {
    return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownAgency),
                                            ": ", field, ": ", Echo(code),
                                            " is not a known agency"));
  }
  return *id;
}

namespace {

// A submit's declared need and tier (AUCTION.md "In the engine"): with a need, `cmd`
// becomes a kSubmitOfferWithNeed. What the configuration allows the agency (reason 61) is
// the engine's check; the shape of the request is checked here.
absl::StatusOr<Command> WithDeclaredNeed(const v1::SubmitOfferRequest& req, const Command& cmd) {
  const std::int64_t need = req.declared_need();
  const int tier = static_cast<int>(req.priority_tier());
  if (need < 0) {
    return Invalid(RejectReason::kInvalidNeed, "declared_need",
                   absl::StrCat("must be >= 0 base units (0 = none), got ", need));
  }
  if (tier < 0 || tier > kNumPriorityTiers) {
    return Invalid(RejectReason::kInvalidNeed, "priority_tier",
                   absl::StrCat("unknown value ", tier,
                                "; PRIORITY_TIER_DEFENCE, _ESSENTIAL or _GENERAL"));
  }
  if (need == 0) {
    if (tier != v1::PRIORITY_TIER_UNSPECIFIED) {
      return Invalid(RejectReason::kInvalidNeed, "priority_tier",
                     "only with a declared_need > 0 (the tier ranks a need in call auctions)");
    }
    return cmd;
  }
  if (cmd.submit.side != Side::kBuy) {
    return Invalid(RejectReason::kInvalidNeed, "declared_need",
                   "only a buy offer declares a need (a sell's lots are the auction's supply)");
  }
  Command with_need{};
  with_need.type = CommandType::kSubmitOfferWithNeed;
  with_need.submit_need.offer = cmd.submit;
  with_need.submit_need.need = need;
  with_need.submit_need.tier = tier == v1::PRIORITY_TIER_UNSPECIFIED
                                   ? PriorityTier::kGeneral
                                   : static_cast<PriorityTier>(tier);
  return with_need;
}

}  // namespace

absl::StatusOr<Command> SubmitToCommand(const ReferenceData& ref, AgencyId agency,
                                        const v1::SubmitOfferRequest& req) {
  Command cmd{};
  cmd.type = CommandType::kSubmitOffer;
  SubmitOffer& s = cmd.submit;
  s.agency = agency;
  if (req.client_offer_id() == 0) return InvalidField("client_offer_id", "required, non-zero");
  s.client_id = req.client_offer_id();
  absl::StatusOr<PairId> pair = LookupPair(ref, req.pair());
  if (!pair.ok()) return pair.status();
  s.pair = *pair;
  switch (req.side()) {
    case v1::SIDE_BUY:
      s.side = Side::kBuy;
      break;
    case v1::SIDE_SELL:
      s.side = Side::kSell;
      break;
    default:
      return Invalid(RejectReason::kInvalidSide, "side", "must be SIDE_BUY or SIDE_SELL");
  }
  if (req.lots() <= 0) {
    return Invalid(RejectReason::kInvalidLots, "lots", absl::StrCat("must be > 0, got ",
                                                                    req.lots()));
  }
  s.lots = req.lots();
  if (req.price() <= 0) {
    return Invalid(RejectReason::kInvalidPrice, "price",
                   absl::StrCat("must be > 0 quote units per base lot, got ", req.price()));
  }
  s.price = req.price();
  switch (req.time_in_force()) {
    case v1::TIME_IN_FORCE_UNSPECIFIED:
    case v1::TIME_IN_FORCE_GTC:
      s.tif = TimeInForce::kGtc;
      break;
    case v1::TIME_IN_FORCE_GTD:
      s.tif = TimeInForce::kGtd;
      break;
    case v1::TIME_IN_FORCE_IOC:
      s.tif = TimeInForce::kIoc;
      break;
    case v1::TIME_IN_FORCE_FOK:
      s.tif = TimeInForce::kFok;
      break;
    default:
      return Invalid(RejectReason::kInvalidTimeInForce, "time_in_force",
                     absl::StrCat("unknown value ", static_cast<int>(req.time_in_force())));
  }
  if (s.tif == TimeInForce::kGtd) {
    if (req.expire_time_ns() <= 0) {
      return Invalid(RejectReason::kExpiryInPast, "expire_time_ns",
                     "required for TIME_IN_FORCE_GTD (ns since the Unix epoch)");
    }
    s.expiry = req.expire_time_ns();
  } else if (req.expire_time_ns() != 0) {
    return InvalidField("expire_time_ns", "only allowed with TIME_IN_FORCE_GTD");
  }
  if (req.min_fill_lots() < 0 || req.min_fill_lots() > req.lots()) {
    return Invalid(RejectReason::kInvalidMinFill, "min_fill_lots",
                   absl::StrCat("must be in 0..lots (", req.lots(), "), got ",
                                req.min_fill_lots()));
  }
  s.min_fill = req.min_fill_lots();
  absl::StatusOr<AgencyMask> allow =
      CounterpartyMask(ref, "allow_counterparties", req.allow_counterparties());
  if (!allow.ok()) return allow.status();
  absl::StatusOr<AgencyMask> deny =
      CounterpartyMask(ref, "deny_counterparties", req.deny_counterparties());
  if (!deny.ok()) return deny.status();
  s.allow = *allow;
  s.deny = *deny;
  return WithDeclaredNeed(req, cmd);
}

absl::StatusOr<Command> CancelToCommand(AgencyId agency, const v1::CancelOfferRequest& req) {
  if (req.offer_id() == 0) return InvalidField("offer_id", "required, non-zero");
  Command cmd{};
  cmd.type = CommandType::kCancelOffer;
  cmd.cancel.agency = agency;
  cmd.cancel.offer = req.offer_id();
  return cmd;
}

absl::StatusOr<Command> ReplaceToCommand(AgencyId agency, const v1::ReplaceOfferRequest& req) {
  if (req.offer_id() == 0) return InvalidField("offer_id", "required, non-zero");
  if (req.lots() <= 0) {
    return Invalid(RejectReason::kInvalidLots, "lots",
                   absl::StrCat("must be > 0, got ", req.lots()));
  }
  if (req.price() <= 0) {
    return Invalid(RejectReason::kInvalidPrice, "price",
                   absl::StrCat("must be > 0, got ", req.price()));
  }
  Command cmd{};
  // `lots` is the new total (filled + open), as exchange.proto says; never the legacy
  // open-lots replace (kReplaceOfferOpenLots), which raised exposure when it raced a fill.
  cmd.type = CommandType::kReplaceOffer;
  cmd.replace.agency = agency;
  cmd.replace.offer = req.offer_id();
  cmd.replace.lots = req.lots();
  cmd.replace.price = req.price();
  return cmd;
}

absl::StatusOr<Command> SetHoldingsToCommand(const ReferenceData& ref,
                                             const v1::SetHoldingsRequest& req) {
  absl::StatusOr<AgencyId> agency = LookupAgency(ref, "agency", req.agency());
  if (!agency.ok()) return agency.status();
  if (req.instrument().empty()) return InvalidField("instrument", "required, e.g. \"CO-99.8\"");
  std::optional<InstrumentId> instrument = ref.FindInstrument(req.instrument());
  if (!instrument) {
    return absl::NotFoundError(absl::StrCat(
        RejectReasonName(RejectReason::kUnknownInstrument), ": instrument: ",
        Echo(req.instrument()), " is not listed"));
  }
  if (req.total() < 0) {
    return InvalidField("total", absl::StrCat("must be >= 0 units, got ", req.total()));
  }
  Command cmd{};
  cmd.type = CommandType::kSetHoldings;
  cmd.set_holdings.agency = *agency;
  cmd.set_holdings.instrument = *instrument;
  cmd.set_holdings.total = req.total();
  return cmd;
}

absl::StatusOr<Command> PairToCommand(const ReferenceData& ref, CommandType type,
                                      const std::string& pair) {
  absl::StatusOr<PairId> id = LookupPair(ref, pair);
  if (!id.ok()) return id.status();
  Command cmd{};
  cmd.type = type;
  cmd.pair.pair = *id;
  return cmd;
}

absl::StatusOr<InstrumentId> LookupInstrument(const ReferenceData& ref,
                                              const std::string& symbol) {
  if (symbol.empty()) return InvalidField("instrument", "required, e.g. \"CO-99.8\"");
  std::optional<InstrumentId> id = ref.FindInstrument(symbol);
  if (!id) {
    return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownInstrument),
                                            ": instrument: ", Echo(symbol), " is not listed"));
  }
  return *id;
}

absl::StatusOr<Command> PublishReferenceToCommand(const ReferenceData& ref,
                                                  const v1::PublishReferenceRequest& req) {
  absl::StatusOr<InstrumentId> instrument = LookupInstrument(ref, req.instrument());
  if (!instrument.ok()) return instrument.status();
  if (req.reference_value_micro_usd() <= 0) {
    return Invalid(RejectReason::kInvalidReference, "reference_value_micro_usd",
                   absl::StrCat("must be > 0 micro-USD per unit, got ",
                                req.reference_value_micro_usd()));
  }
  if (req.floor_micro_usd() < 0) {
    return Invalid(RejectReason::kInvalidReference, "floor_micro_usd",
                   absl::StrCat("must be >= 0 (0 = none), got ", req.floor_micro_usd()));
  }
  if (req.effective_time_ns() < 0) {
    return InvalidField("effective_time_ns", absl::StrCat("must be >= 0 (0 = at once), got ",
                                                          req.effective_time_ns()));
  }
  Command cmd{};
  cmd.type = CommandType::kPublishReference;
  cmd.publish_reference = {*instrument, req.reference_value_micro_usd(), req.floor_micro_usd(),
                           req.effective_time_ns()};
  return cmd;
}

absl::StatusOr<Command> MemberToCommand(const ReferenceData& ref, CommandType type,
                                        const v1::MemberRequest& req) {
  if (req.agreement().empty()) return InvalidField("agreement", "required, e.g. \"FORGE\"");
  std::optional<std::uint32_t> agreement;
  for (std::size_t g = 0; g < ref.agreements().size(); ++g) {
    if (ref.agreements()[g].name == req.agreement()) agreement = static_cast<std::uint32_t>(g);
  }
  if (!agreement) {
    return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownAgreement),
                                            ": agreement: ", Echo(req.agreement()),
                                            " is not listed"));
  }
  absl::StatusOr<AgencyId> agency = LookupAgency(ref, "agency", req.agency());
  if (!agency.ok()) return agency.status();
  Command cmd{};
  cmd.type = type;
  cmd.member = {*agreement, *agency};
  return cmd;
}

absl::StatusOr<Command> SetLevelToCommand(const ReferenceData& ref,
                                          const v1::SetEmergencyLevelRequest& req) {
  absl::StatusOr<InstrumentId> instrument = LookupInstrument(ref, req.instrument());
  if (!instrument.ok()) return instrument.status();
  if (req.level() < v1::EMERGENCY_LEVEL_NORMAL || req.level() > v1::EMERGENCY_LEVEL_SERIOUS) {
    return Invalid(RejectReason::kInvalidLevel, "level",
                   absl::StrCat("required: EMERGENCY_LEVEL_NORMAL, _INTEREST, _CAUTION, "
                                "_WARNING or _SERIOUS, got ",
                                static_cast<int>(req.level())));
  }
  if (req.reason().size() > kMaxLevelReasonBytes) {
    return Invalid(RejectReason::kInvalidLevel, "reason",
                   absl::StrCat(req.reason().size(), " bytes, at most ", kMaxLevelReasonBytes));
  }
  Command cmd{};
  cmd.type = CommandType::kSetEmergencyLevel;
  SetEmergencyLevel& l = cmd.set_level;
  l.instrument = *instrument;
  l.level = static_cast<EmergencyLevel>(req.level() - v1::EMERGENCY_LEVEL_NORMAL);
  l.reason_size = static_cast<std::uint8_t>(req.reason().size());
  std::memcpy(l.reason, req.reason().data(), req.reason().size());
  return cmd;
}

absl::Status RejectToStatus(const ReferenceData& ref, const Command& cmd, RejectReason reason,
                            const PairBand* live) {
  std::string name = RejectReasonName(reason);
  auto msg = [&](absl::string_view field, absl::string_view what) {
    return absl::StrCat(name, ": ", field, ": ", what);
  };
  const bool submit = cmd.type == CommandType::kSubmitOffer ||
                      cmd.type == CommandType::kSubmitOfferWithNeed;
  const SubmitOffer& sub = SubmitBody(cmd);
  const bool with_need = cmd.type == CommandType::kSubmitOfferWithNeed;
  const PairBook* book = nullptr;
  if (submit && sub.pair < ref.pairs().size()) {
    book = &ref.pairs()[sub.pair];
  }
  const bool replace =
      cmd.type == CommandType::kReplaceOffer || cmd.type == CommandType::kReplaceTermOffer;
  const bool term_submit = cmd.type == CommandType::kSubmitTermOffer;
  Price price = replace ? cmd.replace.price : submit || term_submit ? sub.price : 0;
  Lots lots = replace ? cmd.replace.lots : submit || term_submit ? sub.lots : 0;
  std::string band;
  if (book != nullptr) {
    const Price low = live != nullptr ? live->band_low : book->band_low;
    const Price high = live != nullptr ? live->band_high : book->band_high;
    band = absl::StrCat(" (band ", low, "..", high, ", tick ", book->tick, ", max_lots ",
                        book->max_lots, ")");
  }
  switch (reason) {
    case RejectReason::kUnknownAgency:
      return absl::NotFoundError(msg("agency", "not a known agency"));
    case RejectReason::kUnknownPair:
      return absl::NotFoundError(msg("pair", "not listed"));
    case RejectReason::kUnknownOffer:
      return absl::NotFoundError(msg("offer_id", "no such open offer of this agency"));
    case RejectReason::kUnknownInstrument:
      return absl::NotFoundError(msg("instrument", "not listed"));
    case RejectReason::kPairHalted:
      return absl::FailedPreconditionError(
          msg("pair", absl::StrCat(submit && book != nullptr
                                       ? book->symbol
                                       : std::string("the offer's pair"),
                                   " is halted")));
    case RejectReason::kInsufficientHoldings:
      return absl::FailedPreconditionError(
          msg("lots", absl::StrCat(lots, " lots exceed the available holdings")));
    case RejectReason::kHoldingsBelowReserved:
      return absl::FailedPreconditionError(
          msg("total", "below what open offers hold in reserve"));
    case RejectReason::kInvalidLots:
      return absl::InvalidArgumentError(msg("lots", absl::StrCat(lots, " is not valid")));
    case RejectReason::kLotsAboveMax:
      return absl::InvalidArgumentError(
          msg("lots", absl::StrCat(lots, " exceeds the pair's max_lots", band)));
    case RejectReason::kInvalidPrice:
      return absl::InvalidArgumentError(msg("price", absl::StrCat(price, " is not valid")));
    case RejectReason::kPriceOffTick:
      return absl::InvalidArgumentError(
          msg("price", absl::StrCat(price, " is not a multiple of the tick", band)));
    case RejectReason::kPriceOutsideBand:
      return absl::InvalidArgumentError(
          msg("price", absl::StrCat(price, " is outside the price band", band)));
    case RejectReason::kBelowFloor:
      return absl::InvalidArgumentError(
          msg("price", absl::StrCat(price, " sells below the reference floor", band)));
    case RejectReason::kExpiryInPast:
      return absl::InvalidArgumentError(msg("expire_time_ns", "not in the future"));
    case RejectReason::kOverflow:
      if (cmd.type == CommandType::kPublishReference) {
        // Term books on live reference data re-value credit used (ENGINE.md "Time swaps").
        return absl::InvalidArgumentError(
            msg("reference_value_micro_usd",
                "a borrower's credit used at this value would overflow 64 bits"));
      }
      return absl::InvalidArgumentError(
          msg("lots", "lots × price or lots × lot size overflows 64 bits"));
    case RejectReason::kInvalidMinFill:
      return absl::InvalidArgumentError(msg("min_fill_lots", "not in 0..lots"));
    case RejectReason::kInvalidTimeInForce:
      return absl::InvalidArgumentError(msg("time_in_force", "not valid here"));
    case RejectReason::kInvalidSide:
      return absl::InvalidArgumentError(msg("side", "not valid"));
    case RejectReason::kUnknownCounterparty:
      return absl::InvalidArgumentError(msg("allow_counterparties", "names an unknown agency"));
    case RejectReason::kDuplicateClientId:
      return absl::AlreadyExistsError(msg("client_offer_id", "already used"));
    // Time swaps (engine/ENGINE.md "Time swaps").
    case RejectReason::kObligationOverdue:
      return absl::FailedPreconditionError(
          msg("side", "the agency owes an overdue obligation of the mineral it would give"));
    case RejectReason::kUnknownTermBook:
      return absl::NotFoundError(msg("book", "not listed"));
    case RejectReason::kCreditLimitExceeded:
      return absl::FailedPreconditionError(
          msg("lots", "the loan would exceed the borrower's credit limit"));
    case RejectReason::kUnknownObligation:
      return absl::NotFoundError(msg("obligation_id", "no such obligation of this agency"));
    case RejectReason::kRecallNotAllowed:
      return absl::FailedPreconditionError(
          msg("obligation_id", "its agreement does not allow recalls"));
    case RejectReason::kInvalidAmount:
      return absl::InvalidArgumentError(msg("amount", "not in 1..outstanding"));
    case RejectReason::kObligationNotOpen:
      return absl::FailedPreconditionError(msg("obligation_id", "not open"));
    case RejectReason::kRecallForbiddenAtLevel:
      return absl::FailedPreconditionError(
          msg("obligation_id", "the instrument's emergency level forbids recalls"));
    case RejectReason::kInsufficientCollateral:
      return absl::FailedPreconditionError(
          msg("lots", "the borrower lacks the collateral its agreements require for the loan"));
    case RejectReason::kBelowMandatedStock:
      return absl::FailedPreconditionError(
          msg("lots", absl::StrCat(lots, " lots would leave less than the agency's mandated "
                                         "minimum stock, which the instrument's emergency "
                                         "level protects")));
    case RejectReason::kUnknownAgreement:
      return absl::NotFoundError(msg("agreement", "not listed"));
    case RejectReason::kInvalidLevel:
      return absl::InvalidArgumentError(
          msg("level", "not an emergency level, or the reason is over 60 bytes"));
    case RejectReason::kInvalidReference:
      return absl::InvalidArgumentError(
          msg("reference_value_micro_usd", "must be > 0, with a floor >= 0"));
    case RejectReason::kNoValidPrice:
      return absl::InvalidArgumentError(msg(
          "reference_value_micro_usd", "leaves a pair of the instrument without a valid price"));
    case RejectReason::kAlreadyMember:
      return absl::AlreadyExistsError(msg("agency", "already a member of the agreement"));
    case RejectReason::kNotMember:
      return absl::FailedPreconditionError(msg("agency", "not a member of the agreement"));
    case RejectReason::kAdminCannotTrade:
      return absl::FailedPreconditionError(msg("agency", "an admin agency cannot trade"));
    // Allocation auctions (engine/matching/AUCTION.md "In the engine").
    case RejectReason::kInvalidNeed:
      return absl::InvalidArgumentError(
          submit && sub.side != Side::kBuy
              ? msg("declared_need", "only a buy offer declares a need")
          : with_need && cmd.submit_need.need <= 0
              ? msg("declared_need", "must be positive with a priority tier")
              : msg("priority_tier", "must be DEFENCE, ESSENTIAL or GENERAL"));
    case RejectReason::kTierNotAllowed:
      return absl::PermissionDeniedError(
          msg("priority_tier",
              absl::StrCat(with_need ? PriorityTierName(cmd.submit_need.tier) : "the tier",
                           " is not among the tiers the configuration allows this agency")));
    case RejectReason::kCallAuctionOnly: {
      const char* field = !submit                   ? "time_in_force"
                          : sub.allow != 0   ? "allow_counterparties"
                          : sub.deny != 0    ? "deny_counterparties"
                          : sub.min_fill > 0 ? "min_fill_lots"
                                                    : "time_in_force";
      return absl::FailedPreconditionError(
          msg(field, "the pair allocates by call auction at its emergency level: only offers "
                     "that rest (GTC or GTD, no minimum fill, no counterparty list) are "
                     "accepted"));
    }
    case RejectReason::kNoCallAuction:
      return absl::FailedPreconditionError(
          msg("instrument", "its emergency level does not allocate by call auction"));
    // Deliveries (engine/matching/ENGINE.md "Deliveries").
    case RejectReason::kUnknownDelivery:
      return absl::NotFoundError(msg("delivery_id", "no such delivery"));
    case RejectReason::kNotDeliveryParty:
      return absl::PermissionDeniedError(
          msg("delivery_id", "only the delivery's receiver (or an admin) confirms it"));
    case RejectReason::kDeliveryAlreadyConfirmed:
      return absl::FailedPreconditionError(msg("delivery_id", "already confirmed"));
    case RejectReason::kNone:
      break;
  }
  return absl::InternalError(absl::StrCat("unexpected reject reason ",
                                          static_cast<int>(reason)));
}

bool SameSubmitParameters(const OfferInfo& offer, const Command& submit) {
  if (!SameSubmitParameters(offer, SubmitBody(submit))) return false;
  // The engine keeps a need only while the offer is open (OfferInfo::need).
  if (offer.status != OfferStatus::kOpen) return true;
  if (submit.type != CommandType::kSubmitOfferWithNeed) return offer.need == 0;
  return offer.need == submit.submit_need.need && offer.tier == submit.submit_need.tier;
}

bool SameSubmitParameters(const OfferInfo& offer, const SubmitOffer& s) {
  return offer.agency == s.agency && offer.pair == s.pair && offer.side == s.side &&
         offer.tif == s.tif && offer.original_lots == s.lots && offer.min_fill == s.min_fill &&
         offer.expiry == s.expiry && offer.allow == s.allow && offer.deny == s.deny &&
         offer.client_id == s.client_id && offer.price == s.price;
}

v1::Side ToProtoSide(Side side) { return side == Side::kBuy ? v1::SIDE_BUY : v1::SIDE_SELL; }

v1::CancelReason ToProtoCancelReason(CancelReason reason) {
  return static_cast<v1::CancelReason>(reason);
}

namespace internal {

v1::TimeInForce ToProtoTif(TimeInForce tif) {
  switch (tif) {
    case TimeInForce::kGtc:
      return v1::TIME_IN_FORCE_GTC;
    case TimeInForce::kGtd:
      return v1::TIME_IN_FORCE_GTD;
    case TimeInForce::kIoc:
      return v1::TIME_IN_FORCE_IOC;
    case TimeInForce::kFok:
      return v1::TIME_IN_FORCE_FOK;
  }
  return v1::TIME_IN_FORCE_UNSPECIFIED;
}

v1::OfferState ToProtoState(OfferStatus status) {
  switch (status) {
    case OfferStatus::kOpen:
      return v1::OFFER_STATE_OPEN;
    case OfferStatus::kFilled:
      return v1::OFFER_STATE_FILLED;
    case OfferStatus::kCancelled:
      return v1::OFFER_STATE_CANCELLED;
    case OfferStatus::kExpired:
      return v1::OFFER_STATE_EXPIRED;
  }
  return v1::OFFER_STATE_UNSPECIFIED;
}

void AddAgencies(const ReferenceData& ref, AgencyMask mask,
                 google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const Agency& a : ref.agencies()) {
    if (a.id < kMaxAgencies && (mask & (AgencyMask{1} << a.id)) != 0) out->Add()->assign(a.code);
  }
}

}  // namespace internal

void ToProtoOffer(const ReferenceData& ref, const OfferInfo& info, v1::Offer* out) {
  out->set_offer_id(info.id);
  out->set_client_offer_id(info.client_id);
  if (info.agency < ref.agencies().size()) out->set_agency(ref.agencies()[info.agency].code);
  out->set_pair(PairSymbol(ref, info.pair));
  out->set_side(ToProtoSide(info.side));
  out->set_price(info.price);
  out->set_original_lots(info.original_lots);
  out->set_open_lots(info.open_lots);
  out->set_filled_lots(info.filled_lots);
  out->set_time_in_force(ToProtoTif(info.tif));
  out->set_expire_time_ns(info.expiry);
  out->set_min_fill_lots(info.min_fill);
  AddAgencies(ref, info.allow, out->mutable_allow_counterparties());
  AddAgencies(ref, info.deny, out->mutable_deny_counterparties());
  out->set_state(ToProtoState(info.status));
  out->set_accepted_seq(info.accepted_seq);
  out->set_accepted_time_ns(info.accepted_time);
  if (info.need > 0) {
    out->set_declared_need(info.need);
    out->set_priority_tier(static_cast<v1::PriorityTier>(info.tier));
  }
}

void ToProtoFill(const ReferenceData& ref, const FillEvent& fill, bool receiver_is_maker,
                 const OfferInfo& receiver_offer, v1::Fill* out, bool auction) {
  out->set_fill_id(fill.fill_id);
  out->set_pair(PairSymbol(ref, fill.pair));
  out->set_offer_id(receiver_is_maker ? fill.maker_offer : fill.taker_offer);
  out->set_client_offer_id(receiver_offer.client_id);
  out->set_side(ToProtoSide(receiver_offer.side));
  out->set_aggressor(!auction && !receiver_is_maker);
  out->set_auction(auction);
  AgencyId other = receiver_is_maker ? fill.taker_agency : fill.maker_agency;
  if (other < ref.agencies().size()) out->set_counterparty(ref.agencies()[other].code);
  out->set_lots(fill.lots);
  out->set_price(fill.price);
  out->set_base_amount(fill.base_amount);
  out->set_quote_amount(fill.quote_amount);
  out->set_open_lots(receiver_is_maker ? fill.maker_open : fill.taker_open);
}

void ToProtoHolding(const ReferenceData& ref, InstrumentId instrument, const HoldingInfo& h,
                    v1::Holding* out) {
  if (instrument < ref.instruments().size()) {
    out->set_instrument(ref.instruments()[instrument].symbol);
    out->set_unit(ref.instruments()[instrument].unit);
  }
  out->set_available(h.available);
  out->set_reserved(h.reserved);
}

void ToProtoPair(const ReferenceData& ref, const PairBook& pair, bool halted,
                 const PairBand& band, EmergencyLevel level, v1::Pair* out) {
  out->set_symbol(pair.symbol);
  if (pair.base < ref.instruments().size()) out->set_base(ref.instruments()[pair.base].symbol);
  if (pair.quote < ref.instruments().size()) {
    out->set_quote(ref.instruments()[pair.quote].symbol);
  }
  out->set_tick(pair.tick);
  out->set_band_bps(pair.band_bps);
  out->set_max_lots(pair.max_lots);
  out->set_reference_price(band.reference_price);
  out->set_band_low(band.band_low);
  out->set_band_high(band.band_high);
  out->set_halted(halted);
  out->set_floor_price(band.floor_price);
  out->set_level(ToProtoLevel(level));
}

v1::EmergencyLevel ToProtoLevel(EmergencyLevel level) {
  return static_cast<v1::EmergencyLevel>(static_cast<int>(level) + v1::EMERGENCY_LEVEL_NORMAL);
}

void ToProtoInstrumentLevel(const ReferenceData& ref, InstrumentId instrument,
                            const InstrumentState& state, v1::InstrumentLevel* out) {
  out->set_instrument(ref.instruments()[instrument].symbol);
  out->set_level(ToProtoLevel(state.level));
  out->set_reference_value_micro_usd(state.reference_value);
  out->set_floor_micro_usd(state.floor);
  if (state.pending) {
    out->set_pending_reference_value_micro_usd(state.pending_value);
    out->set_pending_floor_micro_usd(state.pending_floor);
    out->set_pending_effective_time_ns(state.pending_time);
  }
}

void ToProtoInstrument(const Instrument& instrument, v1::Instrument* out) {
  out->set_symbol(instrument.symbol);
  out->set_mineral(instrument.mineral_name);
  out->set_form(instrument.form);
  out->set_unit(instrument.unit);
  out->set_lot_size(instrument.lot_size);
  out->set_reference_value_micro_usd(instrument.reference_value);
  out->set_floor_micro_usd(instrument.floor);
}

void ToProtoBook(const ReferenceData& ref, PairId pair, const DepthInfo& depth, Seq seq,
                 bool halted, v1::BookSnapshot* out) {
  out->set_pair(PairSymbol(ref, pair));
  for (const LevelInfo& l : depth.bids) {
    v1::PriceLevel* p = out->add_bids();
    p->set_price(l.price);
    p->set_lots(l.lots);
    p->set_offer_count(static_cast<std::int32_t>(l.offer_count));
  }
  for (const LevelInfo& l : depth.asks) {
    v1::PriceLevel* p = out->add_asks();
    p->set_price(l.price);
    p->set_lots(l.lots);
    p->set_offer_count(static_cast<std::int32_t>(l.offer_count));
  }
  out->set_seq(seq);
  out->set_halted(halted);
}

}  // namespace msx::gateway
