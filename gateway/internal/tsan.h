// Happens-before annotations for hand-offs made inside uninstrumented libraries (libgrpc),
// which ThreadSanitizer cannot see. No-ops outside TSan builds. Private to gateway/.
#ifndef MSX_GATEWAY_INTERNAL_TSAN_H_
#define MSX_GATEWAY_INTERNAL_TSAN_H_

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MSX_GATEWAY_TSAN 1
#endif
#endif
#if !defined(MSX_GATEWAY_TSAN) && defined(__SANITIZE_THREAD__)
#define MSX_GATEWAY_TSAN 1
#endif

#ifdef MSX_GATEWAY_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace msx::gateway::internal {

// What the calling thread did so far happens before whatever follows a matching
// GrpcHandOffAcquire(key) on another thread. `key` names the hand-off (a reactor's
// address) and must still be allocated when the acquire runs.
inline void GrpcHandOffRelease([[maybe_unused]] void* key) {
#ifdef MSX_GATEWAY_TSAN
  __tsan_release(key);
#endif
}

inline void GrpcHandOffAcquire([[maybe_unused]] void* key) {
#ifdef MSX_GATEWAY_TSAN
  __tsan_acquire(key);
#endif
}

}  // namespace msx::gateway::internal

#endif  // MSX_GATEWAY_INTERNAL_TSAN_H_
