//===- AWQLayouts.h - Other AWQ checkpoint layouts --------------*- C++ -*-===//
//
// Conversions between the canonical AutoAWQ GEMM layout (AWQ.h) and
//
// AutoAWQ WQLinear_GEMV (awq/modules/linear/gemv.py):
//   qweight int32 [N, K/8]   8 neighbours along K, element j in nibble j
//   qzeros  int32 [N, ZW]    zero of group g in word g/8, nibble g%8
//   scales  fp16  [N, 8*ZW]  scale of group g in column g
// where ZW = calculate_zeros_width(K, G): ceil((K/G) / 8) rounded up to a
// multiple of 1 (G >= 128), 2 (G == 64) or 4 (G == 32); other group sizes
// are not supported there. Padding words and columns are zero.
//
// llm-awq WQLinear (awq/quantize/qmodule.py, the TinyChat kernels):
//   qweight      int16 [N/4, K]   pack_intweight(codes, interleave=4,
//                                 kstride=64), see below
//   scales       fp16  [8*ZW, N]  scale of group g in row g
//   scaled_zeros fp16  [8*ZW, N]  fp16(-(scale * zero)), rounded once
// pack_intweight permutes each row's K codes within 32-blocks (position
// 8b + 4c + a holds code 8a + 2b + c, a < 4, b < 4, c < 2), then takes rows
// four at a time: int16 word [n/4, 64*kb + j] holds, in nibbles i = 0..3,
// the permuted codes (row 4*(n/4) + j/16, column 64*kb + 4*(j%16) + i).
// Needs N % 4 == 0 and K % 64 == 0. Zeros are recovered on import as
// round(-scaled_zeros / scale) and must reproduce scaled_zeros exactly.
//
// quantc's tensor-core decode layout ("mma", the qc.awq attribute's
// layout = mma; qzeros and scales stay as in GEMM):
//   qweight int32 [N/16, 2K]  row f holds features 16f .. 16f+15
// The code of feature n at input k sits in row n/16, word
// 128*(k/64) + 4*(4*(n%8) + (k%64)/16) + (k%16)/4, nibble
// (k%2)*4 + ((k%4)/2)*2 + (n%16)/8: lane L = 4g + t of a warp loads words
// 4L .. 4L+3 of a 64-deep block (16 bytes), and word s is the A operand of
// mma.sync m16n8k16 number s (rows g and g+8, k slots 2t, 2t+1, 2t+8, 2t+9
// holding k = 16t + 4s + 0..3), nibbles i and i+4 one biased half2 after a
// shift by 4i. Needs N % 16 == 0 and K % 64 == 0.
//
// All conversions are bit-exact both ways; padding is ignored on import.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_AWQLAYOUTS_H
#define QC_QUANT_AWQLAYOUTS_H

#include "qc/Quant/AWQ.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

/// AutoAWQ's calculate_zeros_width(K, G) (pack_num 8); an error for group
/// sizes other than 32, 64 and >= 128.
StatusOr<int64_t> awqZerosWidth(int64_t inFeatures, int64_t groupSize);

/// AutoAWQ WQLinear_GEMV buffers.
struct AwqGemvWeight {
  int64_t outFeatures = 0;
  int64_t inFeatures = 0;
  int64_t groupSize = 0;
  std::vector<int32_t> qweight; ///< [N, K/8]
  std::vector<int32_t> qzeros;  ///< [N, ZW]
  std::vector<uint16_t> scales; ///< [N, 8*ZW], fp16 bits
};

/// llm-awq WQLinear buffers.
struct LlmAwqWeight {
  int64_t outFeatures = 0;
  int64_t inFeatures = 0;
  int64_t groupSize = 0;
  std::vector<int16_t> qweight;      ///< [N/4, K]
  std::vector<uint16_t> scales;      ///< [8*ZW, N], fp16 bits
  std::vector<uint16_t> scaledZeros; ///< [8*ZW, N], fp16 bits
};

StatusOr<AwqGemvWeight> packAwqGemv(const AwqCodes &codes);
StatusOr<AwqCodes> unpackAwqGemv(const AwqGemvWeight &weight);

StatusOr<LlmAwqWeight> packLlmAwq(const AwqCodes &codes);
StatusOr<AwqCodes> unpackLlmAwq(const LlmAwqWeight &weight);

inline constexpr int64_t kAwqMmaTileFeatures = 16;
inline constexpr int64_t kAwqMmaTileDepth = 64;

/// Where the mma layout stores the code of feature `n` at input `k`.
struct AwqMmaSlot {
  int64_t row;  ///< n / 16
  int64_t word; ///< within the row's 2K words
  int nibble;
};
AwqMmaSlot awqMmaSlot(int64_t n, int64_t k);

/// GEMM qweight [K, N/8] <-> mma qweight [N/16, 2K].
StatusOr<std::vector<int32_t>> awqGemmToMma(std::span<const int32_t> qweight,
                                            int64_t outFeatures,
                                            int64_t inFeatures);
StatusOr<std::vector<int32_t>> awqMmaToGemm(std::span<const int32_t> qweight,
                                            int64_t outFeatures,
                                            int64_t inFeatures);

inline constexpr int64_t kAwqCpuTileFeatures = 64;

/// The CPU layout: qweight [N/64, 8K], row r for features [64r, 64r + 64).
/// Per block of 8 inputs (k / 8) the row holds 64 words, one per feature,
/// word f holding that feature's 8 codes: input 8b + i (i < 4) in the low
/// nibble of byte i, input 8b + 4 + i in its high nibble. A vector of 8
/// words is then 8 features' codes at 8 inputs: a shift and a mask give
/// one input's codes of all 8 features, and the low and high nibbles of
/// each byte are 4 consecutive inputs per feature, the operands of 8-bit
/// integer dot products.
struct AwqCpuSlot {
  int64_t word; ///< index in the flat qweight
  int shift;    ///< bit position of the code
};
AwqCpuSlot awqCpuSlot(int64_t n, int64_t k, int64_t inFeatures);

/// GEMM qweight [K, N/8] <-> CPU qweight [N/64, 8K].
StatusOr<std::vector<int32_t>> awqGemmToCpu(std::span<const int32_t> qweight,
                                            int64_t outFeatures,
                                            int64_t inFeatures);
StatusOr<std::vector<int32_t>> awqCpuToGemm(std::span<const int32_t> qweight,
                                            int64_t outFeatures,
                                            int64_t inFeatures);

/// Where a package stores AWQ codes: AutoAWQ's GEMM order, or one chosen
/// for the target's kernels.
enum class AwqPackageLayout { Gemm, Mma, Cpu };

/// The qweight shape of an N x K layer in `layout`.
std::vector<int64_t> awqQweightShape(AwqPackageLayout layout, int64_t outFeatures,
                                     int64_t inFeatures);

/// GEMM qweight -> `layout` and back (copies for GEMM itself).
StatusOr<std::vector<int32_t>> awqFromGemm(AwqPackageLayout layout,
                                           std::span<const int32_t> qweight,
                                           int64_t outFeatures,
                                           int64_t inFeatures);
StatusOr<std::vector<int32_t>> awqToGemm(AwqPackageLayout layout,
                                         std::span<const int32_t> qweight,
                                         int64_t outFeatures,
                                         int64_t inFeatures);

/// Imports into the canonical layout.
StatusOr<AwqGemmWeight> awqGemvToGemm(const AwqGemvWeight &weight);
StatusOr<AwqGemmWeight> llmAwqToGemm(const LlmAwqWeight &weight);

} // namespace qc::quant

#endif // QC_QUANT_AWQLAYOUTS_H
