//===- AWQ.h - AWQ int4 round-to-nearest quantization -----------*- C++ -*-===//
//
// The canonical int4 format is AutoAWQ's WQLinear_GEMM, for a linear layer of
// N = out_features, K = in_features and group size G (groups run along K):
//
//   qweight int32 [K, N/8]    qzeros int32 [K/G, N/8]    scales fp16 [K/G, N]
//
// Each int32 packs 8 neighbours along N, n = 8c + j for j = 0..7, with
// element j in nibble kAwqNibbleOf[j] (bits 4*nibble .. 4*nibble+3); that is
// AutoAWQ's order_map [0, 2, 4, 6, 1, 3, 5, 7] read as "nibble i holds element
// order_map[i]". Dequantization: w[n, k] = (q - z) * s in fp16, with z and s
// of group k / G.
//
// Quantization without calibration reproduces AutoAWQ's
// pseudo_quantize_tensor (then WQLinear_GEMM.from_linear) bit for bit.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_AWQ_H
#define QC_QUANT_AWQ_H

#include "qc/Quant/Weights.h"
#include "qc/Support/Status.h"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

inline constexpr int kAwqBits = 4;
/// 4-bit values per int32.
inline constexpr int64_t kAwqPack = 8;
/// AutoAWQ's order_map: nibble i of a packed int32 holds element
/// kAwqOrderMap[i] of its 8 neighbours.
inline constexpr std::array<int, 8> kAwqOrderMap = {0, 2, 4, 6, 1, 3, 5, 7};
/// The inverse: element j sits in nibble kAwqNibbleOf[j] (AWQ_REVERSE_ORDER).
inline constexpr std::array<int, 8> kAwqNibbleOf = {0, 4, 1, 5, 2, 6, 3, 7};

/// Unpacked AWQ codes in HF orientation.
struct AwqCodes {
  int64_t outFeatures = 0;      // N
  int64_t inFeatures = 0;       // K
  int64_t groupSize = 0;        // G
  std::vector<uint8_t> q;       ///< [N, K], 0..15
  std::vector<uint8_t> zeros;   ///< [N, K/G], 0..15
  std::vector<uint16_t> scales; ///< [N, K/G], fp16 bits

  int64_t numGroups() const { return inFeatures / groupSize; }
};

/// The canonical packed format: AutoAWQ WQLinear_GEMM buffers.
struct AwqGemmWeight {
  int64_t outFeatures = 0;      // N
  int64_t inFeatures = 0;       // K
  int64_t groupSize = 0;        // G
  std::vector<int32_t> qweight; ///< [K, N/8]
  std::vector<int32_t> qzeros;  ///< [K/G, N/8]
  std::vector<uint16_t> scales; ///< [K/G, N], fp16 bits
};

/// Checks that N, K, G describe a supported AWQ layer: N a multiple of 8, G a
/// positive multiple of 8 dividing K.
Status checkAwqShape(int64_t outFeatures, int64_t inFeatures,
                     int64_t groupSize);

/// Round-to-nearest quantization of `w` ([N, K]) following AutoAWQ's
/// pseudo_quantize_tensor (zero point, `bits` = 4 only). Per group of G
/// input channels of each row:
///   scale = clamp(max - min, min=1e-5) / 15
///   zero  = clamp(-round(min / scale), 0, 15)
///   q     = clamp(round(w / scale) + zero, 0, 15)      (round: half to even)
/// F16 weights: every operation is rounded to fp16, as AutoAWQ computes in
/// fp16 (bit-exact). F32 / BF16 weights: fp32 arithmetic, with the scale
/// rounded to fp16 before zero and q are derived from it, so the stored
/// scale is the one the codes were made with. (AutoAWQ itself would first
/// cast such weights to fp16; convert them to F16 to get that behaviour.)
StatusOr<AwqCodes> awqQuantizeRtn(const WeightMatrix &w, int64_t groupSize,
                                  int bits = kAwqBits);

/// One group of awqQuantizeRtn: fills `codes` (values.size() of them), `zero`
/// and `scale` (fp16 bits) for `values` stored as `type`. Returns false when
/// the group's range overflows an fp16 scale.
bool awqQuantizeGroup(std::span<const float> values, DType type,
                      std::span<uint8_t> codes, uint8_t &zero, uint16_t &scale);

/// Checks sizes and code ranges of `codes`.
Status validateAwqCodes(const AwqCodes &codes);
/// Checks the buffer sizes of `weight` against its shape.
Status validateAwqGemm(const AwqGemmWeight &weight);

/// Packs codes into the canonical GEMM layout.
StatusOr<AwqGemmWeight> packAwqGemm(const AwqCodes &codes);
/// Unpacks the canonical GEMM layout.
StatusOr<AwqCodes> unpackAwqGemm(const AwqGemmWeight &weight);

/// w[n, k] = (q - z) * s rounded to fp16, as AutoAWQ's dequantize_gemm
/// computes it; returned widened to fp32, [N, K] row-major.
StatusOr<std::vector<float>> dequantizeAwq(const AwqCodes &codes);

} // namespace qc::quant

#endif // QC_QUANT_AWQ_H
