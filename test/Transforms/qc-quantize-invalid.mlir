// RUN: split-file %s %t
// RUN: quant-opt %t/shapes.mlir -split-input-file --qc-quantize="method=awq group-size=128" -verify-diagnostics
// RUN: quant-opt %t/bits.mlir --qc-quantize="method=awq bits=8" -verify-diagnostics
// RUN: quant-opt %t/group.mlir --qc-quantize="method=awq group-size=100" -verify-diagnostics
// RUN: quant-opt %t/method.mlir --qc-quantize="method=gptq" -verify-diagnostics
// RUN: quant-opt %t/mismatch.mlir --qc-quantize="method=awq llm-int8-threshold=5.0" -verify-diagnostics
// RUN: quant-opt %t/mismatch2.mlir --qc-quantize="method=bnb4 group-size=64" -verify-diagnostics
// RUN: quant-opt %t/qtype.mlir --qc-quantize="method=bnb4 bnb-4bit-quant-type=int4" -verify-diagnostics
// RUN: quant-opt %t/block.mlir --qc-quantize="method=bnb4 bnb-4bit-block-size=100" -verify-diagnostics
// RUN: quant-opt %t/threshold.mlir --qc-quantize="method=llm-int8 llm-int8-threshold=-1.0" -verify-diagnostics

//--- shapes.mlir
// Shapes the scheme cannot store are reported at the linear layer.
func.func @group_does_not_divide_k(%x: tensor<?x192xf16>) -> tensor<?x64xf16> {
  %w = qc.weight "layers.0.o_proj.weight" : tensor<64x192xf16>
  // expected-error @+1 {{'qc.linear' op cannot quantize 'layers.0.o_proj.weight': AWQ group_size 128 does not divide K = 192 (input features)}}
  %y = qc.linear %x, %w : (tensor<?x192xf16>, tensor<64x192xf16>) -> tensor<?x64xf16>
  return %y : tensor<?x64xf16>
}

// -----

func.func @n_not_packable(%x: tensor<?x128xf16>) -> tensor<?x12xf16> {
  %w = qc.weight "layers.0.k_proj.weight" : tensor<12x128xf16>
  // expected-error @+1 {{'qc.linear' op cannot quantize 'layers.0.k_proj.weight': AWQ needs N (output features) to be a multiple of 8 to pack eight int4 values per i32, got N = 12}}
  %y = qc.linear %x, %w : (tensor<?x128xf16>, tensor<12x128xf16>) -> tensor<?x12xf16>
  return %y : tensor<?x12xf16>
}

// -----

func.func @weight_not_named(%x: tensor<?x128xf16>, %w: tensor<64x128xf16>) -> tensor<?x64xf16> {
  // expected-error @+1 {{'qc.linear' op can only quantize weights defined by qc.weight}}
  %y = qc.linear %x, %w : (tensor<?x128xf16>, tensor<64x128xf16>) -> tensor<?x64xf16>
  return %y : tensor<?x64xf16>
}

//--- bits.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{AWQ supports only 4-bit weights, got bits = 8}}
module {
}
//--- group.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{AWQ group_size must be a power of two between 16 and 1024, got 100}}
module {
}
//--- method.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{unknown quantization method 'gptq' (expected none, awq, bnb4, int8, llm-int8 or w8a8)}}
module {
}
//--- mismatch.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{option 'llm-int8-threshold' does not apply to method awq}}
module {
}
//--- mismatch2.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{option 'group-size' does not apply to method bnb4}}
module {
}
//--- qtype.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{unknown bnb-4bit-quant-type 'int4' (expected nf4 or fp4)}}
module {
}
//--- block.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{bnb4 block_size must be a power of two between 32 and 4096, got 100}}
module {
}
//--- threshold.mlir
// Invalid options are reported on the module.
// expected-error @+1 {{int8 threshold must be a finite non-negative number, got -1}}
module {
}
