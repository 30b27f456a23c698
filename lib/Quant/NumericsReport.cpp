//===- NumericsReport.cpp - Quantization error statistics -----------------===//

#include "qc/Quant/NumericsReport.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace qc::quant {

std::string NumericsReport::toString() const {
  char text[128];
  std::snprintf(text, sizeof(text), "rel_fro=%.6g, max_abs=%.6g, sqnr=%.3f dB",
                relFrobeniusError, maxAbsError, sqnrDb);
  return text;
}

StatusOr<NumericsReport>
computeNumericsReport(std::span<const float> reference,
                      std::span<const float> quantized) {
  if (reference.empty() || reference.size() != quantized.size())
    return Status::error(
        "numerics report: reference has " + std::to_string(reference.size()) +
        " values, quantized has " + std::to_string(quantized.size()) +
        " (must match and be non-zero)");
  double signal = 0.0, noise = 0.0, maxAbs = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    if (!std::isfinite(reference[i]) || !std::isfinite(quantized[i]))
      return Status::error("numerics report: non-finite value at index " +
                           std::to_string(i));
    double diff = double(reference[i]) - double(quantized[i]);
    signal += double(reference[i]) * double(reference[i]);
    noise += diff * diff;
    maxAbs = std::max(maxAbs, std::fabs(diff));
  }
  const double inf = std::numeric_limits<double>::infinity();
  NumericsReport report;
  report.maxAbsError = maxAbs;
  if (noise == 0.0) {
    report.relFrobeniusError = 0.0;
    report.sqnrDb = inf;
  } else if (signal == 0.0) {
    report.relFrobeniusError = inf;
    report.sqnrDb = -inf;
  } else {
    report.relFrobeniusError = std::sqrt(noise / signal);
    report.sqnrDb = 10.0 * std::log10(signal / noise);
  }
  return report;
}

} // namespace qc::quant
