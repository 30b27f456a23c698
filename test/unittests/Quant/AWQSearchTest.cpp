//===- AWQSearchTest.cpp - AWQ scale / clip search tests ------------------===//

#include "qc/Quant/AWQSearch.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

constexpr int64_t kN = 64, kK = 128, kTokens = 1100, kGroup = 32;

// The reference is a torch transcription of auto_scale / auto_clip for one
// linear layer with float64 losses (test/data/quant). pow() may differ in
// the last bit between libm and torch, so the search's decisions and losses
// are compared with a tolerance, and the final quantization bit-exactly
// from the reference's scales and clip bounds.
TEST(AwqSearchTest, MatchesReferenceSearch) {
  RefFile ref("awq_search_reference.safetensors");
  std::vector<float> w = ref.floats("weight");
  std::vector<float> x = ref.floats("x");
  WeightMatrix weights{w, kN, kK, DType::F16};
  AwqSearchOptions options;
  options.groupSize = kGroup;
  auto result = awqSearch(weights, x, kTokens, options);
  ASSERT_TRUE(result.isOk()) << result.status().message();

  const AwqScaleSearch &search = result->scaleSearch;
  EXPECT_EQ(search.bestIndex, ref.get<int32_t>("best_ratio").at(0));
  std::vector<double> losses = ref.get<double>("losses");
  ASSERT_EQ(search.losses.size(), losses.size());
  for (size_t i = 0; i < losses.size(); ++i)
    EXPECT_NEAR(search.losses[i], losses[i], 1e-6 * losses[i]) << i;
  std::vector<float> scales = ref.floats("scales");
  for (int64_t c = 0; c < kK; ++c)
    EXPECT_NEAR(search.scales[c], scales[c], 1e-6f * scales[c]) << c;

  // Clip search from the reference's scales: same bounds.
  auto scaled = awqScaleWeights(weights, scales);
  ASSERT_TRUE(scaled.isOk());
  std::vector<float> xs(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    xs[i] = x[i] / scales[i % kK];
  auto clip =
      awqSearchClip({*scaled, kN, kK, DType::F16}, xs, kTokens, options);
  ASSERT_TRUE(clip.isOk()) << clip.status().message();
  EXPECT_EQ(floatBits(*clip), floatBits(ref.floats("clip_max")));

  // Final quantization from the reference's scales and bounds: bit-exact.
  auto codes =
      awqQuantizeScaled(weights, scales, ref.floats("clip_max"), kGroup);
  ASSERT_TRUE(codes.isOk()) << codes.status().message();
  auto deq = dequantizeAwq(*codes);
  ASSERT_TRUE(deq.isOk());
  EXPECT_EQ(halfBits(*deq), ref.get<uint16_t>("wdq"));
  EXPECT_EQ(codes->scales, ref.get<uint16_t>("scales_nk"));

  EXPECT_NEAR(result->finalLoss, ref.get<double>("final_loss").at(0),
              1e-6 * result->finalLoss);
  EXPECT_NEAR(result->rtnLoss, ref.get<double>("rtn_loss").at(0),
              1e-6 * result->rtnLoss);
}

// With activation outlier channels the search must beat plain RTN; with
// alpha = 0 among the candidates it can never lose to it.
TEST(AwqSearchTest, BeatsRtnWithOutlierChannels) {
  const int64_t n = 32, k = 256, tokens = 300;
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w(n * k), x(tokens * k);
  for (float &v : w)
    v = roundToHalf(0.02f * dist(rng));
  for (int64_t i = 0; i < tokens * k; ++i) {
    int64_t c = i % k;
    float boost = (c % 37 == 3) ? 30.0f : 1.0f; // a few outlier channels
    x[i] = boost * dist(rng);
  }
  AwqSearchOptions options;
  options.groupSize = 64;
  auto result = awqSearch({w, n, k, DType::F16}, x, tokens, options);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  const auto &s = result->scaleSearch;
  EXPECT_GT(s.bestIndex, 0);
  EXPECT_LE(s.losses[s.bestIndex], s.losses[0]);
  EXPECT_LT(result->finalLoss, 0.7 * result->rtnLoss);
  for (float scale : s.scales)
    EXPECT_TRUE(std::isfinite(scale) && scale > 0.0f);

  options.clip = false;
  auto noClip = awqSearch({w, n, k, DType::F16}, x, tokens, options);
  ASSERT_TRUE(noClip.isOk());
  EXPECT_TRUE(noClip->clipMax.empty());
  EXPECT_NEAR(noClip->finalLoss, s.losses[s.bestIndex],
              1e-9 * noClip->finalLoss);
  EXPECT_LE(result->finalLoss, noClip->finalLoss * 1.0001);

  options.clip = true;
  options.duoScaling = true; // AutoAWQ's default
  auto duo = awqSearch({w, n, k, DType::F16}, x, tokens, options);
  ASSERT_TRUE(duo.isOk()) << duo.status().message();
  EXPECT_LE(duo->scaleSearch.losses[duo->scaleSearch.bestIndex],
            duo->scaleSearch.losses[0]);
  EXPECT_LT(duo->finalLoss, 0.7 * duo->rtnLoss);
}

TEST(AwqSearchTest, ScalesKeepFp16Finite) {
  // One input channel with a huge mean activation and a large weight: the
  // scale must not push W * s past 65504.
  const int64_t n = 8, k = 32, tokens = 4;
  std::vector<float> w(n * k, 0.5f), x(tokens * k, 1e-3f);
  for (int64_t r = 0; r < n; ++r)
    w[r * k] = 1000.0f;
  for (int64_t t = 0; t < tokens; ++t)
    x[t * k] = 1e6f;
  AwqSearchOptions options;
  options.groupSize = 32;
  auto scales = awqSearchScales({w, n, k, DType::F16}, x, tokens, options);
  ASSERT_TRUE(scales.isOk()) << scales.status().message();
  auto scaled = awqScaleWeights({w, n, k, DType::F16}, scales->scales);
  ASSERT_TRUE(scaled.isOk());
  for (float v : *scaled)
    EXPECT_TRUE(std::isfinite(v));
  auto result = awqSearch({w, n, k, DType::F16}, x, tokens, options);
  EXPECT_TRUE(result.isOk()) << result.status().message();
}

TEST(AwqSearchTest, RejectsBadInput) {
  std::vector<float> w(8 * 64, 0.25f), x(10 * 64, 1.0f);
  auto bad = awqSearch({w, 8, 64, DType::F16}, x, 9, {});
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("G=128"), std::string::npos)
      << bad.status().message();
  AwqSearchOptions options;
  options.groupSize = 32;
  bad = awqSearch({w, 8, 64, DType::F16}, x, 9, options);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("expected [9, 64]"), std::string::npos);
  x[3] = INFINITY;
  bad = awqSearch({w, 8, 64, DType::F16}, x, 10, options);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("non-finite calibration"),
            std::string::npos);
  x[3] = 1.0f;
  options.maxShrink = 1.5;
  EXPECT_FALSE(awqSearch({w, 8, 64, DType::F16}, x, 10, options).isOk());
  options.maxShrink = 0.5;
  std::vector<float> clip(3);
  EXPECT_FALSE(awqQuantizeScaled({w, 8, 64, DType::F16},
                                 std::vector<float>(64, 1.0f), clip, 32)
                   .isOk());
}

} // namespace
