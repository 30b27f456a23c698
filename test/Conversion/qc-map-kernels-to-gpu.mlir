// RUN: quant-opt %s -split-input-file -verify-diagnostics --qc-map-kernels-to-gpu="threads=128" | FileCheck %s

// A [tokens, 256] parallel nest: tiles of one token by 128 features (grid
// over the outer loop, threads over the inner one); the host's buffers move
// to the device; a table read in the kernel is read from the kernel's own
// module; a sequential scan becomes a one-thread launch.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @kernels(
// CHECK: %[[BUF:.*]] = gpu.alloc (%{{.*}}) : memref<?x256xf32>
// CHECK-NOT: memref.get_global
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} step (%[[ONE:.*]], %[[TILE:.*]]) {
// CHECK: scf.parallel
// CHECK: memref.get_global @table
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[L:.*]], {{.*}} = %[[L]], {{.*}} = %[[L]]) threads({{.*}}) in ({{.*}} = %[[L]], {{.*}} = %[[L]], {{.*}} = %[[L]])
// CHECK-NEXT: scf.for
// CHECK: gpu.terminator
// CHECK: gpu.memcpy %{{.*}}, %[[BUF]]
// CHECK: gpu.dealloc %[[BUF]]
func.func @kernels(%a: memref<?x256xf32>, %h: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  %n = memref.dim %a, %c0 : memref<?x256xf32>
  %b = memref.alloc(%n) : memref<?x256xf32>
  %t = memref.get_global @table : memref<4xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c256) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<?x256xf32>
    %k = arith.remui %j, %c4 : index
    %s = memref.load %t[%k] : memref<4xf32>
    %w = arith.mulf %v, %s : f32
    memref.store %w, %b[%i, %j] : memref<?x256xf32>
  }
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %b[%i, %c0] : memref<?x256xf32>
    memref.store %v, %h[%i] : memref<?xf32>
  }
  memref.copy %b, %a : memref<?x256xf32> to memref<?x256xf32>
  memref.dealloc %b : memref<?x256xf32>
  return
}

// -----

// A loop whose constant extent is below the thread count is one tile: four
// heads, four threads.
// CHECK-LABEL: func.func @narrow(
// CHECK: %[[FOUR:.*]] = arith.constant 4 : index
// CHECK: %[[STEP:.*]] = arith.muli %{{.*}}, %[[FOUR]]
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[FOUR]]) step (%[[STEP]])
func.func @narrow(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %f, %a[%i] : memref<4xf32>
  }
  return
}

// -----

// A host choice between launches keeps its place, with the buffer one
// branch allocates for its kernels (the dequantized weights of the wgmma
// path) moved to the device; it is not mistaken for a sequential scan.
// CHECK-LABEL: func.func @choice_with_buffer(
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: %[[W:.*]] = gpu.alloc () : memref<16x64xf16>
// CHECK-NEXT: gpu.launch
// CHECK: memref.store %{{.*}}, %[[W]]
// CHECK: gpu.terminator
// CHECK: gpu.dealloc %[[W]] : memref<16x64xf16>
// CHECK-NEXT: } else {
// CHECK-NEXT: gpu.launch
func.func @choice_with_buffer(%n: index, %out: memref<16x64xf16>) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f16
  %many = arith.cmpi uge, %n, %c16 : index
  scf.if %many {
    %w = memref.alloc() : memref<16x64xf16>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      memref.store %f, %w[%tx, %tx] : memref<16x64xf16>
      gpu.terminator
    }
    memref.dealloc %w : memref<16x64xf16>
  } else {
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      memref.store %f, %out[%tx, %tx] : memref<16x64xf16>
      gpu.terminator
    }
  }
  return
}

// -----

// A choice whose other branch still holds the work the kernel of the first
// does itself (the AWQ decode kernel's zero fill, copy and f16 rounding):
// its copy becomes a device copy and its parallel loop a kernel, tiled like
// one at the top level.
// CHECK-LABEL: func.func @choice_with_loops(
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: gpu.launch
// CHECK: } else {
// CHECK-NEXT: gpu.memcpy %[[ACC:.*]], %{{.*}} : memref<16x64xf32>, memref<16x64xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} step (%{{.*}}, %{{.*}}) {
// CHECK-NEXT: scf.parallel
// CHECK: memref.load %[[ACC]]
// CHECK: arith.truncf
func.func @choice_with_loops(%n: index, %zero: memref<16x64xf32>, %acc: memref<16x64xf32>, %out: memref<16x64xf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f16
  %few = arith.cmpi ule, %n, %c16 : index
  scf.if %few {
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      memref.store %f, %out[%tx, %tx] : memref<16x64xf16>
      gpu.terminator
    }
  } else {
    memref.copy %zero, %acc : memref<16x64xf32> to memref<16x64xf32>
    scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
      %v = memref.load %acc[%i, %j] : memref<16x64xf32>
      %h = arith.truncf %v : f32 to f16
      memref.store %h, %out[%i, %j] : memref<16x64xf16>
    }
  }
  return
}

// -----

// Host code that reads memory would read the device's memory from the CPU.
func.func @host_load(%a: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.load' op would run on the host and touch device memory; the GPU pipeline expects it inside a kernel loop}}
  %v = memref.load %a[%c0] : memref<4xf32>
  return %v : f32
}

// -----

// A kernel has no results to give back to the host.
func.func @loop_result(%n: index) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'scf.for' op a kernel cannot return values}}
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c0) -> (index) {
    %s = arith.addi %acc, %i : index
    scf.yield %s : index
  }
  return %r : index
}

// -----

// expected-error @+1 {{'func.func' op expected straight-line host code around the kernels}}
func.func @branches(%c: i1) {
  cf.cond_br %c, ^a, ^b
^a:
  return
^b:
  return
}

// -----

// A parallel loop inside a sequential one would be a launch inside a
// launch (qc-parallel-dims-first puts linalg's parallel loops outermost).
func.func @nested(%a: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  // expected-error @+1 {{'scf.for' op has a parallel loop inside a sequential one; the GPU pipeline maps only outermost parallel loops}}
  scf.for %i = %c0 to %c4 step %c1 {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      memref.store %f, %a[%i, %j] : memref<4x8xf32>
    }
  }
  return
}
