// ClientIndex: (agency, client offer id) -> offer id, for duplicate detection and
// FindByClientId, over every offer the engine still remembers (Erase forgets one when its
// offer passes the retention window; its client id may then be used again).
//
// Agencies usually number their offers with increasing client ids. Per agency, ids above
// every id seen so far are appended to a sorted, chunked array (sequential writes, no
// hashing, no probe into a large table: the common case touches one cache line); any other
// id goes to a per-agency absl::flat_hash_map. Lookups binary-search the array and then
// probe the map. Exact for any id sequence: an id above the agency's maximum cannot be in
// the map, because the map only holds ids that were below the maximum when inserted.
//
// Erase tombstones an array entry (offer 0) and gives a chunk back for reuse once all of its
// entries are erased (except the last chunk of an agency, which takes the appends), or
// erases from the map.
//
// Thread-safety: none. Allocation: one 64 KiB chunk per 4,096 increasing ids per agency,
// taken from the chunks given back first.
// With `prefault`, Reset() allocates and zeroes a pool of chunks for `expected_offers` ids
// (shared by all agencies, whatever their shares), so that inserting never allocates or
// page-faults until the pool runs out; chunks beyond it are allocated one by one.
#ifndef MSX_ENGINE_INTERNAL_CLIENT_INDEX_H_
#define MSX_ENGINE_INTERNAL_CLIENT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <sys/mman.h>

#include "absl/container/flat_hash_map.h"
#include "engine/matching/types.h"

namespace msx::internal {

class ClientIndex {
  static constexpr std::size_t kChunk = 4096;
  struct Entry {
    ClientOfferId client_id;
    OfferId offer;  // 0 = erased
  };
  struct PerAgency {
    std::vector<Entry*> chunks;  // increasing client ids; owned by pool_ or extra_
    std::vector<std::uint32_t> dead;  // erased entries per chunk
    std::size_t last_n = 0;      // entries used in chunks.back()
    ClientOfferId max = 0;       // the last (largest) id appended to `chunks`
    absl::flat_hash_map<ClientOfferId, OfferId> others;
  };

 public:
  void Reset(std::size_t agencies, std::size_t expected_offers, bool prefault = false) {
    per_agency_.clear();
    per_agency_.resize(agencies);
    for (PerAgency& p : per_agency_) p.others.reserve(expected_offers / 64 / (agencies + 1) + 16);
    pool_.reset();
    pool_chunks_ = 0;
    pool_used_ = 0;
    extra_.clear();
    free_.clear();
    if (!prefault) return;
    // Every agency's first chunk may be partly used, hence `agencies` more.
    pool_chunks_ = expected_offers / kChunk + agencies;
    const std::size_t bytes = (pool_chunks_ * kChunkBytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, bytes);
    if (p == nullptr) std::abort();  // out of memory: as `new` in a noexcept path
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);  // advice only; failure changes nothing
#endif
    std::memset(p, 0, bytes);
    pool_.reset(static_cast<Entry*>(p));
    for (PerAgency& pa : per_agency_) pa.chunks.reserve(pool_chunks_);
  }

  // The offer registered under (agency, client_id), or 0.
  // REQUIRES: agency < agencies given to Reset().
  OfferId Find(AgencyId agency, ClientOfferId client_id) const noexcept {
    const PerAgency& p = per_agency_[agency];
    if (p.chunks.empty() || client_id > p.max) {
      return 0;  // above every id seen: neither in the array nor in the map
    }
    std::size_t chunk_index, entry_index;
    if (FindInArray(p, client_id, &chunk_index, &entry_index)) {
      return p.chunks[chunk_index][entry_index].offer;
    }
    if (p.others.empty()) return 0;
    auto it = p.others.find(client_id);
    return it == p.others.end() ? 0 : it->second;
  }

  // Forgets (agency, client_id) if it maps to `offer`. REQUIRES: agency < agencies.
  void Erase(AgencyId agency, ClientOfferId client_id, OfferId offer) noexcept {
    PerAgency& p = per_agency_[agency];
    if (p.chunks.empty() || client_id > p.max) return;
    std::size_t c, e;
    if (FindInArray(p, client_id, &c, &e)) {
      if (p.chunks[c][e].offer != offer) return;
      p.chunks[c][e].offer = 0;  // a tombstone keeps the array sorted
      if (++p.dead[c] == kChunk && c + 1 < p.chunks.size()) {
        // Every entry erased, and not the chunk the appends go to: give it back. O(chunks
        // of the agency), once per 4,096 erased ids.
        free_.push_back(p.chunks[c]);  // capacity reserved in NewChunk
        p.chunks.erase(p.chunks.begin() + static_cast<std::ptrdiff_t>(c));
        p.dead.erase(p.dead.begin() + static_cast<std::ptrdiff_t>(c));
      }
      return;
    }
    auto it = p.others.find(client_id);
    if (it != p.others.end() && it->second == offer) p.others.erase(it);
  }

