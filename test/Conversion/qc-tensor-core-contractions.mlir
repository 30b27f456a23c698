// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a tile-tokens=32 tile-features=16 staged-min-tokens=0}))" | FileCheck %s --check-prefix=NV
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=gfx942 tile-tokens=32 tile-features=16}))" | FileCheck %s --check-prefix=AMD
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_80 min-tokens=32 tile-tokens=16 tile-features=8 k-split=1 unroll=2 staged-min-tokens=0}))" | FileCheck %s --check-prefix=UNROLL
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_80 staged-min-tokens=32 staged-dequantized=1 staged-tile-tokens=32 staged-tile-features=32 stages=2}))" | FileCheck %s --check-prefix=STAGED
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_80 staged-min-tokens=32}))" | FileCheck %s --check-prefix=DEFAULT
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a staged-min-tokens=32 staged-dequantized=1 wgmma-tile-features=32 wgmma-stages=3}))" | FileCheck %s --check-prefix=WGMMA
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a}))" | FileCheck %s --check-prefix=WGMMADEFAULT
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-dequantize=0}))" | FileCheck %s --check-prefix=KEEPDIRECT
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-wide-min-features=64}))" | FileCheck %s --check-prefix=WIDE
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-tensor-core-contractions{chip=sm_90a wgmma-tma=0}))" | FileCheck %s --check-prefix=CPASYNC

