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
