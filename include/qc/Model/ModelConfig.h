//===- ModelConfig.h - Hugging Face config.json for Llama-likes -*- C++ -*-===//
//
// Parses the config.json of LlamaForCausalLM, MistralForCausalLM and
// Qwen2ForCausalLM checkpoints into one normalized description. Defaults
// follow the transformers configuration classes (LlamaConfig, MistralConfig,
// Qwen2Config); both the v4 layout (rope_theta + rope_scaling, torch_dtype)
// and the v5 layout (rope_parameters, dtype) are accepted.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_MODELCONFIG_H
#define QC_MODEL_MODELCONFIG_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qc {

/// Rotary position embedding parameters.
struct RopeConfig {
  /// One of "default", "linear", "dynamic", "yarn", "llama3".
  std::string type = "default";
  double theta = 10000.0;
  /// Context-extension factor (linear, dynamic, yarn, llama3).
  double factor = 1.0;
  /// llama3 only.
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;
  /// Pre-extension context length (dynamic, yarn, llama3); defaults to
  /// max_position_embeddings as in transformers v5. Zero for default/linear.
  int64_t originalMaxPositionEmbeddings = 0;
  /// yarn only: attention scale (nullopt: 0.1 * ln(factor) + 1) and the
  /// ramp boundaries.
  std::optional<double> attentionFactor;
  double betaFast = 32.0, betaSlow = 1.0;
};

struct ModelConfig {
  std::string architecture; ///< "LlamaForCausalLM", ...
  std::string modelType;    ///< "llama", "mistral", "qwen2"
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0;
  int64_t numHiddenLayers = 0, numAttentionHeads = 0, numKeyValueHeads = 0;
  int64_t headDim = 0, maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  RopeConfig rope;
  bool tieWordEmbeddings = false;
  /// q, k and v projections have biases (Qwen2 always; Llama with
  /// attention_bias).
  bool attentionBias = false;
  /// o_proj has a bias (Llama with attention_bias only).
  bool attentionOutputBias = false;
  /// gate, up and down projections have biases (Llama with mlp_bias).
  bool mlpBias = false;
  /// Window of sliding-window attention in every layer; nullopt for full
  /// attention.
  std::optional<int64_t> slidingWindow;
  std::string hiddenAct = "silu";
  /// "bfloat16", ... or empty when the config does not say.
  std::string torchDtype;
  std::vector<int64_t> bosTokenIds, eosTokenIds;
  /// The "quantization_config" object, serialized, when present.
  std::optional<std::string> quantizationConfigJson;
};

/// Parses config.json text; `sourceName` prefixes every error message.
StatusOr<ModelConfig> parseModelConfig(std::string_view jsonText,
                                       std::string_view sourceName);

/// Reads and parses the config.json at `path`.
StatusOr<ModelConfig> loadModelConfig(const std::string &path);

} // namespace qc

#endif // QC_MODEL_MODELCONFIG_H
