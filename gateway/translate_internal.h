// Helpers translate.cc and translate_time_swaps.cc share; not part of translate.h's API.
#ifndef MSX_GATEWAY_TRANSLATE_INTERNAL_H_
#define MSX_GATEWAY_TRANSLATE_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/matching/engine.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway::internal {

// Quotes user input for an error message, cut to kMaxEchoedChars.
std::string Echo(const std::string& s);
// INVALID_ARGUMENT "<REASON>: <field>: <what>".
absl::Status Invalid(RejectReason reason, absl::string_view field, absl::string_view what);
// INVALID_ARGUMENT "<field>: <what>".
absl::Status InvalidField(absl::string_view field, absl::string_view what);
// The agencies named by `codes` (an allow or deny list) as a mask; an unknown code or too
// many is INVALID_ARGUMENT naming field[i].
absl::StatusOr<AgencyMask> CounterpartyMask(
    const ReferenceData& ref, const char* field,
    const google::protobuf::RepeatedPtrField<std::string>& codes);
// A pair's symbol, "?" for an unknown id.
const std::string& PairSymbol(const ReferenceData& ref, PairId pair);
v1::TimeInForce ToProtoTif(TimeInForce tif);
v1::OfferState ToProtoState(OfferStatus status);
// Appends the codes of the agencies in `mask`, in id order.
void AddAgencies(const ReferenceData& ref, AgencyMask mask,
                 google::protobuf::RepeatedPtrField<std::string>* out);

}  // namespace msx::gateway::internal

#endif  // MSX_GATEWAY_TRANSLATE_INTERNAL_H_
