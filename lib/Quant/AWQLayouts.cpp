//===- AWQLayouts.cpp - Other AWQ checkpoint layouts ----------------------===//

#include "qc/Quant/AWQLayouts.h"

#include "qc/Quant/Half.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

namespace qc::quant {

namespace {

Status checkCount(const char *what, size_t actual, int64_t expected,
                  const std::string &shape) {
  if (static_cast<int64_t>(actual) == expected)
    return Status::ok();
  return Status::error(std::string(what) + ": expected " + shape + " = " +
                       std::to_string(expected) + " elements, got " +
                       std::to_string(actual));
}

std::string dims(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

AwqCodes emptyCodes(int64_t n, int64_t k, int64_t g) {
  AwqCodes c;
  c.outFeatures = n;
  c.inFeatures = k;
  c.groupSize = g;
  c.q.resize(n * k);
  c.zeros.resize(n * (k / g));
  c.scales.resize(n * (k / g));
  return c;
}

/// Sequential nibbles: element i of 8 in bits 4i..4i+3.
int32_t packSequential(const uint8_t *eight, int count) {
  uint32_t word = 0;
  for (int i = 0; i < count; ++i)
    word |= uint32_t(eight[i] & 0xf) << (4 * i);
  return static_cast<int32_t>(word);
}

uint8_t nibble(uint32_t word, int i) { return (word >> (4 * i)) & 0xf; }

/// Source column (within its 32-block) of permuted position p, for
/// pack_intweight's two reshuffles: position 8b + 4c + a <- 8a + 2b + c.
int llmAwqSource(int p) {
  int b = p / 8, c = (p / 4) % 2, a = p % 4;
  return 8 * a + 2 * b + c;
}

Status checkLlmAwqShape(int64_t n, int64_t k, int64_t g) {
  QC_RETURN_IF_ERROR(checkAwqShape(n, k, g));
  if (n % 4 != 0 || k % 64 != 0)
    return Status::error("llm-awq layout needs N % 4 == 0 and K % 64 == 0, "
                         "got N=" +
                         std::to_string(n) + ", K=" + std::to_string(k));
  return Status::ok();
}

} // namespace

StatusOr<int64_t> awqZerosWidth(int64_t k, int64_t g) {
  int64_t multiplier;
  if (g >= 128)
    multiplier = 1;
  else if (g == 64)
    multiplier = 2;
  else if (g == 32)
    multiplier = 4;
  else
    return Status::error("AWQ GEMV / llm-awq layouts support group sizes 32, "
                         "64 and >= 128, got G=" +
                         std::to_string(g));
  if (k <= 0 || k % g != 0)
    return Status::error(
        "AWQ in_features K=" + std::to_string(k) +
        " is not divisible by the group size G=" + std::to_string(g));
  int64_t base = (k / g + kAwqPack - 1) / kAwqPack;
  return (base + multiplier - 1) / multiplier * multiplier;
}

StatusOr<AwqGemvWeight> packAwqGemv(const AwqCodes &c) {
  QC_RETURN_IF_ERROR(validateAwqCodes(c));
  QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(c.inFeatures, c.groupSize));
  const int64_t n = c.outFeatures, k = c.inFeatures, groups = c.numGroups();
  AwqGemvWeight out;
  out.outFeatures = n;
  out.inFeatures = k;
  out.groupSize = c.groupSize;
  out.qweight.resize(n * (k / kAwqPack));
  out.qzeros.assign(n * zw, 0);
  out.scales.assign(n * zw * kAwqPack, 0);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t col = 0; col < k / kAwqPack; ++col)
      out.qweight[row * (k / kAwqPack) + col] =
          packSequential(c.q.data() + row * k + col * kAwqPack, kAwqPack);
    for (int64_t col = 0; col * kAwqPack < groups; ++col)
      out.qzeros[row * zw + col] =
          packSequential(c.zeros.data() + row * groups + col * kAwqPack,
                         static_cast<int>(std::min<int64_t>(
                             kAwqPack, groups - col * kAwqPack)));
    for (int64_t g = 0; g < groups; ++g)
      out.scales[row * zw * kAwqPack + g] = c.scales[row * groups + g];
  }
  return out;
}

