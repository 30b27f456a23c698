//===- InitAllDialects.h - dialects quantc tools register -------*- C++ -*-===//

#ifndef QC_INITALLDIALECTS_H
#define QC_INITALLDIALECTS_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "qc/Dialect/QC/IR/QCDialect.h"

namespace mlir::qc {

/// qc plus every upstream dialect and extension the lowering pipelines use
/// (linalg, vector, gpu, nvgpu, NVVM, ROCDL, LLVM, ...): the tools parse and
/// print IR at any stage of the pipeline, and translate to LLVM IR (which
/// gpu-module-to-binary does for the kernels of every GPU target).
inline void registerAllQCDialects(DialectRegistry &registry) {
  registry.insert<QCDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}

} // namespace mlir::qc

#endif // QC_INITALLDIALECTS_H
