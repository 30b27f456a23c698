module attributes {qc.model = {architecture = "Qwen2ForCausalLM", bos_token_ids = [], eos_token_ids = [], hidden_size = 64 : i64, max_position_embeddings = 256 : i64, model_type = "qwen2", num_layers = 2 : i64, tie_word_embeddings = true, vocab_size = 512 : i64}} {
  func.func @forward(%arg0: tensor<?xi32> {qc.name = "tokens"}, %arg1: tensor<?xi32> {qc.name = "positions"}, %arg2: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16> {qc.name = "kv_cache"}) -> (tensor<?x512xf32>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>) {
    %0 = qc.weight "model.embed_tokens.weight" : tensor<512x64xf16>
    %1 = qc.embedding %0, %arg0 : (tensor<512x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %2 = qc.weight "model.layers.0.input_layernorm.weight" : tensor<64xf16>
    %3 = qc.rms_norm %1, %2 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %4 = qc.weight "model.layers.0.self_attn.q_proj.bias" : tensor<64xf16>
    %5 = qc.weight "model.layers.0.self_attn.q_proj" : !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %6 = qc.quantized_linear %3, %5, %4 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<64xf16>) -> tensor<?x64xf16>
    %7 = qc.weight "model.layers.0.self_attn.k_proj.bias" : tensor<32xf16>
    %8 = qc.weight "model.layers.0.self_attn.k_proj" : !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %9 = qc.quantized_linear %3, %8, %7 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<32xf16>) -> tensor<?x32xf16>
    %10 = qc.weight "model.layers.0.self_attn.v_proj.bias" : tensor<32xf16>
    %11 = qc.weight "model.layers.0.self_attn.v_proj" : !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %12 = qc.quantized_linear %3, %11, %10 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<32xf16>) -> tensor<?x32xf16>
    %13 = qc.rope %6, %arg1 {head_dim = 16 : i64, num_heads = 4 : i64, rope = #qc.rope<type = default, theta = 1.000000e+06>} : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %14 = qc.rope %9, %arg1 {head_dim = 16 : i64, num_heads = 2 : i64, rope = #qc.rope<type = default, theta = 1.000000e+06>} : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
    %15 = qc.kv_cache_write %arg2[0], %14, %12, %arg1 : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
    %16 = qc.attention %13, %15[0], %arg1 {num_heads = 4 : i64, scale = 2.500000e-01 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
    %17 = qc.weight "model.layers.0.self_attn.o_proj" : !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %18 = qc.quantized_linear %16, %17 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x64xf16>
    %19 = qc.add %1, %18 : tensor<?x64xf16>
    %20 = qc.weight "model.layers.0.post_attention_layernorm.weight" : tensor<64xf16>
    %21 = qc.rms_norm %19, %20 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %22 = qc.weight "model.layers.0.mlp.gate_proj" : !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %23 = qc.quantized_linear %21, %22 : (tensor<?x64xf16>, !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x192xf16>
    %24 = qc.weight "model.layers.0.mlp.up_proj" : !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %25 = qc.quantized_linear %21, %24 : (tensor<?x64xf16>, !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x192xf16>
    %26 = qc.silu_mul %23, %25 : tensor<?x192xf16>
    %27 = qc.weight "model.layers.0.mlp.down_proj" : !qc.qweight<64x192xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %28 = qc.quantized_linear %26, %27 : (tensor<?x192xf16>, !qc.qweight<64x192xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x64xf16>
    %29 = qc.add %19, %28 : tensor<?x64xf16>
    %30 = qc.weight "model.layers.1.input_layernorm.weight" : tensor<64xf16>
    %31 = qc.rms_norm %29, %30 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %32 = qc.weight "model.layers.1.self_attn.q_proj.bias" : tensor<64xf16>
    %33 = qc.weight "model.layers.1.self_attn.q_proj" : !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %34 = qc.quantized_linear %31, %33, %32 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<64xf16>) -> tensor<?x64xf16>
    %35 = qc.weight "model.layers.1.self_attn.k_proj.bias" : tensor<32xf16>
    %36 = qc.weight "model.layers.1.self_attn.k_proj" : !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %37 = qc.quantized_linear %31, %36, %35 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<32xf16>) -> tensor<?x32xf16>
    %38 = qc.weight "model.layers.1.self_attn.v_proj.bias" : tensor<32xf16>
    %39 = qc.weight "model.layers.1.self_attn.v_proj" : !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %40 = qc.quantized_linear %31, %39, %38 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>, tensor<32xf16>) -> tensor<?x32xf16>
    %41 = qc.rope %34, %arg1 {head_dim = 16 : i64, num_heads = 4 : i64, rope = #qc.rope<type = default, theta = 1.000000e+06>} : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %42 = qc.rope %37, %arg1 {head_dim = 16 : i64, num_heads = 2 : i64, rope = #qc.rope<type = default, theta = 1.000000e+06>} : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
    %43 = qc.kv_cache_write %15[1], %42, %40, %arg1 : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
    %44 = qc.attention %41, %43[1], %arg1 {num_heads = 4 : i64, scale = 2.500000e-01 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
    %45 = qc.weight "model.layers.1.self_attn.o_proj" : !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %46 = qc.quantized_linear %44, %45 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x64xf16>
    %47 = qc.add %29, %46 : tensor<?x64xf16>
    %48 = qc.weight "model.layers.1.post_attention_layernorm.weight" : tensor<64xf16>
    %49 = qc.rms_norm %47, %48 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %50 = qc.weight "model.layers.1.mlp.gate_proj" : !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %51 = qc.quantized_linear %49, %50 : (tensor<?x64xf16>, !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x192xf16>
    %52 = qc.weight "model.layers.1.mlp.up_proj" : !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %53 = qc.quantized_linear %49, %52 : (tensor<?x64xf16>, !qc.qweight<192x64xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x192xf16>
    %54 = qc.silu_mul %51, %53 : tensor<?x192xf16>
    %55 = qc.weight "model.layers.1.mlp.down_proj" : !qc.qweight<64x192xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
    %56 = qc.quantized_linear %54, %55 : (tensor<?x192xf16>, !qc.qweight<64x192xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x64xf16>
    %57 = qc.add %47, %56 : tensor<?x64xf16>
    %58 = qc.weight "model.norm.weight" : tensor<64xf16>
    %59 = qc.rms_norm %57, %58 {epsilon = 9.9999999999999995E-7 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %60 = qc.lm_head %59, %0 : (tensor<?x64xf16>, tensor<512x64xf16>) -> tensor<?x512xf32>
    return %60, %43 : tensor<?x512xf32>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  }
}

