//===- HalfTest.cpp - fp16 / bf16 conversion tests ------------------------===//

#include "qc/Quant/Half.h"

#include "gtest/gtest.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

using namespace qc::quant;

namespace {

bool isHalfNaN(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

// GCC's _Float16 conversions (libgcc's __truncsfhf2 / __extendhfsf2) are an
// independent IEEE implementation to compare against.
uint16_t compilerHalf(float f) {
  return std::bit_cast<uint16_t>(static_cast<_Float16>(f));
}

TEST(HalfTest, AllHalfValuesRoundTrip) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    uint16_t h = static_cast<uint16_t>(bits);
    float f = halfToFloat(h);
    if (!isHalfNaN(h)) { // the compiler quiets signaling NaNs; we keep them
      EXPECT_EQ(std::bit_cast<uint32_t>(f),
                std::bit_cast<uint32_t>(
                    static_cast<float>(std::bit_cast<_Float16>(h))))
          << std::hex << bits;
    }
    if (isHalfNaN(h)) {
      EXPECT_TRUE(std::isnan(f));
      EXPECT_EQ(floatToHalf(f), (h & 0x8000) | 0x7e00);
      continue;
    }
    ASSERT_EQ(floatToHalf(f), h) << std::hex << bits;
  }
}

TEST(HalfTest, MidpointsAndNeighboursMatchCompiler) {
  // Every midpoint between two adjacent finite halves (exact in fp32), and
  // the floats just below and above it.
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
      double lo = halfToFloat(static_cast<uint16_t>(bits | sign));
      double hi = bits + 1 == 0x7c00
                      ? (sign ? -65536.0 : 65536.0) // overflow boundary
                      : halfToFloat(static_cast<uint16_t>((bits + 1) | sign));
      float mid = static_cast<float>((lo + hi) / 2);
      ASSERT_EQ(double(mid), (lo + hi) / 2);
      for (float f : {mid, std::nextafter(mid, 0.0f),
                      std::nextafter(mid, std::numeric_limits<float>::max()),
                      std::nextafter(mid, -std::numeric_limits<float>::max())})
        ASSERT_EQ(floatToHalf(f), compilerHalf(f))
            << std::hexfloat << f << " from half " << std::hex << bits;
    }
  }
}

TEST(HalfTest, SampledFloatsMatchCompiler) {
  for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 4093) {
    float f = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(f))
      continue;
    ASSERT_EQ(floatToHalf(f), compilerHalf(f))
        << std::hexfloat << f << " bits " << std::hex << bits;
  }
}

TEST(HalfTest, RoundingTiesGoToEven) {
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f), 0x3c00);     // tie, even below
  EXPECT_EQ(floatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02); // tie, even above
  EXPECT_EQ(floatToHalf(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  EXPECT_EQ(floatToHalf(2049.0f), 0x6800); // 2048 + 1: tie
  EXPECT_EQ(floatToHalf(2051.0f), 0x6802); // tie up to 2052
  // Subnormals: units of 2^-24.
  EXPECT_EQ(floatToHalf(0x1p-25f), 0x0000); // tie with 0
  EXPECT_EQ(floatToHalf(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(floatToHalf(3 * 0x1p-25f), 0x0002);        // 1.5 units
  EXPECT_EQ(floatToHalf(0x1p-14f - 0x1p-25f), 0x0400); // into the normals
  EXPECT_EQ(floatToHalf(-0x1p-26f), 0x8000);           // -0
  // Overflow.
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // tie rounds to inf
  EXPECT_EQ(floatToHalf(-1e30f), 0xfc00);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToHalf(-std::numeric_limits<float>::quiet_NaN()), 0xfe00);
  EXPECT_EQ(roundToHalf(0.1f), 0.0999755859375f);
}

TEST(HalfTest, BFloat16) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    uint16_t b = static_cast<uint16_t>(bits);
    float f = bfloat16ToFloat(b);
    EXPECT_EQ(std::bit_cast<uint32_t>(f), bits << 16);
    if (std::isnan(f))
      EXPECT_EQ(floatToBFloat16(f), 0x7fc0);
    else
      ASSERT_EQ(floatToBFloat16(f), b) << std::hex << bits;
  }
  EXPECT_EQ(floatToBFloat16(1.0f + 0x1p-8f), 0x3f80);     // tie, even below
  EXPECT_EQ(floatToBFloat16(1.0f + 3 * 0x1p-8f), 0x3f82); // tie, even above
  EXPECT_EQ(floatToBFloat16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBFloat16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::denorm_min()), 0x0000);
  // fp32 subnormals keep their own ties: 0x8000 below and above an even lsb.
  EXPECT_EQ(floatToBFloat16(std::bit_cast<float>(0x00008000u)), 0x0000);
  EXPECT_EQ(floatToBFloat16(std::bit_cast<float>(0x00018000u)), 0x0002);
  EXPECT_EQ(roundToBFloat16(0.1f), 0.10009765625f);
}

} // namespace
