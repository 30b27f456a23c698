//===- AWQTest.cpp - AWQ RTN quantization and GEMM packing tests ----------===//

#include "qc/Quant/AWQ.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

constexpr int64_t kN = 64, kK = 256;

AwqCodes randomCodes(int64_t n, int64_t k, int64_t g, uint32_t seed) {
  std::mt19937 rng(seed);
  AwqCodes c;
  c.outFeatures = n;
  c.inFeatures = k;
  c.groupSize = g;
  for (int64_t i = 0; i < n * k; ++i)
    c.q.push_back(rng() % 16);
  for (int64_t i = 0; i < n * (k / g); ++i) {
    c.zeros.push_back(rng() % 16);
    c.scales.push_back(static_cast<uint16_t>(rng() & 0x7bff)); // finite
  }
  return c;
}

void expectSameCodes(const AwqCodes &a, const AwqCodes &b) {
  EXPECT_EQ(a.outFeatures, b.outFeatures);
  EXPECT_EQ(a.inFeatures, b.inFeatures);
  EXPECT_EQ(a.groupSize, b.groupSize);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.zeros, b.zeros);
  EXPECT_EQ(a.scales, b.scales);
}

class AwqReferenceTest : public ::testing::TestWithParam<int> {};

// AutoAWQ's pseudo_quantize_tensor + WQLinear_GEMM.from_linear, run in fp16
// on the GPU (and on the CPU, which agreed): codes, scales, zeros, packed
// buffers and dequantized weights must match bit for bit.
TEST_P(AwqReferenceTest, MatchesAutoAwqBitExactly) {
  RefFile ref("awq_reference.safetensors");
  std::string p = "g" + std::to_string(GetParam()) + ".";
  std::vector<float> w = ref.floats(p + "weight");
  WeightMatrix weights{w, kN, kK, DType::F16, p + "weight"};
  auto codes = awqQuantizeRtn(weights, GetParam());
  ASSERT_TRUE(codes.isOk()) << codes.status().message();

  EXPECT_EQ(codes->q, ref.get<uint8_t>(p + "q"));
  EXPECT_EQ(codes->scales, ref.get<uint16_t>(p + "scales_nk"));
  std::vector<float> zeros = ref.floats(p + "zeros_nk");
  ASSERT_EQ(codes->zeros.size(), zeros.size());
  for (size_t i = 0; i < zeros.size(); ++i)
    EXPECT_EQ(float(codes->zeros[i]), zeros[i]) << i;

  auto gemm = packAwqGemm(*codes);
  ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
  EXPECT_EQ(gemm->qweight, ref.get<int32_t>(p + "qweight"));
  EXPECT_EQ(gemm->qzeros, ref.get<int32_t>(p + "qzeros"));
  EXPECT_EQ(gemm->scales, ref.get<uint16_t>(p + "scales"));

  auto deq = dequantizeAwq(*codes);
  ASSERT_TRUE(deq.isOk()) << deq.status().message();
  EXPECT_EQ(halfBits(*deq), ref.get<uint16_t>(p + "wdq"));

  auto back = unpackAwqGemm(*gemm);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  expectSameCodes(*back, *codes);
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, AwqReferenceTest,
                         ::testing::Values(32, 64, 128));

TEST(AwqTest, NibbleOrderIsAutoAwqOrderMap) {
  // Element j of each 8 along N holds the value j: AutoAWQ packs it as
  // 0x75316420 (order_map [0, 2, 4, 6, 1, 3, 5, 7]).
  AwqCodes c = randomCodes(8, 32, 32, 1);
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t k = 0; k < 32; ++k)
      c.q[n * 32 + k] = static_cast<uint8_t>(n);
  for (int64_t n = 0; n < 8; ++n)
    c.zeros[n] = static_cast<uint8_t>(n);
  auto gemm = packAwqGemm(c);
  ASSERT_TRUE(gemm.isOk());
  for (int32_t word : gemm->qweight)
    EXPECT_EQ(static_cast<uint32_t>(word), 0x75316420u);
  EXPECT_EQ(static_cast<uint32_t>(gemm->qzeros[0]), 0x75316420u);
}

