// Reading the journal: every record of every segment is verified (header, CRC, length,
// type, payload layout, the gapless sequence chain and the command/event grouping) as it
// is read; see FORMAT.md "Reading rules".
//
// Outcomes at the end of the journal:
//   * clean end: Next() returns false and status() is OK. A torn tail of the last segment
//     (a record or group cut short, zero fill, or a write torn inside pre-zeroed space; see
//     FORMAT.md "Torn tail") is a clean end: stats().torn_bytes says how many bytes of
//     cut-short or torn data follow the last complete group, stats().zero_fill_bytes how
//     many zero bytes follow those (the writer's preallocated space, never data), and with
//     truncate_torn_tail both are removed (ftruncate + fsync) after the torn bytes are
//     copied to "<segment>.cut-<offset>" (stats().cut_file).
//   * corruption: Next() returns false and status() is DataLossError whose message starts
//     with "<path>:<offset>: " (offset of the damaged record or header in that file);
//     stats().error_file / error_offset hold the same. With truncate_at_corruption (an
//     operator's explicit choice) the bytes from the start of the damaged group are copied
//     to "<segment>.cut-<offset>" (stats().cut_file), the segment is cut there, later
//     segments are renamed *.discarded, and the read ends cleanly instead
//     (stats().end_seq is where the journal now ends).
//   * Neither truncation ever ends the journal before a snapshot's seq: that would lose
//     commands the snapshot proves durable and reuse their sequence numbers. The read
//     then fails with DataLossError naming the offset and the snapshot, and nothing is
//     changed.
//
// Thread-safety: a JournalReader is used by one thread at a time. Any number of readers
// may read a directory while one JournalWriter appends to it (segments with a successor
// are memory-mapped; the last one, which the writer may cut, is read with read(2), so a
// cut never raises SIGBUS in a reader), provided they do not ask
// for truncation; the tail the writer is still writing then reads as a torn tail, so a
// reader of a live journal should stop at the writer's durable_seq() (until_seq).
#ifndef MSX_ENGINE_JOURNAL_READER_H_
#define MSX_ENGINE_JOURNAL_READER_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/journal_format.h"
#include "engine/matching/types.h"

namespace msx::journal {

struct SegmentInfo {
  std::string path;
  Seq first_seq = 0;  // from the file name
};

// The segment files of `dir` in sequence order. NotFound if `dir` does not exist; an
// empty vector for a directory without segments.
absl::StatusOr<std::vector<SegmentInfo>> ListSegments(const std::string& dir);

struct ReaderOptions {
  // Deliver only commands with after_seq < seq <= until_seq. Segments that end before
  // after_seq + 1 are not read at all; the rest are read and verified in full. If
  // until_seq is set and the journal ends before it, the read fails with OutOfRangeError.
  Seq after_seq = 0;
  Seq until_seq = std::numeric_limits<Seq>::max();
  // Also verify the segments wholly before after_seq + 1 (which are otherwise not read):
  // their framing, CRCs, the sequence chain and the grouping, without decoding payloads.
  // Recovery sets it, so that damage in an old segment stops the start, not a client's
  // resume much later. Costs a CRC pass over every segment (GB/s). Their records,
  // commands and events count in ReadStats; their fills and times do not (not decoded).
  bool verify_skipped_segments = false;
  // Remove a torn tail of the last segment (recovery does; verify and dump do not).
  bool truncate_torn_tail = false;
  // Operator override: on corruption, truncate there and end cleanly (see above).
  bool truncate_at_corruption = false;
  // Called for every CONFIG record read (file path, offset of the record, its payload).
  std::function<void(const std::string& path, std::uint64_t offset, absl::string_view config)>
      on_config;
};

struct ReadStats {
  std::uint64_t segments = 0;  // segment files opened
  // Bytes and records read, verified and kept: segment headers, CONFIG records and
  // complete command groups (not a torn tail or a group cut by a corruption), so for a
  // single segment `bytes` equals torn_offset when there is a torn tail.
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;  // CONFIG + COMMAND + EVENT
  std::uint64_t config_records = 0;
  std::uint64_t commands = 0;  // command groups read (including skipped <= after_seq)
  std::uint64_t events = 0;
  Seq first_seq = 0;  // first command read (0 = none)
  Seq last_seq = 0;   // last complete command read (0 = none)
  // The seq the journal ends at: the last complete command of the segments read, even
  // when every command was skipped or the segments read hold none (a segment named N + 1
  // ends the journal at N). 0 when nothing was read.
  Seq end_seq = 0;
  TimeNs last_time = 0;
  std::uint64_t fills = 0;
  // Tail of the last segment after the last complete group (torn_file is set whenever
  // there is one): [torn_offset, torn_offset + torn_bytes) are bytes of a write cut short
  // or torn by a crash (a group that was never acknowledged), the zero_fill_bytes after
  // them are zero bytes up to the end of the file (space the writer preallocated, or the
  // file system extended, and no data was written to). A clean restart after a crash of
  // a preallocating writer typically has torn_bytes 0 and megabytes of zero fill.
  std::string torn_file;
  std::uint64_t torn_offset = 0;  // where the valid data ends
  std::uint64_t torn_bytes = 0;
  std::uint64_t zero_fill_bytes = 0;
  bool torn_truncated = false;  // the tail (torn bytes and zero fill) was removed
  // Corruption (also set when truncate_at_corruption handled it).
  std::string error_file;
  std::uint64_t error_offset = 0;
  std::vector<std::string> discarded_segments;  // renamed by truncate_at_corruption
  // Where a truncation (torn tail or corruption) kept the bytes it cut from the segment:
  // "<segment>.cut-<offset>" ("" if nothing but zero fill was cut).
  std::string cut_file;
};

// One command group as journaled.
struct JournalEntry {
  Command command{};
  std::vector<Event> events;                 // journaled events, in order (no kBookLevel)
  std::string file;                          // segment path
  std::uint64_t offset = 0;                  // offset of the COMMAND record in `file`
  std::vector<std::uint64_t> event_offsets;  // offset of each EVENT record
};

class JournalReader {
 public:
  // Lists the segments of `dir`. NotFound if the directory does not exist. Reading starts
  // lazily at the first Next().
  static absl::StatusOr<std::unique_ptr<JournalReader>> Open(const std::string& dir,
                                                             ReaderOptions options);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Reads the next verified command group with after_seq < seq <= until_seq into *entry
  // (all fields overwritten) and returns true; false at the end or on error (status()).
  bool Next(JournalEntry* entry);

