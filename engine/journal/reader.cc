#include "engine/journal/reader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/file_util.h"
#include "engine/journal/snapshot.h"

namespace msx::journal {

using internal::SegmentParser;

namespace {

bool AllZero(absl::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// The end of the last non-zero byte in [from, data.size()), or `from` if there is none.
std::uint64_t NonZeroEnd(absl::string_view data, std::uint64_t from) {
  std::uint64_t end = data.size();
  // Word at a time: after a crash of a preallocating writer this scans megabytes of zeros.
  while (end >= from + 8) {
    std::uint64_t word;
    std::memcpy(&word, data.data() + end - 8, 8);
    if (word != 0) break;
    end -= 8;
  }
  while (end > from && data[end - 1] == 0) --end;
  return end;
}

// The payload length the COMMAND or EVENT record at `p` must have according to its own
// type bytes (the record type, and the command or event type inside the payload), or 0 if
// those bytes are not there or name no known type.
std::uint64_t ImpliedPayloadLength(absl::string_view data, std::uint64_t p) {
  if (p + kRecordHeaderSize > data.size()) return 0;
  const auto type = static_cast<std::uint8_t>(data[p + kRecordTypeOffset]);
  const std::uint64_t payload = p + kRecordHeaderSize;
  if (type == static_cast<std::uint8_t>(RecordType::kCommand)) {
    if (payload + kCommandPrefixSize > data.size()) return 0;
    return CommandPayloadSize(static_cast<CommandType>(data[payload + 16]));
  }
  if (type == static_cast<std::uint8_t>(RecordType::kEvent)) {
    if (payload + kEventPrefixSize > data.size()) return 0;
    return EventPayloadSize(static_cast<EventType>(data[payload + 20]));
  }
  return 0;
}

// Whether the bytes at `p` are a whole record with this payload length and a valid CRC.
bool ValidRecordAt(absl::string_view data, std::uint64_t p, std::uint64_t length) {
  if (length == 0 || p + kRecordHeaderSize + length > data.size()) return false;
  const char* r = data.data() + p;
  return crc32c::Unmask(GetFixed32(r + kRecordCrcOffset)) ==
         crc32c::Value(r + kRecordTypeOffset, 1 + length);
}

// The first offset in [from, to) where a whole COMMAND or EVENT record with a valid CRC
// and the length its type requires begins, or `to` if there is none. Every offset is
// tried, not just record boundaries: the failing record's length cannot be trusted.
std::uint64_t FindValidRecord(absl::string_view data, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t q = from; q < to && q + kRecordHeaderSize <= data.size(); ++q) {
    const std::uint64_t implied = ImpliedPayloadLength(data, q);
    if (implied == 0 || GetFixed32(data.data() + q + kRecordLengthOffset) != implied) continue;
    if (ValidRecordAt(data, q, implied)) return q;
  }
  return to;
}

// The record at `p` of the last segment failed its length or checksum check, or the file
// ends inside it (`cut_short`). Returns "" if that may be a write torn by a crash (a clean
// end, FORMAT.md "Torn tail"), else why it cannot be: then it is corruption.
std::string NotATear(absl::string_view data, std::uint64_t p, bool cut_short) {
  const std::uint64_t size = data.size();
  const bool have_header = p + kRecordHeaderSize <= size;
  const std::uint64_t claimed =
      have_header ? GetFixed32(data.data() + p + kRecordLengthOffset) : 0;
  // 1. The record is whole with the length its type implies: only its length is damaged
  //    (the CRC does not cover the length). A tear cannot write a valid CRC.
  const std::uint64_t implied = ImpliedPayloadLength(data, p);
  if (implied != 0 && implied != claimed && ValidRecordAt(data, p, implied)) {
    return absl::StrCat("the record is whole and valid with length ", implied,
                        ": its length field is damaged");
  }
  // 2. Data written after it: a tear ends the data, so any valid record after the failing
  //    point proves that the write continued past it (a record damaged on the disk).
  const std::uint64_t nonzero_end = NonZeroEnd(data, p);
  if (const std::uint64_t q = FindValidRecord(data, p + 1, nonzero_end); q < nonzero_end) {
    const bool command =
        static_cast<std::uint8_t>(data[q + kRecordTypeOffset]) ==
        static_cast<std::uint8_t>(RecordType::kCommand);
    return absl::StrCat("a valid ", command ? "COMMAND" : "EVENT", " record (seq ",
                        GetFixed64(data.data() + q + kRecordHeaderSize), ") follows at offset ",
                        q, ", so data was written after it");
  }
  // 3. More data after it than one unsynced write can hold (a lone record longer than
  //    that is written and synced on its own, so its own extent may be unsynced).
  std::uint64_t window = kMaxUnsyncedBytes;
  if (have_header && claimed <= kMaxPayload) {
    window = std::max<std::uint64_t>(window, kRecordHeaderSize + claimed);
  }
  if (nonzero_end - p > window) {
    return absl::StrCat(nonzero_end - p, " bytes of data follow from here, more than a writer ",
                        "leaves unsynced (", kMaxUnsyncedBytes, ")");
  }
  if (cut_short) return std::string();
  // 4. A complete record with a bad checksum at the very end of a file that was not
  //    preallocated there was not cut short.
  if (size - nonzero_end < kMinZeroTail) {
    return absl::StrCat("the file does not end in ", kMinZeroTail,
                        " zero bytes (preallocated space), so the record was not cut short");
  }
  // A header of nine zero bytes was never written (type 0 is never written); the
  // non-zero bytes after it, if any, are within the window and none of them is a record.
  if (AllZero(data.substr(p, kRecordHeaderSize))) return std::string();
  // 5. Non-zero bytes past its claimed extent: it was not the last thing written.
  std::uint64_t end = p + kRecordHeaderSize;
  if (claimed <= kMaxPayload && end + claimed <= size) end += claimed;
  if (nonzero_end > end) return absl::StrCat("non-zero bytes follow its end at offset ", end);
  // 6. A sector is written whole or not at all. A torn record has a sector after its
  //    first that is still all zero; if none is, every sector it spans was written.
  for (std::uint64_t t = (p / kSectorSize + 1) * kSectorSize; t < end; t += kSectorSize) {
    if (AllZero(data.substr(t, std::min(end, t + kSectorSize) - t))) return std::string();
  }
  if (p / kSectorSize == (end - 1) / kSectorSize) {
    return absl::StrCat("the record lies whole inside one ", kSectorSize,
                        "-byte sector, which a crash writes whole or not at all");
  }
  return absl::StrCat("none of the ", kSectorSize,
                      "-byte sectors it spans is unwritten (all zero), so it was written whole");
}

// "record cut short by the end of the file ..." for the record at `p`.
std::string CutShortMessage(absl::string_view data, std::uint64_t p) {
  if (p + kRecordHeaderSize > data.size()) {
    return absl::StrCat("record header cut short by the end of the file (", data.size() - p,
                        " of ", kRecordHeaderSize, " bytes)");
  }
  return absl::StrCat("record cut short by the end of the file (length ",
                      GetFixed32(data.data() + p + kRecordLengthOffset), ", ",
                      data.size() - p - kRecordHeaderSize, " payload bytes left)");
}

bool KnownRecordType(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(RecordType::kConfig) &&
         t <= static_cast<std::uint8_t>(RecordType::kEvent);
}

}  // namespace

// ---- SegmentParser ----

absl::Status SegmentParser::ReadHeader(Seq* first_seq) {
  if (bytes_.size() < kSegmentHeaderSize) {
    return absl::OutOfRangeError(absl::StrCat("segment header cut short (", bytes_.size(), " of ",
                                              kSegmentHeaderSize, " bytes)"));
  }
  const char* h = bytes_.data();
  if (std::memcmp(h, kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return absl::DataLossError("bad segment magic (not an MSX journal segment)");
  }
  std::uint32_t crc = crc32c::Unmask(GetFixed32(h + kSegmentHeaderCrcOffset));
  if (crc != crc32c::Value(h, kSegmentHeaderCrcOffset)) {
    return absl::DataLossError("segment header checksum mismatch");
  }
  std::uint16_t version = GetFixed16(h + kSegmentHeaderVersionOffset);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return absl::DataLossError(absl::StrCat("segment format version ", version,
                                            " is not supported (this reader knows ",
                                            kOldestFormatVersion, "..", kFormatVersion, ")"));
  }
  std::uint16_t size = GetFixed16(h + kSegmentHeaderSizeOffset);
  if (size != kSegmentHeaderSize || GetFixed32(h + 12) != 0 || GetFixed32(h + 24) != 0) {
    return absl::DataLossError("bad segment header size or reserved field");
  }
  *first_seq = GetFixed64(h + kSegmentHeaderFirstSeqOffset);
  version_ = version;
  pos_ = kSegmentHeaderSize;
  return absl::OkStatus();
}

SegmentParser::Result SegmentParser::Next(Record* record, std::string* error) {
  const std::uint64_t size = bytes_.size();
  unverified_ = false;
  if (pos_ >= size) return Result::kEnd;
  const std::uint64_t left = size - pos_;
  const char* p = bytes_.data() + pos_;
  if (left < kRecordHeaderSize) return Result::kTorn;  // header cut short
  std::uint32_t length = GetFixed32(p + kRecordLengthOffset);
  std::uint8_t type = static_cast<std::uint8_t>(p[kRecordTypeOffset]);
  if (length == 0 && type == 0 && GetFixed32(p) == 0 && AllZero(bytes_.substr(pos_))) {
    return Result::kZeroFill;  // space preallocated or extended, never written
  }
  if (length > kMaxPayload) {
    *error = absl::StrCat("record length ", length, " exceeds the maximum ", kMaxPayload);
    unverified_ = true;
    return Result::kCorrupt;
  }
  if (kRecordHeaderSize + length > left) return Result::kTorn;  // payload cut short
  std::uint32_t expected = crc32c::Unmask(GetFixed32(p + kRecordCrcOffset));
  std::uint32_t actual = crc32c::Value(p + kRecordTypeOffset, 1 + length);
  if (actual != expected) {
    *error = absl::StrCat("record checksum mismatch (length ", length, ", type ",
                          static_cast<int>(type), ")");
    unverified_ = true;
    return Result::kCorrupt;
  }
  if (!KnownRecordType(type)) {
    *error = absl::StrCat("unknown record type ", static_cast<int>(type));
    return Result::kCorrupt;
  }
  record->type = static_cast<RecordType>(type);
  record->offset = pos_;
  record->payload = absl::string_view(p + kRecordHeaderSize, length);
  pos_ += kRecordHeaderSize + length;
  return Result::kRecord;
}

// ---- ListSegments ----

absl::StatusOr<std::vector<SegmentInfo>> ListSegments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return internal::ErrnoError("opendir", dir);
  std::vector<SegmentInfo> out;
  while (struct dirent* e = ::readdir(d)) {
    Seq first;
    if (ParseSegmentFileName(e->d_name, &first)) {
      out.push_back(SegmentInfo{internal::JoinPath(dir, e->d_name), first});
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const SegmentInfo& a, const SegmentInfo& b) { return a.first_seq < b.first_seq; });
  return out;
}

