// Offer records of the engine, indexed by offer id: the hot record (one cache line: what
// matching and cancel touch) and the cold record (acceptance, queries, snapshots) in
// chunks of 65,536 ids that never move, freed once all their offers are purged.
// Single-threaded (the engine's thread), like the engine.
#ifndef MSX_ENGINE_INTERNAL_OFFER_STORE_H_
#define MSX_ENGINE_INTERNAL_OFFER_STORE_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/matching/types.h"

namespace msx::internal {

inline constexpr OfferId kNil = 0;
inline constexpr AgencyMask kAllAgencies = ~AgencyMask{0};

// The hot part of an offer: everything the match loop and cancel touch, one cache line.
// What only acceptance, queries and snapshots use is in its ColdRecord, stored apart, so
// the records reached at random (cancels, fills, FIFO tails) are packed 64 bytes apart.
struct alignas(64) OfferRecord {
  // Hot.
  OfferId prev;  // neighbours in the offer's (level, agency) FIFO
  OfferId next;
  Lots open;
  Price price;
  AgencyMask accept;  // counterparties this offer accepts: (allow or all) minus deny
  Lots filled;
  std::uint64_t stamp;  // time priority within its level (lower = earlier), set when linked
  PairId pair;
  std::uint8_t agency;  // an AgencyId: < kMaxAgencies
  Side side;
  TimeInForce tif;
  OfferStatus status;
};
static_assert(sizeof(OfferRecord) == 64, "hot fields must fill one cache line");

struct alignas(64) ColdRecord {
  Lots original;
  Lots min_fill;
  TimeNs expiry;
  AgencyMask allow;
  AgencyMask deny;
  ClientOfferId client_id;
  Seq accepted_seq;
  TimeNs accepted_time;
};
static_assert(sizeof(ColdRecord) == 64);
// No padding in either record: a whole-record assignment writes every byte.
static_assert(std::has_unique_object_representations_v<OfferRecord>);
static_assert(std::has_unique_object_representations_v<ColdRecord>);
static_assert(kMaxAgencies <= 256, "OfferRecord::agency is one byte");

// Offer records indexed by offer id, in fixed-size chunks that never move. A chunk holds
// the hot records of 65,536 consecutive ids (4 MiB) followed by their cold records (4 MiB).
class OfferStore {
 public:
  static constexpr int kShift = 16;
  static constexpr std::uint64_t kChunk = std::uint64_t{1} << kShift;

  // Makes room for `offers` records without further allocation; with `prefault`, the
  // chunks are allocated and written now so that appending never page-faults.
  void Reserve(std::size_t offers, bool prefault) {
    chunks_.reserve(offers / kChunk + 1);
    meta_.reserve(offers / kChunk + 1);
    if (!prefault) return;
    while (chunks_.size() * kChunk < offers) {
      chunks_.push_back(AllocateChunk());
      meta_.emplace_back();
      std::memset(static_cast<void*>(chunks_.back().get()), 0, kChunkBytes);
    }
  }
  // Offer ids issued so far (the records of some may have been purged).
  std::uint64_t size() const { return size_; }
  void Clear() {
    chunks_.clear();
    meta_.clear();
    spare_.clear();
    size_ = 0;
    resident_chunks_ = 0;
  }

  // REQUIRES: 1 <= id <= size(). False once every offer of id's chunk is purged and its
  // records are freed; true does not mean `id` is not purged (see Purged()).
  bool Resident(OfferId id) const noexcept { return chunks_[(id - 1) >> kShift] != nullptr; }
  // REQUIRES: 1 <= id <= size().
  bool Purged(OfferId id) const noexcept {
    const std::uint64_t i = id - 1;
    if (chunks_[i >> kShift] == nullptr) return true;
    const std::uint64_t* bits = meta_[i >> kShift].bits.get();
    return bits != nullptr && ((bits[(i & (kChunk - 1)) >> 6] >> (i & 63)) & 1) != 0;
  }
  // Marks `id` purged: its records may no longer be read. Frees its chunk (for reuse by a
  // later one) once every offer of it is purged. REQUIRES: 1 <= id <= size(), !Purged(id).
  void Purge(OfferId id) {
    const std::uint64_t i = id - 1;
    const std::uint64_t c = i >> kShift;
    ChunkMeta& m = meta_[c];
    if (m.bits == nullptr) m.bits = std::make_unique<std::uint64_t[]>(kChunk / 64);  // zeroed
    m.bits[(i & (kChunk - 1)) >> 6] |= std::uint64_t{1} << (i & 63);
    if (++m.purged == kChunk) {
      // Every id of the chunk was issued (and purged): nothing reads its records again.
      spare_.push_back(std::move(chunks_[c]));
      m.bits.reset();
      --resident_chunks_;
    }
  }
  // Chunks holding records (8 MiB each), for memory accounting.
  std::size_t resident_chunks() const { return resident_chunks_; }