  // OK, or the first error (DataLossError for corruption, "<path>:<offset>: ...").
  const absl::Status& status() const { return status_; }
  const ReadStats& stats() const { return stats_; }
  // The CONFIG payload of the first segment read ("" before it is read).
  const std::string& config() const { return config_; }

 private:
  class SegmentCursor;
  JournalReader(std::string dir, ReaderOptions options, std::vector<SegmentInfo> segments);
  bool ReadGroup(JournalEntry* entry);
  // Opens the next segment into cursor_. Returns false at the end or on error; true with
  // cursor_ null when the segment was only verified (verify_skipped_segments).
  bool OpenNextSegment();
  // Verifies the framing of cursor_'s whole segment (not the last; see
  // verify_skipped_segments), advances the sequence chain past it and closes it.
  bool VerifyFramingOnly();
  bool HandleCorruption(absl::Status status, const std::string& path, std::uint64_t offset,
                        std::uint64_t group_offset);
  // The last segment ends cleanly at valid_end; [zero_from, size) are zero bytes.
  bool HandleTornTail(const std::string& path, std::uint64_t valid_end, std::uint64_t zero_from,
                      std::uint64_t size);
  // DataLossError naming `path`:`offset` and the newest snapshot if a snapshot holds a
  // seq beyond `end` (a cut to `end` would lose durable commands and reuse their seqs).
  absl::Status CheckNoSnapshotBeyond(Seq end, const std::string& path,
                                     std::uint64_t offset) const;
  // Writes `bytes` durably to "<path>.cut-<offset>" (a free variant of that name) and
  // returns its path.
  absl::StatusOr<std::string> SaveCutBytes(const std::string& path, std::uint64_t offset,
                                           absl::string_view bytes);

  const std::string dir_;
  const ReaderOptions options_;
  std::vector<SegmentInfo> segments_;
  std::size_t next_segment_ = 0;
  std::size_t first_decoded_segment_ = 0;  // segments before it are only verified
  std::unique_ptr<SegmentCursor> cursor_;
  Seq expected_seq_ = 0;  // next command seq; 0 = not yet known
  bool done_ = false;
  absl::Status status_;
  ReadStats stats_;
  std::string config_;
};

// Reads and verifies the whole journal without modifying it. Returns its statistics, or
// the first corruption (DataLossError naming file and offset).
absl::StatusOr<ReadStats> VerifyJournal(const std::string& dir);

// The CONFIG payload of the first segment of `dir`; nullopt-like empty optional when the
// journal has no segment yet. DataLossError if that segment's header or first record is
// damaged.
absl::StatusOr<std::optional<std::string>> ReadJournalConfig(const std::string& dir);

namespace internal {

// Verifies the framing of one segment held in memory: the building block of the reader,
// exposed for tests (like LevelDB's log::Reader over a string). Knows nothing of the
// sequence chain across segments or of groups.
class SegmentParser {
 public:
  enum class Result {
    kRecord,   // *record filled
    kEnd,      // no bytes left
    kTorn,      // the remaining bytes are a cut-short record
    kZeroFill,  // the remaining bytes are all zero (at least one)
    kCorrupt,   // *error set; position() is where. unverified() tells why.
  };
  struct Record {
    RecordType type;
    std::uint64_t offset;       // of the record header
    absl::string_view payload;  // points into the parsed bytes
  };

  // REQUIRES: `bytes` outlives the parser.
  explicit SegmentParser(absl::string_view bytes) : bytes_(bytes) {}

  // Verifies the segment header (the error is at offset 0): DataLossError if it is bad,
  // OutOfRangeError if the input is shorter than a header (a torn tail when last).
  absl::Status ReadHeader(Seq* first_seq);
  Result Next(Record* record, std::string* error);
  std::uint64_t position() const { return pos_; }
  // The format version in the header (after a successful ReadHeader).
  std::uint16_t version() const { return version_; }
  // After kCorrupt: true if the record's length or checksum did not verify (its bytes may
  // be a write torn by a crash rather than a record written whole), false if a record
  // that verified carries an unknown type (it was written whole: never torn).
  bool unverified() const { return unverified_; }

 private:
  absl::string_view bytes_;
  std::uint64_t pos_ = 0;
  std::uint16_t version_ = 0;
  bool unverified_ = false;
};

}  // namespace internal

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_READER_H_
