// RUN: quant-opt %s -split-input-file -verify-diagnostics
// One case per verifier diagnostic of the qc dialect.

// expected-error @+1 {{AWQ supports only 4-bit weights, got bits = 3}}
func.func @awq_bits(%w: !qc.qweight<8x128xf16, #qc.awq<bits = 3, group_size = 128, zero_point = true>>) {
  return
}

// -----

// expected-error @+1 {{AWQ group_size must be a power of two between 16 and 1024, got 96}}
func.func @awq_group(%w: !qc.qweight<8x192xf16, #qc.awq<bits = 4, group_size = 96, zero_point = true>>) {
  return
}

// -----

// expected-error @+1 {{AWQ group_size 128 does not divide K = 200 (input features)}}
func.func @awq_group_k(%w: !qc.qweight<8x200xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>) {
  return
}

// -----

// expected-error @+1 {{AWQ needs N (output features) to be a multiple of 8 to pack eight int4 values per i32, got N = 12}}
func.func @awq_n(%w: !qc.qweight<12x128xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>) {
  return
}

// -----

// expected-error @+1 {{AWQ layout mma needs N (output features) to be a multiple of 16 and K (input features) of 64, got N = 8, K = 128}}
func.func @awq_mma_n(%w: !qc.qweight<8x128xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>>) {
  return
}

// -----

// expected-error @+1 {{AWQ layout mma needs N (output features) to be a multiple of 16 and K (input features) of 64, got N = 16, K = 96}}
func.func @awq_mma_k(%w: !qc.qweight<16x96xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true, layout = mma>>) {
  return
}

// -----

// expected-error @+1 {{bnb4 block_size must be a power of two between 32 and 4096, got 48}}
func.func @bnb_block(%w: !qc.qweight<8x96xf16, #qc.bnb4<type = nf4, block_size = 48, double_quant = false>>) {
  return
}

// -----

// expected-error @+1 {{bnb4 block_size 64 does not divide K = 96 (input features), so blocks would span rows}}
func.func @bnb_block_k(%w: !qc.qweight<8x96xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = true>>) {
  return
}

// -----

// expected-error @+1 {{int8 threshold must be a finite non-negative number, got -1}}
func.func @int8_negative(%w: !qc.qweight<8x96xf16, #qc.int8<mode = llm_int8, threshold = -1.0>>) {
  return
}

// -----

// expected-error @+1 {{int8 threshold applies only to mode llm_int8, not w8a8}}
func.func @int8_threshold_mode(%w: !qc.qweight<8x96xf16, #qc.int8<mode = w8a8, threshold = 6.0>>) {
  return
}

// -----

// expected-error @+1 {{rope theta must be positive, got 0}}
func.func @rope_theta() attributes {r = #qc.rope<type = default, theta = 0.0>} {
  return
}

// -----

// expected-error @+1 {{rope theta must be positive, got nan}}
func.func @rope_theta_nan() attributes {r = #qc.rope<type = default, theta = 0x7FF8000000000000>} {
  return
}

// -----

// expected-error @+1 {{rope factor must be positive, got -2}}
func.func @rope_factor() attributes {r = #qc.rope<type = linear, theta = 10000.0, factor = -2.0>} {
  return
}

// -----

// expected-error @+1 {{rope type default takes no factor, got 2}}
func.func @rope_default_factor() attributes {r = #qc.rope<type = default, theta = 10000.0, factor = 2.0>} {
  return
}

// -----

// expected-error @+1 {{rope original_max_positions must be non-negative}}
func.func @rope_orig() attributes {r = #qc.rope<type = yarn, theta = 10000.0, factor = 2.0, original_max_positions = -1>} {
  return
}

// -----

// expected-error @+1 {{rope type llama3 needs original_max_positions > 0}}
func.func @rope_llama3_orig() attributes {r = #qc.rope<type = llama3, theta = 10000.0, factor = 8.0>} {
  return
}

// -----

// expected-error @+1 {{rope type llama3 needs 0 < low_freq_factor < high_freq_factor, got 4.000000e+00 and 1.000000e+00}}
func.func @rope_llama3_freq() attributes {r = #qc.rope<type = llama3, theta = 10000.0, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_positions = 8192>} {
  return
}

// -----