StatusOr<AwqCodes> unpackAwqGemv(const AwqGemvWeight &w) {
  const int64_t n = w.outFeatures, k = w.inFeatures, g = w.groupSize;
  QC_RETURN_IF_ERROR(checkAwqShape(n, k, g));
  QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(k, g));
  QC_RETURN_IF_ERROR(checkCount("AWQ GEMV qweight", w.qweight.size(),
                                n * (k / kAwqPack), dims(n, k / kAwqPack)));
  QC_RETURN_IF_ERROR(
      checkCount("AWQ GEMV qzeros", w.qzeros.size(), n * zw, dims(n, zw)));
  QC_RETURN_IF_ERROR(checkCount("AWQ GEMV scales", w.scales.size(),
                                n * zw * kAwqPack, dims(n, zw * kAwqPack)));
  const int64_t groups = k / g;
  AwqCodes c = emptyCodes(n, k, g);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t kk = 0; kk < k; ++kk)
      c.q[row * k + kk] =
          nibble(static_cast<uint32_t>(
                     w.qweight[row * (k / kAwqPack) + kk / kAwqPack]),
                 static_cast<int>(kk % kAwqPack));
    for (int64_t grp = 0; grp < groups; ++grp) {
      c.zeros[row * groups + grp] =
          nibble(static_cast<uint32_t>(w.qzeros[row * zw + grp / kAwqPack]),
                 static_cast<int>(grp % kAwqPack));
      c.scales[row * groups + grp] = w.scales[row * zw * kAwqPack + grp];
    }
  }
  return c;
}

StatusOr<LlmAwqWeight> packLlmAwq(const AwqCodes &c) {
  QC_RETURN_IF_ERROR(validateAwqCodes(c));
  QC_RETURN_IF_ERROR(
      checkLlmAwqShape(c.outFeatures, c.inFeatures, c.groupSize));
  QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(c.inFeatures, c.groupSize));
  const int64_t n = c.outFeatures, k = c.inFeatures, groups = c.numGroups();
  LlmAwqWeight out;
  out.outFeatures = n;
  out.inFeatures = k;
  out.groupSize = c.groupSize;
  out.qweight.resize((n / 4) * k);
  for (int64_t n4 = 0; n4 < n / 4; ++n4)
    for (int64_t col = 0; col < k; ++col) {
      int64_t j = col % 64, kb = col / 64;
      int64_t row = 4 * n4 + j / 16;
      uint32_t word = 0;
      for (int i = 0; i < 4; ++i) {
        int64_t p = 64 * kb + 4 * (j % 16) + i; // permuted position in row
        int64_t src = (p / 32) * 32 + llmAwqSource(static_cast<int>(p % 32));
        word |= uint32_t(c.q[row * k + src]) << (4 * i);
      }
      out.qweight[n4 * k + col] = static_cast<int16_t>(word);
    }
  out.scales.assign(zw * kAwqPack * n, 0);
  out.scaledZeros.assign(zw * kAwqPack * n, 0);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t row = 0; row < n; ++row) {
      uint16_t scale = c.scales[row * groups + g];
      out.scales[g * n + row] = scale;
      // -(fp16 scale * zero) in fp32, rounded once to fp16.
      uint16_t scaledZero =
          floatToHalf(-(halfToFloat(scale) * float(c.zeros[row * groups + g])));
      if (!std::isfinite(halfToFloat(scaledZero)))
        return Status::error("llm-awq layout: scale * zero of row " +
                             std::to_string(row) + ", group " +
                             std::to_string(g) + " overflows fp16");
      out.scaledZeros[g * n + row] = scaledZero;
    }
  return out;
}

