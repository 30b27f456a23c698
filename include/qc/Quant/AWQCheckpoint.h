//===- AWQCheckpoint.h - AWQ checkpoint tensors -----------------*- C++ -*-===//
//
// Reads the buffers a quantized linear layer `<prefix>` stores in AWQ
// checkpoints, in any of the three layouts of AWQLayouts.h, and returns them
// in the canonical AutoAWQ GEMM layout:
//   GEMM     <prefix>.qweight I32 [K, N/8], .qzeros I32 [K/G, N/8],
//            .scales F16 [K/G, N]
//   GEMV     <prefix>.qweight I32 [N, K/8], .qzeros I32 [N, ZW],
//            .scales F16 [N, 8*ZW]
//   llm-awq  <prefix>.qweight I16 [N/4, K], .scales F16 [8*ZW, N],
//            .scaled_zeros F16 [8*ZW, N]
// N and K come from the shapes; the group size from the checkpoint's
// quantization config (GEMM also implies it: K / qzeros rows).
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_AWQCHECKPOINT_H
#define QC_QUANT_AWQCHECKPOINT_H

#include "qc/Quant/AWQ.h"
#include "qc/Quant/TensorRef.h"
#include "qc/Support/Status.h"

#include <string_view>

namespace qc::quant {

enum class AwqLayout { Gemm, Gemv, LlmAwq };

/// Imports `<prefix>`'s AWQ buffers stored in `layout` with group size
/// `groupSize` into the canonical GEMM layout. Missing or mis-shaped tensors
/// give a Status naming the key and the expected dtype and shape.
StatusOr<AwqGemmWeight> importAwqWeight(const TensorLookup &lookup,
                                        std::string_view prefix,
                                        AwqLayout layout, int64_t groupSize);

} // namespace qc::quant

#endif // QC_QUANT_AWQCHECKPOINT_H
