//===- Passes.td - qc conversion passes --------------------*- tablegen -*-===//

#ifndef QC_CONVERSION_PASSES_TD
#define QC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQCToLinalg : Pass<"convert-qc-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower the qc forward graph to linalg/tensor/scf/memref kernels";
  let description = [{
    Replaces `func.func @forward` by `func.func @qc_forward`, the compiled
    model's entry point, with an explicit ABI the runtime fills in
    (include/qc/ABI/ForwardABI.h):

      (tokens: tensor<?xi32>, positions: tensor<?xi32>,
       slot_mapping: memref<?xi32>, token_sequence: memref<?xi32>,
       block_tables: memref<?x?xi32>,
       k_cache: memref<L x ? x W x T>, v_cache: memref<L x ? x W x T>,
       logits: memref<? x V x f32>, weights...)

    Every qc op becomes upstream IR built by the shared kernel builders
    (QCKernels.h): linalg.generic for matmuls (dequantization fused into the
    reduction), norms, rope and elementwise ops; loops over memrefs for the
    paged KV cache and attention. Weights become arguments in first-use
    order; quantized weights pass their storage tensors. The module attribute
    `qc.abi.weights` lists the argument names.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"16",
           "Tokens per KV-cache block">,
    Option<"warpAttention", "warp-attention", "bool", /*default=*/"false",
           "GPU targets: attention as a gpu.launch with a warp per (token, "
           "head) and argmax as a warp per row, instead of loop nests">,
  ];
}

def QCMapKernelsToGPU : Pass<"qc-map-kernels-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Make every loop nest of the bufferized kernels a GPU kernel";
  let description = [{
    Runs on the bufferized, loop-level kernels (after
    convert-linalg-to-parallel-loops) and prepares them for upstream
    `gpu-map-parallel-loops` + `convert-parallel-loops-to-gpu`:

    - each top-level `scf.parallel` is tiled so that its innermost dimension
      spans up to `threads` threads of a block and the other dimensions
      become blocks;
    - each other top-level loop nest (a sequential scan such as sampling)
      is wrapped in a one-iteration `scf.parallel`, i.e. a one-thread kernel;
    - host buffers become device buffers: `memref.alloc`/`dealloc`/`copy`
      at the top level become `gpu.alloc`/`dealloc`/`memcpy`;
    - `memref.get_global` tables used inside a kernel are sunk into it so
      outlining copies the global into the device module.

    The host code that remains only allocates, computes shapes and launches;
    a load or store left on the host is an error, since it would touch
    device memory from the CPU.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::affine::AffineDialect"];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"128",
           "Threads per block along the innermost parallel dimension">,
  ];
}

def QCHoistKernelAllocas
    : Pass<"qc-hoist-kernel-allocas", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Give each GPU thread's scratch arrays a fixed stack slot";
  let description = [{
    A kernel's per-thread scratch (an attention accumulator row) is a
    static `memref.alloca` inside an alloca scope nested in the kernel's
    bounds check. GPU backends want static allocas in the entry block (AMDGPU
    cannot select dynamic stack allocation at all; NVPTX would emit a
    dynamic `alloca`): this inlines the alloca scopes of every `gpu.func`
    and moves its static allocas to the entry block. Each thread runs one
    iteration, so one slot per thread is what the scope meant.
  }];
}

