//===- PrequantizedWeights.cpp - checks of quantized checkpoints ----------===//

#include "PrequantizedWeights.h"

#include "qc/Model/LlamaWeights.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Quant/AWQLayouts.h"
#include "qc/Quant/WeightPacker.h"
#include "qc/Target/DTypeOf.h"
#include "qc/Transforms/QuantScheme.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::qc;
using ::qc::DType;

namespace {

/// How a stored tensor's size is checked: bitsandbytes flattens its buffers,
/// so only their element count is fixed, and its quant_state is a JSON blob.
enum class SizeRule { Shape, Count, Any };

/// One tensor a checkpoint must hold. `float` requirements (F32) accept any
/// floating-point dtype.
struct Requirement {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  SizeRule rule = SizeRule::Shape;
};

int64_t numElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// The tensors of one quantized [n, k] linear layer `module`.
std::vector<Requirement> requirementsFor(StringRef module, int64_t n, int64_t k,
                                         QuantSchemeAttrInterface scheme,
                                         StringRef awqLayout) {
  std::string m = module.str();
  if (auto awq = dyn_cast<AWQAttr>(scheme); awq && awqLayout != "gemm") {
    // AutoAWQ's calculate_zeros_width; unsupported group sizes get 0 here
    // and are reported when the layers are converted.
    auto zw = ::qc::quant::awqZerosWidth(k, awq.getGroupSize());
    int64_t z = zw ? *zw : 0;
    if (awqLayout == "gemv")
      return {{m + ".qweight", DType::I32, {n, k / 8}},
              {m + ".qzeros", DType::I32, {n, z}},
              {m + ".scales", DType::F16, {n, 8 * z}}};
    return {{m + ".qweight", DType::I16, {n / 4, k}},
            {m + ".scales", DType::F16, {8 * z, n}},
            {m + ".scaled_zeros", DType::F16, {8 * z, n}}};
  }
  if (auto bnb = dyn_cast<BnB4Attr>(scheme)) {
    int64_t blocks = n * k / bnb.getBlockSize();
    std::string type = stringifyBnB4Type(bnb.getType()).str();
    std::vector<Requirement> r = {
        {m + ".weight", DType::U8, {n * k / 2}, SizeRule::Count},
        {m + ".weight.quant_map", DType::F32, {16}, SizeRule::Count},
        {m + ".weight.quant_state.bitsandbytes__" + type,
         DType::U8,
         {},
         SizeRule::Any}};
    if (bnb.getDoubleQuant()) {
      int64_t nested = llvm::divideCeil(blocks, BnB4Attr::kNestedBlockSize);
      r.push_back({m + ".weight.absmax", DType::U8, {blocks}, SizeRule::Count});
      r.push_back(
          {m + ".weight.nested_absmax", DType::F32, {nested}, SizeRule::Count});
      r.push_back(
          {m + ".weight.nested_quant_map", DType::F32, {256}, SizeRule::Count});
    } else {
      r.push_back(
          {m + ".weight.absmax", DType::F32, {blocks}, SizeRule::Count});
    }
    return r;
  }
  if (auto int8 = dyn_cast<Int8Attr>(scheme);
      int8 && int8.getMode() == Int8Mode::LLMInt8)
    return {{m + ".weight", DType::I8, {n, k}}, {m + ".SCB", DType::F32, {n}}};
  // AWQ and qc's own int8 formats store exactly the scheme's components.
  SmallVector<StorageComponent> components;
  scheme.getStorageComponents(n, k, components);
  std::vector<Requirement> r;
  for (const StorageComponent &c : components)
    r.push_back({m + "." + c.suffix, *dtypeOf(c.type.getElementType()),
                 std::vector<int64_t>(c.type.getShape().begin(),
                                      c.type.getShape().end())});
  return r;
}

} // namespace

LogicalResult mlir::qc::validatePrequantizedWeights(
    const ::qc::ModelConfig &config, const ::qc::WeightIndex &weights,
    const QCQuantizeOptions &options, QuantSchemeAttrInterface scheme,
    StringRef awqLayout, function_ref<InFlightDiagnostic()> emitError) {
  std::vector<std::string> problems;
  auto check = [&](const Requirement &req) {
    const ::qc::TensorInfo *info = weights.find(req.name);
    if (!info) {
      problems.push_back("missing tensor '" + req.name + "'");
      return;
    }
    bool floatOk = req.dtype == DType::F32 &&
                   (info->dtype == DType::F32 || info->dtype == DType::F16 ||
                    info->dtype == DType::BF16);
    if (info->dtype != req.dtype && !floatOk) {
      problems.push_back("tensor '" + req.name + "' has dtype " +
                         std::string(::qc::dtypeName(info->dtype)) +
                         ", expected " +
                         std::string(::qc::dtypeName(req.dtype)));
      return;
    }
    bool sizeOk = req.rule == SizeRule::Any ||
                  (req.rule == SizeRule::Count
                       ? info->numElements() == numElements(req.shape)
                       : info->shape == req.shape);
    if (!sizeOk)
      problems.push_back(
          "tensor '" + req.name + "' has shape " +
          ::qc::formatShape(info->shape) + ", expected " +
          (req.rule == SizeRule::Count
               ? std::to_string(numElements(req.shape)) + " elements"
               : ::qc::formatShape(req.shape)));
  };

  for (const ::qc::ExpectedTensor &t : ::qc::expectedWeights(config)) {
    StringRef name = t.name;
    StringRef module = name;
    bool quantized = module.consume_back(".weight") &&
                     ::qc::quant::isDecoderLinear(module) &&
                     !isSkippedModule(options, module);
    if (!quantized) {
      check({t.name, DType::F32, t.shape});
      continue;
    }
    for (const Requirement &req :
         requirementsFor(module, t.shape[0], t.shape[1], scheme, awqLayout))
      check(req);
  }
  // Quantized checkpoints carry per-scheme side tensors, so only layers
  // past the config's last are refused here (never dropped silently).
  for (const std::string &name : weights.names())
    if (std::string hint = ::qc::layerHint(config, name); !hint.empty())
      problems.push_back("unexpected tensor '" + name + "'" + hint);
  if (problems.empty())
    return success();
  InFlightDiagnostic diag = emitError();
  diag << "quantized checkpoint does not match its quantization_config: ";
  size_t shown = std::min<size_t>(problems.size(), 4);
  for (size_t i = 0; i < shown; ++i)
    diag << (i ? "; " : "") << problems[i];
  if (problems.size() > shown)
    diag << "; and " << problems.size() - shown << " more";
  return diag;
}
