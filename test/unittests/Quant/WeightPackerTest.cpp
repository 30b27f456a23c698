//===- WeightPackerTest.cpp - Storage bytes of compiled weights -----------===//

#include "qc/Quant/WeightPacker.h"

#include "qc/Quant/AWQ.h"
#include "qc/Quant/AWQLayouts.h"
#include "qc/Quant/DynamicMap.h"
#include "qc/Quant/Half.h"
#include "qc/Quant/Int8.h"

#include "../Model/ModelTestUtil.h"
#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <list>
#include <random>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;
using qc::test::ScopedTempDir;
using Kind = QuantSchemeDesc::Kind;
using Int8Mode = QuantSchemeDesc::Int8Mode;

namespace {

constexpr int64_t kN = 32, kK = 256;
const std::string kModule = "model.layers.0.mlp.up_proj";

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// Normal weights with a few outliers, exactly representable in `type`.
std::vector<float> makeWeights(DType type, int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> v(count);
  for (int64_t i = 0; i < count; ++i)
    v[i] = roundToType(type, i % 97 == 0 ? 8.0f * normal(rng) : normal(rng));
  return v;
}

std::vector<uint8_t> storeAs(DType type, const std::vector<float> &v) {
  if (type == DType::F32)
    return bytesOf(v);
  return bytesOf(type == DType::F16 ? floatToHalf(v) : floatToBFloat16(v));
}

/// Tensors written to a temporary model.safetensors.
class Checkpoint {
public:
  void add(const std::string &name, DType dtype, std::vector<int64_t> shape,
           std::vector<uint8_t> bytes) {
    tensors_.push_back({name, dtype, std::move(shape),
                        storage_.emplace_back(std::move(bytes))});
  }
  WeightIndex open() {
    Status written = writeSafeTensors(dir_.file("model.safetensors"), tensors_);
    EXPECT_TRUE(written.isOk()) << written.message();
    auto index = WeightIndex::open(dir_.path());
    EXPECT_TRUE(index.isOk()) << index.status().message();
    return std::move(index).value();
  }

private:
  ScopedTempDir dir_;
  std::list<std::vector<uint8_t>> storage_;
  std::vector<TensorToWrite> tensors_;
};

QuantSchemeDesc awq(int64_t group, bool zeroPoint) {
  QuantSchemeDesc s;
  s.kind = Kind::AWQ;
  s.groupSize = group;
  s.zeroPoint = zeroPoint;
  return s;
}
QuantSchemeDesc bnb4(Bnb4Type type, int64_t block, bool doubleQuant) {
  QuantSchemeDesc s;
  s.kind = Kind::BnB4;
  s.bnbType = type;
  s.blockSize = block;
  s.doubleQuant = doubleQuant;
  return s;
}
QuantSchemeDesc int8(Int8Mode mode) {
  QuantSchemeDesc s;
  s.kind = Kind::Int8;
  s.int8Mode = mode;
  return s;
}

struct Expected {
  std::string suffix;
  DType dtype;
  std::vector<int64_t> shape;
};

/// The ABI, spelled out independently of packedLayout.
std::vector<Expected> expectedLayout(const QuantSchemeDesc &s, int64_t n,
                                     int64_t k) {
  switch (s.kind) {
  case Kind::AWQ: {
    int64_t g = k / s.groupSize;
    if (s.zeroPoint)
      return {{"qweight", DType::I32, {k, n / 8}},
              {"qzeros", DType::I32, {g, n / 8}},
              {"scales", DType::F16, {g, n}}};
    return {{"qweight", DType::I32, {k, n / 8}},
            {"scales", DType::F16, {g, n}}};
  }
  case Kind::BnB4: {
    int64_t blocks = n * k / s.blockSize;
    if (!s.doubleQuant)
      return {{"codes", DType::I8, {n * k / 2}},
              {"absmax", DType::F32, {blocks}}};
    return {{"codes", DType::I8, {n * k / 2}},
            {"absmax", DType::I8, {blocks}},
            {"nested_absmax", DType::F32, {(blocks + 255) / 256}},
            {"nested_offset", DType::F32, {1}}};
  }
  case Kind::Int8:
    return {{"qweight", DType::I8, {n, k}},
            {"scales",
             s.int8Mode == Int8Mode::WeightOnly ? DType::F16 : DType::F32,
             {n}}};
  }
  return {};
}

void expectLayout(const std::vector<PackedTensor> &packed,
                  const QuantSchemeDesc &s, int64_t n, int64_t k) {
  std::vector<Expected> expected = expectedLayout(s, n, k);
  ASSERT_EQ(packed.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].suffix);
    EXPECT_EQ(packed[i].suffix, expected[i].suffix);
    EXPECT_EQ(packed[i].dtype, expected[i].dtype);
    EXPECT_EQ(packed[i].shape, expected[i].shape);
    int64_t count = 1;
    for (int64_t d : expected[i].shape)
      count *= d;
    EXPECT_EQ(packed[i].bytes.size(), count * dtypeSize(expected[i].dtype));
  }
}

