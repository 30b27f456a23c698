//===- BnBCheckpointTest.cpp - bitsandbytes checkpoint import tests -------===//

#include "qc/Quant/BnBCheckpoint.h"

#include "QuantTestUtil.h"

#include "gtest/gtest.h"

#include <map>

using namespace qc;
using namespace qc::quant;
using namespace qc::quant::test;

namespace {

void expectError(const Status &status, const std::string &needle) {
  ASSERT_FALSE(status.isOk()) << "expected an error containing: " << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << status.message();
}

// The reference files hold the tensors under the names transformers gives
// them (QuantState.as_dict(packed=True)); import each variant and compare
// with a fresh quantization of the same input.
TEST(BnbCheckpointTest, ImportsFourBitReferenceTensors) {
  RefFile ref("bnb4_reference.safetensors");
  ASSERT_NE(ref.file(), nullptr);
  SafeTensorsLookup lookup(*ref.file());
  for (const char *prefix :
       {"f16.nf4.plain", "f16.nf4.nested", "f16.fp4.plain", "f16.fp4.nested",
        "odd.nf4.nested", "bf16.fp4.nested", "f16.nf4.bs128"}) {
    SCOPED_TRACE(prefix);
    EXPECT_EQ(detectBnbWeight(lookup.lookup(), prefix), BnbWeightKind::FourBit);
    auto w = importBnb4Weight(lookup.lookup(), prefix);
    ASSERT_TRUE(w.isOk()) << w.status().message();
    const TensorInfo &input = ref.info(std::string(prefix) + ".ref.input");
    EXPECT_EQ(w->shape, input.shape);
    EXPECT_EQ(w->dtype, input.dtype);
    std::vector<float> values = ref.floats(std::string(prefix) + ".ref.input");
    auto fresh =
        quantizeBnb4({values, input.shape[0], input.shape[1], input.dtype},
                     w->type, w->blocksize, w->nested);
    ASSERT_TRUE(fresh.isOk());
    EXPECT_EQ(w->packed, fresh->packed);
    EXPECT_EQ(floatBits(w->absmax), floatBits(fresh->absmax));
    EXPECT_EQ(w->qabsmax, fresh->qabsmax);
    EXPECT_EQ(floatBits(w->nestedAbsmax), floatBits(fresh->nestedAbsmax));
    EXPECT_EQ(floatBits({w->offset}), floatBits({fresh->offset}));
    auto deq = dequantizeBnb4(*w);
    ASSERT_TRUE(deq.isOk()) << deq.status().message();
    EXPECT_EQ(floatBits(*deq),
              floatBits(ref.floats(std::string(prefix) + ".ref.dequantized")));
  }
}

TEST(BnbCheckpointTest, ImportsEightBitReferenceTensors) {
  RefFile ref("int8_reference.safetensors");
  ASSERT_NE(ref.file(), nullptr);
  SafeTensorsLookup lookup(*ref.file());
  const char *prefix = "model.layers.0.mlp.down_proj";
  EXPECT_EQ(detectBnbWeight(lookup.lookup(), prefix), BnbWeightKind::EightBit);
  EXPECT_EQ(detectBnbWeight(lookup.lookup(), "model.layers.1.mlp"),
            BnbWeightKind::None);
  auto w = importBnb8Weight(lookup.lookup(), prefix);
  ASSERT_TRUE(w.isOk()) << w.status().message();
  EXPECT_EQ(w->outFeatures, 64);
  EXPECT_EQ(w->inFeatures, 256);
  EXPECT_EQ(w->cb, ref.get<int8_t>(std::string(prefix) + ".weight"));
  EXPECT_EQ(floatBits(w->scb),
            floatBits(ref.floats(std::string(prefix) + ".SCB")));
}

/// An in-memory checkpoint to break on purpose.
class FakeCheckpoint {
public:
  void put(const std::string &name, DType dtype, std::vector<int64_t> shape,
           std::vector<uint8_t> bytes) {
    storage_[name] = std::move(bytes);
    tensors_[name] = TensorRef{dtype, std::move(shape), storage_[name]};
  }
  void erase(const std::string &name) { tensors_.erase(name); }
  TensorLookup lookup() const {
    return [this](std::string_view name) -> const TensorRef * {
      auto it = tensors_.find(std::string(name));
      return it == tensors_.end() ? nullptr : &it->second;
    };
  }

private:
  std::map<std::string, std::vector<uint8_t>> storage_;
  std::map<std::string, TensorRef> tensors_;
};

std::vector<uint8_t> bytesOf(const std::string &text) {
  return {text.begin(), text.end()};
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// A valid plain NF4 layer of shape [4, 32] (2 blocks of 64).
FakeCheckpoint plainNf4() {
  FakeCheckpoint c;
  const std::string p = "layer.weight";
  c.put(p, DType::U8, {64, 1}, std::vector<uint8_t>(64, 0x77));
  c.put(p + ".absmax", DType::F32, {2}, bytesOf(std::vector<float>{1, 2}));
  auto book = bnb4Codebook(Bnb4Type::NF4);
  c.put(p + ".quant_map", DType::F32, {16},
        bytesOf(std::vector<float>(book.begin(), book.end())));
  std::string json = R"({"quant_type": "nf4", "blocksize": 64, )"
                     R"("dtype": "bfloat16", "shape": [4, 32]})";
  c.put(p + ".quant_state.bitsandbytes__nf4", DType::U8,
        {static_cast<int64_t>(json.size())}, bytesOf(json));
  return c;
}

TEST(BnbCheckpointTest, FourBitErrorsNameTheKey) {
  FakeCheckpoint ok = plainNf4();
  auto w = importBnb4Weight(ok.lookup(), "layer");
  ASSERT_TRUE(w.isOk()) << w.status().message();
  EXPECT_EQ(w->dtype, DType::BF16);
  auto deq = dequantizeBnb4(*w);
  ASSERT_TRUE(deq.isOk());
  EXPECT_EQ((*deq)[0], 0.0f); // code 7 is 0.0

  FakeCheckpoint c = plainNf4();
  c.erase("layer.weight.absmax");
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "missing tensor layer.weight.absmax (expected F32 [2])");

  c = plainNf4();
  c.put("layer.weight", DType::U8, {63, 1}, std::vector<uint8_t>(63));
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "layer.weight: expected U8 [64, 1] or U8 [64], got U8 [63, 1]");

