// RUN: quant-opt %s -split-input-file --convert-qc-to-linalg="block-size=8" | FileCheck %s

!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f32>

// A one-layer graph becomes @qc_forward with the runtime ABI: token data,
// the paged cache and its tables, the logits buffer, then the weights.
// CHECK: module attributes {qc.abi.block_size = 8 : i64, qc.abi.stack_dims = [-1, -1, -1, -1, -1, -1], qc.abi.weights = ["emb", "ln", "wq", "wk", "wv", "wo"]}
// CHECK-LABEL: func.func @qc_forward(
// CHECK-SAME: %[[TOK:.*]]: tensor<?xi32>, %[[POS:.*]]: tensor<?xi32>, %[[SLOTS:.*]]: memref<?xi32>, %[[SEQ:.*]]: memref<?xi32>, %[[TABLES:.*]]: memref<?x?xi32>,
// CHECK-SAME: %[[KC:.*]]: memref<1x?x4xf32>, %[[VC:.*]]: memref<1x?x4xf32>, %[[LOGITS:.*]]: memref<?x16xf32>,
// CHECK-SAME: %[[EMB:.*]]: tensor<16x8xf32>, %{{.*}}: tensor<8xf32>, %{{.*}}: tensor<8x8xf32>, %{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<8x8xf32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// Embedding: a gather by token id.
// CHECK: linalg.generic {{.*}} ins(%[[TOK]] : tensor<?xi32>)
// CHECK: tensor.extract %[[EMB]]
// RMSNorm: an f32 reduction, then the scaling.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: math.sqrt
// Linear: a [t, n, k] contraction with f32 accumulation.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.cos
// CHECK: math.sin
// Cache write: each token's keys and values at its slot, one parallel
// iteration per (token, feature).
// CHECK: scf.parallel
// CHECK: memref.load %[[SLOTS]]
// CHECK: memref.store {{.*}}, %[[KC]]
// CHECK: memref.store {{.*}}, %[[VC]]
// Attention: per (token, head) in parallel, an accumulator row in an alloca
// scope, over the token's sequence through its block table.
// CHECK: scf.parallel
// CHECK: memref.alloca_scope
// CHECK: memref.alloca() : memref<4xf32>
// CHECK: memref.load %[[SEQ]]
// CHECK: memref.load %[[TABLES]]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: bufferization.materialize_in_destination {{.*}} in restrict writable %[[LOGITS]]
// CHECK-NOT: = qc.
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !cache) -> (tensor<?x16xf32>, !cache) {
  %emb = qc.weight "emb" : tensor<16x8xf32>
  %h = qc.embedding %emb, %tokens : (tensor<16x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %ln = qc.weight "ln" : tensor<8xf32>
  %x = qc.rms_norm %h, %ln {epsilon = 1.0e-05 : f64} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %wq = qc.weight "wq" : tensor<8x8xf32>
  %q = qc.linear %x, %wq : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %wk = qc.weight "wk" : tensor<4x8xf32>
  %k = qc.linear %x, %wk : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %wv = qc.weight "wv" : tensor<4x8xf32>
  %v = qc.linear %x, %wv : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %qr = qc.rope %q, %positions {num_heads = 2 : i64, head_dim = 4 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<?x8xf32>, tensor<?xi32>) -> tensor<?x8xf32>
  %kr = qc.rope %k, %positions {num_heads = 1 : i64, head_dim = 4 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
  %c1 = qc.kv_cache_write %cache[0], %kr, %v, %positions : (!cache, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32>) -> !cache
  %o = qc.attention %qr, %c1[0], %positions {num_heads = 2 : i64, scale = 0.5 : f64} : (tensor<?x8xf32>, !cache, tensor<?xi32>) -> tensor<?x8xf32>
  %wo = qc.weight "wo" : tensor<8x8xf32>
  %a = qc.linear %o, %wo : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %r = qc.add %h, %a : tensor<?x8xf32>
  %logits = qc.lm_head %r, %emb : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %logits, %c1 : tensor<?x16xf32>, !cache
}

// -----

// Quantized weights pass their storage tensors; dequantization is fused into
// the matmul's reduction.
// CHECK: qc.abi.weights = ["emb", "w.qweight", "w.qzeros", "w.scales", "b.codes", "b.absmax", "b.nested_absmax", "b.nested_offset", "head"]
// CHECK-LABEL: func.func @qc_forward(
// CHECK-SAME: %{{.*}}: tensor<512xi8>, %{{.*}}: tensor<32xi8>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<1xf32>, %{{.*}}: tensor<4x32xf16>
// AWQ: nibbles picked with shifts and made halves by their bits (0x6400 | q
// is 1024 + q), so that (q - z) * s is computed in f16 as AutoAWQ does.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.shrui
// CHECK: %[[BIAS:.*]] = arith.constant 25600 : i32
// CHECK: arith.ori %{{.*}}, %[[BIAS]] : i32
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: arith.subf %{{.*}}, %{{.*}} : f16
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f16
// CHECK: arith.extf %{{.*}} : f16 to f32
// NF4 with double quant: codebook and dynamic-map lookups.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.select
// CHECK: tensor.extract %cst
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) -> (tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) {
  %t = qc.weight "emb" : tensor<8x32xf16>
  %xd = qc.embedding %t, %tokens : (tensor<8x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  %w = qc.weight "w" : !qc.qweight<32x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
  %y = qc.quantized_linear %xd, %w : (tensor<?x32xf16>, !qc.qweight<32x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x32xf16>
  %b = qc.weight "b" : !qc.qweight<32x32xf16, #qc.bnb4<type = nf4, block_size = 32, double_quant = true>>
  %z = qc.quantized_linear %y, %b : (tensor<?x32xf16>, !qc.qweight<32x32xf16, #qc.bnb4<type = nf4, block_size = 32, double_quant = true>>) -> tensor<?x32xf16>
  %h = qc.weight "head" : tensor<4x32xf16>
  %l = qc.lm_head %z, %h : (tensor<?x32xf16>, tensor<4x32xf16>) -> tensor<?x4xf32>
  return %l, %cache : tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>
}

// -----

// LLM.int8 quantizes the activations per token (outlier columns kept in
// floating point) and multiplies int8 codes with int32 accumulation.
// CHECK-LABEL: func.func @qc_forward(
// Per-token absmax below the threshold, per-column absmax for outliers.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: math.absf
// CHECK: linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]
// The int8 x int8 contraction.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: math.roundeven
// CHECK: arith.muli {{.*}} : i32
// The outlier columns in f64.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.mulf {{.*}} : f64
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) -> (tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) {
  %t = qc.weight "emb" : tensor<8x32xf16>
  %x = qc.embedding %t, %tokens : (tensor<8x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  %w = qc.weight "w" : !qc.qweight<16x32xf16, #qc.int8<mode = llm_int8, threshold = 6.0>>
  %y = qc.quantized_linear %x, %w : (tensor<?x32xf16>, !qc.qweight<16x32xf16, #qc.int8<mode = llm_int8, threshold = 6.0>>) -> tensor<?x16xf16>
  %h = qc.weight "head" : tensor<4x16xf16>
  %l = qc.lm_head %y, %h : (tensor<?x16xf16>, tensor<4x16xf16>) -> tensor<?x4xf32>
  return %l, %cache : tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>
}

// -----

// Fused kernels: the residual sum and its sum of squares in one loop nest;
// rotated keys computed and stored into the cache in the write loop.
!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f32>
// CHECK-LABEL: func.func @qc_forward(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<?xf32>)
// CHECK: math.sqrt
// CHECK: scf.parallel
// CHECK: math.cos
// CHECK: memref.store
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !cache) -> (tensor<?x8xf32>, !cache) {
  %t = qc.weight "emb" : tensor<8x4xf32>
  %x = qc.embedding %t, %tokens : (tensor<8x4xf32>, tensor<?xi32>) -> tensor<?x4xf32>
  %w = qc.weight "ln" : tensor<4xf32>
  %s, %n = qc.add_rms_norm %x, %x, %w {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %c1 = qc.rope_kv_cache_write %cache[0], %s, %n, %positions {rope = #qc.rope<type = default, theta = 10000.0>} : (!cache, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?xi32>) -> !cache
  %l = qc.lm_head %n, %t : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return %l, %c1 : tensor<?x8xf32>, !cache
}

// -----

// A fused linear takes its weights stacked along N as one argument per
// storage tensor, named by its sources joined with '+' and stacked along the
// dimension recorded in qc.abi.stack_dims; its results are slices of one
// matmul.
// CHECK: qc.abi.stack_dims = [-1, 1, 1, 1, -1], qc.abi.weights = ["emb", "a.qweight+b.qweight", "a.qzeros+b.qzeros", "a.scales+b.scales", "head"]
// CHECK-LABEL: func.func @qc_forward(
// CHECK-SAME: tensor<32x4xi32>, %{{.*}}: tensor<1x4xi32>, %{{.*}}: tensor<1x32xf16>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [%{{.*}}, 16] [1, 1]
// CHECK: tensor.extract_slice %{{.*}}[0, 16] [%{{.*}}, 16] [1, 1]
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) -> (tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) {
  %t = qc.weight "emb" : tensor<8x32xf16>
  %x = qc.embedding %t, %tokens : (tensor<8x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  %a = qc.weight "a" : !qc.qweight<16x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
  %b = qc.weight "b" : !qc.qweight<16x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
  %r:2 = qc.fused_linear %x, %a, %b : (tensor<?x32xf16>, !qc.qweight<16x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, !qc.qweight<16x32xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> (tensor<?x16xf16>, tensor<?x16xf16>)
  %s = qc.add %r#0, %r#1 : tensor<?x16xf16>
  %h = qc.weight "head" : tensor<4x16xf16>
  %l = qc.lm_head %s, %h : (tensor<?x16xf16>, tensor<4x16xf16>) -> tensor<?x4xf32>
  return %l, %cache : tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>
}

// -----

// Weight-only int8 dequantizes to the weight's element type: in f16 by code
// bits (q ^ 0x80 | 0x6400 is the half 1152 + q, minus 1152 is q) times the
// f16 scale; in bf16 as q * scale in f32 rounded to bf16.
// CHECK-LABEL: func.func @qc_forward(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.xori %{{.*}}, %{{.*}} : i8
// CHECK: %[[BIAS:.*]] = arith.constant 25600 : i32
// CHECK: arith.ori %{{.*}}, %[[BIAS]] : i32
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: %[[OFFSET:.*]] = arith.constant 1.152000e+03 : f16
// CHECK: arith.subf %{{.*}}, %[[OFFSET]] : f16
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f16
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: %[[W:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: %[[WB:.*]] = arith.truncf %[[W]] : f32 to bf16
// CHECK-NEXT: arith.extf %[[WB]] : bf16 to f32
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) -> (tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>) {
  %t = qc.weight "emb" : tensor<8x32xf16>
  %x = qc.embedding %t, %tokens : (tensor<8x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  %a = qc.weight "a" : !qc.qweight<32x32xf16, #qc.int8<mode = weight_only, threshold = 0.0>>
  %y = qc.quantized_linear %x, %a : (tensor<?x32xf16>, !qc.qweight<32x32xf16, #qc.int8<mode = weight_only, threshold = 0.0>>) -> tensor<?x32xf16>
  %tb = qc.weight "embb" : tensor<8x32xbf16>
  %xb = qc.embedding %tb, %tokens : (tensor<8x32xbf16>, tensor<?xi32>) -> tensor<?x32xbf16>
  %b = qc.weight "b" : !qc.qweight<16x32xbf16, #qc.int8<mode = weight_only, threshold = 0.0>>
  %z = qc.quantized_linear %xb, %b : (tensor<?x32xbf16>, !qc.qweight<16x32xbf16, #qc.int8<mode = weight_only, threshold = 0.0>>) -> tensor<?x16xbf16>
  %h = qc.weight "head" : tensor<4x32xf16>
  %l = qc.lm_head %y, %h : (tensor<?x32xf16>, tensor<4x32xf16>) -> tensor<?x4xf32>
  %hb = qc.weight "headb" : tensor<4x16xbf16>
  %lb = qc.lm_head %z, %hb : (tensor<?x16xbf16>, tensor<4x16xbf16>) -> tensor<?x4xf32>
  %sum = qc.add %l, %lb : tensor<?x4xf32>
  return %sum, %cache : tensor<?x4xf32>, !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f16>
}
