//===- SafeTensorsTest.cpp - Tests for the safetensors reader/writer ------===//

#include "qc/Model/SafeTensors.h"

#include "ModelTestUtil.h"

#include <gtest/gtest.h>

#include <random>
#include <sys/stat.h>

using namespace qc;
using qc::test::errorOf;
using qc::test::rawSafeTensors;

namespace {

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<uint8_t>(seed + 31 * i);
  return bytes;
}

StatusOr<std::unique_ptr<SafeTensorsFile>>
parseBytes(std::vector<uint8_t> bytes) {
  return SafeTensorsFile::fromBuffer(std::move(bytes), "t.safetensors");
}

/// A valid image with three tensors (one of them empty) and metadata.
std::vector<uint8_t> sampleImage() {
  static const std::vector<uint8_t> a = pattern(24, 1), b = pattern(4, 2);
  auto image = serializeSafeTensors({{"w.a", DType::F32, {2, 3}, a},
                                     {"w.empty", DType::F16, {0, 5}, {}},
                                     {"w.b", DType::BF16, {2}, b}},
                                    {{"format", "pt"}});
  EXPECT_TRUE(image.isOk());
  return image.isOk() ? *image : std::vector<uint8_t>();
}

/// Everything a successfully parsed file promises.
void checkInvariants(const SafeTensorsFile &file) {
  uint64_t cursor = 0;
  for (const TensorInfo &t : file.tensors()) {
    EXPECT_EQ(t.dataBegin, cursor);
    EXPECT_EQ(file.data(t).size(), t.byteSize());
    EXPECT_EQ(static_cast<uint64_t>(t.numElements()) * dtypeSize(t.dtype),
              t.byteSize());
    EXPECT_EQ(file.find(t.name), &t);
    cursor = t.dataEnd;
  }
}

TEST(SafeTensorsTest, RoundTripEveryDType) {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorToWrite> tensors;
  for (DType type : allDTypes()) {
    storage.push_back(pattern(6 * dtypeSize(type), storage.size()));
    tensors.push_back(
        {"t." + std::string(dtypeName(type)), type, {2, 3}, storage.back()});
  }
  auto image = serializeSafeTensors(tensors, {{"format", "pt"}});
  ASSERT_TRUE(image.isOk()) << image.status().message();
  auto file = parseBytes(*image);
  ASSERT_TRUE(file.isOk()) << file.status().message();

  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo *info = (*file)->find(tensors[i].name);
    ASSERT_NE(info, nullptr) << tensors[i].name;
    EXPECT_EQ(info->dtype, tensors[i].dtype);
    EXPECT_EQ(info->shape, tensors[i].shape);
    EXPECT_EQ(info->numElements(), 6);
    std::span<const uint8_t> data = (*file)->data(*info);
    EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.end()), storage[i]);
    // Written in the given order, so tensors() (offset order) matches it.
    EXPECT_EQ((*file)->tensors()[i].name, tensors[i].name);
  }
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  EXPECT_EQ((*file)->path(), "t.safetensors");
}

TEST(SafeTensorsTest, WriteAndOpenFile) {
  test::ScopedTempDir dir;
  std::vector<uint8_t> a = pattern(8, 7);
  std::string path = dir.file("x.safetensors");
  ASSERT_TRUE(writeSafeTensors(path,
                               {{"scalar", DType::F64, {}, a},
                                {"empty", DType::I8, {3, 0}, {}}},
                               {{"k", "v"}})
                  .isOk());
  auto file = SafeTensorsFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  EXPECT_EQ((*file)->path(), path);
  EXPECT_EQ((*file)->metadata().at("k"), "v");
  const TensorInfo *scalar = (*file)->find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->numElements(), 1);
  std::span<const uint8_t> data = (*file)->data(*scalar);
  EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.end()), a);
  EXPECT_EQ((*file)->find("empty")->byteSize(), 0u);
  EXPECT_EQ((*file)->find("missing"), nullptr);
  checkInvariants(**file);

  // Rewriting goes through a temporary file and a rename, so the mapping
  // above stays intact and nothing else is left in the directory.
  ASSERT_TRUE(writeSafeTensors(path, {{"other", DType::U8, {8}, a}}).isOk());
  EXPECT_EQ((*file)->data(*scalar)[7], a[7]);
  auto rewritten = SafeTensorsFile::open(path);
  ASSERT_TRUE(rewritten.isOk()) << rewritten.status().message();
  EXPECT_NE((*rewritten)->find("other"), nullptr);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(SafeTensorsTest, HeaderIsPaddedToEightBytes) {
  std::vector<uint8_t> a = pattern(2, 0);
  auto image = serializeSafeTensors({{"x", DType::U8, {2}, a}});
  ASSERT_TRUE(image.isOk());
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i)
    headerSize |= static_cast<uint64_t>((*image)[i]) << (8 * i);
  EXPECT_EQ(headerSize % 8, 0u);
  EXPECT_EQ(image->size(), 8 + headerSize + 2);
  EXPECT_EQ((*image)[8], '{');
  EXPECT_EQ((*image)[8 + headerSize - 1], ' ');
}

