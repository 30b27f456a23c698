//===- PackageWriter.h - qc module -> compiled package ----------*- C++ -*-===//
//
// A package is a directory, the contract between compiler and runtime:
//   manifest.json       format version, target, model and cache geometry, the
//                       kernels' entry point and argument list (ABI)
//   kernels.so          the compiled kernels (host CPU)
//   weights.safetensors every weight argument, converted or packed, by name
//   tokenizer.json ...  copied from the model directory when present
//
//===----------------------------------------------------------------------===//

#ifndef QC_TARGET_PACKAGEWRITER_H
#define QC_TARGET_PACKAGEWRITER_H

#include "qc/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace qc {
class WeightIndex;
} // namespace qc

namespace mlir::qc {

struct PackageOptions {
  std::string modelDir;
  std::string outputDir;
  /// Whether the checkpoint stores the quantized weights already.
  bool prequantized = false;
  /// Tokens per KV-cache block.
  int64_t blockSize = 16;
  /// The CPU the host code is compiled for ("native" or an LLVM CPU name).
  std::string cpu = "native";
  /// CPU packages: AWQ layers with int8 activations (needs AVX2).
  bool int8Activations = false;
  /// "cpu", or a GPU chip (sm_80, sm_90a, gfx90a, gfx942) whose kernels are
  /// embedded in kernels.so as cubin / hsaco.
  std::string target = "cpu";
  /// Whether to write weights.safetensors. Without it the package holds the
  /// kernels and the manifest (whose argument list gives every weight's
  /// name, dtype and shape) for benchmarks that supply their own weights.
  bool writeWeights = true;
  /// GPU kernel binary format and toolkit (GPUPipelineOptions).
  std::string gpuFormat = "bin";
  std::string gpuToolkit;
  /// Fewest tokens of a step whose half-precision linear layers run on
  /// tensor cores (GPUPipelineOptions; 0: never).
  int64_t tensorCoreMinTokens = 16;
  /// More GPUPipelineOptions, as a pipeline option string
  /// ("tensor-core-tile-tokens=64 ..."), applied last.
  std::string gpuPipelineOptions;
};

/// The manifest's name of `target`: "cpu", "cuda:<chip>" or "hip:<chip>".
std::string manifestTarget(StringRef target);

/// Compiles the qc graph `module` (left unchanged) for `options.target` and
/// writes the package.
LogicalResult writePackage(ModuleOp module, const ::qc::WeightIndex &weights,
                           const PackageOptions &options);

} // namespace mlir::qc

#endif // QC_TARGET_PACKAGEWRITER_H
