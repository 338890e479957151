// Fuzz target: the journal payload decoders (engine/journal/codec.h).
//
// The input is one payload, tried as a COMMAND payload and as an EVENT payload. Invariants:
//   * a payload that decodes re-encodes to exactly the input bytes (the format has one
//     encoding per value: a decoder that accepted two spellings of one command would let a
//     damaged record replay as a different, valid-looking one);
//   * its length is the one the codec states for its type;
//   * the two event encoders (EncodeEventPayload, EncodeEventPayloadTo) agree;
//   * framed with AppendRecord and parsed back by the segment parser, the payload comes
//     back unchanged with the type it was framed with.
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using msx::journal::RecordType;

void CheckFraming(RecordType type, absl::string_view payload) {
  std::string segment;
  msx::journal::AppendSegmentHeader(1, &segment);
  msx::journal::AppendRecord(type, payload, &segment);
  msx::journal::internal::SegmentParser parser(segment);
  msx::Seq first = 0;
  MSX_FUZZ_CHECK(parser.ReadHeader(&first).ok() && first == 1, "header did not parse back");
  msx::journal::internal::SegmentParser::Record record;
  std::string error;
  auto r = parser.Next(&record, &error);
  MSX_FUZZ_CHECK(r == msx::journal::internal::SegmentParser::Result::kRecord,
                 "framed record did not parse back: %s", error.c_str());
  MSX_FUZZ_CHECK(record.type == type && record.payload == payload &&
                     record.offset == msx::journal::kSegmentHeaderSize,
                 "framed record parsed back different");
  MSX_FUZZ_CHECK(parser.Next(&record, &error) ==
                     msx::journal::internal::SegmentParser::Result::kEnd,
                 "bytes left after the one record");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  msx::Command cmd;
  std::uint32_t event_count = 0;
  if (msx::journal::DecodeCommandPayload(input, &cmd, &event_count).ok()) {
    MSX_FUZZ_CHECK(msx::journal::CommandPayloadSize(cmd.type) == size,
                   "command type %d decoded from %zu bytes", static_cast<int>(cmd.type), size);
    std::string again;
    msx::journal::EncodeCommandPayload(cmd, event_count, &again);
    MSX_FUZZ_CHECK(again == input, "command payload does not re-encode to itself");
    msx::Command twice;
    std::uint32_t count_twice = 0;
    MSX_FUZZ_CHECK(msx::journal::DecodeCommandPayload(again, &twice, &count_twice).ok() &&
                       std::memcmp(&twice, &cmd, sizeof cmd) == 0 && count_twice == event_count,
                   "re-encoded command decodes differently");
    CheckFraming(RecordType::kCommand, input);
  }

  msx::Event event;
  std::uint32_t index = 0;
  if (msx::journal::DecodeEventPayload(input, &event, &index).ok()) {
    MSX_FUZZ_CHECK(msx::journal::EventPayloadSize(event.type) == size,
                   "event type %d decoded from %zu bytes", static_cast<int>(event.type), size);
    std::string again;
    msx::journal::EncodeEventPayload(event, index, &again);
    MSX_FUZZ_CHECK(again == input, "event payload does not re-encode to itself");
    char buffer[msx::journal::kMaxEventPayload];
    const std::size_t n = msx::journal::EncodeEventPayloadTo(event, index, buffer);
    MSX_FUZZ_CHECK(absl::string_view(buffer, n) == input,
                   "EncodeEventPayloadTo disagrees with EncodeEventPayload");
    msx::Event twice;
    std::uint32_t index_twice = 0;
    MSX_FUZZ_CHECK(msx::journal::DecodeEventPayload(again, &twice, &index_twice).ok() &&
                       std::memcmp(&twice, &event, sizeof event) == 0 && index_twice == index,
                   "re-encoded event decodes differently");
    CheckFraming(RecordType::kEvent, input);
  }
  return 0;
}
