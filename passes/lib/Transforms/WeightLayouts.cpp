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

/// `type` stored in `layout`, if it is an AWQ weight that can take it.
QWeightType withLayout(QWeightType type, AWQLayout layout) {
  auto awq = dyn_cast<AWQAttr>(type.getScheme());
  if (!awq || awq.getLayout() == layout)
    return {};
  int64_t n = type.getN(), k = type.getK();
  bool fits = layout == AWQLayout::Mma
                  ? n % AWQAttr::kMmaTileFeatures == 0 &&
                        k % AWQAttr::kMmaTileDepth == 0
                  : n % AWQAttr::kCpuTileFeatures == 0;
  if (!fits)
    return {};
  auto scheme = AWQAttr::get(type.getContext(), awq.getBits(),
                             awq.getGroupSize(), awq.getZeroPoint(), layout);
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
    // NVIDIA's decode kernel and the CPU's each have theirs; AMD keeps GEMM.
    if (!nvidia && chip != "cpu")
      return;
    AWQLayout layout = nvidia ? AWQLayout::Mma : AWQLayout::Cpu;
    // Weights that can change, less those fused with one that cannot.
    llvm::SetVector<WeightOp> changing;
    getOperation().walk([&](WeightOp op) {
      if (auto type = dyn_cast<QWeightType>(op.getType());
          type && withLayout(type, layout))
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
      op.getResult().setType(
          withLayout(cast<QWeightType>(op.getType()), layout));
  }
};

} // namespace
