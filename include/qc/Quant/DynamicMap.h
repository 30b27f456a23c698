//===- DynamicMap.h - bitsandbytes blockwise 8-bit quantization -*- C++ -*-===//
//
// bitsandbytes' signed dynamic 8-bit data type (create_dynamic_map) and its
// blockwise quantization (quantize_blockwise / dequantize_blockwise), which
// bitsandbytes uses to compress the absmax statistics of 4-bit weights
// ("double quant", nested blocksize 256).
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_DYNAMICMAP_H
#define QC_QUANT_DYNAMICMAP_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

/// create_dynamic_map(signed=True) as PyTorch 2.x computes it: 256 sorted
/// fp32 values in [-0.99297, 1]. Its linspace rounding differs between
/// PyTorch versions (1.13 gives 42 values one ulp off), so checkpoints carry
/// their own copy (nested_quant_map), which dequantization uses.
std::span<const float, 256> dynamicMapSigned();

/// The code of `x` in a sorted 256-entry `code`, by the binary search and
/// midpoint rule of bitsandbytes' dQuantize<0> kernel (nearest value; at an
/// exact midpoint the even index wins).
uint8_t quantizeDynamic(float x, std::span<const float, 256> code);

/// Blockwise 8-bit quantization result.
struct Blockwise8 {
  std::vector<uint8_t> codes; ///< one per input value
  std::vector<float> absmax;  ///< one per block
  int64_t blocksize = 0;
};

/// quantize_blockwise: per block of `blocksize` values, absmax = max |v|,
/// code = quantizeDynamic(v * (1 / absmax)). Non-finite input is an error.
StatusOr<Blockwise8> quantizeBlockwise8(std::span<const float> values,
                                        int64_t blocksize,
                                        std::span<const float, 256> code);

/// dequantize_blockwise: code[q] * absmax, in fp32.
StatusOr<std::vector<float>> dequantizeBlockwise8(const Blockwise8 &q,
                                                  std::span<const float> code);

} // namespace qc::quant

#endif // QC_QUANT_DYNAMICMAP_H
