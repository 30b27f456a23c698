// RUN: quant-opt %s -split-input-file --qc-quantize="method=awq group-size=64" | FileCheck %s --check-prefix=AWQ
// RUN: quant-opt %s -split-input-file --qc-quantize="method=awq group-size=32 zero-point=false" | FileCheck %s --check-prefix=AWQSYM
// RUN: quant-opt %s -split-input-file --qc-quantize="method=bnb4 bnb-4bit-quant-type=nf4 bnb-4bit-use-double-quant=true" | FileCheck %s --check-prefix=NF4
// RUN: quant-opt %s -split-input-file --qc-quantize="method=bnb4 bnb-4bit-quant-type=fp4 bnb-4bit-block-size=128" | FileCheck %s --check-prefix=FP4
// RUN: quant-opt %s -split-input-file --qc-quantize="method=int8" | FileCheck %s --check-prefix=INT8
// RUN: quant-opt %s -split-input-file --qc-quantize="method=llm-int8 llm-int8-threshold=4.5" | FileCheck %s --check-prefix=LLMINT8
// RUN: quant-opt %s -split-input-file --qc-quantize="method=w8a8 skip-modules=down_proj,k_proj" | FileCheck %s --check-prefix=SKIP
// RUN: quant-opt %s -split-input-file --qc-quantize="method=int8 quantize-lm-head=true" | FileCheck %s --check-prefix=HEAD
// RUN: quant-opt %s -split-input-file --qc-quantize="method=none" | FileCheck %s --check-prefix=NONE

// Linear layers of an attention block and an MLP, with a bias and an untied
// lm_head.

// AWQ-LABEL: func.func @block
// AWQ: %[[WQ:.*]] = qc.weight "layers.0.q_proj" : !qc.qweight<128x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// AWQ: %[[BQ:.*]] = qc.weight "layers.0.q_proj.bias" : tensor<128xf16>
// AWQ: qc.quantized_linear %{{.*}}, %[[WQ]], %[[BQ]] : (tensor<?x128xf16>, !qc.qweight<128x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>, tensor<128xf16>) -> tensor<?x128xf16>
// AWQ: qc.weight "layers.0.k_proj" : !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// AWQ: qc.quantized_linear
// AWQ: qc.weight "layers.0.down_proj" : !qc.qweight<128x256xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// AWQ: qc.quantized_linear
// AWQ-NOT: qc.linear
// AWQ: qc.weight "lm_head.weight" : tensor<512x128xf16>
// AWQ: qc.lm_head %{{.*}}, %{{.*}} : (tensor<?x128xf16>, tensor<512x128xf16>) -> tensor<?x512xf32>

// AWQSYM: #qc.awq<bits = 4, group_size = 32, zero_point = false>
// NF4: #qc.bnb4<type = nf4, block_size = 64, double_quant = true>
// FP4: #qc.bnb4<type = fp4, block_size = 128, double_quant = false>
// INT8: !qc.qweight<128x128xf16, #qc.int8<mode = weight_only>>
// LLMINT8: !qc.qweight<128x128xf16, #qc.int8<mode = llm_int8, threshold = 4.500000e+00>>

// SKIP: qc.weight "layers.0.q_proj" : !qc.qweight<128x128xf16, #qc.int8<mode = w8a8>>
// SKIP: qc.quantized_linear
// SKIP: qc.weight "layers.0.k_proj.weight" : tensor<64x128xf16>
// SKIP: qc.linear
// SKIP: qc.weight "layers.0.down_proj.weight" : tensor<128x256xf16>
// SKIP: qc.linear

// HEAD: %[[HEAD:.*]] = qc.weight "lm_head" : !qc.qweight<512x128xf16, #qc.int8<mode = weight_only>>
// HEAD: qc.lm_head %{{.*}}, %[[HEAD]] : (tensor<?x128xf16>, !qc.qweight<512x128xf16, #qc.int8<mode = weight_only>>) -> tensor<?x512xf32>

// NONE-NOT: qc.quantized_linear
func.func @block(%x: tensor<?x128xf16>, %h: tensor<?x256xf16>) -> (tensor<?x128xf16>, tensor<?x64xf16>, tensor<?x128xf16>, tensor<?x512xf32>) {
  %wq = qc.weight "layers.0.q_proj.weight" : tensor<128x128xf16>
  %bq = qc.weight "layers.0.q_proj.bias" : tensor<128xf16>
  %q = qc.linear %x, %wq, %bq : (tensor<?x128xf16>, tensor<128x128xf16>, tensor<128xf16>) -> tensor<?x128xf16>
  %wk = qc.weight "layers.0.k_proj.weight" : tensor<64x128xf16>
  %k = qc.linear %x, %wk : (tensor<?x128xf16>, tensor<64x128xf16>) -> tensor<?x64xf16>
  %wd = qc.weight "layers.0.down_proj.weight" : tensor<128x256xf16>
  %d = qc.linear %h, %wd : (tensor<?x256xf16>, tensor<128x256xf16>) -> tensor<?x128xf16>
  %wh = qc.weight "lm_head.weight" : tensor<512x128xf16>
  %l = qc.lm_head %d, %wh : (tensor<?x128xf16>, tensor<512x128xf16>) -> tensor<?x512xf32>
  return %q, %k, %d, %l : tensor<?x128xf16>, tensor<?x64xf16>, tensor<?x128xf16>, tensor<?x512xf32>
}

// -----

// A tied lm_head reads the embedding table, which the lookup needs in
// floating point: it is never quantized.
// HEAD-LABEL: func.func @tied
// HEAD: %[[TABLE:.*]] = qc.weight "model.embed_tokens.weight" : tensor<512x128xf16>
// HEAD: qc.lm_head %{{.*}}, %[[TABLE]] : (tensor<?x128xf16>, tensor<512x128xf16>)
func.func @tied(%ids: tensor<?xi32>) -> tensor<?x512xf32> {
  %t = qc.weight "model.embed_tokens.weight" : tensor<512x128xf16>
  %h = qc.embedding %t, %ids : (tensor<512x128xf16>, tensor<?xi32>) -> tensor<?x128xf16>
  %l = qc.lm_head %h, %t : (tensor<?x128xf16>, tensor<512x128xf16>) -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