  // Issues ids size()+1 .. `last` as purged offers (LoadState: their records are not in
  // the snapshot). Whole chunks of them get no memory.
  void SkipPurged(std::uint64_t last) {
    while (size_ < last) {
      const std::uint64_t c = size_ >> kShift;  // the chunk of id size_ + 1
      if ((size_ & (kChunk - 1)) == 0 && last - size_ >= kChunk) {
        if (c == chunks_.size()) {
          chunks_.emplace_back();
          meta_.emplace_back();
        } else if (chunks_[c] != nullptr) {  // prefaulted: back to the spare pool
          spare_.push_back(std::move(chunks_[c]));
          --resident_chunks_;
        }
        meta_[c].purged = kChunk;
        size_ += kChunk;
        continue;
      }
      EnsureChunk(c);
      ++size_;
      Purge(size_);
    }
  }

  // REQUIRES: 1 <= id <= size().
  OfferRecord& operator[](OfferId id) noexcept {
    const std::uint64_t i = id - 1;
    return reinterpret_cast<OfferRecord*>(chunks_[i >> kShift].get())[i & (kChunk - 1)];
  }
  const OfferRecord& operator[](OfferId id) const noexcept {
    const std::uint64_t i = id - 1;
    return reinterpret_cast<const OfferRecord*>(chunks_[i >> kShift].get())[i & (kChunk - 1)];
  }
  ColdRecord& Cold(OfferId id) noexcept {
    const std::uint64_t i = id - 1;
    return reinterpret_cast<ColdRecord*>(chunks_[i >> kShift].get() + kHotBytes)[i & (kChunk - 1)];
  }
  const ColdRecord& Cold(OfferId id) const noexcept {
    const std::uint64_t i = id - 1;
    return reinterpret_cast<const ColdRecord*>(chunks_[i >> kShift].get() +
                                               kHotBytes)[i & (kChunk - 1)];
  }

  // Appends zeroed records (hot and cold) with id size()+1; returns the hot one.
  OfferRecord& Append() {
    return Append(OfferRecord{}, ColdRecord{});
  }
  // Appends `hot` and `cold` as the records of id size()+1; returns the hot one. Each
  // record is one whole 64-byte store sequence (both types have no padding), so a new
  // offer's lines are written once instead of zeroed first and then filled in. Always
  // inlined: the caller's records are then stored straight into their slots (called out
  // of line, they were built on the stack and copied, twice the stores).
  [[gnu::always_inline]] OfferRecord& Append(const OfferRecord& hot, const ColdRecord& cold) {
    if ((size_ & (kChunk - 1)) == 0 && (size_ >> kShift) == chunks_.size()) {
      // Not zeroed: pages are touched as records are appended, not all at once.
      chunks_.push_back(AllocateChunk());
      meta_.emplace_back();
    }
    ++size_;
    OfferRecord& r = (*this)[size_];
    r = hot;
    Cold(size_) = cold;
    // Start loading (for writing) the lines the records kAppendAhead appends from now will
    // take: ids grow by one per accepted offer, so the next records' lines are known long
    // before they are written (a prefetch of a page not yet touched is simply dropped).
    if (((size_ - 1) & (kChunk - 1)) + kAppendAhead < kChunk) {
      __builtin_prefetch(&r + kAppendAhead, 1);
      __builtin_prefetch(&Cold(size_) + kAppendAhead, 1);
    }
    return r;
  }

 private:
  // 8 MiB chunks aligned to 2 MiB and advised as huge pages: offers are reached at random
  // (cancels, fills), and with 4 KiB pages nearly every such access misses the TLB.
  static constexpr std::size_t kHotBytes = kChunk * sizeof(OfferRecord);
  static constexpr std::size_t kChunkBytes = kHotBytes + kChunk * sizeof(ColdRecord);
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;
  static constexpr std::uint64_t kAppendAhead = 4;
  struct FreeChunk {
    void operator()(std::byte* p) const { std::free(p); }
  };
  using Chunk = std::unique_ptr<std::byte[], FreeChunk>;
  struct ChunkMeta {
    std::uint32_t purged = 0;                 // ids of the chunk purged
    std::unique_ptr<std::uint64_t[]> bits;    // which; allocated at the chunk's first purge
  };
  // The chunk for offers [c * kChunk + 1, (c + 1) * kChunk] (c <= chunks_.size()).
  void EnsureChunk(std::uint64_t c) {
    if (c == chunks_.size()) {
      chunks_.emplace_back();
      meta_.emplace_back();
    }
    if (chunks_[c] == nullptr) chunks_[c] = AllocateChunk();
  }
  // A freed chunk if any (its pages are already faulted in), else a new one.
  Chunk AllocateChunk() {
    ++resident_chunks_;
    if (!spare_.empty()) {
      Chunk c = std::move(spare_.back());
      spare_.pop_back();
      return c;
    }
    void* p = std::aligned_alloc(kHugePage, kChunkBytes);
    if (p == nullptr) std::abort();  // out of memory: as `new` in a noexcept path
#ifdef MADV_HUGEPAGE
    madvise(p, kChunkBytes, MADV_HUGEPAGE);  // advice only; failure changes nothing
#endif
    return Chunk(static_cast<std::byte*>(p));
  }

  std::vector<Chunk> chunks_;   // null: every offer of the chunk purged (or not issued)
  std::vector<ChunkMeta> meta_;  // parallel to chunks_
  std::vector<Chunk> spare_;     // freed chunks, reused first
  std::uint64_t size_ = 0;
  std::size_t resident_chunks_ = 0;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_OFFER_STORE_H_