TEST(SafeTensorsTest, EmptyTensorListIsValid) {
  auto image = serializeSafeTensors({});
  ASSERT_TRUE(image.isOk());
  auto file = parseBytes(*image);
  ASSERT_TRUE(file.isOk()) << file.status().message();
  EXPECT_TRUE((*file)->tensors().empty());
  EXPECT_TRUE((*file)->metadata().empty());
}

struct MalformedCase {
  const char *name;
  std::vector<uint8_t> bytes;
  const char *phrase;
};

std::string tensor(const std::string &name, const std::string &dtype,
                   const std::string &shape, const std::string &offsets) {
  return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

std::vector<MalformedCase> malformedCases() {
  std::string f32x2 = tensor("a", "\"F32\"", "[2]", "[0,8]");
  return {
      {"empty file", {}, "file too short"},
      {"file too short", {1, 2, 3}, "file too short"},
      {"truncated header", rawSafeTensors("{}", 0, 100), "truncated header"},
      {"huge header length", rawSafeTensors("{}", 0, uint64_t(1) << 63),
       "exceeds the limit"},
      {"header just over the limit", rawSafeTensors("{}", 0, 100'000'001),
       "exceeds the limit"},
      {"header not JSON", rawSafeTensors("{not json", 0), "invalid JSON"},
      {"empty header", rawSafeTensors("", 0), "invalid JSON"},
      {"header JSON array", rawSafeTensors("[]", 0),
       "header must be a JSON object, got array"},
      {"header invalid UTF-8", rawSafeTensors("{\"\xff\":1}", 0),
       "invalid JSON"},
      {"deeply nested header",
       rawSafeTensors(std::string(5000, '[') + std::string(5000, ']'), 0),
       "nested deeper"},
      {"duplicate names", rawSafeTensors("{" + f32x2 + "," + f32x2 + "}", 8),
       "duplicate key 'a'"},
      {"duplicate field in entry",
       rawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0),
       "duplicate key 'dtype'"},
      {"entry not an object", rawSafeTensors("{\"a\":[]}", 0),
       "tensor 'a': entry must be a JSON object"},
      {"unknown dtype",
       rawSafeTensors("{" + tensor("a", "\"F8_E4M3\"", "[2]", "[0,2]") + "}",
                      2),
       "tensor 'a': unknown dtype 'F8_E4M3'"},
      {"wrong dtype type",
       rawSafeTensors("{" + tensor("a", "4", "[2]", "[0,8]") + "}", 8),
       "field 'dtype' must be a string"},
      {"shape not an array",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "2", "[0,8]") + "}", 8),
       "field 'shape' must be an array"},
      {"negative shape dim",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[-2]", "[0,8]") + "}", 8),
       "dimension 0 must be a non-negative integer"},
      {"fractional shape dim",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2.5]", "[0,8]") + "}", 8),
       "dimension 0 must be a non-negative integer"},
      {"overflowing element count",
       rawSafeTensors(
           "{" + tensor("a", "\"U8\"", "[4294967296,4294967296]", "[0,0]") +
               "}",
           0),
       "too many elements"},
      {"overflowing byte size",
       rawSafeTensors(
           "{" + tensor("a", "\"F64\"", "[4611686018427387904]", "[0,0]") + "}",
           0),
       "overflows 64-bit byte sizes"},
      {"shape/bytes mismatch",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[3]", "[0,8]") + "}", 8),
       "needs 12 bytes but data_offsets [0,8] span 8"},
      {"offsets reversed",
       rawSafeTensors("{" + tensor("a", "\"U8\"", "[0]", "[8,0]") + "}", 8),
       "are reversed"},
      {"offsets past end",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2]", "[0,8]") + "}", 4),
       "run past the end of the 4-byte data section"},
      {"offsets not two integers",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2]", "[0,8,9]") + "}", 9),
       "field 'data_offsets' must be an array of two non-negative integers"},
      {"negative offset",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2]", "[-8,0]") + "}", 8),
       "field 'data_offsets' must be an array of two non-negative integers"},
      {"overlapping tensors",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2]", "[0,8]") + "," +
                          tensor("b", "\"F32\"", "[2]", "[4,12]") + "}",
                      12),
       "tensors 'a' and 'b' overlap at data offset 4"},
      {"empty tensor inside another",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[2]", "[0,8]") + "," +
                          tensor("b", "\"F32\"", "[0]", "[4,4]") + "}",
                      8),
       "overlap"},
      {"gap between tensors",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[1]", "[0,4]") + "," +
                          tensor("b", "\"F32\"", "[1]", "[8,12]") + "}",
                      12),
       "gap of 4 bytes at data offset 4"},
      {"gap at start",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[1]", "[4,8]") + "}", 8),
       "gap of 4 bytes at data offset 0"},
      {"trailing bytes",
       rawSafeTensors("{" + tensor("a", "\"F32\"", "[1]", "[0,4]") + "}", 8),
       "4 trailing bytes after the last tensor"},
      {"data without tensors", rawSafeTensors("{}", 3), "3 trailing bytes"},
      {"metadata non-string",
       rawSafeTensors("{\"__metadata__\":{\"format\":1}}", 0),
       "field '__metadata__.format' must be a string"},
      {"metadata not an object", rawSafeTensors("{\"__metadata__\":[]}", 0),
       "field '__metadata__' must be an object"},
      {"unexpected field",
       rawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":"
                      "[0,4],\"extra\":1}}",
                      4),
       "tensor 'a': unexpected field 'extra'"},
      {"missing field",
       rawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
       "tensor 'a': missing field 'shape'"},
  };
}