// ---- JournalReader ----

class JournalReader::SegmentCursor {
 public:
  // Exactly one of `file` (a mapped segment) and `bytes` (a segment read into memory).
  SegmentCursor(std::string path, std::unique_ptr<internal::MappedFile> file, std::string bytes,
                bool last)
      : path(std::move(path)),
        file(std::move(file)),
        bytes(std::move(bytes)),
        data(this->file ? this->file->data() : absl::string_view(this->bytes)),
        parser(data),
        last(last) {}
  const std::string path;
  const std::unique_ptr<internal::MappedFile> file;
  const std::string bytes;
  const absl::string_view data;
  SegmentParser parser;
  const bool last;  // the last segment of the journal: a torn tail is a clean end
  Seq first_seq = 0;
  std::uint64_t records = 0;
};

absl::StatusOr<std::unique_ptr<JournalReader>> JournalReader::Open(const std::string& dir,
                                                                   ReaderOptions options) {
  absl::StatusOr<std::vector<SegmentInfo>> segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  return std::unique_ptr<JournalReader>(
      new JournalReader(dir, std::move(options), *std::move(segments)));
}

JournalReader::JournalReader(std::string dir, ReaderOptions options,
                             std::vector<SegmentInfo> segments)
    : dir_(std::move(dir)), options_(std::move(options)), segments_(std::move(segments)) {
  // Start at the last segment that can hold after_seq + 1; the ones before it end
  // before that (their successor starts at or below after_seq + 1).
  if (options_.after_seq > 0) {
    for (std::size_t i = 0; i < segments_.size(); ++i) {
      if (segments_[i].first_seq <= options_.after_seq + 1) next_segment_ = i;
    }
  }
  first_decoded_segment_ = next_segment_;
  if (options_.verify_skipped_segments) next_segment_ = 0;
}

