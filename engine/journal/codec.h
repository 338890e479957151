// Encoding of commands, events and records in the journal format (FORMAT.md): explicit
// fixed-width little-endian fields, never a memcpy of a struct.
//
// Thread-safety: all functions are pure and may be called from any thread.
#ifndef MSX_ENGINE_JOURNAL_CODEC_H_
#define MSX_ENGINE_JOURNAL_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/matching/internal/coding.h"
#include "engine/journal/journal_format.h"
#include "engine/matching/types.h"

namespace msx::journal {

// Payload size of a command/event of the given type; 0 for an unknown type (every known
// type has a payload of at least the 21-byte prefix).
std::size_t CommandPayloadSize(CommandType type);
std::size_t EventPayloadSize(EventType type);

// Appends the COMMAND payload of `cmd` (not framed). REQUIRES: cmd.type is a known type.
void EncodeCommandPayload(const Command& cmd, std::uint32_t event_count, std::string* out);
// Appends the EVENT payload of `event` with its index within its command (not framed).
// REQUIRES: event.type is a known type.
void EncodeEventPayload(const Event& event, std::uint32_t index, std::string* out);

// Writes the EVENT payload into `out`, which must have room for kMaxEventPayload bytes,
// and returns its size. For hot loops (recovery compares events this way).
std::size_t EncodeEventPayloadTo(const Event& event, std::uint32_t index, char* out);

// Decode a payload produced by the functions above. `*cmd`/`*event` is fully overwritten
// (unused union bytes zero). Fails with DataLossError on a length that does not match the
// type, an unknown type, or a field outside its domain (e.g. a bool that is not 0 or 1);
// the message names the field but not the file (the reader adds file and offset).
absl::Status DecodeCommandPayload(absl::string_view payload, Command* cmd,
                                  std::uint32_t* event_count);
absl::Status DecodeEventPayload(absl::string_view payload, Event* event, std::uint32_t* index);

// Appends one framed record: crc:u32 length:u32 type:u8 payload.
// REQUIRES: payload.size() <= kMaxPayload.
void AppendRecord(RecordType type, absl::string_view payload, std::string* out);

// Appends a whole command group: the COMMAND record of `cmd` and one EVENT record for every
// event that is journaled (all but kBookLevel). Returns the number of EVENT records.
// REQUIRES: cmd.type and every event type are known.
std::uint32_t AppendCommandGroup(const Command& cmd, absl::Span<const Event> events,
                                 std::string* out);

// True for the event types that are written to the journal (everything but kBookLevel).
inline bool IsJournaled(EventType type) { return type != EventType::kBookLevel; }

// The time-swap types, which only segments of version >= kTimeSwapsFormatVersion hold.
inline bool IsTimeSwapCommand(CommandType type) {
  return type >= CommandType::kSubmitTermOffer && type <= CommandType::kRecallObligation;
}
inline bool IsTimeSwapEvent(EventType type) {
  return type >= EventType::kTermAccepted && type <= EventType::kObligation;
}
// The emergency types (issue 15), which only segments of version >= kEmergencyFormatVersion
// hold: commands 20..23, events 20..24, and a Cancelled event with reason 40 or 41.
inline bool IsEmergencyCommand(CommandType type) {
  return type >= CommandType::kPublishReference && type <= CommandType::kSetEmergencyLevel;
}
inline bool IsEmergencyEvent(const Event& e) {
  if (e.type == EventType::kCancelled) {
    return e.cancelled.reason == CancelReason::kOutsideBand ||
           e.cancelled.reason == CancelReason::kMemberSuspended;
  }
  return e.type >= EventType::kReferencePublished && e.type <= EventType::kEmergencyLevelSet;
}

// The collateral record, which only segments of version >= kCollateralFormatVersion hold:
// event 16. (Reject reasons are not checked per version, as for the emergency ones.)
inline bool IsCollateralEvent(const Event& e) { return e.type == EventType::kCollateral; }
// The allocation-auction types (issue 15 s.3), which only segments of version >=
// kAuctionFormatVersion hold: commands 30..31 and event 30.
inline bool IsAuctionCommand(CommandType type) {
  return type == CommandType::kRunAuction || type == CommandType::kSubmitOfferWithNeed;
}
inline bool IsAuctionEvent(EventType type) { return type == EventType::kAuction; }
// The term-book order types (issue 14), which only segments of version >=
// kTermOrdersFormatVersion hold: command 14, event 17, and a SubmitTermOffer with tif FOK
// or a minimum fill (the gateways that wrote older versions refused both before
// sequencing, and the engines that read them rejected both; the engine now accepts them,
// so such a record in an older segment could not replay as it was written).
inline bool IsTermOrderCommand(const Command& c) {
  return c.type == CommandType::kReplaceTermOffer ||
         (c.type == CommandType::kSubmitTermOffer &&
          (c.submit.tif == TimeInForce::kFok || c.submit.min_fill != 0));
}
inline bool IsTermOrderEvent(EventType type) { return type == EventType::kTermReplaced; }
// The delivery types (issue 15 s.3, deliver-by), which only segments of version >=
// kDeliveryFormatVersion hold: command 24 and event 25.
inline bool IsDeliveryCommand(CommandType type) { return type == CommandType::kConfirmDelivery; }
// The switch to term books on live reference data, which only segments of version >=
// kLiveTermsFormatVersion hold: command 25 (older journals must replay with term books on
// the configuration's reference data, so one in an older segment is corruption).
inline bool IsLiveTermsCommand(CommandType type) {
  return type == CommandType::kFollowLiveReference;
}
inline bool IsDeliveryEvent(EventType type) { return type == EventType::kDelivery; }

// Appends the 32-byte segment header.
void AppendSegmentHeader(Seq first_seq, std::string* out);

// Name of the segment whose first command is `first_seq`: "00000000000000000001.msxj".
std::string SegmentFileName(Seq first_seq);
// Parses a segment file name; false if `name` is not exactly a segment name.
bool ParseSegmentFileName(absl::string_view name, Seq* first_seq);

// Little-endian helpers (engine/matching/internal/coding.h), for the snapshot code and tests.
using coding::GetFixed16;
using coding::GetFixed32;
using coding::GetFixed64;
using coding::PutFixed16;
using coding::PutFixed32;
using coding::PutFixed64;

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_CODEC_H_
