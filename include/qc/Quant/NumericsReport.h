//===- NumericsReport.h - Quantization error statistics ---------*- C++ -*-===//
//
// How far a dequantized weight Wq is from the original W: relative Frobenius
// error, largest absolute error and signal-to-quantization-noise ratio.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_NUMERICSREPORT_H
#define QC_QUANT_NUMERICSREPORT_H

#include "qc/Support/Status.h"

#include <span>
#include <string>

namespace qc::quant {

struct NumericsReport {
  /// ||W - Wq||_F / ||W||_F (0 when both are zero, +inf when only W is).
  double relFrobeniusError = 0.0;
  /// max |W - Wq|.
  double maxAbsError = 0.0;
  /// 10 log10(sum W^2 / sum (W - Wq)^2) in dB; +inf for an exact match.
  double sqnrDb = 0.0;

  /// "rel_fro=..., max_abs=..., sqnr=... dB".
  std::string toString() const;
};

/// Compares `reference` (W) with `quantized` (Wq), element for element, in
/// double precision. Sizes must match and be non-zero; values finite.
StatusOr<NumericsReport>
computeNumericsReport(std::span<const float> reference,
                      std::span<const float> quantized);

} // namespace qc::quant

#endif // QC_QUANT_NUMERICSREPORT_H
