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
  Option<bool> warpAttention{
      *this, "warp-attention",
      llvm::cl::desc("Attention as a warp per (token, head) (GPU targets)"),
      llvm::cl::init(false)};
  Option<bool> int8Activations{
      *this, "int8-activations",
      llvm::cl::desc("AWQ layers with int8 activations and integer dot "
                     "products (x86 CPUs with AVX2)"),
      llvm::cl::init(false)};
};

/// qc graph -> linalg/tensor/scf/memref kernels (convert-qc-to-linalg).
void buildQCToKernelsPipeline(OpPassManager &pm,
                              const CPUPipelineOptions &options);

/// Kernels -> LLVM dialect for the host CPU: bufferization, loops, LLVM.
/// With `int8Activations`, AWQ layers quantize their activations to int8
/// and multiply with AVX2 integer dot products.
void buildKernelsToLLVMCPUPipeline(OpPassManager &pm,
                                   bool int8Activations = false);

/// Both: the whole CPU compilation up to the LLVM dialect.
void buildQCToLLVMCPUPipeline(OpPassManager &pm,
                              const CPUPipelineOptions &options);

struct GPUPipelineOptions : public PassPipelineOptions<GPUPipelineOptions> {
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Tokens per KV-cache block"),
                            llvm::cl::init(16)};
  Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("GPU: sm_80, sm_90a (NVVM) or gfx90a, gfx942 (ROCDL)"),
      llvm::cl::init("sm_90a")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Kernel binary: bin (cubin / hsaco), isa (PTX / "
                     "AMDGPU assembly, for inspection) or offload (LLVM IR)"),
      llvm::cl::init("bin")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit (ptxas, libdevice) or ROCm-layout "
                     "directory (llvm/bin/ld.lld, amdgcn/bitcode)"),
      llvm::cl::init("")};
  Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("Threads per block of the generic kernels"),
      llvm::cl::init(128)};
  Option<int64_t> tensorCoreMinTokens{
      *this, "tensor-core-min-tokens",
      llvm::cl::desc("Steps with at least this many tokens run half-precision "
                     "linear layers on tensor cores (0: never)"),
      llvm::cl::init(16)};
  Option<int64_t> warpVector{
      *this, "warp-vector",
      llvm::cl::desc("Most consecutive k a lane of the warp-per-feature "
                     "linear kernels takes per step"),
      llvm::cl::init(16)};
  // The kernels of weights packed along features (AWQ) at few tokens.
  Option<int64_t> columnLanes{
      *this, "column-lanes",
      llvm::cl::desc("Word columns per warp row of the packed-feature "
                     "linear kernels (0: a warp per feature instead)"),
      llvm::cl::init(4)};
  Option<int64_t> columnWarps{
      *this, "column-warps",
      llvm::cl::desc("Warps per block (splitting K) of the packed-feature "
                     "linear kernels"),
      llvm::cl::init(8)};
  Option<int64_t> columnUnroll{
      *this, "column-unroll",
      llvm::cl::desc("Steps of K per iteration of the packed-feature "
                     "linear kernels for one token"),
      llvm::cl::init(16)};
  Option<int64_t> columnTileUnroll{
      *this, "column-tile-unroll",
      llvm::cl::desc("Steps of K per iteration of the packed-feature "
                     "linear kernels' tiles of several tokens"),
      llvm::cl::init(8)};
  Option<int64_t> columnTokens{
      *this, "column-tokens",
      llvm::cl::desc("Tokens per block of the packed-feature linear kernels "
                     "for steps of more than one token"),
      llvm::cl::init(4)};
  Option<int64_t> rowThreads{
      *this, "row-threads",
      llvm::cl::desc("Threads per row of the row reductions (norms' sums of "
                     "squares, LLM.int8's row absmax)"),
      llvm::cl::init(1024)};
  // AWQ layers of few tokens on tensor cores (qc-awq-mma-contractions).
  Option<int64_t> awqMmaMaxTokens{
      *this, "awq-mma-max-tokens",
      llvm::cl::desc("Steps of at most this many tokens run AWQ layers "
                     "stored in the mma layout on the tensor-core decode "
                     "kernel (0: never)"),
      llvm::cl::init(16)};
  Option<int64_t> awqMmaTileTokens{
      *this, "awq-mma-tile-tokens",
      llvm::cl::desc("Tokens per block of the AWQ tensor-core decode kernel"),
      llvm::cl::init(16)};
  Option<int64_t> awqMmaWarps{
      *this, "awq-mma-warps",
      llvm::cl::desc("Warps per block of the AWQ tensor-core decode kernel, "
                     "splitting K"),
      llvm::cl::init(8)};
  Option<int64_t> awqMmaUnroll{
      *this, "awq-mma-unroll",
      llvm::cl::desc("64-deep blocks of K each warp of the AWQ tensor-core "
                     "decode kernel loads per iteration"),
      llvm::cl::init(4)};
  // The tensor-core kernels' shape (qc-tensor-core-contractions).
  Option<int64_t> tensorCoreTileTokens{
      *this, "tensor-core-tile-tokens",
      llvm::cl::desc("Tokens per warp tile of the tensor-core kernels"),
      llvm::cl::init(64)};
  Option<int64_t> tensorCoreTileFeatures{
      *this, "tensor-core-tile-features",
      llvm::cl::desc("Features per warp tile of the tensor-core kernels"),
      llvm::cl::init(32)};
  Option<int64_t> tensorCoreKSplit{
      *this, "tensor-core-k-split",
      llvm::cl::desc("Warps per block of the tensor-core kernels, each "
                     "summing one slice of K"),
      llvm::cl::init(4)};
  Option<int64_t> tensorCoreUnroll{
      *this, "tensor-core-unroll",
      llvm::cl::desc("K steps whose loads the tensor-core kernels issue "
                     "together"),
      llvm::cl::init(2)};
  // The block-tiled kernel staged in shared memory (NVIDIA).
  Option<int64_t> stagedMinTokens{
      *this, "staged-min-tokens",
      llvm::cl::desc("NVIDIA: steps with at least this many tokens run the "
                     "tensor-core kernel staged in shared memory (0: never)"),
      llvm::cl::init(64)};
  Option<bool> stagedDequantized{
      *this, "staged-dequantized",
      llvm::cl::desc("Stage dequantized weights too (by default only fp16 "
                     "weights take the staged kernel)"),
      llvm::cl::init(false)};
  Option<int64_t> stagedTileTokens{
      *this, "staged-tile-tokens",
      llvm::cl::desc("Tokens per block of the staged kernel"),
      llvm::cl::init(64)};
  Option<int64_t> stagedTileFeatures{
      *this, "staged-tile-features",
      llvm::cl::desc("Features per block of the staged kernel"),
      llvm::cl::init(64)};
  // sm_90a: the staged kernel on wgmma (WgmmaKernel.cpp).
  Option<int64_t> wgmmaTileTokens{
      *this, "wgmma-tile-tokens",
      llvm::cl::desc("sm_90a: tokens per block of the wgmma kernel (64 a "
                     "warpgroup: 64 or 128)"),
      llvm::cl::init(64)};
  Option<int64_t> wgmmaTileFeatures{
      *this, "wgmma-tile-features",
      llvm::cl::desc("sm_90a: features per block of the wgmma kernel (a "
                     "multiple of 16 per warpgroup up to 256; 0: mma.sync "
                     "staged kernel)"),
      llvm::cl::init(64)};
  Option<int64_t> wgmmaWideMinTokens{
      *this, "wgmma-wide-min-tokens",
      llvm::cl::desc("sm_90a: fewest tokens for the wide wgmma tile (128 x "
                     "256) on layers of wgmma-wide-min-features or more "
                     "(0: never)"),
      llvm::cl::init(128)};
  Option<int64_t> wgmmaWideMinFeatures{
      *this, "wgmma-wide-min-features",
      llvm::cl::desc("sm_90a: fewest features of a layer for the wide wgmma "
                     "tile"),
      llvm::cl::init(8192)};
  Option<bool> wgmmaDequantize{
      *this, "wgmma-dequantize",
      llvm::cl::desc("sm_90a: quantized layers at staged-min-tokens or more "
                     "dequantize their weights into an f16 buffer, then run "
                     "the wgmma kernel on it"),
      llvm::cl::init(true)};
  Option<int64_t> wgmmaStages{
      *this, "wgmma-stages",
      llvm::cl::desc("sm_90a: shared-memory buffers of 64-deep K slices in "
                     "the wgmma kernel"),
      llvm::cl::init(6)};
  Option<bool> wgmmaTma{
      *this, "wgmma-tma",
      llvm::cl::desc("sm_90a: the wgmma kernel's f16 operands travel by TMA "
                     "(tensor maps made on the host, mbarriers) instead of "
                     "cp.async"),
      llvm::cl::init(true)};
  Option<int64_t> stagedTileDepth{
      *this, "staged-tile-depth",
      llvm::cl::desc("K per shared-memory buffer of the staged kernel"),
      llvm::cl::init(32)};
  Option<int64_t> stages{
      *this, "stages",
      llvm::cl::desc("Shared-memory buffers of K slices in the staged kernel"),
      llvm::cl::init(4)};
};

