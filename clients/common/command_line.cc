#include "clients/common/command_line.h"

namespace msx::clients {
namespace po = boost::program_options;

absl::Status ParseFlags(const std::vector<std::string>& args, const po::options_description& flags,
                        std::vector<std::string>* positional, po::variables_map* vm) {
  po::options_description all;
  all.add(flags);
  all.add_options()("positional", po::value(positional), "");
  po::positional_options_description pos;
  pos.add("positional", -1);
  try {
    po::store(
        po::command_line_parser(args)
            .options(all)
            .positional(pos)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        *vm);
    po::notify(*vm);
  } catch (const po::error& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return absl::OkStatus();
}

}  // namespace msx::clients