JournalReader::~JournalReader() = default;

bool JournalReader::OpenNextSegment() {
  if (next_segment_ >= segments_.size()) {
    done_ = true;
    return false;
  }
  const std::size_t index = next_segment_++;
  const SegmentInfo& info = segments_[index];
  const bool last = index + 1 == segments_.size();
  // The last segment may be the one a live writer appends to and cuts (ftruncate of its
  // preallocated zeros, on rotation and Close): touching a mapped page past a cut raises
  // SIGBUS, so it is read into memory. A segment with a successor is complete and is
  // never cut again: it is mapped.
  std::unique_ptr<internal::MappedFile> mapped;
  std::string bytes;
  if (last) {
    absl::StatusOr<std::string> read = internal::ReadFile(info.path);
    if (!read.ok()) {
      status_ = read.status();
      done_ = true;
      return false;
    }
    bytes = *std::move(read);
  } else {
    absl::StatusOr<std::unique_ptr<internal::MappedFile>> file =
        internal::MappedFile::Open(info.path);
    if (!file.ok()) {
      status_ = file.status();
      done_ = true;
      return false;
    }
    mapped = *std::move(file);
  }
  ++stats_.segments;
  cursor_ = std::make_unique<SegmentCursor>(info.path, std::move(mapped), std::move(bytes), last);
  Seq first_seq = 0;
  absl::Status h = cursor_->parser.ReadHeader(&first_seq);
  if (absl::IsOutOfRange(h) && last) {
    if (expected_seq_ == 0) {  // the name still says where the journal ends
      expected_seq_ = info.first_seq;
      stats_.end_seq = info.first_seq - 1;
    }
    return HandleTornTail(info.path, 0, cursor_->data.size(), cursor_->data.size());
  }
  if (!h.ok()) return HandleCorruption(h, info.path, 0, 0);
  stats_.bytes += kSegmentHeaderSize;
  if (first_seq != info.first_seq) {
    return HandleCorruption(absl::DataLossError(absl::StrCat("segment header first_seq ", first_seq,
                                                             " does not match the file name")),
                            info.path, 0, 0);
  }
  if (expected_seq_ == 0) {
    if (options_.after_seq == 0 && first_seq != 1) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("the journal starts at seq ", first_seq,
                                           ": the segments before it are missing")),
          info.path, 0, 0);
    }
    expected_seq_ = first_seq;
    stats_.end_seq = first_seq - 1;
  } else if (first_seq != expected_seq_) {
    return HandleCorruption(
        absl::DataLossError(
            absl::StrCat(first_seq > expected_seq_ ? "sequence gap: segment starts at seq "
                                                   : "sequence overlap: segment starts at seq ",
                         first_seq, " but the previous segment ended at seq ", expected_seq_ - 1)),
        info.path, 0, 0);
  }
  cursor_->first_seq = first_seq;
  if (index < first_decoded_segment_) return VerifyFramingOnly();
  return true;
}

