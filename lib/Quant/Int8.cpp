//===- Int8.cpp - int8 weight quantization and matmul references ----------===//

#include "qc/Quant/Int8.h"

#include "qc/Quant/Half.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qc::quant {

namespace {

/// Round half to even, clamped to the symmetric int8 range.
int8_t toInt8(float v) {
  return static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
}

/// Per-row symmetric int8 with scale = absmax / 127 (see
/// quantizeInt8PerChannel); shared by weights and W8A8 activations.
Int8RowWeight quantizeRowsSymmetric(std::span<const float> values, int64_t rows,
                                    int64_t cols) {
  Int8RowWeight out;
  out.outFeatures = rows;
  out.inFeatures = cols;
  out.q.assign(values.size(), 0);
  out.scale.assign(rows, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = values.data() + r * cols;
    float absmax = 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      absmax = std::max(absmax, std::fabs(row[c]));
    float scale = absmax / 127.0f;
    out.scale[r] = scale;
    if (scale == 0.0f)
      continue;
    for (int64_t c = 0; c < cols; ++c)
      out.q[r * cols + c] = toInt8(row[c] / scale);
  }
  return out;
}

Status checkActivations(std::span<const float> x, int64_t tokens, int64_t k,
                        const char *what) {
  if (tokens <= 0 || static_cast<int64_t>(x.size()) != tokens * k)
    return Status::error(std::string(what) + ": activations hold " +
                         std::to_string(x.size()) + " values, expected [" +
                         std::to_string(tokens) + ", " + std::to_string(k) +
                         "] with tokens > 0");
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      return Status::error(std::string(what) +
                           ": non-finite activation at flat index " +
                           std::to_string(i));
  return Status::ok();
}

Status checkRowWeight(int64_t n, int64_t k, size_t codes, size_t scales,
                      const char *what) {
  if (n <= 0 || k <= 0 || static_cast<int64_t>(codes) != n * k ||
      static_cast<int64_t>(scales) != n)
    return Status::error(
        std::string(what) + ": expected " + std::to_string(n * k) +
        " codes and " + std::to_string(n) + " scales for [" +
        std::to_string(n) + ", " + std::to_string(k) + "], got " +
        std::to_string(codes) + " and " + std::to_string(scales));
  return Status::ok();
}

} // namespace

StatusOr<Int8RowWeight> quantizeInt8PerChannel(const WeightMatrix &w) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  return quantizeRowsSymmetric(w.values, w.rows, w.cols);
}

StatusOr<std::vector<float>> dequantizeInt8PerChannel(const Int8RowWeight &w) {
  QC_RETURN_IF_ERROR(checkRowWeight(w.outFeatures, w.inFeatures, w.q.size(),
                                    w.scale.size(), "int8 weight"));
  std::vector<float> out(w.q.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = float(w.q[i]) * w.scale[i / w.inFeatures];
  return out;
}

StatusOr<LlmInt8Weight> quantizeLlmInt8(const WeightMatrix &w) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  LlmInt8Weight out;
  out.outFeatures = w.rows;
  out.inFeatures = w.cols;
  out.cb.assign(w.values.size(), 0);
  out.scb.assign(w.rows, 0.0f);
  for (int64_t n = 0; n < w.rows; ++n) {
    const float *row = w.values.data() + n * w.cols;
    float absmax = 0.0f;
    for (int64_t k = 0; k < w.cols; ++k)
      absmax = std::max(absmax, std::fabs(row[k]));
    out.scb[n] = absmax;
    if (absmax == 0.0f)
      continue;
    float factor = (1.0f / absmax) * 127.0f;
    for (int64_t k = 0; k < w.cols; ++k)
      out.cb[n * w.cols + k] = toInt8(row[k] * factor);
  }
  return out;
}

