//===- QCAttrs.h - qc attributes --------------------------------*- C++ -*-===//

#ifndef QC_DIALECT_QC_IR_QCATTRS_H
#define QC_DIALECT_QC_IR_QCATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"

#include <string>

namespace mlir::qc {

/// One tensor that stores part of a quantized weight, e.g. AWQ's `qzeros`.
struct StorageComponent {
  std::string suffix;
  RankedTensorType type;
  /// The dimension that grows with N: stacking weights along N concatenates
  /// this component along it. -1 when it cannot be stacked (statistics over
  /// the whole matrix, such as double quant's nested absmax).
  int64_t nDim = -1;
};

/// Parses a double attribute parameter (generated parsers call this).
FailureOr<llvm::APFloat> parseF64(AsmParser &parser);

} // namespace mlir::qc

#include "qc/Dialect/QC/IR/QCAttrInterfaces.h.inc"
#include "qc/Dialect/QC/IR/QCEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qc/Dialect/QC/IR/QCAttrs.h.inc"

#endif // QC_DIALECT_QC_IR_QCATTRS_H
