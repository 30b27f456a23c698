//===- Quantize.cpp - qc.linear -> qc.quantized_linear --------------------===//

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Transforms/Passes.h"
#include "qc/Transforms/QuantScheme.h"

#include "mlir/IR/Builders.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCQUANTIZE
#include "qc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// "model.layers.0.mlp.up_proj.weight" -> "model.layers.0.mlp.up_proj".
StringRef moduleOf(StringRef weightName) {
  return weightName.consume_back(".weight") ? weightName : weightName;
}

struct QuantizePass : qc::impl::QCQuantizeBase<QuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (method == "none")
      return;
    opts = options();
    auto emitError = [&] { return getOperation().emitError(); };
    FailureOr<QuantSchemeAttrInterface> scheme = buildQuantScheme(
        &getContext(), opts, function_ref<InFlightDiagnostic()>(emitError));
    if (failed(scheme))
      return signalPassFailure();

    WalkResult result = getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op))
        return WalkResult(quantizeLinear(linear, *scheme));
      if (auto head = dyn_cast<LMHeadOp>(op))
        return WalkResult(quantizeLMHead(head, *scheme));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

private:
  QCQuantizeOptions options() const {
    QCQuantizeOptions o;
    o.method = method;
    o.bits = bits;
    o.groupSize = groupSize;
    o.zeroPoint = zeroPoint;
    o.bnb4bitQuantType = bnb4bitQuantType;
    o.bnb4bitUseDoubleQuant = bnb4bitUseDoubleQuant;
    o.bnb4bitBlockSize = bnb4bitBlockSize;
    o.llmInt8Threshold = llmInt8Threshold;
    o.skipModules.assign(skipModules.begin(), skipModules.end());
    o.quantizeLmHead = quantizeLmHead;
    return o;
  }

  bool isSkipped(StringRef module) const {
    return isSkippedModule(opts, module);
  }

  /// The options as a struct, for the helpers shared with quant-compile.
  QCQuantizeOptions opts;

  /// A qc.weight of the quantized type for `weight`, created beside it.
  FailureOr<Value> quantizedWeight(Operation *user, WeightOp weight,
                                   QuantSchemeAttrInterface scheme) {
    auto type = cast<RankedTensorType>(weight.getType());
    auto emitErrorFn = [&] {
      return user->emitOpError()
             << "cannot quantize '" << weight.getName() << "': ";
    };
    auto qtype = QWeightType::getChecked(
        function_ref<InFlightDiagnostic()>(emitErrorFn), &getContext(),
        type.getShape(), type.getElementType(), scheme);
    if (!qtype)
      return failure();
    // A quantized weight is named by its module: its storage tensors are
    // "<module>.qweight", "<module>.scales", ... (see qc.weight).
    OpBuilder builder(weight);
    return WeightOp::create(builder, weight.getLoc(), qtype,
                            moduleOf(weight.getName()))
        .getResult();
  }

  LogicalResult quantizeLinear(LinearOp linear,
                               QuantSchemeAttrInterface scheme) {
    auto weight = linear.getWeight().getDefiningOp<WeightOp>();
    if (!weight)
      return linear.emitOpError()
             << "can only quantize weights defined by qc.weight";
    if (isSkipped(moduleOf(weight.getName()))) {
      ++numSkipped;
      return success();
    }
    FailureOr<Value> qweight = quantizedWeight(linear, weight, scheme);
    if (failed(qweight))
      return failure();
    OpBuilder builder(linear);
    auto quantized = QuantizedLinearOp::create(
        builder, linear.getLoc(), linear.getType(), linear.getInput(), *qweight,
        linear.getBias());
    linear.replaceAllUsesWith(quantized.getResult());
    linear.erase();
    if (weight->use_empty())
      weight.erase();
    ++numQuantized;
    return success();
  }

  /// A tied lm_head shares the embedding table, which must stay in floating
  /// point for the lookup: only an untied head is quantized.
  LogicalResult quantizeLMHead(LMHeadOp head, QuantSchemeAttrInterface scheme) {
    auto weight = head.getWeight().getDefiningOp<WeightOp>();
    if (!weight || isa<QWeightType>(weight.getType()))
      return success();
    if (!weight->hasOneUse() || isSkipped(moduleOf(weight.getName()))) {
      ++numSkipped;
      return success();
    }
    FailureOr<Value> qweight = quantizedWeight(head, weight, scheme);
    if (failed(qweight))
      return failure();
    head.getWeightMutable().assign(*qweight);
    weight.erase();
    ++numQuantized;
    return success();
  }
};

} // namespace
