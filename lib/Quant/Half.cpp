//===- Half.cpp - Exact fp16 / bf16 conversions ---------------------------===//
//
// Bit-level conversions; see Half.h.
//
//===----------------------------------------------------------------------===//

#include "qc/Quant/Half.h"

#include <bit>

namespace qc::quant {

namespace {

/// Rounds `value >> shift` to nearest, ties to even (shift in [1, 31]).
uint32_t shiftRightRoundEven(uint32_t value, unsigned shift) {
  uint32_t kept = value >> shift;
  uint32_t rest = value & ((uint32_t(1) << shift) - 1);
  uint32_t halfway = uint32_t(1) << (shift - 1);
  if (rest > halfway || (rest == halfway && (kept & 1)))
    ++kept;
  return kept;
}

} // namespace

uint16_t floatToHalf(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN
    return sign | 0x7e00;
  // Values from 2^-14 (the smallest normal half) upwards: drop 13 mantissa
  // bits and rebias the exponent; a carry out of the mantissa bumps the
  // exponent, and anything at or past 0x7c00 is infinity.
  if (magnitude >= 0x38800000) {
    if (magnitude >= 0x47800000) // >= 2^16, or inf
      return sign | 0x7c00;
    uint32_t rebased = magnitude - (uint32_t(127 - 15) << 23);
    uint32_t rounded = shiftRightRoundEven(rebased, 13);
    return sign | static_cast<uint16_t>(rounded >= 0x7c00 ? 0x7c00 : rounded);
  }
  // Subnormal halves are multiples of 2^-24: value = m * 2^(e - 150) with the
  // implicit bit in m, so the count of 2^-24 units is m >> (126 - e).
  uint32_t exponent = magnitude >> 23;
  if (exponent == 0) // fp32 subnormals are below 2^-126: zero
    return sign;
  unsigned shift = 126 - exponent;
  if (shift > 24)
    return sign;
  uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
  return sign | static_cast<uint16_t>(shiftRightRoundEven(mantissa, shift));
}

float halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t out;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    out = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {
    // Subnormal: normalize so the leading one becomes the implicit bit.
    int shift = std::countl_zero(mantissa) - 21; // leading bit to bit 10
    mantissa = (mantissa << shift) & 0x3ff;
    out = sign | (uint32_t(127 - 15 + 1 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(out);
}

uint16_t floatToBFloat16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000)
    return 0x7fc0;
  // Adding 0x7fff plus the kept lsb rounds to nearest-even; a carry into the
  // exponent (up to infinity) is the correct result.
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

float bfloat16ToFloat(uint16_t bits) {
  return std::bit_cast<float>(uint32_t(bits) << 16);
}

std::vector<float> halfToFloat(std::span<const uint16_t> bits) {
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    out[i] = halfToFloat(bits[i]);
  return out;
}

std::vector<uint16_t> floatToHalf(std::span<const float> values) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = floatToHalf(values[i]);
  return out;
}

std::vector<float> bfloat16ToFloat(std::span<const uint16_t> bits) {
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i)
    out[i] = bfloat16ToFloat(bits[i]);
  return out;
}

std::vector<uint16_t> floatToBFloat16(std::span<const float> values) {
  std::vector<uint16_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = floatToBFloat16(values[i]);
  return out;
}

} // namespace qc::quant
