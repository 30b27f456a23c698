// RUN: quant-opt %s -split-input-file --qc-weight-layouts="chip=sm_90a" | FileCheck %s
// RUN: quant-opt %s -split-input-file --qc-weight-layouts="chip=sm_80" | FileCheck %s
// RUN: quant-opt %s -split-input-file --qc-weight-layouts="chip=gfx942" | FileCheck %s --check-prefix=KEEP
// RUN: quant-opt %s -split-input-file --qc-weight-layouts="chip=cpu" | FileCheck %s --check-prefix=CPU

// NVIDIA chips store AWQ weights in the order of the tensor-core decode
// kernel's fragments where N is a multiple of 16 and K of 64; the users'
// types follow. K = 96 cannot (KEEP everywhere); NF4 keeps its layout; AMD
// keeps gemm. The CPU groups the words of 64 features (N = 64 only).
// CHECK-LABEL: func.func @layouts
// CHECK: %[[Q:.*]] = qc.weight "q" : !qc.qweight<32x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = mma>>
// CHECK: qc.quantized_linear %{{.*}}, %[[Q]] : (tensor<?x128xf16>, !qc.qweight<32x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = mma>>)
// CHECK: qc.weight "wide" : !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = mma>>
// CHECK: qc.weight "narrow" : !qc.qweight<32x96xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
// CHECK: qc.weight "nf4" : !qc.qweight<32x128xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = false>>
// KEEP-LABEL: func.func @layouts
// KEEP-NOT: layout =
// CPU-LABEL: func.func @layouts
// CPU: qc.weight "q" : !qc.qweight<32x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// CPU: %[[W:.*]] = qc.weight "wide" : !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = cpu>>
// CPU: qc.quantized_linear %{{.*}}, %[[W]] : (tensor<?x128xf16>, !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true, layout = cpu>>)
// CPU: qc.weight "narrow" : !qc.qweight<32x96xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
func.func @layouts(%x: tensor<?x128xf16>, %y: tensor<?x96xf16>) -> (tensor<?x32xf16>, tensor<?x64xf16>, tensor<?x32xf16>, tensor<?x32xf16>) {
  %q = qc.weight "q" : !qc.qweight<32x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
  %a = qc.quantized_linear %x, %q : (tensor<?x128xf16>, !qc.qweight<32x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>) -> tensor<?x32xf16>
  %w = qc.weight "wide" : !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
  %d = qc.quantized_linear %x, %w : (tensor<?x128xf16>, !qc.qweight<64x128xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>) -> tensor<?x64xf16>
  %n = qc.weight "narrow" : !qc.qweight<32x96xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>
  %b = qc.quantized_linear %y, %n : (tensor<?x96xf16>, !qc.qweight<32x96xf16, #qc.awq<bits = 4, group_size = 32, zero_point = true>>) -> tensor<?x32xf16>
  %f = qc.weight "nf4" : !qc.qweight<32x128xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = false>>
  %c = qc.quantized_linear %x, %f : (tensor<?x128xf16>, !qc.qweight<32x128xf16, #qc.bnb4<type = nf4, block_size = 64, double_quant = false>>) -> tensor<?x32xf16>
  return %a, %d, %b, %c : tensor<?x32xf16>, tensor<?x64xf16>, tensor<?x32xf16>, tensor<?x32xf16>
}

// -----

// The weights of one fused linear change together or not at all, so that
// they stay stackable: "k" (N = 8) cannot, so "q" keeps gemm too (on the
// CPU neither can).
// CHECK-LABEL: func.func @fused
// CHECK: qc.weight "q" : !qc.qweight<16x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// CHECK: qc.weight "k" : !qc.qweight<8x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
// CPU-LABEL: func.func @fused
// CPU-NOT: layout =
func.func @fused(%x: tensor<?x64xf16>) -> (tensor<?x16xf16>, tensor<?x8xf16>) {
  %q = qc.weight "q" : !qc.qweight<16x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
  %k = qc.weight "k" : !qc.qweight<8x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>
  %a, %b = qc.fused_linear %x, %q, %k : (tensor<?x64xf16>, !qc.qweight<16x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>, !qc.qweight<8x64xf16, #qc.awq<bits = 4, group_size = 64, zero_point = true>>) -> (tensor<?x16xf16>, tensor<?x8xf16>)
  return %a, %b : tensor<?x16xf16>, tensor<?x8xf16>
}
