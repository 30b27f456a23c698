//===- BnBCheckpoint.cpp - bitsandbytes serialized weights ----------------===//

#include "qc/Quant/BnBCheckpoint.h"

#include "qc/Model/SafeTensors.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace qc::quant {

namespace {

using Shape = std::vector<int64_t>;

std::vector<float> readFloats(const TensorRef &t) {
  std::vector<float> out(t.bytes.size() / sizeof(float));
  std::memcpy(out.data(), t.bytes.data(), out.size() * sizeof(float));
  return out;
}

std::optional<DType> parseTorchDType(const std::string &name) {
  if (name == "float16")
    return DType::F16;
  if (name == "bfloat16")
    return DType::BF16;
  if (name == "float32")
    return DType::F32;
  return std::nullopt;
}

/// The quant_state JSON entries the importer needs.
struct QuantStateJson {
  std::string quantType;
  int64_t blocksize = 0;
  DType dtype = DType::F16;
  Shape shape;
  bool nested = false;
  int64_t nestedBlocksize = 0;
  float nestedOffset = 0.0f;
};

StatusOr<QuantStateJson> parseQuantState(const TensorRef &blob,
                                         const std::string &key) {
  using Json = nlohmann::json;
  std::string text(reinterpret_cast<const char *>(blob.bytes.data()),
                   blob.bytes.size());
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object())
    return Status::error(key + ": not a JSON object");
  auto field = [&](const char *name) -> const Json * {
    auto it = json.find(name);
    return it == json.end() ? nullptr : &*it;
  };
  auto bad = [&](const char *name, const char *what) {
    return Status::error(key + ": \"" + name + "\" must be " + what);
  };
  QuantStateJson state;
  const Json *v = field("quant_type");
  if (!v || !v->is_string())
    return bad("quant_type", "a string");
  state.quantType = v->get<std::string>();
  v = field("blocksize");
  if (!v || !v->is_number_integer() || v->get<int64_t>() <= 0)
    return bad("blocksize", "a positive integer");
  state.blocksize = v->get<int64_t>();
  v = field("dtype");
  std::optional<DType> dtype;
  if (v && v->is_string())
    dtype = parseTorchDType(v->get<std::string>());
  if (!dtype)
    return bad("dtype", "\"float16\", \"bfloat16\" or \"float32\"");
  state.dtype = *dtype;
  v = field("shape");
  if (!v || !v->is_array() || v->empty())
    return bad("shape", "a non-empty list of positive integers");
  int64_t elements = 1;
  for (const Json &d : *v) {
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 ||
        d.get<int64_t>() > (int64_t(1) << 40) / elements)
      return bad("shape", "a non-empty list of positive integers with a "
                          "product below 2^40");
    elements *= d.get<int64_t>();
    state.shape.push_back(d.get<int64_t>());
  }
  const Json *nestedBlocksize = field("nested_blocksize");
  const Json *nestedDtype = field("nested_dtype");
  const Json *nestedOffset = field("nested_offset");
  state.nested = nestedBlocksize || nestedDtype || nestedOffset;
  if (!state.nested)
    return state;
  if (!nestedBlocksize || !nestedBlocksize->is_number_integer() ||
      nestedBlocksize->get<int64_t>() <= 0)
    return bad("nested_blocksize", "a positive integer");
  state.nestedBlocksize = nestedBlocksize->get<int64_t>();
  if (!nestedDtype || !nestedDtype->is_string() ||
      nestedDtype->get<std::string>() != "float32")
    return bad("nested_dtype", "\"float32\"");
  if (!nestedOffset || !nestedOffset->is_number())
    return bad("nested_offset", "a number");
  state.nestedOffset = static_cast<float>(nestedOffset->get<double>());
  return state;
}

} // namespace

BnbWeightKind detectBnbWeight(const TensorLookup &lookup,
                              std::string_view prefix) {
  std::string p(prefix);
  for (Bnb4Type type : {Bnb4Type::NF4, Bnb4Type::FP4})
    if (lookup(p + ".weight.quant_state.bitsandbytes__" +
               std::string(bnb4TypeName(type))))
      return BnbWeightKind::FourBit;
  if (lookup(p + ".SCB"))
    return BnbWeightKind::EightBit;
  return BnbWeightKind::None;
}

