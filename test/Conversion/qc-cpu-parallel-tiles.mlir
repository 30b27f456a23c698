// RUN: quant-opt %s -split-input-file --qc-cpu-parallel-tiles | FileCheck %s
// RUN: quant-opt %s -split-input-file --qc-cpu-parallel-tiles="min-work=0" | FileCheck %s --check-prefix=ALL
// RUN: quant-opt %s -split-input-file --qc-cpu-parallel-tiles --expand-strided-metadata --lower-affine --convert-scf-to-cf --convert-arith-to-llvm --convert-index-to-llvm --finalize-memref-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM
// RUN: not quant-opt %s --qc-cpu-parallel-tiles="min-work=-1" 2>&1 | FileCheck %s --check-prefix=BAD

// A linear layer's loop over (tokens, features) is split along the static
// feature dimension: the tile runs features [begin, end) of every token.
// Its captured buffers travel in a stack record; a constant is rebuilt.

// CHECK: llvm.mlir.global external @qc_cpu_parallel_for() {{.*}} : !llvm.ptr
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: memref<?x64xf32>, %[[W:.*]]: memref<512x64xf32>, %[[Y:.*]]: memref<?x512xf32>)
// CHECK: %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, i64)>
// CHECK-NOT: scf.parallel
// CHECK: %[[N:.*]] = memref.dim %[[X]]
// CHECK: llvm.store
// CHECK: llvm.store
// CHECK: llvm.store
// CHECK: llvm.store
// CHECK: %[[EXTENT:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK: %[[G:.*]] = llvm.mlir.addressof @qc_cpu_parallel_for
// CHECK: %[[FN:.*]] = llvm.load %[[G]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[SERIAL:.*]] = llvm.icmp "eq" %[[FN]]
// CHECK: scf.if %[[SERIAL]] {
// CHECK:   func.call @linear_tile0_thunk(%[[SLOT]], %{{.*}}, %[[EXTENT]])
// CHECK: } else {
// CHECK:   %[[T:.*]] = func.constant @linear_tile0_thunk
// CHECK:   %[[TP:.*]] = builtin.unrealized_conversion_cast %[[T]]
// The cost of one feature: 64 steps of 6 ops (loads, multiply-add, store)
// for each of 64 tokens (the dynamic token count's stand-in).
// CHECK:   %[[COST:.*]] = llvm.mlir.constant(24576 : i64)
// CHECK:   llvm.call %[[FN]](%[[TP]], %[[SLOT]], %[[EXTENT]], %[[COST]])
// CHECK: func.func private @linear_tile0(%[[B:.*]]: index, %[[E:.*]]: index, %{{.*}}: memref<?x64xf32>, %{{.*}}: memref<512x64xf32>, %{{.*}}: memref<?x512xf32>, %[[T:.*]]: index)
// CHECK:   scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %[[B]]) to (%[[T]], %[[E]])
// CHECK:     scf.for
// CHECK: func.func private @linear_tile0_thunk(%[[REC:.*]]: !llvm.ptr, %[[LO:.*]]: i64, %[[HI:.*]]: i64)
// CHECK:   llvm.getelementptr %[[REC]][0, 0]
// CHECK:   llvm.load
// CHECK:   builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<{{.*}}> to memref<?x64xf32>
// CHECK:   llvm.getelementptr %[[REC]][0, 3]
// CHECK:   call @linear_tile0(

// After the LLVM lowering no cast is left: the record's fields are the
// descriptors the lowered tile takes apart.
// LLVM: llvm.mlir.global external @qc_cpu_parallel_for()
// LLVM: llvm.func @linear(
// LLVM: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, i64, i64) -> ()
// LLVM: llvm.func @linear_tile0_thunk(
// LLVM-NOT: unrealized_conversion_cast

// BAD: qc-cpu-parallel-tiles: min-work must be at least 0, got -1

func.func @linear(%x: memref<?x64xf32>, %w: memref<512x64xf32>,
                  %y: memref<?x512xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c512 = arith.constant 512 : index
  %t = memref.dim %x, %c0 : memref<?x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%t, %c512) step (%c1, %c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %a = memref.load %x[%i, %k] : memref<?x64xf32>
      %b = memref.load %w[%j, %k] : memref<512x64xf32>
      %acc = memref.load %y[%i, %j] : memref<?x512xf32>
      %p = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %p : f32
      memref.store %s, %y[%i, %j] : memref<?x512xf32>
    }
    scf.reduce
  }
  return
}

// -----

// Small static loops stay inline (a 256-wide element-wise op is less work
// than a dispatch); with min-work=0 everything is split. A loop nested in
// another parallel loop is never split on its own.

// CHECK-LABEL: func.func @small(
// CHECK-NOT: qc_cpu_parallel_for
// CHECK: scf.parallel
// CHECK-NOT: func.func private @small_tile

// ALL-LABEL: func.func @small(
// ALL: llvm.call
// ALL: func.func private @small_tile0(
// ALL: scf.parallel
// ALL: scf.parallel
// ALL-NOT: func.func private @small_tile1
func.func @small(%x: memref<4x256xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  %f = arith.constant 2.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c256) step (%c1) {
      %v = memref.load %x[%i, %j] : memref<4x256xf32>
      %m = arith.mulf %v, %f : f32
      memref.store %m, %x[%i, %j] : memref<4x256xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}
