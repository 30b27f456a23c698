//===- AWQSearch.cpp - Activation-aware scale and clip search -------------===//

#include "qc/Quant/AWQSearch.h"

#include "qc/Quant/Half.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace qc::quant {

namespace {

Status checkOptions(const AwqSearchOptions &o) {
  if (o.scaleGrid <= 0 || o.clipGrid <= 0)
    return Status::error("AWQ search: grid sizes must be positive (scaleGrid=" +
                         std::to_string(o.scaleGrid) +
                         ", clipGrid=" + std::to_string(o.clipGrid) + ")");
  if (!(o.maxShrink >= 0.0 && o.maxShrink < 1.0))
    return Status::error("AWQ search: maxShrink=" +
                         std::to_string(o.maxShrink) + " must be in [0, 1)");
  if (o.clipMaxTokens <= 0)
    return Status::error("AWQ search: clipMaxTokens must be positive");
  return Status::ok();
}

Status checkInputs(const WeightMatrix &w, std::span<const float> x,
                   int64_t tokens, const AwqSearchOptions &o) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  QC_RETURN_IF_ERROR(std::move(checkAwqShape(w.rows, w.cols, o.groupSize))
                         .withContext(w.name));
  QC_RETURN_IF_ERROR(checkOptions(o));
  if (tokens <= 0 || static_cast<int64_t>(x.size()) != tokens * w.cols)
    return Status::error("AWQ search: calibration activations hold " +
                         std::to_string(x.size()) + " values, expected [" +
                         std::to_string(tokens) + ", " +
                         std::to_string(w.cols) + "] with tokens > 0");
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      return Status::error("AWQ search: non-finite calibration activation at "
                           "flat index " +
                           std::to_string(i));
  return Status::ok();
}

/// mean over tokens and outputs of (X err^T)^2, err [N, K] in double.
double outputMse(std::span<const float> x, int64_t tokens,
                 const std::vector<double> &err, int64_t n, int64_t k) {
  double total = 0.0;
  std::vector<double> row(k);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < k; ++c)
      row[c] = x[t * k + c];
    for (int64_t o = 0; o < n; ++o) {
      const double *e = err.data() + o * k;
      double dot = 0.0;
      for (int64_t c = 0; c < k; ++c)
        dot += row[c] * e[c];
      total += dot * dot;
    }
  }
  return total / static_cast<double>(tokens * n);
}

/// The error of codes dequantized and divided by s against w.
std::vector<double> effectiveError(const AwqCodes &codes,
                                   std::span<const float> scales,
                                   const WeightMatrix &w) {
  std::vector<float> deq = *dequantizeAwq(codes);
  std::vector<double> err(deq.size());
  for (size_t i = 0; i < deq.size(); ++i)
    err[i] = double(deq[i] / scales[i % w.cols]) - double(w.values[i]);
  return err;
}

/// x^e as torch.pow(tensor, scalar) evaluates the exponents it special-cases.
float powLikeTorch(float x, float e) {
  if (e == 0.0f)
    return 1.0f;
  if (e == 1.0f)
    return x;
  if (e == 0.5f)
    return std::sqrt(x);
  return std::pow(x, e);
}

} // namespace

StatusOr<std::vector<float>> awqScaleWeights(const WeightMatrix &w,
                                             std::span<const float> scales) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  if (static_cast<int64_t>(scales.size()) != w.cols)
    return Status::error(w.name + ": " + std::to_string(scales.size()) +
                         " AWQ scales for " + std::to_string(w.cols) +
                         " input channels");
  std::vector<float> out(w.values.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = roundToType(w.type, w.values[i] * scales[i % w.cols]);
  return out;
}

