//===- Weights.h - Float weight matrices fed to the quantizers --*- C++ -*-===//
//
// The quantizers take weights widened to fp32 (exactly: fp16 and bf16 widen
// without loss) plus the format they were stored in, because that format
// decides the arithmetic to reproduce: AutoAWQ, for one, computes in the
// weights' own dtype.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_WEIGHTS_H
#define QC_QUANT_WEIGHTS_H

#include "qc/Model/DType.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qc::quant {

/// A row-major [rows, cols] matrix of weights. For a linear layer this is
/// HF's [out_features, in_features] weight (y = x W^T).
struct WeightMatrix {
  std::span<const float> values;
  int64_t rows = 0;
  int64_t cols = 0;
  /// The format the values were stored in: F32, F16 or BF16. Every value
  /// must be exactly representable in it.
  DType type = DType::F32;
  /// Names the tensor in error messages.
  std::string name = "weight";
};

/// Checks shape, type, finiteness and representability of `w`.
Status validateWeights(const WeightMatrix &w);

/// Rounds `value` to the nearest value of `type` (F32, F16 or BF16).
float roundToType(DType type, float value);

/// Widens stored 16-bit patterns (F16 or BF16) to fp32; F32 input is a
/// reinterpretation of 4-byte little-endian words. `bytes` must hold a whole
/// number of elements.
StatusOr<std::vector<float>> widenToFloat(DType type,
                                          std::span<const uint8_t> bytes,
                                          const std::string &name);

} // namespace qc::quant

#endif // QC_QUANT_WEIGHTS_H