TEST(SafeTensorsTest, MalformedFilesGiveSpecificErrors) {
  for (const MalformedCase &c : malformedCases()) {
    SCOPED_TRACE(c.name);
    std::string message = errorOf(parseBytes(c.bytes));
    EXPECT_NE(message.find(c.phrase), std::string::npos) << message;
    EXPECT_EQ(message.rfind("t.safetensors: ", 0), 0u) << message;
  }
}

TEST(SafeTensorsTest, OpenRejectsNonRegularAndMissingFiles) {
  test::ScopedTempDir dir;
  EXPECT_NE(errorOf(SafeTensorsFile::open(dir.file("absent")))
                .find("absent: cannot open"),
            std::string::npos);
  EXPECT_NE(errorOf(SafeTensorsFile::open(dir.path())).find("not a regular"),
            std::string::npos);
  // A FIFO would block a plain open() forever.
  std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(errorOf(SafeTensorsFile::open(fifo)).find("not a regular"),
            std::string::npos);
  std::string empty = dir.file("empty.safetensors");
  test::writeFile(empty, "");
  EXPECT_NE(errorOf(SafeTensorsFile::open(empty)).find("file too short"),
            std::string::npos);
}

TEST(SafeTensorsTest, EveryTruncationFails) {
  std::vector<uint8_t> image = sampleImage();
  ASSERT_TRUE(parseBytes(image).isOk());
  for (size_t length = 0; length < image.size(); ++length) {
    std::vector<uint8_t> prefix(image.begin(), image.begin() + length);
    EXPECT_FALSE(parseBytes(prefix).isOk()) << "length " << length;
  }
}

