//===- ModelConfig.cpp - Hugging Face config.json for Llama-likes ---------===//
//
// Defaults, from the transformers configuration classes:
//   all three: rms_norm_eps 1e-6, hidden_act "silu", tie_word_embeddings
//     false, rope_theta 10000 (RotaryEmbeddingConfigMixin.default_theta),
//     head_dim hidden_size / num_attention_heads.
//   llama: num_key_value_heads = num_attention_heads, attention_bias and
//     mlp_bias false, bos 1, eos 2; attention_bias covers q, k, v and o.
//   mistral: num_key_value_heads 8 when absent (null means
//     num_attention_heads), sliding_window 4096 when absent (null disables
//     it), no biases, bos 1, eos 2.
//   qwen2: num_key_value_heads = num_attention_heads, q/k/v biases and no
//     o_proj bias (hard-wired in Qwen2Attention), no bos/eos, sliding window
//     only with use_sliding_window (default false) and only in the layers at
//     or above max_window_layers (default 28; sliding_window default 4096).
//
//===----------------------------------------------------------------------===//

#include "qc/Model/ModelConfig.h"

#include "qc/Support/Json.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace qc {

using detail::Json;
using detail::toInt64;

namespace {
enum class Family { Llama, Mistral, Qwen2 };

struct Architecture {
  const char *name;
  const char *modelType;
  Family family;
};

constexpr Architecture kArchitectures[] = {
    {"LlamaForCausalLM", "llama", Family::Llama},
    {"MistralForCausalLM", "mistral", Family::Mistral},
    {"Qwen2ForCausalLM", "qwen2", Family::Qwen2},
};

constexpr double kDefaultRopeTheta = 10000.0;
constexpr int64_t kMaxLayers = 1 << 16;

std::optional<double> toDouble(const Json &value) {
  if (!value.is_number() || !std::isfinite(value.get<double>()))
    return std::nullopt;
  return value.get<double>();
}

std::optional<bool> toBool(const Json &value) {
  return value.is_boolean() ? std::optional<bool>(value.get<bool>())
                            : std::nullopt;
}

std::optional<std::string> toString(const Json &value) {
  return value.is_string()
             ? std::optional<std::string>(value.get<std::string>())
             : std::nullopt;
}

/// Typed access to the fields of one JSON object. A JSON null reads as
/// absent, just as Python's None selects the default in transformers. Every
/// error names the source file and the field path.
class Fields {
public:
  Fields(const Json &object, const std::string &source, std::string prefix)
      : object_(object), source_(source), prefix_(std::move(prefix)) {}

