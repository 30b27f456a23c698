// RUN: quant-opt %s -split-input-file | quant-opt -split-input-file | FileCheck %s
// RUN: quant-opt %s -split-input-file --mlir-print-op-generic | quant-opt -split-input-file | FileCheck %s

// A Llama decoder layer with every op, round-tripped through the parser and
// printer (and through the generic form).

!cache = !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>

// CHECK-LABEL: func.func @decoder_layer
func.func @decoder_layer(%tokens: tensor<?xi32>, %positions: tensor<?xi32>,
                         %cache: !cache) -> (tensor<?x256xf32>, !cache) {
  // CHECK: qc.weight "model.embed_tokens.weight" : tensor<256x64xf16>
  %table = qc.weight "model.embed_tokens.weight" : tensor<256x64xf16>
  // CHECK: qc.embedding %{{.*}}, %{{.*}} : (tensor<256x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
  %h = qc.embedding %table, %tokens : (tensor<256x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
  %ln = qc.weight "model.layers.0.input_layernorm.weight" : tensor<64xf16>
  // CHECK: qc.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64}
  %x = qc.rms_norm %h, %ln {epsilon = 1.0e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
  %wq = qc.weight "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf16>
  %bq = qc.weight "model.layers.0.self_attn.q_proj.bias" : tensor<64xf16>
  // CHECK: qc.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x64xf16>, tensor<64x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
  %q = qc.linear %x, %wq, %bq : (tensor<?x64xf16>, tensor<64x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
  %wk = qc.weight "model.layers.0.self_attn.k_proj.weight" : tensor<32x64xf16>
  %k = qc.linear %x, %wk : (tensor<?x64xf16>, tensor<32x64xf16>) -> tensor<?x32xf16>
  %wv = qc.weight "model.layers.0.self_attn.v_proj.weight" : !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
  // CHECK: qc.quantized_linear %{{.*}}, %{{.*}} : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x32xf16>
  %v = qc.quantized_linear %x, %wv : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x32xf16>
  // CHECK: qc.rope %{{.*}}, %{{.*}} {head_dim = 16 : i64, num_heads = 4 : i64, rope = #qc.rope<type = llama3, theta = 5.000000e+05, factor = 8.000000e+00, original_max_positions = 64>}
  %qr = qc.rope %q, %positions {num_heads = 4 : i64, head_dim = 16 : i64,
      rope = #qc.rope<type = llama3, theta = 500000.0, factor = 8.0, original_max_positions = 64>}
      : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
  // CHECK: qc.rope {{.*}}rope = #qc.rope<type = default, theta = 1.000000e+04>}
  %kr = qc.rope %k, %positions {num_heads = 2 : i64, head_dim = 16 : i64,
      rope = #qc.rope<type = default, theta = 10000.0>}
      : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  // CHECK: qc.kv_cache_write %{{.*}}[0], %{{.*}}, %{{.*}}, %{{.*}} : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  %c1 = qc.kv_cache_write %cache[0], %kr, %v, %positions
      : (!cache, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !cache
  // CHECK: qc.attention %{{.*}}, %{{.*}}[0], %{{.*}} {num_heads = 4 : i64, scale = 2.500000e-01 : f64, sliding_window = 64 : i64}
  %o = qc.attention %qr, %c1[0], %positions {num_heads = 4 : i64, scale = 0.25 : f64, sliding_window = 64 : i64}
      : (tensor<?x64xf16>, !cache, tensor<?xi32>) -> tensor<?x64xf16>
  // CHECK: qc.add %{{.*}}, %{{.*}} : tensor<?x64xf16>
  %h1 = qc.add %h, %o : tensor<?x64xf16>
  %wg = qc.weight "model.layers.0.mlp.gate_proj.weight" : !qc.qweight<128x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>
  %wu = qc.weight "model.layers.0.mlp.up_proj.weight" : !qc.qweight<128x64xf16, #qc.int8<mode = llm_int8, threshold = 6.0>>
  %g = qc.quantized_linear %h1, %wg : (tensor<?x64xf16>, !qc.qweight<128x64xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>) -> tensor<?x128xf16>
  // CHECK: #qc.int8<mode = llm_int8, threshold = 6.000000e+00>
  %u = qc.quantized_linear %h1, %wu : (tensor<?x64xf16>, !qc.qweight<128x64xf16, #qc.int8<mode = llm_int8, threshold = 6.0>>) -> tensor<?x128xf16>
  // CHECK: qc.silu_mul %{{.*}}, %{{.*}} : tensor<?x128xf16>
  %a = qc.silu_mul %g, %u : tensor<?x128xf16>
  %wd = qc.weight "model.layers.0.mlp.down_proj.weight" : !qc.qweight<64x128xf16, #qc.int8<mode = w8a8>>
  // CHECK: #qc.int8<mode = w8a8>
  %d = qc.quantized_linear %a, %wd : (tensor<?x128xf16>, !qc.qweight<64x128xf16, #qc.int8<mode = w8a8>>) -> tensor<?x64xf16>
  %h2 = qc.add %h1, %d : tensor<?x64xf16>
  // CHECK: qc.lm_head %{{.*}}, %{{.*}} : (tensor<?x64xf16>, tensor<256x64xf16>) -> tensor<?x256xf32>
  %logits = qc.lm_head %h2, %table : (tensor<?x64xf16>, tensor<256x64xf16>) -> tensor<?x256xf32>
  return %logits, %c1 : tensor<?x256xf32>, !cache
}

// -----

// CHECK-LABEL: func.func @schemes
// CHECK-SAME: !qc.qweight<64x256xbf16, #qc.bnb4<type = fp4, block_size = 128, double_quant = false>>
// CHECK-SAME: !qc.qweight<8x128xf32, #qc.awq<bits = 4, group_size = 128, zero_point = false>>
// CHECK-SAME: !qc.qweight<16x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = mma>>
// CHECK-SAME: !qc.qweight<8x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// CHECK-SAME: !qc.qweight<3x5xf16, #qc.int8<mode = weight_only>>
// CHECK-SAME: !qc.qweight<3x5xf16, #qc.int8<mode = llm_int8>>
func.func @schemes(
    %a: !qc.qweight<64x256xbf16, #qc.bnb4<type = fp4, block_size = 128, double_quant = false>>,
    %b: !qc.qweight<8x128xf32, #qc.awq<bits = 4, group_size = 128, zero_point = false>>,
    %m: !qc.qweight<16x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = mma>>,
    %g: !qc.qweight<8x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = gemm>>,
    %c: !qc.qweight<3x5xf16, #qc.int8<mode = weight_only, threshold = 0.0>>,
    %d: !qc.qweight<3x5xf16, #qc.int8<mode = llm_int8>>) {
  return
}

// -----

// Exact doubles survive the round trip.
// CHECK-LABEL: func.func @rope_precision
// CHECK: #qc.rope<type = yarn, theta = 1234567.8901234567, factor = 4.000000e+00, original_max_positions = 4096, attention_factor = 1.250000e+00, beta_fast = 1.600000e+01>
func.func @rope_precision(%x: tensor<3x32xf32>, %p: tensor<3xi64>) -> tensor<3x32xf32> {
  %y = qc.rope %x, %p {num_heads = 2 : i64, head_dim = 16 : i64,
      rope = #qc.rope<type = yarn, theta = 1234567.8901234567, factor = 4.0, original_max_positions = 4096, attention_factor = 1.25, beta_fast = 16.0, beta_slow = 1.0>}
      : (tensor<3x32xf32>, tensor<3xi64>) -> tensor<3x32xf32>
  return %y : tensor<3x32xf32>
}

// -----

// Fused ops made by qc-fuse.
!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
// CHECK-LABEL: func.func @fused
// CHECK: qc.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
// CHECK: qc.rope_kv_cache_write %{{.*}}[0], %{{.*}}, %{{.*}}, %{{.*}} {rope = #qc.rope<type = linear, theta = 1.000000e+04, factor = 2.000000e+00>}
func.func @fused(%a: tensor<?x8xf16>, %b: tensor<?x8xf16>, %w: tensor<8xf16>, %c: !cache, %p: tensor<?xi32>) -> (tensor<?x8xf16>, tensor<?x8xf16>, !cache) {
  %s, %n = qc.add_rms_norm %a, %b, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  %c1 = qc.rope_kv_cache_write %c[0], %a, %b, %p {rope = #qc.rope<type = linear, theta = 10000.0, factor = 2.0>} : (!cache, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !cache
  return %s, %n, %c1 : tensor<?x8xf16>, tensor<?x8xf16>, !cache
}

// -----

// CHECK-LABEL: func.func @fused_linear
// CHECK: qc.fused_linear %{{.*}}, %{{.*}}, %{{.*}} biases %{{.*}}, %{{.*}} : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<4x16xf16>, tensor<8xf16>, tensor<4xf16>) -> (tensor<?x8xf16>, tensor<?x4xf16>)
func.func @fused_linear(%x: tensor<?x16xf16>, %a: tensor<8x16xf16>, %b: tensor<4x16xf16>, %ba: tensor<8xf16>, %bb: tensor<4xf16>) -> (tensor<?x8xf16>, tensor<?x4xf16>) {
  %r:2 = qc.fused_linear %x, %a, %b biases %ba, %bb : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<4x16xf16>, tensor<8xf16>, tensor<4xf16>) -> (tensor<?x8xf16>, tensor<?x4xf16>)
  return %r#0, %r#1 : tensor<?x8xf16>, tensor<?x4xf16>
}
