//===- AWQ.cpp - AWQ int4 round-to-nearest quantization -------------------===//

#include "qc/Quant/AWQ.h"

#include "qc/Quant/Half.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace qc::quant {

namespace {

std::string shapeText(int64_t n, int64_t k, int64_t g) {
  return "N=" + std::to_string(n) + ", K=" + std::to_string(k) +
         ", G=" + std::to_string(g);
}

Status checkSize(const char *what, size_t actual, int64_t expected,
                 const char *shape) {
  if (static_cast<int64_t>(actual) == expected)
    return Status::ok();
  return Status::error(std::string(what) + ": expected " + shape + " = " +
                       std::to_string(expected) + " elements, got " +
                       std::to_string(actual));
}

} // namespace

Status checkAwqShape(int64_t n, int64_t k, int64_t g) {
  if (n <= 0 || k <= 0)
    return Status::error("AWQ layer must be non-empty (" + shapeText(n, k, g) +
                         ")");
  if (n % kAwqPack != 0)
    return Status::error("AWQ out_features N=" + std::to_string(n) +
                         " is not a multiple of 8");
  if (g <= 0 || g % 8 != 0)
    return Status::error("AWQ group size G=" + std::to_string(g) +
                         " must be a positive multiple of 8");
  if (k % g != 0)
    return Status::error(
        "AWQ in_features K=" + std::to_string(k) +
        " is not divisible by the group size G=" + std::to_string(g));
  if (n > std::numeric_limits<int32_t>::max() ||
      k > std::numeric_limits<int32_t>::max() / n)
    return Status::error("AWQ layer too large (" + shapeText(n, k, g) + ")");
  return Status::ok();
}

bool awqQuantizeGroup(std::span<const float> values, DType type,
                      std::span<uint8_t> codes, uint8_t &zero,
                      uint16_t &scale) {
  // In the weights' arithmetic: fp16 rounds after every operation (AutoAWQ
  // runs in fp16); fp32 and bf16 weights are computed in fp32.
  const bool f16 = type == DType::F16;
  auto r = [f16](float v) { return f16 ? roundToHalf(v) : v; };
  const float maxInt = 15.0f;
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  float range = std::max(r(*hi - *lo), r(1e-5f));
  scale = floatToHalf(range / maxInt);
  float s = halfToFloat(scale);
  if (!std::isfinite(s))
    return false;
  // round() is half-to-even in torch: nearbyint under the default mode.
  float z = std::clamp(-std::nearbyint(r(*lo / s)), 0.0f, maxInt);
  zero = static_cast<uint8_t>(z);
  for (size_t i = 0; i < values.size(); ++i)
    codes[i] = static_cast<uint8_t>(
        std::clamp(r(std::nearbyint(r(values[i] / s)) + z), 0.0f, maxInt));
  return true;
}

StatusOr<AwqCodes> awqQuantizeRtn(const WeightMatrix &w, int64_t groupSize,
                                  int bits) {
  if (bits != kAwqBits)
    return Status::error("AWQ bits=" + std::to_string(bits) +
                         ": only 4-bit AWQ is supported");
  QC_RETURN_IF_ERROR(validateWeights(w));
  QC_RETURN_IF_ERROR(
      std::move(checkAwqShape(w.rows, w.cols, groupSize)).withContext(w.name));
  AwqCodes out;
  out.outFeatures = w.rows;
  out.inFeatures = w.cols;
  out.groupSize = groupSize;
  int64_t groups = w.cols / groupSize;
  out.q.resize(w.values.size());
  out.zeros.resize(w.rows * groups);
  out.scales.resize(w.rows * groups);
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      int64_t begin = n * w.cols + g * groupSize;
      if (!awqQuantizeGroup(w.values.subspan(begin, groupSize), w.type,
                            std::span(out.q).subspan(begin, groupSize),
                            out.zeros[n * groups + g],
                            out.scales[n * groups + g]))
        return Status::error(w.name + ": the value range of row " +
                             std::to_string(n) + ", group " +
                             std::to_string(g) + " overflows an fp16 scale");
    }
  return out;
}

Status validateAwqCodes(const AwqCodes &c) {
  QC_RETURN_IF_ERROR(checkAwqShape(c.outFeatures, c.inFeatures, c.groupSize));
  int64_t groups = c.numGroups();
  QC_RETURN_IF_ERROR(
      checkSize("AWQ codes", c.q.size(), c.outFeatures * c.inFeatures, "N*K"));
  QC_RETURN_IF_ERROR(
      checkSize("AWQ zeros", c.zeros.size(), c.outFeatures * groups, "N*K/G"));
  QC_RETURN_IF_ERROR(checkSize("AWQ scales", c.scales.size(),
                               c.outFeatures * groups, "N*K/G"));
  auto outOfRange = [](uint8_t v) { return v > 15; };
  if (std::any_of(c.q.begin(), c.q.end(), outOfRange))
    return Status::error("AWQ codes: value above 15");
  if (std::any_of(c.zeros.begin(), c.zeros.end(), outOfRange))
    return Status::error("AWQ zeros: value above 15");
  return Status::ok();
}

