#include "clients/drill/verify.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/drill/drill_journal.h"
#include "engine/matching/engine.h"
#include "engine/journal/codec.h"
#include "engine/journal/json.h"

namespace msx::drill {
namespace {

// A read-only mapping of the segment the reader is in, so that regenerated events are
// compared with the journaled payload bytes themselves (the reader has already verified
// their framing and CRC). The pages are the page cache's, shared with the reader.
class SegmentBytes {
 public:
  SegmentBytes() = default;
  ~SegmentBytes() { Unmap(); }
  SegmentBytes(const SegmentBytes&) = delete;
  SegmentBytes& operator=(const SegmentBytes&) = delete;

  // Maps `path` as segment number `segment` (the reader's count of segments opened), if
  // that is not the segment already mapped.
  void Select(std::uint64_t segment, const std::string& path) {
    if (segment == segment_) return;
    segment_ = segment;
    Map(path);
  }

  // The payload of the record at `offset` of the selected segment; empty if it could not
  // be mapped or the record does not fit (the caller then compares re-encoded bytes).
  absl::string_view Payload(std::uint64_t offset) const {
    if (data_ == nullptr || offset + journal::kRecordHeaderSize > size_) return {};
    const std::uint32_t length = journal::GetFixed32(data_ + offset + journal::kRecordLengthOffset);
    if (length > size_ - offset - journal::kRecordHeaderSize) return {};
    return absl::string_view(data_ + offset + journal::kRecordHeaderSize, length);
  }

 private:
  void Map(const std::string& path) {
    Unmap();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<std::uint64_t>(st.st_size);
      }
    }
    ::close(fd);
  }
  void Unmap() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::uint64_t segment_ = 0;
  const char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace

absl::StatusOr<VerifyResult> VerifyReplay(const std::string& dir, bool state_digest) {
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();
  Engine engine(*j->ref, EngineOptions{});

  VerifyResult result;
  journal::JournalEntry entry;
  // Reused across commands: after the first few commands nothing here allocates.
  std::vector<Event> regenerated;
  regenerated.reserve(1024);
  SegmentBytes segment;
  std::string expected_bytes, actual_bytes;
  expected_bytes.reserve(journal::kMaxEventPayload);
  actual_bytes.reserve(journal::kMaxEventPayload);

  auto diverge = [&](std::uint32_t index, const Event* expected, const Event* actual) {
    result.diverged = true;
    Divergence& d = result.divergence;
    d.seq = entry.command.seq;
    d.index = index;
    d.file = entry.file;
    d.offset = index < entry.event_offsets.size() ? entry.event_offsets[index] : entry.offset;
    d.command = journal::CommandJson(entry.command);
    d.expected = expected ? journal::EventJson(*expected) : nullptr;
    d.actual = actual ? journal::EventJson(*actual) : nullptr;
  };

  while ((*reader)->Next(&entry)) {
    ++result.commands;
    segment.Select((*reader)->stats().segments, entry.file);
    regenerated.clear();
    engine.Apply(entry.command, &regenerated);
    // Walk the regenerated events, skipping market data, against the journaled ones.
    std::uint32_t index = 0;
    const std::size_t journaled = entry.events.size();
    for (const Event& actual : regenerated) {
      if (!journal::IsJournaled(actual.type)) continue;
      if (index >= journaled) {
        diverge(index, nullptr, &actual);
        break;
      }
      const Event& expected = entry.events[index];
      actual_bytes.clear();
      journal::EncodeEventPayload(actual, index, &actual_bytes);
      absl::string_view journaled = segment.Payload(entry.event_offsets[index]);
      if (journaled.empty()) {
        expected_bytes.clear();
        journal::EncodeEventPayload(expected, index, &expected_bytes);
        journaled = expected_bytes;
      }
      if (journaled != actual_bytes) {
        diverge(index, &expected, &actual);
        break;
      }
      result.fills += expected.type == EventType::kFill;
      ++index;
    }
    if (result.diverged) break;
    if (index < journaled) {
      diverge(index, &entry.events[index], nullptr);
      break;
    }
    result.events += journaled;
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  result.read = (*reader)->stats();
  if (state_digest && !result.diverged) result.state_digest = engine.StateDigest();
  return result;
}

std::string VerifySummary(const std::string& dir, const VerifyResult& r) {
  std::string s = absl::StrFormat(
      "OK: %s: %d commands, %d events (%d fills), %d records in %d segment(s) replayed and "
      "match byte for byte; last seq %d",
      dir, r.commands, r.events, r.fills, r.read.records, r.read.segments, r.read.last_seq);
  if (r.state_digest != 0) absl::StrAppendFormat(&s, "; state digest 0x%016x", r.state_digest);
  if (r.read.torn_bytes > 0) {
    absl::StrAppend(&s, "; torn tail of ", r.read.torn_bytes, " bytes ignored at ",
                    r.read.torn_file, ":", r.read.torn_offset);
  }
  return s;
}

std::string DivergenceMessage(const Divergence& d) {
  auto text = [](const nlohmann::ordered_json& j) {
    return j.is_null() ? std::string("(none)") : journal::JsonText(j);
  };
  return absl::StrCat("DIVERGED at seq ", d.seq, " (event index ", d.index, ", ", d.file, ":",
                      d.offset, ")\n  command:  ", text(d.command),
                      "\n  expected: ", text(d.expected), "\n  actual:   ", text(d.actual));
}

std::string RenderVerifyJson(const std::string& dir, const VerifyResult& r) {
  nlohmann::ordered_json j;
  j["dir"] = dir;
  j["ok"] = !r.diverged;
  j["commands"] = r.commands;
  j["events"] = r.events;
  j["fills"] = r.fills;
  j["records"] = r.read.records;
  j["segments"] = r.read.segments;
  j["last_seq"] = r.read.last_seq;
  j["torn_bytes"] = r.read.torn_bytes;
  if (r.diverged) {
    const Divergence& d = r.divergence;
    nlohmann::ordered_json& o = j["divergence"];
    o["seq"] = d.seq;
    o["index"] = d.index;
    o["file"] = d.file;
    o["offset"] = d.offset;
    o["command"] = d.command;
    o["expected"] = d.expected;
    o["actual"] = d.actual;
  } else if (r.state_digest != 0) {
    j["state_digest"] = r.state_digest;
  }
  return journal::JsonText(j);
}

}  // namespace msx::drill
