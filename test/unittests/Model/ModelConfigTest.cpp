//===- ModelConfigTest.cpp - Tests for the config.json parser -------------===//

#include "qc/Model/ModelConfig.h"

#include "ModelTestUtil.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace qc;
using qc::test::errorOf;

namespace {

// Llama 3.1 8B as saved by transformers v4.
constexpr const char *kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0,
                   "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192,
                   "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "vocab_size": 128256
})";

// A small Llama in the transformers v5 layout.
constexpr const char *kLlamaV5 = R"({
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "dtype": "float16",
  "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
  "num_attention_heads": 32, "num_key_value_heads": 4,
  "max_position_embeddings": 2048, "vocab_size": 32000,
  "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
  "tie_word_embeddings": false
})";

// Mistral 7B v0.1.
constexpr const char *kMistral = R"({
  "architectures": ["MistralForCausalLM"],
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
  "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "vocab_size": 32000
})";

// Qwen2.5 0.5B.
constexpr const char *kQwen2 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151643,
  "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
  "max_position_embeddings": 32768, "max_window_layers": 24,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false,
  "vocab_size": 151936
})";

/// Parses `base` with the given top-level fields replaced (or removed when
/// the value is empty).
StatusOr<ModelConfig> parseEdited(
    const char *base,
    std::initializer_list<std::pair<const char *, const char *>> edits) {
  nlohmann::json json = nlohmann::json::parse(base);
  for (const auto &[field, value] : edits) {
    if (std::string_view(value).empty())
      json.erase(field);
    else
      json[field] = nlohmann::json::parse(value);
  }
  return parseModelConfig(json.dump(), "config.json");
}

std::string
errorFor(const char *base,
         std::initializer_list<std::pair<const char *, const char *>> edits) {
  return errorOf(parseEdited(base, edits));
}

TEST(ModelConfigTest, Llama31WithLlama3Rope) {
  auto c = parseModelConfig(kLlama31, "config.json");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->modelType, "llama");
  EXPECT_EQ(c->vocabSize, 128256);
  EXPECT_EQ(c->hiddenSize, 4096);
  EXPECT_EQ(c->intermediateSize, 14336);
  EXPECT_EQ(c->numHiddenLayers, 32);
  EXPECT_EQ(c->numAttentionHeads, 32);
  EXPECT_EQ(c->numKeyValueHeads, 8);
  EXPECT_EQ(c->headDim, 128);
  EXPECT_EQ(c->maxPositionEmbeddings, 131072);
  EXPECT_DOUBLE_EQ(c->rmsNormEps, 1e-5);
  EXPECT_EQ(c->rope.type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c->rope.factor, 8.0);
  EXPECT_DOUBLE_EQ(c->rope.lowFreqFactor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope.highFreqFactor, 4.0);
  EXPECT_EQ(c->rope.originalMaxPositionEmbeddings, 8192);
  EXPECT_FALSE(c->tieWordEmbeddings);
  EXPECT_FALSE(c->attentionBias);
  EXPECT_FALSE(c->attentionOutputBias);
  EXPECT_FALSE(c->mlpBias);
  EXPECT_FALSE(c->slidingWindow);
  EXPECT_EQ(c->hiddenAct, "silu");
  EXPECT_EQ(c->torchDtype, "bfloat16");
  EXPECT_EQ(c->bosTokenIds, std::vector<int64_t>{128000});
  EXPECT_EQ(c->eosTokenIds, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_FALSE(c->quantizationConfigJson);
}

TEST(ModelConfigTest, LlamaV5LayoutAndDefaults) {
  auto c = parseModelConfig(kLlamaV5, "config.json");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->numKeyValueHeads, 4);
  EXPECT_EQ(c->headDim, 64);
  EXPECT_EQ(c->rope.type, "default");
  EXPECT_DOUBLE_EQ(c->rope.theta, 10000.0);
  EXPECT_EQ(c->torchDtype, "float16");
  // LlamaConfig defaults.
  EXPECT_DOUBLE_EQ(c->rmsNormEps, 1e-6);
  EXPECT_EQ(c->bosTokenIds, std::vector<int64_t>{1});
  EXPECT_EQ(c->eosTokenIds, std::vector<int64_t>{2});
}

