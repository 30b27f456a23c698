// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-warp-contractions{warps=4 tokens=2 column-lanes=8 column-warps=8 column-unroll=4 column-tile-unroll=2 column-tokens=2}))" | FileCheck %s
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-warp-contractions{warps=4 tokens=2 max-vector=32}))" | FileCheck %s --check-prefix=VEC32
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-warp-contractions{warps=4 tokens=2 column-lanes=0}))" | FileCheck %s --check-prefix=OFF

// A linear layer with int8 weights dequantized in the payload: one warp per
// output feature (4 per block), two tokens per block; lanes stride K by 32;
// the payload is cloned per token with its weight loads at (feature, k); a
// butterfly of xor shuffles sums the lanes; lane 0 adds into the output.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @int8_linear(
// CHECK-SAME: %[[X:.*]]: memref<?x64xf16>, %[[Q:.*]]: memref<16x64xi8>, %[[S:.*]]: memref<16xf16>, %[[OUT:.*]]: memref<?x16xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]], %{{.*}}
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[C16:.*]] = arith.constant 16 : index
// CHECK: %[[GX:.*]] = arith.ceildivui %[[C16]], %[[C4]]
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[GY:.*]] = arith.ceildivui %[[T]], %[[C2]]
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in ({{.*}} = %[[GX]], {{.*}} = %[[GY]], {{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %[[C128]],
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]], %{{.*}}
// K = 64 is no multiple of 32 lanes x 8 halves: one k per lane step.
// CHECK: %[[START:.*]] = arith.muli %[[LANE]], %[[ONE:.*]] : index
// CHECK: scf.for %[[K:.*]] = %[[START]] to %{{.*}} step %{{.*}} iter_args(%[[A0:.*]] = %{{.*}}, %[[A1:.*]] = %{{.*}}) -> (f32, f32)
// CHECK: memref.load %[[Q]][%[[N:.*]], %[[K]]]
// CHECK: memref.load %[[S]][%[[N]]]
// CHECK: memref.load %[[X]][%{{.*}}, %[[K]]]
// CHECK: arith.addf %[[A0]]
// CHECK: memref.load %[[Q]][%[[N]], %[[K]]]
// CHECK: memref.load %[[X]][%{{.*}}, %[[K]]]
// CHECK: arith.addf %[[A1]]
// CHECK: scf.yield
// CHECK-COUNT-5: gpu.shuffle {{ *}}xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: scf.if
// CHECK: memref.load %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
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

// fp16 activations and weights, K = 512: each lane reads 8 consecutive k
// per step (16 bytes), the first load of each run marked 16-byte aligned;
// the step is 32 lanes x 8.
#x = affine_map<(t, n, k) -> (t, k)>
#w = affine_map<(t, n, k) -> (n, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @fp16_linear(
// CHECK-SAME: %[[X:.*]]: memref<?x512xf16>, %[[W:.*]]: memref<8x512xf16>
// CHECK: %[[STEP:.*]] = arith.constant 256 : index
// CHECK-NEXT: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[STEP]]
// CHECK: memref.load %[[X]][%{{.*}}, %[[K]]] {alignment = 16 : i64}
// CHECK: memref.load %[[W]][%{{.*}}, %[[K]]] {alignment = 16 : i64}
// CHECK: %[[K1:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK: memref.load %[[X]][%{{.*}}, %[[K1]]] : memref<?x512xf16>
// CHECK-COUNT-6: arith.addi %[[K]]
// CHECK: scf.yield
func.func @fp16_linear(%x: memref<?x512xf16>, %w: memref<8x512xf16>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x512xf16>, memref<8x512xf16>) outs(%out : memref<?x8xf32>) {
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

// AWQ-style weights, eight features per i32 word of a [K, N/8] row: a
// thread per word column (8 columns a warp row, 4 k slices a warp, 8 warps:
// 32 interleaved slices), K = 256 walked 4 steps (128 k) an iteration. The
// column's first feature is clamped to N - 8 and its others follow it, so
// the eight payload copies index the same word, and the first copy's scale
// load starts an aligned 16-byte run; slices meet by xor shuffles
// over lanes 8 and 16 apart, then through shared memory in warp order. One
// token gets its own kernel; more take tiles of two tokens, walking K 2
// steps (64 k) an iteration.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @awq_linear(
// CHECK-SAME: %[[X:.*]]: memref<?x256xf16>, %[[Q:.*]]: memref<256x8xi32>, %[[S:.*]]: memref<2x64xf16>, %[[OUT:.*]]: memref<?x64xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]]
// CHECK: %[[SINGLE:.*]] = arith.cmpi eq, %[[T]], %{{.*}} : index
// CHECK: scf.if %[[SINGLE]] {
// CHECK: gpu.launch {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256:.*]], %{{.*}}, %{{.*}}) module(@qc_linear_columns_64_256) function(@qc_linear_columns_64_256) workgroup(%[[PARTIALS:.*]] : memref<8x1x64xf32, 3>)
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]]
// CHECK: %[[WARP:.*]] = arith.divui %[[TX]]
// CHECK: %[[COLUMN:.*]] = arith.remui %[[LANE]]
// CHECK: %[[SLICE:.*]] = arith.addi
// CHECK: %[[LASTCOLUMN:.*]] = arith.subi %{{.*}}, %{{.*}} : index
// CHECK: %[[F0:.*]] = arith.minui %{{.*}}, %[[LASTCOLUMN]]
// CHECK: %[[F1:.*]] = arith.addi %[[F0]], %{{.*}}
// CHECK: %[[STEP:.*]] = arith.constant 128 : index
// CHECK: scf.for %[[K:.*]] = %[[SLICE]] to %{{.*}} step %[[STEP]] iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: %[[W0:.*]] = arith.divui %[[F0]]
// CHECK: memref.load %[[Q]][%[[K]], %[[W0]]] : memref<256x8xi32>
// CHECK: memref.load %[[S]][%{{.*}}, %[[F0]]] {alignment = 16 : i64}
// CHECK: memref.load %[[X]][%{{.*}}, %[[K]]]
// CHECK: %[[W1:.*]] = arith.divui %[[F1]]
// CHECK: memref.load %[[Q]][%[[K]], %[[W1]]]
// CHECK: memref.load %[[S]][%{{.*}}, %[[F1]]] : memref<2x64xf16>
// CHECK: %[[K1:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK: memref.load %[[Q]][%[[K1]], %{{.*}}]
// CHECK: scf.yield
// CHECK: gpu.shuffle  xor %{{.*}}, %[[OFF8:.*]], %{{.*}} : f32
// CHECK: gpu.shuffle  xor %{{.*}}, %[[OFF16:.*]], %{{.*}} : f32
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[WARP]], %{{.*}}, %{{.*}}] : memref<8x1x64xf32, 3>
// CHECK: gpu.barrier
// CHECK: scf.for %[[E:.*]] = %[[TX]] to %{{.*}} step %{{.*}} {
// CHECK-COUNT-8: memref.load %[[PARTIALS]]
// CHECK: memref.load %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: gpu.launch {{.*}} module(@qc_linear_columns_t2_64_256) function(@qc_linear_columns_t2_64_256) workgroup(%{{.*}} : memref<8x2x64xf32, 3>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64{{(_[0-9]+)?}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-NOT: linalg.generic
// With column-lanes=0, a warp per feature:
// OFF-LABEL: func.func @awq_linear(
// OFF: gpu.launch {{.*}} module(@qc_linear_64_256)
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
    %qf = arith.uitofp %qv : i32 to f32
    %sv = memref.load %s[%g, %n] : memref<2x64xf16>
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

