#include "clients/journal/journal_tool.h"

#include <array>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "clients/common/command_line.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/dir_lock.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/recovery.h"
#include "engine/journal/snapshot.h"
#include "msx/v1/config.pb.h"

namespace msx::journal_tool {
namespace {

namespace po = boost::program_options;

using journal::JournalEntry;
using journal::JournalReader;
using journal::ReaderOptions;
using journal::ReadStats;

constexpr char kUsage[] =
    "usage: msx-journal <command> DIR [options]\n"
    "\n"
    "Inspects an MSX journal directory (segment files *.msxj, snapshots *.msxs).\n"
    "\n"
    "commands:\n"
    "  verify DIR   check every header, record CRC, length, type, layout and the gapless\n"
    "               sequence chain; exit 0 if sound, else print the first bad file:offset\n"
    "               and exit 1. A torn tail (a write cut short at the very end) is reported\n"
    "               but is not damage.\n"
    "      --replay                  also rebuild an engine from the journal's own\n"
    "                                configuration and check that every journaled fill and\n"
    "                                event is regenerated exactly\n"
    "      --truncate-torn-tail      remove a torn tail (its bytes are kept in\n"
    "                                <segment>.cut-<offset>)\n"
    "      --truncate-at-corruption  cut the journal at the first corruption (later\n"
    "                                segments are renamed *.discarded, the cut bytes\n"
    "                                kept in <segment>.cut-<offset>; refused if a\n"
    "                                snapshot holds a later seq);\n"
    "                                loses every later command\n"
    "               (both --truncate-* take the directory's LOCK: refused while an\n"
    "               msx-server runs on it)\n"
    "  dump DIR     print one JSON object per record (config, command, event)\n"
    "      --after SEQ               only commands with seq > SEQ\n"
    "      --until SEQ               only commands with seq <= SEQ\n"
    "  stats DIR    print counts (commands and events by type, fills, segments, bytes)\n"
    "\n"
    "exit codes: 0 ok, 1 damaged or unreadable journal, 2 usage error\n";

struct Args {
  std::string command;
  std::string dir;
  bool replay = false;
  bool truncate_torn_tail = false;
  bool truncate_at_corruption = false;
  std::optional<std::uint64_t> after;
  std::optional<std::uint64_t> until;
};

bool ParseSeq(const std::string& s, std::uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// Returns an error message naming the bad flag or value, or "" on success.
std::string ParseArgs(const std::vector<std::string>& args, Args* a) {
  std::string after, until;
  std::vector<std::string> positional;
  // The flags are documented in kUsage, which is the --help text.
  po::options_description flags;
  po::options_description_easy_init add = flags.add_options();
  add("replay", po::bool_switch(&a->replay), "");
  add("truncate-torn-tail", po::bool_switch(&a->truncate_torn_tail), "");
  add("truncate-at-corruption", po::bool_switch(&a->truncate_at_corruption), "");
  add("after", po::value(&after), "");
  add("until", po::value(&until), "");
  po::variables_map vm;
  if (absl::Status s = clients::ParseFlags(args, flags, &positional, &vm); !s.ok()) {
    return std::string(s.message());
  }
  auto parse_seq = [&vm](const char* flag, const std::string& text,
                         std::optional<std::uint64_t>* out) {
    std::uint64_t v = 0;
    if (vm.count(flag) == 0) return true;
    if (!ParseSeq(text, &v)) return false;
    *out = v;
    return true;
  };
  if (!parse_seq("after", after, &a->after)) {
    return absl::StrCat("--after: expects a sequence number, got '", after, "'");
  }
  if (!parse_seq("until", until, &a->until)) {
    return absl::StrCat("--until: expects a sequence number, got '", until, "'");
  }
  if (positional.size() != 2) return "expected a command and a directory";
  a->command = positional[0];
  a->dir = positional[1];
  const bool verify = a->command == "verify";
  if (!verify && (a->replay || a->truncate_torn_tail || a->truncate_at_corruption)) {
    return "--replay and --truncate-* apply to verify only";
  }
  if (a->command != "dump" && (a->after || a->until)) return "--after/--until apply to dump only";
  if (!verify && a->command != "dump" && a->command != "stats") {
    return absl::StrCat("unknown command ", a->command);
  }
  return "";
}

int Damaged(const absl::Status& s, std::ostream& err) {
  err << "msx-journal: " << s.message() << "\n";
  return kExitDamaged;
}

void PrintTorn(const ReadStats& st, std::ostream& out) {
  if (st.torn_bytes > 0) {
    out << "torn tail: " << st.torn_bytes << " bytes after offset " << st.torn_offset << " of "
        << st.torn_file
        << (st.torn_truncated ? " (truncated; kept in " + st.cut_file + ")"
                              : std::string(" (a write cut short; not damage)"))
        << "\n";
  }
  if (st.zero_fill_bytes > 0) {
    // Space a preallocating writer kept ahead of its data (or a file system extended):
    // never data, so nothing was lost with it.
    out << "zero fill: " << st.zero_fill_bytes << " bytes after offset "
        << st.torn_offset + st.torn_bytes << " of " << st.torn_file
        << (st.torn_truncated ? " (truncated)" : " (preallocated space; no data)") << "\n";
  }
}

int Replay(const Args& a, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::optional<std::string>> config = journal::ReadJournalConfig(a.dir);
  if (!config.ok()) return Damaged(config.status(), err);
  if (!config->has_value()) {
    out << "ok: empty journal\n";
    return kExitOk;
  }
  msx::v1::ExchangeConfig parsed;
  if (!parsed.ParseFromString(**config)) {
    return Damaged(absl::DataLossError("the CONFIG record is not an msx.v1.ExchangeConfig"), err);
  }
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(parsed);
  if (!ref.ok()) return Damaged(ref.status(), err);
  journal::RecoveryOptions ro;
  ro.use_snapshots = false;
  ro.truncate_torn_tail = a.truncate_torn_tail;
  ro.truncate_at_corruption = a.truncate_at_corruption;
  const ReferenceData& r = *ref;
  auto result = journal::Recover(
      a.dir, [&r] { return std::make_unique<Engine>(r, EngineOptions{}); }, ro);
  if (!result.ok()) return Damaged(result.status(), err);
  out << "ok: replayed " << result->commands_replayed << " commands (last seq " << result->last_seq
      << "), " << result->events_verified << " events and " << result->fills_verified
      << " fills regenerated exactly; state digest " << result->engine->StateDigest() << "\n";
  PrintTorn(result->read, out);
  return kExitOk;
}

int Verify(const Args& a, std::ostream& out, std::ostream& err) {
  // Truncating modifies the journal: never under a running msx-server (it would cut the
  // tail the server is writing). Reading needs no lock.
  std::unique_ptr<journal::DirLock> lock;
  if (a.truncate_torn_tail || a.truncate_at_corruption) {
    absl::StatusOr<std::unique_ptr<journal::DirLock>> locked = journal::DirLock::Acquire(a.dir);
    if (!locked.ok()) return Damaged(locked.status(), err);
    lock = *std::move(locked);
  }
  if (a.replay) return Replay(a, out, err);
  ReaderOptions o;
  o.truncate_torn_tail = a.truncate_torn_tail;
  o.truncate_at_corruption = a.truncate_at_corruption;
  auto reader = JournalReader::Open(a.dir, o);
  if (!reader.ok()) return Damaged(reader.status(), err);
  JournalEntry e;
  while ((*reader)->Next(&e)) {
  }
  if (!(*reader)->status().ok()) return Damaged((*reader)->status(), err);
  const ReadStats& st = (*reader)->stats();
  out << "ok: " << st.segments << " segments, " << st.bytes << " bytes, " << st.commands
      << " commands";
  if (st.commands > 0) out << " (seq " << st.first_seq << ".." << st.last_seq << ")";
  out << ", " << st.events << " events, " << st.fills << " fills\n";
  PrintTorn(st, out);
  if (!st.error_file.empty()) {
    out << "truncated at corruption: " << st.error_file << ":" << st.error_offset << "; set aside "
        << st.discarded_segments.size() << " later segments after seq " << st.end_seq
        << " (renamed *.discarded)\n";
  }
  if (!st.cut_file.empty()) out << "cut bytes kept in " << st.cut_file << "\n";
  // A snapshot beyond the journal's end proves durable commands are missing.
  absl::StatusOr<std::vector<journal::SnapshotInfo>> snapshots = journal::ListSnapshots(a.dir);
  if (snapshots.ok() && !snapshots->empty() && snapshots->front().seq > st.end_seq) {
    return Damaged(absl::DataLossError(absl::StrCat(
                       snapshots->front().path, " holds seq ", snapshots->front().seq,
                       " but the journal ends at seq ", st.end_seq,
                       ": durable commands are missing from the journal")),
                   err);
  }
  return kExitOk;
}

int Dump(const Args& a, std::ostream& out, std::ostream& err) {
  ReaderOptions o;
  if (a.after) o.after_seq = *a.after;
  if (a.until) o.until_seq = *a.until;
  o.on_config = [&out](const std::string& path, std::uint64_t offset, absl::string_view config) {
    nlohmann::ordered_json j;
    j["record"] = "config";
    j["file"] = path;
    j["offset"] = offset;
    j["bytes"] = config.size();
    out << journal::JsonText(j) << "\n";
  };
  auto reader = JournalReader::Open(a.dir, o);
  if (!reader.ok()) return Damaged(reader.status(), err);
  JournalEntry e;
  while ((*reader)->Next(&e)) {
    nlohmann::ordered_json command;
    command["record"] = "command";
    command["file"] = e.file;
    command["offset"] = e.offset;
    command["event_count"] = e.events.size();
    command["command"] = journal::CommandJson(e.command);
    out << journal::JsonText(command) << "\n";
    for (std::size_t i = 0; i < e.events.size(); ++i) {
      nlohmann::ordered_json event;
      event["record"] = "event";
      event["file"] = e.file;
      event["offset"] = e.event_offsets[i];
      event["index"] = i;
      event["event"] = journal::EventJson(e.events[i]);
      out << journal::JsonText(event) << "\n";
    }
  }
  if (!(*reader)->status().ok()) return Damaged((*reader)->status(), err);
  return kExitOk;
}

int Stats(const Args& a, std::ostream& out, std::ostream& err) {
  auto reader = JournalReader::Open(a.dir, {});
  if (!reader.ok()) return Damaged(reader.status(), err);
  std::array<std::uint64_t, 256> commands{};
  std::array<std::uint64_t, 256> events{};
  TimeNs first_time = 0;
  JournalEntry e;
  while ((*reader)->Next(&e)) {
    if (first_time == 0) first_time = e.command.time;
    ++commands[static_cast<std::uint8_t>(e.command.type)];
    for (const Event& ev : e.events) ++events[static_cast<std::uint8_t>(ev.type)];
  }
  const ReadStats& st = (*reader)->stats();
  auto by_type = [](const std::array<std::uint64_t, 256>& counts, auto name_of) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (int t = 0; t < 256; ++t) {
      if (counts[t] != 0) j[name_of(t)] = counts[t];
    }
    return j;
  };
  auto command_name = [](int t) { return journal::CommandTypeName(static_cast<CommandType>(t)); };
  auto event_name = [](int t) { return journal::EventTypeName(static_cast<EventType>(t)); };
  nlohmann::ordered_json j;
  j["dir"] = a.dir;
  j["segments"] = st.segments;
  j["bytes"] = st.bytes;
  j["records"] = st.records;
  j["commands"] = st.commands;
  j["events"] = st.events;
  j["fills"] = st.fills;
  j["first_seq"] = st.first_seq;
  j["last_seq"] = st.last_seq;
  j["first_time"] = first_time;
  j["last_time"] = st.last_time;
  j["commands_by_type"] = by_type(commands, command_name);
  j["events_by_type"] = by_type(events, event_name);
  j["torn_tail_bytes"] = st.torn_bytes;
  j["zero_fill_bytes"] = st.zero_fill_bytes;
  out << journal::JsonText(j) << "\n";
  if (!(*reader)->status().ok()) return Damaged((*reader)->status(), err);
  return kExitOk;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const std::string& s : args) {
    if (s == "--help" || s == "-h" || s == "help") {
      out << kUsage;
      return kExitOk;
    }
  }
  Args a;
  if (std::string error = ParseArgs(args, &a); !error.empty()) {
    err << "msx-journal: " << error << "\n\n" << kUsage;
    return kExitUsage;
  }
  if (a.command == "verify") return Verify(a, out, err);
  if (a.command == "dump") return Dump(a, out, err);
  return Stats(a, out, err);
}

}  // namespace msx::journal_tool
