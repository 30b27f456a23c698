//===- InitAllPasses.h - passes quantc tools register -----------*- C++ -*-===//

#ifndef QC_INITALLPASSES_H
#define QC_INITALLPASSES_H

#include "mlir/InitAllPasses.h"
#include "qc/Conversion/Passes.h"
#include "qc/Pipelines/Pipelines.h"
#include "qc/Transforms/Passes.h"

namespace mlir::qc {

/// Every upstream pass plus quantc's own passes and named pipelines.
inline void registerAllQCPasses() {
  registerAllPasses();
  registerQCTransformsPasses();
  registerQCConversionPasses();
  registerQCPipelines();
}

} // namespace mlir::qc

#endif // QC_INITALLPASSES_H