/// Symmetric AutoAWQ (zero_point=False), written out for the test: per group
/// scale = fp16(max(absmax, 1e-5) / 7), w = clamp(round(w / s), -8, 7) * s.
std::vector<float> awqSymmetricReference(const std::vector<float> &w,
                                         DType type, int64_t n, int64_t k,
                                         int64_t g) {
  auto r = [type](float v) { return type == DType::F16 ? roundToHalf(v) : v; };
  std::vector<float> out(w.size());
  for (int64_t row = 0; row < n; ++row)
    for (int64_t begin = row * k; begin < (row + 1) * k; begin += g) {
      float absmax = 0.0f;
      for (int64_t i = begin; i < begin + g; ++i)
        absmax = std::max(absmax, std::fabs(w[i]));
      float s = roundToHalf(std::max(absmax, r(1e-5f)) / 7.0f);
      for (int64_t i = begin; i < begin + g; ++i) {
        // Stored as code q + 8 and read back as (code - 8) * s, so a zero
        // is +0 even where AutoAWQ's fake quantization would give -0.
        float code = std::clamp(std::nearbyint(r(w[i] / s)), -8.0f, 7.0f) + 8;
        out[i] = roundToHalf((code - 8.0f) * s);
      }
    }
  return out;
}

/// Weight-only int8 as documented: scale = fp16(absmax / 127), codes from
/// that scale.
Int8RowWeight int8WeightOnlyReference(const std::vector<float> &w, int64_t n,
                                      int64_t k) {
  Int8RowWeight out{n, k, std::vector<int8_t>(n * k), std::vector<float>(n)};
  for (int64_t row = 0; row < n; ++row) {
    float absmax = 0.0f;
    for (int64_t i = 0; i < k; ++i)
      absmax = std::max(absmax, std::fabs(w[row * k + i]));
    float s = roundToHalf(absmax / 127.0f);
    out.scale[row] = s;
    for (int64_t i = 0; i < k; ++i)
      out.q[row * k + i] = static_cast<int8_t>(
          std::clamp(std::nearbyint(s == 0.0f ? 0.0f : w[row * k + i] / s),
                     -127.0f, 127.0f));
  }
  return out;
}

/// The bytes the library's own quantizers give, and their dequantization.
struct Reference {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<float> dequantized;
};

Reference libraryReference(const QuantSchemeDesc &s, const WeightMatrix &w) {
  Reference ref;
  auto take = [](auto result) {
    EXPECT_TRUE(result.isOk()) << result.status().message();
    return std::move(result).value();
  };
  switch (s.kind) {
  case Kind::AWQ: {
    if (!s.zeroPoint) {
      ref.dequantized =
          awqSymmetricReference({w.values.begin(), w.values.end()}, w.type,
                                w.rows, w.cols, s.groupSize);
      return ref;
    }
    AwqCodes codes = take(awqQuantizeRtn(w, s.groupSize));
    AwqGemmWeight gemm = take(packAwqGemm(codes));
    ref.bytes = {bytesOf(gemm.qweight), bytesOf(gemm.qzeros),
                 bytesOf(gemm.scales)};
    ref.dequantized = take(dequantizeAwq(codes));
    return ref;
  }
  case Kind::BnB4: {
    Bnb4Weight q = take(quantizeBnb4(w, s.bnbType, s.blockSize, s.doubleQuant));
    if (q.nested)
      ref.bytes = {q.packed, q.qabsmax, bytesOf(q.nestedAbsmax),
                   bytesOf(std::vector<float>{q.offset})};
    else
      ref.bytes = {q.packed, bytesOf(q.absmax)};
    ref.dequantized = take(dequantizeBnb4(q));
    return ref;
  }
  case Kind::Int8:
    if (s.int8Mode == Int8Mode::LLMInt8) {
      LlmInt8Weight q = take(quantizeLlmInt8(w));
      ref.bytes = {bytesOf(q.cb), bytesOf(q.scb)};
      ref.dequantized = take(dequantizeLlmInt8(q));
      return ref;
    }
    Int8RowWeight q =
        s.int8Mode == Int8Mode::W8A8
            ? take(quantizeInt8PerChannel(w))
            : int8WeightOnlyReference({w.values.begin(), w.values.end()},
                                      w.rows, w.cols);
    ref.bytes = {bytesOf(q.q), s.int8Mode == Int8Mode::W8A8
                                   ? bytesOf(q.scale)
                                   : bytesOf(floatToHalf(q.scale))};
    ref.dequantized = take(dequantizeInt8PerChannel(q));
    return ref;
  }
  return ref;
}