TEST(SafeTensorsTest, HeaderByteFlipsNeverCrash) {
  std::vector<uint8_t> image = sampleImage();
  uint64_t headerEnd = 8;
  for (int i = 0; i < 8; ++i)
    headerEnd += static_cast<uint64_t>(image[i]) << (8 * i);
  ASSERT_LT(headerEnd, image.size());
  size_t accepted = 0;
  for (size_t pos = 0; pos < headerEnd; ++pos)
    for (uint8_t mask :
         {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF}) {
      std::vector<uint8_t> mutated = image;
      mutated[pos] ^= mask;
      auto file = parseBytes(mutated);
      if (file.isOk()) {
        ++accepted; // e.g. a changed metadata value or padding space
        checkInvariants(**file);
      } else {
        EXPECT_FALSE(file.status().message().empty());
      }
    }
  // Most flips must be caught.
  EXPECT_LT(accepted, headerEnd * 9 / 2);
}

TEST(SafeTensorsTest, RandomMutationsNeverCrash) {
  std::vector<uint8_t> image = sampleImage();
  std::mt19937 rng(1234);
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::vector<uint8_t> mutated = image;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % mutated.size();
      switch (rng() % 3) {
      case 0:
        mutated[pos] = static_cast<uint8_t>(rng());
        break;
      case 1:
        mutated.erase(mutated.begin() + pos);
        break;
      default:
        mutated.insert(mutated.begin() + pos, static_cast<uint8_t>(rng()));
        break;
      }
      if (mutated.empty())
        break;
    }
    auto file = parseBytes(mutated);
    if (file.isOk())
      checkInvariants(**file);
  }
}

TEST(SafeTensorsTest, WriterRejectsBadTensors) {
  std::vector<uint8_t> four = pattern(4, 0);
  EXPECT_NE(errorOf(serializeSafeTensors({{"a", DType::F32, {2}, four}}))
                .find("tensor 'a': has 4 bytes, but shape [2] of F32 needs 8"),
            std::string::npos);
  EXPECT_NE(errorOf(serializeSafeTensors({{"a", DType::U8, {4}, four},
                                          {"a", DType::U8, {4}, four}}))
                .find("duplicate tensor name"),
            std::string::npos);
  EXPECT_NE(errorOf(serializeSafeTensors({{"a", DType::U8, {-4}, four}}))
                .find("is negative"),
            std::string::npos);
  EXPECT_NE(
      errorOf(serializeSafeTensors({{"__metadata__", DType::U8, {4}, four}}))
          .find("reserved"),
      std::string::npos);
  EXPECT_NE(errorOf(serializeSafeTensors({{"\xff", DType::U8, {4}, four}}))
                .find("cannot encode header"),
            std::string::npos);
  test::ScopedTempDir dir;
  std::string path = dir.file("no/such/dir/x.safetensors");
  EXPECT_NE(errorOf(writeSafeTensors(path, {{"a", DType::U8, {4}, four}}))
                .find(path + ": cannot create"),
            std::string::npos);
  std::string bad = dir.file("bad.safetensors");
  EXPECT_NE(errorOf(writeSafeTensors(bad, {{"a", DType::U8, {5}, four}}))
                .find(bad + ": tensor 'a'"),
            std::string::npos);
}

} // namespace

// Many sibling objects in one header: parsing is not quadratic in their
// number (a 100k-tensor header once took minutes; this one, about a second
// under the sanitizers, would take that long again).
TEST(SafeTensorsTest, HeadersOfManyTensorsParse) {
  std::string header = "{";
  for (int i = 0; i < 50000; ++i)
    header += "\"t" + std::to_string(i) +
              "\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": "
              "[0, 0]},";
  header += "\"x\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": "
            "[0, 4]}}";
  auto file = SafeTensorsFile::fromBuffer(test::rawSafeTensors(header, 4),
                                          "many.safetensors");
  ASSERT_TRUE(file) << file.status().message();
  EXPECT_EQ((*file)->tensors().size(), 50001u);
  ASSERT_NE((*file)->find("x"), nullptr);
  EXPECT_EQ((*file)->find("x")->byteSize(), 4u);
}
