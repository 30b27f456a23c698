//===- QuantizationConfig.cpp - HF quantization_config -> options ---------===//

#include "qc/Import/QuantizationConfig.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::qc;
namespace json = llvm::json;

namespace {

/// Reads optional fields of one JSON object, reporting the first wrong type
/// with the field's name.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef source, Location loc)
      : object(object), source(source), loc(loc) {}

  LogicalResult readBool(StringRef key, bool &out) {
    const json::Value *v = object.get(key);
    if (!v || v->kind() == json::Value::Null)
      return success();
    if (auto b = v->getAsBoolean()) {
      out = *b;
      return success();
    }
    return typeError(key, "a boolean");
  }

  template <typename IntT> LogicalResult readInt(StringRef key, IntT &out) {
    const json::Value *v = object.get(key);
    if (!v || v->kind() == json::Value::Null)
      return success();
    if (auto i = v->getAsInteger()) {
      out = static_cast<IntT>(*i);
      return success();
    }
    return typeError(key, "an integer");
  }

  LogicalResult readDouble(StringRef key, double &out) {
    const json::Value *v = object.get(key);
    if (!v || v->kind() == json::Value::Null)
      return success();
    if (auto d = v->getAsNumber()) {
      out = *d;
      return success();
    }
    return typeError(key, "a number");
  }

  LogicalResult readString(StringRef key, std::string &out) {
    const json::Value *v = object.get(key);
    if (!v || v->kind() == json::Value::Null)
      return success();
    if (auto s = v->getAsString()) {
      out = s->str();
      return success();
    }
    return typeError(key, "a string");
  }

  LogicalResult readStrings(StringRef key, SmallVector<std::string> &out) {
    const json::Value *v = object.get(key);
    if (!v || v->kind() == json::Value::Null)
      return success();
    const json::Array *array = v->getAsArray();
    if (!array)
      return typeError(key, "a list of strings");
    for (const json::Value &item : *array) {
      auto s = item.getAsString();
      if (!s)
        return typeError(key, "a list of strings");
      out.push_back(s->str());
    }
    return success();
  }

  InFlightDiagnostic error() {
    return emitError(loc) << source << ": quantization_config: ";
  }

private:
  LogicalResult typeError(StringRef key, StringRef expected) {
    return error() << "field '" << key << "' must be " << expected;
  }

  const json::Object &object;
  StringRef source;
  Location loc;
};

} // namespace

FailureOr<QCQuantizeOptions>
mlir::qc::parseQuantizationConfig(StringRef text, StringRef source,
                                  Location loc, std::string *awqLayout) {
  json::Value parsed = nullptr;
  if (llvm::Expected<json::Value> value = json::parse(text)) {
    parsed = std::move(*value);
  } else {
    return emitError(loc) << source << ": quantization_config is not valid "
                          << "JSON: " << llvm::toString(value.takeError());
  }
  const json::Object *object = parsed.getAsObject();
  if (!object)
    return emitError(loc) << source
                          << ": quantization_config must be a JSON object";
  FieldReader r(*object, source, loc);
  std::string method;
  if (failed(r.readString("quant_method", method)))
    return failure();

  QCQuantizeOptions o;
  if (method == "awq") {
    o.method = "awq";
    std::string version = "gemm", backend = "autoawq";
    if (failed(r.readInt("bits", o.bits)) ||
        failed(r.readInt("w_bit", o.bits)) ||
        failed(r.readInt("group_size", o.groupSize)) ||
        failed(r.readInt("q_group_size", o.groupSize)) ||
        failed(r.readBool("zero_point", o.zeroPoint)) ||
        failed(r.readString("version", version)) ||
        failed(r.readString("backend", backend)) ||
        failed(r.readStrings("modules_to_not_convert", o.skipModules)))
      return failure();
    // GEMV and llm-awq checkpoints are converted to qc's canonical (GEMM)
    // storage when packaged; other AutoAWQ kernels' layouts are not read.
    std::string layout = StringRef(backend).lower() == "llm-awq"
                             ? "llm-awq"
                             : StringRef(version).lower();
    if (layout != "gemm" && layout != "gemv" && layout != "llm-awq")
      return r.error() << "AWQ version '" << version
                       << "' is not supported (supported: gemm, gemv, and "
                          "backend llm-awq)";
    if (awqLayout)
      *awqLayout = layout;
    return o;
  }
  if (method == "bitsandbytes") {
    bool in4 = false, in8 = false;
    if (failed(r.readBool("load_in_4bit", in4)) ||
        failed(r.readBool("load_in_8bit", in8)) ||
        failed(r.readStrings("llm_int8_skip_modules", o.skipModules)))
      return failure();
    if (in4 == in8)
      return r.error() << "exactly one of 'load_in_4bit' and 'load_in_8bit' "
                          "must be true";
    if (in4) {
      o.method = "bnb4";
      if (failed(r.readString("bnb_4bit_quant_type", o.bnb4bitQuantType)) ||
          failed(
              r.readBool("bnb_4bit_use_double_quant", o.bnb4bitUseDoubleQuant)))
        return failure();
      return o;
    }
    o.method = "llm-int8";
    if (failed(r.readDouble("llm_int8_threshold", o.llmInt8Threshold)))
      return failure();
    return o;
  }
  if (method == "int8" || method == "w8a8") {
    o.method = method;
    if (failed(r.readStrings("modules_to_not_convert", o.skipModules)))
      return failure();
    return o;
  }
  if (method.empty())
    return r.error() << "missing 'quant_method'";
  return r.error() << "unsupported quant_method '" << method
                   << "' (supported: awq, bitsandbytes, int8, w8a8)";
}

FailureOr<QCQuantizeOptions> mlir::qc::quantOptionsForFlag(StringRef flag,
                                                           Location loc) {
  QCQuantizeOptions o;
  if (flag == "none" || flag == "awq" || flag == "int8" || flag == "llm-int8" ||
      flag == "w8a8") {
    o.method = flag.str();
  } else if (flag == "nf4" || flag == "fp4") {
    o.method = "bnb4";
    o.bnb4bitQuantType = flag.str();
  } else {
    return emitError(loc) << "unknown --quant '" << flag
                          << "' (expected none, awq, nf4, fp4, int8, llm-int8 "
                             "or w8a8)";
  }
  return o;
}
