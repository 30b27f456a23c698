//===- BnB4bit.cpp - bitsandbytes NF4 / FP4 quantization ------------------===//

#include "qc/Quant/BnB4bit.h"

#include "qc/Model/SafeTensors.h"
#include "qc/Quant/DynamicMap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace qc::quant {

namespace {

// bitsandbytes.functional.get_4bit_type("nf4").
constexpr std::array<float, 16> kNf4 = {-1.0f,
                                        -0.6961928009986877f,
                                        -0.5250730514526367f,
                                        -0.39491748809814453f,
                                        -0.28444138169288635f,
                                        -0.18477343022823334f,
                                        -0.09105003625154495f,
                                        0.0f,
                                        0.07958029955625534f,
                                        0.16093020141124725f,
                                        0.24611230194568634f,
                                        0.33791524171829224f,
                                        0.44070982933044434f,
                                        0.5626170039176941f,
                                        0.7229568362236023f,
                                        1.0f};

// get_4bit_type("fp4"): [0, 0.0625, 8, 12, 4, 6, 2, 3] and their negatives,
// divided in fp32 by the largest magnitude, 12. Entry 8 is +0: the Python
// list spells it "-0", an integer.
// clang-format off
constexpr std::array<float, 16> kFp4 = {
    0.0f,       0.0625f / 12,  8.0f / 12,  1.0f,
    4.0f / 12,  6.0f / 12,     2.0f / 12,  3.0f / 12,
    0.0f,       -0.0625f / 12, -8.0f / 12, -1.0f,
    -4.0f / 12, -6.0f / 12,    -2.0f / 12, -3.0f / 12};
// clang-format on

/// The value the dequantization kernels give a code: the codebook entry,
/// except that FP4 applies the sign bit itself (kDequantizeBlockwise's
/// dDequantizeFP4Tree), so code 8 is -0.
float dequantValue(Bnb4Type type, uint8_t code) {
  if (type == Bnb4Type::NF4)
    return kNf4[code];
  float magnitude = kFp4[code & 7];
  return code & 8 ? -magnitude : magnitude;
}

} // namespace

std::string_view bnb4TypeName(Bnb4Type type) {
  return type == Bnb4Type::NF4 ? "nf4" : "fp4";
}

std::span<const float, 16> bnb4Codebook(Bnb4Type type) {
  return type == Bnb4Type::NF4 ? std::span<const float, 16>(kNf4)
                               : std::span<const float, 16>(kFp4);
}

// The two trees below are csrc/kernels.cu's dQuantizeNF4 / dQuantizeFP4 with
// their float thresholds (midpoints of neighbouring codes). Every comparison
// is false for NaN, which therefore lands on code 0 as in the kernel.
uint8_t quantizeNf4Value(float x) {
  if (x > 0.03979014977812767f) {
    if (x > 0.3893125355243683f) {
      if (x > 0.6427869200706482f)
        return x > 0.8614784181118011f ? 0b1111 : 0b1110;
      return x > 0.5016634166240692f ? 0b1101 : 0b1100;
    }
    if (x > 0.2035212516784668f)
      return x > 0.2920137718319893f ? 0b1011 : 0b1010;
    return x > 0.1202552504837513f ? 0b1001 : 0b1000;
  }
  if (x > -0.33967943489551544f) {
    if (x > -0.13791173323988914f)
      return x > -0.045525018125772476f ? 0b0111 : 0b0110;
    return x > -0.23460740596055984f ? 0b0101 : 0b0100;
  }
  if (x > -0.6106329262256622f)
    return x > -0.4599952697753906f ? 0b0011 : 0b0010;
  return x > -0.8480964004993439f ? 0b0001 : 0b0000;
}

uint8_t quantizeFp4Value(float x) {
  uint8_t sign = x < 0 ? 0b1000 : 0b0000;
  x = std::fabs(x);
  uint8_t magnitude;
  if (x > 0.29166667f) {
    if (x > 0.583333f)
      magnitude = x > 0.8333333f ? 0b0011 : 0b0010;
    else
      magnitude = x > 0.4166667f ? 0b0101 : 0b0100;
  } else if (x > 0.0859375f) {
    magnitude = x > 0.20833333f ? 0b0111 : 0b0110;
  } else {
    magnitude = x > 0.00260417f ? 0b0001 : 0b0000;
  }
  return sign | magnitude;
}

std::vector<uint8_t> packNibbles(std::span<const uint8_t> codes,
                                 uint8_t padCode) {
  std::vector<uint8_t> packed((codes.size() + 1) / 2, 0);
  for (size_t i = 0; i < codes.size(); ++i)
    packed[i / 2] |=
        static_cast<uint8_t>(i % 2 == 0 ? codes[i] << 4 : codes[i] & 0xf);
  if (codes.size() % 2)
    packed.back() |= static_cast<uint8_t>(padCode & 0xf);
  return packed;
}

StatusOr<std::vector<uint8_t>> unpackNibbles(std::span<const uint8_t> packed,
                                             int64_t count) {
  if (count < 0 || static_cast<int64_t>(packed.size()) != (count + 1) / 2)
    return Status::error("4-bit codes: " + std::to_string(packed.size()) +
                         " bytes cannot hold exactly " + std::to_string(count) +
                         " codes");
  std::vector<uint8_t> codes(count);
  for (int64_t i = 0; i < count; ++i)
    codes[i] = i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 0xf;
  return codes;
}

int64_t Bnb4Weight::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t Bnb4Weight::numBlocks() const {
  return blocksize > 0 ? (numElements() + blocksize - 1) / blocksize : 0;
}

