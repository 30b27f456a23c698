//===- AWQExportTest.cpp - AutoAWQ checkpoint export tests ----------------===//

#include "qc/Quant/AWQExport.h"

#include "qc/Model/WeightIndex.h"
#include "qc/Quant/AWQ.h"
#include "qc/Quant/AWQCheckpoint.h"
#include "qc/Quant/WeightPacker.h"

#include "../Model/ModelTestUtil.h"
#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;
using qc::test::ScopedTempDir;
using qc::test::writeFile;
using Json = nlohmann::ordered_json;

namespace {

const std::string kModelDir = std::string(QC_TEST_MODELS_DIR) + "/llama-gqa";

std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Json readJson(const std::string &path) {
  return Json::parse(readText(path), nullptr, /*allow_exceptions=*/false);
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::string moduleOf(const std::string &name) {
  return name.ends_with(".weight") ? name.substr(0, name.size() - 7) : "";
}

void expectError(const Status &status, const std::string &needle) {
  ASSERT_FALSE(status.isOk()) << "expected an error containing: " << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << status.message();
}

} // namespace

// The exported qweight / qzeros / scales unpack to exactly the codes
// awqQuantizeRtn gives the source weights; everything else is unchanged.
TEST(AwqExportTest, ExportsTestModelWithGroup32) {
  ScopedTempDir dir;
  const std::string out = dir.file("awq");
  Status exported = exportAutoAwqCheckpoint(kModelDir, out, 32, true, {});
  ASSERT_TRUE(exported.isOk()) << exported.message();

  Json expectedConfig = readJson(kModelDir + "/config.json");
  expectedConfig["quantization_config"] =
      Json{{"quant_method", "awq"}, {"bits", 4},
           {"group_size", 32},      {"zero_point", true},
           {"version", "gemm"},     {"modules_to_not_convert", Json::array()}};
  // ordered_json compares key order too: the source's order is kept.
  EXPECT_EQ(readJson(out + "/config.json"), expectedConfig);
  EXPECT_EQ(readText(out + "/generation_config.json"),
            readText(kModelDir + "/generation_config.json"));

  auto src = WeightIndex::open(kModelDir);
  auto dst = WeightIndex::open(out);
  ASSERT_TRUE(src.isOk() && dst.isOk());
  EXPECT_EQ(dst->fileOf(dst->names().front())->metadata().at("format"), "pt");
  int linears = 0;
  for (const std::string &name : src->names()) {
    SCOPED_TRACE(name);
    const TensorInfo &info = *src->find(name);
    std::string module = moduleOf(name);
    if (!isDecoderLinear(module)) {
      const TensorInfo *copy = dst->find(name);
      ASSERT_NE(copy, nullptr);
      EXPECT_EQ(copy->dtype, info.dtype);
      EXPECT_EQ(copy->shape, info.shape);
      EXPECT_TRUE(std::ranges::equal(dst->data(name), src->data(name)));
      continue;
    }
    ++linears;
    EXPECT_EQ(dst->find(name), nullptr);
    SafeTensorsLookup lookup(*dst->fileOf(module + ".qweight"));
    auto gemm = importAwqWeight(lookup.lookup(), module, AwqLayout::Gemm, 32);
    ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
    auto codes = unpackAwqGemm(*gemm);
    ASSERT_TRUE(codes.isOk());
    auto values = widenToFloat(info.dtype, src->data(name), name);
    ASSERT_TRUE(values.isOk());
    auto expected = awqQuantizeRtn(
        {*values, info.shape[0], info.shape[1], info.dtype, name}, 32);
    ASSERT_TRUE(expected.isOk()) << expected.status().message();
    EXPECT_EQ(codes->q, expected->q);
    EXPECT_EQ(codes->zeros, expected->zeros);
    EXPECT_EQ(codes->scales, expected->scales);
    auto deq = dequantizeAwq(*codes);
    auto expectedDeq = dequantizeAwq(*expected);
    ASSERT_TRUE(deq.isOk() && expectedDeq.isOk());
    EXPECT_EQ(floatBits(*deq), floatBits(*expectedDeq));
  }
  EXPECT_EQ(linears, 14);
  EXPECT_EQ(dst->names().size(), src->names().size() + 2 * 14);
}

// Symmetric export: qzeros of all 8 (AutoAWQ's kernels always read them),
// skipped modules and biases copied, side files copied.
TEST(AwqExportTest, ExportsSymmetricWithSkipsAndBiases) {
  ScopedTempDir dir;
  const std::string model = dir.file("model");
  std::filesystem::create_directory(model);
  writeFile(model + "/config.json",
            R"({"model_type": "qwen2", "hidden_size": 64, "extra": [1, 2]})");
  writeFile(model + "/tokenizer.json", R"({"model": {}})");
  writeFile(model + "/tokenizer_config.json", "{}");
  writeFile(model + "/special_tokens_map.json", "{}");
  writeFile(model + "/README.md", "not copied");
  std::vector<float> q(16 * 64), bias(16), down(16 * 64);
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = roundToHalf(std::sin(0.37f * i) * 0.1f);
    down[i] = roundToBFloat16(std::cos(0.11f * i));
  }
  for (size_t i = 0; i < bias.size(); ++i)
    bias[i] = 0.5f * i;
  const std::vector<uint8_t> qBytes = bytesOf(floatToHalf(q)),
                             biasBytes = bytesOf(bias),
                             downBytes = bytesOf(floatToBFloat16(down));
  std::vector<TensorToWrite> tensors = {
      {"model.layers.0.self_attn.q_proj.weight", DType::F16, {16, 64}, qBytes},
      {"model.layers.0.self_attn.q_proj.bias", DType::F32, {16}, biasBytes},
      {"model.layers.0.mlp.down_proj.weight",
       DType::BF16,
       {16, 64},
       downBytes}};
  ASSERT_TRUE(writeSafeTensors(model + "/model.safetensors", tensors).isOk());

