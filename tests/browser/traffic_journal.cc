// msx-test-traffic-journal DIR [COMMANDS [SEED]]: writes a journal of synthetic but valid
// traffic on the embedded default configuration (engine/testing/traffic_journal.h) to DIR, for
// tests that drive the real binaries from outside (the browser tests). Prints the
// traffic's figures as one JSON object.
#include <cstdint>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "engine/config/config.h"
#include "engine/testing/traffic_journal.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::cerr << "usage: msx-test-traffic-journal DIR [COMMANDS [SEED]]\n";
    return 2;
  }
  msx::testing::TrafficOptions options;
  options.commands = 3000;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &options.commands)) {
    std::cerr << "msx-test-traffic-journal: COMMANDS: not a non-negative integer: " << argv[2]
              << "\n";
    return 2;
  }
  if (argc > 3 && !absl::SimpleAtoi(argv[3], &options.seed)) {
    std::cerr << "msx-test-traffic-journal: SEED: not a non-negative integer: " << argv[3] << "\n";
    return 2;
  }
  absl::StatusOr<msx::testing::TrafficStats> stats =
      msx::testing::WriteTrafficJournal(argv[1], msx::DefaultConfig(), options);
  if (!stats.ok()) {
    std::cerr << "msx-test-traffic-journal: " << stats.status().message() << "\n";
    return 1;
  }
  std::cout << "{\"commands\":" << stats->commands << ",\"records\":" << stats->records
            << ",\"fills\":" << stats->fills << ",\"accepted\":" << stats->accepted
            << ",\"rejected\":" << stats->rejected << "}\n";
  return 0;
}
