// Price levels of the engine's books and the arena their arrays come from. A level holds
// running totals and a block of per-agency FIFOs (AgencyList, heads and tails of intrusive
// lists through the offer records).
#ifndef MSX_ENGINE_INTERNAL_LEVEL_ARENA_H_
#define MSX_ENGINE_INTERNAL_LEVEL_ARENA_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/matching/types.h"

namespace msx::internal {

// A price level: running totals plus one FIFO per agency. Time priority across agencies is
// the offers' `stamp`, so a match walk merges the FIFOs of the agencies it may trade with
// (and its own, for self-match) and never reads offers of agencies it cannot trade with.
struct Level {
  Lots lots;
  std::uint32_t count;    // open offers
  std::uint32_t lists;    // block of per-agency FIFOs (Impl::lists_); valid while count > 0
  AgencyMask agencies;    // agencies whose FIFO is non-empty
  std::uint64_t touch;    // command stamp of the last touch (market-data bookkeeping)
};

struct AgencyList {
  OfferId head;
  OfferId tail;
};

// Asks for transparent huge pages on the 2 MiB-aligned part of [p, p + bytes).
inline void AdviseHugePages(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// Memory for the books' level arrays: 8 MiB slabs, 2 MiB-aligned and advised as huge pages,
// carved in order and freed all at once. The levels of all books then share a few huge
// pages instead of scattering over 4 KiB pages (a level reached at random would otherwise
// often cost a TLB miss). Allocates when a book is first used, never per command.
class LevelArena {
 public:
  // `n` zeroed levels, 64-byte aligned, valid until Clear().
  Level* Allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(Level) + 63) / 64 * 64;
    if (bytes > kSlab - used_) {
      if (bytes > kSlab) {  // a slab of its own; the current slab stays in use
        std::byte* p = NewSlab((bytes + kHuge - 1) / kHuge * kHuge);
        std::memset(p, 0, bytes);
        return reinterpret_cast<Level*>(p);
      }
      base_ = NewSlab(kSlab);
      used_ = 0;
    }
    std::byte* p = base_ + used_;
    used_ += bytes;
    std::memset(p, 0, bytes);
    return reinterpret_cast<Level*>(p);
  }
  void Clear() {
    slabs_.clear();
    base_ = nullptr;
    used_ = kSlab;
  }

 private:
  static constexpr std::size_t kSlab = std::size_t{8} << 20;
  static constexpr std::size_t kHuge = std::size_t{2} << 20;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::byte* NewSlab(std::size_t bytes) {
    void* p = std::aligned_alloc(kHuge, bytes);
    if (p == nullptr) std::abort();  // out of memory: as `new`
    AdviseHugePages(p, bytes);
    slabs_.emplace_back(static_cast<std::byte*>(p));
    return static_cast<std::byte*>(p);
  }
  std::vector<std::unique_ptr<std::byte[], Free>> slabs_;
  std::byte* base_ = nullptr;
  std::size_t used_ = kSlab;  // bytes handed out of the current slab (none yet)
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_LEVEL_ARENA_H_
