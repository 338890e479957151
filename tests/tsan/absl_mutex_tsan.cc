// ThreadSanitizer builds only (MSX_SANITIZE=thread, scripts/tsan.sh): makes Debian's
// uninstrumented absl::Mutex and absl::CondVar visible to TSan.
//
// Why: libabsl_synchronization.so is built without -fsanitize=thread, so its Lock and
// Unlock never tell TSan that a lock was taken; every field the journal writer guards with
// an absl::Mutex (and everything gRPC hands between threads under its absl-based locks)
// would be reported as a data race. Only the Mutex constructor is inline (and annotated).
//
// How: this shared library is linked first into every executable of the TSan build, so the
// dynamic linker binds absl::Mutex / absl::CondVar calls (ours and gRPC's) to the
// definitions below. Each one makes the same __tsan_mutex_* annotations absl itself makes
// when it is built with TSan (absl/synchronization/mutex.cc) around a call to the real
// function, found with dlsym(RTLD_NEXT). The *WithTimeout functions call their
// *WithDeadline wrapper (as absl does), so that no wait is annotated twice. The mangled
// names are derived from absl's inline namespace, so a different absl build fails loudly
// at the first call, never silently.
//
// The destructor is deliberately not annotated: gRPC destroys its objects (and their
// mutexes) after dropping reference counts that TSan cannot see, so every such destroy
// would be reported as a race with the last lock. TSan forgets a mutex when its memory
// is freed by our code; one freed inside gRPC keeps its state (which can only add
// happens-before edges, never a false report).
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

extern "C" {
// From <sanitizer/tsan_interface.h>; weak so that the library also loads into a process
// without the TSan runtime (it then only forwards).
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion) __attribute__((weak));
int __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
}

namespace {

constexpr unsigned kReadLock = 1 << 3;       // __tsan_mutex_read_lock
constexpr unsigned kTryLock = 1 << 4;        // __tsan_mutex_try_lock
constexpr unsigned kTryLockFailed = 1 << 5;  // __tsan_mutex_try_lock_failed

#define MSX_STR2(x) #x
#define MSX_STR(x) MSX_STR2(x)

template <typename F>
F Real(const char* rest) {
  const std::string ns = MSX_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + rest;
  void* p = ::dlsym(RTLD_NEXT, name.c_str());
  if (p == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan: %s not found in the next library\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

void PreLock(void* m, unsigned f) {
  if (__tsan_mutex_pre_lock) __tsan_mutex_pre_lock(m, f);
}
void PostLock(void* m, unsigned f) {
  if (__tsan_mutex_post_lock) __tsan_mutex_post_lock(m, f, 0);
}
void PreUnlock(void* m, unsigned f) {
  if (__tsan_mutex_pre_unlock) __tsan_mutex_pre_unlock(m, f);
}
void PostUnlock(void* m, unsigned f) {
  if (__tsan_mutex_post_unlock) __tsan_mutex_post_unlock(m, f);
}
// A wait releases the mutex and holds it again when it returns (absl's CondVar::WaitCommon
// and Mutex::AwaitCommon annotate it the same way).
void BeforeWait(void* m) {
  PreUnlock(m, 0);
  PostUnlock(m, 0);
}
void AfterWait(void* m) {
  PreLock(m, 0);
  PostLock(m, 0);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN


void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  PreLock(this, 0);
  real(this);
  PostLock(this, 0);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  PreLock(this, kReadLock);
  real(this);
  PostLock(this, kReadLock);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  PreLock(this, kTryLock);
  const bool ok = real(this);
  PostLock(this, kTryLock | (ok ? 0 : kTryLockFailed));
  return ok;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  PreLock(this, kReadLock | kTryLock);
  const bool ok = real(this);
  PostLock(this, kReadLock | kTryLock | (ok ? 0 : kTryLockFailed));
  return ok;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  PreUnlock(this, 0);
  real(this);
  PostUnlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  PreUnlock(this, kReadLock);
  real(this);
  PostUnlock(this, kReadLock);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  PreLock(this, 0);
  real(this, cond);
  PostLock(this, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  PreLock(this, kReadLock);
  real(this, cond);
  PostLock(this, kReadLock);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  // absl implements it as LockWhenWithDeadline(..., Now() + timeout), a call through the
  // PLT that would reach the wrapper below a second time: annotate once, there.
  return LockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  PreLock(this, 0);
  const bool r = real(this, cond, deadline);
  PostLock(this, 0);
  return r;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  // absl implements it as ReaderLockWhenWithDeadline(..., Now() + timeout), a call through the
  // PLT that would reach the wrapper below a second time: annotate once, there.
  return ReaderLockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  PreLock(this, kReadLock);
  const bool r = real(this, cond, deadline);
  PostLock(this, kReadLock);
  return r;
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  BeforeWait(this);
  real(this, cond);
  AfterWait(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  // absl implements it as AwaitWithDeadline(..., Now() + timeout), a call through the
  // PLT that would reach the wrapper below a second time: annotate once, there.
  return AwaitWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  BeforeWait(this);
  const bool r = real(this, cond, deadline);
  AfterWait(this);
  return r;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  BeforeWait(mu);
  real(this, mu);
  AfterWait(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  // absl implements it as WaitWithDeadline(..., Now() + timeout), a call through the
  // PLT that would reach the wrapper below a second time: annotate once, there.
  return WaitWithDeadline(mu, absl::Now() + timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  BeforeWait(mu);
  const bool r = real(this, mu, deadline);
  AfterWait(mu);
  return r;
}

ABSL_NAMESPACE_END
}  // namespace absl