bool JournalReader::VerifyFramingOnly() {
  SegmentCursor& c = *cursor_;
  SegmentParser::Record rec;
  std::string error;
  std::uint64_t group_offset = 0;
  Seq group_seq = 0;
  std::uint32_t events_left = 0, event_index = 0;
  std::uint64_t records = 0, commands = 0, events = 0;
  for (;;) {
    const std::uint64_t p = c.parser.position();
    SegmentParser::Result r = c.parser.Next(&rec, &error);
    if (r == SegmentParser::Result::kEnd) break;
    // Not the last segment: nothing may be cut short, and a damaged group is cut whole.
    const std::uint64_t cut = events_left > 0 ? group_offset : p;
    if (r == SegmentParser::Result::kTorn || r == SegmentParser::Result::kZeroFill) {
      return HandleCorruption(
          absl::DataLossError("record cut short in a segment that is not the last"), c.path, p,
          cut);
    }
    if (r == SegmentParser::Result::kCorrupt) {
      return HandleCorruption(absl::DataLossError(error), c.path, p, cut);
    }
    const bool first = records++ == 0;
    if (first != (rec.type == RecordType::kConfig)) {
      return HandleCorruption(absl::DataLossError(first ? "segment does not start with a CONFIG "
                                                          "record"
                                                        : "CONFIG record after the start of the "
                                                          "segment"),
                              c.path, p, cut);
    }
    if (rec.type == RecordType::kConfig) {
      ++stats_.config_records;
      if (config_.empty() && stats_.config_records == 1) config_ = std::string(rec.payload);
      if (options_.on_config) options_.on_config(c.path, rec.offset, rec.payload);
      continue;
    }
    // The CRC vouches for the bytes; only the seq, count and index fields are read.
    const std::size_t prefix =
        rec.type == RecordType::kCommand ? kCommandPrefixSize : kEventPrefixSize;
    if (rec.payload.size() < prefix) {
      return HandleCorruption(absl::DataLossError(absl::StrCat("payload of ", rec.payload.size(),
                                                               " bytes is shorter than its "
                                                               "prefix")),
                              c.path, p, cut);
    }
    const Seq seq = GetFixed64(rec.payload.data());
    if (rec.type == RecordType::kCommand) {
      if (events_left > 0) {
        return HandleCorruption(
            absl::DataLossError(absl::StrCat("command seq ", group_seq, " has ", event_index,
                                             " of its ", event_index + events_left, " events")),
            c.path, p, group_offset);
      }
      if (seq != expected_seq_) {
        return HandleCorruption(
            absl::DataLossError(absl::StrCat(
                seq < expected_seq_ ? "duplicate command: seq " : "sequence gap: seq ", seq,
                ", expected ", expected_seq_)),
            c.path, p, p);
      }
      group_offset = p;
      group_seq = seq;
      events_left = GetFixed32(rec.payload.data() + 17);
      event_index = 0;
      ++commands;
      if (events_left == 0) ++expected_seq_;  // a group counts once it is complete
      continue;
    }
    const std::uint32_t index = GetFixed32(rec.payload.data() + 8);
    if (events_left == 0 || seq != group_seq || index != event_index) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("event (seq ", seq, ", index ", index,
                                           ") does not belong here (EVENT record without its "
                                           "COMMAND, or out of order)")),
          c.path, p, events_left > 0 ? group_offset : p);
    }
    --events_left;
    ++event_index;
    ++events;
    if (events_left == 0) ++expected_seq_;
  }
  if (records == 0 || events_left > 0) {
    return HandleCorruption(
        absl::DataLossError(records == 0 ? std::string("segment has no CONFIG record")
                                         : absl::StrCat("command seq ", group_seq, " has ",
                                                        event_index, " of its ",
                                                        event_index + events_left, " events")),
        c.path, c.parser.position(), records == 0 ? c.parser.position() : group_offset);
  }
  stats_.records += records;
  stats_.bytes += c.data.size() - kSegmentHeaderSize;
  stats_.commands += commands;
  stats_.events += events;
  if (commands > 0) {
    if (stats_.first_seq == 0) stats_.first_seq = expected_seq_ - commands;
    stats_.last_seq = expected_seq_ - 1;
  }
  stats_.end_seq = expected_seq_ - 1;
  cursor_.reset();
  return true;
}

