// Fuzz target: the journal's segment framing (engine/journal/reader.h,
// internal::SegmentParser), the first code that touches bytes read from disk.
//
// The input is one whole segment file. Invariants:
//   * records are contiguous: the first starts right after the 32-byte header, each next
//     one where the previous ended, and each lies inside the input;
//   * a record the parser returns is exactly what AppendRecord writes for its type and
//     payload (the parser accepts one framing per record, nothing looser);
//   * kEnd only at the end of the input; kZeroFill only when every remaining byte is zero
//     (and there is at least one); kTorn and kCorrupt at a position inside the input,
//     kCorrupt with a message;
//   * COMMAND and EVENT payloads that decode re-encode to their bytes.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/reader.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace journal = msx::journal;
  using Parser = journal::internal::SegmentParser;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  Parser parser(bytes);
  msx::Seq first_seq = 0;
  if (!parser.ReadHeader(&first_seq).ok()) return 0;
  MSX_FUZZ_CHECK(size >= journal::kSegmentHeaderSize, "header accepted from %zu bytes", size);
  std::string reframed;
  journal::AppendSegmentHeader(first_seq, &reframed);
  // The reader accepts every version from kOldestFormatVersion on, the writer writes the
  // newest: compare with the accepted version (and the header CRC over it) put back.
  const std::uint16_t version =
      journal::GetFixed16(bytes.data() + journal::kSegmentHeaderVersionOffset);
  MSX_FUZZ_CHECK(version >= journal::kOldestFormatVersion && version <= journal::kFormatVersion,
                 "accepted header version %u", static_cast<unsigned>(version));
  reframed[journal::kSegmentHeaderVersionOffset] = static_cast<char>(version & 0xff);
  reframed[journal::kSegmentHeaderVersionOffset + 1] = static_cast<char>(version >> 8);
  reframed.resize(journal::kSegmentHeaderCrcOffset);
  journal::PutFixed32(&reframed, msx::crc32c::Mask(msx::crc32c::Value(
                                     reframed.data(), journal::kSegmentHeaderCrcOffset)));
  MSX_FUZZ_CHECK(bytes.substr(0, journal::kSegmentHeaderSize) == reframed,
                 "accepted header is not the one AppendSegmentHeader writes for seq %llu",
                 static_cast<unsigned long long>(first_seq));

  std::uint64_t expected_offset = journal::kSegmentHeaderSize;
  Parser::Record record;
  std::string error;
  for (;;) {
    const Parser::Result r = parser.Next(&record, &error);
    if (r != Parser::Result::kRecord) {
      const std::uint64_t pos = parser.position();
      MSX_FUZZ_CHECK(pos == expected_offset, "stopped at %llu, the last record ended at %llu",
                     static_cast<unsigned long long>(pos),
                     static_cast<unsigned long long>(expected_offset));
      switch (r) {
        case Parser::Result::kEnd:
          MSX_FUZZ_CHECK(pos == size, "kEnd at %llu of %zu", static_cast<unsigned long long>(pos),
                         size);
          break;
        case Parser::Result::kZeroFill:
          MSX_FUZZ_CHECK(pos < size, "kZeroFill with no bytes left");
          for (std::uint64_t i = pos; i < size; ++i) {
            MSX_FUZZ_CHECK(data[i] == 0, "kZeroFill but byte %llu is %d",
                           static_cast<unsigned long long>(i), data[i]);
          }
          break;
        case Parser::Result::kTorn:
          MSX_FUZZ_CHECK(pos < size, "kTorn with no bytes left");
          break;
        case Parser::Result::kCorrupt:
          MSX_FUZZ_CHECK(pos < size, "kCorrupt with no bytes left");
          MSX_FUZZ_CHECK(!error.empty(), "kCorrupt without a message");
          break;
        case Parser::Result::kRecord:
          break;
      }
      return 0;
    }
    MSX_FUZZ_CHECK(record.offset == expected_offset, "record at %llu, expected %llu",
                   static_cast<unsigned long long>(record.offset),
                   static_cast<unsigned long long>(expected_offset));
    const std::uint64_t end = record.offset + journal::kRecordHeaderSize + record.payload.size();
    MSX_FUZZ_CHECK(end <= size && record.payload.data() ==
                                      bytes.data() + record.offset + journal::kRecordHeaderSize,
                   "record payload is not inside the input where its header says");
    MSX_FUZZ_CHECK(parser.position() == end, "position %llu after a record ending at %llu",
                   static_cast<unsigned long long>(parser.position()),
                   static_cast<unsigned long long>(end));
    std::string framed;
    journal::AppendRecord(record.type, record.payload, &framed);
    MSX_FUZZ_CHECK(bytes.substr(record.offset, framed.size()) == framed,
                   "record at %llu is not what AppendRecord writes",
                   static_cast<unsigned long long>(record.offset));

    std::string again;
    if (record.type == journal::RecordType::kCommand) {
      msx::Command cmd;
      std::uint32_t n = 0;
      if (journal::DecodeCommandPayload(record.payload, &cmd, &n).ok()) {
        journal::EncodeCommandPayload(cmd, n, &again);
        MSX_FUZZ_CHECK(again == record.payload, "command at %llu does not re-encode",
                       static_cast<unsigned long long>(record.offset));
      }
    } else if (record.type == journal::RecordType::kEvent) {
      msx::Event event;
      std::uint32_t index = 0;
      if (journal::DecodeEventPayload(record.payload, &event, &index).ok()) {
        journal::EncodeEventPayload(event, index, &again);
        MSX_FUZZ_CHECK(again == record.payload, "event at %llu does not re-encode",
                       static_cast<unsigned long long>(record.offset));
      }
    }
    expected_offset = end;
  }
}
