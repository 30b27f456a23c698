//===- RequestLineFuzzer.cpp - libFuzzer: quant-run request lines ---------===//
//
// Any line: a request whose every field is in range, or an error naming the
// line; prompts are encoded with the default model's tokenizer.
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/RequestLines.h"
#include "qc/runtime/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

using namespace qc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::optional<Tokenizer> tokenizer = [] {
    auto t = Tokenizer::fromFile(QC_FUZZ_TOKENIZER);
    if (!t)
      std::abort();
    return std::optional<Tokenizer>(std::move(t).value());
  }();
  std::string_view line(reinterpret_cast<const char *>(data), size);
  auto spec =
      parseRequestLine(line, 0, "fuzz:1", RequestDefaults(), &*tokenizer);
  if (spec && (spec->maxNewTokens < 0 || !spec->sampling.validate()))
    std::abort(); // a parsed request must be a valid one
  return 0;
}
