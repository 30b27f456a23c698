//===- QuantReport.h - Per-layer quantization error -------------*- C++ -*-===//
//
// How far each linear layer's dequantized quantization is from its float
// weight (NumericsReport: relative Frobenius error, largest absolute error,
// SQNR), for choosing a scheme before compiling. For LLM.int8 and W8A8 only
// the weight quantization error is measured: the error of quantizing the
// activations at run time (and LLM.int8's outlier decomposition) depends on
// the inputs and is not included.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_QUANTREPORT_H
#define QC_QUANT_QUANTREPORT_H

#include "qc/Model/WeightIndex.h"
#include "qc/Quant/NumericsReport.h"
#include "qc/Quant/WeightPacker.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qc::quant {

struct LayerReport {
  std::string module;
  NumericsReport numbers;
};

/// For each (module, (n, k)) of `linears`: quantizes `<module>.weight` as
/// quantizeLinear does, dequantizes the stored tensors (dequantizePacked) and
/// compares with the float weight. Errors name the tensor.
StatusOr<std::vector<LayerReport>> quantizationReport(
    const WeightIndex &ckpt,
    const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>
        &linears,
    const QuantSchemeDesc &scheme);

/// An aligned table, one line per layer (module, rel_fro, max_abs, sqnr_db)
/// and a final line with the mean of each column.
std::string formatReport(const std::vector<LayerReport> &layers);

} // namespace qc::quant

#endif // QC_QUANT_QUANTREPORT_H
