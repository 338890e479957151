// Fuzz target: a whole JournalReader (engine/journal/reader.h) over a one-segment journal
// in a temporary directory: the segment framing plus the sequence chain, command/event
// grouping, torn-tail rules and the two truncating recovery modes.
//
// Input: one flags byte, then the bytes of the segment file. Flag bit 0 asks for
// truncate_torn_tail (what recovery does), bit 1 for truncate_at_corruption (the
// operator's override). The file is named after the first_seq in its header (1 when the
// header is too short to say), and the read starts there (after_seq = first_seq - 1).
// Invariants:
//   * delivered commands have consecutive seqs from first_seq; each event carries its
//     command's seq and time-order index; offsets lie inside the file, in order;
//   * each delivered group is byte for byte what AppendCommandGroup writes for it (the
//     reader hands out exactly what is on disk, nothing it repaired or guessed);
//   * stats agree with what was delivered; a failure is DataLossError whose message starts
//     with "<path>:<offset>: ", an offset inside the file;
//   * the file is unchanged unless truncation was asked for; the truncate_at_corruption
//     read always ends cleanly;
//   * after a truncating read, a second plain read ends cleanly and delivers exactly the
//     same groups (recovery is idempotent), with no torn tail if truncate_torn_tail was
//     asked for (and the same one if only truncate_at_corruption was, and it cut nothing).
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace journal = msx::journal;

const std::string& Dir() {
  static const std::string* const dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/msx-fuzz-reader-XXXXXX";
    MSX_FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
    return new std::string(tmpl);
  }();
  return *dir;
}

void RemoveAll(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(dir + "/" + e->d_name);
    }
  }
  ::closedir(d);
  for (const std::string& n : names) ::unlink(n.c_str());
}

void WriteFile(const std::string& path, absl::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  MSX_FUZZ_CHECK(fd >= 0, "cannot create %s", path.c_str());
  MSX_FUZZ_CHECK(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
                 "short write to %s", path.c_str());
  ::close(fd);
}

// The file's bytes, or nullopt-like "missing" flag when it does not exist.
bool ReadFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    MSX_FUZZ_CHECK(n >= 0, "read of %s failed", path.c_str());
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

struct Outcome {
  absl::Status status;
  journal::ReadStats stats;
  std::vector<std::string> groups;  // re-encoded delivered groups
  msx::Seq last_seq = 0;
};

