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
      return rewriter.notifyMatchFailure(write,
                                         "keys are not a rope's only use");
    KVCacheType cache = write.getCache().getType();
    if (rope.getPositions() != write.getPositions() ||
        rope.getNumHeads() != cache.getNumKvHeads() ||
        rope.getHeadDim() != cache.getHeadDim())
      return rewriter.notifyMatchFailure(write,
                                         "rope does not match the cache");
    rewriter.replaceOpWithNewOp<RopeKVCacheWriteOp>(
        write, write.getType(), write.getCache(), write.getLayerAttr(),
        rope.getInput(), write.getValue(), write.getPositions(),
        rope.getRopeAttr());
    rewriter.eraseOp(rope);
    return success();
  }
};

// Sibling linear layers of one input (q/k/v, gate/up) become one
// qc.fused_linear, computed as one matmul over the weights stacked along N.
// Only the first sibling in block order triggers, and the fused op sits at
// the last sibling, after every weight it needs.
template <typename LinearT>
struct FuseSiblingLinears : OpRewritePattern<LinearT> {
  using OpRewritePattern<LinearT>::OpRewritePattern;

  static bool stackable(Type weight) {
    auto q = dyn_cast<QWeightType>(weight);
    if (!q)
      return true;
    SmallVector<StorageComponent> components;
    q.getScheme().getStorageComponents(q.getN(), q.getK(), components);
    return llvm::all_of(components,
                        [](const StorageComponent &c) { return c.nDim >= 0; });
  }

  static bool compatible(LinearT a, LinearT b) {
    Type wa = a.getWeight().getType(), wb = b.getWeight().getType();
    if (bool(a.getBias()) != bool(b.getBias()) ||
        !b.getWeight().template getDefiningOp<WeightOp>())
      return false;
    if (auto qa = dyn_cast<QWeightType>(wa)) {
      auto qb = cast<QWeightType>(wb);
      return qa.getScheme() == qb.getScheme() &&
             qa.getElementType() == qb.getElementType() &&
             qa.getK() == qb.getK();
    }
    return cast<RankedTensorType>(wa).getElementType() ==
               cast<RankedTensorType>(wb).getElementType() &&
           cast<RankedTensorType>(wa).getDimSize(1) ==
               cast<RankedTensorType>(wb).getDimSize(1);
  }

  LogicalResult matchAndRewrite(LinearT op,
                                PatternRewriter &rewriter) const override {
    if (!op.getWeight().template getDefiningOp<WeightOp>() ||
        !stackable(op.getWeight().getType()))
      return rewriter.notifyMatchFailure(op, "weight cannot be stacked");
    SmallVector<LinearT> group;
    for (Operation *user : op.getInput().getUsers())
      if (auto sibling = dyn_cast<LinearT>(user);
          sibling && sibling->getBlock() == op->getBlock() &&
          compatible(op, sibling))
        group.push_back(sibling);
    llvm::sort(group, [](LinearT a, LinearT b) {
      return a->isBeforeInBlock(b.getOperation());
    });
    if (group.size() < 2 || group.front() != op)
      return rewriter.notifyMatchFailure(op, "not the first of its siblings");
    Operation *last = group.back();
    for (LinearT member : group)
      for (Operation *user : member->getUsers())
        if (user->getBlock() != last->getBlock() || user->isBeforeInBlock(last))
          return rewriter.notifyMatchFailure(op, "a result is used too early");

    SmallVector<Value> weights, biases;
    SmallVector<Type> types;
    SmallVector<Location> locs;
    for (LinearT member : group) {
      weights.push_back(member.getWeight());
      if (member.getBias())
        biases.push_back(member.getBias());
      types.push_back(member.getType());
      locs.push_back(member.getLoc());
    }
    rewriter.setInsertionPoint(last);
    auto fused = FusedLinearOp::create(rewriter, rewriter.getFusedLoc(locs),
                                       types, op.getInput(), weights, biases);
    for (auto [member, result] : llvm::zip(group, fused.getResults()))
      rewriter.replaceOp(member, result);
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
  patterns
      .add<FuseAddRMSNorm, FuseRopeKVCacheWrite, FuseSiblingLinears<LinearOp>,
           FuseSiblingLinears<QuantizedLinearOp>>(patterns.getContext());
}
