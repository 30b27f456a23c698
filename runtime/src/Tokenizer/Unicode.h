//===- Unicode.h - UTF-8 and character classes ------------------*- C++ -*-===//
//
// Private to the tokenizer. UTF-8 reading follows the Unicode "maximal
// subpart" practice (the one Rust's String::from_utf8_lossy uses, and so the
// one Hugging Face decode() uses): every maximal invalid subsequence becomes a
// single U+FFFD.
//
// The character classes stand in for the regex classes \p{L}, \p{N} and \s of
// the pre-tokenizer patterns. ASCII and the Unicode White_Space property are
// exact; beyond ASCII a table of the common punctuation, symbol, mark and
// number blocks is used and every other code point counts as a letter. That
// matches Hugging Face on ASCII, Latin, Cyrillic, Greek and CJK text and on the
// usual punctuation and emoji, not on every rare code point.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_UNICODE_H
#define QC_RUNTIME_TOKENIZER_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qc::runtime::detail {

constexpr uint32_t kReplacementChar = 0xFFFD;

/// One UTF-8 sequence read from a byte string.
struct Utf8Char {
  enum class Kind { Valid, Invalid, Truncated };
  Kind kind;
  /// The code point, or U+FFFD unless valid.
  uint32_t codepoint;
  /// Bytes consumed, at least 1: the sequence, the maximal invalid subpart,
  /// or the valid start of a sequence cut off by the end of the input.
  size_t length;
};

/// Reads the sequence starting at `bytes[pos]` (pos < bytes.size()).
Utf8Char readUtf8(std::string_view bytes, size_t pos);

/// Appends the UTF-8 encoding of `codepoint`.
void appendUtf8(std::string &out, uint32_t codepoint);

/// Appends `bytes` to `out` as valid UTF-8, each invalid subpart replaced by
/// U+FFFD. Without `final`, a sequence cut off at the end is held back. Returns
/// the number of bytes consumed.
size_t appendSanitizedUtf8(std::string_view bytes, bool final,
                           std::string &out);

/// The regex class of a code point; see the file comment for the precision.
enum class CharClass : uint8_t { Letter, Number, Whitespace, Other };
CharClass classifyCodepoint(uint32_t codepoint);

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_UNICODE_H
