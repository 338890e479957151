// MpscRing: a bounded multi-producer, single-consumer ring of trivially copyable values.
//
// The hand-off between gRPC threads (producers) and the sequencer thread (the one
// consumer). Capacity is a power of two fixed at construction; nothing allocates after
// that. TryPush never blocks: a full ring returns false, which the gateway turns into
// RESOURCE_EXHAUSTED (back-pressure as a value, as in Aeron's OfferResult).
//
// Algorithm: every slot carries a sequence counter (D. Vyukov's bounded queue). A producer
// claims position p with a CAS on `tail_` when slot p's counter equals p, writes the value,
// then publishes by storing p + 1 into the counter. The consumer reads slot `head_` when its
// counter equals head + 1, then frees it by storing head + capacity. Head and tail live on
// separate cache lines.
//
// Blocking consumer: Pop busy-waits (pause, no yield) for at most `spin_ns` (default 0),
// then waits (futex via std::atomic::wait) while the ring stays empty; producers wake it
// only when it has announced that it sleeps, so a busy consumer costs producers one extra
// load per push. (The sequencer used to spin 200 rounds with sched_yield before parking: on
// two shared cores it then showed ~4,000 involuntary context switches per second in
// /proc/<pid>/task/*/status and competed for the CPU with the gRPC threads.)
//
// Thread-safety: TryPush from any number of threads; Pop/TryPop from ONE thread.
#ifndef MSX_GATEWAY_MPSC_RING_H_
#define MSX_GATEWAY_MPSC_RING_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>

namespace msx::gateway {

template <typename T>
class MpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // REQUIRES: capacity is a power of two, >= 2.
  // `spin_ns`: how long Pop busy-waits on an empty ring before it parks the consumer.
  explicit MpscRing(std::size_t capacity, std::int64_t spin_ns = 0)
      : capacity_(capacity), mask_(capacity - 1), spin_ns_(spin_ns), slots_(new Slot[capacity]) {
    for (std::size_t i = 0; i < capacity; ++i) {
      slots_[i].seq.store(i, std::memory_order_relaxed);
    }
  }
  MpscRing(const MpscRing&) = delete;
  MpscRing& operator=(const MpscRing&) = delete;

  static bool IsPowerOfTwo(std::size_t n) { return n >= 2 && (n & (n - 1)) == 0; }

  std::size_t capacity() const { return capacity_; }

  // Approximate number of queued values (exact when no push/pop is in progress).
  std::size_t size() const {
    std::size_t tail = tail_.load(std::memory_order_relaxed);
    std::size_t head = head_.load(std::memory_order_relaxed);
    return tail >= head ? tail - head : 0;
  }

  // Appends `value` unless the ring is full. Never blocks. Any thread.
  bool TryPush(const T& value) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      std::size_t seq = slot.seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.value = value;
          slot.seq.store(pos + 1, std::memory_order_release);
          WakeConsumer();
          return true;
        }
      } else if (diff < 0) {
        return false;  // the slot still holds a value from one lap ago: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // Takes the oldest value if any. Consumer thread only.
  bool TryPop(T* out) noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    Slot& slot = slots_[pos & mask_];
    std::size_t seq = slot.seq.load(std::memory_order_acquire);
    if (seq != pos + 1) return false;
    *out = slot.value;
    slot.seq.store(pos + capacity_, std::memory_order_release);
    head_.store(pos + 1, std::memory_order_relaxed);
    return true;
  }

  // Takes the oldest value, waiting as long as it takes. Consumer thread only. To stop a
  // waiting consumer, push a value that tells it to stop.
  void Pop(T* out) noexcept {
    if (TryPop(out)) return;
    if (spin_ns_ > 0) {
      // Busy-wait (pause, never yield) for at most spin_ns_ before parking.
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
      do {
        for (int i = 0; i < 32; ++i) {
          if (TryPop(out)) return;
          CpuRelax();
        }
      } while (std::chrono::steady_clock::now() < until);
    }
    for (;;) {
      std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
      sleeping_.store(true, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with WakeConsumer's fence
      if (TryPop(out)) {
        sleeping_.store(false, std::memory_order_relaxed);
        return;
      }
      epoch_.wait(epoch, std::memory_order_acquire);
      sleeping_.store(false, std::memory_order_relaxed);
      if (TryPop(out)) return;
    }
  }


 private:
  struct Slot {
    std::atomic<std::size_t> seq;
    T value;
  };

  void WakeConsumer() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_relaxed)) {
      epoch_.fetch_add(1, std::memory_order_release);
      epoch_.notify_one();
    }
  }

  static void CpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  const std::size_t capacity_;
  const std::size_t mask_;
  const std::int64_t spin_ns_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<std::uint32_t> epoch_{0};
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_MPSC_RING_H_