absl::Status JournalReader::CheckNoSnapshotBeyond(Seq end, const std::string& path,
                                                  std::uint64_t offset) const {
  absl::StatusOr<std::vector<SnapshotInfo>> snapshots = ListSnapshots(dir_);
  if (!snapshots.ok()) return snapshots.status();
  if (snapshots->empty() || snapshots->front().seq <= end) return absl::OkStatus();
  const SnapshotInfo& newest = snapshots->front();  // newest first
  return absl::DataLossError(absl::StrCat(
      path, ":", offset, ": not cut: the journal would end at seq ", end, " but snapshot ",
      newest.path, " holds seq ", newest.seq,
      ", so commands up to it were durable and may have been acknowledged; cutting would "
      "reuse their sequence numbers. Restore the journal (a replica or backup), or move "
      "the snapshot out of the directory to accept losing them"));
}

absl::StatusOr<std::string> JournalReader::SaveCutBytes(const std::string& path,
                                                        std::uint64_t offset,
                                                        absl::string_view bytes) {
  const std::string to = internal::FreeFileName(absl::StrCat(path, kCutSuffix, offset), "");
  if (absl::Status s = internal::WriteFileDurably(to, bytes); !s.ok()) return s;
  if (absl::Status s = internal::SyncDir(dir_); !s.ok()) return s;
  return to;
}

bool JournalReader::HandleTornTail(const std::string& path, std::uint64_t valid_end,
                                   std::uint64_t zero_from, std::uint64_t size) {
  done_ = true;
  stats_.torn_file = path;
  stats_.torn_offset = valid_end;
  stats_.torn_bytes = zero_from - valid_end;
  stats_.zero_fill_bytes = size - zero_from;
  if (options_.truncate_torn_tail && size > valid_end) {
    absl::Status s;
    if (stats_.torn_bytes > 0) {
      // A snapshot past the end proves the tail was durable: not a tear but lost data.
      s = CheckNoSnapshotBeyond(stats_.end_seq, path, valid_end);
      if (s.ok()) {
        // The torn bytes are kept beside the segment, never destroyed.
        absl::StatusOr<std::string> kept = SaveCutBytes(
            path, valid_end, cursor_->data.substr(valid_end, zero_from - valid_end));
        if (kept.ok()) {
          stats_.cut_file = *kept;
        } else {
          s = kept.status();
        }
      }
    }
    if (!s.ok()) {
      // Not truncated: the error (lost data, or an I/O error) stands.
    } else if (valid_end < kSegmentHeaderSize) {
      // Not even the header made it: the file holds nothing; remove it.
      if (::unlink(path.c_str()) != 0) s = internal::ErrnoError("unlink", path);
      if (s.ok()) s = internal::SyncDir(dir_);
    } else {
      s = internal::TruncateFile(path, valid_end);
    }
    if (!s.ok()) {
      status_ = s;
      return false;
    }
    stats_.torn_truncated = true;
  }
  return false;
}

