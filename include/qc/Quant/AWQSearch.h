//===- AWQSearch.h - Activation-aware scale and clip search -----*- C++ -*-===//
//
// The AWQ search for one linear layer (or several sharing an input, with
// their weights concatenated along N), after llm-awq's auto_scale /
// auto_clip and AutoAWQ's _search_best_scale / _compute_best_clip:
//
//  1. Scale search. x_mean[k] = mean over tokens of |X[t, k]|. For each
//     alpha in {0, 1/20, ..., 19/20}:
//       s = max(x_mean^alpha, 1e-4);  s = s / sqrt(max(s) * min(s))
//     quantize W * s (RTN, in the weights' arithmetic), dequantize, divide
//     by s and measure the output MSE mean((X Wq^T - X W^T)^2); keep the
//     first best alpha. alpha = 0 gives s = 1: plain RTN is a candidate, so
//     the search never does worse than RTN on the calibration data.
//     Guard: s[k] <= 65504 / max_n |W[n, k]| so that W * s stays finite in
//     fp16, and non-finite s become 1 (as AutoAWQ does).
//  2. Clip search on W' = W * s with inputs X / s, per row and group:
//     for i in 0 .. max_shrink * n_grid - 1, max_val = absmax * (1 - i/20),
//     clamp W' to [-max_val, max_val], RTN it, and keep the max_val with the
//     smallest mean over tokens of the squared group output error. At most
//     512 tokens are used, every (T / 512)-th as AutoAWQ samples them.
//  3. The result is RTN(clamp(W * s)). The caller folds 1 / s into the
//     preceding op (e.g. divides the RMSNorm weight by s) so that the layer
//     sees X / s.
//
// Losses are computed in double. W * s is rounded to the weights' type.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_AWQSEARCH_H
#define QC_QUANT_AWQSEARCH_H

#include "qc/Quant/AWQ.h"
#include "qc/Quant/Weights.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qc::quant {

struct AwqSearchOptions {
  int64_t groupSize = 128;
  int scaleGrid = 20;          ///< n_grid of the scale search
  bool clip = true;            ///< run the clip search (AutoAWQ skips q/k)
  int clipGrid = 20;           ///< n_grid of the clip search
  double maxShrink = 0.5;      ///< smallest clip is (1 - max_shrink) * absmax
  int64_t clipMaxTokens = 512; ///< n_sample_token
  /// AutoAWQ's duo_scaling (its default): s = x_mean^alpha /
  /// (w_mean^(1 - alpha) + 1e-4), w_mean[k] the mean over rows of |W| divided
  /// by its group's absmax (+ 1e-6). Off: llm-awq's s = x_mean^alpha.
  bool duoScaling = false;
};

/// The scale search's outcome.
struct AwqScaleSearch {
  std::vector<float> scales;  ///< [K], the best s
  int bestIndex = 0;          ///< alpha = bestIndex / scaleGrid
  std::vector<double> losses; ///< [scaleGrid]; losses[0] is plain RTN
};

struct AwqSearchResult {
  AwqScaleSearch scaleSearch;
  /// [N, K/G] clip bound per row and group of W * s (empty without clip).
  std::vector<float> clipMax;
  /// RTN(clamp(W * s)): the weight to store.
  AwqCodes codes;
  /// Output MSE on the calibration tokens of plain RTN and of `codes`
  /// (dequantized and divided by s).
  double rtnLoss = 0.0;
  double finalLoss = 0.0;
};

/// Step 1. `x` is [tokens, K] calibration activations in fp32.
StatusOr<AwqScaleSearch> awqSearchScales(const WeightMatrix &w,
                                         std::span<const float> x,
                                         int64_t tokens,
                                         const AwqSearchOptions &options);

/// Step 2, on an already scaled weight and the correspondingly scaled inputs
/// (X / s). Returns [N, K/G] clip bounds, values of scaledW.type.
StatusOr<std::vector<float>> awqSearchClip(const WeightMatrix &scaledW,
                                           std::span<const float> scaledX,
                                           int64_t tokens,
                                           const AwqSearchOptions &options);

/// W * s rounded to w.type, [N, K] (what steps 2 and 3 work on).
StatusOr<std::vector<float>> awqScaleWeights(const WeightMatrix &w,
                                             std::span<const float> scales);

/// Step 3: RTN(clamp(W * s, -clipMax, clipMax)); `clipMax` is [N, K/G] or
/// empty for no clipping.
StatusOr<AwqCodes> awqQuantizeScaled(const WeightMatrix &w,
                                     std::span<const float> scales,
                                     std::span<const float> clipMax,
                                     int64_t groupSize);

/// All three steps.
StatusOr<AwqSearchResult> awqSearch(const WeightMatrix &w,
                                    std::span<const float> x, int64_t tokens,
                                    const AwqSearchOptions &options = {});

} // namespace qc::quant

#endif // QC_QUANT_AWQSEARCH_H
