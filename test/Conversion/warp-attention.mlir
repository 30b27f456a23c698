// RUN: quant-opt %s -split-input-file --convert-qc-to-linalg="block-size=8 warp-attention=true" | FileCheck %s

// GQA attention (2 query heads over 1 kv head, head_dim 4) with a sliding
// window of 3, for GPU targets (flash-decoding): a first gpu.launch has a
// block per (token, head, split) and one 32-lane warp in it, the splits
// (ceil(1024 / (tokens x heads)), at most 32) taking consecutive slices of
// the visible positions. Lanes past head_dim read dimension 0 and count as
// zero; each position's score is a lane-parallel dot product finished by
// five xor shuffles; one pass keeps the running maximum and the sum of
// exp(s - max) and the weighted values, rescaled as the maximum grows
// (online softmax); the warp stores that state (max, sum, values) to
// `partials`. A second launch, a warp per (token, head), rescales the
// splits' states to their common maximum, adds them and divides.
!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f32>
// CHECK-LABEL: func.func @qc_forward(
// CHECK-SAME: %[[SEQ:[^:]*]]: memref<?xi32>, %[[TABLES:[^:]*]]: memref<?x?xi32>, %[[KC:[^:]*]]: memref<1x?x4xf32>, %[[VC:[^:]*]]: memref<1x?x4xf32>
// CHECK: %[[Q:.*]] = bufferization.to_buffer
// CHECK: %[[OUT:.*]] = memref.alloc(%[[T:.*]]) : memref<?x8xf32>
// CHECK: %[[TH:.*]] = arith.muli %[[T]], %{{.*}} : index
// CHECK: %[[WANT:.*]] = arith.ceildivui %{{.*}}, %[[TH]] : index
// CHECK: %[[SPLITS:.*]] = arith.minui %[[WANT]], %{{.*}} : index
// CHECK: %[[PARTIALS:.*]] = memref.alloc(%[[T]], %[[SPLITS]]) : memref<?x2x?x6xf32>
// CHECK: gpu.launch blocks(%[[TOK:.*]], %[[HEAD:.*]], %[[SPLIT:.*]]) in (%{{.*}} = %[[T]], %{{.*}} = %[[TWO:.*]], %{{.*}} = %[[SPLITS]]) threads(%[[LANE:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[WARP:.*]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK: memref.load %[[SEQ]][%[[TOK]]]
// CHECK: arith.maxsi
// CHECK: %[[CHUNK:.*]] = arith.ceildivui %{{.*}}, %[[SPLITS]] : index
// CHECK: arith.muli %[[SPLIT]], %[[CHUNK]]
// CHECK: %[[D:.*]] = arith.addi %[[LANE]], %{{.*}} : index
// CHECK: %[[INHEAD:.*]] = arith.cmpi ult, %[[D]]
// CHECK: arith.select %[[INHEAD]], %[[D]]
// CHECK: scf.for {{.*}} iter_args(%[[M:[^ ]*]] = %{{.*}}, %[[SUM:[^ ]*]] = %{{.*}}, %[[ACC:[^ ]*]] = %{{.*}}) -> (f32, f32, f32)
// CHECK: memref.load %[[TABLES]]
// CHECK: memref.load %[[KC]]
// CHECK-COUNT-5: gpu.shuffle {{ *}}xor
// CHECK: %[[NEWM:.*]] = arith.maximumf %[[M]], %{{.*}}
// CHECK: %[[DM:.*]] = arith.subf %[[M]], %[[NEWM]]
// CHECK: %[[RESCALE:.*]] = math.exp %[[DM]]
// CHECK: math.exp
// CHECK: arith.mulf %[[SUM]], %[[RESCALE]]
// CHECK: memref.load %[[VC]]
// CHECK: arith.mulf %[[ACC]], %[[RESCALE]]
// CHECK: scf.yield
// CHECK-NOT: scf.for
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[TOK]], %[[HEAD]], %[[SPLIT]], %{{.*}}]
// CHECK: scf.if %[[INHEAD]]
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[TOK]], %[[HEAD]], %[[SPLIT]], %{{.*}}]
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks(%[[CTOK:.*]], %[[CHEAD:.*]], %{{.*}}) in (%{{.*}} = %[[T]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK: %[[NSPLITS:.*]] = memref.dim %[[PARTIALS]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[NSPLITS]]
// CHECK: arith.maximumf
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[NSPLITS]]
// CHECK: math.exp
// CHECK: scf.yield
// CHECK: scf.if
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[CTOK]], %{{.*}}]
// CHECK: gpu.terminator
// CHECK: bufferization.to_tensor %[[OUT]]
//
// Greedy decoding's argmax on GPU targets, parallel at one row: a first
// kernel's warps each scan a chunk of 512 of a row (4 loads per lane per
// iteration, indices clamped to the row), keeping the first maximum; five
// xor shuffles of (value, index) pairs combine the lanes preferring the
// larger value, then the lower index on ties, and lane 0 leaves the chunk's
// pair in two buffers; a second kernel's warp per row combines the chunks'
// pairs the same way and lane 0 stores the index (0 if no value beat -inf,
// as the CPU's scan).
// CHECK-LABEL: func.func @qc_argmax(
// CHECK-SAME: %[[LOGITS:.*]]: memref<?x16xf32>, %[[TOKENS:.*]]: memref<?xi32>)
// CHECK: %[[ROWS:.*]] = memref.dim %[[LOGITS]]
// CHECK: %[[VALUES:.*]] = memref.alloc(%[[ROWS]]) : memref<?x1xf32>
// CHECK: %[[INDICES:.*]] = memref.alloc(%[[ROWS]]) : memref<?x1xi32>
// CHECK: gpu.launch blocks(%[[ROW:.*]], %[[CB:.*]], %{{.*}}) in (%{{.*}} = %[[ROWS]], {{.*}}) threads(%[[T:[^,]*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128, {{.*}})
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK-COUNT-4: memref.load %[[LOGITS]][%[[ROW]], %{{.*}}]
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi ult
// CHECK-COUNT-10: gpu.shuffle {{ *}}xor
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[VALUES]][%[[ROW]], %[[CHUNK:.*]]]
// CHECK: memref.store %{{.*}}, %[[INDICES]][%[[ROW]], %[[CHUNK]]]
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks(%[[ROW2:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ROWS]], {{.*}}) threads(%[[L:[^,]*]], %{{.*}}, %{{.*}})
// CHECK: scf.for %[[C:.*]] = %[[L]] to %{{.*}} step %{{.*}} iter_args
// CHECK: memref.load %[[VALUES]][%[[ROW2]], %[[C]]]
// CHECK: memref.load %[[INDICES]][%[[ROW2]], %[[C]]]
// CHECK-COUNT-10: gpu.shuffle {{ *}}xor
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[TOKENS]][%[[ROW2]]]
// CHECK: gpu.terminator
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
