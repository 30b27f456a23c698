//===- AWQLayoutsTest.cpp - AutoAWQ GEMV and llm-awq layout tests ---------===//

#include "qc/Quant/AWQLayouts.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <random>
#include <tuple>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

constexpr int64_t kN = 64, kK = 256;

/// The reference codes of one group size, as AutoAWQ made them.
AwqCodes referenceCodes(const RefFile &ref, int g) {
  std::string p = "g" + std::to_string(g) + ".";
  AwqCodes c;
  c.outFeatures = kN;
  c.inFeatures = kK;
  c.groupSize = g;
  c.q = ref.get<uint8_t>(p + "q");
  for (float z : ref.floats(p + "zeros_nk"))
    c.zeros.push_back(static_cast<uint8_t>(z));
  c.scales = ref.get<uint16_t>(p + "scales_nk");
  return c;
}

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
    // Scales in [2^-14, 2^5): -scale * zero must stay finite in fp16.
    c.scales.push_back(static_cast<uint16_t>(0x0400 + rng() % 0x4c00));
  }
  return c;
}

void expectSameCodes(const AwqCodes &a, const AwqCodes &b) {
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.zeros, b.zeros);
  EXPECT_EQ(a.scales, b.scales);
}

class AwqLayoutReferenceTest : public ::testing::TestWithParam<int> {};

TEST_P(AwqLayoutReferenceTest, GemvMatchesAutoAwq) {
  RefFile ref("awq_reference.safetensors");
  int g = GetParam();
  std::string p = "g" + std::to_string(g) + ".gemv.";
  AwqCodes codes = referenceCodes(ref, g);
  auto gemv = packAwqGemv(codes);
  ASSERT_TRUE(gemv.isOk()) << gemv.status().message();
  EXPECT_EQ(gemv->qweight, ref.get<int32_t>(p + "qweight"));
  EXPECT_EQ(gemv->qzeros, ref.get<int32_t>(p + "qzeros"));
  EXPECT_EQ(gemv->scales, ref.get<uint16_t>(p + "scales"));

  AwqGemvWeight stored{kN,
                       kK,
                       g,
                       ref.get<int32_t>(p + "qweight"),
                       ref.get<int32_t>(p + "qzeros"),
                       ref.get<uint16_t>(p + "scales")};
  auto unpacked = unpackAwqGemv(stored);
  ASSERT_TRUE(unpacked.isOk()) << unpacked.status().message();
  expectSameCodes(*unpacked, codes);
  auto gemm = awqGemvToGemm(stored);
  ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
  std::string q = "g" + std::to_string(g) + ".";
  EXPECT_EQ(gemm->qweight, ref.get<int32_t>(q + "qweight"));
  EXPECT_EQ(gemm->qzeros, ref.get<int32_t>(q + "qzeros"));
  EXPECT_EQ(gemm->scales, ref.get<uint16_t>(q + "scales"));
}

TEST_P(AwqLayoutReferenceTest, LlmAwqMatchesPackIntweight) {
  RefFile ref("awq_reference.safetensors");
  int g = GetParam();
  std::string p = "g" + std::to_string(g) + ".llmawq.";
  AwqCodes codes = referenceCodes(ref, g);
  auto packed = packLlmAwq(codes);
  ASSERT_TRUE(packed.isOk()) << packed.status().message();
  EXPECT_EQ(packed->qweight, ref.get<int16_t>(p + "qweight"));
  EXPECT_EQ(packed->scales, ref.get<uint16_t>(p + "scales"));
  EXPECT_EQ(packed->scaledZeros, ref.get<uint16_t>(p + "scaled_zeros"));

  LlmAwqWeight stored{kN,
                      kK,
                      g,
                      ref.get<int16_t>(p + "qweight"),
                      ref.get<uint16_t>(p + "scales"),
                      ref.get<uint16_t>(p + "scaled_zeros")};
  auto unpacked = unpackLlmAwq(stored);
  ASSERT_TRUE(unpacked.isOk()) << unpacked.status().message();
  expectSameCodes(*unpacked, codes);
  auto gemm = llmAwqToGemm(stored);
  ASSERT_TRUE(gemm.isOk()) << gemm.status().message();
  std::string q = "g" + std::to_string(g) + ".";
  EXPECT_EQ(gemm->qweight, ref.get<int32_t>(q + "qweight"));
  EXPECT_EQ(gemm->qzeros, ref.get<int32_t>(q + "qzeros"));
  EXPECT_EQ(gemm->scales, ref.get<uint16_t>(q + "scales"));
}