  // Chunks of 4,096 entries in use (tests: erased ids give their memory back).
  std::size_t ChunksInUse() const {
    std::size_t n = 0;
    for (const PerAgency& p : per_agency_) n += p.chunks.size();
    return n;
  }

 private:
  // True with the position of a live (not erased) array entry for client_id.
  static bool FindInArray(const PerAgency& p, ClientOfferId client_id, std::size_t* chunk_index,
                          std::size_t* entry_index) noexcept {
    // Binary search over the increasing array: first on chunk heads, then inside a chunk.
    std::size_t lo = 0, hi = p.chunks.size();
    while (hi - lo > 1) {
      const std::size_t mid = (lo + hi) / 2;
      if (p.chunks[mid][0].client_id <= client_id) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    const Entry* chunk = p.chunks[lo];
    const std::size_t n = lo + 1 == p.chunks.size() ? p.last_n : kChunk;
    std::size_t a = 0, b = n;
    while (a < b) {
      const std::size_t mid = (a + b) / 2;
      if (chunk[mid].client_id < client_id) {
        a = mid + 1;
      } else {
        b = mid;
      }
    }
    // Ids in the array are strictly increasing, so there is at most one entry; an erased
    // one (offer 0) may have been reinserted in the map.
    if (a < n && chunk[a].client_id == client_id && chunk[a].offer != 0) {
      *chunk_index = lo;
      *entry_index = a;
      return true;
    }
    return false;
  }

 public:
  // REQUIRES: Find(agency, client_id) == 0; client_id != 0; offer != 0.
  void Insert(AgencyId agency, ClientOfferId client_id, OfferId offer) {
    PerAgency& p = per_agency_[agency];
    // The common case, inline: an id above the maximum, with room in the last chunk.
    if (p.chunks.empty() || client_id <= p.max || p.last_n == kChunk) [[unlikely]] {
      return InsertSlow(p, client_id, offer);
    }
    p.chunks.back()[p.last_n++] = {client_id, offer};
    p.max = client_id;
  }

 private:
  [[gnu::noinline]] void InsertSlow(PerAgency& p, ClientOfferId client_id, OfferId offer) {
    // Not above the maximum: to the map (also an id equal to an erased maximum, which the
    // array still holds as a tombstone).
    if (!p.chunks.empty() && client_id <= p.max) {
      p.others.emplace(client_id, offer);
      return;
    }
    if (p.chunks.empty() || p.last_n == kChunk) {
      p.chunks.push_back(NewChunk());
      p.dead.push_back(0);
      p.last_n = 0;
    }
    p.chunks.back()[p.last_n++] = {client_id, offer};
    p.max = client_id;
  }

  static constexpr std::size_t kChunkBytes = kChunk * sizeof(Entry);
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  // A chunk given back, else the next chunk of the prefaulted pool, else a new one.
  Entry* NewChunk() {
    if (!free_.empty()) {
      Entry* c = free_.back();
      free_.pop_back();
      return c;
    }
    // Room to give back every chunk handed out, so that Erase never allocates.
    free_.reserve(pool_used_ + extra_.size() + 1);
    if (pool_used_ < pool_chunks_) return pool_.get() + kChunk * pool_used_++;
    extra_.push_back(std::unique_ptr<Entry[]>(new Entry[kChunk]));
    return extra_.back().get();
  }

  struct FreePool {
    void operator()(Entry* p) const { std::free(p); }
  };
  std::unique_ptr<Entry[], FreePool> pool_;  // pool_chunks_ chunks, pool_used_ handed out
  std::size_t pool_chunks_ = 0;
  std::size_t pool_used_ = 0;
  std::vector<std::unique_ptr<Entry[]>> extra_;  // chunks beyond the pool
  std::vector<Entry*> free_;  // chunks given back by Erase

  std::vector<PerAgency> per_agency_;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_CLIENT_INDEX_H_
