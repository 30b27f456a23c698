//===- Pipelines.cpp - named quantc pass pipelines ------------------------===//

#include "qc/Pipelines/Pipelines.h"

#include "qc/Conversion/Passes.h"
#include "qc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::qc;

void mlir::qc::buildQCToKernelsPipeline(OpPassManager &pm,
                                        const CPUPipelineOptions &options) {
  pm.addNestedPass<func::FuncOp>(createQCFuse());
  ConvertQCToLinalgOptions convert;
  convert.blockSize = options.blockSize;
  pm.addPass(createConvertQCToLinalg(convert));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::qc::buildKernelsToLLVMCPUPipeline(OpPassManager &pm) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::qc::buildQCToLLVMCPUPipeline(OpPassManager &pm,
                                        const CPUPipelineOptions &options) {
  buildQCToKernelsPipeline(pm, options);
  buildKernelsToLLVMCPUPipeline(pm);
}

void mlir::qc::registerQCPipelines() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "qc-to-kernels", "qc graph to linalg/tensor/scf/memref kernels",
      buildQCToKernelsPipeline);
  PassPipelineRegistration<>("qc-kernels-to-llvm-cpu",
                             "qc kernels to the LLVM dialect for the host CPU",
                             buildKernelsToLLVMCPUPipeline);
  PassPipelineRegistration<CPUPipelineOptions>(
      "qc-to-llvm-cpu", "qc graph to the LLVM dialect for the host CPU",
      buildQCToLLVMCPUPipeline);
}
