// RUN: quant-opt %s -split-input-file --pass-pipeline="builtin.module(gpu.module(qc-hoist-kernel-allocas))" | FileCheck %s

// The per-thread accumulator of a kernel: its alloca scope is inlined and
// the static alloca moves to the entry block; a dynamic one stays.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    // CHECK-LABEL: gpu.func @attention(
    // CHECK-NEXT: %[[ACC:.*]] = memref.alloca() : memref<8xf32>
    // CHECK-NOT: memref.alloca_scope
    // CHECK: scf.if
    // CHECK: memref.store %{{.*}}, %[[ACC]]
    // CHECK: memref.alloca(%{{.*}}) : memref<?xf32>
    gpu.func @attention(%out: memref<8xf32>, %n: index) kernel {
      %c0 = arith.constant 0 : index
      %tid = gpu.thread_id x
      %in = arith.cmpi slt, %tid, %n : index
      scf.if %in {
        memref.alloca_scope {
          %acc = memref.alloca() : memref<8xf32>
          %f = arith.constant 0.0 : f32
          memref.store %f, %acc[%c0] : memref<8xf32>
          %v = memref.load %acc[%c0] : memref<8xf32>
          memref.store %v, %out[%c0] : memref<8xf32>
          %dyn = memref.alloca(%n) : memref<?xf32>
          memref.store %f, %dyn[%c0] : memref<?xf32>
        }
      }
      gpu.return
    }
  }
}
