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

// The record at `p` of the last segment failed its length or checksum check (so p + 9 <=
// data.size()). Returns whether it is a write torn by a crash into pre-zeroed space (a
// clean end, FORMAT.md "Clean end") rather than corruption: the file must end in at least
// kMinZeroTail zero bytes (else it was not preallocated there: the old rule, corruption),
// and either the record is followed by nothing but zeros (its claimed extent when its
// length is plausible, else its header), or its header is nine zero bytes (never written)
// and the non-zero bytes after it end within kMaxTornSpanAfterHole.
bool TornIntoZeros(absl::string_view data, std::uint64_t p) {
  const std::uint64_t size = data.size();
  const std::uint64_t nonzero_end = NonZeroEnd(data, p);
  if (size - nonzero_end < kMinZeroTail) return false;
  if (AllZero(data.substr(p, kRecordHeaderSize))) {
    return nonzero_end - p <= kMaxTornSpanAfterHole;
  }
  const std::uint64_t length = GetFixed32(data.data() + p + kRecordLengthOffset);
  std::uint64_t end = p + kRecordHeaderSize;
  if (length <= kMaxPayload && end + length <= size) end += length;
  return nonzero_end <= end;
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
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("segment format version ", version,
                                            " is not supported (this reader knows ", kFormatVersion,
                                            ")"));
  }
  std::uint16_t size = GetFixed16(h + kSegmentHeaderSizeOffset);
  if (size != kSegmentHeaderSize || GetFixed32(h + 12) != 0 || GetFixed32(h + 24) != 0) {
    return absl::DataLossError("bad segment header size or reserved field");
  }
  *first_seq = GetFixed64(h + kSegmentHeaderFirstSeqOffset);
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
  SegmentCursor(std::string path, std::unique_ptr<internal::MappedFile> file, bool last)
      : path(std::move(path)),
        file(std::move(file)),
        data(this->file->data()),
        parser(data),
        last(last) {}
  const std::string path;
  const std::unique_ptr<internal::MappedFile> file;
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
}

JournalReader::~JournalReader() = default;

bool JournalReader::OpenNextSegment() {
  if (next_segment_ >= segments_.size()) {
    done_ = true;
    return false;
  }
  const std::size_t index = next_segment_++;
  const SegmentInfo& info = segments_[index];
  absl::StatusOr<std::unique_ptr<internal::MappedFile>> file =
      internal::MappedFile::Open(info.path);
  if (!file.ok()) {
    status_ = file.status();
    done_ = true;
    return false;
  }
  ++stats_.segments;
  const bool last = index + 1 == segments_.size();
  cursor_ = std::make_unique<SegmentCursor>(info.path, *std::move(file), last);
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
  return true;
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
    if (valid_end < kSegmentHeaderSize) {
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
  absl::Status s;
  if (group_offset < kSegmentHeaderSize) {
    from = next_segment_ - 1;  // the damaged segment itself goes too
  } else {
    s = internal::TruncateFile(path, group_offset);
  }
  // The kept journal ends with the last complete group read (expected_seq_ - 1), or, when
  // the first segment read is the damaged one, just before that segment (its name).
  const Seq first_of_damaged = segments_[next_segment_ - 1].first_seq;
  const Seq end = expected_seq_ != 0 ? expected_seq_ - 1
                                     : (first_of_damaged == 0 ? 0 : first_of_damaged - 1);
  stats_.end_seq = end;
  for (std::size_t i = from; s.ok() && i < segments_.size(); ++i) {
    std::string to = segments_[i].path + ".discarded";
    if (::rename(segments_[i].path.c_str(), to.c_str()) != 0) {
      s = internal::ErrnoError("rename", segments_[i].path);
    } else {
      stats_.discarded_segments.push_back(to);
    }
  }
  // Snapshots of the discarded history go with it: once new commands reuse those seqs, a
  // snapshot after `end` would describe another history and load without complaint.
  if (s.ok()) {
    absl::StatusOr<std::vector<SnapshotInfo>> snapshots = ListSnapshots(dir_);
    if (!snapshots.ok()) s = snapshots.status();
    for (std::size_t i = 0; s.ok() && i < snapshots->size(); ++i) {
      const SnapshotInfo& snap = (*snapshots)[i];
      if (snap.seq <= end) continue;
      std::string to = snap.path + ".discarded";
      if (::rename(snap.path.c_str(), to.c_str()) != 0) {
        s = internal::ErrnoError("rename", snap.path);
      } else {
        stats_.discarded_snapshots.push_back(to);
      }
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
    if (!cursor_ && !OpenNextSegment()) return false;
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
    if (r == SegmentParser::Result::kTorn || r == SegmentParser::Result::kZeroFill) {
      if (c.last) {
        const std::uint64_t p = c.parser.position();
        return HandleTornTail(c.path, p, r == SegmentParser::Result::kZeroFill ? p : c.data.size(),
                              c.data.size());
      }
      return HandleCorruption(
          absl::DataLossError("record cut short in a segment that is not the last"), c.path,
          c.parser.position(), c.parser.position());
    }
    if (r == SegmentParser::Result::kCorrupt) {
      if (c.last && c.parser.unverified() && TornIntoZeros(c.data, c.parser.position())) {
        const std::uint64_t p = c.parser.position();
        return HandleTornTail(c.path, p, NonZeroEnd(c.data, p), c.data.size());
      }
      return HandleCorruption(absl::DataLossError(error), c.path, c.parser.position(),
                              c.parser.position());
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
        if (c.last) {
          return HandleTornTail(
              c.path, group_offset,
              er == SegmentParser::Result::kZeroFill ? c.parser.position() : c.data.size(),
              c.data.size());
        }
        return HandleCorruption(
            absl::DataLossError(absl::StrCat("command seq ", cmd.seq, " has ", i, " of its ",
                                             event_count, " events")),
            c.path, c.parser.position(), group_offset);
      }
      if (er == SegmentParser::Result::kCorrupt) {
        if (c.last && c.parser.unverified() && TornIntoZeros(c.data, c.parser.position())) {
          return HandleTornTail(c.path, group_offset, NonZeroEnd(c.data, c.parser.position()),
                                c.data.size());
        }
        return HandleCorruption(absl::DataLossError(error), c.path, c.parser.position(),
                                group_offset);
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
