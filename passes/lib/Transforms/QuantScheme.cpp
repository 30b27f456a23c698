//===- QuantScheme.cpp - quantization options -> scheme attribute ---------===//

#include "qc/Transforms/QuantScheme.h"

using namespace mlir;
using namespace mlir::qc;

FailureOr<QuantSchemeAttrInterface>
mlir::qc::buildQuantScheme(MLIRContext *ctx, const QCQuantizeOptions &o,
                           function_ref<InFlightDiagnostic()> emitError) {
  const StringRef method = o.method;
  if (method != "awq" && method != "bnb4" && method != "int8" &&
      method != "llm-int8" && method != "w8a8")
    return emitError() << "unknown quantization method '" << method
                       << "' (expected none, awq, bnb4, int8, llm-int8 or "
                          "w8a8)";

  // An option of another method that differs from its default is a user
  // mistake (e.g. a group size for bnb4): say so instead of ignoring it.
  const QCQuantizeOptions d;
  struct {
    StringRef name;
    bool changed;
    StringRef owner;
  } options[] = {
      {"bits", o.bits != d.bits, "awq"},
      {"group-size", o.groupSize != d.groupSize, "awq"},
      {"zero-point", o.zeroPoint != d.zeroPoint, "awq"},
      {"bnb-4bit-quant-type", o.bnb4bitQuantType != d.bnb4bitQuantType, "bnb4"},
      {"bnb-4bit-use-double-quant",
       o.bnb4bitUseDoubleQuant != d.bnb4bitUseDoubleQuant, "bnb4"},
      {"bnb-4bit-block-size", o.bnb4bitBlockSize != d.bnb4bitBlockSize, "bnb4"},
      {"llm-int8-threshold", o.llmInt8Threshold != d.llmInt8Threshold,
       "llm-int8"}};
  for (const auto &option : options)
    if (option.changed && option.owner != method)
      return emitError() << "option '" << option.name
                         << "' does not apply to method " << method;

  Attribute scheme;
  if (method == "awq") {
    scheme =
        AWQAttr::getChecked(emitError, ctx, o.bits, o.groupSize, o.zeroPoint,
                            AWQLayout::Gemm);
  } else if (method == "bnb4") {
    std::optional<BnB4Type> type = symbolizeBnB4Type(o.bnb4bitQuantType);
    if (!type)
      return emitError() << "unknown bnb-4bit-quant-type '"
                         << o.bnb4bitQuantType << "' (expected nf4 or fp4)";
    scheme = BnB4Attr::getChecked(emitError, ctx, *type, o.bnb4bitBlockSize,
                                  o.bnb4bitUseDoubleQuant);
  } else {
    Int8Mode mode = method == "int8"       ? Int8Mode::WeightOnly
                    : method == "llm-int8" ? Int8Mode::LLMInt8
                                           : Int8Mode::W8A8;
    double threshold = mode == Int8Mode::LLMInt8 ? o.llmInt8Threshold : 0.0;
    scheme = Int8Attr::getChecked(emitError, ctx, mode, APFloat(threshold));
  }
  if (!scheme)
    return failure();
  return cast<QuantSchemeAttrInterface>(scheme);
}

bool mlir::qc::isSkippedModule(const QCQuantizeOptions &options,
                               StringRef module) {
  if (module == "lm_head" && !options.quantizeLmHead)
    return true;
  return llvm::any_of(options.skipModules, [&](const std::string &skip) {
    return module.contains(skip);
  });
}
