// RUN: quant-compile --emit=qc %models/quantc-tiny-llama --dtype=f32 | quant-opt --qc-to-llvm-cpu | FileCheck %s
// RUN: quant-compile --emit=qc %models/quantc-tiny-llama --quant=awq | quant-opt --qc-to-kernels | quant-opt --qc-kernels-to-llvm-cpu | FileCheck %s --check-prefix=AWQ

// The whole model lowers to one LLVM function with a C interface the runtime
// calls; no qc, linalg, scf or memref op is left.
// CHECK: llvm.func @qc_forward(
// CHECK: llvm.func @_mlir_ciface_qc_forward(
// CHECK-NOT: qc.
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
// CHECK-NOT: memref.
// AWQ: llvm.func @qc_forward(
// AWQ: llvm.lshr
// AWQ: llvm.func @_mlir_ciface_qc_forward(
