//===- QCOps.td - qc operations ----------------------------*- tablegen -*-===//

#ifndef QC_DIALECT_QC_IR_QCOPS_TD
#define QC_DIALECT_QC_IR_QCOPS_TD

include "qc/Dialect/QC/IR/QCBase.td"
include "qc/Dialect/QC/IR/QCAttrs.td"
include "qc/Dialect/QC/IR/QCTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Activations: [tokens, features], tokens of all sequences of a step.
def QC_Activation : TensorRankOf<[AnyFloat], [2]>;
def QC_Vector : TensorRankOf<[AnyFloat], [1]>;
def QC_TokenIds : TensorRankOf<[I32, I64], [1]>;
def QC_FloatWeight : TensorRankOf<[AnyFloat], [2]>;
def QC_AnyWeight : AnyTypeOf<[QC_FloatWeight, QC_QWeightType]>;

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

def QC_WeightOp : QC_Op<"weight", [Pure]> {
  let summary = "A model parameter, referenced by its checkpoint name";
  let description = [{
    Names a tensor of the model's checkpoint. The bytes are never inlined
    into the IR; the package writer resolves the name.

    A floating-point weight is named by its checkpoint tensor. A quantized
    weight (`!qc.qweight`) is named by its module: its storage tensors are
    `<module>.<suffix>` with the suffixes its scheme lists (e.g. AWQ's
    `qweight`, `qzeros`, `scales`, as AutoAWQ checkpoints name them). When
    the checkpoint holds only the floating-point `<module>.weight`, the
    package writer quantizes it.

    ```mlir
    %w = qc.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf16>
    %q = qc.weight "model.layers.0.mlp.up_proj"
        : !qc.qweight<688x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyTypeOf<[QC_Vector, QC_FloatWeight,
                                 QC_QWeightType]>:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

def QC_EmbeddingOp : QC_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    `result[t, :] = table[tokens[t], :]`.

    ```mlir
    %h = qc.embedding %table, %tokens
        : (tensor<2048x256xf16>, tensor<?xi32>) -> tensor<?x256xf16>
    ```
  }];
  let arguments = (ins QC_FloatWeight:$table, QC_TokenIds:$tokens);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $table `,` $tokens attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

def QC_RMSNormOp : QC_Op<"rms_norm", [Pure]> {
  let summary = "Root-mean-square layer norm";
  let description = [{
    `y = x / sqrt(mean(x^2) + epsilon) * weight`, the mean taken over the
    feature dimension in f32 as Hugging Face's LlamaRMSNorm does.

    ```mlir
    %y = qc.rms_norm %x, %w {epsilon = 1.0e-05 : f64}
        : (tensor<?x256xf16>, tensor<256xf16>) -> tensor<?x256xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$input, QC_Vector:$weight,
                       F64Attr:$epsilon);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LinearOp / QuantizedLinearOp
//===----------------------------------------------------------------------===//

def QC_LinearOp : QC_Op<"linear", [Pure]> {
  let summary = "Dense linear layer with optional bias";
  let description = [{
    `y = x W^T (+ b)` with W of shape [N, K] as stored by Hugging Face.

    ```mlir
    %y = qc.linear %x, %w, %b
        : (tensor<?x256xf16>, tensor<128x256xf16>, tensor<128xf16>)
        -> tensor<?x128xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$input, QC_FloatWeight:$weight,
                       Optional<QC_Vector>:$bias);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QC_QuantizedLinearOp : QC_Op<"quantized_linear", [Pure]> {
  let summary = "Linear layer over a quantized weight";
  let description = [{
    `y = x dequant(W)^T (+ b)`; how activations take part (floating point,
    LLM.int8 decomposition, W8A8 per-token int8) follows the weight's scheme.

    ```mlir
    %y = qc.quantized_linear %x, %w
        : (tensor<?x256xf16>,
           !qc.qweight<128x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>)
        -> tensor<?x128xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$input, QC_QWeightType:$weight,
                       Optional<QC_Vector>:$bias);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

def QC_RopeOp : QC_Op<"rope", [Pure]> {
  let summary = "Rotary position embedding of each head";
  let description = [{
    Rotates each of `num_heads` heads of `head_dim` features of every token by
    the angles of its position, in Hugging Face's rotate-half layout.

    ```mlir
    %q2 = qc.rope %q, %positions {num_heads = 8 : i64, head_dim = 32 : i64,
                                  rope = #qc.rope<type = default, theta = 1.0e+04>}
        : (tensor<?x256xf16>, tensor<?xi32>) -> tensor<?x256xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$input, QC_TokenIds:$positions,
                       I64Attr:$num_heads, I64Attr:$head_dim,
                       QC_RopeAttr:$rope);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// KVCacheWriteOp / AttentionOp
//===----------------------------------------------------------------------===//

def QC_KVCacheWriteOp : QC_Op<"kv_cache_write", [Pure]> {
  let summary = "Stores keys and values of new tokens in one layer's cache";
  let description = [{
    Writes the keys and values of each token at its position in its
    sequence, in layer `layer`, and returns the updated cache.

    ```mlir
    %c1 = qc.kv_cache_write %c0[0], %k, %v, %positions
        : (!qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>,
           tensor<?x128xf16>, tensor<?x128xf16>, tensor<?xi32>)
        -> !qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>
    ```
  }];
  let arguments = (ins QC_KVCacheType:$cache, I64Attr:$layer,
                       QC_Activation:$key, QC_Activation:$value,
                       QC_TokenIds:$positions);
  let results = (outs QC_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $key `,` $value `,` $positions attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QC_AttentionOp : QC_Op<"attention", [Pure]> {
  let summary = "Causal grouped-query attention over the KV cache";
  let description = [{
    For every token, attends with each of `num_heads` query heads over the
    cached keys and values of its own sequence at positions up to its own
    (and, with `sliding_window`, later than position - window). Query head h
    reads KV head `h / (num_heads / num_kv_heads)`. Scores are scaled by
    `scale` and the softmax is computed in f32.

    ```mlir
    %o = qc.attention %q, %c1[0], %positions
        {num_heads = 8 : i64, scale = 0.17677669529663687 : f64}
        : (tensor<?x256xf16>,
           !qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>,
           tensor<?xi32>) -> tensor<?x256xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$query, QC_KVCacheType:$cache,
                       I64Attr:$layer, QC_TokenIds:$positions,
                       I64Attr:$num_heads, F64Attr:$scale,
                       OptionalAttr<I64Attr>:$sliding_window);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `[` $layer `]` `,` $positions attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

def QC_SiluMulOp : QC_Op<"silu_mul", [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let description = [{
    ```mlir
    %h = qc.silu_mul %gate, %up : tensor<?x688xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$gate, QC_Activation:$up);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def QC_AddOp : QC_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "Residual add";
  let description = [{
    ```mlir
    %h = qc.add %x, %attn : tensor<?x256xf16>
    ```
  }];
  let arguments = (ins QC_Activation:$lhs, QC_Activation:$rhs);
  let results = (outs QC_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Fused ops (made by qc-fuse)
//===----------------------------------------------------------------------===//

def QC_FusedLinearOp : QC_Op<"fused_linear",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "Linear layers of one input computed as one matmul";
  let description = [{
    The q/k/v or gate/up projections of the same activations: one matmul
    over the weights stacked along N (float, or quantized in one scheme
    whose storage can be stacked), split into one result per weight.

    ```mlir
    %q, %k, %v = qc.fused_linear %x, %wq, %wk, %wv
        : (tensor<?x256xf16>, tensor<256x256xf16>, tensor<128x256xf16>,
           tensor<128x256xf16>)
        -> (tensor<?x256xf16>, tensor<?x128xf16>, tensor<?x128xf16>)
    ```
  }];
  let arguments = (ins QC_Activation:$input, Variadic<QC_AnyWeight>:$weights,
                       Variadic<QC_Vector>:$biases);
  let results = (outs Variadic<QC_Activation>:$results);
  let assemblyFormat = [{
    $input `,` $weights (`biases` $biases^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QC_AddRMSNormOp : QC_Op<"add_rms_norm", [Pure]> {
  let summary = "Residual add followed by RMS norm, in one pass";
  let description = [{
    `sum = lhs + rhs; normed = rms_norm(sum, weight)`: the residual stream
    and the next sublayer's input from one read of the operands.

    ```mlir
    %sum, %normed = qc.add_rms_norm %h, %attn, %w {epsilon = 1.0e-05 : f64}
        : (tensor<?x256xf16>, tensor<?x256xf16>, tensor<256xf16>)
        -> (tensor<?x256xf16>, tensor<?x256xf16>)
    ```
  }];
  let arguments = (ins QC_Activation:$lhs, QC_Activation:$rhs,
                       QC_Vector:$weight, F64Attr:$epsilon);
  let results = (outs QC_Activation:$sum, QC_Activation:$normed);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QC_RopeKVCacheWriteOp : QC_Op<"rope_kv_cache_write", [Pure]> {
  let summary = "Rotary embedding of the keys fused with the cache write";
  let description = [{
    `kv_cache_write(cache[layer], rope(key), value, positions)` without the
    rotated keys ever being materialized: they go straight to the cache.

    ```mlir
    %c1 = qc.rope_kv_cache_write %c0[0], %k, %v, %positions
        {rope = #qc.rope<type = default, theta = 1.0e+04>}
        : (!qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>,
           tensor<?x128xf16>, tensor<?x128xf16>, tensor<?xi32>)
        -> !qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>
    ```
  }];
  let arguments = (ins QC_KVCacheType:$cache, I64Attr:$layer,
                       QC_Activation:$key, QC_Activation:$value,
                       QC_TokenIds:$positions, QC_RopeAttr:$rope);
  let results = (outs QC_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $key `,` $value `,` $positions attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LMHeadOp
//===----------------------------------------------------------------------===//

def QC_LMHeadOp : QC_Op<"lm_head", [Pure]> {
  let summary = "Projection to vocabulary logits in f32";
  let description = [{
    `logits = x W^T` with W of shape [vocab, hidden]: the lm_head weight, or
    the embedding table when the model ties them. Logits are f32.

    ```mlir
    %logits = qc.lm_head %x, %w
        : (tensor<?x256xf16>, tensor<2048x256xf16>) -> tensor<?x2048xf32>
    ```
  }];
  let arguments = (ins QC_Activation:$input, QC_AnyWeight:$weight);
  let results = (outs TensorRankOf<[F32], [2]>:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // QC_DIALECT_QC_IR_QCOPS_TD
