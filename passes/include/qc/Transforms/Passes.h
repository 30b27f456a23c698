//===- Passes.h - qc graph transformations ----------------------*- C++ -*-===//

#ifndef QC_TRANSFORMS_PASSES_H
#define QC_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "qc/Dialect/QC/IR/QCDialect.h"

namespace mlir::qc {

#define GEN_PASS_DECL
#include "qc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qc/Transforms/Passes.h.inc"

} // namespace mlir::qc

#endif // QC_TRANSFORMS_PASSES_H
