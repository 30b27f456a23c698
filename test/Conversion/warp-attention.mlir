// RUN: quant-opt %s -split-input-file --convert-qc-to-linalg="block-size=8 warp-attention=true" | FileCheck %s

// GQA attention (2 query heads over 1 kv head, head_dim 4) with a sliding
// window of 3, for GPU targets: one gpu.launch with a block per (token,
// head) and one 32-lane warp in it. Positions go 32 at a time, a lane each:
// pass 1 takes each lane's whole dot product over the head dimension and
// the lanes' maximum (xor shuffles); pass 2 weights each position by
// exp(s - max) and accumulates the values position by position, a shuffle
// handing every lane the position's weight and slot, lanes splitting the
// head dimension; the sum of weights is combined by xor shuffles, and lanes
// inside head_dim store.
!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f32>
// CHECK-LABEL: func.func @qc_forward(
// CHECK-SAME: %[[SEQ:[^:]*]]: memref<?xi32>, %[[TABLES:[^:]*]]: memref<?x?xi32>, %[[KC:[^:]*]]: memref<1x?x4xf32>, %[[VC:[^:]*]]: memref<1x?x4xf32>
// CHECK: %[[OUT:.*]] = memref.alloc(%[[T:.*]]) : memref<?x8xf32>
// CHECK: gpu.launch blocks(%[[TOK:.*]], %[[HEAD:.*]], %{{.*}}) in (%{{.*}} = %[[T]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[LANE:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[WARP:.*]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK: memref.load %[[SEQ]][%[[TOK]]]
// CHECK: %[[START:.*]] = arith.maxsi
// CHECK: %[[D:.*]] = arith.addi %[[LANE]], %{{.*}} : index
// CHECK: %[[INHEAD:.*]] = arith.cmpi ult, %[[D]]
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[CHUNKS]]
// CHECK: arith.addi %{{.*}}, %[[LANE]] : index
// CHECK: memref.load %[[TABLES]]
// CHECK: scf.for
// CHECK: memref.load %[[KC]]
// CHECK: arith.maximumf
// CHECK-COUNT-5: gpu.shuffle {{ *}}xor
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[CHUNKS]]
// CHECK: memref.load %[[KC]]
// CHECK: math.exp
// CHECK: scf.for
// CHECK: gpu.shuffle {{ *}}idx
// CHECK: gpu.shuffle {{ *}}idx
// CHECK: memref.load %[[VC]]
// CHECK-COUNT-5: gpu.shuffle {{ *}}xor
// CHECK: scf.if %[[INHEAD]]
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.terminator
// CHECK: bufferization.to_tensor %[[OUT]]
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !cache) -> (tensor<?x16xf32>, !cache) {
  %emb = qc.weight "emb" : tensor<16x8xf32>
  %h = qc.embedding %emb, %tokens : (tensor<16x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %wk = qc.weight "wk" : tensor<4x8xf32>
  %k = qc.linear %h, %wk : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %c1 = qc.kv_cache_write %cache[0], %k, %k, %positions : (!cache, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32>) -> !cache
  %o = qc.attention %h, %c1[0], %positions {num_heads = 2 : i64, scale = 0.5 : f64, sliding_window = 3 : i64} : (tensor<?x8xf32>, !cache, tensor<?xi32>) -> tensor<?x8xf32>
  %logits = qc.lm_head %o, %emb : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %logits, %c1 : tensor<?x16xf32>, !cache
}
