//===- QCInterfaces.td - qc attribute interfaces -----------*- tablegen -*-===//

#ifndef QC_DIALECT_QC_IR_QCINTERFACES_TD
#define QC_DIALECT_QC_IR_QCINTERFACES_TD

include "mlir/IR/OpBase.td"

def QC_QuantSchemeAttrInterface : AttrInterface<"QuantSchemeAttrInterface"> {
  let cppNamespace = "::mlir::qc";
  let description = [{
    A weight quantization scheme: which [N, K] weights it can store (N output
    features, K input features) and which tensors store them. Passes and the
    package writer ask the scheme rather than switching over scheme kinds.
  }];
  let methods = [
    InterfaceMethod<
      "Checks that an [n, k] weight can be stored with this scheme.",
      "::llvm::LogicalResult", "verifyWeightShape",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
           "int64_t":$n, "int64_t":$k)>,
    InterfaceMethod<
      "Appends the tensors that store an [n, k] weight, in storage order.",
      "void", "getStorageComponents",
      (ins "int64_t":$n, "int64_t":$k,
           "::llvm::SmallVectorImpl<::mlir::qc::StorageComponent> &":$out)>,
  ];
}

#endif // QC_DIALECT_QC_IR_QCINTERFACES_TD