Status validateBnb4(const Bnb4Weight &w) {
  std::string what = "bnb " + std::string(bnb4TypeName(w.type)) + " weight";
  if (w.blocksize <= 0)
    return Status::error(what + ": blocksize " + std::to_string(w.blocksize) +
                         " must be positive");
  if (w.shape.empty())
    return Status::error(what + ": shape is empty");
  int64_t elements = 1;
  for (int64_t d : w.shape) {
    if (d <= 0 || d > (int64_t(1) << 40) / elements)
      return Status::error(what + ": bad shape " + formatShape(w.shape));
    elements *= d;
  }
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
    return Status::error(what + ": dtype must be F32, F16 or BF16, got " +
                         std::string(dtypeName(w.dtype)));
  int64_t n = w.numElements(), blocks = w.numBlocks();
  if (static_cast<int64_t>(w.packed.size()) != (n + 1) / 2)
    return Status::error(what + ": " + std::to_string(w.packed.size()) +
                         " packed bytes, expected " +
                         std::to_string((n + 1) / 2) + " for shape " +
                         formatShape(w.shape));
  if (!w.nested) {
    if (static_cast<int64_t>(w.absmax.size()) != blocks)
      return Status::error(what + ": " + std::to_string(w.absmax.size()) +
                           " absmax values, expected " +
                           std::to_string(blocks));
    return Status::ok();
  }
  if (static_cast<int64_t>(w.qabsmax.size()) != blocks)
    return Status::error(what + ": " + std::to_string(w.qabsmax.size()) +
                         " quantized absmax values, expected " +
                         std::to_string(blocks));
  if (w.nestedBlocksize <= 0)
    return Status::error(what + ": nested blocksize " +
                         std::to_string(w.nestedBlocksize) +
                         " must be positive");
  int64_t nestedBlocks = (blocks + w.nestedBlocksize - 1) / w.nestedBlocksize;
  if (static_cast<int64_t>(w.nestedAbsmax.size()) != nestedBlocks)
    return Status::error(what + ": " + std::to_string(w.nestedAbsmax.size()) +
                         " nested absmax values, expected " +
                         std::to_string(nestedBlocks));
  if (w.nestedCode.size() != 256)
    return Status::error(what + ": nested code has " +
                         std::to_string(w.nestedCode.size()) +
                         " values, expected 256");
  return Status::ok();
}

StatusOr<Bnb4Weight> quantizeBnb4(const WeightMatrix &w, Bnb4Type type,
                                  int64_t blocksize, bool doubleQuant) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  if (blocksize <= 0)
    return Status::error(w.name + ": bnb blocksize " +
                         std::to_string(blocksize) + " must be positive");
  Bnb4Weight out;
  out.type = type;
  out.blocksize = blocksize;
  out.shape = {w.rows, w.cols};
  out.dtype = w.type;
  const int64_t n = w.rows * w.cols;
  auto quantizeValue =
      type == Bnb4Type::NF4 ? quantizeNf4Value : quantizeFp4Value;
  std::vector<uint8_t> codes(n);
  std::vector<float> absmax;
  float inverse = 0.0f;
  for (int64_t begin = 0; begin < n; begin += blocksize) {
    int64_t end = std::min(n, begin + blocksize);
    float blockMax = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      blockMax = std::max(blockMax, std::fabs(w.values[i]));
    absmax.push_back(blockMax);
    // The kernel multiplies by the reciprocal (an all-zero block gives
    // 0 * inf = NaN, which the trees send to code 0, as the kernel does).
    inverse = 1.0f / blockMax;
    for (int64_t i = begin; i < end; ++i)
      codes[i] = quantizeValue(w.values[i] * inverse);
  }
  // For an odd n the kernel also quantizes the zero it pads the last block
  // with, into the last low nibble.
  out.packed = packNibbles(codes, quantizeValue(0.0f * inverse));
  if (!doubleQuant) {
    out.absmax = std::move(absmax);
    return out;
  }
  double sum = 0.0;
  for (float a : absmax)
    sum += a;
  out.offset = static_cast<float>(sum / static_cast<double>(absmax.size()));
  std::vector<float> centered(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i)
    centered[i] = absmax[i] - out.offset;
  QC_ASSIGN_OR_RETURN(
      Blockwise8 nested,
      quantizeBlockwise8(centered, out.nestedBlocksize, dynamicMapSigned()));
  out.nested = true;
  out.qabsmax = std::move(nested.codes);
  out.nestedAbsmax = std::move(nested.absmax);
  auto code = dynamicMapSigned();
  out.nestedCode.assign(code.begin(), code.end());
  return out;
}

StatusOr<std::vector<float>> bnb4Absmax(const Bnb4Weight &w) {
  QC_RETURN_IF_ERROR(validateBnb4(w));
  if (!w.nested)
    return w.absmax;
  Blockwise8 nested{w.qabsmax, w.nestedAbsmax, w.nestedBlocksize};
  QC_ASSIGN_OR_RETURN(std::vector<float> absmax,
                      dequantizeBlockwise8(nested, w.nestedCode));
  for (float &a : absmax)
    a += w.offset;
  return absmax;
}

StatusOr<std::vector<float>> dequantizeBnb4(const Bnb4Weight &w) {
  QC_ASSIGN_OR_RETURN(std::vector<float> absmax, bnb4Absmax(w));
  const int64_t n = w.numElements();
  QC_ASSIGN_OR_RETURN(std::vector<uint8_t> codes, unpackNibbles(w.packed, n));
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i)
    out[i] = roundToType(w.dtype, dequantValue(w.type, codes[i]) *
                                      absmax[i / w.blocksize]);
  return out;
}

} // namespace qc::quant