INSTANTIATE_TEST_SUITE_P(GroupSizes, AwqLayoutReferenceTest,
                         ::testing::Values(32, 64, 128));

TEST(AwqLayoutsTest, ZerosWidthFollowsAutoAwq) {
  EXPECT_EQ(*awqZerosWidth(4096, 128), 4);
  EXPECT_EQ(*awqZerosWidth(4096, 64), 8);
  EXPECT_EQ(*awqZerosWidth(4096, 32), 16);
  EXPECT_EQ(*awqZerosWidth(256, 32), 4); // 8 groups -> 1 word, x4
  EXPECT_EQ(*awqZerosWidth(256, 64), 2); // 4 groups -> 1 word, x2
  EXPECT_EQ(*awqZerosWidth(256, 128), 1);
  EXPECT_EQ(*awqZerosWidth(11008, 128), 11); // 86 groups
  EXPECT_EQ(*awqZerosWidth(512, 256), 1);
  auto bad = awqZerosWidth(480, 48);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("G=48"), std::string::npos);
}

TEST(AwqLayoutsTest, RoundTripsRandomCodes) {
  for (auto [n, k, g] : {std::tuple<int64_t, int64_t, int64_t>{8, 64, 32},
                         {12 * 8, 192, 64},
                         {16, 1024, 128},
                         {8, 512, 256},
                         {32, 11008, 128}}) {
    AwqCodes c = randomCodes(n, k, g, static_cast<uint32_t>(n + k + g));
    auto gemv = packAwqGemv(c);
    ASSERT_TRUE(gemv.isOk()) << gemv.status().message();
    auto fromGemv = unpackAwqGemv(*gemv);
    ASSERT_TRUE(fromGemv.isOk()) << fromGemv.status().message();
    expectSameCodes(*fromGemv, c);

    auto llm = packLlmAwq(c);
    ASSERT_TRUE(llm.isOk()) << llm.status().message();
    auto fromLlm = unpackLlmAwq(*llm);
    ASSERT_TRUE(fromLlm.isOk()) << fromLlm.status().message();
    expectSameCodes(*fromLlm, c);
    auto again = packLlmAwq(*fromLlm);
    ASSERT_TRUE(again.isOk());
    EXPECT_EQ(again->qweight, llm->qweight);
  }
}

// The mma layout is the order of mma.sync m16n8k16's A fragments (PTX ISA,
// "Matrix Fragments for mma.m16n8k16" with .f16): lane 4g + t holds
// a0 = (row g, cols 2t, 2t+1), a1 = (row g+8, cols 2t, 2t+1),
// a2 = (row g, cols 2t+8, 2t+9), a3 = (row g+8, cols 2t+8, 2t+9). Rows are
// the tile's 16 features; column slot j of instruction s of a 64-deep block
// holds k = 16 (j % 8) / 2 + 4s + (j % 2) + 2 (j / 8), a permutation of K
// the activations follow. The decode kernel turns nibbles i and i + 4 of
// word s into register a_i (low and high half), so each code must sit
// where that derivation puts it.
TEST(AwqLayoutsTest, MmaLayoutIsTheFragmentOrder) {
  for (int64_t n = 0; n < 32; ++n)
    for (int64_t k = 0; k < 256; ++k) {
      int64_t row = n % 16, g = row % 8;
      int64_t inBlock = k % 64, t = inBlock / 16, s = (inBlock % 16) / 4;
      int64_t e = inBlock % 4;
      int64_t slot = 2 * t + (e % 2) + 8 * (e / 2);
      int64_t reg = (row >= 8 ? 1 : 0) + (slot >= 8 ? 2 : 0);
      int64_t half = slot % 2;
      AwqMmaSlot at = awqMmaSlot(n, k);
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      EXPECT_EQ(at.row, n / 16);
      EXPECT_EQ(at.word, 128 * (k / 64) + 4 * (4 * g + t) + s);
      EXPECT_EQ(at.nibble, reg + 4 * half);
    }
}

