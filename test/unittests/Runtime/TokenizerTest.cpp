//===- TokenizerTest.cpp - Tests for qc::runtime::Tokenizer ---------------===//
//
// The default model's tokenizer must reproduce the Hugging Face ids of the
// reference prompts and of data/tokenizer_cases.json (made with `tokenizers`
// by make_tokenizer_cases.py, for the GPT-2, Llama-3 and Qwen2 split patterns
// and added-token flags); malformed files must fail with a clear message.
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/Tokenizer.h"

#include "qc/Model/SafeTensors.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace qc;
using namespace qc::runtime;
using Json = nlohmann::json;

namespace {

const std::string kSourceDir = QC_SOURCE_DIR;
const std::string kTinyTokenizer =
    kSourceDir + "/models/quantc-tiny-llama/tokenizer.json";

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Json readJson(const std::string &path) { return Json::parse(readFile(path)); }

Tokenizer load(const Json &config) {
  auto tokenizer = Tokenizer::fromJson(config.dump(), "test.json");
  EXPECT_TRUE(tokenizer.isOk()) << tokenizer.status().message();
  return std::move(tokenizer).value();
}

/// The message of a tokenizer.json that must fail to load.
std::string loadError(const std::string &text) {
  auto tokenizer = Tokenizer::fromJson(text, "bad.json");
  EXPECT_FALSE(tokenizer.isOk());
  return tokenizer.isOk() ? "" : tokenizer.status().message();
}

/// A small hand-made byte-level tokenizer: printable ASCII spells itself and
/// 'Ġ' is the space.
Json smallTokenizer() {
  return Json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 7, "content": "<s>", "special": true},
      {"id": 8, "content": "</s>", "special": true}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false,
                      "use_regex": true},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [7], "tokens": ["<s>"]}}},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": null, "unk_token": null,
      "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "Ġab": 5, "abc": 6},
      "merges": ["a b", "Ġ ab", "ab c"]}
  })");
}

std::vector<int32_t> encode(const Tokenizer &t, std::string_view text,
                            bool addBos = false) {
  auto ids = t.encode(text, addBos);
  EXPECT_TRUE(ids.isOk()) << ids.status().message();
  return ids.isOk() ? *ids : std::vector<int32_t>{};
}

std::string decode(const Tokenizer &t, const std::vector<int32_t> &ids,
                   bool skipSpecial) {
  auto text = t.decode(ids, skipSpecial);
  EXPECT_TRUE(text.isOk()) << text.status().message();
  return text.isOk() ? *text : "";
}

bool isValidUtf8(const std::string &s) {
  // Round-tripping through the decoder of a tokenizer would be circular; a
  // direct check of the encoding rules is enough here.
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80)
        return false;
    i += n;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Against Hugging Face
//===----------------------------------------------------------------------===//

TEST(TokenizerTest, ReproducesReferencePromptIds) {
  auto tokenizer = Tokenizer::fromFile(kTinyTokenizer);
  ASSERT_TRUE(tokenizer.isOk()) << tokenizer.status().message();
  EXPECT_EQ(tokenizer->vocabSize(), 2048);
  EXPECT_EQ(tokenizer->bosId(), 1);
  EXPECT_EQ(tokenizer->tokenToId("<|endoftext|>"), 0);

  std::string ref = kSourceDir + "/test/data/reference/quantc-tiny-llama";
  Json prompts = readJson(ref + ".json")["prompts"];
  auto tensors = SafeTensorsFile::open(ref + ".safetensors");
  ASSERT_TRUE(tensors.isOk()) << tensors.status().message();
  ASSERT_FALSE(prompts.empty());
  for (const Json &prompt : prompts) {
    std::string text = prompt["text"];
    const TensorInfo *info = (*tensors)->find(
        "prompt_ids." + std::to_string(prompt["index"].get<int>()));
    ASSERT_NE(info, nullptr);
    ASSERT_EQ(info->dtype, DType::I64);
    std::span<const uint8_t> bytes = (*tensors)->data(*info);
    std::vector<int32_t> expected;
    for (size_t i = 0; i < bytes.size(); i += 8) {
      int64_t id;
      std::memcpy(&id, bytes.data() + i, 8);
      expected.push_back(static_cast<int32_t>(id));
    }
    EXPECT_EQ(encode(*tokenizer, text, /*addBos=*/true), expected) << text;
    EXPECT_EQ(decode(*tokenizer, expected, /*skipSpecial=*/true), text);
  }
}

