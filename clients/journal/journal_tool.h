// msx-journal: inspect and verify an MSX journal directory offline.
//
//   msx-journal verify DIR [--replay] [--truncate-torn-tail] [--truncate-at-corruption]
//   msx-journal dump DIR [--after SEQ] [--until SEQ]
//   msx-journal stats DIR
//
// Exit codes: 0 success; 1 the journal is damaged or unreadable (the first bad file and
// byte offset are printed); 2 usage error.
//
// Thread-safety: RunJournalTool is reentrant (no global state).
#ifndef MSX_CLIENTS_JOURNAL_JOURNAL_TOOL_H_
#define MSX_CLIENTS_JOURNAL_JOURNAL_TOOL_H_

#include <ostream>
#include <string>
#include <vector>

namespace msx::journal_tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDamaged = 1;
inline constexpr int kExitUsage = 2;

// Runs the tool with `args` (without the program name), writing results to `out` and
// diagnostics to `err`. Returns the process exit code.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace msx::journal_tool

#endif  // MSX_CLIENTS_JOURNAL_JOURNAL_TOOL_H_
