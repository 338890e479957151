// ChunkedFifo<T>: a FIFO queue of trivially copyable values in fixed-size blocks that are
// recycled, never moved. Pushing allocates only when the queue holds more blocks than it
// ever did before (a block of kBlock values at a time, never per value); popping never
// allocates. Unlike std::deque (a block per 512 bytes, freed as soon as it empties) a queue
// that grows and shrinks around the same size reuses its blocks; unlike a ring buffer that
// doubles, growth never copies the queued values (no latency spike at a doubling).
//
// Thread-safety: none.
#ifndef MSX_ENGINE_INTERNAL_CHUNKED_FIFO_H_
#define MSX_ENGINE_INTERNAL_CHUNKED_FIFO_H_

#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

namespace msx::internal {

template <typename T, std::size_t kBlock = 4096>
class ChunkedFifo {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // REQUIRES: !empty().
  const T& front() const noexcept { return blocks_[head_block_][head_]; }
  // The i-th value from the front. REQUIRES: i < size().
  const T& operator[](std::size_t i) const noexcept {
    const std::size_t k = head_ + i;
    return blocks_[head_block_ + k / kBlock][k % kBlock];
  }

  // Inline while the back block has room (every push but one in kBlock).
  void push_back(const T& v) {
    if (tail_ == kBlock) [[unlikely]] NextBlock();
    back_[tail_++] = v;
    ++size_;
  }

  // REQUIRES: !empty().
  void pop_front() noexcept {
    --size_;
    if (++head_ == kBlock || size_ == 0) {
      // The front block is done with (or the queue is empty: start over in it).
      if (size_ == 0) {
        for (std::size_t b = head_block_ + 1; b < blocks_.size(); ++b) spare_.push_back(blocks_[b]);
        blocks_.resize(head_block_ + 1);
        back_ = blocks_.back();
        tail_ = 0;
      } else {
        spare_.push_back(blocks_[head_block_]);  // capacity reserved in push_back
        ++head_block_;
      }
      head_ = 0;
    }
  }

  void clear() noexcept {
    for (std::size_t b = head_block_; b < blocks_.size(); ++b) spare_.push_back(blocks_[b]);
    blocks_.clear();
    back_ = nullptr;
    head_block_ = head_ = size_ = 0;
    tail_ = kBlock;  // no back block: the next push appends one
  }

 private:
  // Appends the block the next push goes into: a recycled one if any.
  [[gnu::noinline]] void NextBlock() {
    if (head_block_ > 0 && head_block_ * 2 >= blocks_.size()) Compact();
    if (!spare_.empty()) {
      blocks_.push_back(spare_.back());
      spare_.pop_back();
    } else {
      owned_.push_back(std::make_unique<T[]>(kBlock));
      blocks_.push_back(owned_.back().get());
      spare_.reserve(owned_.size());  // so that recycling never allocates
    }
    back_ = blocks_.back();
    tail_ = 0;
  }

  // Drops the pointers of recycled blocks from the front of blocks_ (O(blocks), once per
  // about as many blocks popped).
  void Compact() {
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(head_block_));
    head_block_ = 0;
  }

  std::vector<std::unique_ptr<T[]>> owned_;  // every block ever allocated
  std::vector<T*> blocks_;  // [head_block_, end) hold the queue, in order
  std::vector<T*> spare_;   // recycled blocks
  std::size_t head_block_ = 0;
  T* back_ = nullptr;     // blocks_.back(), or null while blocks_ is empty
  std::size_t head_ = 0;  // index of the front value in blocks_[head_block_]
  // Values used in blocks_.back(); kBlock while blocks_ is empty, so that push_back has
  // one check.
  std::size_t tail_ = kBlock;
  std::size_t size_ = 0;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_CHUNKED_FIFO_H_