// A linear layer with int8 weights dequantized in the payload and f16
// activations. The host picks the tensor-core kernel for 16 tokens or more
// and keeps the contraction for fewer (qc-warp-contractions maps it).
// NVIDIA: warps of 32 lanes, a warp tile of 32 tokens x 16 features (2 x 2
// m16n8k16 fragments), 4 warps splitting K and meeting in shared memory;
// each K step of 32 feeds every fragment pair twice (k 0-15, 16-31 of the
// lanes' permuted slots): 8 mma.sync. The activation is used as the f16 it
// is, the dequantized weight is rounded to f16.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// NV-LABEL: func.func @int8_linear(
// NV-SAME: %[[X:.*]]: memref<?x64xf16>, %[[Q:.*]]: memref<16x64xi8>, %[[S:.*]]: memref<16xf16>, %[[OUT:.*]]: memref<?x16xf32>)
// NV: %[[T:.*]] = memref.dim %[[X]]
// NV: %[[MIN:.*]] = arith.constant 16 : index
// NV: %[[ENOUGH:.*]] = arith.cmpi uge, %[[T]], %[[MIN]]
// NV: scf.if %[[ENOUGH]] {
// NV: gpu.launch
// NV-SAME: function(@qc_linear_mma_16_64) workgroup(%[[PARTIALS:.*]] : memref<4x32x16xf32, 3>)
// NV: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>, vector<2x2xf32>)
// NV: memref.load %[[X]][%{{.*}}, %{{.*}}] {alignment = 16 : i64}
// NV: memref.load %[[Q]]
// NV: memref.load %[[S]]
// NV: arith.truncf %{{.*}} : f32 to f16
// NV-COUNT-8: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// NV: scf.yield
// NV: memref.store %{{.*}}, %[[PARTIALS]]
// NV: gpu.barrier
// NV: memref.load %[[PARTIALS]]
// NV: memref.load %[[OUT]]
// NV: memref.store %{{.*}}, %[[OUT]]
// NV: gpu.terminator
// NV: } else {
// NV-NEXT: linalg.generic
// One warp per block over all of K = 64, one fragment, the loads of two K
// steps issued before their four instructions.
// UNROLL-LABEL: func.func @int8_linear(
// UNROLL: %[[MIN:.*]] = arith.constant 32 : index
// UNROLL: arith.cmpi uge, %{{.*}}, %[[MIN]]
// UNROLL: workgroup(%{{.*}} : memref<1x32x4xf32, 3>)
// UNROLL: scf.for {{.*}} step %c64{{(_[0-9]+)?}} iter_args({{.*}}) -> (vector<2x2xf32>)
// UNROLL-COUNT-4: memref.load %{{.*}} {alignment = 16 : i64}
// UNROLL-COUNT-4: nvgpu.mma.sync
// UNROLL-NOT: nvgpu.mma.sync
// UNROLL: scf.yield
// By default only fp16 weights are staged (dequantizing into shared memory
// stalls the pipeline): this layer keeps the direct tensor-core kernel.
// DEFAULT-LABEL: func.func @int8_linear(
// DEFAULT-NOT: qc_linear_staged
// DEFAULT: function(@qc_linear_mma_16_64)
// DEFAULT-NOT: qc_linear_staged
// DEFAULT-LABEL: func.func @f16_linear(
// With staged-dequantized, from 32 tokens on (NVIDIA), the kernel staged in
// shared memory: blocks of
// 4 warps over 32 tokens x 32 features, K in slices of 32 through 2
// buffers of rows padded to 40 halves. The activations travel by cp.async
// (one 16-byte chunk a thread and slice), the weights are dequantized in
// registers: slice 0 before the loop; in the loop, slice i + 1 is loaded
// before slice i's ldmatrix / mma.sync (a warp tile of 16 x 16: one A
// fragment, one ldmatrix.x4 for two B fragments, per 16 of K) and stored
// after them.
// STAGED-LABEL: func.func @int8_linear(
// STAGED-SAME: %[[X:.*]]: memref<?x64xf16>, %[[Q:.*]]: memref<16x64xi8>, %[[S:.*]]: memref<16xf16>, %[[OUT:.*]]: memref<?x16xf32>)
// STAGED: arith.cmpi uge, %{{.*}}, %c16
// STAGED: scf.if
// STAGED: %[[MIN:.*]] = arith.constant 32 : index
// STAGED: arith.cmpi uge, %{{.*}}, %[[MIN]]
// STAGED: scf.if
// STAGED: gpu.launch
// STAGED-SAME: function(@qc_linear_staged_16_64) workgroup(%[[A:.*]] : memref<2x32x40xf16, 3>, %[[B:.*]] : memref<2x32x40xf16, 3>)
// STAGED: nvgpu.device_async_copy %[[X]][%{{.*}}, %{{.*}}], %[[A]][%{{.*}}, %{{.*}}, %{{.*}}], 8 {bypassL1} : memref<?x64xf16> to memref<2x32x40xf16, 3>
// STAGED-NOT: nvgpu.device_async_copy
// STAGED: memref.load %[[Q]]
// STAGED: %[[GROUP:.*]] = nvgpu.device_async_create_group
// STAGED: vector.store %{{.*}}, %[[B]][%{{.*}}, %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<2x32x40xf16, 3>, vector<8xf16>
// STAGED: scf.for
// STAGED: nvgpu.device_async_wait %[[GROUP]] {numGroups = 0 : i32}
// STAGED-NEXT: gpu.barrier
// STAGED: nvgpu.device_async_copy %[[X]]
// STAGED: memref.load %[[Q]]
// STAGED: nvgpu.device_async_create_group
// STAGED: nvgpu.ldmatrix %[[A]][%{{.*}}, %{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<2x32x40xf16, 3> -> vector<4x2xf16>
// STAGED: nvgpu.ldmatrix %[[B]]
// STAGED-COUNT-2: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// STAGED: nvgpu.ldmatrix %[[A]]
// STAGED: nvgpu.ldmatrix %[[B]]
// STAGED-COUNT-2: nvgpu.mma.sync
// STAGED-NOT: nvgpu.mma.sync
// STAGED: vector.store %{{.*}}, %[[B]]
// STAGED: scf.yield
// STAGED: memref.load %[[OUT]]
// STAGED: memref.store %{{.*}}, %[[OUT]]
// STAGED: gpu.terminator
// STAGED: } else {
// STAGED: function(@qc_linear_mma_16_64)
// STAGED: } else {
// STAGED-NEXT: linalg.generic
// On sm_90a the staged kernel is a warpgroup (128 threads) per block of 64
// tokens x 32 features issuing wgmma: 3 buffers of (64 + 32) rows x 128
// bytes in dynamic shared memory, plus 1 KiB to align them to 1024 bytes,
// seen as one f16 array (rows swizzled by the index arithmetic). The
// activations travel by cp.async (4 chunks a thread and slice), the weights
// are dequantized in registers and stored as 16-byte vectors; one slice
// before the loop. Per slice: wait for its copies, fence.proxy.async
// (generic-proxy writes become visible to wgmma), barrier, four m64n32k16
// on descriptors, commit; the copies, loads and stores of the slice after
// it; wait for all but the newest wgmma group. After the loop, for all.
// The 16 accumulators of a thread are added to the output one by one.
// WGMMA-LABEL: func.func @int8_linear(
// WGMMA-SAME: %[[X:.*]]: memref<?x64xf16>, %[[Q:.*]]: memref<16x64xi8>, %[[S:.*]]: memref<16xf16>, %[[OUT:.*]]: memref<?x16xf32>)
// WGMMA: %[[MIN:.*]] = arith.constant 32 : index
// WGMMA: arith.cmpi uge, %{{.*}}, %[[MIN]]
// WGMMA: gpu.launch
// WGMMA-SAME: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) dynamic_shared_memory_size %c37912_i32 module(@qc_linear_wgmma_16_64) function(@qc_linear_wgmma_16_64)
// WGMMA: %[[RAW:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// WGMMA: memref.extract_aligned_pointer_as_index %[[RAW]]
// WGMMA: %[[BASE:.*]] = arith.ori %{{.*}}, %{{.*}} : i64
// WGMMA: %[[BUF:.*]] = memref.view %[[RAW]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<18432xf16, #gpu.address_space<workgroup>>
// WGMMA-COUNT-4: nvgpu.device_async_copy %[[X]][%{{.*}}, %{{.*}}], %[[BUF]][%{{.*}}], 8 {bypassL1}
// WGMMA-NOT: nvgpu.device_async_copy
// WGMMA: memref.load %[[Q]]
// WGMMA: %[[GROUP:.*]] = nvgpu.device_async_create_group
// WGMMA-COUNT-2: vector.store %{{.*}}, %[[BUF]][%{{.*}}] {alignment = 16 : i64} : memref<18432xf16, #gpu.address_space<workgroup>>, vector<8xf16>
// The warpgroup's token rows: 64 x 128 bytes (512 units) a warpgroup.
// WGMMA: %[[WG:.*]] = arith.divui %{{.*}}, %c128{{.*}} : index
// WGMMA: %[[WGROWS:.*]] = arith.muli %[[WG]], %c512{{.*}} : index
// WGMMA-NEXT: %[[WGROWS64:.*]] = arith.index_castui %[[WGROWS]] : index to i64
// WGMMA-NEXT: %[[WGBASE:.*]] = arith.addi %[[BASE]], %[[WGROWS64]] : i64
// WGMMA: %[[ZERO:.*]] = llvm.mlir.zero : !llvm.struct<(f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)>
// WGMMA: %[[SUMS:.*]] = scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]])
// WGMMA: nvgpu.device_async_wait %[[GROUP]] {numGroups = 0 : i32}
// WGMMA-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: gpu.barrier
// Descriptors: the buffers' base (with the swizzle fields) + the stage's
// offset + the operand's (B 8192 bytes after A) + 32 bytes a k16 step, in
// 16-byte units.
// WGMMA: nvvm.wgmma.fence.aligned
// WGMMA-NEXT: %[[A0:.*]] = arith.constant 0 : i64
// WGMMA-NEXT: %[[AOFF:.*]] = arith.addi %[[STAGE:.*]], %[[A0]] : i64
// WGMMA-NEXT: %[[DA:.*]] = arith.addi %[[WGBASE]], %[[AOFF]] : i64
// WGMMA-NEXT: %[[B0:.*]] = arith.constant 512 : i64
// WGMMA-NEXT: %[[BOFF:.*]] = arith.addi %[[STAGE]], %[[B0]] : i64
// WGMMA-NEXT: %[[DB:.*]] = arith.addi %[[BASE]], %[[BOFF]] : i64
// WGMMA-NEXT: %[[W0:.*]] = nvvm.wgmma.mma_async %[[DA]], %[[DB]], %[[ACC]], <m = 64, n = 32, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>]
// WGMMA-NEXT: arith.constant 2 : i64
// WGMMA: arith.constant 514 : i64
// WGMMA: nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[W0]]
// WGMMA-COUNT-2: nvvm.wgmma.mma_async
// WGMMA-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WGMMA: nvgpu.device_async_copy %[[X]]
// WGMMA: memref.load %[[Q]]
// WGMMA: nvgpu.device_async_create_group
// WGMMA-NEXT: vector.store %{{.*}}, %[[BUF]]
// WGMMA-NEXT: vector.store %{{.*}}, %[[BUF]]
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// WGMMA-NEXT: scf.yield
// WGMMA: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA: llvm.extractvalue %[[SUMS]][0]
// WGMMA: memref.store %{{.*}}, %[[OUT]]
// WGMMA: llvm.extractvalue %[[SUMS]][15]
// WGMMA: memref.store %{{.*}}, %[[OUT]]
// WGMMA-NOT: llvm.extractvalue
// WGMMA: gpu.terminator
// WGMMA: } else {
// WGMMA: function(@qc_linear_mma_16_64)
// By default on sm_90a, from 64 tokens, computed weights are dequantized
// once per step into an f16 [features, K] buffer (a thread per 8 k of a
// feature, 16-byte stores), which the wgmma kernel copies by cp.async like
// fp16 weights; the buffer is freed after it.
// WGMMADEFAULT-LABEL: func.func @int8_linear(
// WGMMADEFAULT-SAME: %[[X:.*]]: memref<?x64xf16>, %[[Q:.*]]: memref<16x64xi8>, %[[S:.*]]: memref<16xf16>, %[[OUT:.*]]: memref<?x16xf32>)
// WGMMADEFAULT: %[[C64:.*]] = arith.constant 64 : index
// WGMMADEFAULT: arith.cmpi uge, %{{.*}}, %[[C64]]
// WGMMADEFAULT: scf.if
// WGMMADEFAULT: %[[W:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf16>
// WGMMADEFAULT: gpu.launch
// WGMMADEFAULT-SAME: module(@qc_dequantize_16_64) function(@qc_dequantize_16_64)
// WGMMADEFAULT: memref.load %[[Q]]
// WGMMADEFAULT: memref.load %[[S]]
// WGMMADEFAULT: arith.truncf %{{.*}} : f32 to f16
// WGMMADEFAULT: vector.store %{{.*}}, %[[W]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<?x64xf16>, vector<8xf16>
// WGMMADEFAULT: gpu.terminator
// WGMMADEFAULT: memref.extract_strided_metadata %[[W]]
// WGMMADEFAULT: call @mgpuTensorMapEncodeF16Swizzle128B
// WGMMADEFAULT: function(@qc_linear_wgmma_16_64)
// WGMMADEFAULT-NOT: memref.load %[[Q]]
// WGMMADEFAULT: nvvm.cp.async.bulk.tensor.shared.cluster.global
// WGMMADEFAULT-NOT: memref.load %[[Q]]
// WGMMADEFAULT: gpu.terminator
// WGMMADEFAULT-NEXT: }
// WGMMADEFAULT-NEXT: memref.dealloc %[[W]] : memref<?x64xf16>
// WGMMADEFAULT-NEXT: } else {
// WGMMADEFAULT: function(@qc_linear_mma_16_64)
// WGMMADEFAULT-LABEL: func.func @f16_linear(
// Without wgmma-dequantize, computed weights keep the direct kernel.
// KEEPDIRECT-LABEL: func.func @int8_linear(
// KEEPDIRECT-NOT: qc_linear_wgmma
// KEEPDIRECT-NOT: memref.alloc
// KEEPDIRECT: function(@qc_linear_mma_16_64)
// KEEPDIRECT-NOT: qc_linear_wgmma
// KEEPDIRECT-LABEL: func.func @f16_linear(
// AMD-LABEL: func.func @int8_linear(
// AMD: gpu.launch
// AMD-SAME: workgroup(%{{.*}} : memref<4x64x8xf32, 3>)
// AMD: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>)
// AMD-COUNT-4: amdgpu.mfma 16x16x16 %{{.*}} * %{{.*}} + %{{.*}} blgp = none : vector<4xf16>, vector<4xf16>, vector<4xf32>
// AMD: gpu.barrier
// AMD: } else {
// AMD-NEXT: linalg.generic
func.func @int8_linear(%x: memref<?x64xf16>, %q: memref<16x64xi8>, %s: memref<16xf16>, %out: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#x, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf16>) outs(%out : memref<?x16xf32>) {
  ^bb0(%xv: f16, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %qv = memref.load %q[%n, %k] : memref<16x64xi8>
    %sv = memref.load %s[%n] : memref<16xf16>
    %qf = arith.sitofp %qv : i8 to f32
    %sf = arith.extf %sv : f16 to f32
    %w = arith.mulf %qf, %sf : f32
    %xf = arith.extf %xv : f16 to f32
    %p = arith.mulf %xf, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// fp16 weights are read as they are: both operands travel by cp.async
// (activations one chunk a thread and slice, weights two) and nothing is
// stored from registers.
#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// The default tile: 64 x 64 outputs, 4 buffers.
// DEFAULT: function(@qc_linear_staged_64_64) workgroup(%{{.*}} : memref<4x64x40xf16, 3>, %{{.*}} : memref<4x64x40xf16, 3>)
// DEFAULT: nvgpu.device_async_wait %{{.*}} {numGroups = 2 : i32}
// On sm_90a by default: 64 tokens x 64 features a block, 6 buffers
// (6 x (128 rows x 128 bytes + an 8-byte mbarrier) + 1 KiB), both operands
// by TMA: the host encodes a tensor map per operand (boxes of 64 rows x 64
// k) into a stack slot and passes its value; thread 0 initializes the
// barriers, then issues slices 0-3 (each: expect 16 KiB, two box copies
// at k = 64 slice, row = the tile's first), then one slice per iteration
// after the barrier; every thread waits for its slice's phase.
// WGMMADEFAULT-SAME: %[[X:.*]]: memref<?x64xf16>, %[[WF:.*]]: memref<64x64xf16>
// Each slot is inserted at the start of the entry block: the weights' first.
// WGMMADEFAULT: %[[WSLOT:.*]] = llvm.alloca %{{.*}} x !llvm.array<16 x i64> {alignment = 64 : i64}
// WGMMADEFAULT: %[[XSLOT:.*]] = llvm.alloca %{{.*}} x !llvm.array<16 x i64> {alignment = 64 : i64}
// WGMMADEFAULT: %[[XBASE:.*]], %{{.*}}, %[[XSIZES:.*]]:2, %[[XSTRIDES:.*]]:2 = memref.extract_strided_metadata %[[X]]
// WGMMADEFAULT: %[[XROWS:.*]] = arith.index_castui %[[XSIZES]]#0 : index to i64
// WGMMADEFAULT: call @mgpuTensorMapEncodeF16Swizzle128B(%[[XSLOT]], %{{.*}}, %[[XROWS]], %{{.*}}, %{{.*}}, %c64_i64{{.*}}, %c64_i64{{.*}})
// WGMMADEFAULT-NEXT: %[[XMAP:.*]] = llvm.load %[[XSLOT]] {alignment = 64 : i64} : !llvm.ptr -> !llvm.array<16 x i64>
// WGMMADEFAULT: memref.extract_strided_metadata %[[WF]]
// WGMMADEFAULT: call @mgpuTensorMapEncodeF16Swizzle128B(%[[WSLOT]],
// WGMMADEFAULT-NEXT: %[[WMAP:.*]] = llvm.load %[[WSLOT]]
// WGMMADEFAULT: dynamic_shared_memory_size %c99376_i32 module(@qc_linear_wgmma_64_64) function(@qc_linear_wgmma_64_64)
// WGMMADEFAULT: %[[XADDR:.*]] = builtin.unrealized_conversion_cast %[[XMAP]] : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
// WGMMADEFAULT: %[[WADDR:.*]] = builtin.unrealized_conversion_cast %[[WMAP]] : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
// WGMMADEFAULT: %[[LEADER:.*]] = arith.cmpi eq, %{{.*}}, %c0{{.*}} : index
// WGMMADEFAULT: scf.if %[[LEADER]] {
// WGMMADEFAULT-COUNT-6: nvvm.mbarrier.init %{{.*}}, %c1_i32{{.*}} : !llvm.ptr<3>, i32
// WGMMADEFAULT: nvvm.fence.mbarrier.init
// WGMMADEFAULT-NEXT: }
// WGMMADEFAULT-NEXT: gpu.barrier
// WGMMADEFAULT-COUNT-4: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c16384_i32
// WGMMADEFAULT-NOT: nvgpu.device_async_copy
// WGMMADEFAULT: scf.for %[[I:.*]] =
// WGMMADEFAULT: gpu.barrier
// WGMMADEFAULT: scf.if
// WGMMADEFAULT: nvvm.mbarrier.arrive.expect_tx %[[FULL:.*]], %c16384_i32
// WGMMADEFAULT: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[XADDR]], %[[FULL]], box[%[[K:.*]], %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// WGMMADEFAULT: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[WADDR]], %[[FULL]], box[%[[K]], %{{.*}}] : !llvm.ptr<7>, !llvm.ptr
// WGMMADEFAULT: }
// WGMMADEFAULT: nvvm.mbarrier.try_wait.parity %{{.*}}, %{{.*}}, %c10000000_i32 : !llvm.ptr<3>, i32, i32
// WGMMADEFAULT-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// WGMMADEFAULT-NOT: nvgpu.device_async_copy
// WGMMADEFAULT-NOT: vector.store
// WGMMADEFAULT: nvvm.wgmma.wait.group.sync.aligned 1
// WGMMADEFAULT-NEXT: scf.yield
// With wgmma-tma=0, both operands by cp.async (4 chunks a thread each).
// CPASYNC-LABEL: func.func @f16_linear(
// CPASYNC-NOT: mgpuTensorMapEncodeF16Swizzle128B
// CPASYNC: dynamic_shared_memory_size %c99376_i32 module(@qc_linear_wgmma_64_64) function(@qc_linear_wgmma_64_64)
// CPASYNC-NOT: vector.store
// CPASYNC-NOT: nvvm.mbarrier
// CPASYNC: scf.for
// CPASYNC: nvgpu.device_async_wait %{{.*}} {numGroups = 3 : i32}
// CPASYNC-COUNT-4: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// CPASYNC-COUNT-8: nvgpu.device_async_copy
// CPASYNC-NOT: vector.store
// CPASYNC: scf.yield
// A layer of at least wgmma-wide-min-features (here 64) features takes the
// wide tile from 128 tokens on: two warpgroups (256 threads) over 128 tokens
// x 256 features, 4 buffers of 384 rows (+ 1 KiB), m64n256k16; the default
// tile below that.
// WIDE-LABEL: func.func @f16_linear(
// WIDE: %[[T:.*]] = memref.dim
// WIDE: arith.cmpi uge, %[[T]], %c64
// WIDE: %[[C128:.*]] = arith.constant 128 : index
// WIDE: arith.cmpi uge, %[[T]], %[[C128]]
// WIDE: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) dynamic_shared_memory_size %c197664_i32 module(@qc_linear_wgmma_wide_64_64) function(@qc_linear_wgmma_wide_64_64)
// WIDE: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 256, k = 16>
// WIDE: } else {
// WIDE: function(@qc_linear_wgmma_64_64)
// WIDE: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// WIDE: } else {
// WIDE: function(@qc_linear_mma_64_64)
// STAGED-LABEL: func.func @f16_linear(
// STAGED-SAME: %[[X:.*]]: memref<?x64xf16>, %[[W:.*]]: memref<64x64xf16>
// STAGED: function(@qc_linear_staged_64_64) workgroup(%[[A:.*]] : memref<2x32x40xf16, 3>, %[[B:.*]] : memref<2x32x40xf16, 3>)
// STAGED: nvgpu.device_async_copy %[[X]]{{.*}}, %[[A]]
// STAGED: nvgpu.device_async_copy %[[W]]{{.*}}, %[[B]]
// STAGED-NOT: vector.store
// STAGED: scf.for
// STAGED: nvgpu.device_async_copy %[[X]]{{.*}}, %[[A]]
// STAGED: nvgpu.device_async_copy %[[W]]{{.*}}, %[[B]]
// STAGED-NOT: vector.store
// STAGED: scf.yield
func.func @f16_linear(%x: memref<?x64xf16>, %w: memref<64x64xf16>, %out: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf16>, memref<64x64xf16>) outs(%out : memref<?x64xf32>) {
  ^bb0(%xv: f16, %wv: f16, %acc: f32):
    %xf = arith.extf %xv : f16 to f32
    %wf = arith.extf %wv : f16 to f32
    %p = arith.mulf %xf, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// AWQ's codes are packed along features ([K, N/8] words): its weights are
// not dequantized into a buffer (each word would be read once per feature)
// and keep the direct tensor-core kernel on sm_90a.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// WGMMADEFAULT-LABEL: func.func @awq_linear(
// WGMMADEFAULT-NOT: qc_dequantize
// WGMMADEFAULT-NOT: qc_linear_wgmma
// WGMMADEFAULT: function(@qc_linear_mma_64_256)
// WGMMADEFAULT-NOT: qc_dequantize
func.func @awq_linear(%x: memref<?x256xf16>, %q: memref<256x8xi32>, %s: memref<2x64xf16>, %out: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#x, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x256xf16>) outs(%out : memref<?x64xf32>) {
  ^bb0(%xv: f16, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c8 = arith.constant 8 : index
    %c128 = arith.constant 128 : index
    %col = arith.divui %n, %c8 : index
    %g = arith.divui %k, %c128 : index
    %word = memref.load %q[%k, %col] : memref<256x8xi32>
    %j = arith.remui %n, %c8 : index
    %j32 = arith.index_cast %j : index to i32
    %c4 = arith.constant 4 : i32
    %sh = arith.muli %j32, %c4 : i32
    %code = arith.shrui %word, %sh : i32
    %c15 = arith.constant 15 : i32
    %qv = arith.andi %code, %c15 : i32
    %qf = arith.uitofp %qv : i32 to f16
    %sv = memref.load %s[%g, %n] : memref<2x64xf16>
    %w = arith.mulf %qf, %sv : f16
    %wf = arith.extf %w : f16 to f32
    %xf = arith.extf %xv : f16 to f32
    %p = arith.mulf %xf, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Left to the CUDA-core kernels: f32 activations (tensor cores would round
// them), int32 accumulation (W8A8's int8 x int8), and K not a multiple of 32.
#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// UNROLL-LABEL: func.func @not_rewritten(
// UNROLL-NOT: gpu.launch
// NV-LABEL: func.func @not_rewritten(
// NV-NOT: scf.if
// NV-NOT: gpu.launch
// AMD-LABEL: func.func @not_rewritten(
// AMD-NOT: gpu.launch
func.func @not_rewritten(%x32: memref<?x64xf32>, %w16: memref<8x64xf16>, %out: memref<?x8xf32>,
                         %x8: memref<?x64xi8>, %w8: memref<8x64xi8>, %out32: memref<?x8xi32>,
                         %x48: memref<?x48xf16>, %w48: memref<8x48xf16>) {
  linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x32, %w16 : memref<?x64xf32>, memref<8x64xf16>) outs(%out : memref<?x8xf32>) {
  ^bb0(%xv: f32, %wv: f16, %acc: f32):
    %wf = arith.extf %wv : f16 to f32
    %p = arith.mulf %xv, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x8, %w8 : memref<?x64xi8>, memref<8x64xi8>) outs(%out32 : memref<?x8xi32>) {
  ^bb0(%xv: i8, %wv: i8, %acc: i32):
    %xi = arith.extsi %xv : i8 to i32
    %wi = arith.extsi %wv : i8 to i32
    %p = arith.muli %xi, %wi : i32
    %r = arith.addi %acc, %p : i32
    linalg.yield %r : i32
  }
  linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x48, %w48 : memref<?x48xf16>, memref<8x48xf16>) outs(%out : memref<?x8xf32>) {
  ^bb0(%xv: f16, %wv: f16, %acc: f32):
    %xf = arith.extf %xv : f16 to f32
    %wf = arith.extf %wv : f16 to f32
    %p = arith.mulf %xf, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
