//===- BnB4bit.h - bitsandbytes NF4 / FP4 quantization ----------*- C++ -*-===//
//
// The canonical NF4 / FP4 format is bitsandbytes' quantize_4bit: the weight
// is flattened row-major and cut into blocks of `blocksize` values; each
// block stores absmax = max |v| (fp32) and each value the 4-bit index of the
// codebook entry nearest to v / absmax. Two codes share a byte, the first
// element in the high nibble: packed is uint8 [ceil(n / 2)].
//
// With double quantization (compress_statistics) the absmax values are
// stored as uint8 codes of the blockwise 8-bit dynamic type (blocksize 256)
// of absmax - offset, offset = mean(absmax), plus one fp32 absmax per 256
// blocks.
//
// Arithmetic follows the CUDA kernels: v * (1 / absmax) in fp32, the
// kernels' comparison trees to pick codes, and dequantization as
// fp32(codebook[q] * absmax) rounded once to the stored dtype.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_BNB4BIT_H
#define QC_QUANT_BNB4BIT_H

#include "qc/Quant/Weights.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace qc::quant {

enum class Bnb4Type { NF4, FP4 };

/// "nf4" or "fp4", as bitsandbytes spells quant_type.
std::string_view bnb4TypeName(Bnb4Type type);

/// get_4bit_type(type): the 16 fp32 codebook values, normalized to [-1, 1]
/// (what checkpoints store as quant_map). FP4 is indexed by its bit pattern
/// (sign in bit 3), so it is not sorted; its entry 8 is +0, although the
/// dequantization kernel turns code 8 into -0.
std::span<const float, 16> bnb4Codebook(Bnb4Type type);

/// The code of a normalized value (x = v / absmax) by the kernels'
/// comparison trees dQuantizeNF4 / dQuantizeFP4: the nearest codebook
/// value, the smaller magnitude on an exact tie; FP4 takes the sign bit from
/// x < 0, so small negatives map to -0 (code 8). NaN maps to code 0.
uint8_t quantizeNf4Value(float x);
uint8_t quantizeFp4Value(float x);

/// Packs 4-bit codes two per byte, the first in the high nibble; an odd
/// count leaves `padCode` in the last low nibble (bitsandbytes quantizes the
/// zero its kernel pads with: code 7 for NF4, 0 for FP4).
std::vector<uint8_t> packNibbles(std::span<const uint8_t> codes,
                                 uint8_t padCode = 0);
/// The first `count` codes of `packed`; `packed` must hold ceil(count / 2)
/// bytes.
StatusOr<std::vector<uint8_t>> unpackNibbles(std::span<const uint8_t> packed,
                                             int64_t count);

/// A 4-bit quantized tensor in bitsandbytes' layout.
struct Bnb4Weight {
  Bnb4Type type = Bnb4Type::NF4;
  int64_t blocksize = 64;
  /// The original tensor's shape and dtype (F32, F16 or BF16); dequantized
  /// values are rounded to that dtype.
  std::vector<int64_t> shape;
  DType dtype = DType::F16;
  std::vector<uint8_t> packed; ///< ceil(n / 2) bytes

  /// absmax per block when !nested.
  std::vector<float> absmax;

  /// Double quantization of the absmax values.
  bool nested = false;
  std::vector<uint8_t> qabsmax;    ///< one code per block
  std::vector<float> nestedAbsmax; ///< one per nestedBlocksize blocks
  std::vector<float> nestedCode;   ///< 256 values (the dynamic map)
  float offset = 0.0f;
  int64_t nestedBlocksize = 256;

  int64_t numElements() const;
  int64_t numBlocks() const;
};

/// Checks that the buffers of `w` fit its shape and blocksizes.
Status validateBnb4(const Bnb4Weight &w);

/// quantize_4bit(w, blocksize, compress_statistics = doubleQuant,
/// quant_type). The offset of double quantization is the mean of the absmax
/// values taken in double and rounded once to fp32 (bitsandbytes takes an
/// fp32 mean on the device, which can differ in the last bit).
StatusOr<Bnb4Weight> quantizeBnb4(const WeightMatrix &w, Bnb4Type type,
                                  int64_t blocksize = 64,
                                  bool doubleQuant = false);

/// The per-block absmax values, dequantized first when nested:
/// nestedCode[q] * nestedAbsmax + offset, in fp32.
StatusOr<std::vector<float>> bnb4Absmax(const Bnb4Weight &w);

/// dequantize_4bit: codebook[q] * absmax in fp32 (FP4: magnitude times the
/// sign bit, as the kernel does), rounded to w.dtype and returned widened to
/// fp32, in row-major order of w.shape.
StatusOr<std::vector<float>> dequantizeBnb4(const Bnb4Weight &w);

} // namespace qc::quant

#endif // QC_QUANT_BNB4BIT_H