// The same with N = 60, no whole number of word columns: a warp per
// feature, as for weights stored along K.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @awq_partial_column(
// CHECK: gpu.launch {{.*}} module(@qc_linear_60_256)
// CHECK-NOT: workgroup(
func.func @awq_partial_column(%x: memref<?x256xf16>, %q: memref<256x8xi32>, %out: memref<?x60xf32>) {
  linalg.generic {indexing_maps = [#x, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x256xf16>) outs(%out : memref<?x60xf32>) {
  ^bb0(%xv: f16, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c8 = arith.constant 8 : index
    %col = arith.divui %n, %c8 : index
    %word = memref.load %q[%k, %col] : memref<256x8xi32>
    %qf = arith.uitofp %word : i32 to f32
    %xf = arith.extf %xv : f16 to f32
    %p = arith.mulf %xf, %qf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Not an accumulation over K (a max): left for the generic mapping.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @max_reduction(
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @max_reduction(%x: memref<?x64xf32>, %out: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#x, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?x16xf32>) {
  ^bb0(%xv: f32, %acc: f32):
    %r = arith.maximumf %acc, %xv : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A row reduction with an elementwise output (add_rms_norm: the residual
// sum and its sum of squares): one block per row of as many threads as the
// row has elements (64: two warps), threads striding the row; the residual
// is stored as computed, each warp's sum of squares combined by xor
// shuffles and left in shared memory by its first lane, then thread 0 adds
// the warps' sums in warp order to the output.
#rc = affine_map<(t, c) -> (t, c)>
#r = affine_map<(t, c) -> (t)>
// CHECK-LABEL: func.func @add_rms_sums(
// CHECK-SAME: %[[A:.*]]: memref<?x64xf32>, %[[B:.*]]: memref<?x64xf32>, %[[SUM:.*]]: memref<?x64xf32>, %[[SQ:.*]]: memref<?xf32>)
// CHECK: %[[ROWS:.*]] = memref.dim %[[A]]
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, {{.*}}) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %{{.*}}, {{.*}}) module(@qc_row_reduction_64) function(@qc_row_reduction_64) workgroup(%[[PART:.*]] : memref<2xf32, 3>)
// CHECK: %[[LANE:.*]] = arith.remui %[[TID]]
// CHECK: %[[WARP:.*]] = arith.divui %[[TID]]
// CHECK: %[[P:.*]] = scf.for %[[C:.*]] = %[[TID]] to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32)
// CHECK: %[[S:.*]] = arith.addf
// CHECK: arith.addf %[[ACC]]
// CHECK: memref.store %[[S]], %[[SUM]][%[[ROW]], %[[C]]]
// CHECK-COUNT-5: gpu.shuffle {{ *}}xor
// CHECK: scf.if
// CHECK-NEXT: memref.store %{{.*}}, %[[PART]][%[[WARP]]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: %[[W0:.*]] = memref.load %[[PART]][%{{.*}}]
// CHECK: %[[W1:.*]] = memref.load %[[PART]][%{{.*}}]
// CHECK: %[[BOTH:.*]] = arith.addf %[[W0]], %[[W1]]
// CHECK: %[[OLD:.*]] = memref.load %[[SQ]][%[[ROW]]]
// CHECK: %[[NEW:.*]] = arith.addf %[[OLD]], %[[BOTH]]
// CHECK: memref.store %[[NEW]], %[[SQ]][%[[ROW]]]
// CHECK-NOT: linalg.generic
func.func @add_rms_sums(%a: memref<?x64xf32>, %b: memref<?x64xf32>, %sum: memref<?x64xf32>, %sq: memref<?xf32>) {
  linalg.generic {indexing_maps = [#rc, #rc, #rc, #r], iterator_types = ["parallel", "reduction"]}
      ins(%a, %b : memref<?x64xf32>, memref<?x64xf32>) outs(%sum, %sq : memref<?x64xf32>, memref<?xf32>) {
  ^bb0(%x: f32, %y: f32, %s: f32, %acc: f32):
    %v = arith.addf %x, %y : f32
    %v2 = arith.mulf %v, %v : f32
    %r = arith.addf %acc, %v2 : f32
    linalg.yield %v, %r : f32, f32
  }
  return
}

// -----

// int8 weights the payload reads from a captured buffer along K (as the
// kernel builders' quantized linears do), K = 1024: 16 bytes of int8 per
// lane step, so each lane takes 16 consecutive k (activations: two 16-byte
// runs); the captured loads at a 16-byte boundary say so too. The packed
// 4-bit codes at a flat index (n * K + k) / 2 are 8 bytes a step: no claim;
// with max-vector=32 they are 16 and their first load is marked as well.
#x = affine_map<(t, n, k) -> (t, k)>
#out = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @captured_int8(
// CHECK-SAME: %[[X:.*]]: memref<?x1024xf16>, %[[Q:.*]]: memref<8x1024xi8>, %[[P:.*]]: memref<4096xi8>
// CHECK: %[[STEP:.*]] = arith.constant 512 : index
// CHECK-NEXT: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[STEP]]
// CHECK: memref.load %[[Q]][%{{.*}}, %[[K]]] {alignment = 16 : i64}
// CHECK: memref.load %[[P]][%{{.*}}] : memref<4096xi8>
// CHECK: memref.load %[[X]][%{{.*}}, %[[K]]] {alignment = 16 : i64}
// CHECK: %[[K1:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK-NEXT: memref.load %[[Q]][%{{.*}}, %[[K1]]] : memref<8x1024xi8>
// CHECK-COUNT-7: memref.load %[[X]][%{{.*}}, %{{.*}}] : memref<?x1024xf16>
// CHECK: memref.load %[[X]][%{{.*}}, %{{.*}}] {alignment = 16 : i64}
// VEC32-LABEL: func.func @captured_int8(
// VEC32: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1024{{(_[0-9]+)?}} iter_args
// VEC32: memref.load %{{.*}} {alignment = 16 : i64} : memref<8x1024xi8>
// VEC32: memref.load %{{.*}} {alignment = 16 : i64} : memref<4096xi8>
func.func @captured_int8(%x: memref<?x1024xf16>, %q: memref<8x1024xi8>, %p: memref<4096xi8>, %out: memref<?x8xf32>) {
  %c2 = arith.constant 2 : index
  %c1024 = arith.constant 1024 : index
  linalg.generic {indexing_maps = [#x, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x1024xf16>) outs(%out : memref<?x8xf32>) {
  ^bb0(%xv: f16, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %qv = memref.load %q[%n, %k] : memref<8x1024xi8>
    %row = arith.muli %n, %c1024 : index
    %flat = arith.addi %row, %k : index
    %byte = arith.divui %flat, %c2 : index
    %pv = memref.load %p[%byte] : memref<4096xi8>
    %qf = arith.sitofp %qv : i8 to f32
    %pf = arith.uitofp %pv : i8 to f32
    %w = arith.addf %qf, %pf : f32
    %xf = arith.extf %xv : f16 to f32
    %prod = arith.mulf %xf, %w : f32
    %r = arith.addf %acc, %prod : f32
    linalg.yield %r : f32
  }
  return
}