std::vector<QuantSchemeDesc> allSchemes() {
  return {awq(32, true),
          awq(128, true),
          awq(64, false),
          bnb4(Bnb4Type::NF4, 64, false),
          bnb4(Bnb4Type::NF4, 64, true),
          bnb4(Bnb4Type::FP4, 128, true),
          int8(Int8Mode::WeightOnly),
          int8(Int8Mode::LLMInt8),
          int8(Int8Mode::W8A8)};
}

void expectError(const Status &status, const std::string &needle) {
  ASSERT_FALSE(status.isOk()) << "expected an error containing: " << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << status.message();
}

} // namespace

// Every scheme on F32, F16 and BF16 weights: the ABI's tensors in order, the
// library quantizers' bytes, and a dequantization that matches theirs.
TEST(WeightPackerTest, QuantizesFloatCheckpointForEveryScheme) {
  const DType types[] = {DType::F32, DType::F16, DType::BF16};
  Checkpoint ckpt;
  std::vector<std::vector<float>> weights;
  for (DType type : types) {
    weights.push_back(makeWeights(type, kN * kK, 7 + weights.size()));
    ckpt.add(kModule + "_" + std::string(dtypeName(type)) + ".weight", type,
             {kN, kK}, storeAs(type, weights.back()));
  }
  WeightIndex index = ckpt.open();
  for (const QuantSchemeDesc &scheme : allSchemes()) {
    for (size_t t = 0; t < std::size(types); ++t) {
      SCOPED_TRACE(describeScheme(scheme) + " on " +
                   std::string(dtypeName(types[t])));
      std::string module = kModule + "_" + std::string(dtypeName(types[t]));
      auto packed = quantizeLinear(index, module, scheme, kN, kK);
      ASSERT_TRUE(packed.isOk()) << packed.status().message();
      expectLayout(*packed, scheme, kN, kK);

      WeightMatrix w{weights[t], kN, kK, types[t], module + ".weight"};
      Reference ref = libraryReference(scheme, w);
      for (size_t i = 0; i < ref.bytes.size(); ++i)
        EXPECT_EQ((*packed)[i].bytes, ref.bytes[i]) << (*packed)[i].suffix;
      auto deq = dequantizePacked(*packed, scheme, kN, kK, types[t]);
      ASSERT_TRUE(deq.isOk()) << deq.status().message();
      EXPECT_EQ(floatBits(*deq), floatBits(ref.dequantized));
    }
  }
}

// Rows whose absmax / 127 is exact in fp16 keep quantizeInt8PerChannel's
// codes; the others are requantized with the rounded scale.
TEST(WeightPackerTest, Int8WeightOnlyCodesFollowTheStoredScale) {
  std::vector<float> w = {127.0f, 63.5f, -1.25f, 0.0f,  // scale 1, exact
                          1.0f,   0.5f,  -0.3f,  0.1f}; // scale 1/127
  WeightMatrix m{w, 2, 4, DType::F32, "w"};
  auto packed = quantizeWeight(m, int8(Int8Mode::WeightOnly));
  ASSERT_TRUE(packed.isOk()) << packed.status().message();
  auto library = quantizeInt8PerChannel(m);
  ASSERT_TRUE(library.isOk());
  std::vector<int8_t> q(8);
  std::memcpy(q.data(), (*packed)[0].bytes.data(), 8);
  EXPECT_EQ(std::vector<int8_t>(q.begin(), q.begin() + 4),
            std::vector<int8_t>(library->q.begin(), library->q.begin() + 4));
  EXPECT_EQ(q, int8WeightOnlyReference(w, 2, 4).q);
  std::vector<uint16_t> scales(2);
  std::memcpy(scales.data(), (*packed)[1].bytes.data(), 4);
  EXPECT_EQ(scales[0], floatToHalf(1.0f));
  EXPECT_EQ(scales[1], floatToHalf(1.0f / 127.0f));
}