StatusOr<AwqCodes> unpackLlmAwq(const LlmAwqWeight &w) {
  const int64_t n = w.outFeatures, k = w.inFeatures, g = w.groupSize;
  QC_RETURN_IF_ERROR(checkLlmAwqShape(n, k, g));
  QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(k, g));
  QC_RETURN_IF_ERROR(checkCount("llm-awq qweight", w.qweight.size(),
                                (n / 4) * k, dims(n / 4, k)));
  QC_RETURN_IF_ERROR(checkCount("llm-awq scales", w.scales.size(),
                                zw * kAwqPack * n, dims(zw * kAwqPack, n)));
  QC_RETURN_IF_ERROR(checkCount("llm-awq scaled_zeros", w.scaledZeros.size(),
                                zw * kAwqPack * n, dims(zw * kAwqPack, n)));
  const int64_t groups = k / g;
  AwqCodes c = emptyCodes(n, k, g);
  for (int64_t n4 = 0; n4 < n / 4; ++n4)
    for (int64_t col = 0; col < k; ++col) {
      int64_t j = col % 64, kb = col / 64;
      int64_t row = 4 * n4 + j / 16;
      uint32_t word = static_cast<uint16_t>(w.qweight[n4 * k + col]);
      for (int i = 0; i < 4; ++i) {
        int64_t p = 64 * kb + 4 * (j % 16) + i;
        int64_t src = (p / 32) * 32 + llmAwqSource(static_cast<int>(p % 32));
        c.q[row * k + src] = nibble(word, i);
      }
    }
  for (int64_t grp = 0; grp < groups; ++grp)
    for (int64_t row = 0; row < n; ++row) {
      uint16_t scaleBits = w.scales[grp * n + row];
      uint16_t szBits = w.scaledZeros[grp * n + row];
      float scale = halfToFloat(scaleBits), sz = halfToFloat(szBits);
      std::string where = "llm-awq scaled_zeros[" + std::to_string(grp) + ", " +
                          std::to_string(row) + "]";
      if (!std::isfinite(scale) || !std::isfinite(sz))
        return Status::error(where + ": non-finite scale or scaled zero");
      float zero = 0.0f;
      if (scale != 0.0f)
        zero = std::nearbyint(-sz / scale);
      else if (sz != 0.0f)
        return Status::error(where + ": non-zero with a zero scale");
      if (zero < 0.0f || zero > 15.0f ||
          halfToFloat(floatToHalf(-(scale * zero))) != sz)
        return Status::error(where + ": not of the form -scale * zero with "
                                     "an integer zero in [0, 15]");
      c.zeros[row * groups + grp] = static_cast<uint8_t>(zero);
      c.scales[row * groups + grp] = scaleBits;
    }
  return c;
}

StatusOr<AwqGemmWeight> awqGemvToGemm(const AwqGemvWeight &weight) {
  QC_ASSIGN_OR_RETURN(AwqCodes codes, unpackAwqGemv(weight));
  return packAwqGemm(codes);
}

StatusOr<AwqGemmWeight> llmAwqToGemm(const LlmAwqWeight &weight) {
  QC_ASSIGN_OR_RETURN(AwqCodes codes, unpackLlmAwq(weight));
  return packAwqGemm(codes);
}

//===----------------------------------------------------------------------===//
// Tensor-core decode layout
//===----------------------------------------------------------------------===//

AwqMmaSlot awqMmaSlot(int64_t n, int64_t k) {
  const int64_t g = n % 8, high = (n % kAwqMmaTileFeatures) / 8;
  const int64_t inBlock = k % kAwqMmaTileDepth;
  const int64_t lane = 4 * g + inBlock / 16;
  return {n / kAwqMmaTileFeatures,
          2 * kAwqMmaTileDepth * (k / kAwqMmaTileDepth) + 4 * lane +
              (inBlock % 16) / 4,
          int((k % 2) * 4 + ((k % 4) / 2) * 2 + high)};
}

AwqCpuSlot awqCpuSlot(int64_t n, int64_t k, int64_t inFeatures) {
  const int64_t tile = n / kAwqCpuTileFeatures, f = n % kAwqCpuTileFeatures;
  return {tile * inFeatures * kAwqCpuTileFeatures / kAwqPack +
              (k / kAwqPack) * kAwqCpuTileFeatures + f,
          int(8 * (k % 4) + 4 * ((k % 8) / 4))};
}

namespace {

/// Where a layout other than GEMM keeps the code of feature n at input k:
/// word index in the flat qweight and bit position.
using CodeSlot = std::pair<int64_t, int>;

/// `layout`'s shape rule for an N x K layer, then the word count every
/// layout shares (N/8 x K).
Status checkShape(std::string_view layout, bool fits, std::string_view rule,
                  size_t words, int64_t n, int64_t k) {
  std::string shape = "N=" + std::to_string(n) + ", K=" + std::to_string(k);
  if (n <= 0 || k <= 0 || !fits)
    return Status::error("AWQ " + std::string(layout) + " layout needs " +
                         std::string(rule) + ", got " + shape);
  if (words != size_t(n / kAwqPack) * size_t(k))
    return Status::error("AWQ qweight of " + std::to_string(words) +
                         " words for " + shape);
  return Status::ok();
}

/// Moves every code of an N x K layer between GEMM's words and another
/// layout's, whose slots `slotOf` gives; `toOther` picks the direction.
template <typename SlotOf>
std::vector<int32_t> permuteCodes(std::span<const int32_t> from, int64_t n,
                                  int64_t k, bool toOther, SlotOf slotOf) {
  const int64_t columns = n / kAwqPack;
  std::vector<uint32_t> to(from.size(), 0);
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t nn = 0; nn < n; ++nn) {
      int64_t gemmWord = kk * columns + nn / kAwqPack;
      int gemmShift = 4 * kAwqNibbleOf[nn % kAwqPack];
      auto [otherWord, otherShift] = slotOf(nn, kk);
      auto [src, srcShift, dst, dstShift] =
          toOther ? std::tuple(gemmWord, gemmShift, otherWord, otherShift)
                  : std::tuple(otherWord, otherShift, gemmWord, gemmShift);
      to[dst] |= ((uint32_t(from[src]) >> srcShift) & 15u) << dstShift;
    }
  return std::vector<int32_t>(to.begin(), to.end());
}