Outcome ReadAll(const std::string& path, absl::string_view file, msx::Seq first_seq,
                journal::ReaderOptions options) {
  Outcome out;
  options.after_seq = first_seq - 1;
  auto reader = journal::JournalReader::Open(Dir(), options);
  MSX_FUZZ_CHECK(reader.ok(), "Open: %s", reader.status().ToString().c_str());
  journal::JournalEntry entry;
  msx::Seq expected = first_seq;
  std::uint64_t previous_end = 0;
  std::uint64_t fills = 0;
  while ((*reader)->Next(&entry)) {
    MSX_FUZZ_CHECK(entry.command.seq == expected, "delivered seq %llu, expected %llu",
                   static_cast<unsigned long long>(entry.command.seq),
                   static_cast<unsigned long long>(expected));
    ++expected;
    MSX_FUZZ_CHECK(entry.file == path, "entry from %s", entry.file.c_str());
    MSX_FUZZ_CHECK(entry.offset >= previous_end && entry.offset < file.size(),
                   "group offset %llu out of order or outside the file",
                   static_cast<unsigned long long>(entry.offset));
    MSX_FUZZ_CHECK(entry.event_offsets.size() == entry.events.size(), "event offsets");
    for (const msx::Event& e : entry.events) {
      MSX_FUZZ_CHECK(e.seq == entry.command.seq && journal::IsJournaled(e.type),
                     "event of seq %llu (type %d) in group %llu",
                     static_cast<unsigned long long>(e.seq), static_cast<int>(e.type),
                     static_cast<unsigned long long>(entry.command.seq));
      if (e.type == msx::EventType::kFill) ++fills;
    }
    std::string group;
    journal::AppendCommandGroup(entry.command, entry.events, &group);
    MSX_FUZZ_CHECK(file.substr(entry.offset, group.size()) == group,
                   "group of seq %llu at %llu is not the bytes on disk",
                   static_cast<unsigned long long>(entry.command.seq),
                   static_cast<unsigned long long>(entry.offset));
    std::uint64_t at = entry.offset + journal::kRecordHeaderSize +
                       journal::CommandPayloadSize(entry.command.type);
    for (std::size_t i = 0; i < entry.events.size(); ++i) {
      MSX_FUZZ_CHECK(entry.event_offsets[i] == at, "event %zu of seq %llu at %llu, expected %llu",
                     i, static_cast<unsigned long long>(entry.command.seq),
                     static_cast<unsigned long long>(entry.event_offsets[i]),
                     static_cast<unsigned long long>(at));
      at += journal::kRecordHeaderSize + journal::EventPayloadSize(entry.events[i].type);
    }
    previous_end = entry.offset + group.size();
    out.groups.push_back(std::move(group));
    out.last_seq = entry.command.seq;
  }
  out.status = (*reader)->status();
  out.stats = (*reader)->stats();
  const journal::ReadStats& s = out.stats;
  MSX_FUZZ_CHECK(s.commands == out.groups.size(), "stats.commands %llu, delivered %zu",
                 static_cast<unsigned long long>(s.commands), out.groups.size());
  MSX_FUZZ_CHECK(s.fills == fills, "stats.fills %llu, delivered %llu",
                 static_cast<unsigned long long>(s.fills), static_cast<unsigned long long>(fills));
  MSX_FUZZ_CHECK(s.last_seq == out.last_seq, "stats.last_seq %llu, last delivered %llu",
                 static_cast<unsigned long long>(s.last_seq),
                 static_cast<unsigned long long>(out.last_seq));
  if (out.status.ok()) {
    MSX_FUZZ_CHECK(s.error_file.empty() || options.truncate_at_corruption,
                   "clean end with an error file");
    if (!s.torn_file.empty()) {
      MSX_FUZZ_CHECK(s.torn_offset + s.torn_bytes + s.zero_fill_bytes == file.size(),
                     "torn tail %llu + %llu + %llu does not end the %zu-byte file",
                     static_cast<unsigned long long>(s.torn_offset),
                     static_cast<unsigned long long>(s.torn_bytes),
                     static_cast<unsigned long long>(s.zero_fill_bytes), file.size());
      MSX_FUZZ_CHECK(s.torn_offset >= previous_end, "torn tail starts inside a delivered group");
    }
  } else {
    MSX_FUZZ_CHECK(absl::IsDataLoss(out.status), "failure that is not DATA_LOSS: %s",
                   out.status.ToString().c_str());
    MSX_FUZZ_CHECK(!options.truncate_at_corruption, "truncate_at_corruption read failed: %s",
                   out.status.ToString().c_str());
    const std::string prefix = absl::StrCat(path, ":", s.error_offset, ": ");
    MSX_FUZZ_CHECK(absl::StartsWith(out.status.message(), prefix),
                   "message does not start with \"%s\": %s", prefix.c_str(),
                   std::string(out.status.message()).c_str());
    MSX_FUZZ_CHECK(s.error_file == path && s.error_offset < file.size(),
                   "error offset %llu outside the %zu-byte file",
                   static_cast<unsigned long long>(s.error_offset), file.size());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const absl::string_view file(reinterpret_cast<const char*>(data + 1), size - 1);
  msx::Seq first_seq = 1;
  if (file.size() >= journal::kSegmentHeaderFirstSeqOffset + 8) {
    first_seq = journal::GetFixed64(file.data() + journal::kSegmentHeaderFirstSeqOffset);
    // Keep after_seq = first_seq - 1 meaningful and the name within its 20 digits.
    if (first_seq == 0 || first_seq > 99999999999999999ull) first_seq = 1;
  }
  const std::string path = Dir() + "/" + journal::SegmentFileName(first_seq);
  RemoveAll(Dir());
  WriteFile(path, file);

  journal::ReaderOptions options;
  options.truncate_torn_tail = (flags & 1) != 0;
  options.truncate_at_corruption = (flags & 2) != 0;
  const Outcome first = ReadAll(path, file, first_seq, options);

  std::string after;
  const bool exists = ReadFile(path, &after);
  if (!options.truncate_torn_tail && !options.truncate_at_corruption) {
    MSX_FUZZ_CHECK(exists && after == file, "a read without truncation changed the file");
  } else if (first.status.ok()) {
    // Recovery is idempotent: what is left reads cleanly and delivers the same groups.
    MSX_FUZZ_CHECK(!exists || file.substr(0, after.size()) == after,
                   "truncation changed bytes instead of cutting them");
    if (exists) {
      const Outcome second = ReadAll(path, after, first_seq, journal::ReaderOptions{});
      MSX_FUZZ_CHECK(second.status.ok(), "re-read after recovery failed: %s",
                     second.status.ToString().c_str());
      // A torn tail is gone if it was to be removed; truncate_at_corruption alone leaves
      // one it found (and a cut at a damaged group leaves none).
      const bool tail_kept = !options.truncate_torn_tail && first.stats.error_file.empty();
      const std::uint64_t torn = tail_kept ? first.stats.torn_bytes : 0;
      const std::uint64_t zeros = tail_kept ? first.stats.zero_fill_bytes : 0;
      MSX_FUZZ_CHECK(second.stats.torn_bytes == torn && second.stats.zero_fill_bytes == zeros,
                     "re-read after recovery finds %llu torn bytes and %llu zero fill, "
                     "expected %llu and %llu",
                     static_cast<unsigned long long>(second.stats.torn_bytes),
                     static_cast<unsigned long long>(second.stats.zero_fill_bytes),
                     static_cast<unsigned long long>(torn),
                     static_cast<unsigned long long>(zeros));
      MSX_FUZZ_CHECK(second.groups == first.groups,
                     "re-read after recovery delivers %zu groups, the first read %zu",
                     second.groups.size(), first.groups.size());
    } else {
      MSX_FUZZ_CHECK(first.groups.empty(), "segment removed but groups were delivered");
    }
  }
  RemoveAll(Dir());
  return 0;
}