Status validateAwqGemm(const AwqGemmWeight &w) {
  QC_RETURN_IF_ERROR(checkAwqShape(w.outFeatures, w.inFeatures, w.groupSize));
  int64_t cols = w.outFeatures / kAwqPack;
  int64_t groups = w.inFeatures / w.groupSize;
  QC_RETURN_IF_ERROR(checkSize("AWQ qweight", w.qweight.size(),
                               w.inFeatures * cols, "[K, N/8]"));
  QC_RETURN_IF_ERROR(
      checkSize("AWQ qzeros", w.qzeros.size(), groups * cols, "[K/G, N/8]"));
  QC_RETURN_IF_ERROR(checkSize("AWQ scales", w.scales.size(),
                               groups * w.outFeatures, "[K/G, N]"));
  return Status::ok();
}

namespace {

/// Packs 8 codes (element j at nibble kAwqNibbleOf[j]).
int32_t packAwqWord(const uint8_t *eight, int64_t stride) {
  uint32_t word = 0;
  for (int j = 0; j < 8; ++j)
    word |= uint32_t(eight[j * stride] & 0xf) << (4 * kAwqNibbleOf[j]);
  return static_cast<int32_t>(word);
}

void unpackAwqWord(int32_t packed, uint8_t *eight, int64_t stride) {
  uint32_t word = static_cast<uint32_t>(packed);
  for (int j = 0; j < 8; ++j)
    eight[j * stride] = (word >> (4 * kAwqNibbleOf[j])) & 0xf;
}

} // namespace

StatusOr<AwqGemmWeight> packAwqGemm(const AwqCodes &c) {
  QC_RETURN_IF_ERROR(validateAwqCodes(c));
  const int64_t n = c.outFeatures, k = c.inFeatures, groups = c.numGroups();
  const int64_t cols = n / kAwqPack;
  AwqGemmWeight out;
  out.outFeatures = n;
  out.inFeatures = k;
  out.groupSize = c.groupSize;
  out.qweight.resize(k * cols);
  out.qzeros.resize(groups * cols);
  out.scales.resize(groups * n);
  // Codes are [N, K]; the 8 packed neighbours run along N (stride K).
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t col = 0; col < cols; ++col)
      out.qweight[kk * cols + col] =
          packAwqWord(c.q.data() + col * kAwqPack * k + kk, k);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t col = 0; col < cols; ++col)
      out.qzeros[g * cols + col] =
          packAwqWord(c.zeros.data() + col * kAwqPack * groups + g, groups);
    for (int64_t nn = 0; nn < n; ++nn)
      out.scales[g * n + nn] = c.scales[nn * groups + g];
  }
  return out;
}

StatusOr<AwqCodes> unpackAwqGemm(const AwqGemmWeight &w) {
  QC_RETURN_IF_ERROR(validateAwqGemm(w));
  const int64_t n = w.outFeatures, k = w.inFeatures;
  const int64_t groups = k / w.groupSize, cols = n / kAwqPack;
  AwqCodes out;
  out.outFeatures = n;
  out.inFeatures = k;
  out.groupSize = w.groupSize;
  out.q.resize(n * k);
  out.zeros.resize(n * groups);
  out.scales.resize(n * groups);
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t col = 0; col < cols; ++col)
      unpackAwqWord(w.qweight[kk * cols + col],
                    out.q.data() + col * kAwqPack * k + kk, k);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t col = 0; col < cols; ++col)
      unpackAwqWord(w.qzeros[g * cols + col],
                    out.zeros.data() + col * kAwqPack * groups + g, groups);
    for (int64_t nn = 0; nn < n; ++nn)
      out.scales[nn * groups + g] = w.scales[g * n + nn];
  }
  return out;
}

StatusOr<std::vector<float>> dequantizeAwq(const AwqCodes &c) {
  QC_RETURN_IF_ERROR(validateAwqCodes(c));
  const int64_t k = c.inFeatures, groups = c.numGroups();
  std::vector<float> out(c.q.size());
  for (int64_t n = 0; n < c.outFeatures; ++n) {
    for (int64_t kk = 0; kk < k; ++kk) {
      int64_t g = n * groups + kk / c.groupSize;
      // q - z is a small integer, exact in fp16; the product rounds once.
      float diff = float(c.q[n * k + kk]) - float(c.zeros[g]);
      out[n * k + kk] = roundToHalf(diff * halfToFloat(c.scales[g]));
    }
  }
  return out;
}

} // namespace qc::quant
