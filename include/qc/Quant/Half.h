//===- Half.h - Exact fp16 / bf16 conversions -------------------*- C++ -*-===//
//
// Checkpoints store fp16 and bf16 values as raw 16-bit patterns. The
// quantizers must reproduce the rounding of PyTorch bit for bit, so these
// conversions are written out by hand: round-to-nearest-even, infinities,
// NaNs and subnormals handled as IEEE 754 (and PyTorch) do.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_HALF_H
#define QC_QUANT_HALF_H

#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

/// fp32 -> IEEE binary16, round-to-nearest-even. Overflow gives +-inf; a NaN
/// becomes the quiet NaN 0x7e00 with its sign, as c10::Half does.
uint16_t floatToHalf(float value);
/// IEEE binary16 -> fp32 (exact).
float halfToFloat(uint16_t bits);

/// fp32 -> bfloat16, round-to-nearest-even; a NaN becomes 0x7fc0, as
/// c10::BFloat16 does.
uint16_t floatToBFloat16(float value);
/// bfloat16 -> fp32 (exact).
float bfloat16ToFloat(uint16_t bits);

/// The fp16 value nearest to `value`, widened back to fp32. One fp32
/// operation followed by this equals the correctly rounded fp16 operation
/// (+, -, *, /, sqrt: fp32 has more than 2 * 11 + 2 significand bits).
inline float roundToHalf(float value) {
  return halfToFloat(floatToHalf(value));
}
inline float roundToBFloat16(float value) {
  return bfloat16ToFloat(floatToBFloat16(value));
}

/// Element-wise conversions of whole buffers.
std::vector<float> halfToFloat(std::span<const uint16_t> bits);
std::vector<uint16_t> floatToHalf(std::span<const float> values);
std::vector<float> bfloat16ToFloat(std::span<const uint16_t> bits);
std::vector<uint16_t> floatToBFloat16(std::span<const float> values);

} // namespace qc::quant

#endif // QC_QUANT_HALF_H