// A pre-quantized AutoAWQ GEMM checkpoint is copied byte for byte; GEMV and
// llm-awq checkpoints of the same codes convert to the same bytes.
TEST(WeightPackerTest, ImportsAwqCheckpointsInEveryLayout) {
  const int64_t g = 64;
  std::vector<float> values = makeWeights(DType::F16, kN * kK, 3);
  WeightMatrix w{values, kN, kK, DType::F16, "w"};
  auto codes = awqQuantizeRtn(w, g);
  ASSERT_TRUE(codes.isOk());
  auto gemm = packAwqGemm(*codes);
  auto gemv = packAwqGemv(*codes);
  auto llm = packLlmAwq(*codes);
  ASSERT_TRUE(gemm.isOk() && gemv.isOk() && llm.isOk());
  auto zw = awqZerosWidth(kK, g);
  ASSERT_TRUE(zw.isOk());
  Checkpoint ckpt;
  ckpt.add("float.weight", DType::F16, {kN, kK}, storeAs(DType::F16, values));
  ckpt.add("gemm.qweight", DType::I32, {kK, kN / 8}, bytesOf(gemm->qweight));
  ckpt.add("gemm.qzeros", DType::I32, {kK / g, kN / 8}, bytesOf(gemm->qzeros));
  ckpt.add("gemm.scales", DType::F16, {kK / g, kN}, bytesOf(gemm->scales));
  ckpt.add("gemv.qweight", DType::I32, {kN, kK / 8}, bytesOf(gemv->qweight));
  ckpt.add("gemv.qzeros", DType::I32, {kN, *zw}, bytesOf(gemv->qzeros));
  ckpt.add("gemv.scales", DType::F16, {kN, 8 * *zw}, bytesOf(gemv->scales));
  ckpt.add("llm.qweight", DType::I16, {kN / 4, kK}, bytesOf(llm->qweight));
  ckpt.add("llm.scales", DType::F16, {8 * *zw, kN}, bytesOf(llm->scales));
  ckpt.add("llm.scaled_zeros", DType::F16, {8 * *zw, kN},
           bytesOf(llm->scaledZeros));
  WeightIndex index = ckpt.open();

  QuantSchemeDesc scheme = awq(g, true);
  auto fresh = quantizeLinear(index, "float", scheme, kN, kK);
  ASSERT_TRUE(fresh.isOk()) << fresh.status().message();
  for (auto [module, version] :
       {std::pair{"gemm", "gemm"}, std::pair{"gemv", "gemv"},
        std::pair{"llm", "llm-awq"}}) {
    SCOPED_TRACE(version);
    auto imported =
        importQuantizedLinear(index, module, scheme, kN, kK, version);
    ASSERT_TRUE(imported.isOk()) << imported.status().message();
    expectLayout(*imported, scheme, kN, kK);
    for (size_t i = 0; i < imported->size(); ++i)
      EXPECT_EQ((*imported)[i].bytes, (*fresh)[i].bytes);
  }
  EXPECT_EQ((*fresh)[0].bytes, bytesOf(gemm->qweight));

  expectError(
      importQuantizedLinear(index, "gemm", scheme, kN, kK, "marlin").status(),
      "unknown AWQ version \"marlin\"");
  expectError(
      importQuantizedLinear(index, "gemm", scheme, 2 * kN, kK, "gemm").status(),
      "gemm.qweight: holds a [32, 256] layer, expected [64, 256]");
  expectError(
      importQuantizedLinear(index, "gemm", awq(128, true), kN, kK, "gemm")
          .status(),
      "gemm.qzeros");
}

// Symmetric AWQ round-trips through a GEMM checkpoint that stores qzeros of
// all 8 (as exportAutoAwqCheckpoint writes) or none.
TEST(WeightPackerTest, ImportsSymmetricAwq) {
  std::vector<float> values = makeWeights(DType::F16, kN * kK, 5);
  QuantSchemeDesc scheme = awq(128, false);
  auto packed = quantizeWeight({values, kN, kK, DType::F16, "w"}, scheme);
  ASSERT_TRUE(packed.isOk()) << packed.status().message();
  Checkpoint ckpt;
  for (const char *m : {"zeros8", "nozeros", "badzeros"}) {
    ckpt.add(std::string(m) + ".qweight", DType::I32, {kK, kN / 8},
             (*packed)[0].bytes);
    ckpt.add(std::string(m) + ".scales", DType::F16, {kK / 128, kN},
             (*packed)[1].bytes);
  }
  std::vector<int32_t> zeros(2 * kN / 8, kAwqSymmetricZeros);
  ckpt.add("zeros8.qzeros", DType::I32, {2, kN / 8}, bytesOf(zeros));
  zeros[3] = static_cast<int32_t>(0x88888887u);
  ckpt.add("badzeros.qzeros", DType::I32, {2, kN / 8}, bytesOf(zeros));
  WeightIndex index = ckpt.open();
  for (const char *m : {"zeros8", "nozeros"}) {
    auto imported = importQuantizedLinear(index, m, scheme, kN, kK, "gemm");
    ASSERT_TRUE(imported.isOk()) << imported.status().message();
    ASSERT_EQ(imported->size(), 2u);
    EXPECT_EQ((*imported)[0].bytes, (*packed)[0].bytes);
    EXPECT_EQ((*imported)[1].bytes, (*packed)[1].bytes);
  }
  expectError(
      importQuantizedLinear(index, "badzeros", scheme, kN, kK, "gemm").status(),
      "badzeros.qzeros: zero_point is false");
  expectError(
      importQuantizedLinear(index, "nozeros", scheme, kN, kK, "gemv").status(),
      "only supported in the gemm layout");
}