StatusOr<std::vector<float>> dequantizeLlmInt8(const LlmInt8Weight &w) {
  QC_RETURN_IF_ERROR(checkRowWeight(w.outFeatures, w.inFeatures, w.cb.size(),
                                    w.scb.size(), "LLM.int8 weight"));
  std::vector<float> out(w.cb.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = (float(w.cb[i]) * w.scb[i / w.inFeatures]) * 7.874015718698502e-3f;
  return out;
}

StatusOr<std::vector<float>>
llmInt8MatmulReference(std::span<const float> x, int64_t tokens,
                       const LlmInt8Weight &w, float threshold,
                       std::span<const float> bias) {
  QC_RETURN_IF_ERROR(checkRowWeight(w.outFeatures, w.inFeatures, w.cb.size(),
                                    w.scb.size(), "LLM.int8 weight"));
  const int64_t n = w.outFeatures, k = w.inFeatures;
  QC_RETURN_IF_ERROR(checkActivations(x, tokens, k, "LLM.int8 matmul"));
  for (size_t i = 0; i < x.size(); ++i)
    if (roundToHalf(x[i]) != x[i])
      return Status::error("LLM.int8 matmul: activation at flat index " +
                           std::to_string(i) + " is not an fp16 value");
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != n)
    return Status::error("LLM.int8 matmul: bias has " +
                         std::to_string(bias.size()) + " values, expected " +
                         std::to_string(n));

  auto isOutlier = [threshold](float v) {
    return threshold > 0.0f && std::fabs(v) >= threshold;
  };
  std::vector<int64_t> outlierCols;
  for (int64_t c = 0; c < k; ++c)
    for (int64_t t = 0; t < tokens; ++t)
      if (isOutlier(x[t * k + c])) {
        outlierCols.push_back(c);
        break;
      }
  std::vector<bool> dropped(k, false);
  for (int64_t c : outlierCols)
    dropped[c] = true;

  // Row-wise int8 activations; outlier elements do not count towards the
  // absmax, whole outlier columns are zeroed.
  std::vector<int8_t> ca(x.size(), 0);
  std::vector<float> rowAbsmax(tokens, 0.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    const float *row = x.data() + t * k;
    for (int64_t c = 0; c < k; ++c)
      if (!isOutlier(row[c]))
        rowAbsmax[t] = std::max(rowAbsmax[t], std::fabs(row[c]));
    if (rowAbsmax[t] == 0.0f)
      continue;
    float factor = (1.0f / rowAbsmax[t]) * 127.0f;
    for (int64_t c = 0; c < k; ++c)
      if (!dropped[c])
        ca[t * k + c] = toInt8(row[c] * factor);
  }

  // The outlier columns of the weight, dequantized to fp16 ([N, #outliers]).
  std::vector<float> subB(n * outlierCols.size());
  for (int64_t o = 0; o < n; ++o)
    for (size_t j = 0; j < outlierCols.size(); ++j) {
      int64_t c = outlierCols[j];
      subB[o * outlierCols.size() + j] = roundToHalf(
          (float(w.cb[o * k + c]) * w.scb[o]) * 7.874015718698502e-3f);
    }

  std::vector<float> y(tokens * n);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t o = 0; o < n; ++o) {
      int64_t acc = 0;
      for (int64_t c = 0; c < k; ++c)
        acc += int64_t(ca[t * k + c]) * int64_t(w.cb[o * k + c]);
      float out = (float(acc) * (rowAbsmax[t] * w.scb[o])) * 6.200124e-05f;
      if (!bias.empty())
        out += bias[o];
      float out16 = roundToHalf(out);
      if (outlierCols.empty()) {
        y[t * n + o] = out16;
        continue;
      }
      double sum = out16;
      for (size_t j = 0; j < outlierCols.size(); ++j)
        sum += double(x[t * k + outlierCols[j]]) *
               double(subB[o * outlierCols.size() + j]);
      // Through fp32, as torch converts double to half.
      y[t * n + o] = roundToHalf(static_cast<float>(sum));
    }
  }
  return y;
}

StatusOr<std::vector<float>> w8a8MatmulReference(std::span<const float> x,
                                                 int64_t tokens,
                                                 const Int8RowWeight &w) {
  QC_RETURN_IF_ERROR(checkRowWeight(w.outFeatures, w.inFeatures, w.q.size(),
                                    w.scale.size(), "W8A8 weight"));
  const int64_t n = w.outFeatures, k = w.inFeatures;
  QC_RETURN_IF_ERROR(checkActivations(x, tokens, k, "W8A8 matmul"));
  Int8RowWeight qx = quantizeRowsSymmetric(x, tokens, k);
  std::vector<float> y(tokens * n);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t o = 0; o < n; ++o) {
      int64_t acc = 0;
      for (int64_t c = 0; c < k; ++c)
        acc += int64_t(qx.q[t * k + c]) * int64_t(w.q[o * k + c]);
      y[t * n + o] = float(acc) * (qx.scale[t] * w.scale[o]);
    }
  return y;
}

} // namespace qc::quant
