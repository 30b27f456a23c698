//===- RequestLines.h - JSON request lines of quant-run --requests -*- C++
//-*-===//
//
// One request per line: {"id", "prompt" | "prompt_ids", "max_new_tokens",
// "ignore_eos", "temperature", "top_k", "top_p", "repetition_penalty",
// "seed"}. Every key is checked (unknown keys are misspellings, types and
// ranges are exact); keys left out take the caller's defaults (the command
// line's). Any sampling key turns sampling on unless greedy is forced.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_REQUESTLINES_H
#define QC_RUNTIME_REQUESTLINES_H

#include "qc/Support/Status.h"
#include "qc/runtime/Sampling.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qc::runtime {

class Tokenizer;

/// What a line's missing keys mean.
struct RequestDefaults {
  int32_t maxNewTokens = 32;
  bool ignoreEos = false;
  SamplingParams sampling = SamplingParams::makeGreedy();
  bool forceGreedy = false;
};

/// One request as the user gave it.
struct RequestSpec {
  std::string idJson; ///< the "id" value as JSON text (default: the index)
  std::vector<int32_t> prompt;
  int32_t maxNewTokens = 0;
  bool ignoreEos = false;
  SamplingParams sampling;
};

/// Parses request line `line`, the `index`-th request; `where` names it in
/// messages ("file:3"). `tokenizer` (may be null) encodes "prompt".
StatusOr<RequestSpec> parseRequestLine(std::string_view line, int64_t index,
                                       const std::string &where,
                                       const RequestDefaults &defaults,
                                       const Tokenizer *tokenizer);

} // namespace qc::runtime

#endif // QC_RUNTIME_REQUESTLINES_H
