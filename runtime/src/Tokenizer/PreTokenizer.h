//===- PreTokenizer.h - Regex splits of byte-level BPE ----------*- C++ -*-===//
//
// Private to the tokenizer. Hugging Face cuts text into pieces with a regex
// before BPE runs on each piece. The runtime has no regex engine; it
// recognizes the patterns that byte-level models use and matches each with a
// hand-written scanner that takes, at every position, the alternative the
// regex engine would take:
//
//   GPT-2  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+
//          |\s+(?!\S)|\s+                  (ByteLevel's built-in regex)
//   Llama3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//          | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Qwen2  the Llama-3 pattern with \p{N} (one digit per piece)
//
// Any other pattern is refused at load time with the pattern in the message.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_PRETOKENIZER_H
#define QC_RUNTIME_TOKENIZER_PRETOKENIZER_H

#include "Json.h"

#include "qc/Support/Status.h"

#include <string>
#include <string_view>
#include <vector>

namespace qc::runtime::detail {

enum class SplitPattern { GPT2, Llama3, Qwen2 };

/// The pattern spelled by `regex` (as written in tokenizer.json), or an error
/// naming it.
StatusOr<SplitPattern> recognizeSplitPattern(std::string_view regex);

/// Appends to `pieces` the consecutive pieces of `text` that `pattern` finds;
/// together they cover `text` exactly.
void splitWithPattern(std::string_view text, SplitPattern pattern,
                      std::vector<std::string_view> &pieces);

/// The pre_tokenizer of a byte-level tokenizer.json: a ByteLevel step, alone
/// or last in a Sequence after Split steps with known patterns.
class PreTokenizer {
public:
  /// `config` is the "pre_tokenizer" value.
  static StatusOr<PreTokenizer> fromJson(const Json &config);

  /// Appends the pieces of `text` (raw bytes, before the byte-level mapping).
  void split(std::string_view text, std::vector<std::string> &pieces) const;

private:
  struct Step {
    bool isByteLevel;
    /// For Split, and for ByteLevel with use_regex (always GPT-2).
    std::optional<SplitPattern> pattern;
    bool addPrefixSpace = false;
  };
  static StatusOr<Step> parseStep(const Json &config);

  std::vector<Step> steps_;
};

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_PRETOKENIZER_H