  const std::string out = dir.file("out");
  Status exported =
      exportAutoAwqCheckpoint(model, out, 32, false, {"mlp.down_proj"});
  ASSERT_TRUE(exported.isOk()) << exported.message();

  Json config = readJson(out + "/config.json");
  EXPECT_EQ(config["extra"], Json::array({1, 2}));
  EXPECT_EQ(config["quantization_config"]["zero_point"], false);
  EXPECT_EQ(config["quantization_config"]["modules_to_not_convert"],
            Json::array({"mlp.down_proj"}));
  for (const char *file :
       {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_EQ(readText(out + "/" + file), readText(model + "/" + file)) << file;
  EXPECT_FALSE(std::filesystem::exists(out + "/README.md"));

  auto dst = WeightIndex::open(out);
  ASSERT_TRUE(dst.isOk());
  EXPECT_EQ(dst->names(), (std::vector<std::string>{
                              "model.layers.0.mlp.down_proj.weight",
                              "model.layers.0.self_attn.q_proj.bias",
                              "model.layers.0.self_attn.q_proj.qweight",
                              "model.layers.0.self_attn.q_proj.qzeros",
                              "model.layers.0.self_attn.q_proj.scales"}));
  EXPECT_TRUE(std::ranges::equal(
      dst->data("model.layers.0.mlp.down_proj.weight"), downBytes));
  EXPECT_TRUE(std::ranges::equal(
      dst->data("model.layers.0.self_attn.q_proj.bias"), biasBytes));

  // Read as AutoAWQ would (with its qzeros), the layer is the symmetric
  // quantization that the packer stores.
  const std::string m = "model.layers.0.self_attn.q_proj";
  SafeTensorsLookup lookup(*dst->fileOf(m + ".qweight"));
  auto gemm = importAwqWeight(lookup.lookup(), m, AwqLayout::Gemm, 32);
  ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
  EXPECT_EQ(gemm->qzeros, std::vector<int32_t>(2 * 16 / 8, kAwqSymmetricZeros));
  auto codes = unpackAwqGemm(*gemm);
  ASSERT_TRUE(codes.isOk());
  auto deq = dequantizeAwq(*codes);
  QuantSchemeDesc scheme;
  scheme.groupSize = 32;
  scheme.zeroPoint = false;
  auto packed = quantizeWeight({q, 16, 64, DType::F16, m}, scheme);
  ASSERT_TRUE(packed.isOk());
  auto expected = dequantizePacked(*packed, scheme, 16, 64, DType::F16);
  ASSERT_TRUE(deq.isOk() && expected.isOk());
  EXPECT_EQ(floatBits(*deq), floatBits(*expected));
}

TEST(AwqExportTest, RefusesBadRequests) {
  ScopedTempDir dir;
  const std::string out = dir.file("out");
  std::filesystem::create_directory(out);
  writeFile(out + "/keep.txt", "x");
  expectError(exportAutoAwqCheckpoint(kModelDir, out, 32, true, {}),
              "output directory exists and is not empty");
  EXPECT_EQ(readText(out + "/keep.txt"), "x");

  const std::string awq = dir.file("awq");
  ASSERT_TRUE(exportAutoAwqCheckpoint(kModelDir, awq, 32, true, {}).isOk());
  expectError(exportAutoAwqCheckpoint(awq, dir.file("again"), 32, true, {}),
              "the model is already quantized");
  EXPECT_FALSE(std::filesystem::exists(dir.file("again")));

  // down_proj's K = 160 is not divisible by 48; nothing is written.
  expectError(exportAutoAwqCheckpoint(kModelDir, dir.file("g48"), 48, true, {}),
              "model.layers.0.mlp.down_proj.weight: AWQ");
  EXPECT_FALSE(std::filesystem::exists(dir.file("g48")));
  expectError(exportAutoAwqCheckpoint(kModelDir, dir.file("e"), 32, true, {""}),
              "empty modules_to_not_convert entry");
  expectError(
      exportAutoAwqCheckpoint(dir.file("none"), dir.file("n"), 32, true, {}),
      "config.json: cannot open");
}