StatusOr<std::vector<int32_t>> mmaPermute(std::span<const int32_t> qweight,
                                          int64_t n, int64_t k, bool toMma) {
  QC_RETURN_IF_ERROR(checkShape(
      "mma",
      n % kAwqMmaTileFeatures == 0 && k % kAwqMmaTileDepth == 0,
      "N a multiple of 16 and K of 64", qweight.size(), n, k));
  return permuteCodes(qweight, n, k, toMma, [&](int64_t nn, int64_t kk) {
    AwqMmaSlot slot = awqMmaSlot(nn, kk);
    return CodeSlot{slot.row * 2 * k + slot.word, 4 * slot.nibble};
  });
}

StatusOr<std::vector<int32_t>> cpuPermute(std::span<const int32_t> qweight,
                                          int64_t n, int64_t k, bool toCpu) {
  QC_RETURN_IF_ERROR(checkShape("cpu", n % kAwqCpuTileFeatures == 0,
                                "N a multiple of 64", qweight.size(), n, k));
  return permuteCodes(qweight, n, k, toCpu, [&](int64_t nn, int64_t kk) {
    AwqCpuSlot slot = awqCpuSlot(nn, kk, k);
    return CodeSlot{slot.word, slot.shift};
  });
}

} // namespace

StatusOr<std::vector<int32_t>> awqGemmToMma(std::span<const int32_t> qweight,
                                            int64_t n, int64_t k) {
  return mmaPermute(qweight, n, k, /*toMma=*/true);
}

StatusOr<std::vector<int32_t>> awqMmaToGemm(std::span<const int32_t> qweight,
                                            int64_t n, int64_t k) {
  return mmaPermute(qweight, n, k, /*toMma=*/false);
}

StatusOr<std::vector<int32_t>> awqGemmToCpu(std::span<const int32_t> qweight,
                                            int64_t n, int64_t k) {
  return cpuPermute(qweight, n, k, /*toCpu=*/true);
}

StatusOr<std::vector<int32_t>> awqCpuToGemm(std::span<const int32_t> qweight,
                                            int64_t n, int64_t k) {
  return cpuPermute(qweight, n, k, /*toCpu=*/false);
}

std::vector<int64_t> awqQweightShape(AwqPackageLayout layout, int64_t n, int64_t k) {
  switch (layout) {
  case AwqPackageLayout::Gemm:
    return {k, n / kAwqPack};
  case AwqPackageLayout::Mma:
    return {n / kAwqMmaTileFeatures, k * kAwqMmaTileFeatures / kAwqPack};
  case AwqPackageLayout::Cpu:
    return {n / kAwqCpuTileFeatures, k * kAwqCpuTileFeatures / kAwqPack};
  }
  return {};
}

StatusOr<std::vector<int32_t>> awqFromGemm(AwqPackageLayout layout,
                                           std::span<const int32_t> qweight,
                                           int64_t n, int64_t k) {
  switch (layout) {
  case AwqPackageLayout::Mma:
    return awqGemmToMma(qweight, n, k);
  case AwqPackageLayout::Cpu:
    return awqGemmToCpu(qweight, n, k);
  case AwqPackageLayout::Gemm:
    break;
  }
  return std::vector<int32_t>(qweight.begin(), qweight.end());
}

StatusOr<std::vector<int32_t>> awqToGemm(AwqPackageLayout layout,
                                         std::span<const int32_t> qweight,
                                         int64_t n, int64_t k) {
  switch (layout) {
  case AwqPackageLayout::Mma:
    return awqMmaToGemm(qweight, n, k);
  case AwqPackageLayout::Cpu:
    return awqCpuToGemm(qweight, n, k);
  case AwqPackageLayout::Gemm:
    break;
  }
  return std::vector<int32_t>(qweight.begin(), qweight.end());
}

} // namespace qc::quant
