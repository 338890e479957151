// msx: the MSX agency command line. See `msx --help`.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "clients/msx/cli.h"
#include "clients/msx/commands.h"
#include "clients/msx/exit_codes.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto inv = msx::cli::ParseInvocation(args, [](const char* name) { return std::getenv(name); });
  if (!inv.ok()) {
    std::cerr << "msx: " << inv.status().message() << " (try --help)" << std::endl;
    return msx::cli::kExitUsage;
  }
  if (!inv->help.empty()) {
    std::cout << inv->help;
    return msx::cli::kExitOk;
  }
  if (inv->command == "watch" || inv->command == "watch-book") {
    // Block the stop signals before gRPC starts any thread, so that every thread inherits
    // the mask and only the stream's signal watcher receives them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  return msx::cli::RunInvocation(*inv, std::cout, std::cerr);
}