def QCDedupGPUModules : Pass<"qc-dedup-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Compile each distinct kernel once";
  let description = [{
    Kernel outlining gives every launch its own gpu.module: a 32-layer
    model has ~20 copies of each kernel (`qc_linear_4096_4096`,
    `qc_linear_4096_4096_0`, ...), each compiled by LLVM and ptxas into the
    kernel library. This keeps the first of each set of modules that are
    identical up to their own symbol names and points the other launches
    at it, so compile time and the library's size follow the number of
    distinct kernels, not of layers.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def QCGridConstantKernelArgs
    : Pass<"qc-grid-constant-kernel-args", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Pass kernel arguments used by address as grid constants";
  let description = [{
    A kernel that needs the address of a by-value argument (a TMA tensor
    map: 128 bytes, named by address by `cp.async.bulk.tensor`) marks it
    inside its gpu.launch with an `unrealized_conversion_cast` to
    `!llvm.ptr` carrying `qc.kernel_argument_address`. After the kernel is
    an NVVM `llvm.func`, this makes each marked argument a pointer with
    `llvm.byval` (its value type), `llvm.align = 64` and
    `nvvm.grid_constant`, and the marker casts that argument: NVPTX then
    passes the value in a 64-byte-aligned parameter and the kernel reads it
    in place (`cvta.param`). Launches are unchanged: they pass the value.
    Marking anything but an argument of an NVVM kernel, or using a marked
    argument by value too, is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def QCAwqMmaContractions : Pass<"qc-awq-mma-contractions",
                                 "::mlir::func::FuncOp"> {
  let summary = "AWQ linear layers of few tokens on tensor cores, at the "
                "weights' memory rate";
  let description = [{
    Gives each bufferized AWQ contraction whose weight is stored in the mma
    layout (`#qc.awq<..., layout = mma>`, read from the generic's
    `qc.quantized_weight` attribute, so the kernel is chosen by what the
    weight is) and whose activations are f16 a kernel for steps of at most
    `max-tokens` tokens, `qc_linear_awq_mma_<N>_<K>`, chosen on the host;
    the generic stays for larger steps (the later passes map it).

    A block owns 16 output features and `tile-tokens` tokens (n8 tiles);
    its `warps` warps split K in 64-deep blocks (split-K, so a 4096-wide
    layer fills every SM), `unroll` blocks loaded before any is used. Per
    64-deep block a lane loads 16 bytes of codes — the A operands of four
    mma.sync m16n8k16 with the features as rows — and, per tile of 8
    tokens, the 16 consecutive activations of its k slots (a permutation of
    K that both operands share). A shift and an and/or per pair of codes
    make biased halves (0x6400 | q is 1024 + q), an f16x2 subtract of the
    biased zero point and multiply by the scale give w = (q - z) * s
    exactly as AutoAWQ rounds it; the tensor cores multiply and accumulate
    in f32. The warps' sums meet in shared memory in warp order
    (deterministic) and are added to the output.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::memref::MemRefDialect"];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"16",
           "Steps of at most this many tokens take the kernel (0: never)">,
    Option<"tileTokens", "tile-tokens", "int64_t", /*default=*/"16",
           "Tokens per block (a multiple of 8)">,
    Option<"warps", "warps", "int64_t", /*default=*/"8",
           "Warps per block, splitting K">,
    Option<"unroll", "unroll", "int64_t", /*default=*/"4",
           "64-deep blocks of K each warp loads per iteration">,
  ];
}

def QCWarpContractions : Pass<"qc-warp-contractions", "::mlir::func::FuncOp"> {
  let summary = "Matmul-like kernels as one warp per output column";
  let description = [{
    Rewrites each bufferized `linalg.generic` with iterators
    [parallel (token), parallel (feature), reduction (k)] whose payload
    accumulates (`out + f(...)`, float or integer) into a `gpu.launch` where
    one 32-lane warp owns one output feature for a tile of tokens: its lanes
    stride over K (consecutive lanes read consecutive weights, so every load
    of the warp is coalesced), each lane accumulating in registers, and
    xor-shuffles sum the lanes. The payload — including any dequantization
    of packed weights (AWQ, NF4/FP4, int8) — is cloned as it is, once per
    token of the tile, so the weight value is loaded and decoded once (the
    token copies share its loads) and used for every token.

    Decode and small batches are bound by the weight bytes; this mapping
    keeps every SM busy (N warps instead of N threads) and reads each weight
    once per token tile.

    Weights packed along features (AWQ's [K, N/8] words: eight features
    share each word) would make a warp per feature read one word in eight
    of every row it touches. Those contractions get a thread per packed
    word column instead: `column-lanes` consecutive columns per warp row
    (4 columns of 4-byte words: 16 bytes; fewer columns per block give the
    GPU more blocks), the warp's other lanes and the block's
    `column-warps` warps taking interleaved slices of K, `column-unroll`
    steps of K loaded together; slices combine by xor shuffles, then
    across warps in shared memory in warp order (deterministic). Steps of
    one token (decode) get a kernel of their own; larger steps use tiles of
    `column-tokens` tokens, which reuse each decoded weight, and
    `column-tile-unroll` steps of K an iteration.

    Row reductions — [parallel (row), reduction] generics whose row-indexed
    outputs accumulate by add or max (rms_norm and add_rms_norm's sums of
    squares, LLM.int8's row absmax) — get a block of `row-threads` threads
    per row (a decode step has one row: a single warp would walk it with one
    load in flight at a time), threads striding the row, xor shuffles
    combining each warp, then the warps' results in shared memory in warp
    order; outputs indexed by (row, column) are stored as they are computed.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"warps", "warps", "int64_t", /*default=*/"4",
           "Warps (output features) per block">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"4",
           "Tokens per block (accumulators per lane)">,
    Option<"maxVector", "max-vector", "int64_t", /*default=*/"16",
           "Most consecutive k a lane takes per step (16 bytes of the "
           "narrowest input read along K, at most this)">,
    Option<"columnLanes", "column-lanes", "int64_t", /*default=*/"4",
           "Packed-feature weights: consecutive word columns per warp row "
           "(divides 32; 0: a warp per feature instead)">,
    Option<"columnWarps", "column-warps", "int64_t", /*default=*/"8",
           "Packed-feature weights: warps per block, splitting K">,
    Option<"columnUnroll", "column-unroll", "int64_t", /*default=*/"16",
           "Packed-feature weights: steps of K per loop iteration (one "
           "token)">,
    Option<"columnTileUnroll", "column-tile-unroll", "int64_t",
           /*default=*/"8",
           "Packed-feature weights: steps of K per loop iteration (tiles of "
           "column-tokens)">,
    Option<"rowThreads", "row-threads", "int64_t", /*default=*/"1024",
           "Row reductions: threads per row (a multiple of 32, at most "
           "1024)">,
    Option<"columnTokens", "column-tokens", "int64_t", /*default=*/"4",
           "Packed-feature weights: tokens per block of steps of more than "
           "one token">,
  ];
}

def QCTensorCoreContractions
    : Pass<"qc-tensor-core-contractions", "::mlir::func::FuncOp"> {
  let summary = "Half-precision linear layers of many tokens on tensor cores";
  let description = [{
    Rewrites each bufferized [token, feature, k] contraction whose payload
    is `out + extf(activation) * weight` with f16 activations and an f32
    accumulator (fp16 weights, or AWQ / NF4 / FP4 / int8 dequantization in
    the payload) into a tensor-core kernel used when the step has at least
    `min-tokens` tokens; fewer tokens run the original contraction (which
    qc-warp-contractions maps to a warp per feature).

    NVIDIA (`sm_80` and later): `nvgpu.mma.sync` m16n8k16, f16 x f16 + f32.
    AMD (`gfx90a`, `gfx942`): `amdgpu.mfma` 16x16x16 f16, wave64.

    Each warp owns a tile of `tile-tokens` x `tile-features` outputs; the
    `k-split` warps of a block take consecutive slices of K for the same
    tile and add their partial sums through shared memory in a fixed order
    (deterministic). Each loop iteration issues the loads of `unroll` K
    steps before their instructions. K is walked 32 at a time: each lane loads 8 consecutive
    k of its rows and columns (16-byte loads of f16 data) and feeds them to
    two instructions as the k slots it owns: a permutation of K applied to
    both operands, so the sum is the same. The weight side of the payload
    (the dequantization) is evaluated in registers and rounded to f16 — what
    AutoAWQ's and bitsandbytes' kernels do; fp16 weights are exact.

    On NVIDIA, steps of at least `staged-min-tokens` tokens of layers with
    fp16 weights (any weights with `staged-dequantized`) take a third
    kernel instead: blocks of four warps own `staged-tile-tokens` x
    `staged-tile-features` outputs and stage K `staged-tile-depth` at a
    time through
    `stages` shared-memory buffers (cp.async for f16 rows read as they
    are, dequantized rows stored from registers), read by ldmatrix into
    mma.sync. On `sm_90a` (unless `wgmma-tile-features=0`) that kernel is
    a warpgroup per 64 tokens of a block of `wgmma-tile-tokens` x
    `wgmma-tile-features`, K staged
    64 deep through `wgmma-stages` 128-byte-swizzled buffers in dynamic
    shared memory and multiplied by `nvvm.wgmma.mma_async`; with
    `wgmma-tma` (and f16 rows in memory) thread 0 fills them by TMA from
    tensor maps the host encodes (passed by value, see
    qc-grid-constant-kernel-args), an mbarrier per stage, otherwise every
    thread copies by cp.async. Steps of at
    least `wgmma-wide-min-tokens` on layers of at least
    `wgmma-wide-min-features` take a tile of 128 x 256 instead. Layers
    with quantized weights (`wgmma-dequantize`) dequantize them into an f16
    buffer by a kernel of their own (`qc_dequantize_*`) for those steps.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::amdgpu::AMDGPUDialect"];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "sm_80 or later (mma.sync), gfx90a or gfx942 (MFMA)">,
    Option<"minTokens", "min-tokens", "int64_t", /*default=*/"16",
           "Fewest tokens in a step for the tensor-core kernel">,
    Option<"tileTokens", "tile-tokens", "int64_t", /*default=*/"64",
           "Tokens per warp tile (a multiple of 16)">,
    Option<"tileFeatures", "tile-features", "int64_t", /*default=*/"32",
           "Features per warp tile (a multiple of 8 on NVIDIA, 16 on AMD)">,
    Option<"kSplit", "k-split", "int64_t", /*default=*/"4",
           "Warps of a block, each summing one slice of K">,
    Option<"unroll", "unroll", "int64_t", /*default=*/"2",
           "K steps whose loads are issued together (halved until K splits "
           "evenly)">,
    Option<"stagedMinTokens", "staged-min-tokens", "int64_t",
           /*default=*/"64",
           "NVIDIA: fewest tokens for the block-tiled kernel staged in shared "
           "memory (0: never)">,
    Option<"stagedDequantized", "staged-dequantized", "bool",
           /*default=*/"false",
           "Stage dequantized weights too (by default only fp16 weights, "
           "copied as they are, take the staged kernel)">,
    Option<"stagedTileTokens", "staged-tile-tokens", "int64_t",
           /*default=*/"64", "Tokens per block of the staged kernel">,
    Option<"stagedTileFeatures", "staged-tile-features", "int64_t",
           /*default=*/"64", "Features per block of the staged kernel">,
    Option<"stagedTileDepth", "staged-tile-depth", "int64_t",
           /*default=*/"32",
           "K per shared-memory buffer of the staged kernel (layers whose K "
           "it does not divide keep the direct kernel)">,
    Option<"stages", "stages", "int64_t", /*default=*/"4",
           "Shared-memory buffers of K slices in the staged kernel">,
    Option<"wgmmaTileTokens", "wgmma-tile-tokens", "int64_t",
           /*default=*/"64",
           "sm_90a: tokens per block of the wgmma kernel (64 a warpgroup: "
           "64 or 128)">,
    Option<"wgmmaTileFeatures", "wgmma-tile-features", "int64_t",
           /*default=*/"64",
           "sm_90a: features per block of the wgmma form of the staged "
           "kernel (a multiple of 16 per warpgroup up to 256; 0: the "
           "mma.sync form)">,
    Option<"wgmmaWideMinTokens", "wgmma-wide-min-tokens", "int64_t",
           /*default=*/"128",
           "sm_90a: fewest tokens for the wide wgmma tile (128 tokens x 256 "
           "features, 4 stages) on layers of at least "
           "wgmma-wide-min-features features (0: never)">,
    Option<"wgmmaWideMinFeatures", "wgmma-wide-min-features", "int64_t",
           /*default=*/"8192",
           "sm_90a: fewest features of a layer for the wide wgmma tile">,
    Option<"wgmmaDequantize", "wgmma-dequantize", "bool", /*default=*/"true",
           "sm_90a: layers with computed (dequantized) weights, at "
           "staged-min-tokens or more, first write them to an f16 buffer "
           "and run the wgmma kernel on it (unless staged-dequantized)">,
    Option<"wgmmaStages", "wgmma-stages", "int64_t", /*default=*/"6",
           "sm_90a: shared-memory buffers of 64-deep K slices in the wgmma "
           "kernel">,
    Option<"wgmmaTma", "wgmma-tma", "bool", /*default=*/"true",
           "sm_90a: the wgmma kernel's f16 operands travel by TMA (tensor "
           "maps made on the host, mbarriers) instead of cp.async">,
  ];
}

def QCParallelDimsFirst : Pass<"qc-parallel-dims-first", "::mlir::func::FuncOp"> {
  let summary = "Order each linalg.generic's loops parallel first";
  let description = [{
    Interchanges the loops of every `linalg.generic` so that its parallel
    dimensions come before its reductions (keeping their relative order).
    A reduction over tokens of a per-column value (LLM.int8's column absmax)
    otherwise becomes a sequential loop around a parallel one, which the GPU
    pipelines could only run on a single thread; parallel-first it is one
    thread per column looping over tokens. Linalg's semantics do not depend
    on the loop order, so this never changes results beyond the order of a
    reduction that is already order-free.
  }];
}

def QCCpuQuantizedContractions : Pass<"qc-cpu-quantized-contractions",
                                       "::mlir::func::FuncOp"> {
  let summary = "Quantized linear layers on the CPU: weights decoded in "
                "vector registers once per tile of tokens";
  let description = [{
    Replaces each bufferized contraction over a 4-bit AWQ weight in the cpu
    layout (`#qc.awq<..., layout = cpu>`, read from the generic's
    `qc.quantized_weight` attribute) or AutoAWQ's GEMM layout, with f16 or
    f32 activations, by a loop nest over vectors of 8 features: a
    `scf.parallel` over tiles of 64 features (the cpu layout's row; in the
    GEMM layout the most of 64, 32, 16 and 8 that divides N), which
    qc-cpu-parallel-tiles gives the thread pool. Inside a tile, f16
    activations are copied to f32 once per tile of tokens; tiles of
    `tile-tokens` tokens take two vectors of features at a time, the
    remaining tokens one at a time with all eight. Per group of K the zero
    points and scales become vectors. In the cpu layout one vector load
    gives 8 features' codes at 8 inputs and a shift and a mask one input's
    (GEMM: one word per input, broadcast and shifted by AutoAWQ's nibble
    order); `q * s - z * s` in one fused multiply-add is `(q - z) * s`
    exactly, rounded to f16 as AutoAWQ rounds it, and every token of the
    tile multiplies and adds it into f32 sums kept in registers.

    With `int8-activations` (x86 with AVX2), cpu-layout AWQ instead
    quantizes each token's activations to int8 per block of 32 inputs
    (absmax / 127, round to nearest even) and takes 8-bit integer dot
    products: per block of 8 inputs, the low and high nibbles of each byte
    of a vector of 8 features' words are 4 consecutive inputs of a feature,
    multiplied with the token's matching activations by vpmaddubsw and
    summed by vpmaddwd; int32 sums are scaled per block of 32, and per
    group `s (sum - z * sum_b dx_b sum xq)` is added to the output.

    Weights that store each feature's codes along K — bitsandbytes NF4/FP4
    (with or without double quant) and weight-only int8 — take tiles of 4
    features instead, each a dot product over K in vectors of 8 inputs
    that the tile's features share: 4-bit codes come 8 at a time from one
    word (each byte's high nibble first) and their levels are gathered from
    the 16-entry codebook, times the block's absmax (decoded from its 8-bit
    code under double quant); int8 codes are converted 8 at a time, times
    the feature's scale. Each weight is rounded to the weight's element
    type as the generic rounds it, so only the order of the f32 sums
    differs. Pairs of tokens share each decoded vector when
    `tile-tokens` > 1. A storage buffer whose role its type does not settle
    leaves the generic in place. No weight is decoded per element in the
    inner loop of a dot product.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::memref::MemRefDialect"];
  let options = [
    Option<"tileTokens", "tile-tokens", "int64_t", /*default=*/"4",
           "Tokens that share each decoded weight vector">,
    Option<"int8Activations", "int8-activations", "bool", /*default=*/"false",
           "AWQ in the cpu layout with activations quantized to int8 per "
           "block of 32 and 8-bit integer dot products (x86 AVX2)">,
  ];
}

def QCCpuParallelTiles : Pass<"qc-cpu-parallel-tiles", "::mlir::ModuleOp"> {
  let summary = "Split the CPU's large parallel loops into tiles the "
                "runtime's threads run";
  let description = [{
    Outlines each outermost `scf.parallel` (zero-based, unit step) whose
    work is at least `min-work` scalar operations — or depends on the
    token count — into a tile function `<func>_tile<N>(begin, end, ...)`
    that runs the loop with one dimension restricted to [begin, end): the
    dimension with the largest static extent (the features of a linear
    layer), else the first. A C-ABI thunk `<func>_tile<N>_thunk(context,
    begin, end)` unpacks the loop's captured values from a stack record and
    calls it. In place of the loop the function loads the library's global
    `qc_cpu_parallel_for` (ForwardABI.h): null, it runs the thunk over the
    whole range itself; set by the runtime, it calls it with the thunk, the
    record, the extent and an estimate of the work per iteration, and the
    runtime's thread pool runs disjoint ranges covering it. The arithmetic
    stays in the compiled tile; the runtime only schedules.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
  let options = [
    Option<"minWork", "min-work", "int64_t", /*default=*/"16384",
           "Loops of statically fewer scalar operations stay inline">,
  ];
}

#endif // QC_CONVERSION_PASSES_TD
