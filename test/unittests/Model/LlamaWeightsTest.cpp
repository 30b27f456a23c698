//===- LlamaWeightsTest.cpp - Tests for the Llama parameter list ----------===//

#include "qc/Model/LlamaWeights.h"

#include "ModelTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace qc;
using qc::test::errorOf;

namespace {

ModelConfig tinyConfig(const std::string &architecture, bool tied,
                       const std::string &extra = "") {
  std::string modelType = architecture == "Qwen2ForCausalLM"     ? "qwen2"
                          : architecture == "MistralForCausalLM" ? "mistral"
                                                                 : "llama";
  std::string json = "{\"architectures\": [\"" + architecture +
                     "\"], \"model_type\": \"" + modelType +
                     "\", \"vocab_size\": 16, \"hidden_size\": 8, "
                     "\"intermediate_size\": 12, \"num_hidden_layers\": 2, "
                     "\"num_attention_heads\": 2, \"num_key_value_heads\": 1, "
                     "\"max_position_embeddings\": 64, "
                     "\"tie_word_embeddings\": " +
                     (tied ? "true" : "false") + extra + "}";
  auto config = parseModelConfig(json, "config.json");
  EXPECT_TRUE(config.isOk()) << config.status().message();
  return config.isOk() ? *config : ModelConfig();
}

const ExpectedTensor *findExpected(const std::vector<ExpectedTensor> &list,
                                   const std::string &name) {
  auto it =
      std::find_if(list.begin(), list.end(),
                   [&](const ExpectedTensor &t) { return t.name == name; });
  return it == list.end() ? nullptr : &*it;
}

using Shape = std::vector<int64_t>;

TEST(LlamaWeightsTest, ExpectedLlamaTensors) {
  std::vector<ExpectedTensor> list =
      expectedWeights(tinyConfig("LlamaForCausalLM", false));
  ASSERT_EQ(list.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(list.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(list.front().shape, (Shape{16, 8}));
  EXPECT_EQ(list.back().name, "lm_head.weight");
  EXPECT_EQ(list.back().shape, (Shape{16, 8}));
  auto shapeOf = [&](const std::string &name) {
    const ExpectedTensor *t = findExpected(list, name);
    EXPECT_NE(t, nullptr) << name;
    return t ? t->shape : Shape{};
  };
  EXPECT_EQ(shapeOf("model.layers.1.input_layernorm.weight"), Shape{8});
  EXPECT_EQ(shapeOf("model.layers.1.self_attn.q_proj.weight"), (Shape{8, 8}));
  EXPECT_EQ(shapeOf("model.layers.1.self_attn.k_proj.weight"), (Shape{4, 8}));
  EXPECT_EQ(shapeOf("model.layers.1.self_attn.v_proj.weight"), (Shape{4, 8}));
  EXPECT_EQ(shapeOf("model.layers.1.self_attn.o_proj.weight"), (Shape{8, 8}));
  EXPECT_EQ(shapeOf("model.layers.0.post_attention_layernorm.weight"),
            Shape{8});
  EXPECT_EQ(shapeOf("model.layers.0.mlp.gate_proj.weight"), (Shape{12, 8}));
  EXPECT_EQ(shapeOf("model.layers.0.mlp.up_proj.weight"), (Shape{12, 8}));
  EXPECT_EQ(shapeOf("model.layers.0.mlp.down_proj.weight"), (Shape{8, 12}));
  EXPECT_EQ(shapeOf("model.norm.weight"), Shape{8});
  EXPECT_EQ(findExpected(list, "model.layers.0.self_attn.q_proj.bias"),
            nullptr);
}

TEST(LlamaWeightsTest, ExplicitHeadDim) {
  std::vector<ExpectedTensor> list = expectedWeights(
      tinyConfig("LlamaForCausalLM", false, ", \"head_dim\": 6"));
  EXPECT_EQ(findExpected(list, "model.layers.0.self_attn.q_proj.weight")->shape,
            (Shape{12, 8}));
  EXPECT_EQ(findExpected(list, "model.layers.0.self_attn.k_proj.weight")->shape,
            (Shape{6, 8}));
  EXPECT_EQ(findExpected(list, "model.layers.0.self_attn.o_proj.weight")->shape,
            (Shape{8, 12}));
}

TEST(LlamaWeightsTest, Biases) {
  std::vector<ExpectedTensor> qwen =
      expectedWeights(tinyConfig("Qwen2ForCausalLM", true));
  EXPECT_EQ(findExpected(qwen, "model.layers.0.self_attn.q_proj.bias")->shape,
            Shape{8});
  EXPECT_EQ(findExpected(qwen, "model.layers.0.self_attn.k_proj.bias")->shape,
            Shape{4});
  EXPECT_NE(findExpected(qwen, "model.layers.1.self_attn.v_proj.bias"),
            nullptr);
  EXPECT_EQ(findExpected(qwen, "model.layers.0.self_attn.o_proj.bias"),
            nullptr);
  EXPECT_EQ(findExpected(qwen, "lm_head.weight"), nullptr); // tied

  std::vector<ExpectedTensor> llama = expectedWeights(
      tinyConfig("LlamaForCausalLM", false,
                 ", \"attention_bias\": true, \"mlp_bias\": true"));
  EXPECT_NE(findExpected(llama, "model.layers.0.self_attn.o_proj.bias"),
            nullptr);
  EXPECT_EQ(findExpected(llama, "model.layers.0.mlp.down_proj.bias")->shape,
            Shape{8});
  EXPECT_EQ(findExpected(llama, "model.layers.0.mlp.up_proj.bias")->shape,
            Shape{12});
  EXPECT_EQ(llama.size(), 1u + 2 * (9 + 7) + 2);
}

/// Writes model.safetensors holding `tensors` as zero-filled tensors of
/// `dtype`, then validates it against `config`.
Status writeAndValidate(const ModelConfig &config,
                        const std::vector<ExpectedTensor> &tensors,
                        DType dtype = DType::BF16) {
  test::ScopedTempDir dir;
  std::vector<std::vector<uint8_t>> storage;
  storage.reserve(tensors.size());
  std::vector<TensorToWrite> toWrite;
  for (const ExpectedTensor &t : tensors) {
    int64_t elements = 1;
    for (int64_t d : t.shape)
      elements *= d;
    storage.emplace_back(elements * dtypeSize(dtype), 0);
    toWrite.push_back({t.name, dtype, t.shape, storage.back()});
  }
  QC_RETURN_IF_ERROR(writeSafeTensors(dir.file("model.safetensors"), toWrite));
  QC_ASSIGN_OR_RETURN(WeightIndex index, WeightIndex::open(dir.path()));
  return validateWeights(config, index);
}

TEST(LlamaWeightsTest, ValidateGoodModels) {
  for (const char *arch :
       {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}) {
    ModelConfig config = tinyConfig(arch, false);
    Status status = writeAndValidate(config, expectedWeights(config));
    EXPECT_TRUE(status.isOk()) << arch << ": " << status.message();
  }
  ModelConfig config = tinyConfig("LlamaForCausalLM", false);
  EXPECT_TRUE(
      writeAndValidate(config, expectedWeights(config), DType::F32).isOk());
}

TEST(LlamaWeightsTest, ExtraTensorsAreIgnored) {
  ModelConfig config = tinyConfig("LlamaForCausalLM", true);
  std::vector<ExpectedTensor> tensors = expectedWeights(config);
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}});
  // A tied model that nevertheless stores lm_head.weight.
  tensors.push_back({"lm_head.weight", {16, 8}});
  Status status = writeAndValidate(config, tensors);
  EXPECT_TRUE(status.isOk()) << status.message();
}

