//===- WeightPacker.h - Storage bytes of compiled weights -------*- C++ -*-===//
//
// The bytes a compiled package stores for each weight. A quantized [N, K]
// linear layer `<module>` is stored as the tensors `<module>.<suffix>` below,
// in this order; they are the compiler's ABI (qc's QuantSchemeAttrInterface
// storage components) and must not change:
//
//   AWQ   qweight I32 [K, N/8], qzeros I32 [K/G, N/8] (zero point only),
//         scales F16 [K/G, N]                       AutoAWQ GEMM packing
//   BnB4  codes I8 [N*K/2]                          bitsandbytes nibbles,
//                                                   first element high
//         absmax F32 [N*K/B]                        without double quant, or
//         absmax I8 [N*K/B], nested_absmax F32 [ceil(N*K/B / 256)],
//         nested_offset F32 [1]                     with double quant
//   Int8  qweight I8 [N, K], scales [N]: F16 (weight-only), F32 (LLM.int8:
//         bitsandbytes' SCB, w ~ q * SCB / 127; W8A8: w ~ q * scale)
//
// Byte-valued codes (BnB4 codes and absmax codes) are stored under the I8
// dtype with their bits unchanged. AWQ without zero point is symmetric:
// w = (q - 8) * s.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_WEIGHTPACKER_H
#define QC_QUANT_WEIGHTPACKER_H

#include "qc/Model/DType.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Quant/AWQLayouts.h"
#include "qc/Quant/BnB4bit.h"
#include "qc/Quant/Weights.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qc::quant {

/// The qzeros word of symmetric AWQ (zero point false): code 8 in all eight
/// nibbles, so that (q - z) * s is (q - 8) * s.
inline constexpr int32_t kAwqSymmetricZeros = static_cast<int32_t>(0x88888888u);

/// A quantization scheme, described without MLIR.
struct QuantSchemeDesc {
  enum class Kind { AWQ, BnB4, Int8 };
  enum class Int8Mode { WeightOnly, LLMInt8, W8A8 };

  Kind kind = Kind::AWQ;
  // AWQ (always 4-bit).
  int64_t groupSize = 128;
  bool zeroPoint = true;
  /// Where qweight's codes are stored (AWQLayouts.h).
  AwqPackageLayout awqLayout = AwqPackageLayout::Gemm;
  // bitsandbytes 4-bit.
  Bnb4Type bnbType = Bnb4Type::NF4;
  int64_t blockSize = 64;
  bool doubleQuant = false;
  // int8. The threshold only matters at run time (LLM.int8 outliers).
  Int8Mode int8Mode = Int8Mode::WeightOnly;
  double threshold = 6.0;
};

/// "awq(group_size=128, zero_point)", "bnb4(nf4, block_size=64)", ... for
/// messages.
std::string describeScheme(const QuantSchemeDesc &scheme);

/// One stored tensor `<module>.<suffix>`.
struct PackedTensor {
  std::string suffix;
  DType dtype = DType::I8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes; ///< little-endian, product(shape) elements
};

/// Checks that an [n, k] linear layer can be stored in `scheme` (AWQ: N a
/// multiple of 8 and G a multiple of 8 dividing K; BnB4: B dividing K, so
/// that blocks never straddle rows).
Status checkSchemeShape(const QuantSchemeDesc &scheme, int64_t n, int64_t k);

/// The storage tensors of an [n, k] linear layer in `scheme`, in ABI order,
/// with empty bytes.
StatusOr<std::vector<PackedTensor>> packedLayout(const QuantSchemeDesc &scheme,
                                                 int64_t n, int64_t k);

/// Converts a floating-point tensor (F32, F16 or BF16) to `target` (F32, F16
/// or BF16), rounding to nearest even as PyTorch's .to() does (values beyond
/// the target's range become infinities, as there).
StatusOr<std::vector<uint8_t>>
convertFloatTensor(const TensorInfo &info, std::span<const uint8_t> bytes,
                   DType target);

/// A linear layer's float weight, widened to fp32.
struct FloatWeight {
  std::string name; ///< "<module>.weight"
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  std::vector<float> values;

  WeightMatrix matrix() const { return {values, rows, cols, dtype, name}; }
};

/// Reads `<module>.weight`, which must be an F32, F16 or BF16 [n, k] tensor.
StatusOr<FloatWeight> loadLinearWeight(const WeightIndex &ckpt,
                                       std::string_view module, int64_t n,
                                       int64_t k);

/// Quantizes `w` ([N, K]) into the storage tensors of `scheme`:
///  - AWQ with zero point: awqQuantizeRtn (AutoAWQ's pseudo_quantize_tensor);
///    without: AutoAWQ's symmetric rule, per group scale = max(absmax, 1e-5)
///    / 7 rounded to fp16, q = clamp(round(w / scale), -8, 7) + 8 (in fp16
///    arithmetic for F16 weights, as awqQuantizeRtn).
///  - BnB4: quantizeBnb4.
///  - Int8 LLM.int8: quantizeLlmInt8 (CB, SCB). W8A8: quantizeInt8PerChannel
///    (scale = absmax / 127 in fp32). Weight-only: the same scale rounded to
///    fp16, and the codes derived from that rounded scale so that the stored
///    scale is the one the codes were made with.
StatusOr<std::vector<PackedTensor>>
quantizeWeight(const WeightMatrix &w, const QuantSchemeDesc &scheme);

/// loadLinearWeight + quantizeWeight. Errors name the tensor.
StatusOr<std::vector<PackedTensor>>
quantizeLinear(const WeightIndex &ckpt, std::string_view module,
               const QuantSchemeDesc &scheme, int64_t n, int64_t k);

/// The same storage tensors from a pre-quantized checkpoint:
///  - AWQ: `awqVersion` "gemm" (AutoAWQ GEMM, copied; without zero point only
///    qweight and scales are read), "gemv" or "llm-awq" (converted by
///    importAwqWeight; zero point only);
///  - BnB4: bitsandbytes 4-bit (importBnb4Weight); its type, blocksize and
///    double quantization must match `scheme`. A nested_quant_map other than
///    dynamicMapSigned() (within 1e-6) is refused, as the compiled code
///    dequantizes with the built-in map;
///  - Int8 LLM.int8: bitsandbytes 8-bit weight + SCB (importBnb8Weight);
///    weight-only and W8A8: qc's own `<module>.qweight` and `.scales`.
/// `awqVersion` is ignored for the other schemes.
StatusOr<std::vector<PackedTensor>>
importQuantizedLinear(const WeightIndex &ckpt, std::string_view module,
                      const QuantSchemeDesc &scheme, int64_t n, int64_t k,
                      std::string_view awqVersion);

/// Dequantizes storage tensors with the library's dequantizers
/// (dequantizeAwq, dequantizeBnb4, dequantizeInt8PerChannel,
/// dequantizeLlmInt8), [n, k] row-major in fp32. `weightType` is the dtype
/// the float weight had: bitsandbytes rounds its dequantized values to it.
StatusOr<std::vector<float>>
dequantizePacked(std::span<const PackedTensor> packed,
                 const QuantSchemeDesc &scheme, int64_t n, int64_t k,
                 DType weightType);

/// Whether `module` (e.g. "model.layers.0.self_attn.q_proj") is a linear
/// layer of a decoder block: model.layers.*.self_attn.{q,k,v,o}_proj or
/// model.layers.*.mlp.{gate,up,down}_proj.
bool isDecoderLinear(std::string_view module);

} // namespace qc::quant

#endif // QC_QUANT_WEIGHTPACKER_H
