//===- BnB4bitTest.cpp - bitsandbytes NF4 / FP4 and dynamic map tests -----===//

#include "qc/Quant/BnB4bit.h"
#include "qc/Quant/DynamicMap.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

struct Variant {
  const char *prefix;
  Bnb4Type type;
  int64_t blocksize;
  bool nested;
};

const Variant kVariants[] = {
    {"f16.nf4.plain", Bnb4Type::NF4, 64, false},
    {"f16.nf4.nested", Bnb4Type::NF4, 64, true},
    {"f16.fp4.plain", Bnb4Type::FP4, 64, false},
    {"f16.fp4.nested", Bnb4Type::FP4, 64, true},
    {"odd.nf4.plain", Bnb4Type::NF4, 64, false},
    {"odd.nf4.nested", Bnb4Type::NF4, 64, true},
    {"odd.fp4.plain", Bnb4Type::FP4, 64, false},
    {"odd.fp4.nested", Bnb4Type::FP4, 64, true},
    {"bf16.nf4.nested", Bnb4Type::NF4, 64, true},
    {"bf16.fp4.nested", Bnb4Type::FP4, 64, true},
    {"f16.nf4.bs128", Bnb4Type::NF4, 128, false},
};

void PrintTo(const Variant &v, std::ostream *os) { *os << v.prefix; }

class Bnb4ReferenceTest : public ::testing::TestWithParam<Variant> {};

// quantize_4bit / dequantize_4bit as the CUDA kernels compute them (written
// out in torch on the GPU machine): packed codes, absmax (plain or double
// quantized) and dequantized fp16 / bf16 weights match bit for bit.
TEST_P(Bnb4ReferenceTest, MatchesBitsandbytesBitExactly) {
  const Variant &v = GetParam();
  RefFile ref("bnb4_reference.safetensors");
  std::string p = v.prefix;
  const TensorInfo &input = ref.info(p + ".ref.input");
  ASSERT_EQ(input.shape.size(), 2u);
  std::vector<float> values = ref.floats(p + ".ref.input");
  WeightMatrix w{values, input.shape[0], input.shape[1], input.dtype, p};
  auto q = quantizeBnb4(w, v.type, v.blocksize, v.nested);
  ASSERT_TRUE(q.isOk()) << q.status().message();

  EXPECT_EQ(q->packed, ref.get<uint8_t>(p + ".weight"));
  if (!v.nested) {
    EXPECT_EQ(floatBits(q->absmax),
              floatBits(ref.floats(p + ".weight.absmax")));
  } else {
    EXPECT_EQ(q->qabsmax, ref.get<uint8_t>(p + ".weight.absmax"));
    EXPECT_EQ(floatBits(q->nestedAbsmax),
              floatBits(ref.floats(p + ".weight.nested_absmax")));
    EXPECT_EQ(floatBits(q->nestedCode),
              floatBits(ref.floats(p + ".weight.nested_quant_map")));
    auto absmax = bnb4Absmax(*q);
    ASSERT_TRUE(absmax.isOk()) << absmax.status().message();
    EXPECT_EQ(floatBits(*absmax),
              floatBits(ref.floats(p + ".ref.absmax_dequantized")));
  }
  auto deq = dequantizeBnb4(*q);
  ASSERT_TRUE(deq.isOk()) << deq.status().message();
  EXPECT_EQ(floatBits(*deq), floatBits(ref.floats(p + ".ref.dequantized")));
}

INSTANTIATE_TEST_SUITE_P(Variants, Bnb4ReferenceTest,
                         ::testing::ValuesIn(kVariants), [](const auto &param) {
                           std::string name = param.param.prefix;
                           for (char &c : name)
                             if (c == '.')
                               c = '_';
                           return name;
                         });

TEST(Bnb4Test, CodebooksAndDynamicMapMatchBitsandbytes) {
  RefFile ref("bnb4_reference.safetensors");
  auto nf4 = bnb4Codebook(Bnb4Type::NF4);
  auto fp4 = bnb4Codebook(Bnb4Type::FP4);
  EXPECT_EQ(floatBits({nf4.begin(), nf4.end()}),
            floatBits(ref.floats("f16.nf4.plain.weight.quant_map")));
  EXPECT_EQ(floatBits({fp4.begin(), fp4.end()}),
            floatBits(ref.floats("f16.fp4.plain.weight.quant_map")));
  auto map = dynamicMapSigned();
  EXPECT_EQ(floatBits({map.begin(), map.end()}),
            floatBits(ref.floats("dynamic_map")));
}