// The mma layout (AWQ weights for NVIDIA kernels) stores the same codes as
// GEMM, permuted: fresh quantizations and imports (asymmetric GEMM and GEMV
// checkpoints, symmetric GEMM) convert back to GEMM's bytes, and
// dequantize to the same weights.
TEST(WeightPackerTest, PacksAwqInTheMmaLayout) {
  std::vector<float> values = makeWeights(DType::F16, kN * kK, 7);
  WeightMatrix w{values, kN, kK, DType::F16, "w"};
  for (bool zeroPoint : {true, false}) {
    SCOPED_TRACE(zeroPoint);
    QuantSchemeDesc gemm = awq(64, zeroPoint), mma = gemm;
    mma.awqLayout = AwqPackageLayout::Mma;
    EXPECT_EQ(describeScheme(mma), zeroPoint
                                       ? "awq(group_size=64, zero_point, mma)"
                                       : "awq(group_size=64, symmetric, mma)");
    auto a = quantizeWeight(w, gemm), b = quantizeWeight(w, mma);
    ASSERT_TRUE(a.isOk() && b.isOk());
    EXPECT_EQ((*b)[0].shape, (std::vector<int64_t>{kN / 16, 2 * kK}));
    EXPECT_NE((*a)[0].bytes, (*b)[0].bytes);
    std::vector<int32_t> words((*b)[0].bytes.size() / 4);
    std::memcpy(words.data(), (*b)[0].bytes.data(), (*b)[0].bytes.size());
    auto back = awqMmaToGemm(words, kN, kK);
    ASSERT_TRUE(back.isOk());
    EXPECT_EQ(bytesOf(*back), (*a)[0].bytes);
    for (size_t i = 1; i < a->size(); ++i)
      EXPECT_EQ((*a)[i].bytes, (*b)[i].bytes);
    auto da = dequantizePacked(*a, gemm, kN, kK, DType::F16);
    auto db = dequantizePacked(*b, mma, kN, kK, DType::F16);
    ASSERT_TRUE(da.isOk() && db.isOk());
    EXPECT_EQ(*da, *db);

    Checkpoint ckpt;
    ckpt.add("m.qweight", DType::I32, {kK, kN / 8}, (*a)[0].bytes);
    if (zeroPoint)
      ckpt.add("m.qzeros", DType::I32, {kK / 64, kN / 8}, (*a)[1].bytes);
    ckpt.add("m.scales", DType::F16, {kK / 64, kN}, a->back().bytes);
    WeightIndex index = ckpt.open();
    auto imported = importQuantizedLinear(index, "m", mma, kN, kK, "gemm");
    ASSERT_TRUE(imported.isOk()) << imported.status().message();
    for (size_t i = 0; i < b->size(); ++i)
      EXPECT_EQ((*imported)[i].bytes, (*b)[i].bytes);
  }
  QuantSchemeDesc mma = awq(32, true);
  mma.awqLayout = AwqPackageLayout::Mma;
  std::vector<float> narrow = makeWeights(DType::F16, 8 * kK, 8);
  expectError(
      quantizeWeight({narrow, 8, kK, DType::F16, "narrow"}, mma).status(),
      "AWQ mma layout needs N a multiple of 16 and K of 64");
}

