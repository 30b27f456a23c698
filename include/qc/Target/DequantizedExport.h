//===- DequantizedExport.h - quantized model -> float checkpoint -*- C++
//-*-===//
//
// Writes the checkpoint a quantized package computes with: every quantized
// linear layer's weight replaced by its dequantization (f32), everything
// else copied. Hugging Face transformers loads it as a plain float model, so
// running it there is the reference a quantized package must match.
//
//===----------------------------------------------------------------------===//

#ifndef QC_TARGET_DEQUANTIZEDEXPORT_H
#define QC_TARGET_DEQUANTIZEDEXPORT_H

#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Quant/WeightPacker.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qc {
class WeightIndex;
} // namespace qc

namespace mlir::qc {

/// The MLIR-free description of a scheme attribute.
::qc::quant::QuantSchemeDesc describeScheme(QuantSchemeAttrInterface scheme);

/// The quantized linear layers of `graph`: (module, (n, k)) and the scheme of
/// the first (qc-quantize gives every layer the same).
struct QuantizedLinears {
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> layers;
  QuantSchemeAttrInterface scheme;
};
QuantizedLinears collectQuantizedLinears(ModuleOp graph);

/// Writes `outDir`: config.json, tokenizer files and model.safetensors with
/// dequantized linear weights. `prequantized` reads the checkpoint's packed
/// tensors instead of quantizing its float weights.
LogicalResult writeDequantizedCheckpoint(ModuleOp graph,
                                         const ::qc::WeightIndex &weights,
                                         const std::string &modelDir,
                                         const std::string &outDir,
                                         bool prequantized);

} // namespace mlir::qc

#endif // QC_TARGET_DEQUANTIZEDEXPORT_H
