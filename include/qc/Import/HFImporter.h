//===- HFImporter.h - Hugging Face model directory -> qc IR -----*- C++ -*-===//
//
// Builds the qc graph of a LlamaForCausalLM, MistralForCausalLM or
// Qwen2ForCausalLM checkpoint. Weights are checked (names, shapes, dtypes)
// and referenced by name; their bytes stay in the checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef QC_IMPORT_HFIMPORTER_H
#define QC_IMPORT_HFIMPORTER_H

#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace qc {
struct ModelConfig;
} // namespace qc

namespace mlir::qc {

struct ImportOptions {
  /// Compute type: "auto" (the checkpoint's dtype; f32 checkpoints stay f32,
  /// anything else computes in f16 or bf16 as stored), "f32", "f16", "bf16".
  std::string dtype = "auto";
};

/// Reads `modelDir` (config.json + model.safetensors or a sharded index) and
/// returns the verified qc module, or emits an error naming the problem.
FailureOr<OwningOpRef<ModuleOp>> importHFModel(MLIRContext &context,
                                               const std::string &modelDir,
                                               const ImportOptions &options);

/// How a pre-quantized checkpoint stores its linear layers.
struct PrequantizedScheme {
  QCQuantizeOptions options;
  QuantSchemeAttrInterface scheme;
};

/// Builds the qc module for `config` alone (weights not consulted). With
/// `prequantized`, its linear layers are quantized_linear ops over weights
/// stored in that scheme.
FailureOr<OwningOpRef<ModuleOp>>
buildModelGraph(MLIRContext &context, const ::qc::ModelConfig &config,
                Type computeType, Location loc,
                const PrequantizedScheme *prequantized);

} // namespace mlir::qc

#endif // QC_IMPORT_HFIMPORTER_H