// The cpu layout (AWQ weights for the CPU kernels) moves every code to the
// word of its tile of 64 features and block of 8 inputs (AWQLayouts.h).
// Fresh quantizations and GEMM imports agree, convert back to GEMM's bytes
// and dequantize to the same weights; N = 32 cannot take it.
TEST(WeightPackerTest, PacksAwqInTheCpuLayout) {
  constexpr int64_t n = 128;
  std::vector<float> values = makeWeights(DType::F16, n * kK, 9);
  WeightMatrix w{values, n, kK, DType::F16, "w"};
  QuantSchemeDesc gemm = awq(64, true), cpu = gemm;
  cpu.awqLayout = AwqPackageLayout::Cpu;
  EXPECT_EQ(describeScheme(cpu), "awq(group_size=64, zero_point, cpu)");
  auto a = quantizeWeight(w, gemm), b = quantizeWeight(w, cpu);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ((*b)[0].shape, (std::vector<int64_t>{n / 64, 8 * kK}));
  std::vector<int32_t> gemmWords((*a)[0].bytes.size() / 4),
      cpuWords((*b)[0].bytes.size() / 4);
  std::memcpy(gemmWords.data(), (*a)[0].bytes.data(), (*a)[0].bytes.size());
  std::memcpy(cpuWords.data(), (*b)[0].bytes.data(), (*b)[0].bytes.size());
  // Feature 70 (tile 1, column 6) at inputs 13 (block 1, byte 1, high) and
  // 2 (block 0, byte 2, low); GEMM keeps feature 70 in nibble 3 of word 8.
  auto gemmCode = [&](int64_t f, int64_t k) {
    return (uint32_t(gemmWords[k * (n / 8) + f / 8]) >> (4 * kAwqNibbleOf[f % 8])) & 15u;
  };
  EXPECT_EQ((uint32_t(cpuWords[8 * kK + 64 + 6]) >> 12) & 15u, gemmCode(70, 13));
  EXPECT_EQ((uint32_t(cpuWords[8 * kK + 6]) >> 16) & 15u, gemmCode(70, 2));
  for (int64_t f : {int64_t(0), int64_t(63), int64_t(64), n - 1})
    for (int64_t k : {int64_t(0), int64_t(5), kK - 1}) {
      AwqCpuSlot slot = awqCpuSlot(f, k, kK);
      EXPECT_EQ((uint32_t(cpuWords[slot.word]) >> slot.shift) & 15u,
                gemmCode(f, k))
          << "feature " << f << ", input " << k;
    }
  auto back = awqCpuToGemm(cpuWords, n, kK);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(*back, gemmWords);
  auto da = dequantizePacked(*a, gemm, n, kK, DType::F16);
  auto db = dequantizePacked(*b, cpu, n, kK, DType::F16);
  ASSERT_TRUE(da.isOk() && db.isOk());
  EXPECT_EQ(*da, *db);

  Checkpoint ckpt;
  ckpt.add("m.qweight", DType::I32, {kK, n / 8}, (*a)[0].bytes);
  ckpt.add("m.qzeros", DType::I32, {kK / 64, n / 8}, (*a)[1].bytes);
  ckpt.add("m.scales", DType::F16, {kK / 64, n}, a->back().bytes);
  WeightIndex index = ckpt.open();
  auto imported = importQuantizedLinear(index, "m", cpu, n, kK, "gemm");
  ASSERT_TRUE(imported.isOk()) << imported.status().message();
  for (size_t i = 0; i < b->size(); ++i)
    EXPECT_EQ((*imported)[i].bytes, (*b)[i].bytes);

  std::vector<float> narrow = makeWeights(DType::F16, kN * kK, 8);
  expectError(quantizeWeight({narrow, kN, kK, DType::F16, "narrow"}, cpu)
                  .status(),
              "AWQ cpu layout needs N a multiple of 64");
}

