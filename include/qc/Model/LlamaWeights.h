//===- LlamaWeights.h - Parameter list of the Llama family ------*- C++ -*-===//
//
// The tensors a Llama, Mistral or Qwen2 checkpoint must hold for a given
// config, in the Hugging Face naming, and a check of a WeightIndex against
// them.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_LLAMAWEIGHTS_H
#define QC_MODEL_LLAMAWEIGHTS_H

#include "qc/Model/ModelConfig.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qc {

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

/// Every parameter of the model described by `config`: embeddings, then each
/// layer's norms, attention and MLP projections (with their biases when the
/// config has them), the final norm, and lm_head unless the embeddings are
/// tied.
std::vector<ExpectedTensor> expectedWeights(const ModelConfig &config);

/// Checks that `weights` holds every expected tensor with the expected shape
/// and a floating-point dtype (F32, F16, BF16), and nothing else but the
/// known harmless extras (rotary_emb.inv_freq, a tied model's
/// lm_head.weight). The error lists the first problems and counts the rest.
Status validateWeights(const ModelConfig &config, const WeightIndex &weights);

/// " (layer L, but config.json has num_hidden_layers N)" when `name` is a
/// tensor of a layer past the config's last, else "".
std::string layerHint(const ModelConfig &config, const std::string &name);

} // namespace qc

#endif // QC_MODEL_LLAMAWEIGHTS_H
