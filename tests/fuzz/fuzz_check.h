// Invariant checks for the fuzz targets. A failed check prints what broke and aborts, which
// libFuzzer reports as a crash (and saves the input) and the corpus replay turns into a
// failed CTest test. Unlike assert(), it is active in every build type.
#ifndef MSX_TESTS_FUZZ_FUZZ_CHECK_H_
#define MSX_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define MSX_FUZZ_CHECK(cond, ...)                                                    \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                             \
      std::fprintf(stderr, "\n");                                                    \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

#endif  // MSX_TESTS_FUZZ_FUZZ_CHECK_H_