TEST(AwqLayoutsTest, MmaLayoutRoundTrips) {
  for (auto [n, k, g] : {std::tuple<int64_t, int64_t, int64_t>{16, 64, 64},
                         {48, 128, 32},
                         {32, 384, 128}}) {
    AwqCodes c = randomCodes(n, k, g, static_cast<uint32_t>(n * k));
    auto gemm = packAwqGemm(c);
    ASSERT_TRUE(gemm.isOk());
    auto mma = awqGemmToMma(gemm->qweight, n, k);
    ASSERT_TRUE(mma.isOk()) << mma.status().message();
    ASSERT_EQ(mma->size(), gemm->qweight.size());
    // Every code lands in its own nibble: the layout is a permutation.
    std::vector<uint8_t> seen(mma->size() * 8, 0);
    for (int64_t nn = 0; nn < n; ++nn)
      for (int64_t kk = 0; kk < k; ++kk) {
        AwqMmaSlot at = awqMmaSlot(nn, kk);
        size_t bit = size_t(at.row * 2 * k + at.word) * 8 + at.nibble;
        EXPECT_EQ(seen[bit]++, 0);
        EXPECT_EQ((uint32_t((*mma)[at.row * 2 * k + at.word]) >>
                   (4 * at.nibble)) & 15u,
                  c.q[nn * k + kk]);
      }
    auto back = awqMmaToGemm(*mma, n, k);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, gemm->qweight);
  }
  std::vector<int32_t> words(8 * 64 / 8);
  EXPECT_FALSE(awqGemmToMma(words, 8, 64).isOk());
  EXPECT_FALSE(awqMmaToGemm(words, 16, 32).isOk());
  EXPECT_FALSE(awqGemmToMma(std::vector<int32_t>(3), 16, 64).isOk());
}

TEST(AwqLayoutsTest, RejectsBadInput) {
  AwqCodes c = randomCodes(8, 96, 32, 3);
  auto llm = packLlmAwq(c);
  ASSERT_FALSE(llm.isOk());
  EXPECT_NE(llm.status().message().find("K % 64 == 0"), std::string::npos);

  AwqCodes d = randomCodes(8, 64, 32, 4);
  auto packed = packLlmAwq(d);
  ASSERT_TRUE(packed.isOk());
  LlmAwqWeight broken = *packed;
  broken.scaledZeros[3] = floatToHalf(0.1f); // positive: no zero in [0, 15]
  auto unpacked = unpackLlmAwq(broken);
  ASSERT_FALSE(unpacked.isOk());
  EXPECT_NE(unpacked.status().message().find("scaled_zeros[0, 3]"),
            std::string::npos)
      << unpacked.status().message();
  broken = *packed;
  broken.scales.pop_back();
  EXPECT_FALSE(unpackLlmAwq(broken).isOk());

  AwqCodes huge = d;
  huge.scales[0] = floatToHalf(8192.0f);
  huge.zeros[0] = 15;
  auto overflow = packLlmAwq(huge);
  ASSERT_FALSE(overflow.isOk());
  EXPECT_NE(overflow.status().message().find("overflows"), std::string::npos);
  EXPECT_FALSE(unpackLlmAwq(broken).isOk());

  auto gemv = packAwqGemv(d);
  ASSERT_TRUE(gemv.isOk());
  AwqGemvWeight short_ = *gemv;
  short_.qzeros.pop_back();
  auto bad = unpackAwqGemv(short_);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("AWQ GEMV qzeros"), std::string::npos);
}

} // namespace
