// Helpers for the journal tests of engine features (time swaps, collateral, emergencies,
// auctions, ...): a command stream written through a real engine into a journal, read back
// and replayed byte for byte, optionally also from a snapshot taken on the way; and a
// segment relabelled as an older format version, where the feature's records are
// corruption.
#ifndef MSX_ENGINE_JOURNAL_REPLAY_TEST_UTIL_H_
#define MSX_ENGINE_JOURNAL_REPLAY_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "gtest/gtest.h"

namespace msx::journal::testing {

// A run of commands with consecutive sequence numbers (from 1) and times `step` apart.
class CommandStream {
 public:
  CommandStream(TimeNs start, TimeNs step) : time_(start), step_(step) {}

  // Appends `c` with the next sequence number, `step` after the previous command.
  void Add(Command c) {
    c.seq = static_cast<Seq>(commands_.size() + 1);
    c.time = (time_ += step_);
    commands_.push_back(c);
  }
  // Moves the clock `d` further before the next command.
  void Skip(TimeNs d) { time_ += d; }
  // The time of the last command added.
  TimeNs time() const { return time_; }
  const std::vector<Command>& commands() const { return commands_; }

 private:
  TimeNs time_;
  TimeNs step_;
  std::vector<Command> commands_;
};

// What WriteJournal saw: every command's events, market data included, and the engine's
// state right after the first command for which the snapshot predicate held.
struct WrittenJournal {
  std::vector<std::vector<Event>> events;
  std::string snapshot;
};

// Decides when WriteJournal takes its snapshot: called after each command with the engine
// and that command's events.
using SnapshotWhen = std::function<bool(const Engine&, const std::vector<Event>&)>;

// Applies `commands` to `engine` and appends each, with its events, to a new journal in
// `dir` (durability none; `config` is the configuration text recorded in the header).
// Use under ASSERT_NO_FATAL_FAILURE.
inline void WriteJournal(Engine& engine, const std::string& dir, const std::string& config,
                         const std::vector<Command>& commands, WrittenJournal* out,
                         const SnapshotWhen& snapshot_when = nullptr) {
  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = config;
  auto writer = JournalWriter::Open(dir, wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Command& c : commands) {
    std::vector<Event> ev;
    engine.Apply(c, &ev);
    ASSERT_TRUE((*writer)->Append(c, ev).ok()) << "seq " << c.seq;
    out->events.push_back(ev);
    if (snapshot_when && out->snapshot.empty() && snapshot_when(engine, ev)) {
      out->snapshot = engine.SaveState();
    }
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

// Reads the journal in `dir` back and applies every entry to `replay`, a fresh engine over
// the same reference data. Each entry's journaled events must equal the replay's, encoded
// byte for byte, and the replay's events (market data included) must equal what
// WriteJournal saw. Where `recovered` is given (an engine loaded from `written.snapshot`),
// it applies the entries after its last sequence number, must produce the same events, and
// must end in the same state as `replay`. `on_event` sees each journaled event replayed.
// Use under ASSERT_NO_FATAL_FAILURE.
inline void ReplayAndCompare(const std::string& dir, const WrittenJournal& written,
                             Engine& replay, Engine* recovered = nullptr,
                             const std::function<void(const Event&)>& on_event = nullptr) {
  auto reader = JournalReader::Open(dir, ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  JournalEntry entry;
  std::size_t n = 0;
  while ((*reader)->Next(&entry)) {
    ASSERT_LT(n, written.events.size()) << "more entries than commands written";
    std::vector<Event> ev;
    replay.Apply(entry.command, &ev);
    std::size_t k = 0;
    for (const Event& e : ev) {
      if (!IsJournaled(e.type)) continue;
      ASSERT_LT(k, entry.events.size()) << "seq " << entry.command.seq;
      std::string a, b;
      EncodeEventPayload(e, 0, &a);
      EncodeEventPayload(entry.events[k], 0, &b);
      ASSERT_EQ(a, b) << "seq " << entry.command.seq << " event " << k;
      ++k;
      if (on_event) on_event(e);
    }
    ASSERT_EQ(k, entry.events.size()) << "seq " << entry.command.seq;
    ASSERT_EQ(ev.size(), written.events[n].size()) << "seq " << entry.command.seq;
    ASSERT_EQ(0, std::memcmp(ev.data(), written.events[n].data(), ev.size() * sizeof(Event)))
        << "seq " << entry.command.seq;
    if (recovered != nullptr && entry.command.seq > recovered->last_seq()) {
      std::vector<Event> rev;
      recovered->Apply(entry.command, &rev);
      ASSERT_EQ(rev.size(), ev.size()) << "recovered from the snapshot, seq " << entry.command.seq;
      ASSERT_EQ(0, std::memcmp(rev.data(), ev.data(), ev.size() * sizeof(Event)))
          << "recovered from the snapshot, seq " << entry.command.seq;
    }
    ++n;
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, written.events.size());
  if (recovered != nullptr) {
    EXPECT_EQ(recovered->SaveState(), replay.SaveState());
  }
}

// Rewrites the header of the segment at `path` as format `version`, with a valid CRC, so
// that only its records' types can betray what that version did not have.
inline void RelabelSegmentVersion(const std::string& path, std::uint16_t version) {
  const std::string bytes = ReadAll(path);
  ASSERT_GE(bytes.size(), kSegmentHeaderSize);
  ASSERT_EQ(GetFixed16(bytes.data() + kSegmentHeaderVersionOffset), kFormatVersion);
  std::string header = bytes.substr(0, kSegmentHeaderCrcOffset);
  std::string v;
  PutFixed16(&v, version);
  header.replace(kSegmentHeaderVersionOffset, 2, v);
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), header.size())));
  WriteAll(path, header + bytes.substr(kSegmentHeaderSize));
}

// Verifies the journal in `dir` and expects corruption (DATA_LOSS) whose message contains
// `message`.
inline void ExpectCorruption(const std::string& dir, const std::string& message) {
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir);
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find(message), std::string::npos) << stats.status();
}

}  // namespace msx::journal::testing

#endif  // MSX_ENGINE_JOURNAL_REPLAY_TEST_UTIL_H_
