//===- Pipelines.cpp - named quantc pass pipelines ------------------------===//

#include "qc/Pipelines/Pipelines.h"

#include "qc/Conversion/Passes.h"
#include "qc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
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
  convert.warpAttention = options.warpAttention;
  pm.addPass(createConvertQCToLinalg(convert));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// Tensor kernels -> memref kernels, with the temporaries freed.
static void addBufferization(OpPassManager &pm) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
}

void mlir::qc::buildKernelsToLLVMCPUPipeline(OpPassManager &pm,
                                             bool int8Activations) {
  addBufferization(pm);
  QCCpuQuantizedContractionsOptions quantized;
  quantized.int8Activations = int8Activations;
  pm.addNestedPass<func::FuncOp>(createQCCpuQuantizedContractions(quantized));
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createQCCpuParallelTiles());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
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
  buildKernelsToLLVMCPUPipeline(pm, options.int8Activations);
}

//===----------------------------------------------------------------------===//
// GPU
//===----------------------------------------------------------------------===//

bool mlir::qc::isNVIDIAChip(StringRef chip) {
  return chip == "sm_80" || chip == "sm_90a";
}

bool mlir::qc::isAMDChip(StringRef chip) {
  return chip == "gfx90a" || chip == "gfx942";
}

std::string mlir::qc::defaultGPUToolkit(StringRef chip) {
  // Configured by CMake: the CUDA toolkit, and a ROCm-layout directory of
  // links to Debian's lld and rocm-device-libs.
  return isAMDChip(chip) ? QC_ROCM_TOOLKIT_DIR : QC_CUDA_TOOLKIT_DIR;
}

void mlir::qc::buildKernelsToGPUPipeline(OpPassManager &pm,
                                         const GPUPipelineOptions &options) {
  addBufferization(pm);
  if (isNVIDIAChip(options.chip)) {
    QCAwqMmaContractionsOptions awq;
    awq.maxTokens = options.awqMmaMaxTokens;
    awq.tileTokens = options.awqMmaTileTokens;
    awq.warps = options.awqMmaWarps;
    awq.unroll = options.awqMmaUnroll;
    pm.addNestedPass<func::FuncOp>(createQCAwqMmaContractions(awq));
  }
  if (options.tensorCoreMinTokens > 0) {
    QCTensorCoreContractionsOptions tensorCores;
    tensorCores.chip = options.chip;
    tensorCores.minTokens = options.tensorCoreMinTokens;
    tensorCores.tileTokens = options.tensorCoreTileTokens;
    tensorCores.tileFeatures = options.tensorCoreTileFeatures;
    tensorCores.kSplit = options.tensorCoreKSplit;
    tensorCores.unroll = options.tensorCoreUnroll;
    tensorCores.stagedMinTokens = options.stagedMinTokens;
    tensorCores.stagedDequantized = options.stagedDequantized;
    tensorCores.stagedTileTokens = options.stagedTileTokens;
    tensorCores.stagedTileFeatures = options.stagedTileFeatures;
    tensorCores.stagedTileDepth = options.stagedTileDepth;
    tensorCores.stages = options.stages;
    tensorCores.wgmmaTileTokens = options.wgmmaTileTokens;
    tensorCores.wgmmaTileFeatures = options.wgmmaTileFeatures;
    tensorCores.wgmmaStages = options.wgmmaStages;
    tensorCores.wgmmaTma = options.wgmmaTma;
    tensorCores.wgmmaDequantize = options.wgmmaDequantize;
    tensorCores.wgmmaWideMinTokens = options.wgmmaWideMinTokens;
    tensorCores.wgmmaWideMinFeatures = options.wgmmaWideMinFeatures;
    pm.addNestedPass<func::FuncOp>(createQCTensorCoreContractions(tensorCores));
  }
  QCWarpContractionsOptions warp;
  warp.maxVector = options.warpVector;
  warp.columnLanes = options.columnLanes;
  warp.columnWarps = options.columnWarps;
  warp.columnUnroll = options.columnUnroll;
  warp.columnTileUnroll = options.columnTileUnroll;
  warp.columnTokens = options.columnTokens;
  warp.rowThreads = options.rowThreads;
  pm.addNestedPass<func::FuncOp>(createQCWarpContractions(warp));
  pm.addNestedPass<func::FuncOp>(createQCParallelDimsFirst());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  QCMapKernelsToGPUOptions map;
  map.threads = options.threads;
  pm.addPass(createQCMapKernelsToGPU(map));
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addPass(createConvertParallelLoopToGpuPass());
  // Constants and shape arithmetic move into the kernels rather than
  // becoming parameters (a dynamic memref.dim index would need a stack slot).
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createQCHoistKernelAllocas());
  // Host-side allocations, copies and launches become stream-ordered.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Each distinct kernel once: layers launch the same kernels.
  pm.addPass(createQCDedupGPUModules());
}