  c = plainNf4();
  c.put("layer.weight.quant_map", DType::F32, {16},
        bytesOf(std::vector<float>(16, 0.5f)));
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "entry 0 does not match bitsandbytes' nf4 codebook");

  c = plainNf4();
  std::string json = R"({"quant_type": "nf4", "blocksize": 64, )"
                     R"("dtype": "float16", "shape": [4, 32], )"
                     R"("nested_blocksize": 256, "nested_dtype": "float32", )"
                     R"("nested_offset": 0.25})";
  c.put("layer.weight.quant_state.bitsandbytes__nf4", DType::U8,
        {static_cast<int64_t>(json.size())}, bytesOf(json));
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "layer.weight.absmax: expected U8 [2], got F32 [2]");

  c = plainNf4();
  json = R"({"quant_type": "nf4", "blocksize": 64, "dtype": "int8", )"
         R"("shape": [4, 32]})";
  c.put("layer.weight.quant_state.bitsandbytes__nf4", DType::U8,
        {static_cast<int64_t>(json.size())}, bytesOf(json));
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "layer.weight.quant_state.bitsandbytes__nf4: \"dtype\" must be");

  c = plainNf4();
  json = "{not json";
  c.put("layer.weight.quant_state.bitsandbytes__nf4", DType::U8,
        {static_cast<int64_t>(json.size())}, bytesOf(json));
  expectError(importBnb4Weight(c.lookup(), "layer").status(),
              "not a JSON object");

  expectError(importBnb4Weight(c.lookup(), "other").status(),
              "missing tensor other.weight.quant_state.bitsandbytes__nf4");
}

TEST(BnbCheckpointTest, EightBitErrorsNameTheKey) {
  FakeCheckpoint c;
  c.put("fc.weight", DType::I8, {2, 3}, std::vector<uint8_t>(6, 1));
  c.put("fc.SCB", DType::F32, {2}, bytesOf(std::vector<float>{1, 2}));
  ASSERT_TRUE(importBnb8Weight(c.lookup(), "fc").isOk());
  c.put("fc.weight_format", DType::U8, {}, {2});
  expectError(importBnb8Weight(c.lookup(), "fc").status(),
              "fc.weight_format: weight_format 2");
  c.put("fc.weight_format", DType::U8, {}, {0});
  c.put("fc.SCB", DType::F32, {3}, bytesOf(std::vector<float>{1, 2, 3}));
  expectError(importBnb8Weight(c.lookup(), "fc").status(),
              "fc.SCB: expected F32 [2], got F32 [3]");
  c.put("fc.weight", DType::F16, {2, 3}, std::vector<uint8_t>(12));
  expectError(importBnb8Weight(c.lookup(), "fc").status(),
              "fc.weight: expected I8 [N, K], got F16 [2, 3]");
  c.put("fc.weight", DType::I8, {2, 3}, std::vector<uint8_t>(5));
  expectError(importBnb8Weight(c.lookup(), "fc").status(),
              "fc.weight: holds 5 bytes");
}

} // namespace
