// LevelBitmap: which price levels of one book side hold offers. Two levels of 64-bit words
// (a summary bit per non-zero word) so that finding the next non-empty level above or below
// a position costs a few word operations instead of a scan over empty levels.
//
// Thread-safety: none. Allocates only in Resize().
#ifndef MSX_ENGINE_INTERNAL_LEVEL_BITMAP_H_
#define MSX_ENGINE_INTERNAL_LEVEL_BITMAP_H_

#include <cstdint>
#include <vector>

namespace msx::internal {

class LevelBitmap {
 public:
  // Clears the bitmap and makes it cover positions 0..n-1.
  void Resize(std::int64_t n) {
    size_ = n;
    words_.assign(static_cast<std::size_t>((n + 63) / 64), 0);
    summary_.assign((words_.size() + 63) / 64, 0);
  }
  std::int64_t size() const { return size_; }

  // REQUIRES: 0 <= i < size().
  bool Test(std::int64_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }
  void Set(std::int64_t i) noexcept {
    words_[i >> 6] |= std::uint64_t{1} << (i & 63);
    summary_[i >> 12] |= std::uint64_t{1} << ((i >> 6) & 63);
  }
  void Clear(std::int64_t i) noexcept {
    std::uint64_t& w = words_[i >> 6];
    w &= ~(std::uint64_t{1} << (i & 63));
    if (w == 0) summary_[i >> 12] &= ~(std::uint64_t{1} << ((i >> 6) & 63));
  }

  // The smallest set position >= i, or -1. Any i is allowed (i >= size() gives -1).
  std::int64_t NextAtOrAfter(std::int64_t i) const noexcept {
    if (i < 0) i = 0;
    if (i >= size_) return -1;
    std::int64_t w = i >> 6;
    std::uint64_t bits = words_[w] & (~std::uint64_t{0} << (i & 63));
    if (bits != 0) return (w << 6) + __builtin_ctzll(bits);
    // Next non-zero word strictly after w.
    std::int64_t nw = w + 1;
    const std::int64_t nwords = static_cast<std::int64_t>(words_.size());
    while (nw < nwords) {
      std::int64_t s = nw >> 6;
      std::uint64_t sbits = summary_[s] & (~std::uint64_t{0} << (nw & 63));
      if (sbits != 0) {
        std::int64_t word = (s << 6) + __builtin_ctzll(sbits);
        return (word << 6) + __builtin_ctzll(words_[word]);
      }
      nw = (s + 1) << 6;
    }
    return -1;
  }

  // The largest set position <= i, or -1. Any i is allowed (i < 0 gives -1).
  std::int64_t PrevAtOrBefore(std::int64_t i) const noexcept {
    if (i < 0) return -1;
    if (i >= size_) i = size_ - 1;
    if (i < 0) return -1;
    std::int64_t w = i >> 6;
    const int shift = 63 - static_cast<int>(i & 63);
    std::uint64_t bits = (words_[w] << shift) >> shift;
    if (bits != 0) return (w << 6) + 63 - __builtin_clzll(bits);
    std::int64_t pw = w - 1;
    while (pw >= 0) {
      std::int64_t s = pw >> 6;
      const int sshift = 63 - static_cast<int>(pw & 63);
      std::uint64_t sbits = (summary_[s] << sshift) >> sshift;
      if (sbits != 0) {
        std::int64_t word = (s << 6) + 63 - __builtin_clzll(sbits);
        return (word << 6) + 63 - __builtin_clzll(words_[word]);
      }
      pw = (s << 6) - 1;
    }
    return -1;
  }

 private:
  std::int64_t size_ = 0;
  std::vector<std::uint64_t> words_;
  std::vector<std::uint64_t> summary_;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_LEVEL_BITMAP_H_