// bitsandbytes 4-bit (as transformers serializes it) and 8-bit checkpoints
// import to the bytes of a fresh quantization; qc's own int8 tensors are
// read back unchanged.
TEST(WeightPackerTest, ImportsBitsandbytesAndInt8Checkpoints) {
  std::vector<float> values = makeWeights(DType::F16, kN * kK, 11);
  WeightMatrix w{values, kN, kK, DType::F16, "w"};
  auto nf4 = quantizeBnb4(w, Bnb4Type::NF4, 64, true);
  auto cb = quantizeLlmInt8(w);
  ASSERT_TRUE(nf4.isOk() && cb.isOk());
  const int64_t blocks = kN * kK / 64;
  char state[256];
  std::snprintf(state, sizeof(state),
                "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": "
                "\"float16\", \"shape\": [%lld, %lld], \"nested_blocksize\": "
                "256, \"nested_dtype\": \"float32\", \"nested_offset\": %.9g}",
                static_cast<long long>(kN), static_cast<long long>(kK),
                static_cast<double>(nf4->offset));
  std::string stateText(state);
  auto codebook = bnb4Codebook(Bnb4Type::NF4);
  Checkpoint ckpt;
  ckpt.add("float.weight", DType::F16, {kN, kK}, storeAs(DType::F16, values));
  ckpt.add("b4.weight", DType::U8, {kN * kK / 2, 1}, nf4->packed);
  ckpt.add("b4.weight.absmax", DType::U8, {blocks}, nf4->qabsmax);
  ckpt.add("b4.weight.quant_map", DType::F32, {16},
           bytesOf(std::vector<float>(codebook.begin(), codebook.end())));
  ckpt.add("b4.weight.nested_absmax", DType::F32,
           {static_cast<int64_t>(nf4->nestedAbsmax.size())},
           bytesOf(nf4->nestedAbsmax));
  ckpt.add("b4.weight.nested_quant_map", DType::F32, {256},
           bytesOf(nf4->nestedCode));
  ckpt.add("b4.weight.quant_state.bitsandbytes__nf4", DType::U8,
           {static_cast<int64_t>(stateText.size())},
           std::vector<uint8_t>(stateText.begin(), stateText.end()));
  ckpt.add("b8.weight", DType::I8, {kN, kK}, bytesOf(cb->cb));
  ckpt.add("b8.SCB", DType::F32, {kN}, bytesOf(cb->scb));
  auto own = quantizeWeight(w, int8(Int8Mode::W8A8));
  ASSERT_TRUE(own.isOk());
  ckpt.add("own.qweight", DType::I8, {kN, kK}, (*own)[0].bytes);
  ckpt.add("own.scales", DType::F32, {kN}, (*own)[1].bytes);
  WeightIndex index = ckpt.open();

  for (const QuantSchemeDesc &scheme :
       {bnb4(Bnb4Type::NF4, 64, true), int8(Int8Mode::LLMInt8),
        int8(Int8Mode::W8A8)}) {
    SCOPED_TRACE(describeScheme(scheme));
    std::string module = scheme.kind == Kind::BnB4              ? "b4"
                         : scheme.int8Mode == Int8Mode::LLMInt8 ? "b8"
                                                                : "own";
    auto imported = importQuantizedLinear(index, module, scheme, kN, kK, "");
    ASSERT_TRUE(imported.isOk()) << imported.status().message();
    auto fresh = quantizeLinear(index, "float", scheme, kN, kK);
    ASSERT_TRUE(fresh.isOk());
    ASSERT_EQ(imported->size(), fresh->size());
    for (size_t i = 0; i < fresh->size(); ++i)
      EXPECT_EQ((*imported)[i].bytes, (*fresh)[i].bytes) << (*fresh)[i].suffix;
  }
  expectError(importQuantizedLinear(index, "b4", bnb4(Bnb4Type::FP4, 64, true),
                                    kN, kK, "")
                  .status(),
              "b4.weight: stored as bnb4(nf4, block_size=64, double_quant), "
              "expected bnb4(fp4, block_size=64, double_quant)");
  expectError(importQuantizedLinear(index, "b4", bnb4(Bnb4Type::NF4, 64, true),
                                    2 * kN, kK / 2, "")
                  .status(),
              "b4.weight: quant_state shape [32, 256], expected [64, 128]");
  expectError(importQuantizedLinear(index, "own", int8(Int8Mode::WeightOnly),
                                    kN, kK, "")
                  .status(),
              "own.scales: expected F16 [32], got F32 [32]");
}

TEST(WeightPackerTest, ErrorsNameTheTensor) {
  Checkpoint ckpt;
  ckpt.add("ints.weight", DType::I32, {8, 64},
           std::vector<uint8_t>(8 * 64 * 4));
  ckpt.add("f.weight", DType::F16, {8, 48},
           storeAs(DType::F16, makeWeights(DType::F16, 8 * 48, 1)));
  WeightIndex index = ckpt.open();
  expectError(quantizeLinear(index, "missing", awq(32, true), 8, 64).status(),
              "missing tensor missing.weight");
  expectError(quantizeLinear(index, "ints", awq(32, true), 8, 64).status(),
              "ints.weight: expected an F32, F16 or BF16 weight, got I32");
  expectError(quantizeLinear(index, "f", awq(32, true), 8, 48).status(),
              "f.weight: AWQ in_features K=48 is not divisible by the group "
              "size G=32");
  expectError(quantizeLinear(index, "f", bnb4(Bnb4Type::NF4, 32, false), 8, 48)
                  .status(),
              "f.weight: bnb4 block_size 32 does not divide K=48");
  expectError(quantizeLinear(index, "f", int8(Int8Mode::W8A8), 8, 64).status(),
              "f.weight: expected shape [8, 64], got F16 [8, 48]");
  expectError(
      importQuantizedLinear(index, "f", awq(16, true), 8, 48, "gemm").status(),
      "missing tensor f.qweight");
  expectError(
      importQuantizedLinear(index, "f", int8(Int8Mode::LLMInt8), 8, 48, "")
          .status(),
      "f.weight: expected I8 [N, K], got F16 [8, 48]");
  // A non-finite weight is refused, not quantized.
  std::vector<float> bad(8 * 32, 0.0f);
  bad[5] = INFINITY;
  expectError(
      quantizeWeight({bad, 8, 32, DType::F32, "inf.weight"}, awq(32, true))
          .status(),
      "inf.weight: non-finite value at flat index 5");
  // dequantizePacked checks what it is given.
  auto packed = quantizeLinear(index, "f", int8(Int8Mode::W8A8), 8, 48);
  ASSERT_TRUE(packed.isOk());
  expectError(
      dequantizePacked(*packed, int8(Int8Mode::WeightOnly), 8, 48, DType::F16)
          .status(),
      "should be scales F16 [8]");
}

