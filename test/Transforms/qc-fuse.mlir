// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(qc-fuse))" | FileCheck %s

!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
#rope = #qc.rope<type = default, theta = 10000.0>

// CHECK-LABEL: func.func @block
func.func @block(%h: tensor<?x8xf16>, %o: tensor<?x8xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>,
                 %pos: tensor<?xi32>, %c: !cache, %w: tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>, !cache) {
  // The residual sum feeds the norm and is also returned: one fused op
  // provides both.
  // CHECK: %[[SUM:.*]], %[[NORMED:.*]] = qc.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64}
  // CHECK-NOT: qc.add
  // CHECK-NOT: qc.rms_norm
  %r = qc.add %h, %o : tensor<?x8xf16>
  %n = qc.rms_norm %r, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf16>, tensor<8xf16>) -> tensor<?x8xf16>
  // The rotated keys only go to the cache.
  // CHECK: %[[C1:.*]] = qc.rope_kv_cache_write %{{.*}}[0], %{{.*}}, %{{.*}}, %{{.*}} {rope = #qc.rope<type = default, theta = 1.000000e+04>}
  // CHECK-NOT: qc.rope
  %kr = qc.rope %k, %pos {num_heads = 2 : i64, head_dim = 4 : i64, rope = #rope} : (tensor<?x8xf16>, tensor<?xi32>) -> tensor<?x8xf16>
  %c1 = qc.kv_cache_write %c[0], %kr, %v, %pos : (!cache, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !cache
  // CHECK: return %[[SUM]], %[[NORMED]], %[[C1]]
  return %r, %n, %c1 : tensor<?x8xf16>, tensor<?x8xf16>, !cache
}

// -----

!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
#rope = #qc.rope<type = default, theta = 10000.0>

// Not fused: a norm of a non-add, rotated keys with another user, and a
// rope over positions other than the write's.
// CHECK-LABEL: func.func @unfusable
// CHECK: qc.rms_norm
// CHECK: qc.rope
// CHECK: qc.kv_cache_write
// CHECK: qc.rope
// CHECK: qc.kv_cache_write
// CHECK-NOT: qc.rope_kv_cache_write
// CHECK-NOT: qc.add_rms_norm
func.func @unfusable(%h: tensor<?x8xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %pos: tensor<?xi32>,
                     %pos2: tensor<?xi32>, %c: !cache, %w: tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>, !cache, !cache) {
  %n = qc.rms_norm %h, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf16>, tensor<8xf16>) -> tensor<?x8xf16>
  %kr = qc.rope %k, %pos {num_heads = 2 : i64, head_dim = 4 : i64, rope = #rope} : (tensor<?x8xf16>, tensor<?xi32>) -> tensor<?x8xf16>
  %c1 = qc.kv_cache_write %c[0], %kr, %v, %pos : (!cache, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !cache
  %kr2 = qc.rope %k, %pos2 {num_heads = 2 : i64, head_dim = 4 : i64, rope = #rope} : (tensor<?x8xf16>, tensor<?xi32>) -> tensor<?x8xf16>
  %c2 = qc.kv_cache_write %c[0], %kr2, %v, %pos : (!cache, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !cache
  return %n, %kr, %c1, %c2 : tensor<?x8xf16>, tensor<?x8xf16>, !cache, !cache
}

// -----

// q/k/v and gate/up: sibling linear layers of one input become one matmul
// over stacked weights, at the last sibling.
// CHECK-LABEL: func.func @siblings
// CHECK: %[[WQ:.*]] = qc.weight "q.weight"
// CHECK: %[[BQ:.*]] = qc.weight "q.bias"
// CHECK: %[[WK:.*]] = qc.weight "k.weight"
// CHECK: %[[BK:.*]] = qc.weight "k.bias"
// CHECK: %[[QK:.*]]:2 = qc.fused_linear %{{.*}}, %[[WQ]], %[[WK]] biases %[[BQ]], %[[BK]] : (tensor<?x16xf16>, tensor<16x16xf16>, tensor<8x16xf16>, tensor<16xf16>, tensor<8xf16>) -> (tensor<?x16xf16>, tensor<?x8xf16>)
// CHECK: %[[GU:.*]]:2 = qc.fused_linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x16xf16>, !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>, !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>)
// Different schemes, double quant (not stackable) and different inputs stay apart.
// CHECK-COUNT-3: qc.quantized_linear
// CHECK: return %[[QK]]#0, %[[QK]]#1, %[[GU]]#0, %[[GU]]#1
func.func @siblings(%x: tensor<?x16xf16>, %y: tensor<?x16xf16>) -> (tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>) {
  %wq = qc.weight "q.weight" : tensor<16x16xf16>
  %bq = qc.weight "q.bias" : tensor<16xf16>
  %q = qc.linear %x, %wq, %bq : (tensor<?x16xf16>, tensor<16x16xf16>, tensor<16xf16>) -> tensor<?x16xf16>
  %wk = qc.weight "k.weight" : tensor<8x16xf16>
  %bk = qc.weight "k.bias" : tensor<8xf16>
  %k = qc.linear %x, %wk, %bk : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<8xf16>) -> tensor<?x8xf16>
  %wg = qc.weight "g" : !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>
  %g = qc.quantized_linear %y, %wg : (tensor<?x16xf16>, !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
  %wu = qc.weight "u" : !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>
  %u = qc.quantized_linear %y, %wu : (tensor<?x16xf16>, !qc.qweight<32x16xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
  %wa = qc.weight "a" : !qc.qweight<32x16xf16, #qc.int8<mode = w8a8>>
  %a = qc.quantized_linear %x, %wa : (tensor<?x16xf16>, !qc.qweight<32x16xf16, #qc.int8<mode = w8a8>>) -> tensor<?x32xf16>
  %wd1 = qc.weight "d1" : !qc.qweight<32x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>
  %wd2 = qc.weight "d2" : !qc.qweight<32x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>
  %z = tensor.empty() : tensor<3x64xf16>
  %zd = tensor.cast %z : tensor<3x64xf16> to tensor<?x64xf16>
  %d1 = qc.quantized_linear %zd, %wd1 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>) -> tensor<?x32xf16>
  %d2 = qc.quantized_linear %zd, %wd2 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>) -> tensor<?x32xf16>
  return %q, %k, %g, %u, %a, %d1, %d2 : tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?x32xf16>
}
