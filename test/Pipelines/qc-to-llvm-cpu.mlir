// RUN: quant-compile --emit=qc %models/quantc-tiny-llama --dtype=f32 | quant-opt --qc-to-llvm-cpu | FileCheck %s
// RUN: quant-compile --emit=qc %models/quantc-tiny-llama --quant=awq | quant-opt --qc-to-kernels | quant-opt --qc-kernels-to-llvm-cpu | FileCheck %s --check-prefix=AWQ

// The whole model lowers to one LLVM function with a C interface the runtime
// calls, and the tiles of its large parallel loops that the runtime's
// threads run through the qc_cpu_parallel_for hook; no qc, linalg, scf or
// memref op is left.
// CHECK: llvm.mlir.global external @qc_cpu_parallel_for()
// CHECK: llvm.func @qc_forward(
// CHECK: llvm.func @_mlir_ciface_qc_forward(
// CHECK: llvm.func @qc_forward_tile{{[0-9]+}}(
// CHECK-NOT: qc.
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
// CHECK-NOT: memref.
// AWQ: llvm.func @qc_forward(
// AWQ: llvm.func @_mlir_ciface_qc_forward(
// AWQ: llvm.func @qc_forward_tile{{[0-9]+}}(
// AWQ: llvm.lshr
