//===- Int8Test.cpp - int8, LLM.int8 and W8A8 tests -----------------------===//

#include "qc/Quant/Int8.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

constexpr int64_t kN = 64, kK = 256, kTokens = 16;

TEST(Int8Test, WeightOnlyPerChannelMatchesReference) {
  RefFile ref("int8_reference.safetensors");
  std::vector<float> w = ref.floats("wo.input");
  auto q = quantizeInt8PerChannel({w, kN, kK, DType::F16});
  ASSERT_TRUE(q.isOk()) << q.status().message();
  EXPECT_EQ(q->q, ref.get<int8_t>("wo.q"));
  EXPECT_EQ(floatBits(q->scale), floatBits(ref.floats("wo.scale")));
  EXPECT_EQ(q->scale[7], 0.0f); // the all-zero row
  auto deq = dequantizeInt8PerChannel(*q);
  ASSERT_TRUE(deq.isOk());
  for (int64_t i = 0; i < kN * kK; ++i)
    EXPECT_LE(std::fabs((*deq)[i] - w[i]), 0.5f * q->scale[i / kK] * 1.0001f);
}

TEST(Int8Test, LlmInt8WeightsMatchBitsandbytes) {
  RefFile ref("int8_reference.safetensors");
  std::vector<float> w = ref.floats("llm.input");
  auto q = quantizeLlmInt8({w, kN, kK, DType::F16});
  ASSERT_TRUE(q.isOk()) << q.status().message();
  EXPECT_EQ(q->cb, ref.get<int8_t>("model.layers.0.mlp.down_proj.weight"));
  EXPECT_EQ(floatBits(q->scb),
            floatBits(ref.floats("model.layers.0.mlp.down_proj.SCB")));
}

// The matmul reference must equal the torch transcription of MatMul8bitLt
// with the outlier product accumulated in float64 bit for bit: the int8 part
// is integer arithmetic followed by the same fp32 operations in the same
// order. Against the GPU's cuBLAS fp16 addmm (fp32 accumulation, then one
// rounding to fp16) the outlier sum can differ by a few fp32 ulps before the
// final rounding, so at most one fp16 ulp of the result.
TEST(Int8Test, LlmInt8MatmulMatchesReference) {
  RefFile ref("int8_reference.safetensors");
  std::vector<float> w = ref.floats("llm.input");
  auto q = quantizeLlmInt8({w, kN, kK, DType::F16});
  ASSERT_TRUE(q.isOk());
  std::vector<float> x = ref.floats("llm.x");
  auto y = llmInt8MatmulReference(x, kTokens, *q, 6.0f);
  ASSERT_TRUE(y.isOk()) << y.status().message();
  EXPECT_EQ(halfBits(*y), ref.get<uint16_t>("llm.y_exact"));
  std::vector<float> gpu = ref.floats("llm.y_gpu");
  int differing = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    // One fp16 ulp at the GPU value's magnitude.
    float ulp =
        halfToFloat(static_cast<uint16_t>(floatToHalf(std::fabs(gpu[i])) + 1)) -
        std::fabs(gpu[i]);
    EXPECT_LE(std::fabs((*y)[i] - gpu[i]), ulp) << i;
    differing += (*y)[i] != gpu[i];
  }
  EXPECT_LE(differing, static_cast<int>(gpu.size()) / 10);

  // Without decomposition (threshold 0, or one no value reaches) the whole
  // product goes through int8: the same result either way.
  auto none = llmInt8MatmulReference(x, kTokens, *q, 0.0f);
  auto high = llmInt8MatmulReference(x, kTokens, *q, 1000.0f);
  ASSERT_TRUE(none.isOk() && high.isOk());
  EXPECT_EQ(*none, *high);
  EXPECT_NE(*none, *y);
}

TEST(Int8Test, W8A8MatchesReference) {
  RefFile ref("int8_reference.safetensors");
  std::vector<float> w = ref.floats("llm.input");
  auto q = quantizeInt8PerChannel({w, kN, kK, DType::F16});
  ASSERT_TRUE(q.isOk());
  EXPECT_EQ(q->q, ref.get<int8_t>("w8a8.qw"));
  EXPECT_EQ(floatBits(q->scale), floatBits(ref.floats("w8a8.sw")));
  std::vector<float> x = ref.floats("w8a8.x");
  auto y = w8a8MatmulReference(x, kTokens, *q);
  ASSERT_TRUE(y.isOk()) << y.status().message();
  EXPECT_EQ(floatBits(*y), floatBits(ref.floats("w8a8.y")));
}

TEST(Int8Test, RejectsBadInput) {
  std::vector<float> w(4 * 8, 0.5f);
  auto q = quantizeLlmInt8({w, 4, 8, DType::F16});
  ASSERT_TRUE(q.isOk());
  std::vector<float> x(3 * 8, 1.0f);
  auto y = llmInt8MatmulReference(x, 2, *q);
  ASSERT_FALSE(y.isOk());
  EXPECT_NE(y.status().message().find("expected [2, 8]"), std::string::npos);
  x[1] = 0.1f; // not an fp16 value
  EXPECT_FALSE(llmInt8MatmulReference(x, 3, *q).isOk());
  x[1] = 1.0f;
  std::vector<float> bias(3);
  EXPECT_FALSE(llmInt8MatmulReference(x, 3, *q, 6.0f, bias).isOk());
  LlmInt8Weight broken = *q;
  broken.scb.pop_back();
  EXPECT_FALSE(llmInt8MatmulReference(x, 3, broken).isOk());
  auto wq = quantizeInt8PerChannel({w, 4, 8, DType::F16});
  ASSERT_TRUE(wq.isOk());
  x[2] = NAN;
  auto bad = w8a8MatmulReference(x, 3, *wq);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("non-finite activation"),
            std::string::npos);
}

} // namespace
