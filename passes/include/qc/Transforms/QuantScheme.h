//===- QuantScheme.h - quantization options -> scheme attribute -*- C++ -*-===//
//
// One place turns HF-style quantization options into a qc scheme attribute:
// the qc-quantize pass, quant-compile's --quant flags and the import of
// pre-quantized checkpoints all go through it, so they agree on defaults and
// on which option combinations are errors.
//
//===----------------------------------------------------------------------===//

#ifndef QC_TRANSFORMS_QUANTSCHEME_H
#define QC_TRANSFORMS_QUANTSCHEME_H

#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Transforms/Passes.h"

namespace mlir::qc {

/// The scheme `options` describe, or an error through `emitError` (unknown
/// method, an option of another method set to a non-default value, or
/// parameters the scheme rejects). `method == "none"` is not a scheme.
FailureOr<QuantSchemeAttrInterface>
buildQuantScheme(MLIRContext *context, const QCQuantizeOptions &options,
                 function_ref<InFlightDiagnostic()> emitError);

/// Whether the module called `module` (e.g. "model.layers.0.mlp.up_proj")
/// stays in floating point under `options` (skip list and lm_head rule).
bool isSkippedModule(const QCQuantizeOptions &options, StringRef module);

} // namespace mlir::qc

#endif // QC_TRANSFORMS_QUANTSCHEME_H