bool JournalReader::HandleCorruption(absl::Status status, const std::string& path,
                                     std::uint64_t offset, std::uint64_t group_offset) {
  done_ = true;
  stats_.error_file = path;
  stats_.error_offset = offset;
  absl::string_view msg = status.message();
  if (!options_.truncate_at_corruption) {
    status_ = absl::DataLossError(absl::StrCat(path, ":", offset, ": ", msg));
    return false;
  }
  // Operator override: keep what precedes the damaged group, set the rest aside.
  std::size_t from = next_segment_;  // segments after the current one
  // The kept journal ends with the last complete group read (expected_seq_ - 1), or, when
  // the first segment read is the damaged one, just before that segment (its name).
  const Seq first_of_damaged = segments_[next_segment_ - 1].first_seq;
  const Seq end = expected_seq_ != 0 ? expected_seq_ - 1
                                     : (first_of_damaged == 0 ? 0 : first_of_damaged - 1);
  // Never below a snapshot: new commands would reuse sequence numbers it has seen (and
  // that clients were told about), and it proves those commands were durable.
  if (absl::Status s = CheckNoSnapshotBeyond(end, path, offset); !s.ok()) {
    status_ = absl::IsDataLoss(s) ? absl::DataLossError(absl::StrCat(
                                        path, ":", offset, ": ", msg, "; ", s.message()))
                                  : s;
    return false;
  }
  stats_.end_seq = end;
  absl::Status s;
  if (group_offset < kSegmentHeaderSize) {
    from = next_segment_ - 1;  // the damaged segment itself goes too
  } else {
    // The cut bytes are kept beside the segment first, never destroyed.
    absl::StatusOr<std::string> kept =
        SaveCutBytes(path, group_offset, cursor_->data.substr(group_offset));
    if (kept.ok()) {
      stats_.cut_file = *kept;
      s = internal::TruncateFile(path, group_offset);
    } else {
      s = kept.status();
    }
  }
  for (std::size_t i = from; s.ok() && i < segments_.size(); ++i) {
    const std::string to = internal::FreeFileName(segments_[i].path, ".discarded");
    if (::rename(segments_[i].path.c_str(), to.c_str()) != 0) {
      s = internal::ErrnoError("rename", segments_[i].path);
    } else {
      stats_.discarded_segments.push_back(to);
    }
  }
  if (s.ok()) s = internal::SyncDir(dir_);
  if (!s.ok()) status_ = s;
  return false;
}

bool JournalReader::Next(JournalEntry* entry) {
  if (ReadGroup(entry)) return true;
  // A bounded range that the journal does not reach is an error, not a short answer: a
  // caller asking up to a seq it knows is durable must not silently get less.
  if (status_.ok() && options_.until_seq != std::numeric_limits<Seq>::max() &&
      stats_.last_seq < options_.until_seq && stats_.error_file.empty()) {
    status_ = absl::OutOfRangeError(absl::StrCat("the journal in ", dir_, " ends at seq ",
                                                 stats_.last_seq, ", before until_seq ",
                                                 options_.until_seq));
  }
  return false;
}