StatusOr<Bnb4Weight> importBnb4Weight(const TensorLookup &lookup,
                                      std::string_view prefix) {
  const std::string w = std::string(prefix) + ".weight";
  // Exactly one quant_state entry names the type.
  std::optional<Bnb4Type> type;
  std::string stateKey;
  for (Bnb4Type candidate : {Bnb4Type::NF4, Bnb4Type::FP4}) {
    std::string key = w + ".quant_state.bitsandbytes__" +
                      std::string(bnb4TypeName(candidate));
    if (!lookup(key))
      continue;
    if (type)
      return Status::error(w + ": both quant_state.bitsandbytes__nf4 and "
                               "__fp4 are present");
    type = candidate;
    stateKey = key;
  }
  if (!type)
    return Status::error("missing tensor " + w +
                         ".quant_state.bitsandbytes__nf4 (or __fp4) (expected "
                         "U8 [length] holding the quant_state JSON)");
  const TensorRef *blob = lookup(stateKey);
  if (blob->dtype != DType::U8 || blob->shape.size() != 1 ||
      static_cast<int64_t>(blob->bytes.size()) != blob->shape[0])
    return Status::error(stateKey + ": expected U8 [length], got " +
                         describeTensor(blob->dtype, blob->shape));
  QC_ASSIGN_OR_RETURN(QuantStateJson state, parseQuantState(*blob, stateKey));
  if (state.quantType != bnb4TypeName(*type))
    return Status::error(stateKey + ": quant_type \"" + state.quantType +
                         "\" does not match the key");

  Bnb4Weight out;
  out.type = *type;
  out.blocksize = state.blocksize;
  out.shape = state.shape;
  out.dtype = state.dtype;
  const int64_t n = out.numElements(), blocks = out.numBlocks();
  const int64_t bytes = (n + 1) / 2;
  QC_ASSIGN_OR_RETURN(
      const TensorRef *packed,
      requireTensor(lookup, w, DType::U8, {Shape{bytes, 1}, Shape{bytes}}));
  out.packed.assign(packed->bytes.begin(), packed->bytes.end());

  QC_ASSIGN_OR_RETURN(
      const TensorRef *quantMap,
      requireTensor(lookup, w + ".quant_map", DType::F32, {Shape{16}}));
  // The kernels dequantize with built-in tables, so quant_map only has to
  // be the standard codebook (to QuantState.__eq__'s tolerance, 1e-6).
  std::vector<float> map = readFloats(*quantMap);
  auto codebook = bnb4Codebook(*type);
  for (int i = 0; i < 16; ++i)
    if (!(std::fabs(map[i] - codebook[i]) <= 1e-6f))
      return Status::error(w + ".quant_map: entry " + std::to_string(i) +
                           " does not match bitsandbytes' " +
                           std::string(bnb4TypeName(*type)) + " codebook");

  if (!state.nested) {
    QC_ASSIGN_OR_RETURN(
        const TensorRef *absmax,
        requireTensor(lookup, w + ".absmax", DType::F32, {Shape{blocks}}));
    out.absmax = readFloats(*absmax);
  } else {
    out.nested = true;
    out.nestedBlocksize = state.nestedBlocksize;
    out.offset = state.nestedOffset;
    QC_ASSIGN_OR_RETURN(
        const TensorRef *qabsmax,
        requireTensor(lookup, w + ".absmax", DType::U8, {Shape{blocks}}));
    out.qabsmax.assign(qabsmax->bytes.begin(), qabsmax->bytes.end());
    int64_t nestedBlocks =
        (blocks + state.nestedBlocksize - 1) / state.nestedBlocksize;
    QC_ASSIGN_OR_RETURN(const TensorRef *nestedAbsmax,
                        requireTensor(lookup, w + ".nested_absmax", DType::F32,
                                      {Shape{nestedBlocks}}));
    out.nestedAbsmax = readFloats(*nestedAbsmax);
    QC_ASSIGN_OR_RETURN(const TensorRef *nestedMap,
                        requireTensor(lookup, w + ".nested_quant_map",
                                      DType::F32, {Shape{256}}));
    out.nestedCode = readFloats(*nestedMap);
  }
  QC_RETURN_IF_ERROR(std::move(validateBnb4(out)).withContext(w));
  return out;
}

StatusOr<LlmInt8Weight> importBnb8Weight(const TensorLookup &lookup,
                                         std::string_view prefix) {
  const std::string w = std::string(prefix) + ".weight";
  const std::string scbKey = std::string(prefix) + ".SCB";
  const TensorRef *cb = lookup(w);
  if (!cb)
    return Status::error("missing tensor " + w + " (expected I8 [N, K])");
  if (cb->dtype != DType::I8 || cb->shape.size() != 2 || cb->shape[0] <= 0 ||
      cb->shape[1] <= 0 || cb->shape[0] > INT32_MAX || cb->shape[1] > INT32_MAX)
    return Status::error(w + ": expected I8 [N, K], got " +
                         describeTensor(cb->dtype, cb->shape));
  const int64_t n = cb->shape[0], k = cb->shape[1];
  QC_RETURN_IF_ERROR(
      requireTensor(lookup, w, DType::I8, {Shape{n, k}}).status());
  QC_ASSIGN_OR_RETURN(const TensorRef *scb,
                      requireTensor(lookup, scbKey, DType::F32, {Shape{n}}));
  const std::string formatKey = std::string(prefix) + ".weight_format";
  if (const TensorRef *format = lookup(formatKey)) {
    QC_ASSIGN_OR_RETURN(
        format, requireTensor(lookup, formatKey, DType::U8, {Shape{}, {1}}));
    if (format->bytes[0] != 0)
      return Status::error(formatKey + ": weight_format " +
                           std::to_string(format->bytes[0]) +
                           " (a tiled col32/col_turing/col_ampere layout) is "
                           "not supported, only 0 (row-major)");
  }
  LlmInt8Weight out;
  out.outFeatures = n;
  out.inFeatures = k;
  out.cb.resize(n * k);
  std::memcpy(out.cb.data(), cb->bytes.data(), out.cb.size());
  out.scb = readFloats(*scb);
  return out;
}

} // namespace qc::quant
