//===- AddedTokens.h - Special and added tokens -----------------*- C++ -*-===//
//
// Private to the tokenizer. The "added_tokens" of tokenizer.json are matched
// in the raw text before pre-tokenization, so that "<|endoftext|>" becomes one
// id instead of a dozen BPE pieces. Like Hugging Face, matching is leftmost-
// longest; `single_word` tokens match only between non-word characters, and
// `lstrip` / `rstrip` tokens swallow the whitespace beside them. (Hugging Face
// matches tokens with normalized=false before normalizing and the others
// after; with no normalizer, which is all this tokenizer supports, one pass is
// the same except where two such tokens overlap.)
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_ADDEDTOKENS_H
#define QC_RUNTIME_TOKENIZER_ADDEDTOKENS_H

#include "Json.h"

#include "qc/Support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qc::runtime::detail {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool singleWord = false;
  bool lstrip = false;
  bool rstrip = false;
};

/// A run of text: an added token (id >= 0) or ordinary text (id == -1).
struct TextSegment {
  std::string_view text;
  int32_t addedId = -1;
};

class AddedTokenMatcher {
public:
  /// `config` is the "added_tokens" array.
  static StatusOr<AddedTokenMatcher> fromJson(const Json &config);

  const std::vector<AddedToken> &tokens() const { return tokens_; }

  /// Cuts `text` into ordinary text and added tokens; with `specials` false,
  /// tokens marked special are left in the ordinary text.
  std::vector<TextSegment> split(std::string_view text, bool specials) const;

private:
  std::vector<AddedToken> tokens_;
  /// The tokens by the first byte of their content, longest first.
  std::array<std::vector<size_t>, 256> byFirstByte_;
};

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_ADDEDTOKENS_H