bool JournalReader::ReadGroup(JournalEntry* entry) {
  SegmentParser::Record rec;
  std::string error;
  while (!done_) {
    if (!cursor_) {
      if (!OpenNextSegment()) return false;
      if (!cursor_) continue;  // only verified (verify_skipped_segments)
    }
    SegmentCursor& c = *cursor_;
    SegmentParser::Result r = c.parser.Next(&rec, &error);
    if (r == SegmentParser::Result::kEnd) {
      if (c.records == 0) {
        // A header without its CONFIG record: the writer died right after the header.
        if (c.last) {
          return HandleTornTail(c.path, c.parser.position(), c.data.size(), c.data.size());
        }
        return HandleCorruption(absl::DataLossError("segment has no CONFIG record"), c.path,
                                c.parser.position(), c.parser.position());
      }
      cursor_.reset();
      continue;
    }
    if (r == SegmentParser::Result::kZeroFill && c.last) {
      const std::uint64_t p = c.parser.position();
      return HandleTornTail(c.path, p, p, c.data.size());
    }
    if (r == SegmentParser::Result::kTorn || r == SegmentParser::Result::kZeroFill) {
      const std::uint64_t p = c.parser.position();
      std::string why = c.last ? NotATear(c.data, p, /*cut_short=*/true)
                               : std::string("the segment is not the last");
      if (why.empty()) return HandleTornTail(c.path, p, c.data.size(), c.data.size());
      return HandleCorruption(absl::DataLossError(absl::StrCat(CutShortMessage(c.data, p), ": ", why)),
                              c.path, p, p);
    }
    if (r == SegmentParser::Result::kCorrupt) {
      const std::uint64_t p = c.parser.position();
      if (c.last && c.parser.unverified()) {
        std::string why = NotATear(c.data, p, /*cut_short=*/false);
        if (why.empty()) return HandleTornTail(c.path, p, NonZeroEnd(c.data, p), c.data.size());
        absl::StrAppend(&error, ": ", why);
      }
      return HandleCorruption(absl::DataLossError(error), c.path, p, p);
    }
    const bool first_record = c.records++ == 0;
    if (rec.type == RecordType::kConfig) {
      if (!first_record) {
        return HandleCorruption(absl::DataLossError("CONFIG record after the start of the segment"),
                                c.path, rec.offset, rec.offset);
      }
      ++stats_.records;
      stats_.bytes += kRecordHeaderSize + rec.payload.size();
      ++stats_.config_records;
      if (config_.empty() && stats_.config_records == 1) config_ = std::string(rec.payload);
      if (options_.on_config) options_.on_config(c.path, rec.offset, rec.payload);
      continue;
    }
    if (first_record) {
      return HandleCorruption(absl::DataLossError("segment does not start with a CONFIG record"),
                              c.path, rec.offset, rec.offset);
    }
    if (rec.type == RecordType::kEvent) {
      return HandleCorruption(
          absl::DataLossError("EVENT record without its COMMAND (duplicate or stray record)"),
          c.path, rec.offset, rec.offset);
    }
    // A COMMAND record: decode it and its group. Its records and bytes count once the
    // group is complete: a torn or cut group is not part of the journal.
    const std::uint64_t group_offset = rec.offset;
    std::uint64_t group_bytes = kRecordHeaderSize + rec.payload.size();
    std::uint32_t event_count = 0;
    Command& cmd = entry->command;
    if (absl::Status s = DecodeCommandPayload(rec.payload, &cmd, &event_count); !s.ok()) {
      return HandleCorruption(s, c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kTimeSwapsFormatVersion && IsTimeSwapCommand(cmd.type)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("time-swap command type ",
                                           static_cast<int>(cmd.type), " in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kEmergencyFormatVersion && IsEmergencyCommand(cmd.type)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("emergency command type ",
                                           static_cast<int>(cmd.type), " in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kAuctionFormatVersion && IsAuctionCommand(cmd.type)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("allocation-auction command type ",
                                           static_cast<int>(cmd.type), " in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kTermOrdersFormatVersion && IsTermOrderCommand(cmd)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("term-book order command type ",
                                           static_cast<int>(cmd.type),
                                           " (replace, FOK or minimum fill) in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kDeliveryFormatVersion && IsDeliveryCommand(cmd.type)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("delivery command type ",
                                           static_cast<int>(cmd.type), " in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (c.parser.version() < kLiveTermsFormatVersion && IsLiveTermsCommand(cmd.type)) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat("FollowLiveReference command type ",
                                           static_cast<int>(cmd.type), " in a version ",
                                           c.parser.version(), " segment")),
          c.path, rec.offset, group_offset);
    }
    if (cmd.seq != expected_seq_) {
      return HandleCorruption(
          absl::DataLossError(absl::StrCat(
              cmd.seq < expected_seq_ ? "duplicate command: seq " : "sequence gap: seq ", cmd.seq,
              ", expected ", expected_seq_)),
          c.path, rec.offset, group_offset);
    }
    entry->events.resize(event_count);
    entry->event_offsets.resize(event_count);
    for (std::uint32_t i = 0; i < event_count; ++i) {
      SegmentParser::Record erec;
      SegmentParser::Result er = c.parser.Next(&erec, &error);
      if (er == SegmentParser::Result::kRecord && erec.type == RecordType::kEvent) {
        group_bytes += kRecordHeaderSize + erec.payload.size();
        ++c.records;
        Event& ev = entry->events[i];
        std::uint32_t index = 0;
        if (absl::Status s = DecodeEventPayload(erec.payload, &ev, &index); !s.ok()) {
          return HandleCorruption(s, c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kTimeSwapsFormatVersion && IsTimeSwapEvent(ev.type)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("time-swap event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kEmergencyFormatVersion && IsEmergencyEvent(ev)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("emergency event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kCollateralFormatVersion && IsCollateralEvent(ev)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("collateral event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kAuctionFormatVersion && IsAuctionEvent(ev.type)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("allocation-auction event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kTermOrdersFormatVersion && IsTermOrderEvent(ev.type)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("term-book order event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (c.parser.version() < kDeliveryFormatVersion && IsDeliveryEvent(ev.type)) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("delivery event type ",
                                               static_cast<int>(ev.type), " in a version ",
                                               c.parser.version(), " segment")),
              c.path, erec.offset, group_offset);
        }
        if (ev.type == EventType::kBookLevel) {
          return HandleCorruption(absl::DataLossError("BookLevel event in a version 1 journal"),
                                  c.path, erec.offset, group_offset);
        }
        if (ev.seq != cmd.seq || index != i || ev.time != cmd.time) {
          return HandleCorruption(
              absl::DataLossError(absl::StrCat("event (seq ", ev.seq, ", index ", index,
                                               ") does not belong at index ", i, " of command seq ",
                                               cmd.seq)),
              c.path, erec.offset, group_offset);
        }
        entry->event_offsets[i] = erec.offset;
        continue;
      }
      if (er == SegmentParser::Result::kEnd || er == SegmentParser::Result::kTorn ||
          er == SegmentParser::Result::kZeroFill) {
        // The group is cut short by the end of the file (or by the zeros that follow it).
        const std::uint64_t p = c.parser.position();
        std::string why;
        if (!c.last) {
          why = "the segment is not the last";
        } else if (er == SegmentParser::Result::kTorn) {
          why = NotATear(c.data, p, /*cut_short=*/true);
        }
        if (why.empty()) {
          return HandleTornTail(c.path, group_offset,
                                er == SegmentParser::Result::kZeroFill ? p : c.data.size(),
                                c.data.size());
        }
        return HandleCorruption(
            absl::DataLossError(absl::StrCat("command seq ", cmd.seq, " has ", i, " of its ",
                                             event_count, " events; ",
                                             er == SegmentParser::Result::kTorn
                                                 ? CutShortMessage(c.data, p)
                                                 : std::string("the file ends there"),
                                             ": ", why)),
            c.path, p, group_offset);
      }
      if (er == SegmentParser::Result::kCorrupt) {
        const std::uint64_t p = c.parser.position();
        if (c.last && c.parser.unverified()) {
          std::string why = NotATear(c.data, p, /*cut_short=*/false);
          if (why.empty()) {
            return HandleTornTail(c.path, group_offset, NonZeroEnd(c.data, p), c.data.size());
          }
          absl::StrAppend(&error, ": ", why);
        }
        return HandleCorruption(absl::DataLossError(error), c.path, p, group_offset);
      }
      return HandleCorruption(absl::DataLossError(absl::StrCat("command seq ", cmd.seq, " has ", i,
                                                               " of its ", event_count, " events")),
                              c.path, erec.offset, group_offset);
    }
    ++expected_seq_;
    stats_.records += 1 + event_count;
    stats_.bytes += group_bytes;
    stats_.end_seq = cmd.seq;
    ++stats_.commands;
    stats_.events += event_count;
    if (stats_.first_seq == 0) stats_.first_seq = cmd.seq;
    stats_.last_seq = cmd.seq;
    stats_.last_time = cmd.time;
    for (const Event& ev : entry->events) stats_.fills += ev.type == EventType::kFill;
    if (cmd.seq <= options_.after_seq) continue;
    if (cmd.seq > options_.until_seq) {
      done_ = true;
      return false;
    }
    entry->file = c.path;
    entry->offset = group_offset;
    return true;
  }
  return false;
}

