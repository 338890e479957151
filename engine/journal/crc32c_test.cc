#include "engine/journal/crc32c.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace msx::crc32c {
namespace {

// RFC 3720 (iSCSI), Appendix B.4 "CRC Examples".
struct Vector {
  const char* name;
  std::string data;
  std::uint32_t crc;
};

std::vector<Vector> Rfc3720Vectors() {
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string inc(32, '\0');
  std::string dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  // An iSCSI SCSI Read (10) command PDU.
  const unsigned char read_pdu[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                      0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  return {
      {"32 zero bytes", zeros, 0x8a9136aa},
      {"32 bytes of 0xff", ones, 0x62a8ab43},
      {"32 incrementing bytes", inc, 0x46dd794e},
      {"32 decrementing bytes", dec, 0x113fdb5c},
      {"iSCSI read PDU", std::string(reinterpret_cast<const char*>(read_pdu), 48), 0xd9963a56},
      {"123456789 check value", "123456789", 0xe3069283},
  };
}

TEST(Crc32cTest, PortableMatchesRfc3720Vectors) {
  for (const Vector& v : Rfc3720Vectors()) {
    EXPECT_EQ(internal::ExtendPortable(0, v.data.data(), v.data.size()), v.crc) << v.name;
  }
}

TEST(Crc32cTest, HardwareMatchesRfc3720VectorsWhenAvailable) {
  if (!internal::HardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (const Vector& v : Rfc3720Vectors()) {
    EXPECT_EQ(internal::ExtendHardware(0, v.data.data(), v.data.size()), v.crc) << v.name;
  }
}

TEST(Crc32cTest, ValueMatchesRfc3720Vectors) {
  for (const Vector& v : Rfc3720Vectors()) {
    EXPECT_EQ(Value(v.data.data(), v.data.size()), v.crc) << v.name;
  }
}

TEST(Crc32cTest, EmptyInputIsZero) { EXPECT_EQ(Value("", 0), 0u); }

TEST(Crc32cTest, ExtendOfPiecesEqualsValueOfWhole) {
  std::string s = "hello world, this is a journal record payload of some length";
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut),
              Value(s.data(), s.size()))
        << cut;
  }
}

TEST(Crc32cTest, PortableAndHardwareAgreeAtEveryAlignmentAndLength) {
  std::mt19937_64 rng(42);
  std::string buf(600, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (std::size_t start = 0; start < 16; ++start) {
    for (std::size_t len = 0; len + start <= buf.size(); len += 7) {
      std::uint32_t portable = internal::ExtendPortable(0x1234, buf.data() + start, len);
      // Byte-at-a-time reference: the slice-by-8 path must equal the plain definition.
      std::uint32_t crc = ~0x1234u;
      for (std::size_t i = 0; i < len; ++i) {
        crc ^= static_cast<unsigned char>(buf[start + i]);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
      }
      ASSERT_EQ(portable, ~crc) << start << " " << len;
      if (internal::HardwareAvailable()) {
        ASSERT_EQ(internal::ExtendHardware(0x1234, buf.data() + start, len), portable)
            << start << " " << len;
      }
    }
  }
}

TEST(Crc32cTest, MaskChangesTheValueAndUnmaskRestoresIt) {
  std::uint32_t crc = Value("foo", 3);
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
}

}  // namespace
}  // namespace msx::crc32c
