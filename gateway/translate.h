// Translation between the msx.v1 wire messages and the engine's commands, events and query
// results, plus the mapping of every engine outcome to a precise gRPC status.
//
// Everything here is a pure function of its arguments and the immutable ReferenceData, so
// it is safe from any thread. Validation happens here, on the gRPC thread, before a command
// reaches the sequencer queue: a malformed request never reaches the engine or the journal.
#ifndef MSX_GATEWAY_TRANSLATE_H_
#define MSX_GATEWAY_TRANSLATE_H_

#include <cstdint>
#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway {

// Longest symbol or agency code we echo back in an error message; longer input is cut so
// that a huge field cannot make a huge error.
inline constexpr std::size_t kMaxEchoedChars = 48;
// Most counterparties an allow or deny list may name (there are at most kMaxAgencies).
inline constexpr int kMaxCounterparties = kMaxAgencies;

// ---- Requests to commands (validation) ----
// Each returns INVALID_ARGUMENT naming the field, or NOT_FOUND for an unknown pair, offer,
// agency or instrument, with the message starting with the RejectReason enum name where one
// applies ("REJECT_REASON_UNKNOWN_PAIR: pair: \"X/Y\" is not listed").
absl::StatusOr<Command> SubmitToCommand(const ReferenceData& ref, AgencyId agency,
                                        const v1::SubmitOfferRequest& req);
absl::StatusOr<Command> CancelToCommand(AgencyId agency, const v1::CancelOfferRequest& req);
absl::StatusOr<Command> ReplaceToCommand(AgencyId agency, const v1::ReplaceOfferRequest& req);
absl::StatusOr<Command> SetHoldingsToCommand(const ReferenceData& ref,
                                             const v1::SetHoldingsRequest& req);
// HaltPair/ResumePair: `type` is kHaltPair or kResumePair.
absl::StatusOr<Command> PairToCommand(const ReferenceData& ref, CommandType type,
                                      const std::string& pair);
// ---- Emergencies (Admin.PublishReference, AdmitMember / SuspendMember,
// SetEmergencyLevel; engine/matching/ENGINE.md "Live reference data and emergency levels")
// INVALID_ARGUMENT naming the field, NOT_FOUND for an unknown instrument
// ("REJECT_REASON_UNKNOWN_INSTRUMENT: instrument: ..."), agreement or agency.
absl::StatusOr<Command> PublishReferenceToCommand(const ReferenceData& ref,
                                                  const v1::PublishReferenceRequest& req);
// `type` is kAdmitMember or kSuspendMember.
absl::StatusOr<Command> MemberToCommand(const ReferenceData& ref, CommandType type,
                                        const v1::MemberRequest& req);
absl::StatusOr<Command> SetLevelToCommand(const ReferenceData& ref,
                                          const v1::SetEmergencyLevelRequest& req);
// An instrument symbol for queries (GetLevels): NOT_FOUND when not listed.
absl::StatusOr<InstrumentId> LookupInstrument(const ReferenceData& ref,
                                              const std::string& symbol);
// Looks up a pair symbol for queries (GetBook, StreamBook, ListOffers).
absl::StatusOr<PairId> LookupPair(const ReferenceData& ref, const std::string& pair);
// The book depth of GetBook and StreamBook: 0 means 10; INVALID_ARGUMENT outside 0..1000.
absl::StatusOr<int> BookDepth(int requested);
absl::StatusOr<AgencyId> LookupAgency(const ReferenceData& ref, const std::string& field,
                                      const std::string& code);

// ---- Engine outcomes to statuses ----
// The status for an engine reject of `cmd`: NOT_FOUND (unknown pair/offer/instrument/
// agency), FAILED_PRECONDITION (halted, insufficient holdings, holdings below reserved),
// INVALID_ARGUMENT (lots, price, tick, band, floor, expiry, min fill, overflow, ...).
// A submit's price errors quote the pair's band: `live` (Engine::GetPairBand, the band a
// published reference or an emergency level set) when given, else the configured one.
// REQUIRES: reason != kNone and != kDuplicateClientId (handled by the caller).
absl::Status RejectToStatus(const ReferenceData& ref, const Command& cmd, RejectReason reason,
                            const PairBand* live = nullptr);