// expected-error @+1 {{quantized weight must have rank 2 [N, K], got rank 3}}
func.func @qweight_rank(%w: !qc.qweight<8x8x128xf16, #qc.int8<mode = weight_only>>) {
  return
}

// -----

// expected-error @+1 {{quantized weight dimensions must be positive}}
func.func @qweight_zero(%w: !qc.qweight<0x128xf16, #qc.int8<mode = weight_only>>) {
  return
}

// -----

// expected-error @+1 {{quantized weight must dequantize to f16, bf16 or f32, got 'i8'}}
func.func @qweight_elem(%w: !qc.qweight<8x128xi8, #qc.int8<mode = weight_only>>) {
  return
}

// -----

// expected-error @+1 {{expected a quantization scheme attribute, got 1 : i64}}
func.func @qweight_scheme(%w: !qc.qweight<8x128xf16, 1>) {
  return
}

// -----

// expected-error @+1 {{kv_cache num_layers, num_kv_heads and head_dim must be positive}}
func.func @cache_dims(%c: !qc.kv_cache<num_layers = 0, num_kv_heads = 2, head_dim = 16, dtype = f16>) {
  return
}

// -----

// expected-error @+1 {{kv_cache dtype must be a float type, got 'i8'}}
func.func @cache_dtype(%c: !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 16, dtype = i8>) {
  return
}

// -----

func.func @weight_name() {
  // expected-error @+1 {{'qc.weight' op needs a non-empty tensor name}}
  %w = qc.weight "" : tensor<4xf16>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{'qc.weight' op weight 'w' must have a static shape, got 'tensor<?x4xf16>'}}
  %w = qc.weight "w" : tensor<?x4xf16>
  return
}

// -----

func.func @embedding_features(%t: tensor<256x64xf16>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'qc.embedding' op result has 32 features but the table has 64}}
  %h = qc.embedding %t, %ids : (tensor<256x64xf16>, tensor<?xi32>) -> tensor<?x32xf16>
  return
}

// -----

