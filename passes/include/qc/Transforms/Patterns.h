//===- Patterns.h - qc rewrite pattern sets ---------------------*- C++ -*-===//

#ifndef QC_TRANSFORMS_PATTERNS_H
#define QC_TRANSFORMS_PATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::qc {

/// add + rms_norm -> add_rms_norm; rope(keys) + kv_cache_write ->
/// rope_kv_cache_write.
void populateQCFusionPatterns(RewritePatternSet &patterns);

} // namespace mlir::qc

#endif // QC_TRANSFORMS_PATTERNS_H
