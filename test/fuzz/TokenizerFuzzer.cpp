//===- TokenizerFuzzer.cpp - libFuzzer: tokenizer.json, encode, decode ----===//
//
// The first byte picks what the rest is: 0 - a tokenizer.json (loaded, then
// used on a fixed text); otherwise text for the default model's tokenizer
// (encode, decode of the ids and of the raw bytes as ids, streaming).
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

using namespace qc::runtime;

namespace {

void exercise(const Tokenizer &t, std::string_view text) {
  auto ids = t.encode(text, t.bosId().has_value());
  if (!ids)
    return;
  (void)t.decode(*ids, /*skipSpecial=*/true);
  StreamingDetokenizer stream(t);
  for (int32_t id : *ids)
    if (!stream.push(id))
      return;
  (void)stream.finish();
}

const Tokenizer &defaultTokenizer() {
  static std::optional<Tokenizer> tokenizer = [] {
    auto t = Tokenizer::fromFile(QC_FUZZ_TOKENIZER);
    if (!t)
      std::abort(); // the committed model must load
    return std::optional<Tokenizer>(std::move(t).value());
  }();
  return *tokenizer;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (data[0] == 0) {
    if (auto t = Tokenizer::fromJson(rest, "fuzz.json"))
      exercise(*t, "Once upon a time <s> héllo\n\t 123");
    return 0;
  }
  const Tokenizer &t = defaultTokenizer();
  exercise(t, rest);
  // Arbitrary ids, in and out of the vocabulary.
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 2 <= rest.size(); i += 2)
    ids.push_back(int32_t(uint8_t(rest[i])) << 8 | uint8_t(rest[i + 1]));
  (void)t.decode(ids, /*skipSpecial=*/false);
  return 0;
}