TEST(LlamaWeightsTest, MissingTensor) {
  ModelConfig config = tinyConfig("LlamaForCausalLM", false);
  std::vector<ExpectedTensor> tensors = expectedWeights(config);
  std::erase_if(tensors, [](const ExpectedTensor &t) {
    return t.name == "model.layers.1.mlp.up_proj.weight";
  });
  std::string message = errorOf(writeAndValidate(config, tensors));
  EXPECT_NE(message.find("weights do not match LlamaForCausalLM config: "
                         "missing tensor 'model.layers.1.mlp.up_proj.weight'"),
            std::string::npos)
      << message;
}

TEST(LlamaWeightsTest, WrongShapeAndDType) {
  ModelConfig config = tinyConfig("Qwen2ForCausalLM", false);
  std::vector<ExpectedTensor> tensors = expectedWeights(config);
  for (ExpectedTensor &t : tensors)
    if (t.name == "model.layers.0.self_attn.k_proj.weight")
      t.shape = {8, 8};
  std::string message = errorOf(writeAndValidate(config, tensors));
  EXPECT_NE(message.find("tensor 'model.layers.0.self_attn.k_proj.weight' has "
                         "shape [8, 8], expected [4, 8]"),
            std::string::npos)
      << message;

  message =
      errorOf(writeAndValidate(config, expectedWeights(config), DType::I32));
  EXPECT_NE(message.find("tensor 'model.embed_tokens.weight' has dtype I32, "
                         "expected F32, F16 or BF16"),
            std::string::npos)
      << message;
  // Only the first few of the many problems are listed.
  EXPECT_NE(message.find("more problems"), std::string::npos) << message;
}

TEST(LlamaWeightsTest, EmptyModel) {
  ModelConfig config = tinyConfig("LlamaForCausalLM", false);
  std::string message = errorOf(writeAndValidate(config, {}));
  EXPECT_NE(message.find("missing tensor 'model.embed_tokens.weight'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("and 16 more problems"), std::string::npos) << message;
}

} // namespace
