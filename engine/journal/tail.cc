#include "engine/journal/tail.h"

#include <stdio.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/file_util.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/reader.h"
#include "engine/journal/snapshot.h"

namespace msx::journal {

namespace {

// Memory maps of the segments read, by path (a group never spans segments).
class Segments {
 public:
  absl::StatusOr<absl::string_view> Data(const std::string& path) {
    auto it = files_.find(path);
    if (it == files_.end()) {
      absl::StatusOr<std::unique_ptr<internal::MappedFile>> f = internal::MappedFile::Open(path);
      if (!f.ok()) return f.status();
      it = files_.emplace(path, *std::move(f)).first;
    }
    return it->second->data();
  }

 private:
  std::map<std::string, std::unique_ptr<internal::MappedFile>> files_;
};

// [entry.offset, end of its last record) in `data` (the reader has verified the framing).
std::uint64_t GroupEnd(const JournalEntry& entry, absl::string_view data) {
  const std::uint64_t last = entry.event_offsets.empty() ? entry.offset : entry.event_offsets.back();
  return last + kRecordHeaderSize + GetFixed32(data.data() + last + kRecordLengthOffset);
}

}  // namespace

absl::StatusOr<std::vector<RawGroup>> ReadRawGroups(const std::string& dir, Seq after_seq,
                                                    Seq until_seq) {
  ReaderOptions ro;
  ro.after_seq = after_seq;
  ro.until_seq = until_seq;
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, ro);
  if (!reader.ok()) return reader.status();
  Segments segments;
  std::vector<RawGroup> out;
  JournalEntry e;
  while ((*reader)->Next(&e)) {
    absl::StatusOr<absl::string_view> data = segments.Data(e.file);
    if (!data.ok()) return data.status();
    const std::uint64_t end = GroupEnd(e, *data);
    out.push_back(RawGroup{e.command.seq, std::string(data->substr(e.offset, end - e.offset))});
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  return out;
}

absl::StatusOr<CutResult> CutJournalAfter(const std::string& dir, Seq seq) {
  // A snapshot beyond the cut holds the state after commands about to be set aside: the
  // operator decides (a snapshot is never moved or ignored silently).
  absl::StatusOr<std::vector<SnapshotInfo>> snapshots = ListSnapshots(dir);
  if (!snapshots.ok()) return snapshots.status();
  if (!snapshots->empty() && snapshots->front().seq > seq) {  // newest first
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot cut the journal in ", dir, " after seq ", seq, ": snapshot ",
        snapshots->front().path, " holds the state after seq ", snapshots->front().seq));
  }
  ReaderOptions ro;
  ro.after_seq = seq;
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, ro);
  if (!reader.ok()) return reader.status();
  CutResult result;
  result.end_seq = seq;
  Segments segments;
  std::string first_file;  // the segment holding seq + 1
  std::uint64_t cut_offset = 0, first_file_end = 0;
  JournalEntry e;
  while ((*reader)->Next(&e)) {
    if (result.commands++ == 0) {
      first_file = e.file;
      cut_offset = e.offset;
    }
    if (e.file == first_file) {
      absl::StatusOr<absl::string_view> data = segments.Data(e.file);
      if (!data.ok()) return data.status();
      first_file_end = GroupEnd(e, *data);
    }
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  if (result.commands == 0) {
    if ((*reader)->stats().end_seq < seq) {
      return absl::OutOfRangeError(absl::StrCat("cannot cut the journal in ", dir, " after seq ",
                                                seq, ": it ends at seq ",
                                                (*reader)->stats().end_seq));
    }
    return result;  // already ends at seq
  }
  absl::StatusOr<std::vector<SegmentInfo>> listed = ListSegments(dir);
  if (!listed.ok()) return listed.status();
  std::size_t first = 0;
  while (first < listed->size() && (*listed)[first].path != first_file) ++first;
  if (first == listed->size()) {
    return absl::InternalError(absl::StrCat(first_file, " is no longer a segment of ", dir));
  }
  std::size_t discard_from = first + 1;
  if ((*listed)[first].first_seq == seq + 1) {
    // The segment starts with the first command set aside: it goes whole.
    discard_from = first;
  } else {
    // The bytes are kept beside the segment before it is cut, never destroyed.
    absl::StatusOr<absl::string_view> data = segments.Data(first_file);
    if (!data.ok()) return data.status();
    const std::string to = internal::FreeFileName(absl::StrCat(first_file, kCutSuffix, cut_offset), "");
    if (absl::Status s = internal::WriteFileDurably(
            to, data->substr(cut_offset, first_file_end - cut_offset));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = internal::SyncDir(dir); !s.ok()) return s;
    result.cut_file = to;
    if (absl::Status s = internal::TruncateFile(first_file, cut_offset); !s.ok()) return s;
  }
  for (std::size_t i = discard_from; i < listed->size(); ++i) {
    const std::string to = internal::FreeFileName((*listed)[i].path, ".discarded");
    if (::rename((*listed)[i].path.c_str(), to.c_str()) != 0) {
      return internal::ErrnoError("rename", (*listed)[i].path);
    }
    result.discarded_segments.push_back(to);
  }
  if (absl::Status s = internal::SyncDir(dir); !s.ok()) return s;
  return result;
}

}  // namespace msx::journal
