// Command-line parsing shared by msx-drill and msx-journal (msx and msx-loadgen have their
// own option tables): Boost.Program_options with the arguments that are not flags collected
// in order and flags spelled out in full.
//
// Thread-safety: ParseFlags is reentrant.
#ifndef MSX_CLIENTS_COMMON_COMMAND_LINE_H_
#define MSX_CLIENTS_COMMON_COMMAND_LINE_H_

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace msx::clients {

// Parses `args` (without the program name) against `flags`: flag values go to `vm` and to
// the variables the flags were defined with; every other argument goes to `positional`, in
// order (flags may come before, between or after them). Abbreviated flags are refused: a
// prefix could silently pick another flag (--truncate-* cut a journal). Fails with
// InvalidArgument and Boost's message, which names the flag: "unrecognised option
// '--frob'", "the required argument for option '--top' is missing", "option '--json' does
// not take any arguments".
absl::Status ParseFlags(const std::vector<std::string>& args,
                        const boost::program_options::options_description& flags,
                        std::vector<std::string>* positional,
                        boost::program_options::variables_map* vm);

}  // namespace msx::clients

#endif  // MSX_CLIENTS_COMMON_COMMAND_LINE_H_