func.func @embedding_type(%t: tensor<256x64xf16>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'qc.embedding' op result element type must match the table's 'f16'}}
  %h = qc.embedding %t, %ids : (tensor<256x64xf16>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @embedding_tokens(%t: tensor<256x64xf16>, %ids: tensor<5xi32>) {
  // expected-error @+1 {{'qc.embedding' op has 5 tokens in an operand but 4 in the result}}
  %h = qc.embedding %t, %ids : (tensor<256x64xf16>, tensor<5xi32>) -> tensor<4x64xf16>
  return
}

// -----

func.func @rms_weight(%x: tensor<?x64xf16>, %w: tensor<32xf16>) {
  // expected-error @+1 {{'qc.rms_norm' op weight has 32 elements but the input has 64 features}}
  %y = qc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : (tensor<?x64xf16>, tensor<32xf16>) -> tensor<?x64xf16>
  return
}

// -----

func.func @rms_result(%x: tensor<?x64xf16>, %w: tensor<64xf16>) {
  // expected-error @+1 {{'qc.rms_norm' op result type must equal the input type}}
  %y = qc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @rms_eps(%x: tensor<?x64xf16>, %w: tensor<64xf16>) {
  // expected-error @+1 {{'qc.rms_norm' op epsilon must be finite and positive, got 0}}
  %y = qc.rms_norm %x, %w {epsilon = 0.0 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
  return
}

// -----

func.func @linear_k(%x: tensor<?x64xf16>, %w: tensor<32x48xf16>) {
  // expected-error @+1 {{'qc.linear' op input has 64 features but the weight expects K = 48}}
  %y = qc.linear %x, %w : (tensor<?x64xf16>, tensor<32x48xf16>) -> tensor<?x32xf16>
  return
}

// -----

func.func @linear_n(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>) {
  // expected-error @+1 {{'qc.linear' op result has 16 features but the weight has N = 32}}
  %y = qc.linear %x, %w : (tensor<?x64xf16>, tensor<32x64xf16>) -> tensor<?x16xf16>
  return
}

// -----

func.func @linear_types(%x: tensor<?x64xf16>, %w: tensor<32x64xf32>) {
  // expected-error @+1 {{'qc.linear' op input, weight and result element types must match, got 'f16', 'f32' and 'f16'}}
  %y = qc.linear %x, %w : (tensor<?x64xf16>, tensor<32x64xf32>) -> tensor<?x32xf16>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>, %b: tensor<31xf16>) {
  // expected-error @+1 {{'qc.linear' op bias has 31 elements but the weight has N = 32}}
  %y = qc.linear %x, %w, %b : (tensor<?x64xf16>, tensor<32x64xf16>, tensor<31xf16>) -> tensor<?x32xf16>
  return
}

// -----

func.func @linear_bias_type(%x: tensor<?x64xf16>, %w: tensor<32x64xf16>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'qc.linear' op bias element type 'f32' does not match 'f16'}}
  %y = qc.linear %x, %w, %b : (tensor<?x64xf16>, tensor<32x64xf16>, tensor<32xf32>) -> tensor<?x32xf16>
  return
}

// -----

func.func @qlinear_k(%x: tensor<?x64xf16>, %w: !qc.qweight<32x128xf16, #qc.int8<mode = weight_only>>) {
  // expected-error @+1 {{'qc.quantized_linear' op input has 64 features but the weight expects K = 128}}
  %y = qc.quantized_linear %x, %w : (tensor<?x64xf16>, !qc.qweight<32x128xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
  return
}

// -----

func.func @qlinear_type(%x: tensor<?x128xf16>, %w: !qc.qweight<32x128xbf16, #qc.int8<mode = weight_only>>) {
  // expected-error @+1 {{'qc.quantized_linear' op input, weight and result element types must match, got 'f16', 'bf16' and 'f16'}}
  %y = qc.quantized_linear %x, %w : (tensor<?x128xf16>, !qc.qweight<32x128xbf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
  return
}

// -----

func.func @rope_head_dim(%x: tensor<?x60xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope' op needs num_heads > 0 and an even head_dim > 0, got 4 and 15}}
  %y = qc.rope %x, %p {num_heads = 4 : i64, head_dim = 15 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<?x60xf16>, tensor<?xi32>) -> tensor<?x60xf16>
  return
}

// -----

func.func @rope_width(%x: tensor<?x64xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope' op input has 64 features, expected num_heads * head_dim = 32}}
  %y = qc.rope %x, %p {num_heads = 2 : i64, head_dim = 16 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @rope_result(%x: tensor<?x32xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope' op result type must equal the input type}}
  %y = qc.rope %x, %p {num_heads = 2 : i64, head_dim = 16 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @rope_positions(%x: tensor<3x32xf16>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'qc.rope' op has 4 tokens in an operand but 3 in the result}}
  %y = qc.rope %x, %p {num_heads = 2 : i64, head_dim = 16 : i64, rope = #qc.rope<type = default, theta = 10000.0>} : (tensor<3x32xf16>, tensor<4xi32>) -> tensor<3x32xf16>
  return
}

// -----

func.func @write_layer(%c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %k: tensor<?x32xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.kv_cache_write' op layer 2 is out of range for a 2-layer cache}}
  %c1 = qc.kv_cache_write %c[2], %k, %k, %p : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  return
}

// -----

func.func @write_width(%c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %k: tensor<?x64xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.kv_cache_write' op keys and values need num_kv_heads * head_dim = 32 features, got 64}}
  %c1 = qc.kv_cache_write %c[0], %k, %k, %p : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x64xf16>, tensor<?x64xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  return
}

// -----

func.func @write_kv_types(%c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %k: tensor<?x32xf16>, %v: tensor<?x32xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.kv_cache_write' op keys and values must have the same type}}
  %c1 = qc.kv_cache_write %c[0], %k, %v, %p : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf32>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  return
}

// -----

func.func @write_result(%c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %k: tensor<?x32xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.kv_cache_write' op result type must equal the cache type}}
  %c1 = qc.kv_cache_write %c[0], %k, %k, %p : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 3, num_kv_heads = 2, head_dim = 16, dtype = f16>
  return
}

// -----

func.func @attn_layer(%q: tensor<?x64xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op layer -1 is out of range for a 2-layer cache}}
  %o = qc.attention %q, %c[-1], %p {num_heads = 4 : i64, scale = 0.25 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @attn_heads(%q: tensor<?x48xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op num_heads 3 must be a positive multiple of num_kv_heads 2}}
  %o = qc.attention %q, %c[0], %p {num_heads = 3 : i64, scale = 0.25 : f64} : (tensor<?x48xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x48xf16>
  return
}

// -----

func.func @attn_width(%q: tensor<?x48xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op query has 48 features, expected num_heads * head_dim = 64}}
  %o = qc.attention %q, %c[0], %p {num_heads = 4 : i64, scale = 0.25 : f64} : (tensor<?x48xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x48xf16>
  return
}

// -----

func.func @attn_result(%q: tensor<?x64xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op result type must equal the query type}}
  %o = qc.attention %q, %c[0], %p {num_heads = 4 : i64, scale = 0.25 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @attn_scale(%q: tensor<?x64xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op scale must be positive}}
  %o = qc.attention %q, %c[0], %p {num_heads = 4 : i64, scale = -0.25 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @attn_window(%q: tensor<?x64xf16>, %c: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.attention' op sliding_window must be positive, got 0}}
  %o = qc.attention %q, %c[0], %p {num_heads = 4 : i64, scale = 0.25 : f64, sliding_window = 0 : i64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @lm_head_hidden(%x: tensor<?x64xf16>, %w: tensor<256x32xf16>) {
  // expected-error @+1 {{'qc.lm_head' op input has 64 features but the weight has 32}}
  %l = qc.lm_head %x, %w : (tensor<?x64xf16>, tensor<256x32xf16>) -> tensor<?x256xf32>
  return
}

// -----

func.func @lm_head_vocab(%x: tensor<?x64xf16>, %w: tensor<256x64xf16>) {
  // expected-error @+1 {{'qc.lm_head' op result has 128 logits per token but the vocabulary has 256}}
  %l = qc.lm_head %x, %w : (tensor<?x64xf16>, tensor<256x64xf16>) -> tensor<?x128xf32>
  return
}

// -----

func.func @lm_head_types(%x: tensor<?x64xf16>, %w: tensor<256x64xbf16>) {
  // expected-error @+1 {{'qc.lm_head' op input and weight element types must match}}
  %l = qc.lm_head %x, %w : (tensor<?x64xf16>, tensor<256x64xbf16>) -> tensor<?x256xf32>
  return
}

// -----

// expected-error @+1 {{rope attention_factor must be non-negative}}
func.func @rope_attention_factor() attributes {r = #qc.rope<type = yarn, theta = 10000.0, factor = 4.0, attention_factor = -1.0>} {
  return
}

// -----

// expected-error @+1 {{rope type yarn needs beta_fast > beta_slow > 0}}
func.func @rope_yarn_beta() attributes {r = #qc.rope<type = yarn, theta = 10000.0, factor = 4.0, beta_fast = 1.0, beta_slow = 2.0>} {
  return
}

// -----

func.func @add_rms_norm_types(%a: tensor<?x8xf16>, %b: tensor<?x8xf32>, %w: tensor<8xf16>) {
  // expected-error @+1 {{'qc.add_rms_norm' op operands and results must have the same type}}
  %s, %n = qc.add_rms_norm %a, %b, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf16>, tensor<?x8xf32>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

func.func @add_rms_norm_weight(%a: tensor<?x8xf16>, %w: tensor<4xf16>) {
  // expected-error @+1 {{'qc.add_rms_norm' op weight has 4 elements but the input has 8 features}}
  %s, %n = qc.add_rms_norm %a, %a, %w {epsilon = 1.0e-05 : f64} : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<4xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

func.func @rms_eps_inf(%x: tensor<?x64xf16>, %w: tensor<64xf16>) {
  // expected-error @+1 {{'qc.rms_norm' op epsilon must be finite and positive, got INF}}
  %y = qc.rms_norm %x, %w {epsilon = 0x7FF0000000000000 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
  return
}

// -----

func.func @add_rms_norm_eps_nan(%a: tensor<?x8xf16>, %w: tensor<8xf16>) {
  // expected-error @+1 {{'qc.add_rms_norm' op epsilon must be finite and positive, got nan}}
  %s, %n = qc.add_rms_norm %a, %a, %w {epsilon = 0x7FF8000000000000 : f64} : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

func.func @add_rms_norm_eps(%a: tensor<?x8xf16>, %w: tensor<8xf16>) {
  // expected-error @+1 {{'qc.add_rms_norm' op epsilon must be finite and positive, got -1}}
  %s, %n = qc.add_rms_norm %a, %a, %w {epsilon = -1.0 : f64} : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

!c = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
func.func @rope_write_layer(%c: !c, %k: tensor<?x8xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope_kv_cache_write' op layer 1 is out of range for a 1-layer cache}}
  %c1 = qc.rope_kv_cache_write %c[1], %k, %k, %p {rope = #qc.rope<type = default, theta = 10000.0>} : (!c, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !c
  return
}

// -----

!c = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 3, dtype = f16>
func.func @rope_write_odd(%c: !c, %k: tensor<?x6xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope_kv_cache_write' op needs an even head_dim, got 3}}
  %c1 = qc.rope_kv_cache_write %c[0], %k, %k, %p {rope = #qc.rope<type = default, theta = 10000.0>} : (!c, tensor<?x6xf16>, tensor<?x6xf16>, tensor<?xi32>) -> !c
  return
}

// -----

!c = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
func.func @rope_write_width(%c: !c, %k: tensor<?x4xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope_kv_cache_write' op keys and values need num_kv_heads * head_dim = 8 features, got 4}}
  %c1 = qc.rope_kv_cache_write %c[0], %k, %k, %p {rope = #qc.rope<type = default, theta = 10000.0>} : (!c, tensor<?x4xf16>, tensor<?x4xf16>, tensor<?xi32>) -> !c
  return
}

// -----

!c = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
func.func @rope_write_types(%c: !c, %k: tensor<?x8xf16>, %v: tensor<?x8xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope_kv_cache_write' op keys and values must have the same type}}
  %c1 = qc.rope_kv_cache_write %c[0], %k, %v, %p {rope = #qc.rope<type = default, theta = 10000.0>} : (!c, tensor<?x8xf16>, tensor<?x8xf32>, tensor<?xi32>) -> !c
  return
}

// -----

!c = !qc.kv_cache<num_layers = 1, num_kv_heads = 2, head_dim = 4, dtype = f16>
!c2 = !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 4, dtype = f16>
func.func @rope_write_result(%c: !c, %k: tensor<?x8xf16>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'qc.rope_kv_cache_write' op result type must equal the cache type}}
  %c1 = qc.rope_kv_cache_write %c[0], %k, %k, %p {rope = #qc.rope<type = default, theta = 10000.0>} : (!c, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?xi32>) -> !c2
  return
}

// -----

func.func @fused_one(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>) {
  // expected-error @+1 {{'qc.fused_linear' op fuses at least two weights, got 1}}
  %a = qc.fused_linear %x, %w : (tensor<?x16xf16>, tensor<8x16xf16>) -> tensor<?x8xf16>
  return
}

// -----

func.func @fused_results(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>) {
  // expected-error @+1 {{'qc.fused_linear' op has 1 results for 2 weights}}
  %a = qc.fused_linear %x, %w, %w : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<8x16xf16>) -> tensor<?x8xf16>
  return
}

// -----

func.func @fused_biases(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>, %b: tensor<8xf16>) {
  // expected-error @+1 {{'qc.fused_linear' op needs no biases or one per weight, got 1}}
  %a:2 = qc.fused_linear %x, %w, %w biases %b : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<8x16xf16>, tensor<8xf16>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

func.func @fused_mixed(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>, %q: !qc.qweight<8x16xf16, #qc.int8<mode = weight_only>>) {
  // expected-error @+1 {{'qc.fused_linear' op weights must all be float or all quantized with one scheme}}
  %a:2 = qc.fused_linear %x, %w, %q : (tensor<?x16xf16>, tensor<8x16xf16>, !qc.qweight<8x16xf16, #qc.int8<mode = weight_only>>) -> (tensor<?x8xf16>, tensor<?x8xf16>)
  return
}

// -----

func.func @fused_shape(%x: tensor<?x16xf16>, %w: tensor<8x16xf16>) {
  // expected-error @+1 {{'qc.fused_linear' op result has 4 features but the weight has N = 8}}
  %a:2 = qc.fused_linear %x, %w, %w : (tensor<?x16xf16>, tensor<8x16xf16>, tensor<8x16xf16>) -> (tensor<?x8xf16>, tensor<?x4xf16>)
  return
}
