#include "engine/journal/recovery.h"

#include <sys/stat.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/json.h"
#include "engine/journal/snapshot.h"

namespace msx::journal {
namespace {

bool DirExists(const std::string& dir) {
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Applies one journaled group and checks the regenerated events against it.
absl::Status ApplyAndCheck(const JournalEntry& entry, Engine* engine, std::vector<Event>* out,
                           RecoveryResult* result) {
  char journaled_bytes[kMaxEventPayload];
  char regenerated_bytes[kMaxEventPayload];
  out->clear();
  engine->Apply(entry.command, out);
  std::size_t j = 0;  // index into the journaled events
  for (const Event& ev : *out) {
    if (!IsJournaled(ev.type)) continue;
    if (j >= entry.events.size()) {
      return absl::InternalError(absl::StrCat(
          "replay diverged at seq ", entry.command.seq, " (", entry.file, ":", entry.offset,
          "): the engine emitted an extra event ", EventToJson(ev), " not in the journal"));
    }
    // Compared in the journal encoding: every field, no padding bytes.
    const std::size_t jn = EncodeEventPayloadTo(entry.events[j], j, journaled_bytes);
    const std::size_t rn = EncodeEventPayloadTo(ev, j, regenerated_bytes);
    if (jn != rn || std::memcmp(journaled_bytes, regenerated_bytes, jn) != 0) {
      return absl::InternalError(absl::StrCat("replay diverged at seq ", entry.command.seq, " (",
                                              entry.file, ":", entry.event_offsets[j],
                                              "): journaled ", EventToJson(entry.events[j]),
                                              ", regenerated ", EventToJson(ev)));
    }
    if (ev.type == EventType::kFill) ++result->fills_verified;
    ++j;
  }
  if (j != entry.events.size()) {
    return absl::InternalError(absl::StrCat(
        "replay diverged at seq ", entry.command.seq, " (", entry.file, ":", entry.event_offsets[j],
        "): the journal holds ", entry.events.size(), " events, the engine regenerated ", j,
        "; first missing: ", EventToJson(entry.events[j])));
  }
  result->events_verified += j;
  ++result->commands_replayed;
  return absl::OkStatus();
}

// Replays the journal after `base_seq` into `engine`, verifying every regenerated event.
absl::Status Replay(const std::string& dir, Seq base_seq, Engine* engine,
                    const RecoveryOptions& options, RecoveryResult* result) {
  ReaderOptions ro;
  ro.after_seq = base_seq;
  ro.truncate_torn_tail = options.truncate_torn_tail;
  ro.truncate_at_corruption = options.truncate_at_corruption;
  // Damage in a segment before the snapshot stops the start too (framing and CRCs).
  ro.verify_skipped_segments = true;
  std::string first_config;
  bool have_config = false;
  absl::Status config_error;
  ro.on_config = [&](const std::string& path, std::uint64_t offset, absl::string_view config) {
    if (!config_error.ok()) return;
    const std::string& want =
        !options.expected_config.empty() ? options.expected_config : first_config;
    if (!options.expected_config.empty() || have_config) {
      if (config != want) {
        config_error = absl::FailedPreconditionError(
            absl::StrCat(path, ":", offset, ": the journal's configuration (", config.size(),
                         " bytes) differs from ",
                         options.expected_config.empty() ? "that of its earlier segments"
                                                         : "the configuration the server was given",
                         "; replaying it under another configuration would diverge"));
      }
    }
    if (!have_config) {
      first_config = std::string(config);
      have_config = true;
    }
  };
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, ro);
  if (!reader.ok()) return reader.status();

  // One thread: reading ahead on a second thread was measured slower on this 2-core
  // machine (the hand-offs cost more than the overlap gained; bench/results/journal.md).
  JournalEntry entry;
  std::vector<Event> out;
  out.reserve(256);
  while ((*reader)->Next(&entry)) {
    if (!config_error.ok()) return config_error;
    if (absl::Status s = ApplyAndCheck(entry, engine, &out, result); !s.ok()) return s;
    if (options.on_entry) options.on_entry(entry);
  }
  if (!config_error.ok()) return config_error;
  if (!(*reader)->status().ok()) return (*reader)->status();
  result->read = (*reader)->stats();
  result->last_seq = result->read.end_seq;
  result->last_time = engine->last_time();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecoveryResult> Recover(const std::string& dir, const EngineFactory& factory,
                                       const RecoveryOptions& options) {
  RecoveryResult result;
  if (!DirExists(dir)) {
    result.engine = factory();
    if (!result.engine) return absl::InternalError("the engine factory returned null");
    return result;
  }
  std::vector<SnapshotInfo> snapshots;
  if (options.use_snapshots) {
    absl::StatusOr<std::vector<SnapshotInfo>> listed = ListSnapshots(dir);
    if (!listed.ok()) return listed.status();
    snapshots = *std::move(listed);
  }
  // Candidates newest first, then "no snapshot" (the whole journal).
  for (std::size_t i = 0; i <= snapshots.size(); ++i) {
    RecoveryResult attempt;
    attempt.rejected_snapshots = std::move(result.rejected_snapshots);
    attempt.engine = factory();
    if (!attempt.engine) return absl::InternalError("the engine factory returned null");
    Seq base = 0;
    if (i < snapshots.size()) {
      const SnapshotInfo& snap = snapshots[i];
      absl::StatusOr<SnapshotData> data = ReadSnapshot(snap.path);
      absl::Status loaded = data.ok() ? attempt.engine->LoadState(data->state) : data.status();
      if (loaded.ok() && attempt.engine->last_seq() != data->seq) {
        loaded = absl::DataLossError(absl::StrCat("state holds seq ", attempt.engine->last_seq(),
                                                  ", header says ", data->seq));
      }
      if (!loaded.ok()) {
        attempt.rejected_snapshots.push_back(absl::StrCat(snap.path, ": ", loaded.message()));
        result = std::move(attempt);
        continue;
      }
      base = data->seq;
      attempt.snapshot_seq = base;
      attempt.snapshot_path = snap.path;
    }
    // The reader refuses to cut the journal below a snapshot (torn tail or corruption).
    if (absl::Status s = Replay(dir, base, attempt.engine.get(), options, &attempt); !s.ok()) {
      return s;
    }
    // A snapshot is written only once the journal holds its seq durably, so one beyond the
    // journal's end (even one that does not load) means the journal lost durable,
    // possibly acknowledged commands: data loss, never a stale file to set aside (new
    // commands would reuse the sequence numbers it and the clients have seen).
    if (!snapshots.empty() && snapshots.front().seq > attempt.last_seq) {
      return absl::DataLossError(absl::StrCat(
          snapshots.front().path, " holds seq ", snapshots.front().seq, " but the journal in ",
          dir, " ends at seq ", attempt.last_seq,
          attempt.read.torn_file.empty()
              ? std::string()
              : absl::StrCat(" (", attempt.read.torn_file, ":", attempt.read.torn_offset, ")"),
          ": commands ", attempt.last_seq + 1, "..", snapshots.front().seq,
          " were durable and are missing from the journal. Restore the journal (a replica or "
          "backup), or move the snapshot out of the directory to accept losing them"));
    }
    return attempt;
  }
  return absl::InternalError("unreachable: the full-journal replay always returns");
}

}  // namespace msx::journal