absl::StatusOr<ReadStats> VerifyJournal(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, {});
  if (!reader.ok()) return reader.status();
  JournalEntry entry;
  while ((*reader)->Next(&entry)) {
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  return (*reader)->stats();
}

absl::StatusOr<std::optional<std::string>> ReadJournalConfig(const std::string& dir) {
  absl::StatusOr<std::vector<SegmentInfo>> segments = ListSegments(dir);
  if (!segments.ok()) {
    if (absl::IsNotFound(segments.status())) return std::optional<std::string>();
    return segments.status();
  }
  if (segments->empty()) return std::optional<std::string>();
  const std::string& path = segments->front().path;
  absl::StatusOr<std::string> bytes = internal::ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  SegmentParser parser(*bytes);
  Seq first_seq = 0;
  absl::Status h = parser.ReadHeader(&first_seq);
  const bool only = segments->size() == 1;
  if (absl::IsOutOfRange(h) && only) return std::optional<std::string>();
  if (!h.ok()) return absl::DataLossError(absl::StrCat(path, ":0: ", h.message()));
  SegmentParser::Record rec;
  std::string error;
  SegmentParser::Result r = parser.Next(&rec, &error);
  if ((r == SegmentParser::Result::kEnd || r == SegmentParser::Result::kTorn ||
       r == SegmentParser::Result::kZeroFill) &&
      only) {
    return std::optional<std::string>();  // a torn first segment: nothing was journaled
  }
  if (r != SegmentParser::Result::kRecord || rec.type != RecordType::kConfig) {
    return absl::DataLossError(absl::StrCat(
        path, ":", parser.position(), ": ",
        r == SegmentParser::Result::kCorrupt ? error : "segment does not start with CONFIG"));
  }
  return std::optional<std::string>(std::string(rec.payload));
}

}  // namespace msx::journal
