// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-awq-mma-contractions{max-tokens=16 tile-tokens=16 warps=2 unroll=2}))" | FileCheck %s
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-awq-mma-contractions{max-tokens=0}))" | FileCheck %s --check-prefix=OFF
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-awq-mma-contractions{max-tokens=16},qc-tensor-core-contractions{chip=sm_90a min-tokens=16 staged-min-tokens=0}))" | FileCheck %s --check-prefix=CHAIN

// An AWQ linear layer whose weight is stored in the mma layout (N = 32,
// K = 384: 6 blocks of 64, group 128), f16 activations: steps of at most
// 16 tokens take qc_linear_awq_mma_32_384, a block per 16 features (grid x
// = 2) and 16 tokens (grid y), 2 warps splitting K. Each iteration of the
// main loop loads 2 blocks (unroll) — 16 bytes of codes and, per tile of 8
// tokens, 16 activations per lane — before using any; codes become biased
// halves (>> 4i, & 0x000F000F, | 0x64006400), minus the biased zero point,
// times the scale (f16), and feed four mma.sync m16n8k16 per block and
// token tile. 6 blocks = one round of 2 x 2 and a remainder loop. The warps'
// accumulators meet in shared memory in warp order; larger steps keep the
// generic.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @awq_mma(
// CHECK-SAME: %[[X:.*]]: memref<?x384xf16>, %[[QW:.*]]: memref<2x768xi32>, %[[QZ:.*]]: memref<3x4xi32>, %[[S:.*]]: memref<3x32xf16>, %[[OUT:.*]]: memref<?x32xf32>)
// CHECK: %[[FEW:.*]] = arith.cmpi ule, %{{.*}}, %c16
// CHECK: scf.if %[[FEW]] {
// CHECK: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c64, {{.*}}) module(@qc_linear_awq_mma_32_384) function(@qc_linear_awq_mma_32_384) workgroup(%[[PART:.*]] : memref<2x32x8xf32, 3>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4{{.*}} step %c4{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<2x2xf32>, vector<2x2xf32>)
// CHECK-COUNT-2: vector.load %[[QW]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<2x768xi32>, vector<4xi32>
// CHECK: memref.load %[[S]]
// CHECK: memref.load %[[QZ]]
// CHECK: arith.andi %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: vector.bitcast %{{.*}} : vector<4xi32> to vector<8xf16>
// CHECK: arith.subf %{{.*}}, %{{.*}} : vector<8xf16>
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<8xf16>
// CHECK-COUNT-3: arith.shrui %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: scf.yield
// CHECK: scf.for %{{.*}} = %{{.*}} to %c6{{.*}} step %c2{{.*}} iter_args
// CHECK-COUNT-1: vector.load %[[QW]]
// CHECK: nvgpu.mma.sync
// CHECK: memref.store %{{.*}}, %[[PART]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[PART]]
// CHECK: memref.load %[[PART]]
// CHECK: arith.addf
// CHECK: memref.load %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: linalg.generic
// Steps of 17+ tokens reach the generic (qc.min_tokens = 17), so the
// tensor-core pass leaves no CUDA-core form of it behind its own choice.
// CHAIN-LABEL: func.func @awq_mma(
// CHAIN: gpu.launch {{.*}} module(@qc_linear_awq_mma_32_384)
// CHAIN: } else {
// CHAIN: scf.if
// CHAIN: gpu.launch {{.*}} module(@qc_linear_mma_32_384)
// CHAIN-NOT: linalg.generic
// CHAIN-LABEL: func.func @gemm_layout(
// OFF-LABEL: func.func @awq_mma(
// OFF-NOT: gpu.launch
func.func @awq_mma(%x: memref<?x384xf16>, %qw: memref<2x768xi32>, %qz: memref<3x4xi32>, %s: memref<3x32xf16>, %out: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x384xf16>) outs(%out : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x384xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>>} {
  ^bb0(%a: f16, %acc: f32):
    // Not the real dequantization (the kernel does not clone the payload):
    // what matters is which buffers it captures.
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c0 = arith.constant 0 : index
    %word = memref.load %qw[%c0, %k] : memref<2x768xi32>
    %zero = memref.load %qz[%c0, %c0] : memref<3x4xi32>
    %scale = memref.load %s[%c0, %n] : memref<3x32xf16>
    %code = arith.addi %word, %zero : i32
    %q = arith.sitofp %code : i32 to f16
    %w = arith.mulf %q, %scale : f16
    %wf = arith.extf %w : f16 to f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The gemm layout, f32 activations, or no qc.quantized_weight: no kernel.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @gemm_layout(
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @gemm_layout(%x: memref<?x384xf16>, %qw: memref<384x4xi32>, %qz: memref<3x4xi32>, %s: memref<3x32xf16>, %out: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x384xf16>) outs(%out : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x384xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>} {
  ^bb0(%a: f16, %acc: f32):
    %k = linalg.index 2 : index
    %c0 = arith.constant 0 : index
    %word = memref.load %qw[%k, %c0] : memref<384x4xi32>
    %q = arith.sitofp %word : i32 to f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %q : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The f16 model's form: the f32 accumulator starts as a copy of a zero
// buffer and is only rounded to f16 afterwards. The kernel stores the
// rounded sums into the f16 buffer itself; the copy and the rounding move
// into the generic's branch, the zero fill (which others may share) stays.
// When the f16 buffer is the one the activations live in, blocks still
// reading them would see outputs: the second layer keeps the old form.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
#e = affine_map<(t, n) -> (t, n)>
// CHECK-LABEL: func.func @epilogue(
// CHECK-SAME: %[[X:.*]]: memref<?x384xf16>
// CHECK: %[[ZERO:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[ZERO]] : memref<?x32xf32>)
// CHECK: %[[ACC:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf32>
// CHECK: %[[HALF:.*]] = memref.alloc(%{{.*}}) : memref<?x32xf16>
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} module(@qc_linear_awq_mma_32_384)
// CHECK-NOT: memref.load %[[ACC]]
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %[[R]], %[[HALF]][%{{.*}}, %{{.*}}] : memref<?x32xf16>
// CHECK: } else {
// CHECK-NEXT: memref.copy %[[ZERO]], %[[ACC]]
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[ACC]] : memref<?x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[ACC]] : memref<?x32xf32>) outs(%[[HALF]] : memref<?x32xf16>)
// CHECK: }
// Layer 2 writes its f16 result over its own activations: unchanged.
// CHECK: memref.copy %[[ZERO]], %[[ACC2:.*]] : memref<?x32xf32> to memref<?x32xf32>
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} module(@qc_linear_awq_mma_32_384)
// CHECK: memref.load %[[ACC2]]
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %[[ACC2]]
// CHECK: } else {
// CHECK-NEXT: linalg.generic {{.*}} outs(%[[ACC2]] : memref<?x32xf32>)
// CHECK: linalg.yield
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: linalg.generic {{.*}} ins(%[[ACC2]] : memref<?x32xf32>)
func.func @epilogue(%x: memref<?x384xf16>, %qw: memref<2x768xi32>, %qz: memref<3x4xi32>, %s: memref<3x32xf16>, %y: memref<?x384xf16>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 0.0 : f32
  %t = memref.dim %x, %c0 : memref<?x384xf16>
  %zero = memref.alloc(%t) : memref<?x32xf32>
  linalg.fill ins(%cst : f32) outs(%zero : memref<?x32xf32>)
  %acc = memref.alloc(%t) : memref<?x32xf32>
  memref.copy %zero, %acc : memref<?x32xf32> to memref<?x32xf32>
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x384xf16>) outs(%acc : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x384xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>>} {
  ^bb0(%a: f16, %o: f32):
    %k = linalg.index 2 : index
    %word = memref.load %qw[%c0, %k] : memref<2x768xi32>
    %zp = memref.load %qz[%c0, %c0] : memref<3x4xi32>
    %scale = memref.load %s[%c0, %c0] : memref<3x32xf16>
    %code = arith.addi %word, %zp : i32
    %q = arith.sitofp %code : i32 to f16
    %w = arith.mulf %q, %scale : f16
    %wf = arith.extf %w : f16 to f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %wf : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  %half = memref.alloc(%t) : memref<?x32xf16>
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%acc : memref<?x32xf32>) outs(%half : memref<?x32xf16>) {
  ^bb0(%in: f32, %out: f16):
    %h = arith.truncf %in : f32 to f16
    linalg.yield %h : f16
  }
  %acc2 = memref.alloc(%t) : memref<?x32xf32>
  memref.copy %zero, %acc2 : memref<?x32xf32> to memref<?x32xf32>
  %ys = memref.subview %y[0, 0] [%t, 32] [1, 1] : memref<?x384xf16> to memref<?x32xf16, strided<[384, 1]>>
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%y : memref<?x384xf16>) outs(%acc2 : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x384xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>>} {
  ^bb0(%a: f16, %o: f32):
    %k = linalg.index 2 : index
    %word = memref.load %qw[%c0, %k] : memref<2x768xi32>
    %zp = memref.load %qz[%c0, %c0] : memref<3x4xi32>
    %scale = memref.load %s[%c0, %c0] : memref<3x32xf16>
    %code = arith.addi %word, %zp : i32
    %q = arith.sitofp %code : i32 to f16
    %w = arith.mulf %q, %scale : f16
    %wf = arith.extf %w : f16 to f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %wf : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%acc2 : memref<?x32xf32>) outs(%ys : memref<?x32xf16, strided<[384, 1]>>) {
  ^bb0(%in: f32, %out: f16):
    %h = arith.truncf %in : f32 to f16
    linalg.yield %h : f16
  }
  return
}