TEST(Bnb4Test, TreesPickNearestCode) {
  for (Bnb4Type type : {Bnb4Type::NF4, Bnb4Type::FP4}) {
    auto book = bnb4Codebook(type);
    auto quantize = type == Bnb4Type::NF4 ? quantizeNf4Value : quantizeFp4Value;
    for (int i = 0; i < 16; ++i) {
      if (type == Bnb4Type::FP4 && i == 8) // +0 in the codebook
        continue;
      EXPECT_EQ(quantize(book[i]), i) << bnb4TypeName(type) << " " << i;
    }
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int t = 0; t < 20000; ++t) {
      float x = dist(rng);
      float best = 1e9f;
      for (float c : book)
        best = std::min(best, std::fabs(x - c));
      uint8_t code = quantize(x);
      // Nearest up to the kernels' rounded thresholds.
      EXPECT_LE(std::fabs(x - book[code]), best + 1e-6f) << x;
    }
  }
  // FP4 takes the sign from x < 0: tiny negatives are -0 (code 8).
  EXPECT_EQ(quantizeFp4Value(-1e-4f), 8);
  EXPECT_EQ(quantizeFp4Value(-0.0f), 0);
  EXPECT_EQ(quantizeFp4Value(0.00260417f), 0); // threshold itself: lower
  // NaN (an all-zero block scaled by 1 / 0) lands on code 0 in both trees.
  EXPECT_EQ(quantizeNf4Value(std::nanf("")), 0);
  EXPECT_EQ(quantizeFp4Value(std::nanf("")), 0);
}

TEST(Bnb4Test, NibblePackingRoundTrips) {
  std::mt19937 rng(9);
  for (int64_t n : {1, 2, 7, 64, 1221}) {
    std::vector<uint8_t> codes(n);
    for (uint8_t &c : codes)
      c = rng() % 16;
    std::vector<uint8_t> packed = packNibbles(codes, 7);
    ASSERT_EQ(static_cast<int64_t>(packed.size()), (n + 1) / 2);
    EXPECT_EQ(packed[0] >> 4, codes[0]); // first element, high nibble
    if (n % 2) {
      EXPECT_EQ(packed.back() & 0xf, 7);
    }
    auto back = unpackNibbles(packed, n);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(*back, codes);
  }
  EXPECT_FALSE(unpackNibbles(std::vector<uint8_t>(3), 7).isOk());
}

TEST(Bnb4Test, RejectsBadInput) {
  std::vector<float> w(8 * 8, 0.5f);
  auto bad = quantizeBnb4({w, 8, 8, DType::F16, "layer"}, Bnb4Type::NF4, 0);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("layer: bnb blocksize 0"),
            std::string::npos);
  auto q = quantizeBnb4({w, 8, 8, DType::F16}, Bnb4Type::NF4, 64, true);
  ASSERT_TRUE(q.isOk());
  Bnb4Weight broken = *q;
  broken.nestedAbsmax.clear();
  auto deq = dequantizeBnb4(broken);
  ASSERT_FALSE(deq.isOk());
  EXPECT_NE(deq.status().message().find("nested absmax"), std::string::npos);
  broken = *q;
  broken.packed.pop_back();
  EXPECT_FALSE(dequantizeBnb4(broken).isOk());
}

TEST(DynamicMapTest, SearchFindsNearestAndBreaksTiesToEven) {
  auto code = dynamicMapSigned();
  for (int i = 0; i < 256; ++i)
    EXPECT_EQ(quantizeDynamic(code[i], code), i) << i;
  // At an exact midpoint the kernel returns its final (even) pivot.
  for (int i = 0; i < 255; ++i) {
    float mid = (code[i] + code[i + 1]) * 0.5f;
    EXPECT_EQ(quantizeDynamic(mid, code), i % 2 == 0 ? i : i + 1) << i;
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int t = 0; t < 20000; ++t) {
    float x = dist(rng) * (t % 2 ? 1.0f : 0.01f);
    float best = 1e9f;
    for (float c : code)
      best = std::min(best, std::fabs(x - c));
    EXPECT_EQ(std::fabs(x - code[quantizeDynamic(x, code)]), best) << x;
  }
}

TEST(DynamicMapTest, BlockwiseRoundTrip) {
  std::vector<float> values(600);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float &v : values)
    v = dist(rng);
  std::fill(values.begin() + 256, values.begin() + 512, 0.0f); // zero block
  auto q = quantizeBlockwise8(values, 256, dynamicMapSigned());
  ASSERT_TRUE(q.isOk());
  ASSERT_EQ(q->absmax.size(), 3u);
  EXPECT_EQ(q->absmax[1], 0.0f);
  auto code = dynamicMapSigned();
  auto back = dequantizeBlockwise8(*q, {code.begin(), code.end()});
  ASSERT_TRUE(back.isOk());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_LE(std::fabs((*back)[i] - values[i]),
              0.0071f * q->absmax[i / 256] + 1e-7f)
        << i;
  }
  values[3] = INFINITY;
  EXPECT_FALSE(quantizeBlockwise8(values, 256, dynamicMapSigned()).isOk());
}

} // namespace