TEST(ModelConfigTest, RopeParametersTakePrecedence) {
  auto c = parseEdited(kLlamaV5, {{"rope_theta", "500.0"},
                                  {"rope_parameters",
                                   R"({"rope_type": "linear", "factor": 2,
                                       "rope_theta": 700000})"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->rope.type, "linear");
  EXPECT_DOUBLE_EQ(c->rope.factor, 2.0);
  EXPECT_DOUBLE_EQ(c->rope.theta, 700000.0);
  // Without rope_theta inside, the top-level one applies; then the default.
  c = parseEdited(kLlamaV5,
                  {{"rope_theta", "500.0"},
                   {"rope_parameters", R"({"rope_type": "default"})"}});
  ASSERT_TRUE(c.isOk());
  EXPECT_DOUBLE_EQ(c->rope.theta, 500.0);
  c = parseEdited(kLlamaV5, {{"rope_parameters", ""}});
  ASSERT_TRUE(c.isOk());
  EXPECT_DOUBLE_EQ(c->rope.theta, 10000.0);
  EXPECT_EQ(c->rope.type, "default");
}

TEST(ModelConfigTest, RopeScalingTypes) {
  auto c = parseEdited(
      kLlama31, {{"rope_scaling", R"({"type": "dynamic", "factor": 2})"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->rope.type, "dynamic");
  EXPECT_EQ(c->rope.originalMaxPositionEmbeddings, 131072);

  c = parseEdited(kQwen2, {{"rope_scaling",
                            R"({"type": "yarn", "factor": 4.0,
                                "original_max_position_embeddings": 32768})"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->rope.type, "yarn");
  EXPECT_DOUBLE_EQ(c->rope.factor, 4.0);
  EXPECT_EQ(c->rope.originalMaxPositionEmbeddings, 32768);
  EXPECT_FALSE(c->rope.attentionFactor);
  EXPECT_DOUBLE_EQ(c->rope.betaFast, 32.0);
  EXPECT_DOUBLE_EQ(c->rope.betaSlow, 1.0);

  c = parseEdited(kLlama31, {{"rope_scaling", "null"}});
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->rope.type, "default");

  EXPECT_NE(errorFor(kLlama31, {{"rope_scaling",
                                 R"({"rope_type": "longrope", "factor": 2})"}})
                .find("config.json: field 'rope_scaling.rope_type' names "
                      "unsupported rope type 'longrope'"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rope_scaling",
                                 R"({"rope_type": "llama3", "factor": 8})"}})
                .find("missing required field 'rope_scaling.low_freq_factor'"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rope_scaling", R"({"type": "linear"})"}})
                .find("missing required field 'rope_scaling.factor'"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rope_scaling", R"({"type": "yarn",
                                   "factor": 2, "mscale": 1})"}})
                .find("'rope_scaling.mscale' is not supported"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rope_scaling", "[1]"}})
                .find("field 'rope_scaling' must be an object, got array"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rope_theta", "-1"}})
                .find("field 'rope_theta' must be positive"),
            std::string::npos);
}

TEST(ModelConfigTest, Mistral) {
  auto c = parseModelConfig(kMistral, "config.json");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->modelType, "mistral");
  EXPECT_EQ(c->slidingWindow, 4096);
  EXPECT_FALSE(c->attentionBias || c->attentionOutputBias || c->mlpBias);
  EXPECT_EQ(c->numKeyValueHeads, 8);

  // Mistral Nemo style: explicit head_dim, sliding_window null.
  c = parseEdited(kMistral, {{"hidden_size", "5120"},
                             {"head_dim", "128"},
                             {"sliding_window", "null"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->headDim, 128);
  EXPECT_FALSE(c->slidingWindow);

  // MistralConfig defaults: sliding_window 4096, 8 KV heads when absent,
  // num_attention_heads when null.
  c = parseEdited(kMistral,
                  {{"sliding_window", ""}, {"num_key_value_heads", ""}});
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->slidingWindow, 4096);
  EXPECT_EQ(c->numKeyValueHeads, 8);
  c = parseEdited(kMistral, {{"num_key_value_heads", "null"}});
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->numKeyValueHeads, 32);
}

TEST(ModelConfigTest, Qwen2TiedWithBiases) {
  auto c = parseModelConfig(kQwen2, "config.json");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->modelType, "qwen2");
  EXPECT_TRUE(c->tieWordEmbeddings);
  EXPECT_TRUE(c->attentionBias);
  EXPECT_FALSE(c->attentionOutputBias);
  EXPECT_FALSE(c->mlpBias);
  EXPECT_EQ(c->headDim, 64);
  EXPECT_EQ(c->numKeyValueHeads, 2);
  EXPECT_FALSE(c->slidingWindow); // use_sliding_window is false
  EXPECT_DOUBLE_EQ(c->rope.theta, 1e6);
  EXPECT_EQ(c->eosTokenIds, std::vector<int64_t>{151643});

  // Qwen2Config has no bos/eos defaults; attention_bias is not read.
  c = parseEdited(kQwen2, {{"bos_token_id", ""},
                           {"eos_token_id", ""},
                           {"attention_bias", "false"},
                           {"tie_word_embeddings", ""}});
  ASSERT_TRUE(c.isOk());
  EXPECT_TRUE(c->bosTokenIds.empty());
  EXPECT_TRUE(c->eosTokenIds.empty());
  EXPECT_TRUE(c->attentionBias);
  EXPECT_FALSE(c->tieWordEmbeddings);
}

TEST(ModelConfigTest, Qwen2SlidingWindow) {
  auto c = parseEdited(kQwen2, {{"use_sliding_window", "true"},
                                {"max_window_layers", "0"},
                                {"sliding_window", "4096"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->slidingWindow, 4096); // every layer is at or above 0
  c = parseEdited(
      kQwen2, {{"use_sliding_window", "true"}, {"max_window_layers", "24"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_FALSE(c->slidingWindow); // no layer at or above 24
  EXPECT_NE(errorFor(kQwen2, {{"use_sliding_window", "true"},
                              {"max_window_layers", "12"}})
                .find("mixes sliding-window and full-attention layers"),
            std::string::npos);
  std::string allSliding = "[";
  for (int i = 0; i < 24; ++i)
    allSliding += std::string(i ? "," : "") + "\"sliding_attention\"";
  allSliding += "]";
  c = parseEdited(kQwen2, {{"use_sliding_window", "true"},
                           {"layer_types", allSliding.c_str()}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->slidingWindow, 32768);
}

TEST(ModelConfigTest, QuantizationConfigIsKept) {
  auto c = parseEdited(kLlamaV5, {{"quantization_config",
                                   R"({"quant_method": "gptq", "bits": 4})"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  ASSERT_TRUE(c->quantizationConfigJson);
  auto q = nlohmann::json::parse(*c->quantizationConfigJson);
  EXPECT_EQ(q["quant_method"], "gptq");
  EXPECT_EQ(q["bits"], 4);
}

TEST(ModelConfigTest, UnsupportedArchitecture) {
  std::string message =
      errorFor(kLlama31, {{"architectures", R"(["GPT2LMHeadModel"])"}});
  EXPECT_NE(message.find("config.json: unsupported architecture "
                         "'GPT2LMHeadModel' (supported: LlamaForCausalLM, "
                         "MistralForCausalLM, Qwen2ForCausalLM)"),
            std::string::npos)
      << message;
  EXPECT_NE(errorFor(kLlama31, {{"architectures", ""}})
                .find("config.json: missing required field 'architectures'"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"architectures", R"(["LlamaForCausalLM",
                                   "MistralForCausalLM"])"}})
                .find("must name exactly one architecture, got 2"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"model_type", "\"mistral\""}})
                .find("field 'model_type' is 'mistral', but LlamaForCausalLM "
                      "needs 'llama'"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"hidden_act", "\"gelu\""}})
                .find("field 'hidden_act' is 'gelu'"),
            std::string::npos);
}

TEST(ModelConfigTest, MissingField) {
  for (const char *field :
       {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "max_position_embeddings"}) {
    EXPECT_NE(errorFor(kLlama31, {{field, ""}})
                  .find(std::string("config.json: missing required field '") +
                        field + "'"),
              std::string::npos)
        << field;
  }
}

TEST(ModelConfigTest, WrongTypes) {
  EXPECT_NE(errorFor(kLlama31, {{"hidden_size", "\"4096\""}})
                .find("config.json: field 'hidden_size' must be a 64-bit "
                      "integer, got string"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"hidden_size", "4096.5"}})
                .find("field 'hidden_size' must be a 64-bit integer, got "
                      "number"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"num_hidden_layers", "true"}})
                .find("must be a 64-bit integer, got boolean"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"vocab_size", "18446744073709551615"}})
                .find("field 'vocab_size' must be a 64-bit integer"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"tie_word_embeddings", "1"}})
                .find("field 'tie_word_embeddings' must be a boolean, got "
                      "number"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"rms_norm_eps", "\"1e-5\""}})
                .find("field 'rms_norm_eps' must be a number"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"eos_token_id", R"([1, "x"])"}})
                .find("field 'eos_token_id' must be a non-negative integer "
                      "or a list of them"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"torch_dtype", "16"}})
                .find("field 'torch_dtype' must be a string"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"quantization_config", "\"gptq\""}})
                .find("field 'quantization_config' must be an object"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"intermediate_size", "0"}})
                .find("field 'intermediate_size' must be positive, got 0"),
            std::string::npos);
}

