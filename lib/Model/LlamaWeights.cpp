//===- LlamaWeights.cpp - Parameter list of the Llama family --------------===//

#include "qc/Model/LlamaWeights.h"

#include <charconv>
#include <set>

namespace qc {

namespace {
/// Problems listed in full by validateWeights; the rest are only counted.
constexpr size_t kMaxListedProblems = 5;

bool isSupportedWeightType(DType type) {
  return type == DType::F32 || type == DType::F16 || type == DType::BF16;
}
} // namespace

std::string layerHint(const ModelConfig &config, const std::string &name) {
  const std::string prefix = "model.layers.";
  if (!name.starts_with(prefix))
    return "";
  int64_t layer = 0;
  const char *begin = name.data() + prefix.size(),
             *end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(begin, end, layer);
  if (ec != std::errc() || ptr == begin || layer < config.numHiddenLayers)
    return "";
  return " (layer " + std::to_string(layer) +
         ", but config.json has num_hidden_layers " +
         std::to_string(config.numHiddenLayers) + ")";
}

std::vector<ExpectedTensor> expectedWeights(const ModelConfig &config) {
  int64_t h = config.hiddenSize, i = config.intermediateSize;
  int64_t v = config.vocabSize;
  int64_t q = config.numAttentionHeads * config.headDim;
  int64_t kv = config.numKeyValueHeads * config.headDim;

  std::vector<ExpectedTensor> tensors;
  auto linear = [&](const std::string &name, int64_t out, int64_t in,
                    bool bias) {
    tensors.push_back({name + ".weight", {out, in}});
    if (bias)
      tensors.push_back({name + ".bias", {out}});
  };

  tensors.push_back({"model.embed_tokens.weight", {v, h}});
  for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer) {
    std::string prefix = "model.layers." + std::to_string(layer) + ".";
    tensors.push_back({prefix + "input_layernorm.weight", {h}});
    linear(prefix + "self_attn.q_proj", q, h, config.attentionBias);
    linear(prefix + "self_attn.k_proj", kv, h, config.attentionBias);
    linear(prefix + "self_attn.v_proj", kv, h, config.attentionBias);
    linear(prefix + "self_attn.o_proj", h, q, config.attentionOutputBias);
    tensors.push_back({prefix + "post_attention_layernorm.weight", {h}});
    linear(prefix + "mlp.gate_proj", i, h, config.mlpBias);
    linear(prefix + "mlp.up_proj", i, h, config.mlpBias);
    linear(prefix + "mlp.down_proj", h, i, config.mlpBias);
  }
  tensors.push_back({"model.norm.weight", {h}});
  if (!config.tieWordEmbeddings)
    tensors.push_back({"lm_head.weight", {v, h}});
  return tensors;
}

Status validateWeights(const ModelConfig &config, const WeightIndex &weights) {
  std::vector<std::string> problems;
  for (const ExpectedTensor &expected : expectedWeights(config)) {
    const TensorInfo *info = weights.find(expected.name);
    if (!info)
      problems.push_back("missing tensor '" + expected.name + "'");
    else if (info->shape != expected.shape)
      problems.push_back("tensor '" + expected.name + "' has shape " +
                         formatShape(info->shape) + ", expected " +
                         formatShape(expected.shape));
    else if (!isSupportedWeightType(info->dtype))
      problems.push_back("tensor '" + expected.name + "' has dtype " +
                         std::string(dtypeName(info->dtype)) +
                         ", expected F32, F16 or BF16");
  }
  // Tensors the model would not use mean the config and the checkpoint
  // disagree (num_hidden_layers too small, another architecture): an
  // error, not weights silently dropped. HF's rotary inv_freq buffers and a
  // tied model's lm_head copy are the known harmless extras.
  std::set<std::string> expectedNames;
  for (const ExpectedTensor &expected : expectedWeights(config))
    expectedNames.insert(expected.name);
  for (const std::string &name : weights.names()) {
    if (expectedNames.count(name) || name.ends_with(".rotary_emb.inv_freq") ||
        (config.tieWordEmbeddings && name == "lm_head.weight"))
      continue;
    problems.push_back("unexpected tensor '" + name + "'" +
                       layerHint(config, name));
  }
  if (problems.empty())
    return Status::ok();

  std::string message = weights.directory() + ": weights do not match " +
                        config.architecture + " config: ";
  for (size_t k = 0; k < problems.size() && k < kMaxListedProblems; ++k)
    message += (k ? "; " : "") + problems[k];
  if (problems.size() > kMaxListedProblems)
    message += "; and " + std::to_string(problems.size() - kMaxListedProblems) +
               " more problems";
  return Status::error(message);
}

} // namespace qc
