//===- ContractionPayload.h - cloning linalg payloads into GPU kernels ----===//
//
// The GPU mappings of the kernel builders' contractions and row reductions
// (qc-warp-contractions, qc-tensor-core-contractions) evaluate a
// linalg.generic's payload at loop indices of their choosing: inputs loaded
// through their indexing maps, linalg.index replaced by the indices.
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_CONTRACTIONPAYLOAD_H
#define QC_CONVERSION_CONTRACTIONPAYLOAD_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qc {

/// [token, feature, k] contractions on buffers writing out[token, feature]
/// whose payload yields `out + f(...)` (partial sums over slices of K add
/// up to the whole).
bool isTokenFeatureContraction(linalg::GenericOp op);

/// Whether every row of `buffer` starts `bytes`-aligned when the buffer
/// itself does (the runtime and the pool align allocations to 256).
bool rowsAligned(Value buffer, uint64_t bytes);

/// The payload values `roots` of `op` at loop indices `ivs`: only the
/// operations they depend on are cloned; inputs are loaded through their
/// indexing maps (with `alignment` bytes when non-zero and the input is
/// read along the reduced, last loop with aligned rows: the first load of a
/// run the LLVM load/store vectorizer merges); output i's block argument is
/// `outputs[i]`, or loaded from the output where that is null.
SmallVector<Value> clonePayloadValues(OpBuilder &b, Location loc,
                                      linalg::GenericOp op, ArrayRef<Value> ivs,
                                      ArrayRef<Value> outputs, ValueRange roots,
                                      uint64_t alignment);

/// clonePayloadValues of everything the payload yields.
SmallVector<Value> clonePayload(OpBuilder &b, Location loc,
                                linalg::GenericOp op, ArrayRef<Value> ivs,
                                ArrayRef<Value> outputs, uint64_t alignment);

} // namespace mlir::qc

#endif // QC_CONVERSION_CONTRACTIONPAYLOAD_H
