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

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::qc {

/// Lanes of an NVIDIA warp, which the warp-level mappings assume.
constexpr int64_t kWarpLanes = 32;

/// A loop index known to be `multiple` * q + `offset`.
struct IndexForm {
  int64_t multiple;
  int64_t offset;
};

/// [token, feature, k] contractions on buffers writing out[token, feature]
/// whose payload yields `out + f(...)` (partial sums over slices of K add
/// up to the whole).
bool isTokenFeatureContraction(linalg::GenericOp op);

/// The fewest bits of storage per step of the reduced (last) loop among
/// what the payload reads along it: inputs indexed by it, and buffers it
/// captures indexed by it or by it divided by a constant (packed 4-bit
/// codes: 4 bits); 0 when nothing is read along it.
int64_t narrowestBitsAlongReduction(linalg::GenericOp op);

/// How many consecutive features (loop 1) share the innermost element of a
/// buffer the payload captures: 8 for AWQ's [K, N/8] words, 1 when every
/// weight is stored along K.
int64_t featurePacking(linalg::GenericOp op);

/// The loop sizes of `op`, as index values built at `b`.
SmallVector<Value> loopSizes(OpBuilder &b, Location loc, linalg::GenericOp op);

/// `prefix` followed by the static sizes of every loop but the first, e.g.
/// qc_linear_4096_4096 ("d" for a dynamic size): profilers and benchmarks
/// pick the linear kernels by name.
FlatSymbolRefAttr kernelName(linalg::GenericOp op, StringRef prefix);

/// A gpu.launch of kernel `name` over tiles: ceil(extentX / tileX) x
/// ceil(extentY / tileY) blocks (one row when `extentY` is null) of
/// `threads` threads, with `workgroup` buffers and `dynamicSharedBytes` of
/// dynamic shared memory (0: none).
gpu::LaunchOp launchTiles(OpBuilder &b, Location loc, FlatSymbolRefAttr name,
                          Value extentX, int64_t tileX, Value extentY,
                          int64_t tileY, int64_t threads,
                          TypeRange workgroup = {},
                          int64_t dynamicSharedBytes = 0);

/// Whether every row of `buffer` starts `bytes`-aligned when the buffer
/// itself does (the runtime and the pool align allocations to 256).
bool rowsAligned(Value buffer, uint64_t bytes);

/// out[token, feature] += sum, where both are in range: tiles overhang the
/// edges, their rows and columns there clamped to the last one.
void addToOutput(OpBuilder &b, Location loc, Value out, Value token,
                 Value feature, Value tokenCount, Value featureCount,
                 Value sum);

/// out[token, feature] = sum, rounded to out's (narrower float) element
/// type, where both are in range (as addToOutput).
void storeToOutput(OpBuilder &b, Location loc, Value out, Value token,
                   Value feature, Value tokenCount, Value featureCount,
                   Value sum);

/// The payload values `roots` of `op` at loop indices `ivs`: only the
/// operations they depend on are cloned; inputs are loaded through their
/// indexing maps; output i's block argument is `outputs[i]`, or loaded from
/// the output where that is null. With `reducedIndex`, what is known of the
/// reduced (last) loop index: the loads of inputs read along it (with
/// aligned rows) that provably fall on a 16-byte boundary say so, the first
/// of each run the LLVM load/store vectorizer merges into one 16-byte load.
/// With `featureIndex`, what is known of the feature (1) loop index: the
/// same for captured loads indexed along the features (AWQ's per-feature
/// scales).
SmallVector<Value>
clonePayloadValues(OpBuilder &b, Location loc, linalg::GenericOp op,
                   ArrayRef<Value> ivs, ArrayRef<Value> outputs,
                   ValueRange roots, std::optional<IndexForm> reducedIndex,
                   std::optional<IndexForm> featureIndex = std::nullopt);

/// clonePayloadValues of everything the payload yields.
SmallVector<Value>
clonePayload(OpBuilder &b, Location loc, linalg::GenericOp op,
             ArrayRef<Value> ivs, ArrayRef<Value> outputs,
             std::optional<IndexForm> reducedIndex,
             std::optional<IndexForm> featureIndex = std::nullopt);

} // namespace mlir::qc

#endif // QC_CONVERSION_CONTRACTIONPAYLOAD_H
