//===- WgmmaKernel.h - warpgroup tensor-core linear kernel (sm_90a) -------===//
//
// The Hopper form of the staged kernel: one warpgroup per block issues
// wgmma.mma_async on operands staged in 128-byte-swizzled shared memory
// (see WgmmaKernel.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_WGMMAKERNEL_H
#define QC_CONVERSION_WGMMAKERNEL_H

#include "TensorCoreFragments.h"

namespace mlir::qc {

/// The block tile of the wgmma kernel: `tokens` (64 per warpgroup: one
/// m64 instruction row each) x `features` (the instruction's n: a multiple
/// of 16 warpgroups, up to 256), K staged 64 at a time (one 128-byte
/// swizzle row of f16) in `stages` (3 or more) buffers.
struct WgmmaTile {
  static constexpr int64_t kDepth = 64;
  static constexpr int64_t kWarpgroupTokens = 64;
  int64_t tokens = 64;
  int64_t features = 64;
  int64_t stages = 6;

  int64_t warpgroups() const { return tokens / kWarpgroupTokens; }
  /// The tile for wide layers at many tokens (wgmma-wide-min-tokens).
  static WgmmaTile wide() { return {128, 256, 4}; }
};

/// Dynamic shared memory the kernel asks for: the buffers and their
/// mbarriers, plus 1 KiB to align them to the swizzle pattern's 1024-byte
/// period.
int64_t wgmmaSharedBytes(const WgmmaTile &tile);

/// Builds at `b` a gpu.launch (kernel `namePrefix`_<N>_<K>) computing the
/// contraction `op` (with
/// `factors`, loop sizes `sizes`, K a multiple of 64) by tiles of `tile`:
/// TMA (`tma` and both operands f16 rows in memory: tensor maps made on
/// the host, one mbarrier per stage), cp.async (f16 rows read as they are)
/// or registers (computed rows) fill swizzled shared memory `stages - 2`
/// slices ahead of the warpgroup's wgmma.mma_async m64nNk16 (f16 x f16 +
/// f32), one slice's multiplies in flight while the next are issued.
/// `weightRows`, when given, is an f16 [features, K] buffer holding the
/// weight factor, copied instead of the payload's.
void buildWgmmaKernel(OpBuilder &b, Location loc, linalg::GenericOp op,
                      const Factors &factors, ArrayRef<Value> sizes,
                      const WgmmaTile &tile, StringRef namePrefix,
                      Value weightRows, bool tma);

/// Builds at `b` an f16 [features, K] allocation and a gpu.launch
/// (`qc_dequantize_<N>_<K>`) that fills it with the weight factor of `op`
/// (its dequantization, rounded to f16 as the other kernels do), a thread
/// per 8 consecutive k. Returns the allocation; the caller frees it.
Value buildDequantizedWeights(OpBuilder &b, Location loc, linalg::GenericOp op,
                              const Factors &factors, ArrayRef<Value> sizes);

} // namespace mlir::qc

#endif // QC_CONVERSION_WGMMAKERNEL_H