/// Whether `chip` names an NVIDIA (sm_*) or AMD (gfx*) GPU this compiler
/// targets.
bool isNVIDIAChip(StringRef chip);
bool isAMDChip(StringRef chip);

/// The default toolkit directory of `chip`'s vendor (see GPUPipelineOptions).
std::string defaultGPUToolkit(StringRef chip);

/// Bufferized loop kernels -> one gpu.launch per kernel, outlined into a
/// gpu.module; host buffers on the device.
void buildKernelsToGPUPipeline(OpPassManager &pm,
                               const GPUPipelineOptions &options);

/// gpu.module kernels -> NVVM or ROCDL and a binary; host code -> LLVM
/// dialect calling the GPU runtime ABI (mgpu*).
void buildGPUToLLVMPipeline(OpPassManager &pm,
                            const GPUPipelineOptions &options);

/// The whole GPU compilation: qc graph -> LLVM dialect with embedded GPU
/// binaries.
void buildQCToLLVMGPUPipeline(OpPassManager &pm,
                              const GPUPipelineOptions &options);

/// Why `options` cannot build a pipeline (an unknown chip or format, a
/// non-positive block size, ...), or "" when they can. The passes check
/// their own options too; this catches what only the pipeline sees.
std::string checkPipelineOptions(const CPUPipelineOptions &options);
std::string checkPipelineOptions(const GPUPipelineOptions &options);

/// Registers qc-to-kernels, qc-kernels-to-llvm-cpu, qc-to-llvm-cpu,
/// qc-kernels-to-gpu, qc-gpu-to-llvm and qc-to-llvm-gpu. Each runs on a
/// builtin.module (nested elsewhere it is an error, not an abort) and
/// refuses options that checkPipelineOptions rejects.
void registerQCPipelines();

} // namespace mlir::qc

#endif // QC_PIPELINES_PIPELINES_H
