//===- Int8.h - int8 weight quantization and matmul references --*- C++ -*-===//
//
// Three int8 schemes, each with a CPU reference of its arithmetic for tests
// and numerics checks of generated code:
//  (a) weight-only per-channel symmetric int8;
//  (b) LLM.int8 (bitsandbytes Int8Params + MatMul8bitLt): row-wise int8
//      weights with SCB = absmax per output row, and at run time a sparse
//      decomposition: activation columns holding any |x| >= threshold go
//      through an fp16 matmul with dequantized weight columns, the rest
//      through int8 x int8 with int32 accumulation;
//  (c) W8A8: per-channel weight scales and per-token dynamic activation
//      scales, symmetric int8, int32 accumulation.
// Weights are HF's [N = out_features, K = in_features], y = x W^T.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_INT8_H
#define QC_QUANT_INT8_H

#include "qc/Quant/Weights.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

/// Symmetric per-row int8: value ~ q * scale[row].
struct Int8RowWeight {
  int64_t outFeatures = 0;  // N (rows)
  int64_t inFeatures = 0;   // K
  std::vector<int8_t> q;    ///< [N, K]
  std::vector<float> scale; ///< [N]
};

/// (a) and the weights of (c): scale = absmax(W[n, :]) / 127 and
/// q = clamp(round(w / scale), -127, 127), both in fp32 with true division,
/// round half to even. An all-zero row gets scale 0 and codes 0.
StatusOr<Int8RowWeight> quantizeInt8PerChannel(const WeightMatrix &w);

/// q * scale in fp32, [N, K].
StatusOr<std::vector<float>> dequantizeInt8PerChannel(const Int8RowWeight &w);

/// LLM.int8 weights as bitsandbytes stores them: CB int8 [N, K], SCB fp32 [N].
struct LlmInt8Weight {
  int64_t outFeatures = 0;
  int64_t inFeatures = 0;
  std::vector<int8_t> cb; ///< [N, K]
  std::vector<float> scb; ///< [N], absmax of each row
};

/// int8_vectorwise_quant as bitsandbytes' PyTorch backend computes it:
/// SCB = absmax(W[n, :]), CB = round(w * (127 / SCB)) where 127 / SCB is
/// fp32(1 / SCB) * 127 (torch's scalar / tensor). The CUDA kernel uses an
/// approximate division (__fdividef) and may differ by one code, rarely.
/// An all-zero row gets codes 0.
StatusOr<LlmInt8Weight> quantizeLlmInt8(const WeightMatrix &w);

/// int8_vectorwise_dequant: CB * SCB * (1 / 127) in fp32, [N, K].
StatusOr<std::vector<float>> dequantizeLlmInt8(const LlmInt8Weight &w);

/// y = x W^T by MatMul8bitLt's inference path, for x [tokens, K] holding
/// fp16 values (widened). Returns [tokens, N] fp16 values (widened):
///  1. outlier columns: those with any |x| >= threshold (none if
///     threshold <= 0);
///  2. per token, rowAbsmax = max |x| over the non-outlier elements;
///     CA = round(x * (127 / rowAbsmax)), outlier columns set to 0;
///  3. acc = CA . CB^T in integers;
///     out = fp16((acc * (rowAbsmax * SCB)) * (1 / 127^2)) in fp32 (+ bias);
///  4. out += x[:, outliers] . dequantizeLlmInt8(W)[:, outliers]^T with the
///     dequantized weights rounded to fp16; this product is accumulated in
///     double and rounded once (cuBLAS accumulates in fp32: expect up to one
///     fp16 ulp of difference on a GPU).
/// `bias` is empty or [N].
StatusOr<std::vector<float>>
llmInt8MatmulReference(std::span<const float> x, int64_t tokens,
                       const LlmInt8Weight &w, float threshold = 6.0f,
                       std::span<const float> bias = {});

/// (c) W8A8: per token t, sx = absmax(x[t, :]) / 127 and
/// qx = clamp(round(x / sx), -127, 127) (as quantizeInt8PerChannel does for
/// weight rows); acc = qx . qw^T in integers;
/// y[t, n] = float(acc) * (sx[t] * sw[n]) in fp32. x is [tokens, K] fp32.
StatusOr<std::vector<float>> w8a8MatmulReference(std::span<const float> x,
                                                 int64_t tokens,
                                                 const Int8RowWeight &w);

} // namespace qc::quant

#endif // QC_QUANT_INT8_H
