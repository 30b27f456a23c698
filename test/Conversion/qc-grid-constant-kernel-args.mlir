// RUN: quant-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(gpu.module(qc-grid-constant-kernel-args))" | FileCheck %s

// A tensor map passed by value and used by address (its marker cast)
// becomes a 64-byte-aligned byval grid-constant pointer; other arguments
// and unmarked casts are left alone.
// CHECK-LABEL: gpu.module @kernels
// CHECK: llvm.func @tma(%[[MAP:.*]]: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<16 x i64>, nvvm.grid_constant}, %[[N:.*]]: i32, %[[OTHER:.*]]: !llvm.array<16 x i64>)
// CHECK-SAME: nvvm.kernel
// CHECK-NOT: qc.kernel_argument_address
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[MAP]], %{{.*}}, box[%[[N]], %[[N]]]
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[MAP]], %{{.*}}, box[%[[N]], %[[N]]]
// CHECK: builtin.unrealized_conversion_cast %[[OTHER]] : !llvm.array<16 x i64> to !llvm.ptr
gpu.module @kernels {
  llvm.func @tma(%map: !llvm.array<16 x i64>, %n: i32, %other: !llvm.array<16 x i64>) attributes {nvvm.kernel} {
    %bar = llvm.mlir.zero : !llvm.ptr<3>
    %dst = llvm.mlir.zero : !llvm.ptr<7>
    %a = builtin.unrealized_conversion_cast %map : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
    nvvm.cp.async.bulk.tensor.shared.cluster.global %dst, %a, %bar, box[%n, %n] : !llvm.ptr<7>, !llvm.ptr
    %b = builtin.unrealized_conversion_cast %map : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
    nvvm.cp.async.bulk.tensor.shared.cluster.global %dst, %b, %bar, box[%n, %n] : !llvm.ptr<7>, !llvm.ptr
    %c = builtin.unrealized_conversion_cast %other : !llvm.array<16 x i64> to !llvm.ptr
    llvm.return
  }
}

// -----

gpu.module @kernels {
  llvm.func @by_value_too(%map: !llvm.array<16 x i64>) -> !llvm.array<16 x i64> attributes {nvvm.kernel} {
    %a = builtin.unrealized_conversion_cast %map : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
    // expected-error @below {{'llvm.return' op uses kernel argument 0 by value, which is passed by address (a marker cast takes its address)}}
    llvm.return %map : !llvm.array<16 x i64>
  }
}

// -----

gpu.module @kernels {
  llvm.func @not_an_argument() attributes {nvvm.kernel} {
    %map = llvm.mlir.zero : !llvm.array<16 x i64>
    // expected-error @below {{takes the address of a value that is not an argument of an NVVM kernel (an llvm.func with nvvm.kernel)}}
    %a = builtin.unrealized_conversion_cast %map : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
    llvm.return
  }
}

// -----

gpu.module @kernels {
  llvm.func @not_a_kernel(%map: !llvm.array<16 x i64>) {
    // expected-error @below {{takes the address of a value that is not an argument of an NVVM kernel (an llvm.func with nvvm.kernel)}}
    %a = builtin.unrealized_conversion_cast %map : !llvm.array<16 x i64> to !llvm.ptr {qc.kernel_argument_address}
    llvm.return
  }
}
