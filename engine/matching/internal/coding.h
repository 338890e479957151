// Byte coding for every MSX binary format: journal segments and records
// (engine/journal/FORMAT.md), snapshot files and the engine's state image
// (engine/matching/SNAPSHOT.md). Integers are fixed-width little-endian; this host is
// little-endian, so each is a memcpy of the native value.
#ifndef MSX_ENGINE_INTERNAL_CODING_H_
#define MSX_ENGINE_INTERNAL_CODING_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace msx::coding {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the formats store integers as memcpy of native little-endian values");

inline void PutFixed16(std::string* out, std::uint16_t v) {
  out->append(reinterpret_cast<const char*>(&v), 2);
}
inline void PutFixed32(std::string* out, std::uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), 4);
}
inline void PutFixed64(std::string* out, std::uint64_t v) {
  out->append(reinterpret_cast<const char*>(&v), 8);
}
// REQUIRES: p points at 2 / 4 / 8 readable bytes.
inline std::uint16_t GetFixed16(const char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline std::uint32_t GetFixed32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline std::uint64_t GetFixed64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Appends fields to a string (the engine's state image).
class StringWriter {
 public:
  explicit StringWriter(std::string* out) : out_(out) {}
  void U8(std::uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(std::uint32_t v) { PutFixed32(out_, v); }
  void U64(std::uint64_t v) { PutFixed64(out_, v); }
  void I64(std::int64_t v) { PutFixed64(out_, static_cast<std::uint64_t>(v)); }

 private:
  std::string* out_;
};

// Reads fields from bytes of unknown length: each read is false, and reads nothing, when
// the field does not fit in what is left. pos() is the offset of the next field.
class BoundedReader {
 public:
  explicit BoundedReader(absl::string_view in) : in_(in) {}
  bool U8(std::uint8_t* v) {
    if (in_.size() - pos_ < 1) return false;
    *v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool U32(std::uint32_t* v) {
    if (in_.size() - pos_ < 4) return false;
    *v = GetFixed32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(std::uint64_t* v) {
    if (in_.size() - pos_ < 8) return false;
    *v = GetFixed64(in_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool I64(std::int64_t* v) {
    std::uint64_t u;
    if (!U64(&u)) return false;
    *v = static_cast<std::int64_t>(u);
    return true;
  }
  // Passes over `n` bytes (a section another reader has read); false when they do not fit.
  bool Skip(std::size_t n) {
    if (in_.size() - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  absl::string_view in_;
  std::size_t pos_ = 0;  // <= in_.size()
};

// Writes fields at a cursor into space the caller has already reserved (journal payloads,
// whose size is known from their type).
class FieldWriter {
 public:
  explicit FieldWriter(char* p) : p_(p) {}
  void U8(std::uint8_t v) { *p_++ = static_cast<char>(v); }
  void U32(std::uint32_t v) { Put(&v, 4); }
  void U64(std::uint64_t v) { Put(&v, 8); }
  void I64(std::int64_t v) { Put(&v, 8); }
  char* end() const { return p_; }

 private:
  void Put(const void* v, std::size_t n) {
    std::memcpy(p_, v, n);
    p_ += n;
  }
  char* p_;
};

// Reads fields at a cursor from bytes whose length the caller checked beforehand.
class FieldReader {
 public:
  explicit FieldReader(const char* p) : p_(p) {}
  std::uint8_t U8() { return static_cast<std::uint8_t>(*p_++); }
  std::uint32_t U32() {
    std::uint32_t v = GetFixed32(p_);
    p_ += 4;
    return v;
  }
  std::uint64_t U64() {
    std::uint64_t v = GetFixed64(p_);
    p_ += 8;
    return v;
  }
  std::int64_t I64() { return static_cast<std::int64_t>(U64()); }

 private:
  const char* p_;
};

}  // namespace msx::coding

#endif  // MSX_ENGINE_INTERNAL_CODING_H_
