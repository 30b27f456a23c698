// RUN: quant-opt %s --convert-qc-to-linalg | FileCheck %s
// RUN: quant-opt %s --convert-qc-to-linalg --canonicalize --qc-kernels-to-llvm-cpu | FileCheck %s --check-prefix=LLVM

!cache = !qc.kv_cache<num_layers = 1, num_kv_heads = 1, head_dim = 4, dtype = f32>

// Next to @qc_argmax, the pass emits the sampling kernel @qc_sample for the
// graph's vocabulary (16 here), with the C interface the runtime calls.
// CHECK-LABEL: func.func @qc_argmax(
// CHECK-LABEL: func.func @qc_sample(
// CHECK-SAME: %[[LOGITS:[^:]*]]: memref<?x16xf32>, %[[TEMP:[^:]*]]: memref<?xf32>, %[[TOPK:[^:]*]]: memref<?xi32>, %[[TOPP:[^:]*]]: memref<?xf32>,
// CHECK-SAME: %[[PENALTY:[^:]*]]: memref<?xf32>, %[[HISTORY:[^:]*]]: memref<?x?xi32>, %[[UNIFORM:[^:]*]]: memref<?xf32>, %[[OUT:[^:]*]]: memref<?xi32>)
// CHECK-SAME: attributes {llvm.emit_c_interface}
// One row's scratch: the processed logits and the heap of token ids.
// CHECK: %[[VALS:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[IDS:.*]] = memref.alloc() : memref<16xi32>
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}}
// CHECK: memref.load %[[TEMP]][%[[ROW]]]
// CHECK: memref.load %[[PENALTY]][%[[ROW]]]
// CHECK: memref.load %[[TOPK]][%[[ROW]]]
// CHECK: memref.load %[[TOPP]][%[[ROW]]]
// CHECK: memref.load %[[UNIFORM]][%[[ROW]]]
// Repetition penalty over the history, from the raw logit.
// CHECK: memref.load %[[HISTORY]][%[[ROW]], %{{.*}}]
// CHECK: scf.if
// CHECK: arith.mulf
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[VALS]]
// Temperature, and the running maximum.
// CHECK: arith.divf
// CHECK: arith.maximumf
// The heap, the top-k / top-p walks and the draw.
// CHECK: scf.while
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[ROW]]] : memref<?xi32>
// CHECK: return

// The CPU pipeline lowers it to LLVM with its C-interface wrapper.
// LLVM: llvm.func @qc_sample(
// LLVM: llvm.func @_mlir_ciface_qc_sample(
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %cache: !cache) -> (tensor<?x16xf32>, !cache) {
  %emb = qc.weight "emb" : tensor<4x16xf32>
  %h = qc.embedding %emb, %tokens : (tensor<4x16xf32>, tensor<?xi32>) -> tensor<?x16xf32>
  return %h, %cache : tensor<?x16xf32>, !cache
}