TEST(ModelConfigTest, HeadsNotDivisible) {
  EXPECT_NE(errorFor(kLlama31, {{"num_key_value_heads", "5"}})
                .find("num_attention_heads (32) is not a multiple of "
                      "num_key_value_heads (5)"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"hidden_size", "4000"},
                                {"num_attention_heads", "48"},
                                {"num_key_value_heads", "8"}})
                .find("hidden_size (4000) is not a multiple of "
                      "num_attention_heads (48)"),
            std::string::npos);
  // An explicit head_dim lifts the divisibility requirement.
  auto c = parseEdited(kLlama31, {{"hidden_size", "4000"},
                                  {"num_attention_heads", "48"},
                                  {"num_key_value_heads", "8"},
                                  {"head_dim", "96"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->headDim, 96);
}

TEST(ModelConfigTest, OverflowingSizes) {
  EXPECT_NE(errorFor(kLlama31, {{"vocab_size", "4611686018427387904"}})
                .find("model dimensions are too large"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"hidden_size", "4294967296"},
                                {"num_attention_heads", "1"},
                                {"num_key_value_heads", "1"}})
                .find("model dimensions are too large"),
            std::string::npos);
  EXPECT_NE(errorFor(kLlama31, {{"num_hidden_layers", "1000000000"}})
                .find("exceeds the supported maximum"),
            std::string::npos);
}

TEST(ModelConfigTest, MalformedJson) {
  EXPECT_NE(errorOf(parseModelConfig("{\"architectures\": [", "config.json"))
                .find("config.json: invalid JSON"),
            std::string::npos);
  EXPECT_NE(errorOf(parseModelConfig("[]", "config.json"))
                .find("config.json: config must be a JSON object, got array"),
            std::string::npos);
  EXPECT_NE(errorOf(parseModelConfig(R"({"a": 1, "a": 2})", "config.json"))
                .find("duplicate key 'a'"),
            std::string::npos);
}

TEST(ModelConfigTest, LoadFromFile) {
  test::ScopedTempDir dir;
  std::string path = dir.file("config.json");
  test::writeFile(path, kMistral);
  auto c = loadModelConfig(path);
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->architecture, "MistralForCausalLM");
  test::writeFile(path, "{\"architectures\": 1}");
  EXPECT_NE(errorOf(loadModelConfig(path))
                .find(path + ": field 'architectures' must be an array"),
            std::string::npos);
  EXPECT_NE(errorOf(loadModelConfig(dir.file("absent.json")))
                .find("absent.json: cannot open"),
            std::string::npos);
}

} // namespace
