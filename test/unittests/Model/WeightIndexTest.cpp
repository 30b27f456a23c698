//===- WeightIndexTest.cpp - Tests for qc::WeightIndex --------------------===//

#include "qc/Model/WeightIndex.h"

#include "ModelTestUtil.h"

#include <gtest/gtest.h>

using namespace qc;
using qc::test::errorOf;

namespace {

const std::vector<uint8_t> kBytes = {1, 2, 3, 4, 5, 6, 7, 8};

/// Writes a shard holding U8 tensors of 4 bytes each with the given names.
void writeShard(const std::string &path, const std::vector<std::string> &names,
                uint8_t offset = 0) {
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < names.size(); ++i)
    tensors.push_back({names[i],
                       DType::U8,
                       {4},
                       std::span(kBytes).subspan((i + offset) % 5, 4)});
  ASSERT_TRUE(writeSafeTensors(path, tensors).isOk());
}

void writeIndex(const test::ScopedTempDir &dir, const std::string &weightMap) {
  test::writeFile(
      dir.file("model.safetensors.index.json"),
      "{\"metadata\":{\"total_size\":16},\"weight_map\":" + weightMap + "}");
}

TEST(WeightIndexTest, SingleFile) {
  test::ScopedTempDir dir;
  writeShard(dir.file("model.safetensors"), {"b", "a"});
  auto index = WeightIndex::open(dir.path());
  ASSERT_TRUE(index.isOk()) << index.status().message();
  EXPECT_EQ(index->names(), (std::vector<std::string>{"a", "b"}));
  ASSERT_NE(index->find("a"), nullptr);
  EXPECT_EQ(index->find("a")->shape, std::vector<int64_t>{4});
  std::span<const uint8_t> a = index->data("a");
  EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.end()),
            (std::vector<uint8_t>{2, 3, 4, 5}));
  EXPECT_EQ(index->fileOf("a")->path(), dir.file("model.safetensors"));
  EXPECT_EQ(index->find("c"), nullptr);
  EXPECT_TRUE(index->data("c").empty());
  EXPECT_EQ(index->fileOf("c"), nullptr);
  EXPECT_EQ(index->directory(), dir.path());
}

TEST(WeightIndexTest, ShardedGood) {
  test::ScopedTempDir dir;
  writeShard(dir.file("model-00001-of-00002.safetensors"), {"x", "y"});
  writeShard(dir.file("model-00002-of-00002.safetensors"), {"z"}, 3);
  writeIndex(dir, R"({"x":"model-00001-of-00002.safetensors",
                      "y":"./model-00001-of-00002.safetensors",
                      "z":"model-00002-of-00002.safetensors"})");
  auto index = WeightIndex::open(dir.path());
  ASSERT_TRUE(index.isOk()) << index.status().message();
  EXPECT_EQ(index->names(), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(index->fileOf("z")->path(),
            dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(index->fileOf("x"), index->fileOf("y"));
  std::span<const uint8_t> z = index->data("z");
  EXPECT_EQ(std::vector<uint8_t>(z.begin(), z.end()),
            (std::vector<uint8_t>{4, 5, 6, 7}));
}

TEST(WeightIndexTest, SingleFileWinsOverIndex) {
  test::ScopedTempDir dir;
  writeShard(dir.file("model.safetensors"), {"a"});
  writeIndex(dir, R"({"a":"missing.safetensors"})");
  auto index = WeightIndex::open(dir.path());
  ASSERT_TRUE(index.isOk()) << index.status().message();
  EXPECT_EQ(index->names(), std::vector<std::string>{"a"});
}

TEST(WeightIndexTest, MissingWeights) {
  test::ScopedTempDir dir;
  std::string message = errorOf(WeightIndex::open(dir.path()));
  EXPECT_NE(message.find(dir.path() + ": no model.safetensors"),
            std::string::npos)
      << message;
}

TEST(WeightIndexTest, MissingShard) {
  test::ScopedTempDir dir;
  writeIndex(dir, R"({"a":"model-00001-of-00001.safetensors"})");
  std::string message = errorOf(WeightIndex::open(dir.path()));
  EXPECT_NE(message.find("weight_map['a']: cannot open shard "
                         "'model-00001-of-00001.safetensors'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("model.safetensors.index.json"), std::string::npos);
}

TEST(WeightIndexTest, TensorMissingFromShard) {
  test::ScopedTempDir dir;
  writeShard(dir.file("s1.safetensors"), {"a"});
  writeIndex(dir, R"({"a":"s1.safetensors","b":"s1.safetensors"})");
  std::string message = errorOf(WeightIndex::open(dir.path()));
  EXPECT_NE(message.find("tensor 'b' is missing from shard 's1.safetensors'"),
            std::string::npos)
      << message;
}

TEST(WeightIndexTest, TensorClaimedByAnotherShard) {
  test::ScopedTempDir dir;
  writeShard(dir.file("s1.safetensors"), {"a", "b"});
  writeShard(dir.file("s2.safetensors"), {"b"});
  writeIndex(dir, R"({"a":"s1.safetensors","b":"s2.safetensors"})");
  std::string message = errorOf(WeightIndex::open(dir.path()));
  EXPECT_NE(message.find("shard 's1.safetensors' holds tensor 'b', which "
                         "weight_map assigns to shard 's2.safetensors'"),
            std::string::npos)
      << message;
}

TEST(WeightIndexTest, TensorNotListed) {
  test::ScopedTempDir dir;
  writeShard(dir.file("s1.safetensors"), {"a", "extra"});
  writeIndex(dir, R"({"a":"s1.safetensors"})");
  std::string message = errorOf(WeightIndex::open(dir.path()));
  EXPECT_NE(message.find("holds tensor 'extra', which weight_map does not "
                         "list"),
            std::string::npos)
      << message;
}

TEST(WeightIndexTest, PathEscapes) {
  test::ScopedTempDir dir;
  writeIndex(dir, R"({"a":"../outside.safetensors"})");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path()))
                .find("weight_map['a']: shard file '../outside.safetensors' "
                      "escapes the model directory"),
            std::string::npos);
  writeIndex(dir, R"({"a":"sub/../../x.safetensors"})");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path())).find("escapes"),
            std::string::npos);
  writeIndex(dir, R"({"a":"/etc/passwd"})");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path())).find("absolute path"),
            std::string::npos);
  writeIndex(dir, R"({"a":""})");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path())).find("empty shard"),
            std::string::npos);
}

TEST(WeightIndexTest, MalformedIndex) {
  test::ScopedTempDir dir;
  std::string path = dir.file("model.safetensors.index.json");
  test::writeFile(path, "{\"weight_map\": [1]}");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path()))
                .find(path + ": field 'weight_map' must be an object"),
            std::string::npos);
  test::writeFile(path, "{}");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path()))
                .find("missing required field 'weight_map'"),
            std::string::npos);
  test::writeFile(path, "{\"weight_map\": {\"a\": 3}}");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path()))
                .find("weight_map['a'] must be a string"),
            std::string::npos);
  test::writeFile(path, "{\"weight_map\": {\"a\": \"s\", \"a\": \"t\"}}");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path())).find("duplicate key 'a'"),
            std::string::npos);
  test::writeFile(path, "{\"weight_map\": ");
  EXPECT_NE(errorOf(WeightIndex::open(dir.path())).find("invalid JSON"),
            std::string::npos);
}

} // namespace
