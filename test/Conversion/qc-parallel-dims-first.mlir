// RUN: quant-opt %s --pass-pipeline="builtin.module(func.func(qc-parallel-dims-first))" | FileCheck %s

// LLM.int8's column absmax reduces over tokens: its loops are interchanged
// so the column (parallel) loop is outermost; a generic already in that
// order is left alone.
#tc = affine_map<(t, c) -> (t, c)>
#c = affine_map<(t, c) -> (c)>
// CHECK-DAG: #[[CT:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @column_absmax(
// CHECK: linalg.generic {indexing_maps = [#[[CT]], #[[C]]], iterator_types = ["parallel", "reduction"]}
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]}
func.func @column_absmax(%x: memref<?x8xf32>, %out: memref<8xf32>, %rows: memref<?xf32>) {
  linalg.generic {indexing_maps = [#tc, #c], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<?x8xf32>) outs(%out : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = math.absf %v : f32
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#tc, affine_map<(t, c) -> (t)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x8xf32>) outs(%rows : memref<?xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %m = arith.maximumf %acc, %v : f32
    linalg.yield %m : f32
  }
  return
}
