//===- QCOps.h - qc operations ----------------------------------*- C++ -*-===//

#ifndef QC_DIALECT_QC_IR_QCOPS_H
#define QC_DIALECT_QC_IR_QCOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Dialect/QC/IR/QCDialect.h"
#include "qc/Dialect/QC/IR/QCTypes.h"

#define GET_OP_CLASSES
#include "qc/Dialect/QC/IR/QCOps.h.inc"

#endif // QC_DIALECT_QC_IR_QCOPS_H
