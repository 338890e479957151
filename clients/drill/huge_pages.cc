#include "clients/drill/huge_pages.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace msx::drill {

void EnableHugePageMalloc(char** argv) {
  if (std::getenv("MSX_DRILL_NO_HUGE_PAGES") != nullptr) return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (current != nullptr && std::strstr(current, "glibc.malloc.hugetlb") != nullptr) return;
  std::string tunables = current != nullptr && *current != '\0'
                             ? std::string(current) + ":glibc.malloc.hugetlb=1"
                             : std::string("glibc.malloc.hugetlb=1");
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // The exec failed: carry on with normal pages, and do not retry in children.
  ::setenv("MSX_DRILL_NO_HUGE_PAGES", "1", 1);
}

}  // namespace msx::drill