// "REJECT_REASON_PRICE_OUTSIDE_BAND" for kPriceOutsideBand, ...
const char* RejectReasonName(RejectReason reason);
// absl and gRPC canonical codes share their numbering.
grpc::Status ToGrpcStatus(const absl::Status& status);

// True when `offer` (an existing offer) was created from exactly these parameters (pair,
// side, lots, price, time in force, expiry, min fill, allow/deny), i.e. a SubmitOffer with
// the same client id is a retry rather than a conflicting reuse. An offer replaced since
// no longer matches its original request.
bool SameSubmitParameters(const OfferInfo& offer, const SubmitOffer& submit);
// The same for a kSubmitOffer or kSubmitOfferWithNeed command: an offer still open must
// also carry the same declared need and tier (none for a plain submit); a finished offer's
// need is no longer known and is not compared.
bool SameSubmitParameters(const OfferInfo& offer, const Command& submit);

// ---- Engine state to wire messages ----
void ToProtoOffer(const ReferenceData& ref, const OfferInfo& info, v1::Offer* out);
// The fill as seen by `receiver` (maker or taker side of `fill`); `receiver_offer` is that
// agency's offer (static fields only are used: client id, side). `auction`: the fill of a
// call auction (kRunAuction): Fill.auction, and no aggressor on either side.
void ToProtoFill(const ReferenceData& ref, const FillEvent& fill, bool receiver_is_maker,
                 const OfferInfo& receiver_offer, v1::Fill* out, bool auction = false);
void ToProtoHolding(const ReferenceData& ref, InstrumentId instrument, const HoldingInfo& h,
                    v1::Holding* out);
// The configured pair with the live prices (`band`: Engine::GetPairBand) and `level`.
void ToProtoPair(const ReferenceData& ref, const PairBook& pair, bool halted,
                 const PairBand& band, EmergencyLevel level, v1::Pair* out);
void ToProtoInstrument(const Instrument& instrument, v1::Instrument* out);
void ToProtoBook(const ReferenceData& ref, PairId pair, const DepthInfo& depth, Seq seq,
                 bool halted, v1::BookSnapshot* out);
// ---- Time swaps (engine/matching/ENGINE.md "Time swaps") ----
// SubmitTermOffer: INVALID_ARGUMENT naming the field, NOT_FOUND for an unknown book
// ("REJECT_REASON_UNKNOWN_TERM_BOOK: book: ...") or counterparty.
absl::StatusOr<Command> SubmitTermToCommand(const ReferenceData& ref, AgencyId agency,
                                            const v1::SubmitTermOfferRequest& req);
absl::StatusOr<Command> CancelTermToCommand(AgencyId agency,
                                            const v1::CancelTermOfferRequest& req);
// ReplaceTermOffer: INVALID_ARGUMENT naming the field (offer_id, lots, premium_bps).
absl::StatusOr<Command> ReplaceTermToCommand(AgencyId agency,
                                             const v1::ReplaceTermOfferRequest& req);
// ReturnObligation (amount > 0) and RecallObligation.
absl::StatusOr<Command> ReturnToCommand(AgencyId agency, const v1::ReturnObligationRequest& req);
absl::StatusOr<Command> RecallToCommand(AgencyId agency, const v1::RecallObligationRequest& req);
// True when term offer `offer` was created from exactly these parameters (a retry).
bool SameTermParameters(const OfferInfo& offer, const SubmitOffer& submit);
// A term offer (OfferInfo from Engine::GetTermOffer: pair = term book, price = premium).
void ToProtoTermOffer(const ReferenceData& ref, const OfferInfo& info, v1::TermOffer* out);
void ToProtoObligation(const ReferenceData& ref, const ObligationInfo& ob, v1::Obligation* out);
v1::ObligationState ToProtoObligationState(ObligationState state);
v1::ObligationEventKind ToProtoObligationEventKind(ObligationEventKind kind);
v1::Side ToProtoSide(Side side);
// The engine's level (kNormal = 0 ...) as the wire's (EMERGENCY_LEVEL_NORMAL = 1 ...).
v1::EmergencyLevel ToProtoLevel(EmergencyLevel level);
void ToProtoInstrumentLevel(const ReferenceData& ref, InstrumentId instrument,
                            const InstrumentState& state, v1::InstrumentLevel* out);
v1::CancelReason ToProtoCancelReason(CancelReason reason);

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_TRANSLATE_H_