void mlir::qc::buildGPUToLLVMPipeline(OpPassManager &pm,
                                      const GPUPipelineOptions &options) {
  // The target attributes reject chips LLVM does not know.
  bool nvidia = !StringRef(options.chip).starts_with("gfx");
  if (nvidia) {
    GpuNVVMAttachTargetOptions attach;
    attach.chip = options.chip;
    // PTX 8.0 is the first with sm_90a; CUDA 12+ drivers load it.
    attach.features = "+ptx80";
    attach.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(attach));
  } else {
    GpuROCDLAttachTargetOptions attach;
    attach.chip = options.chip;
    attach.abiVersion = "500";
    attach.optLevel = 3;
    pm.addPass(createGpuROCDLAttachTarget(attach));
  }
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  // Kernels convert their memrefs themselves, with the GPU memory spaces
  // (dynamic shared memory is a #gpu.address_space<workgroup> memref),
  // before the host's are.
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  if (nvidia) {
    kernels.addPass(createConvertNVGPUToNVVMPass());
    kernels.addPass(createConvertGpuOpsToNVVMOps());
    kernels.addPass(createQCGridConstantKernelArgs());
    kernels.addPass(createConvertNVVMToLLVMPass());
  } else {
    ConvertAMDGPUToROCDLPassOptions amdgpu;
    amdgpu.chipset = options.chip;
    kernels.addPass(createConvertAMDGPUToROCDLPass(amdgpu));
    ConvertGpuOpsToROCDLOpsOptions rocdl;
    rocdl.chipset = options.chip;
    rocdl.runtime = gpu::amd::Runtime::HIP;
    kernels.addPass(createConvertGpuOpsToROCDLOps(rocdl));
  }
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  binary.toolkitPath = options.toolkit.empty() ? defaultGPUToolkit(options.chip)
                                               : std::string(options.toolkit);
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::qc::buildQCToLLVMGPUPipeline(OpPassManager &pm,
                                        const GPUPipelineOptions &options) {
  CPUPipelineOptions kernels;
  kernels.blockSize = options.blockSize;
  kernels.warpAttention = true;
  buildQCToKernelsPipeline(pm, kernels);
  buildKernelsToGPUPipeline(pm, options);
  buildGPUToLLVMPipeline(pm, options);
}

static std::string checkBlockSize(int64_t blockSize) {
  if (blockSize <= 0 || blockSize > (1 << 20))
    return "block-size must be in [1, 1048576], got " +
           std::to_string(blockSize);
  return "";
}

std::string mlir::qc::checkPipelineOptions(const CPUPipelineOptions &options) {
  return checkBlockSize(options.blockSize);
}

std::string mlir::qc::checkPipelineOptions(const GPUPipelineOptions &options) {
  if (std::string why = checkBlockSize(options.blockSize); !why.empty())
    return why;
  if (!isNVIDIAChip(options.chip) && !isAMDChip(options.chip))
    return "unknown chip '" + options.chip +
           "' (expected sm_80, sm_90a, gfx90a or gfx942)";
  if (options.format != "bin" && options.format != "isa" &&
      options.format != "offload")
    return "unknown format '" + options.format +
           "' (expected bin, isa or offload)";
  return "";
}

namespace {

struct NoOptions : public PassPipelineOptions<NoOptions> {};
std::string checkPipelineOptions(const NoOptions &) { return ""; }

/// Registers `builder` as pipeline `arg` of builtin.module ops, refusing
/// any other anchor and options checkPipelineOptions rejects.
template <typename Options>
void registerModulePipeline(StringRef arg, StringRef description,
                            void (*builder)(OpPassManager &, const Options &)) {
  std::string name = arg.str();
  registerPassPipeline(
      arg, description,
      [name, builder](OpPassManager &pm, StringRef text,
                      function_ref<LogicalResult(const Twine &)> fail) {
        if (pm.getOpAnchorName() != ModuleOp::getOperationName())
          return fail("pipeline '" + name +
                      "' runs on builtin.module, not nested under '" +
                      pm.getOpAnchorName() + "'");
        Options options;
        std::string parseError;
        llvm::raw_string_ostream errors(parseError);
        if (failed(options.parseFromString(text, errors)))
          return fail("pipeline '" + name + "': " + parseError);
        using mlir::qc::checkPipelineOptions;
        if (std::string why = checkPipelineOptions(options); !why.empty())
          return fail("pipeline '" + name + "': " + why);
        builder(pm, options);
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optionsHandler) {
        optionsHandler(Options());
      });
}

void buildKernelsToLLVMCPU(OpPassManager &pm, const NoOptions &) {
  buildKernelsToLLVMCPUPipeline(pm);
}

} // namespace

void mlir::qc::registerQCPipelines() {
  registerModulePipeline<CPUPipelineOptions>(
      "qc-to-kernels", "qc graph to linalg/tensor/scf/memref kernels",
      buildQCToKernelsPipeline);
  registerModulePipeline<NoOptions>(
      "qc-kernels-to-llvm-cpu",
      "qc kernels to the LLVM dialect for the host CPU", buildKernelsToLLVMCPU);
  registerModulePipeline<CPUPipelineOptions>(
      "qc-to-llvm-cpu", "qc graph to the LLVM dialect for the host CPU",
      buildQCToLLVMCPUPipeline);
  registerModulePipeline<GPUPipelineOptions>(
      "qc-kernels-to-gpu",
      "qc kernels to gpu.launch kernels outlined into a gpu.module",
      buildKernelsToGPUPipeline);
  registerModulePipeline<GPUPipelineOptions>(
      "qc-gpu-to-llvm",
      "gpu.module kernels to NVVM/ROCDL binaries, host code to LLVM",
      buildGPUToLLVMPipeline);
  registerModulePipeline<GPUPipelineOptions>(
      "qc-to-llvm-gpu", "qc graph to LLVM with embedded GPU binaries",
      buildQCToLLVMGPUPipeline);
}
