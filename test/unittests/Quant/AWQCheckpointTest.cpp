//===- AWQCheckpointTest.cpp - AWQ checkpoint import tests ----------------===//

#include "qc/Quant/AWQCheckpoint.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

// Every layout of the reference file imports to AutoAWQ's GEMM buffers.
TEST(AwqCheckpointTest, ImportsAllLayouts) {
  RefFile ref("awq_reference.safetensors");
  ASSERT_NE(ref.file(), nullptr);
  SafeTensorsLookup lookup(*ref.file());
  for (int g : {32, 64, 128}) {
    std::string p = "g" + std::to_string(g);
    for (auto [layout, prefix] :
         {std::pair{AwqLayout::Gemm, p},
          std::pair{AwqLayout::Gemv, p + ".gemv"},
          std::pair{AwqLayout::LlmAwq, p + ".llmawq"}}) {
      SCOPED_TRACE(prefix);
      auto w = importAwqWeight(lookup.lookup(), prefix, layout, g);
      ASSERT_TRUE(w.isOk()) << w.status().message();
      EXPECT_EQ(w->outFeatures, 64);
      EXPECT_EQ(w->inFeatures, 256);
      EXPECT_EQ(w->qweight, ref.get<int32_t>(p + ".qweight"));
      EXPECT_EQ(w->qzeros, ref.get<int32_t>(p + ".qzeros"));
      EXPECT_EQ(w->scales, ref.get<uint16_t>(p + ".scales"));
    }
  }
}

TEST(AwqCheckpointTest, ErrorsNameTheKey) {
  RefFile ref("awq_reference.safetensors");
  ASSERT_NE(ref.file(), nullptr);
  SafeTensorsLookup lookup(*ref.file());
  auto missing = importAwqWeight(lookup.lookup(), "g7", AwqLayout::Gemm, 32);
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().message(),
            "missing tensor g7.qweight (expected I32 [K, N/8])");
  // The group size of the config must fit the stored zeros.
  auto wrongGroup =
      importAwqWeight(lookup.lookup(), "g32", AwqLayout::Gemm, 64);
  ASSERT_FALSE(wrongGroup.isOk());
  EXPECT_EQ(wrongGroup.status().message(),
            "g32.qzeros: expected I32 [4, 8], got I32 [8, 8]");
  auto wrongLayout =
      importAwqWeight(lookup.lookup(), "g32.gemv", AwqLayout::LlmAwq, 32);
  ASSERT_FALSE(wrongLayout.isOk());
  EXPECT_NE(wrongLayout.status().message().find(
                "g32.gemv.qweight: expected I16 [N/4, K], got I32 [64, 32]"),
            std::string::npos)
      << wrongLayout.status().message();
  auto badGroup =
      importAwqWeight(lookup.lookup(), "g32.gemv", AwqLayout::Gemv, 48);
  ASSERT_FALSE(badGroup.isOk());
  EXPECT_NE(badGroup.status().message().find("G=48"), std::string::npos);
}

} // namespace