TEST(TokenizerTest, MatchesHuggingFaceOnTrickyTexts) {
  Json base = readJson(kTinyTokenizer);
  Json cases = readJson(kSourceDir +
                        "/test/unittests/Runtime/data/tokenizer_cases.json");
  ASSERT_GE(cases["variants"].size(), 6u);
  for (const Json &variant : cases["variants"]) {
    std::string name = variant["name"];
    Json config = base;
    for (const auto &[key, value] : variant["patch"].items())
      config[key] = value;
    Tokenizer tokenizer = load(config);
    for (const Json &c : variant["cases"]) {
      std::string text = c["text"];
      SCOPED_TRACE(name + ": '" + text + "'");
      std::vector<int32_t> ids = c["ids"];
      EXPECT_EQ(encode(tokenizer, text), ids);
      EXPECT_EQ(decode(tokenizer, ids, false), c["decoded"].get<std::string>());
      EXPECT_EQ(decode(tokenizer, ids, true),
                c["decoded_skip"].get<std::string>());
      const Json &prefixes = c["prefix_decodes"];
      for (size_t k = 1; k < ids.size(); ++k)
        EXPECT_EQ(decode(tokenizer, {ids.begin(), ids.begin() + k}, false),
                  prefixes[k - 1].get<std::string>());

      // Streaming gives the same text, in valid UTF-8 pieces.
      StreamingDetokenizer stream(tokenizer, /*skipSpecial=*/false);
      std::string streamed;
      for (int32_t id : ids) {
        auto piece = stream.push(id);
        ASSERT_TRUE(piece.isOk());
        EXPECT_TRUE(isValidUtf8(*piece));
        streamed += *piece;
      }
      streamed += stream.finish();
      EXPECT_EQ(streamed, c["decoded"].get<std::string>());
    }
  }
}

//===----------------------------------------------------------------------===//
// Hand-made tokenizer
//===----------------------------------------------------------------------===//

TEST(TokenizerTest, MergesByRank) {
  Tokenizer t = load(smallTokenizer());
  // "ab" then "abc" (ranks 0, 2); " ab" merges Ġ with "ab" (rank 1).
  EXPECT_EQ(encode(t, "abc ab"), (std::vector<int32_t>{6, 5}));
  EXPECT_EQ(encode(t, "cab", /*addBos=*/true), (std::vector<int32_t>{7, 2, 4}));
  EXPECT_EQ(encode(t, "a  b"), (std::vector<int32_t>{0, 3, 3, 1}));
  EXPECT_EQ(decode(t, {7, 6, 5, 8}, false), "<s>abc ab</s>");
  EXPECT_EQ(decode(t, {7, 6, 5, 8}, true), "abc ab");
}

TEST(TokenizerTest, MergesAsPairsEqualMergesAsStrings) {
  Json config = smallTokenizer();
  config["model"]["merges"] =
      Json::parse(R"([["a", "b"], ["Ġ", "ab"], ["ab", "c"]])");
  EXPECT_EQ(encode(load(config), "abc ab cab"),
            encode(load(smallTokenizer()), "abc ab cab"));
}

TEST(TokenizerTest, SpecialTokensInText) {
  Tokenizer t = load(smallTokenizer());
  EXPECT_EQ(encode(t, "ab</s>c"), (std::vector<int32_t>{4, 8, 2}));
  // Untrusted text: the special token is spelled out with BPE pieces. The
  // small vocabulary lacks '<', '/', '>' and 's', which BPE drops.
  auto ids = t.encode("ab</s>c", false, /*parseSpecial=*/false);
  ASSERT_TRUE(ids.isOk());
  EXPECT_EQ(*ids, (std::vector<int32_t>{4, 2}));
}