StatusOr<AwqScaleSearch> awqSearchScales(const WeightMatrix &w,
                                         std::span<const float> x,
                                         int64_t tokens,
                                         const AwqSearchOptions &o) {
  QC_RETURN_IF_ERROR(checkInputs(w, x, tokens, o));
  const int64_t n = w.rows, k = w.cols;
  std::vector<float> xMean(k), colMax(k, 0.0f);
  for (int64_t c = 0; c < k; ++c) {
    double sum = 0.0;
    for (int64_t t = 0; t < tokens; ++t)
      sum += std::fabs(x[t * k + c]);
    xMean[c] = static_cast<float>(sum / static_cast<double>(tokens));
  }
  for (int64_t i = 0; i < n * k; ++i)
    colMax[i % k] = std::max(colMax[i % k], std::fabs(w.values[i]));
  std::vector<float> wMean(k, 0.0f);
  if (o.duoScaling) {
    std::vector<double> sum(k, 0.0);
    for (int64_t i = 0; i < n * k; i += o.groupSize) {
      float absmax = 0.0f;
      for (int64_t j = 0; j < o.groupSize; ++j)
        absmax = std::max(absmax, std::fabs(w.values[i + j]));
      for (int64_t j = 0; j < o.groupSize; ++j)
        sum[(i + j) % k] += std::fabs(w.values[i + j]) / (absmax + 1e-6f);
    }
    for (int64_t c = 0; c < k; ++c)
      wMean[c] = static_cast<float>(sum[c] / static_cast<double>(n));
  }

  AwqScaleSearch best;
  std::vector<float> s(k);
  for (int i = 0; i < o.scaleGrid; ++i) {
    float alpha = static_cast<float>(double(i) / o.scaleGrid);
    for (int64_t c = 0; c < k; ++c) {
      s[c] = powLikeTorch(xMean[c], alpha);
      if (o.duoScaling)
        s[c] = s[c] / (powLikeTorch(wMean[c], 1.0f - alpha) + 1e-4f);
      s[c] = std::max(s[c], 1e-4f);
    }
    auto [lo, hi] = std::minmax_element(s.begin(), s.end());
    float norm = std::sqrt(*hi * *lo);
    for (int64_t c = 0; c < k; ++c) {
      s[c] = s[c] / norm;
      if (!std::isfinite(s[c]))
        s[c] = 1.0f;
      // Keep W * s finite in fp16 (the stored format); 65504 / colMax as
      // torch's scalar / tensor computes it.
      if (colMax[c] > 0.0f)
        s[c] = std::min(s[c], (1.0f / colMax[c]) * 65504.0f);
    }
    QC_ASSIGN_OR_RETURN(std::vector<float> scaled, awqScaleWeights(w, s));
    QC_ASSIGN_OR_RETURN(
        AwqCodes codes,
        awqQuantizeRtn({scaled, n, k, w.type, w.name}, o.groupSize));
    double loss = outputMse(x, tokens, effectiveError(codes, s, w), n, k);
    best.losses.push_back(loss);
    if (i == 0 || loss < best.losses[best.bestIndex]) {
      best.bestIndex = i;
      best.scales = s;
    }
  }
  return best;
}

