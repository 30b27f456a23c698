//===- Fusion.cpp - qc operator fusion ------------------------------------===//

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Transforms/Passes.h"
#include "qc/Transforms/Patterns.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCFUSE
#include "qc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

// rms_norm(add(a, b), w) = add_rms_norm(a, b, w)#1, and add(a, b) =
// add_rms_norm(a, b, w)#0 for the residual stream's other users.
struct FuseAddRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp norm,
                                PatternRewriter &rewriter) const override {
    auto add = norm.getInput().getDefiningOp<AddOp>();
    if (!add)
      return rewriter.notifyMatchFailure(norm, "input is not a qc.add");
    auto fused = AddRMSNormOp::create(
        rewriter, rewriter.getFusedLoc({add.getLoc(), norm.getLoc()}),
        add.getType(), norm.getType(), add.getLhs(), add.getRhs(),
        norm.getWeight(), norm.getEpsilonAttr());
    rewriter.replaceOp(norm, fused.getNormed());
    rewriter.replaceOp(add, fused.getSum());
    return success();
  }
};

// kv_cache_write(c[l], rope(k, pos), v, pos) = rope_kv_cache_write(c[l], k,
// v, pos) when the rotated keys have no other user and rope rotates exactly
// the cache's heads.
struct FuseRopeKVCacheWrite : OpRewritePattern<KVCacheWriteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(KVCacheWriteOp write,
                                PatternRewriter &rewriter) const override {
    auto rope = write.getKey().getDefiningOp<RopeOp>();
    if (!rope || !rope->hasOneUse())
      return rewriter.notifyMatchFailure(write, "keys are not a rope's only use");
    KVCacheType cache = write.getCache().getType();
    if (rope.getPositions() != write.getPositions() ||
        rope.getNumHeads() != cache.getNumKvHeads() ||
        rope.getHeadDim() != cache.getHeadDim())
      return rewriter.notifyMatchFailure(write, "rope does not match the cache");
    rewriter.replaceOpWithNewOp<RopeKVCacheWriteOp>(
        write, write.getType(), write.getCache(), write.getLayerAttr(),
        rope.getInput(), write.getValue(), write.getPositions(),
        rope.getRopeAttr());
    rewriter.eraseOp(rope);
    return success();
  }
};

struct FusePass : qc::impl::QCFuseBase<FusePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateQCFusionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::qc::populateQCFusionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAddRMSNorm, FuseRopeKVCacheWrite>(patterns.getContext());
}
