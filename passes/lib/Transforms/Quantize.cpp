//===- Quantize.cpp - qc.linear -> qc.quantized_linear --------------------===//

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Transforms/Passes.h"

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
    FailureOr<QuantSchemeAttrInterface> scheme = buildScheme();
    if (failed(scheme))
      return signalPassFailure();

    WalkResult result = getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op))
        return WalkResult(quantizeLinear(linear, *scheme));
      if (auto head = dyn_cast<LMHeadOp>(op); head && quantizeLmHead)
        return WalkResult(quantizeLMHead(head, *scheme));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

private:
  /// The scheme the options describe; options of another method are errors
  /// so that a typo never silently quantizes differently than asked.
  FailureOr<QuantSchemeAttrInterface> buildScheme() {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto emitErrorFn = [&] { return module.emitError(); };
    // A function_ref selects the generated (out-of-line) getChecked.
    function_ref<InFlightDiagnostic()> emitError = emitErrorFn;
    struct NamedOption {
      StringRef name;
      bool set;
      StringRef owner;
    };
    NamedOption options[] = {
        {"bits", bits.hasValue(), "awq"},
        {"group-size", groupSize.hasValue(), "awq"},
        {"zero-point", zeroPoint.hasValue(), "awq"},
        {"bnb-4bit-quant-type", bnb4bitQuantType.hasValue(), "bnb4"},
        {"bnb-4bit-use-double-quant", bnb4bitUseDoubleQuant.hasValue(), "bnb4"},
        {"bnb-4bit-block-size", bnb4bitBlockSize.hasValue(), "bnb4"},
        {"llm-int8-threshold", llmInt8Threshold.hasValue(), "llm-int8"}};
    if (method != "awq" && method != "bnb4" && method != "int8" &&
        method != "llm-int8" && method != "w8a8")
      return emitError() << "unknown quantization method '" << method
                         << "' (expected none, awq, bnb4, int8, llm-int8 or "
                            "w8a8)";
    for (const NamedOption &option : options)
      if (option.set && option.owner != method)
        return emitError() << "option '" << option.name
                           << "' does not apply to method " << method;

    Attribute scheme;
    if (method == "awq") {
      scheme = AWQAttr::getChecked(emitError, ctx, bits.getValue(),
                                   groupSize.getValue(), zeroPoint.getValue());
    } else if (method == "bnb4") {
      std::optional<BnB4Type> type = symbolizeBnB4Type(bnb4bitQuantType);
      if (!type)
        return emitError() << "unknown bnb-4bit-quant-type '"
                           << bnb4bitQuantType << "' (expected nf4 or fp4)";
      scheme = BnB4Attr::getChecked(emitError, ctx, *type,
                                    bnb4bitBlockSize.getValue(),
                                    bnb4bitUseDoubleQuant.getValue());
    } else {
      Int8Mode mode = method == "int8"       ? Int8Mode::WeightOnly
                      : method == "llm-int8" ? Int8Mode::LLMInt8
                                             : Int8Mode::W8A8;
      double threshold = mode == Int8Mode::LLMInt8 ? llmInt8Threshold : 0.0;
      scheme = Int8Attr::getChecked(emitError, ctx, mode, APFloat(threshold));
    }
    if (!scheme)
      return failure();
    return cast<QuantSchemeAttrInterface>(scheme);
  }

  bool isSkipped(StringRef module) const {
    return llvm::any_of(skipModules, [&](const std::string &skip) {
      return module.contains(skip);
    });
  }

  /// A qc.weight of the quantized type for `weight`, created beside it.
  FailureOr<Value> quantizedWeight(Operation *user, WeightOp weight,
                                   QuantSchemeAttrInterface scheme) {
    auto type = cast<RankedTensorType>(weight.getType());
    auto emitErrorFn = [&] {
      return user->emitOpError()
             << "cannot quantize '" << weight.getName() << "': ";
    };
    auto qtype = QWeightType::getChecked(
        function_ref<InFlightDiagnostic()>(emitErrorFn), &getContext(), type.getShape(), type.getElementType(), scheme);
    if (!qtype)
      return failure();
    OpBuilder builder(weight);
    return WeightOp::create(builder, weight.getLoc(), qtype, weight.getName())
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
        builder, linear.getLoc(), linear.getType(), linear.getInput(),
        *qweight, linear.getBias());
    linear.replaceAllUsesWith(quantized.getResult());
    linear.erase();
    if (weight->use_empty())
      weight.erase();
    ++numQuantized;
    return success();
  }

  /// A tied lm_head shares the embedding table, which must stay in floating
  /// point for the lookup: only an untied head is quantized.
  LogicalResult quantizeLMHead(LMHeadOp head,
                               QuantSchemeAttrInterface scheme) {
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
