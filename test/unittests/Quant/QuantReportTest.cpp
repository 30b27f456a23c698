//===- QuantReportTest.cpp - Per-layer quantization error tests -----------===//

#include "qc/Quant/QuantReport.h"

#include "qc/Quant/Int8.h"

#include "../Model/ModelTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace qc;
using namespace qc::quant;
using qc::test::ScopedTempDir;
using Kind = QuantSchemeDesc::Kind;
using Int8Mode = QuantSchemeDesc::Int8Mode;

namespace {

std::vector<uint8_t> bytesOf(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Row 0 has scale 127 / 127 = 1: codes 127, 64 (63.5 ties to even), -1, 0,
// errors 0, 0.5, 0.25, 0. Row 1 is zero and stays exact.
const std::vector<float> kInt8Weight = {127.0f, 63.5f, -1.25f, 0.0f,
                                        0.0f,   0.0f,  0.0f,   0.0f};

// Groups of 0, 0.5, ..., 7.5 (twice): AWQ's scale is 0.5 and zero 0, exact.
std::vector<float> awqExactWeight() {
  std::vector<float> w(8 * 32);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.5f * static_cast<float>(i % 16);
  return w;
}

class QuantReportTest : public ::testing::Test {
protected:
  void SetUp() override {
    int8Bytes = bytesOf(kInt8Weight);
    awqBytes = bytesOf(awqExactWeight());
    std::vector<TensorToWrite> tensors = {
        {"int8.weight", DType::F32, {2, 4}, int8Bytes},
        {"awq.weight", DType::F32, {8, 32}, awqBytes}};
    ASSERT_TRUE(
        writeSafeTensors(dir.file("model.safetensors"), tensors).isOk());
    auto opened = WeightIndex::open(dir.path());
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    index.emplace(std::move(opened).value());
  }

  ScopedTempDir dir;
  std::vector<uint8_t> int8Bytes, awqBytes;
  std::optional<WeightIndex> index;
};

QuantSchemeDesc int8(Int8Mode mode) {
  QuantSchemeDesc s;
  s.kind = Kind::Int8;
  s.int8Mode = mode;
  return s;
}

} // namespace

TEST_F(QuantReportTest, MeasuresKnownErrors) {
  QuantSchemeDesc awq;
  awq.groupSize = 32;
  auto reports = quantizationReport(*index, {{"int8", {2, 4}}},
                                    int8(Int8Mode::WeightOnly));
  ASSERT_TRUE(reports.isOk()) << reports.status().message();
  ASSERT_EQ(reports->size(), 1u);
  const double signal = 127.0 * 127.0 + 63.5 * 63.5 + 1.25 * 1.25;
  const double noise = 0.5 * 0.5 + 0.25 * 0.25;
  const NumericsReport &r = (*reports)[0].numbers;
  EXPECT_EQ((*reports)[0].module, "int8");
  EXPECT_DOUBLE_EQ(r.relFrobeniusError, std::sqrt(noise / signal));
  EXPECT_DOUBLE_EQ(r.maxAbsError, 0.5);
  EXPECT_DOUBLE_EQ(r.sqnrDb, 10.0 * std::log10(signal / noise));

  auto exact = quantizationReport(*index, {{"awq", {8, 32}}}, awq);
  ASSERT_TRUE(exact.isOk()) << exact.status().message();
  EXPECT_EQ((*exact)[0].numbers.relFrobeniusError, 0.0);
  EXPECT_EQ((*exact)[0].numbers.maxAbsError, 0.0);
  EXPECT_EQ((*exact)[0].numbers.sqnrDb,
            std::numeric_limits<double>::infinity());
}

// LLM.int8 and W8A8 report the error of the stored weights alone.
TEST_F(QuantReportTest, ActivationSchemesReportWeightError) {
  WeightMatrix w{kInt8Weight, 2, 4, DType::F32, "int8.weight"};
  auto llm = quantizeLlmInt8(w);
  ASSERT_TRUE(llm.isOk());
  auto llmDeq = dequantizeLlmInt8(*llm);
  ASSERT_TRUE(llmDeq.isOk());
  auto expected = computeNumericsReport(kInt8Weight, *llmDeq);
  ASSERT_TRUE(expected.isOk());
  auto reports =
      quantizationReport(*index, {{"int8", {2, 4}}}, int8(Int8Mode::LLMInt8));
  ASSERT_TRUE(reports.isOk()) << reports.status().message();
  EXPECT_EQ((*reports)[0].numbers.relFrobeniusError,
            expected->relFrobeniusError);
  EXPECT_EQ((*reports)[0].numbers.sqnrDb, expected->sqnrDb);
}

TEST_F(QuantReportTest, ErrorsNameTheTensor) {
  QuantSchemeDesc awq;
  awq.groupSize = 32;
  auto missing =
      quantizationReport(*index, {{"awq", {8, 32}}, {"nope", {8, 32}}}, awq);
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("missing tensor nope.weight"),
            std::string::npos)
      << missing.status().message();
  auto shape = quantizationReport(*index, {{"int8", {2, 4}}}, awq);
  ASSERT_FALSE(shape.isOk());
  EXPECT_NE(shape.status().message().find("int8.weight: AWQ"),
            std::string::npos)
      << shape.status().message();
}

TEST(FormatReportTest, AlignsColumnsAndAddsMean) {
  std::vector<LayerReport> layers = {{"model.layers.0.mlp.up_proj", {}},
                                     {"lm", {}}};
  layers[0].numbers = {0.0125, 0.5, 38.25};
  layers[1].numbers = {0.0375, 0.25, 28.75};
  EXPECT_EQ(
      formatReport(layers),
      "module                          rel_fro      max_abs    sqnr_db\n"
      "model.layers.0.mlp.up_proj   1.2500e-02   5.0000e-01      38.25\n"
      "lm                           3.7500e-02   2.5000e-01      28.75\n"
      "---------------------------------------------------------------\n"
      "mean                         2.5000e-02   3.7500e-01      33.50\n");
  EXPECT_EQ(formatReport({}),
            "module      rel_fro      max_abs    sqnr_db\n(no layers)\n");
}
