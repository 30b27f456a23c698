//===- Passes.td - qc conversion passes --------------------*- tablegen -*-===//

#ifndef QC_CONVERSION_PASSES_TD
#define QC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQCToLinalg : Pass<"convert-qc-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower the qc forward graph to linalg/tensor/scf/memref kernels";
  let description = [{
    Replaces `func.func @forward` by `func.func @qc_forward`, the compiled
    model's entry point, with an explicit ABI the runtime fills in
    (include/qc/ABI/ForwardABI.h):

      (tokens: tensor<?xi32>, positions: tensor<?xi32>,
       slot_mapping: memref<?xi32>, token_sequence: memref<?xi32>,
       block_tables: memref<?x?xi32>,
       k_cache: memref<L x ? x W x T>, v_cache: memref<L x ? x W x T>,
       logits: memref<? x V x f32>, weights...)

    Every qc op becomes upstream IR built by the shared kernel builders
    (QCKernels.h): linalg.generic for matmuls (dequantization fused into the
    reduction), norms, rope and elementwise ops; loops over memrefs for the
    paged KV cache and attention. Weights become arguments in first-use
    order; quantized weights pass their storage tensors. The module attribute
    `qc.abi.weights` lists the argument names.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::func::FuncDialect"];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"16",
           "Tokens per KV-cache block">,
  ];
}

#endif // QC_CONVERSION_PASSES_TD
