//===- PrequantizedWeights.h - checks of quantized checkpoints --*- C++ -*-===//

#ifndef QC_LIB_IMPORT_PREQUANTIZEDWEIGHTS_H
#define QC_LIB_IMPORT_PREQUANTIZEDWEIGHTS_H

#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Model/ModelConfig.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Transforms/Passes.h"

namespace mlir::qc {

/// Checks that a pre-quantized checkpoint holds, for every quantized linear
/// layer, the tensors its format stores (AutoAWQ GEMM: qweight, qzeros,
/// scales, or the GEMV / llm-awq buffers for those layouts; bitsandbytes 4-bit:
/// weight, weight.absmax, weight.quant_map, nested statistics and the
/// quant_state blob; bitsandbytes 8-bit: weight and SCB) with the right dtypes
/// and sizes, and every other parameter in floating point. Reports the first
/// problems in one message.
LogicalResult validatePrequantizedWeights(
    const ::qc::ModelConfig &config, const ::qc::WeightIndex &weights,
    const QCQuantizeOptions &options, QuantSchemeAttrInterface scheme,
    StringRef awqLayout, function_ref<InFlightDiagnostic()> emitError);

} // namespace mlir::qc

#endif // QC_LIB_IMPORT_PREQUANTIZEDWEIGHTS_H
