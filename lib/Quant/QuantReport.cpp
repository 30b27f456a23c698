//===- QuantReport.cpp - Per-layer quantization error ---------------------===//

#include "qc/Quant/QuantReport.h"

#include <algorithm>
#include <cstdio>

namespace qc::quant {

StatusOr<std::vector<LayerReport>> quantizationReport(
    const WeightIndex &ckpt,
    const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>
        &linears,
    const QuantSchemeDesc &scheme) {
  std::vector<LayerReport> reports;
  for (const auto &[module, shape] : linears) {
    auto [n, k] = shape;
    QC_ASSIGN_OR_RETURN(FloatWeight w, loadLinearWeight(ckpt, module, n, k));
    QC_ASSIGN_OR_RETURN(auto packed, quantizeWeight(w.matrix(), scheme));
    auto dequantized = dequantizePacked(packed, scheme, n, k, w.dtype);
    if (!dequantized)
      return Status(dequantized.status()).withContext(w.name);
    auto numbers = computeNumericsReport(w.values, *dequantized);
    if (!numbers)
      return Status(numbers.status()).withContext(w.name);
    reports.push_back({module, *numbers});
  }
  return reports;
}

namespace {

std::string row(const std::string &label, size_t width, double relFro,
                double maxAbs, double sqnr) {
  char numbers[96];
  std::snprintf(numbers, sizeof(numbers), "  %11.4e  %11.4e  %9.2f", relFro,
                maxAbs, sqnr);
  return label + std::string(width - label.size(), ' ') + numbers + "\n";
}

} // namespace

std::string formatReport(const std::vector<LayerReport> &layers) {
  size_t width = std::string_view("module").size();
  for (const LayerReport &l : layers)
    width = std::max(width, l.module.size());
  char header[96];
  std::snprintf(header, sizeof(header), "  %11s  %11s  %9s\n", "rel_fro",
                "max_abs", "sqnr_db");
  std::string out = "module" + std::string(width - 6, ' ') + header;
  if (layers.empty())
    return out + "(no layers)\n";
  double relFro = 0.0, maxAbs = 0.0, sqnr = 0.0;
  for (const LayerReport &l : layers) {
    out += row(l.module, width, l.numbers.relFrobeniusError,
               l.numbers.maxAbsError, l.numbers.sqnrDb);
    relFro += l.numbers.relFrobeniusError;
    maxAbs += l.numbers.maxAbsError;
    sqnr += l.numbers.sqnrDb;
  }
  out += std::string(width + 2 + 11 + 2 + 11 + 2 + 9, '-') + "\n";
  const double count = static_cast<double>(layers.size());
  return out + row("mean", width, relFro / count, maxAbs / count, sqnr / count);
}

} // namespace qc::quant
