#include "gateway/replication/replicated_batch.h"

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"

namespace msx::replication {

namespace jf = msx::journal;

namespace {

absl::Status Bad(size_t offset, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("replicated batch, offset ", offset, ": ", what));
}

}  // namespace

absl::StatusOr<ReplicatedBatch> VerifyReplicatedBatch(absl::string_view payload,
                                                      uint64_t expected_first_seq) {
  if (payload.empty()) return Bad(0, "empty payload (no command group)");
  ReplicatedBatch batch;
  uint64_t next_seq = expected_first_seq;
  // Within a group: the command's seq and how many of its events are still to come.
  uint64_t group_seq = 0;
  uint32_t events_left = 0;
  uint32_t next_index = 0;
  size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < jf::kRecordHeaderSize) {
      return Bad(pos,
                 absl::StrCat("truncated record header (", payload.size() - pos, " bytes left)"));
    }
    const char* p = payload.data() + pos;
    const uint32_t masked_crc = jf::GetFixed32(p + jf::kRecordCrcOffset);
    const uint32_t length = jf::GetFixed32(p + jf::kRecordLengthOffset);
    const uint8_t type = static_cast<uint8_t>(p[jf::kRecordTypeOffset]);
    if (length > jf::kMaxPayload || length > payload.size() - pos - jf::kRecordHeaderSize) {
      return Bad(pos, absl::StrCat("record length ", length, " exceeds the payload (",
                                   payload.size() - pos - jf::kRecordHeaderSize, " bytes left)"));
    }
    // The CRC covers the type byte and the payload.
    const uint32_t crc = msx::crc32c::Value(p + jf::kRecordTypeOffset, 1 + length);
    if (msx::crc32c::Unmask(masked_crc) != crc) return Bad(pos, "record CRC mismatch");
    const char* body = p + jf::kRecordHeaderSize;
    if (type == static_cast<uint8_t>(jf::RecordType::kCommand)) {
      if (events_left != 0) {
        return Bad(pos, absl::StrCat("command record while ", events_left, " event(s) of command ",
                                     group_seq, " are missing"));
      }
      if (length < jf::kCommandPrefixSize) return Bad(pos, "command record too short");
      group_seq = jf::GetFixed64(body);
      if (group_seq != next_seq) {
        return Bad(pos, absl::StrCat("command seq ", group_seq, ", expected ", next_seq));
      }
      events_left = jf::GetFixed32(body + 8 + 8 + 1);
      next_index = 0;
      if (batch.commands == 0) batch.first_seq = group_seq;
      batch.last_seq = group_seq;
      ++batch.commands;
      ++next_seq;
    } else if (type == static_cast<uint8_t>(jf::RecordType::kEvent)) {
      if (events_left == 0) {
        return Bad(pos, batch.commands == 0 ? "event record before any command"
                                            : absl::StrCat("more event records than command ",
                                                           group_seq, " announced"));
      }
      if (length < jf::kEventPrefixSize) return Bad(pos, "event record too short");
      const uint64_t seq = jf::GetFixed64(body);
      const uint32_t index = jf::GetFixed32(body + 8);
      if (seq != group_seq || index != next_index) {
        return Bad(pos, absl::StrCat("event (seq ", seq, ", index ", index, "), expected (seq ",
                                     group_seq, ", index ", next_index, ")"));
      }
      --events_left;
      ++next_index;
    } else {
      return Bad(pos, absl::StrCat("record type ", static_cast<int>(type),
                                   " (only COMMAND and EVENT records are replicated)"));
    }
    ++batch.records;
    pos += jf::kRecordHeaderSize + length;
  }
  if (events_left != 0) {
    return Bad(pos, absl::StrCat("payload ends with ", events_left, " event(s) of command ",
                                 group_seq, " missing"));
  }
  return batch;
}

}  // namespace msx::replication
