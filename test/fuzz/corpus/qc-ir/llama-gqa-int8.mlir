module attributes {qc.model = {architecture = "LlamaForCausalLM", bos_token_ids = [1], eos_token_ids = [2], hidden_size = 64 : i64, max_position_embeddings = 256 : i64, model_type = "llama", num_layers = 2 : i64, tie_word_embeddings = false, vocab_size = 512 : i64}} {
  func.func @forward(%arg0: tensor<?xi32> {qc.name = "tokens"}, %arg1: tensor<?xi32> {qc.name = "positions"}, %arg2: !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16> {qc.name = "kv_cache"}) -> (tensor<?x512xf32>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>) {
    %0 = qc.weight "model.embed_tokens.weight" : tensor<512x64xf16>
    %1 = qc.embedding %0, %arg0 : (tensor<512x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %2 = qc.weight "model.layers.0.input_layernorm.weight" : tensor<64xf16>
    %3 = qc.rms_norm %1, %2 {epsilon = 1.000000e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %4 = qc.weight "model.layers.0.self_attn.q_proj" : !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>
    %5 = qc.quantized_linear %3, %4 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %6 = qc.weight "model.layers.0.self_attn.k_proj" : !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>
    %7 = qc.quantized_linear %3, %6 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
    %8 = qc.weight "model.layers.0.self_attn.v_proj" : !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>
    %9 = qc.quantized_linear %3, %8 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
    %10 = qc.rope %5, %arg1 {head_dim = 16 : i64, num_heads = 4 : i64, rope = #qc.rope<type = default, theta = 1.000000e+04>} : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %11 = qc.rope %7, %arg1 {head_dim = 16 : i64, num_heads = 2 : i64, rope = #qc.rope<type = default, theta = 1.000000e+04>} : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
    %12 = qc.kv_cache_write %arg2[0], %11, %9, %arg1 : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
    %13 = qc.attention %10, %12[0], %arg1 {num_heads = 4 : i64, scale = 2.500000e-01 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
    %14 = qc.weight "model.layers.0.self_attn.o_proj" : !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>
    %15 = qc.quantized_linear %13, %14 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %16 = qc.add %1, %15 : tensor<?x64xf16>
    %17 = qc.weight "model.layers.0.post_attention_layernorm.weight" : tensor<64xf16>
    %18 = qc.rms_norm %16, %17 {epsilon = 1.000000e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %19 = qc.weight "model.layers.0.mlp.gate_proj" : !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>
    %20 = qc.quantized_linear %18, %19 : (tensor<?x64xf16>, !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x160xf16>
    %21 = qc.weight "model.layers.0.mlp.up_proj" : !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>
    %22 = qc.quantized_linear %18, %21 : (tensor<?x64xf16>, !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x160xf16>
    %23 = qc.silu_mul %20, %22 : tensor<?x160xf16>
    %24 = qc.weight "model.layers.0.mlp.down_proj" : !qc.qweight<64x160xf16, #qc.int8<mode = weight_only>>
    %25 = qc.quantized_linear %23, %24 : (tensor<?x160xf16>, !qc.qweight<64x160xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %26 = qc.add %16, %25 : tensor<?x64xf16>
    %27 = qc.weight "model.layers.1.input_layernorm.weight" : tensor<64xf16>
    %28 = qc.rms_norm %26, %27 {epsilon = 1.000000e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %29 = qc.weight "model.layers.1.self_attn.q_proj" : !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>
    %30 = qc.quantized_linear %28, %29 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %31 = qc.weight "model.layers.1.self_attn.k_proj" : !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>
    %32 = qc.quantized_linear %28, %31 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
    %33 = qc.weight "model.layers.1.self_attn.v_proj" : !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>
    %34 = qc.quantized_linear %28, %33 : (tensor<?x64xf16>, !qc.qweight<32x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x32xf16>
    %35 = qc.rope %30, %arg1 {head_dim = 16 : i64, num_heads = 4 : i64, rope = #qc.rope<type = default, theta = 1.000000e+04>} : (tensor<?x64xf16>, tensor<?xi32>) -> tensor<?x64xf16>
    %36 = qc.rope %32, %arg1 {head_dim = 16 : i64, num_heads = 2 : i64, rope = #qc.rope<type = default, theta = 1.000000e+04>} : (tensor<?x32xf16>, tensor<?xi32>) -> tensor<?x32xf16>
    %37 = qc.kv_cache_write %12[1], %36, %34, %arg1 : (!qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?x32xf16>, tensor<?x32xf16>, tensor<?xi32>) -> !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
    %38 = qc.attention %35, %37[1], %arg1 {num_heads = 4 : i64, scale = 2.500000e-01 : f64} : (tensor<?x64xf16>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>, tensor<?xi32>) -> tensor<?x64xf16>
    %39 = qc.weight "model.layers.1.self_attn.o_proj" : !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>
    %40 = qc.quantized_linear %38, %39 : (tensor<?x64xf16>, !qc.qweight<64x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %41 = qc.add %26, %40 : tensor<?x64xf16>
    %42 = qc.weight "model.layers.1.post_attention_layernorm.weight" : tensor<64xf16>
    %43 = qc.rms_norm %41, %42 {epsilon = 1.000000e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %44 = qc.weight "model.layers.1.mlp.gate_proj" : !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>
    %45 = qc.quantized_linear %43, %44 : (tensor<?x64xf16>, !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x160xf16>
    %46 = qc.weight "model.layers.1.mlp.up_proj" : !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>
    %47 = qc.quantized_linear %43, %46 : (tensor<?x64xf16>, !qc.qweight<160x64xf16, #qc.int8<mode = weight_only>>) -> tensor<?x160xf16>
    %48 = qc.silu_mul %45, %47 : tensor<?x160xf16>
    %49 = qc.weight "model.layers.1.mlp.down_proj" : !qc.qweight<64x160xf16, #qc.int8<mode = weight_only>>
    %50 = qc.quantized_linear %48, %49 : (tensor<?x160xf16>, !qc.qweight<64x160xf16, #qc.int8<mode = weight_only>>) -> tensor<?x64xf16>
    %51 = qc.add %41, %50 : tensor<?x64xf16>
    %52 = qc.weight "model.norm.weight" : tensor<64xf16>
    %53 = qc.rms_norm %51, %52 {epsilon = 1.000000e-05 : f64} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
    %54 = qc.weight "lm_head.weight" : tensor<512x64xf16>
    %55 = qc.lm_head %53, %54 : (tensor<?x64xf16>, tensor<512x64xf16>) -> tensor<?x512xf32>
    return %55, %37 : tensor<?x512xf32>, !qc.kv_cache<num_layers = 2, num_kv_heads = 2, head_dim = 16, dtype = f16>
  }
}