TEST(AwqTest, PackUnpackRoundTripsRandomCodes) {
  for (auto [n, k, g] : {std::tuple<int64_t, int64_t, int64_t>{8, 32, 32},
                         {24, 96, 32},
                         {16, 128, 64},
                         {32, 512, 128},
                         {8, 48, 16}}) {
    AwqCodes c = randomCodes(n, k, g, static_cast<uint32_t>(n * k + g));
    auto gemm = packAwqGemm(c);
    ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
    auto back = unpackAwqGemm(*gemm);
    ASSERT_TRUE(back.isOk()) << back.status().message();
    expectSameCodes(*back, c);
    // And the other way: any bits survive unpack + pack.
    auto again = packAwqGemm(*back);
    ASSERT_TRUE(again.isOk());
    EXPECT_EQ(again->qweight, gemm->qweight);
    EXPECT_EQ(again->qzeros, gemm->qzeros);
  }
}

TEST(AwqTest, Fp32WeightsUseTheirStoredScale) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> w(16 * 128);
  for (float &v : w)
    v = dist(rng);
  WeightMatrix weights{w, 16, 128, DType::F32};
  auto codes = awqQuantizeRtn(weights, 64);
  ASSERT_TRUE(codes.isOk()) << codes.status().message();
  auto deq = dequantizeAwq(*codes);
  ASSERT_TRUE(deq.isOk());
  for (int64_t i = 0; i < 16 * 128; ++i) {
    float scale = halfToFloat(codes->scales[(i / 128) * 2 + (i % 128) / 64]);
    // Within half a step, plus fp16 rounding of the scale and product.
    EXPECT_LE(std::fabs((*deq)[i] - w[i]), 0.51f * scale + 1e-6f) << i;
  }
}

TEST(AwqTest, RejectsBadInput) {
  std::vector<float> w(8 * 96, 0.25f);
  auto expectError = [](auto result, const std::string &needle) {
    ASSERT_FALSE(result.isOk()) << needle;
    EXPECT_NE(result.status().message().find(needle), std::string::npos)
        << result.status().message();
  };
  expectError(awqQuantizeRtn({w, 8, 96, DType::F16, "layer.w"}, 64),
              "layer.w: AWQ in_features K=96 is not divisible by the group "
              "size G=64");
  expectError(
      awqQuantizeRtn({std::span(w).first(6 * 96), 6, 96, DType::F16}, 32),
      "N=6 is not a multiple of 8");
  expectError(awqQuantizeRtn({w, 8, 96, DType::F16}, 12), "G=12");
  expectError(awqQuantizeRtn({w, 8, 96, DType::F16}, 32, 3), "bits=3");
  expectError(awqQuantizeRtn({w, 8, 95, DType::F16}, 32), "do not fill");
  std::vector<float> bad = w;
  bad[5] = std::nanf("");
  expectError(awqQuantizeRtn({bad, 8, 96, DType::F16, "w"}, 32),
              "w: non-finite value at flat index 5");
  bad[5] = 0.1f;
  expectError(awqQuantizeRtn({bad, 8, 96, DType::F16, "w"}, 32),
              "not representable in F16");
  bad[5] = 65504.0f;
  bad[6] = -65504.0f;
  expectError(awqQuantizeRtn({bad, 8, 96, DType::F16, "w"}, 32),
              "row 0, group 0 overflows an fp16 scale");
  AwqGemmWeight gemm;
  gemm.outFeatures = 8;
  gemm.inFeatures = 32;
  gemm.groupSize = 32;
  gemm.qweight.resize(31);
  expectError(unpackAwqGemm(gemm), "AWQ qweight: expected [K, N/8] = 32");
}

} // namespace
