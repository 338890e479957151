// The msx-drill command line: `msx-drill COMMAND DIR [options]`, parsed with
// Boost.Program_options. DrillUsage() is the --help text and documents every flag and the
// exit codes; main.cc runs the commands.
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_DRILL_ARGS_H_
#define MSX_CLIENTS_DRILL_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace msx::drill {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDiverged = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitJournal = 3;
inline constexpr int kExitOutput = 4;
inline constexpr int kExitLive = 5;

struct DrillArgs {
  bool help = false;    // --help, -h or the command "help": print DrillUsage(), nothing else
  std::string command;  // verify, report, run or replay (not checked here)
  std::string dir;
  bool json = false;
  bool digest = false;
  int top = 5;
  std::string scenario;
  std::string out;
  std::string html;  // --html FILE: also write the report as one self-contained HTML file
  std::string speed = "max";  // checked by ParseSpeed where it is used
  std::string server;  // HOST:PORT, or several comma-separated (a primary and its standbys)
  bool live = false;   // --live: replay against MSX_SERVER when --server is not given
  std::string tokens_config;
  std::map<std::string, std::string> tokens;       // --token CODE=TOKEN, later ones win
  std::map<std::string, std::string> token_files;  // --token-file CODE=FILE, later ones win
  std::string admin_token;
  std::string admin_token_file;
  bool skip_agencies_without_token = false;
  std::uint64_t client_id_offset = 0;
  std::int64_t fill_wait_ms = 300;
};

// The full --help text.
const char* DrillUsage();

// Parses `args` (without the program name). InvalidArgument with a message naming the bad
// flag or value ("unrecognised option '--frob'", "--top: not a non-negative integer: x",
// "--token: expected CODE=TOKEN, got KOMIR") or the missing command or directory. Token
// files are named here, read by main.cc.
absl::StatusOr<DrillArgs> ParseDrillArgs(const std::vector<std::string>& args);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_ARGS_H_
