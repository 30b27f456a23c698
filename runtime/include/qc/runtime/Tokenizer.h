//===- Tokenizer.h - Hugging Face byte-level BPE tokenizer ------*- C++ -*-===//
//
// Loads the tokenizer.json of a byte-level BPE model (GPT-2, Llama-3, Qwen2
// and the models trained like them with the `tokenizers` library) and encodes
// and decodes exactly like Hugging Face for the text it supports: added and
// special tokens first, then the pre-tokenizer's regex split, then BPE merges
// by rank. Files that use anything else (another model type, a normalizer, an
// unknown split regex) are refused at load time with the reason.
//
// The split regex classes \p{L} and \p{N} are exact for ASCII and approximated
// beyond it (see src/Tokenizer/Unicode.h).
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_H
#define QC_RUNTIME_TOKENIZER_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qc::runtime {

namespace detail {
struct TokenizerState;
} // namespace detail

class Tokenizer {
public:
  /// Reads and validates the tokenizer.json at `path`.
  static StatusOr<Tokenizer> fromFile(const std::string &path);
  /// Validates the JSON text of a tokenizer.json; `source` names it in
  /// messages.
  static StatusOr<Tokenizer> fromJson(std::string_view json,
                                      const std::string &source);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  /// The ids of `text`. With `addBos`, bosId() comes first (an error when the
  /// tokenizer has none). With `parseSpecial`, special tokens spelled in the
  /// text become their ids, as in Hugging Face; turn it off for untrusted
  /// text. Bytes that are not valid UTF-8 are encoded as bytes. Thread-safe.
  StatusOr<std::vector<int32_t>> encode(std::string_view text, bool addBos,
                                        bool parseSpecial = true) const;

  /// The text of `ids`, with invalid UTF-8 (such as a character cut between
  /// tokens at the end) replaced by U+FFFD, as Hugging Face does. With
  /// `skipSpecial`, special tokens are left out. Unknown ids are an error.
  StatusOr<std::string> decode(std::span<const int32_t> ids,
                               bool skipSpecial) const;

  /// One more than the largest token id.
  int32_t vocabSize() const;
  /// The token the post-processor puts first (e.g. <|begin_of_text|>).
  std::optional<int32_t> bosId() const;
  /// The id of an added token's content or a vocabulary spelling ("Ġthe").
  std::optional<int32_t> tokenToId(std::string_view token) const;
  /// Whether `id` is an added token marked special.
  bool isSpecial(int32_t id) const;
  /// The raw bytes token `id` stands for; a multi-byte character may be split
  /// across tokens, so they need not be valid UTF-8 alone.
  StatusOr<std::string_view> tokenBytes(int32_t id) const;

private:
  explicit Tokenizer(std::unique_ptr<detail::TokenizerState> state);
  std::unique_ptr<detail::TokenizerState> state_;
};

/// Turns ids into text as they are generated, emitting only complete UTF-8
/// characters; the concatenation of all push() results and finish() equals
/// decode() of all ids.
class StreamingDetokenizer {
public:
  /// `tokenizer` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer &tokenizer,
                                bool skipSpecial = true);

  /// The text that `id` completes (possibly empty).
  StatusOr<std::string> push(int32_t id);
  /// The text still held back, with an incomplete character as U+FFFD; the
  /// stream can then start again.
  std::string finish();

private:
  const Tokenizer *tokenizer_;
  bool skipSpecial_;
  /// The start of a character whose remaining bytes have not arrived.
  std::string pending_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_TOKENIZER_H
