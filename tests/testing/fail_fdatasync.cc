// An LD_PRELOAD shim that makes fdatasync(2) fail with EIO on demand, for end-to-end tests
// of a real msx-server whose journal sync fails (tests/server_sync_failure_test.cc).
//
//   LD_PRELOAD=libmsx_fail_fdatasync.so MSX_FAIL_FDATASYNC_IF_EXISTS=/tmp/x/now msx-server ...
//
// While the file named by MSX_FAIL_FDATASYNC_IF_EXISTS exists, every fdatasync returns -1
// with errno EIO and syncs nothing, as the kernel does after a failed writeback; otherwise
// the call goes to the C library. While the file named by MSX_SLOW_FDATASYNC_IF_EXISTS
// exists, every fdatasync first sleeps MSX_SLOW_FDATASYNC_MS (default 300) milliseconds, a
// slow disk: a replicated primary then holds each group's replies that long after the
// NATS quorum stored it (tests/standby_test.cc kills it in that window). The production binary is unchanged: the failure enters
// at the same boundary as a real one (the libc call), through the dynamic linker.
//
// Thread-safety: thread-safe (one stat(2) per call; the environment is read once).
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

namespace {

using FdatasyncFn = int (*)(int);

FdatasyncFn RealFdatasync() {
  static const FdatasyncFn real = reinterpret_cast<FdatasyncFn>(dlsym(RTLD_NEXT, "fdatasync"));
  return real;
}

bool FailNow() {
  static const char* const trigger = getenv("MSX_FAIL_FDATASYNC_IF_EXISTS");
  struct stat st;
  return trigger != nullptr && trigger[0] != '\0' && stat(trigger, &st) == 0;
}

bool SlowNow() {
  static const char* const trigger = getenv("MSX_SLOW_FDATASYNC_IF_EXISTS");
  struct stat st;
  return trigger != nullptr && trigger[0] != '\0' && stat(trigger, &st) == 0;
}

long SlowMs() {
  static const long ms = [] {
    const char* v = getenv("MSX_SLOW_FDATASYNC_MS");
    return v != nullptr && v[0] != '\0' ? atol(v) : 300L;
  }();
  return ms;
}

}  // namespace

extern "C" int fdatasync(int fd) {
  if (SlowNow()) {
    const long ms = SlowMs();
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
  }
  if (FailNow()) {
    errno = EIO;
    return -1;
  }
  FdatasyncFn real = RealFdatasync();
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}
