// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), our own implementation: a
// slice-by-8 table walk, or the SSE4.2 crc32 instruction when the CPU has it (checked once
// at run time). Both give identical results; tests check the RFC 3720 vectors on both.
//
// Thread-safety: all functions are pure and may be called from any thread.
#ifndef MSX_ENGINE_JOURNAL_CRC32C_H_
#define MSX_ENGINE_JOURNAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace msx::crc32c {

// Returns the CRC32C of `data[0, n)` continuing from `init_crc`, the CRC of some earlier
// bytes A, so that Extend(Value(A), B) == Value(A + B). REQUIRES: data != nullptr || n == 0.
std::uint32_t Extend(std::uint32_t init_crc, const void* data, std::size_t n);

// Returns the CRC32C of `data[0, n)`.
inline std::uint32_t Value(const void* data, std::size_t n) { return Extend(0, data, n); }

// A CRC stored next to data that itself contains CRCs is a weak check (the CRC of a string
// with an embedded CRC is predictable), so stored CRCs are rotated and offset ("masked").
inline constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
inline constexpr std::uint32_t Mask(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline constexpr std::uint32_t Unmask(std::uint32_t masked) {
  std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

namespace internal {
// The two implementations, exposed for tests and benchmarks. ExtendHardware REQUIRES
// HardwareAvailable().
std::uint32_t ExtendPortable(std::uint32_t init_crc, const void* data, std::size_t n);
std::uint32_t ExtendHardware(std::uint32_t init_crc, const void* data, std::size_t n);
bool HardwareAvailable();
}  // namespace internal

}  // namespace msx::crc32c

#endif  // MSX_ENGINE_JOURNAL_CRC32C_H_
