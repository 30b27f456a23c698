//===- WeightLayouts.cpp - storage layouts of quantized weights -----------===//

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Transforms/Passes.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCWEIGHTLAYOUTS
#include "qc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// The mma layout of `type` if it is an AWQ weight that can take it.
QWeightType mmaLayout(QWeightType type) {
  auto awq = dyn_cast<AWQAttr>(type.getScheme());
  if (!awq || awq.getLayout() == AWQLayout::Mma ||
      type.getN() % AWQAttr::kMmaTileFeatures != 0 ||
      type.getK() % AWQAttr::kMmaTileDepth != 0)
    return {};
  auto scheme =
      AWQAttr::get(type.getContext(), awq.getBits(), awq.getGroupSize(),
                   awq.getZeroPoint(), AWQLayout::Mma);
  return QWeightType::get(type.getContext(), type.getShape(),
                          type.getElementType(), scheme);
}

struct WeightLayoutsPass
    : mlir::qc::impl::QCWeightLayoutsBase<WeightLayoutsPass> {
  using Base::Base;

  void runOnOperation() override {
    bool nvidia = chip == "sm_80" || chip == "sm_90a";
    if (!nvidia && chip != "cpu" && chip != "gfx90a" && chip != "gfx942") {
      getOperation().emitError()
          << "qc-weight-layouts: unknown chip '" << chip
          << "' (expected cpu, sm_80, sm_90a, gfx90a or gfx942)";
      return signalPassFailure();
    }
    if (!nvidia)
      return;
    // Weights that can change, less those fused with one that cannot.
    llvm::SetVector<WeightOp> changing;
    getOperation().walk([&](WeightOp op) {
      if (auto type = dyn_cast<QWeightType>(op.getType()); type && mmaLayout(type))
        changing.insert(op);
    });
    getOperation().walk([&](FusedLinearOp fused) {
      bool all = llvm::all_of(fused.getWeights(), [&](Value w) {
        auto op = w.getDefiningOp<WeightOp>();
        return op && changing.contains(op);
      });
      if (!all)
        for (Value w : fused.getWeights())
          if (auto op = w.getDefiningOp<WeightOp>())
            changing.remove(op);
    });
    for (WeightOp op : changing)
      op.getResult().setType(mmaLayout(cast<QWeightType>(op.getType())));
  }
};

} // namespace