TEST(TokenizerTest, IgnoreMergesTakesWholeWords) {
  Json config = smallTokenizer();
  config["model"]["vocab"]["bc"] = 9;
  config["model"]["merges"] = Json::parse(R"(["a b", "b c"])");
  config["model"]["vocab"].erase("abc");
  config["model"]["vocab"]["abc"] = 6;
  EXPECT_EQ(encode(load(config), "abc"), (std::vector<int32_t>{4, 2}));
  config["model"]["ignore_merges"] = true;
  EXPECT_EQ(encode(load(config), "abc"), (std::vector<int32_t>{6}));
}

TEST(TokenizerTest, AddBosWithoutBosFails) {
  Json config = smallTokenizer();
  config.erase("post_processor");
  Tokenizer t = load(config);
  EXPECT_FALSE(t.bosId().has_value());
  auto ids = t.encode("ab", /*addBos=*/true);
  ASSERT_FALSE(ids.isOk());
  EXPECT_NE(ids.status().message().find("bos"), std::string::npos);
}

TEST(TokenizerTest, DecodeRejectsUnknownIds) {
  Tokenizer t = load(smallTokenizer());
  for (std::vector<int32_t> ids :
       {std::vector<int32_t>{0, 9}, std::vector<int32_t>{-1}}) {
    auto text = t.decode(ids, false);
    ASSERT_FALSE(text.isOk());
    EXPECT_NE(text.status().message().find("not in the vocabulary"),
              std::string::npos);
  }
}

