// RUN: quant-opt %s --qc-dedup-gpu-modules | FileCheck %s

// Outlining gave each launch its own module: @k_0 is @k up to its names and
// goes, its launch calls @k::@k; @other stores a different constant (a layer
// index, say) and stays.
// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK: func.func @host(%[[B:.*]]: memref<8xf32>)
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: gpu.launch_func @k::@k blocks in (%[[C1]], %[[C1]], %[[C1]]) threads in (%[[C1]], %[[C1]], %[[C1]]) args(%[[B]] : memref<8xf32>)
// CHECK-NEXT: gpu.launch_func @k::@k blocks
// CHECK-NEXT: gpu.launch_func @other::@other blocks
// CHECK: gpu.module @k {
// CHECK: gpu.func @k(
// CHECK-NOT: gpu.module @k_0
// CHECK: gpu.module @other {
module attributes {gpu.container_module} {
  func.func @host(%buf: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @k::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buf : memref<8xf32>)
    gpu.launch_func @k_0::@k_0 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buf : memref<8xf32>)
    gpu.launch_func @other::@other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buf : memref<8xf32>)
    return
  }
  gpu.module @k {
    gpu.func @k(%b: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %b[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @k_0 {
    gpu.func @k_0(%b: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %b[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @other {
    gpu.func @other(%b: memref<8xf32>) kernel {
      %c1 = arith.constant 1 : index
      %v = arith.constant 1.0 : f32
      memref.store %v, %b[%c1] : memref<8xf32>
      gpu.return
    }
  }
}