  const std::string &source() const { return source_; }
  bool has(const char *field) const { return object_.contains(field); }
  const Json *get(const char *field) const {
    auto it = object_.find(field);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  Status error(const char *field, const std::string &message) const {
    return Status::error(source_ + ": field '" + prefix_ + field + "' " +
                         message);
  }
  Status missing(const char *field) const {
    return Status::error(source_ + ": missing required field '" + prefix_ +
                         field + "'");
  }
  Status typeError(const char *field, const char *expected,
                   const Json &value) const {
    return error(field, std::string("must be ") + expected + ", got " +
                            value.type_name());
  }

  template <typename T>
  StatusOr<std::optional<T>>
  read(const char *field, const char *expected,
       std::optional<T> (*convert)(const Json &)) const {
    const Json *value = get(field);
    if (!value)
      return std::optional<T>();
    std::optional<T> converted = convert(*value);
    if (!converted)
      return typeError(field, expected, *value);
    return converted;
  }
  StatusOr<std::optional<int64_t>> integer(const char *field) const {
    return read(field, "a 64-bit integer", toInt64);
  }
  StatusOr<std::optional<bool>> boolean(const char *field) const {
    return read(field, "a boolean", toBool);
  }
  StatusOr<std::optional<std::string>> string(const char *field) const {
    return read(field, "a string", toString);
  }

  /// A positive integer; `fallback` when absent, an error when there is none.
  StatusOr<int64_t> positive(const char *field,
                             std::optional<int64_t> fallback = {}) const {
    QC_ASSIGN_OR_RETURN(std::optional<int64_t> value, integer(field));
    if (!value && !fallback)
      return missing(field);
    if (value && *value <= 0)
      return error(field, "must be positive, got " + std::to_string(*value));
    return value ? *value : *fallback;
  }
  /// A positive finite number, with the same defaulting as positive().
  StatusOr<double> positiveNumber(const char *field,
                                  std::optional<double> fallback = {}) const {
    QC_ASSIGN_OR_RETURN(std::optional<double> value,
                        read(field, "a number", toDouble));
    if (!value && !fallback)
      return missing(field);
    if (value && !(*value > 0))
      return error(field, "must be positive, got " + std::to_string(*value));
    return value ? *value : *fallback;
  }

private:
  const Json &object_;
  const std::string &source_;
  std::string prefix_;
};

/// The product, or nullopt if a factor is missing or int64_t overflows.
std::optional<int64_t>
product(std::initializer_list<std::optional<int64_t>> factors) {
  int64_t result = 1;
  for (const std::optional<int64_t> &f : factors)
    if (!f || __builtin_mul_overflow(result, *f, &result))
      return std::nullopt;
  return result;
}

std::optional<int64_t>
sum(std::initializer_list<std::optional<int64_t>> terms) {
  int64_t result = 0;
  for (const std::optional<int64_t> &t : terms)
    if (!t || __builtin_add_overflow(result, *t, &result))
      return std::nullopt;
  return result;
}

StatusOr<const Architecture *> parseArchitecture(const Fields &f) {
  const Json *list = f.get("architectures");
  if (!list)
    return f.missing("architectures");
  if (!list->is_array())
    return f.typeError("architectures", "an array of strings", *list);
  for (const Json &entry : *list)
    if (!entry.is_string())
      return f.typeError("architectures", "an array of strings", *list);
  if (list->size() != 1)
    return f.error("architectures", "must name exactly one architecture, got " +
                                        std::to_string(list->size()));
  std::string name = (*list)[0].get<std::string>();
  for (const Architecture &arch : kArchitectures)
    if (name == arch.name)
      return &arch;
  std::string supported;
  for (const Architecture &arch : kArchitectures)
    supported += std::string(supported.empty() ? "" : ", ") + arch.name;
  return Status::error(f.source() + ": unsupported architecture '" + name +
                       "' (supported: " + supported + ")");
}

/// bos_token_id / eos_token_id: an integer, a list of them, or null (none).
StatusOr<std::vector<int64_t>> parseTokenIds(const Fields &f, const char *field,
                                             std::vector<int64_t> fallback) {
  if (!f.has(field))
    return fallback;
  const Json *value = f.get(field);
  if (!value)
    return std::vector<int64_t>();
  std::vector<int64_t> ids;
  for (const Json &id : value->is_array() ? *value : Json::array({*value})) {
    std::optional<int64_t> v = toInt64(id);
    if (!v || *v < 0)
      return f.typeError(field, "a non-negative integer or a list of them",
                         *value);
    ids.push_back(*v);
  }
  return ids;
}

/// rope_parameters (v5) or rope_theta + rope_scaling (v4).
StatusOr<RopeConfig> parseRope(const Fields &top, int64_t maxPositions) {
  RopeConfig rope;
  QC_ASSIGN_OR_RETURN(rope.theta,
                      top.positiveNumber("rope_theta", kDefaultRopeTheta));
  const char *key =
      top.get("rope_parameters") ? "rope_parameters" : "rope_scaling";
  const Json *params = top.get(key);
  if (!params)
    return rope;
  if (!params->is_object())
    return top.typeError(key, "an object", *params);

  Fields p(*params, top.source(), std::string(key) + ".");
  QC_ASSIGN_OR_RETURN(rope.theta, p.positiveNumber("rope_theta", rope.theta));
  QC_ASSIGN_OR_RETURN(std::optional<std::string> type, p.string("rope_type"));
  if (!type) { // transformers v4 spelling
    QC_ASSIGN_OR_RETURN(type, p.string("type"));
  }
  rope.type = type.value_or("default");
  // Parameters that change the frequencies but that RopeConfig cannot carry.
  for (const char *unsupported :
       {"mscale", "mscale_all_dim", "partial_rotary_factor", "short_factor",
        "long_factor"})
    if (p.get(unsupported))
      return p.error(unsupported, "is not supported");
  QC_ASSIGN_OR_RETURN(std::optional<bool> truncate, p.boolean("truncate"));
  if (truncate == false)
    return p.error("truncate", "must be true (yarn without truncation is not "
                               "supported)");

  if (rope.type == "default")
    return rope;
  if (rope.type != "linear" && rope.type != "dynamic" && rope.type != "yarn" &&
      rope.type != "llama3")
    return p.error(p.get("rope_type") ? "rope_type" : "type",
                   "names unsupported rope type '" + rope.type +
                       "' (supported: default, linear, dynamic, yarn, llama3)");
  QC_ASSIGN_OR_RETURN(rope.factor, p.positiveNumber("factor"));
  if (rope.type == "linear")
    return rope;
  QC_ASSIGN_OR_RETURN(
      rope.originalMaxPositionEmbeddings,
      p.positive("original_max_position_embeddings", maxPositions));
  if (rope.type == "yarn") {
    if (p.get("attention_factor")) {
      QC_ASSIGN_OR_RETURN(rope.attentionFactor,
                          p.positiveNumber("attention_factor"));
    }
    QC_ASSIGN_OR_RETURN(rope.betaFast,
                        p.positiveNumber("beta_fast", rope.betaFast));
    QC_ASSIGN_OR_RETURN(rope.betaSlow,
                        p.positiveNumber("beta_slow", rope.betaSlow));
  } else if (rope.type == "llama3") {
    QC_ASSIGN_OR_RETURN(rope.lowFreqFactor,
                        p.positiveNumber("low_freq_factor"));
    QC_ASSIGN_OR_RETURN(rope.highFreqFactor,
                        p.positiveNumber("high_freq_factor"));
    // llama3 smoothing divides by high_freq_factor - low_freq_factor.
    if (rope.highFreqFactor <= rope.lowFreqFactor)
      return p.error("high_freq_factor",
                     "must be greater than low_freq_factor");
  }
  return rope;
}

/// Qwen2: sliding-window attention applies to layers >= max_window_layers
/// (or as listed in layer_types); only all-or-nothing is supported.
StatusOr<std::optional<int64_t>> parseQwen2Window(const Fields &f,
                                                  int64_t numLayers) {
  QC_ASSIGN_OR_RETURN(std::optional<bool> use, f.boolean("use_sliding_window"));
  std::optional<int64_t> window = 4096;
  if (f.has("sliding_window")) {
    QC_ASSIGN_OR_RETURN(window, f.integer("sliding_window"));
  }
  if (!use.value_or(false))
    window.reset();
  if (window && *window <= 0)
    return f.error("sliding_window", "must be positive");

  int64_t slidingLayers = 0;
  if (const Json *types = f.get("layer_types")) {
    if (!types->is_array() || types->size() != static_cast<size_t>(numLayers))
      return f.typeError("layer_types",
                         "an array with one entry per hidden layer", *types);
    for (const Json &type : *types) {
      if (type == "sliding_attention")
        ++slidingLayers;
      else if (type != "full_attention")
        return f.error("layer_types", "entries must be 'full_attention' or "
                                      "'sliding_attention'");
    }
  } else if (window) {
    QC_ASSIGN_OR_RETURN(std::optional<int64_t> first,
                        f.integer("max_window_layers"));
    if (first.value_or(0) < 0)
      return f.error("max_window_layers", "must not be negative");
    slidingLayers = std::max<int64_t>(0, numLayers - first.value_or(28));
  }
  if (slidingLayers == 0)
    return std::optional<int64_t>();
  if (slidingLayers != numLayers)
    return f.error(f.get("layer_types") ? "layer_types" : "max_window_layers",
                   "mixes sliding-window and full-attention layers, which is "
                   "not supported");
  if (!window)
    return f.error("sliding_window",
                   "must be set for sliding_attention layers");
  return window;
}

Status checkSizesFit(const ModelConfig &c, const std::string &source) {
  // An upper bound on the parameter count, as if every bias were present,
  // times 8 bytes per element: then no size derived from it overflows.
  int64_t h = c.hiddenSize, i = c.intermediateSize;
  std::optional<int64_t> q = product({c.numAttentionHeads, c.headDim});
  std::optional<int64_t> kv = product({c.numKeyValueHeads, c.headDim});
  std::optional<int64_t> layer =
      sum({product({q, h, 2}), product({kv, h, 2}), product({i, h, 3}),
           product({h, 4}), q, product({kv, 2}), product({i, 2})});
  std::optional<int64_t> total = sum(
      {product({c.numHiddenLayers, layer}), product({c.vocabSize, h, 2}), h});
  if (!product({total, 8}))
    return Status::error(source + ": model dimensions are too large: the "
                                  "parameter count overflows 64-bit sizes");
  return Status::ok();
}

StatusOr<ModelConfig> parseConfig(const Json &json, const std::string &source) {
  if (!json.is_object())
    return Status::error(source + ": config must be a JSON object, got " +
                         json.type_name());
  Fields f(json, source, "");
  ModelConfig c;
  QC_ASSIGN_OR_RETURN(const Architecture *arch, parseArchitecture(f));
  c.architecture = arch->name;
  c.modelType = arch->modelType;
  QC_ASSIGN_OR_RETURN(std::optional<std::string> modelType,
                      f.string("model_type"));
  if (modelType && *modelType != c.modelType)
    return f.error("model_type", "is '" + *modelType + "', but " +
                                     c.architecture + " needs '" + c.modelType +
                                     "'");

  QC_ASSIGN_OR_RETURN(c.vocabSize, f.positive("vocab_size"));
  QC_ASSIGN_OR_RETURN(c.hiddenSize, f.positive("hidden_size"));
  QC_ASSIGN_OR_RETURN(c.intermediateSize, f.positive("intermediate_size"));
  QC_ASSIGN_OR_RETURN(c.numHiddenLayers, f.positive("num_hidden_layers"));
  // Consumers build per-layer lists; a hostile count must not exhaust memory.
  if (c.numHiddenLayers > kMaxLayers)
    return f.error("num_hidden_layers", "exceeds the supported maximum of " +
                                            std::to_string(kMaxLayers));
  QC_ASSIGN_OR_RETURN(c.numAttentionHeads, f.positive("num_attention_heads"));
  QC_ASSIGN_OR_RETURN(c.maxPositionEmbeddings,
                      f.positive("max_position_embeddings"));

  bool mistralDefault =
      arch->family == Family::Mistral && !f.has("num_key_value_heads");
  QC_ASSIGN_OR_RETURN(c.numKeyValueHeads,
                      f.positive("num_key_value_heads",
                                 mistralDefault ? 8 : c.numAttentionHeads));
  if (c.numAttentionHeads % c.numKeyValueHeads != 0)
    return Status::error(source + ": num_attention_heads (" +
                         std::to_string(c.numAttentionHeads) +
                         ") is not a multiple of num_key_value_heads (" +
                         std::to_string(c.numKeyValueHeads) + ")");
  if (f.get("head_dim")) {
    QC_ASSIGN_OR_RETURN(c.headDim, f.positive("head_dim"));
  } else {
    if (c.hiddenSize % c.numAttentionHeads != 0)
      return Status::error(
          source + ": hidden_size (" + std::to_string(c.hiddenSize) +
          ") is not a multiple of num_attention_heads (" +
          std::to_string(c.numAttentionHeads) + ") and head_dim is not given");
    c.headDim = c.hiddenSize / c.numAttentionHeads;
  }
  QC_RETURN_IF_ERROR(checkSizesFit(c, source));

  QC_ASSIGN_OR_RETURN(c.rmsNormEps, f.positiveNumber("rms_norm_eps", 1e-6));
  QC_ASSIGN_OR_RETURN(c.rope, parseRope(f, c.maxPositionEmbeddings));
  QC_ASSIGN_OR_RETURN(std::optional<std::string> act, f.string("hidden_act"));
  c.hiddenAct = act.value_or("silu");
  if (c.hiddenAct != "silu")
    return f.error("hidden_act",
                   "is '" + c.hiddenAct + "', but only 'silu' is supported");
  QC_ASSIGN_OR_RETURN(std::optional<bool> tie,
                      f.boolean("tie_word_embeddings"));
  c.tieWordEmbeddings = tie.value_or(false);

  switch (arch->family) {
  case Family::Llama: {
    QC_ASSIGN_OR_RETURN(std::optional<bool> bias, f.boolean("attention_bias"));
    c.attentionBias = c.attentionOutputBias = bias.value_or(false);
    QC_ASSIGN_OR_RETURN(std::optional<bool> mlpBias, f.boolean("mlp_bias"));
    c.mlpBias = mlpBias.value_or(false);
    break;
  }
  case Family::Mistral:
    if (!f.has("sliding_window")) {
      c.slidingWindow = 4096;
    } else if (f.get("sliding_window")) {
      QC_ASSIGN_OR_RETURN(c.slidingWindow, f.positive("sliding_window"));
    }
    break;
  case Family::Qwen2:
    c.attentionBias = true;
    QC_ASSIGN_OR_RETURN(c.slidingWindow,
                        parseQwen2Window(f, c.numHiddenLayers));
    break;
  }

  // transformers v5 writes "dtype", v4 "torch_dtype".
  QC_ASSIGN_OR_RETURN(std::optional<std::string> dtype, f.string("dtype"));
  if (!dtype) {
    QC_ASSIGN_OR_RETURN(dtype, f.string("torch_dtype"));
  }
  c.torchDtype = dtype.value_or("");

  bool llamaIds = arch->family != Family::Qwen2;
  QC_ASSIGN_OR_RETURN(c.bosTokenIds,
                      parseTokenIds(f, "bos_token_id",
                                    llamaIds ? std::vector<int64_t>{1}
                                             : std::vector<int64_t>{}));
  QC_ASSIGN_OR_RETURN(c.eosTokenIds,
                      parseTokenIds(f, "eos_token_id",
                                    llamaIds ? std::vector<int64_t>{2}
                                             : std::vector<int64_t>{}));

  if (const Json *quant = f.get("quantization_config")) {
    if (!quant->is_object())
      return f.typeError("quantization_config", "an object", *quant);
    c.quantizationConfigJson = quant->dump();
  }
  return c;
}
} // namespace

StatusOr<ModelConfig> parseModelConfig(std::string_view jsonText,
                                       std::string_view sourceName) {
  std::string source(sourceName);
  QC_ASSIGN_OR_RETURN(Json json, detail::parseJson(jsonText, source));
  return parseConfig(json, source);
}

StatusOr<ModelConfig> loadModelConfig(const std::string &path) {
  QC_ASSIGN_OR_RETURN(Json json, detail::readJsonFile(path));
  return parseConfig(json, path);
}

} // namespace qc
