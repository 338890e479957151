// msx-loadgen: end-to-end latency and throughput of msx-server. See `msx-loadgen --help`.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "clients/loadgen/loadgen.h"
#include "clients/loadgen/options.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = msx::loadgen::ParseLoadgenOptions(args, std::getenv("MSX_SERVER"));
  if (!parsed.ok()) {
    std::cerr << "msx-loadgen: " << parsed.status().message() << " (try --help)" << std::endl;
    return 2;
  }
  if (!parsed->help.empty()) {
    std::cout << parsed->help;
    return 0;
  }
  auto summary = msx::loadgen::RunLoad(parsed->options);
  if (!summary.ok()) {
    std::cerr << "msx-loadgen: " << summary.status().ToString() << std::endl;
    return 1;
  }
  std::cout << msx::loadgen::SummaryText(*summary);
  if (parsed->options.json) std::cout << msx::loadgen::SummaryJson(*summary) << "\n";
  std::cout.flush();
  return 0;
}