TEST(TokenizerTest, StreamingHoldsBackSplitCharacters) {
  auto tokenizer = Tokenizer::fromFile(kTinyTokenizer);
  ASSERT_TRUE(tokenizer.isOk());
  // "é" is 0xC3 0xA9: two byte tokens.
  auto first = tokenizer->tokenToId("Ã"), second = tokenizer->tokenToId("©");
  ASSERT_TRUE(first && second);
  StreamingDetokenizer stream(*tokenizer);
  EXPECT_EQ(*stream.push(*first), "");
  EXPECT_EQ(*stream.push(*second), "\xC3\xA9");
  EXPECT_EQ(*stream.push(0), ""); // <|endoftext|> is special: skipped
  EXPECT_EQ(*stream.push(*first), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD"); // cut off: U+FFFD
  EXPECT_EQ(stream.finish(), "");
  EXPECT_FALSE(stream.push(5000).isOk());
}

//===----------------------------------------------------------------------===//
// Malformed files
//===----------------------------------------------------------------------===//

TEST(TokenizerTest, MalformedFilesFailClearly) {
  auto expectError = [](const Json &config, const std::string &needle) {
    std::string message = loadError(config.dump());
    EXPECT_NE(message.find(needle), std::string::npos)
        << "message: " << message << "\nexpected: " << needle;
  };
  Json config = smallTokenizer();

  EXPECT_NE(loadError("{\"model\": ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(loadError("[]").find("top level"), std::string::npos);
  EXPECT_NE(loadError(std::string(100000, '[')).find("nested deeper"),
            std::string::npos);
  EXPECT_NE(loadError(R"({"model": {}, "model": {}})").find("duplicate key"),
            std::string::npos);

  Json c = config;
  c.erase("model");
  expectError(c, "no 'model'");
  c = config;
  c["model"]["type"] = "Unigram";
  expectError(c, "unsupported model type 'Unigram'");
  c = config;
  c["model"]["merges"].push_back("ab x");
  expectError(c, "merge 3 ('ab', 'x'): token 'x' is not in the vocabulary");
  c = config;
  c["model"]["merges"].push_back("b c");
  expectError(c, "token 'bc' is not in the vocabulary");
  c = config;
  c["model"]["merges"].push_back("a b c");
  expectError(c, "merge 3 'a b c' is not two tokens");
  c = config;
  c["model"]["merges"].push_back(42);
  expectError(c, "merge 3 must be a string");
  c = config;
  c["model"]["vocab"]["d"] = -4;
  expectError(c, "the id of token 'd' must be a non-negative");
  c = config;
  c["model"]["vocab"]["d"] = 2000000000;
  expectError(c, "token id 2000000000 is far beyond");
  c = config;
  c["model"]["vocab"]["d"] = 1;
  expectError(c, "share id 1");
  c = config;
  c["model"]["byte_fallback"] = true;
  expectError(c, "byte_fallback");
  c = config;
  c["model"]["dropout"] = 0.1;
  expectError(c, "dropout");
  c = config;
  c["model"]["unk_token"] = "<unk>";
  expectError(c, "unk_token '<unk>' is not in the vocabulary");
  c = config;
  c["normalizer"] = {{"type", "NFC"}};
  expectError(c, "unsupported normalizer 'NFC'");
  c = config;
  c["pre_tokenizer"] = {{"type", "Metaspace"}};
  expectError(c, "unsupported pre_tokenizer 'Metaspace'");
  c = config;
  c.erase("pre_tokenizer");
  expectError(c, "no 'pre_tokenizer'");
  c = config;
  c["pre_tokenizer"] = Json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\w+|\\s+"},
       "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "use_regex": false}]})");
  expectError(c, "unsupported pre-tokenizer regex '\\w+|\\s+'");
  c["pre_tokenizer"]["pretokenizers"].erase(1);
  c["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] =
      R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+)re"
      R"re(|\s+(?!\S)|\s+)re";
  expectError(c, "must end with a ByteLevel step");
  c = config;
  c["decoder"] = {{"type", "WordPiece"}};
  expectError(c, "unsupported decoder 'WordPiece'");
  c = config;
  c["added_tokens"][0]["content"] = "";
  expectError(c, "added_tokens[0]: 'content' must be a non-empty string");
  c = config;
  c["post_processor"]["single"][0]["SpecialToken"]["id"] = "<nope>";
  c["post_processor"].erase("special_tokens");
  expectError(c, "post_processor names the unknown token '<nope>'");
  // A post-processor whose tokens would be dropped (BOS above all).
  c = config;
  c["post_processor"] = {{"type", "RobertaProcessing"}};
  expectError(c, "post_processor: unsupported type 'RobertaProcessing'");
  c = config;
  c["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       Json::array({config["post_processor"], {{"type", "BertProcessing"}}})}};
  expectError(c, "post_processor: unsupported type 'BertProcessing'");
  c = config;
  c["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       Json::array({{{"type", "ByteLevel"}}, config["post_processor"]})}};
  EXPECT_EQ(encode(load(c), "ab", /*addBos=*/true),
            (std::vector<int32_t>{7, 4}));

  auto missing = Tokenizer::fromFile("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("/nonexistent/tokenizer.json"),
            std::string::npos);
}

TEST(TokenizerTest, ArbitraryBytesNeverCrash) {
  auto tokenizer = Tokenizer::fromFile(kTinyTokenizer);
  ASSERT_TRUE(tokenizer.isOk());
  // Invalid UTF-8, NULs and long runs are encoded byte for byte.
  std::string text("\xFF\xC3(\x00\xE2\x82 \xF0\x9F\x98", 11);
  text += std::string(5000, ' ') + std::string(3000, 'x') + "\xED\xA0\x80";
  auto ids = tokenizer->encode(text, false);
  ASSERT_TRUE(ids.isOk());
  std::string bytes;
  for (int32_t id : *ids)
    bytes += *tokenizer->tokenBytes(id);
  EXPECT_EQ(bytes, text);
  auto decoded = tokenizer->decode(*ids, false);
  ASSERT_TRUE(decoded.isOk());
  EXPECT_TRUE(isValidUtf8(*decoded));
}

} // namespace
