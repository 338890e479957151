#include "engine/journal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace msx::crc32c {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli

// tables[0] is the classic byte-at-a-time table; tables[k][b] is the CRC contribution of
// byte b followed by k zero bytes, which lets the slice-by-8 loop fold 8 input bytes with
// 8 independent lookups.
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t crc = b;
    for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    t[0][b] = crc;
  }
  for (int k = 1; k < 8; ++k) {
    for (std::uint32_t b = 0; b < 256; ++b) {
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
  return t;
}

constexpr Tables kTables = MakeTables();
static_assert(kTables[0][1] == 0xF26B8303u);

inline std::uint64_t LoadLe64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // the journal only targets little-endian hosts (checked below)
  return v;
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "slice-by-8 assumes little-endian");

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t ExtendSse42(std::uint32_t init_crc,
                                                            const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t crc = ~init_crc;
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0) {
    crc = _mm_crc32_u8(static_cast<std::uint32_t>(crc), *p++);
    --n;
  }
  while (n >= 8) {
    crc = _mm_crc32_u64(crc, LoadLe64(p));
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = _mm_crc32_u8(static_cast<std::uint32_t>(crc), *p++);
    --n;
  }
  return ~static_cast<std::uint32_t>(crc);
}
#endif

bool DetectHardware() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

const bool kHardware = DetectHardware();

}  // namespace

namespace internal {

std::uint32_t ExtendPortable(std::uint32_t init_crc, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t crc = ~init_crc;
  while (n > 0 && (reinterpret_cast<std::uintptr_t>(p) & 7) != 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
    --n;
  }
  while (n >= 8) {
    // Fold the running CRC into the first 4 bytes, then look each of the 8 bytes up in the
    // table that accounts for how many bytes follow it within this word.
    std::uint64_t word = LoadLe64(p) ^ crc;
    crc = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^
          kTables[5][(word >> 16) & 0xff] ^ kTables[4][(word >> 24) & 0xff] ^
          kTables[3][(word >> 32) & 0xff] ^ kTables[2][(word >> 40) & 0xff] ^
          kTables[1][(word >> 48) & 0xff] ^ kTables[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
    --n;
  }
  return ~crc;
}

std::uint32_t ExtendHardware(std::uint32_t init_crc, const void* data, std::size_t n) {
#if defined(__x86_64__)
  return ExtendSse42(init_crc, data, n);
#else
  return ExtendPortable(init_crc, data, n);
#endif
}

bool HardwareAvailable() { return kHardware; }

}  // namespace internal

std::uint32_t Extend(std::uint32_t init_crc, const void* data, std::size_t n) {
  return kHardware ? internal::ExtendHardware(init_crc, data, n)
                   : internal::ExtendPortable(init_crc, data, n);
}

}  // namespace msx::crc32c