TEST(WeightPackerTest, ConvertsFloatTensors) {
  std::vector<float> values = {1.0f,  1.0f + 0x1p-11f, 65504.0f,
                               -0.0f, 0x1p-25f,        3.140625f};
  TensorInfo f32{"t", DType::F32, {2, 3}, 0, 24};
  auto half = convertFloatTensor(f32, bytesOf(values), DType::F16);
  ASSERT_TRUE(half.isOk()) << half.status().message();
  // Ties go to even, 65504 is the largest half, 2^-25 ties down to zero.
  EXPECT_EQ(*half, bytesOf(std::vector<uint16_t>{0x3c00, 0x3c00, 0x7bff, 0x8000,
                                                 0x0000, 0x4248}));
  TensorInfo f16{"t", DType::F16, {2, 3}, 0, 12};
  auto back = convertFloatTensor(f16, *half, DType::F32);
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(*back, bytesOf(std::vector<float>{1.0f, 1.0f, 65504.0f, -0.0f, 0.0f,
                                              3.140625f}));
  auto bf16 = convertFloatTensor(f16, *half, DType::BF16);
  ASSERT_TRUE(bf16.isOk());
  EXPECT_EQ(*bf16, bytesOf(std::vector<uint16_t>{0x3f80, 0x3f80, 0x4780, 0x8000,
                                                 0x0000, 0x4049}));
  auto same = convertFloatTensor(f16, *half, DType::F16);
  ASSERT_TRUE(same.isOk());
  EXPECT_EQ(*same, *half);

  TensorInfo ints{"ids", DType::I32, {2}, 0, 8};
  expectError(
      convertFloatTensor(ints, std::vector<uint8_t>(8), DType::F16).status(),
      "ids: cannot convert I32 to F16");
  expectError(
      convertFloatTensor(f16, std::vector<uint8_t>(10), DType::F32).status(),
      "t: 10 bytes do not hold F16 [2, 3]");
}

TEST(WeightPackerTest, RefusesNonFiniteWeightsAndOverflow) {
  TensorInfo f32{"w", DType::F32, {2, 3}, 0, 24};
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    values[4] = bad;
    for (DType target : {DType::F32, DType::F16, DType::BF16})
      expectError(convertFloatTensor(f32, bytesOf(values), target).status(),
                  "w: non-finite value (NaN or infinity) at flat index 4");
  }
  values[4] = 65520.0f; // rounds past the largest half
  expectError(convertFloatTensor(f32, bytesOf(values), DType::F16).status(),
              "w: value 65520.000000 at flat index 4 overflows F16");
  EXPECT_TRUE(convertFloatTensor(f32, bytesOf(values), DType::BF16).isOk());
  TensorInfo f16{"h", DType::F16, {2}, 0, 4};
  expectError(convertFloatTensor(f16,
                                 bytesOf(std::vector<uint16_t>{0x3c00, 0x7e00}),
                                 DType::F32)
                  .status(),
              "h: non-finite value (NaN or infinity) at flat index 1");
}

TEST(WeightPackerTest, RecognizesDecoderLinears) {
  EXPECT_TRUE(isDecoderLinear("model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(isDecoderLinear("model.layers.11.mlp.down_proj"));
  EXPECT_FALSE(isDecoderLinear("lm_head"));
  EXPECT_FALSE(isDecoderLinear("model.layers.0.input_layernorm"));
  EXPECT_FALSE(isDecoderLinear("model.layers.0.self_attn.q_proj.weight"));
}
