//===- Pipelines.h - named quantc pass pipelines ----------------*- C++ -*-===//
//
// Each stage quant-compile runs is a registered pipeline, so that quant-opt
// reproduces it on IR dumped between stages.
//
//===----------------------------------------------------------------------===//

#ifndef QC_PIPELINES_PIPELINES_H
#define QC_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::qc {

struct CPUPipelineOptions : public PassPipelineOptions<CPUPipelineOptions> {
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Tokens per KV-cache block"),
                            llvm::cl::init(16)};
};

/// qc graph -> linalg/tensor/scf/memref kernels (convert-qc-to-linalg).
void buildQCToKernelsPipeline(OpPassManager &pm,
                              const CPUPipelineOptions &options);

/// Kernels -> LLVM dialect for the host CPU: bufferization, loops, LLVM.
void buildKernelsToLLVMCPUPipeline(OpPassManager &pm);

/// Both: the whole CPU compilation up to the LLVM dialect.
void buildQCToLLVMCPUPipeline(OpPassManager &pm,
                              const CPUPipelineOptions &options);

/// Registers qc-to-kernels, qc-kernels-to-llvm-cpu and qc-to-llvm-cpu.
void registerQCPipelines();

} // namespace mlir::qc

#endif // QC_PIPELINES_PIPELINES_H
