// msx-journal: verify, dump and summarize an MSX journal directory. See journal_tool.h.
#include <iostream>
#include <string>
#include <vector>

#include "clients/journal/journal_tool.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return msx::journal_tool::Run(args, std::cout, std::cerr);
}
