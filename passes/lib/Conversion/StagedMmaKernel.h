//===- StagedMmaKernel.h - block-tiled tensor-core linear kernel ----------===//
//
// The tensor-core linear kernel for steps of many tokens on NVIDIA GPUs: a
// block tile of tokens x features whose operands pass through shared memory
// (see StagedMmaKernel.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_STAGEDMMAKERNEL_H
#define QC_CONVERSION_STAGEDMMAKERNEL_H

#include "TensorCoreFragments.h"

namespace mlir::qc {

/// The block tile of the staged kernel: `tokens` x `features` outputs
/// (multiples of 32), K staged `depth` (a multiple of 32) at a time in
/// `stages` (2 or more) shared-memory buffers.
struct StagedTile {
  int64_t tokens = 64;
  int64_t features = 64;
  int64_t depth = 32;
  int64_t stages = 4;
};

/// The f16 buffer payload factor `factor` of `op` reads as it is at
/// [row, k], `rowLoop` the token (0) or feature (1) loop: an input or a
/// captured buffer with 16-byte aligned rows, which the staged kernels copy
/// by cp.async. Null when the factor is computed.
Value copiedRows(linalg::GenericOp op, Value factor, unsigned rowLoop);

/// Bytes of shared memory the tile's buffers take.
int64_t stagedTileBytes(const StagedTile &tile);

/// Builds at `b` a gpu.launch computing the contraction `op` (with
/// `factors`, loop sizes `sizes`, K a multiple of `tile.depth`) by tiles of
/// `tile`: every block stages the activations and the (dequantized)
/// weights of a K slice in shared memory, cp.async for f16 rows read as
/// they are, registers for computed ones, while its four warps run
/// ldmatrix + mma.sync m16n8k16 on the slice staged before.
void buildStagedMmaKernel(OpBuilder &b, Location loc, linalg::GenericOp op,
                          const Factors &factors, ArrayRef<Value> sizes,
                          const StagedTile &tile);

} // namespace mlir::qc

#endif // QC_CONVERSION_STAGEDMMAKERNEL_H