StatusOr<std::vector<float>> awqSearchClip(const WeightMatrix &w,
                                           std::span<const float> x,
                                           int64_t tokens,
                                           const AwqSearchOptions &o) {
  QC_RETURN_IF_ERROR(checkInputs(w, x, tokens, o));
  const int64_t n = w.rows, k = w.cols, g = o.groupSize, groups = k / g;
  // AutoAWQ's input_feat[:, ::step] with step = max(1, T // n_sample_token).
  std::vector<int64_t> sampled;
  for (int64_t t = 0, step = std::max<int64_t>(1, tokens / o.clipMaxTokens);
       t < tokens; t += step)
    sampled.push_back(t);
  const int shrinks = static_cast<int>(o.maxShrink * o.clipGrid);

  std::vector<float> clipMax(n * groups);
  std::vector<float> clamped(g);
  std::vector<uint8_t> codes(g);
  std::vector<double> diff(g);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t grp = 0; grp < groups; ++grp) {
      std::span<const float> v = w.values.subspan(row * k + grp * g, g);
      float orgMax = 0.0f;
      for (float value : v)
        orgMax = std::max(orgMax, std::fabs(value));
      float bestMax = orgMax;
      double minErr = std::numeric_limits<double>::infinity();
      for (int i = 0; i < shrinks; ++i) {
        float maxVal = roundToType(
            w.type, orgMax * static_cast<float>(1.0 - double(i) / o.clipGrid));
        for (int64_t j = 0; j < g; ++j)
          clamped[j] = std::clamp(v[j], -maxVal, maxVal);
        uint8_t zero;
        uint16_t scaleBits;
        if (!awqQuantizeGroup(clamped, w.type, codes, zero, scaleBits))
          return Status::error(
              w.name + ": the value range of row " + std::to_string(row) +
              ", group " + std::to_string(grp) + " overflows an fp16 scale");
        float scale = halfToFloat(scaleBits);
        for (int64_t j = 0; j < g; ++j)
          diff[j] =
              double(roundToHalf((float(codes[j]) - float(zero)) * scale)) -
              double(v[j]);
        double err = 0.0;
        for (int64_t t : sampled) {
          const float *xs = x.data() + t * k + grp * g;
          double dot = 0.0;
          for (int64_t j = 0; j < g; ++j)
            dot += double(xs[j]) * diff[j];
          err += dot * dot;
        }
        err /= static_cast<double>(sampled.size());
        if (err < minErr) {
          minErr = err;
          bestMax = maxVal;
        }
      }
      clipMax[row * groups + grp] = bestMax;
    }
  }
  return clipMax;
}

StatusOr<AwqCodes> awqQuantizeScaled(const WeightMatrix &w,
                                     std::span<const float> scales,
                                     std::span<const float> clipMax,
                                     int64_t groupSize) {
  QC_RETURN_IF_ERROR(
      std::move(checkAwqShape(w.rows, w.cols, groupSize)).withContext(w.name));
  QC_ASSIGN_OR_RETURN(std::vector<float> scaled, awqScaleWeights(w, scales));
  const int64_t groups = w.cols / groupSize;
  if (!clipMax.empty()) {
    if (static_cast<int64_t>(clipMax.size()) != w.rows * groups)
      return Status::error(w.name + ": " + std::to_string(clipMax.size()) +
                           " AWQ clip bounds, expected [N, K/G] = " +
                           std::to_string(w.rows * groups));
    for (size_t i = 0; i < scaled.size(); ++i) {
      float bound = clipMax[(i / w.cols) * groups + (i % w.cols) / groupSize];
      scaled[i] = std::clamp(scaled[i], -bound, bound);
    }
  }
  return awqQuantizeRtn({scaled, w.rows, w.cols, w.type, w.name}, groupSize);
}

StatusOr<AwqSearchResult> awqSearch(const WeightMatrix &w,
                                    std::span<const float> x, int64_t tokens,
                                    const AwqSearchOptions &o) {
  AwqSearchResult result;
  QC_ASSIGN_OR_RETURN(result.scaleSearch, awqSearchScales(w, x, tokens, o));
  const std::vector<float> &s = result.scaleSearch.scales;
  if (o.clip) {
    QC_ASSIGN_OR_RETURN(std::vector<float> scaled, awqScaleWeights(w, s));
    std::vector<float> xs(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      xs[i] = x[i] / s[i % w.cols];
    QC_ASSIGN_OR_RETURN(
        result.clipMax,
        awqSearchClip({scaled, w.rows, w.cols, w.type, w.name}, xs, tokens, o));
  }
  QC_ASSIGN_OR_RETURN(result.codes,
                      awqQuantizeScaled(w, s, result.clipMax, o.groupSize));
  result.rtnLoss = result.scaleSearch.losses[0];
  result.finalLoss =
      outputMse(x, tokens, effectiveError(result.codes, s, w), w.rows, w.cols);
  return result;
}

} // namespace qc::quant
