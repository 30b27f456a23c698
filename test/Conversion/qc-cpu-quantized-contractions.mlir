// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-cpu-quantized-contractions{tile-tokens=2}))" | FileCheck %s
// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-cpu-quantized-contractions{int8-activations=true}))" | FileCheck %s --check-prefix=INT8

// An AWQ layer in the cpu layout (N = 64, K = 256, group 128): one parallel
// tile of 64 features (qweight row 0). The f16 activations of the token
// tile are first copied to an f32 stack buffer. Whole pairs of tokens
// (tile-tokens) take two vectors of 8 features at a time, four passes; the
// remaining token takes all eight vectors in one. Per group: the zero
// points' word and the scales become vectors, -(z * s) the offset; per
// block of 8 inputs one vector load of 8 features' words, then per input a
// shift by 8 (i % 4) + 4 (i / 4) and a mask, q * s - z * s in one fma,
// rounded to f16 and back, and multiplied into each token's f32 sums with
// the token's activation broadcast.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @awq_cpu(
// CHECK-SAME: %[[X:.*]]: memref<?x256xf16>, %[[QW:.*]]: memref<1x2048xi32>, %[[QZ:.*]]: memref<2x8xi32>, %[[S:.*]]: memref<2x64xf16>, %[[OUT:.*]]: memref<?x64xf32>)
// CHECK: %[[T:.*]] = memref.dim %[[X]], %{{.*}} : memref<?x256xf16>
// CHECK: scf.parallel (%[[TILE:.*]]) = (%{{.*}}) to (%c1{{.*}}) step
// CHECK-DAG: %[[SHIFTS:.*]] = arith.constant dense<[0, 16, 4, 20, 8, 24, 12, 28]> : vector<8xi32>
// CHECK-DAG: %[[MASK:.*]] = arith.constant dense<15> : vector<8xi32>
// CHECK: %[[XF:.*]] = memref.alloca() : memref<2x256xf32>
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step %c2
// CHECK: scf.for
// CHECK: memref.load %[[X]]
// CHECK: memref.store %{{.*}}, %[[XF]]
// CHECK-COUNT-4: vector.load %[[OUT]]
// CHECK: scf.for %[[G:.*]] = %{{.*}} to %c2{{.*}} step %{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: %[[ZW:.*]] = memref.load %[[QZ]][%[[G]], %{{.*}}] : memref<2x8xi32>
// CHECK: %[[ZB:.*]] = vector.broadcast %[[ZW]] : i32 to vector<8xi32>
// CHECK: %[[ZS:.*]] = arith.shrui %[[ZB]], %[[SHIFTS]] : vector<8xi32>
// CHECK: %[[ZQ:.*]] = arith.andi %[[ZS]], %[[MASK]] : vector<8xi32>
// CHECK: %[[Z:.*]] = arith.uitofp %[[ZQ]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[SH:.*]] = vector.load %[[S]][%[[G]], %{{.*}}] : memref<2x64xf16>, vector<8xf16>
// CHECK: %[[SC:.*]] = arith.extf %[[SH]] : vector<8xf16> to vector<8xf32>
// CHECK: %[[ZSC:.*]] = arith.mulf %[[Z]], %[[SC]] : vector<8xf32>
// CHECK: %[[OFF:.*]] = arith.negf %[[ZSC]] : vector<8xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c128{{.*}} step %c8{{.*}} iter_args(
// CHECK: %[[BLOCK:.*]] = vector.load %[[QW]][%[[TILE]], %{{.*}}] : memref<1x2048xi32>, vector<8xi32>
// CHECK: %[[Q0:.*]] = arith.andi %[[BLOCK]], %[[MASK]] : vector<8xi32>
// CHECK: %[[QF:.*]] = arith.uitofp %[[Q0]] : vector<8xi32> to vector<8xf32>
// CHECK: %[[DQ:.*]] = vector.fma %[[QF]], %[[SC]], %[[OFF]] : vector<8xf32>
// CHECK: %[[H:.*]] = arith.truncf %[[DQ]] : vector<8xf32> to vector<8xf16>
// CHECK: %[[WF:.*]] = arith.extf %[[H]] : vector<8xf16> to vector<8xf32>
// CHECK: %[[A:.*]] = memref.load %[[XF]][%{{.*}}, %{{.*}}] : memref<2x256xf32>
// CHECK: %[[AB:.*]] = vector.broadcast %[[A]] : f32 to vector<8xf32>
// CHECK: vector.fma %[[AB]], %[[WF]], %{{.*}} : vector<8xf32>
// CHECK: memref.load %[[XF]]
// CHECK: vector.fma
// CHECK: %[[SHIFT8:.*]] = arith.constant dense<8> : vector<8xi32>
// CHECK: arith.shrui %[[BLOCK]], %[[SHIFT8]] : vector<8xi32>
// CHECK: arith.constant dense<16> : vector<8xi32>
// CHECK: arith.constant dense<24> : vector<8xi32>
// CHECK: arith.constant dense<4> : vector<8xi32>
// CHECK: arith.constant dense<28> : vector<8xi32>
// CHECK: scf.yield
// CHECK: scf.yield
// CHECK-COUNT-4: vector.store %{{.*}}, %[[OUT]]
// CHECK-COUNT-3: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[T]] step
// CHECK-COUNT-8: vector.load %[[OUT]]
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-8: vector.store %{{.*}}, %[[OUT]]
// CHECK-NOT: linalg.generic
//
// With int8 activations: each token's activations quantized per block of
// 32 (absmax / 127, round to nearest even) into heap buffers with the
// blocks' scales and each group's sum of scale x block sum, in a parallel
// loop over tokens; then per tile, token and 4 vectors of features, per
// block of 8 inputs: one vector load of 8 features' words, the low and
// high nibbles of each byte (4 consecutive inputs each) against the
// token's 4 matching int8 activations broadcast to every lane (vpmaddubsw
// twice, summed; vpmaddwd with ones), int32 sums per block of 32 scaled by
// the block's scale, per group s (sum - z gsum) added to the output.
// INT8-LABEL: func.func @awq_cpu(
// INT8-SAME: %[[X:.*]]: memref<?x256xf16>, %[[QW:.*]]: memref<1x2048xi32>, %[[QZ:.*]]: memref<2x8xi32>, %[[S:.*]]: memref<2x64xf16>, %[[OUT:.*]]: memref<?x64xf32>)
// INT8: %[[XQ:.*]] = memref.alloc(%{{.*}}) : memref<?x256xi8>
// INT8: %[[DX:.*]] = memref.alloc(%{{.*}}) : memref<?x8xf32>
// INT8: %[[GSUM:.*]] = memref.alloc(%{{.*}}) : memref<?x2xf32>
// INT8: scf.parallel
// INT8: math.absf
// INT8: arith.maximumf
// INT8: memref.store %{{.*}}, %[[DX]]
// INT8: math.roundeven
// INT8: arith.fptosi %{{.*}} : f32 to i8
// INT8: memref.store %{{.*}}, %[[XQ]]
// INT8: memref.store %{{.*}}, %[[GSUM]]
// INT8: scf.parallel (%[[TILE:.*]]) = (%{{.*}}) to (%c1{{.*}})
// INT8: vector.load %[[XQ]][%{{.*}}, %{{.*}}] : memref<?x256xi8>, vector<4xi8>
// INT8: vector.load %[[XQ]]
// INT8: %[[W:.*]] = vector.load %[[QW]][%[[TILE]], %{{.*}}] : memref<1x2048xi32>, vector<8xi32>
// INT8: %[[LOW:.*]] = arith.andi %[[W]], %{{.*}} : vector<8xi32>
// INT8: arith.shrui %[[W]]
// INT8: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"({{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// INT8: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// INT8: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"({{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// INT8: memref.load %[[DX]]
// INT8: arith.sitofp %{{.*}} : vector<8xi32> to vector<8xf32>
// INT8: memref.load %[[GSUM]]
// INT8: memref.load %[[QZ]]
// INT8: vector.load %[[S]]
// INT8: vector.store %{{.*}}, %[[OUT]]
// INT8: memref.dealloc %[[XQ]]
// INT8-NOT: linalg.generic
func.func @awq_cpu(%x: memref<?x256xf16>, %qw: memref<1x2048xi32>, %qz: memref<2x8xi32>, %s: memref<2x64xf16>, %out: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x256xf16>) outs(%out : memref<?x64xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<64x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = cpu>>} {
  ^bb0(%a: f16, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c0 = arith.constant 0 : index
    %word = memref.load %qw[%c0, %k] : memref<1x2048xi32>
    %zero = memref.load %qz[%c0, %c0] : memref<2x8xi32>
    %scale = memref.load %s[%c0, %n] : memref<2x64xf16>
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

// Symmetric AWQ in the GEMM layout (N = 32: tiles of 32 features, 4
// vectors), f32 activations: the zero point is the constant 8, the words of
// vector j of tile r at k are GEMM's [k, 4r + j], and the activations need
// no conversion.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// The integer kernel reads the cpu layout only: GEMM keeps the float one.
// INT8-LABEL: func.func @awq_gemm_symmetric(
// INT8-NOT: call_intrinsic
// INT8: vector.fma
// CHECK-LABEL: func.func @awq_gemm_symmetric(
// CHECK-SAME: %[[X:.*]]: memref<?x64xf32>, %[[QW:.*]]: memref<64x4xi32>, %[[S:.*]]: memref<2x32xf16>, %[[OUT:.*]]: memref<?x32xf32>)
// CHECK: scf.parallel (%[[TILE:.*]]) = (%{{.*}}) to (%c1{{.*}})
// CHECK: %[[FIRST:.*]] = arith.muli %[[TILE]], %c4
// CHECK: arith.constant dense<8.000000e+00> : vector<8xf32>
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %c32
// CHECK: memref.load %[[QW]][%{{.*}}, %[[FIRST]]] : memref<64x4xi32>
// CHECK: %[[A:.*]] = memref.load %[[X]][%{{.*}}, %{{.*}}] : memref<?x64xf32>
// CHECK-NEXT: vector.broadcast %[[A]] : f32 to vector<8xf32>
// CHECK-NOT: linalg.generic
func.func @awq_gemm_symmetric(%x: memref<?x64xf32>, %qw: memref<64x4xi32>, %s: memref<2x32xf16>, %out: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x64xf32, #qc.awq<bits = 4, group_size = 32, zero_point = false>>} {
  ^bb0(%a: f32, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %c0 = arith.constant 0 : index
    %word = memref.load %qw[%k, %c0] : memref<64x4xi32>
    %scale = memref.load %s[%c0, %n] : memref<2x32xf16>
    %q = arith.sitofp %word : i32 to f16
    %w = arith.mulf %q, %scale : f16
    %wf = arith.extf %w : f16 to f32
    %p = arith.mulf %a, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The mma layout belongs to the GPU's kernel, and a generic without the
// weight's type is not known to be a quantized layer: both stay.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @others(
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @others(%x: memref<?x64xf16>, %qw: memref<2x128xi32>, %s: memref<1x32xf16>, %out: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf16>) outs(%out : memref<?x32xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = false, layout = mma>>} {
  ^bb0(%a: f16, %acc: f32):
    %c0 = arith.constant 0 : index
    %word = memref.load %qw[%c0, %c0] : memref<2x128xi32>
    %scale = memref.load %s[%c0, %c0] : memref<1x32xf16>
    %q = arith.sitofp %word : i32 to f16
    %w = arith.mulf %q, %scale : f16
    %wf = arith.extf %w : f16 to f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %wf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf16>) outs(%out : memref<?x32xf32>) {
  ^bb0(%a: f16, %acc: f32):
    %af = arith.extf %a : f16 to f32
    %r = arith.addf %acc, %af : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// NF4 with double quant (N = 16, K = 2048: 512 blocks of 64, 2 nested
// absmaxes), codes stored along K: parallel tiles of 4 features (grid 4),
// each a dot product over K in vectors of 8. Per feature and 8 inputs: 4
// bytes of codes at (n K + k) / 2 as one word, broadcast, shifted so that
// each byte's high nibble comes first, masked; each lane's level picked
// from two 8-entry halves of the codebook by its low 3 bits (lane extracts
// at variable positions: a vpermps each on AVX2) and bit 3; the block's absmax decoded from its 8-bit code
// (dynamic map x nested + offset); the product rounded to f16 and back.
// Pairs of tokens share the 4 decoded vectors; sums are reduced and added
// to the output.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @nf4_double_quant(
// CHECK-SAME: %[[X:.*]]: memref<?x2048xf16>, %[[CODES:.*]]: memref<16384xi8>, %[[ABSMAX:.*]]: memref<512xi8>, %[[NESTED:.*]]: memref<2xf32>, %[[OFFSET:.*]]: memref<1xf32>, %[[OUT:.*]]: memref<?x16xf32>)
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c4{{.*}}) step
// CHECK: %[[DYN:.*]] = memref.alloca() : memref<256xf32>
// CHECK: scf.for %{{.*}} step %c2
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %c2048{{.*}} step %c8{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: %[[BYTES:.*]] = vector.load %[[CODES]][%{{.*}}] : memref<16384xi8>, vector<4xi8>
// CHECK: vector.bitcast %[[BYTES]] : vector<4xi8> to vector<1xi32>
// CHECK: arith.constant dense<[4, 0, 12, 8, 20, 16, 28, 24]> : vector<8xi32>
// CHECK: %[[LOW:.*]] = arith.constant dense<[-1.000000e+00, {{.*}}, 0.000000e+00]> : vector<8xf32>
// CHECK: %[[HIGH:.*]] = arith.constant dense<[0.0795{{.*}}, 1.000000e+00]> : vector<8xf32>
// CHECK: %[[IDX:.*]] = arith.andi %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK: %[[LANE0:.*]] = vector.extract %[[IDX]][0] : i32 from vector<8xi32>
// CHECK: %[[AT0:.*]] = arith.index_cast %[[LANE0]] : i32 to index
// CHECK: %[[UPPER:.*]] = arith.cmpi ne, %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK: vector.extract %[[HIGH]][%[[AT0]]] : f32 from vector<8xf32>
// CHECK: %[[FROMHIGH:.*]] = vector.from_elements
// CHECK: vector.extract %[[LOW]][%[[AT0]]] : f32 from vector<8xf32>
// CHECK: %[[FROMLOW:.*]] = vector.from_elements
// CHECK: %[[LEVEL:.*]] = arith.select %[[UPPER]], %[[FROMHIGH]], %[[FROMLOW]] : vector<8xi1>, vector<8xf32>
// CHECK: %[[CODE8:.*]] = memref.load %[[ABSMAX]][%{{.*}}] : memref<512xi8>
// CHECK: memref.load %[[DYN]]
// CHECK: memref.load %[[NESTED]]
// CHECK: memref.load %[[OFFSET]]
// CHECK: %[[SCALED:.*]] = arith.mulf %[[LEVEL]], %{{.*}} : vector<8xf32>
// CHECK: arith.truncf %[[SCALED]] : vector<8xf32> to vector<8xf16>
// CHECK-COUNT-3: arith.select %{{.*}} : vector<8xi1>, vector<8xf32>
// CHECK: vector.load %[[X]][%{{.*}}, %[[K]]] : memref<?x2048xf16>, vector<8xf16>
// CHECK-COUNT-4: vector.fma
// CHECK: vector.load %[[X]]
// CHECK-COUNT-4: vector.fma
// CHECK: vector.reduction <add>
// CHECK: memref.load %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK-NOT: linalg.generic
func.func @nf4_double_quant(%x: memref<?x2048xf16>, %codes: memref<16384xi8>, %absmax: memref<512xi8>, %nested: memref<2xf32>, %offset: memref<1xf32>, %out: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x2048xf16>) outs(%out : memref<?x16xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<16x2048xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>} {
  ^bb0(%a: f16, %acc: f32):
    %c0 = arith.constant 0 : index
    %c = memref.load %codes[%c0] : memref<16384xi8>
    %m = memref.load %absmax[%c0] : memref<512xi8>
    %n = memref.load %nested[%c0] : memref<2xf32>
    %o = memref.load %offset[%c0] : memref<1xf32>
    %ci = arith.extui %c : i8 to i32
    %mi = arith.extui %m : i8 to i32
    %s = arith.addi %ci, %mi : i32
    %sf = arith.uitofp %s : i32 to f32
    %t = arith.mulf %sf, %n : f32
    %w = arith.addf %t, %o : f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Weight-only int8 with f32 activations: 8 codes loaded as a vector,
// converted, times the feature's f16 scale (exact in f32), and no rounding
// for an f32 weight type.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @int8(
// CHECK-SAME: %[[X:.*]]: memref<?x64xf32>, %[[Q:.*]]: memref<8x64xi8>, %[[S:.*]]: memref<8xf16>, %[[OUT:.*]]: memref<?x8xf32>)
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c2{{.*}}) step
// CHECK: %[[CODES:.*]] = vector.load %[[Q]][%{{.*}}, %{{.*}}] : memref<8x64xi8>, vector<8xi8>
// CHECK: %[[SCALE:.*]] = memref.load %[[S]][%{{.*}}] : memref<8xf16>
// CHECK: %[[SCALE32:.*]] = arith.extf %[[SCALE]] : f16 to f32
// CHECK: %[[QF:.*]] = arith.sitofp %[[CODES]] : vector<8xi8> to vector<8xf32>
// CHECK: %[[SB:.*]] = vector.broadcast %[[SCALE32]] : f32 to vector<8xf32>
// CHECK: %[[W:.*]] = arith.mulf %[[QF]], %[[SB]] : vector<8xf32>
// CHECK-NOT: arith.truncf
// CHECK: vector.fma %{{.*}}, %[[W]], %{{.*}} : vector<8xf32>
// CHECK-NOT: linalg.generic
func.func @int8(%x: memref<?x64xf32>, %q: memref<8x64xi8>, %s: memref<8xf16>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%out : memref<?x8xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<8x64xf32, #qc.int8<mode = weight_only>>} {
  ^bb0(%a: f32, %acc: f32):
    %n = linalg.index 1 : index
    %k = linalg.index 2 : index
    %code = memref.load %q[%n, %k] : memref<8x64xi8>
    %scale = memref.load %s[%n] : memref<8xf16>
    %qf = arith.sitofp %code : i8 to f32
    %sf = arith.extf %scale : f16 to f32
    %w = arith.mulf %qf, %sf : f32
    %p = arith.mulf %a, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// With at most 256 blocks the nested absmax and the offset are both
// memref<1xf32>: which buffer is which is not known from the types, so the
// generic stays.
#x = affine_map<(t, n, k) -> (t, k)>
#o = affine_map<(t, n, k) -> (t, n)>
// CHECK-LABEL: func.func @ambiguous(
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
func.func @ambiguous(%x: memref<?x64xf16>, %codes: memref<256xi8>, %absmax: memref<8xi8>, %nested: memref<1xf32>, %offset: memref<1xf32>, %out: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#x, #o], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x64xf16>) outs(%out : memref<?x8xf32>)
      attrs = {qc.quantized_weight = !qc.qweight<8x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>} {
  ^bb0(%a: f16, %acc: f32):
    %c0 = arith.constant 0 : index
    %c = memref.load %codes[%c0] : memref<256xi8>
    %m = memref.load %absmax[%c0] : memref<8xi8>
    %n = memref.load %nested[%c0] : memref<1xf32>
    %o = memref.load %offset[%c0] : memref<1xf32>
    %ci = arith.extui %c : i8 to i32
    %mi = arith.extui %m : i8 to i32
    %s = arith.addi %ci, %mi : i32
    %sf = arith.uitofp %s : i32 to f32
    %t = arith.mulf %sf, %n : f32
    %w = arith.addf %t, %o : f32
    %af = arith.extf %a : f16 to f32
    %p = arith.mulf %af, %w : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
