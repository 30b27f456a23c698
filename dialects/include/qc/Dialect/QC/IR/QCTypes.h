//===- QCTypes.h - qc types -------------------------------------*- C++ -*-===//

#ifndef QC_DIALECT_QC_IR_QCTYPES_H
#define QC_DIALECT_QC_IR_QCTYPES_H

#include "mlir/IR/BuiltinTypes.h"
#include "qc/Dialect/QC/IR/QCAttrs.h"

#define GET_TYPEDEF_CLASSES
#include "qc/Dialect/QC/IR/QCOpsTypes.h.inc"

#endif // QC_DIALECT_QC_IR_QCTYPES_H
