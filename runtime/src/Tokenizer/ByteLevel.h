//===- ByteLevel.h - GPT-2 byte <-> unicode map -----------------*- C++ -*-===//
//
// Private to the tokenizer. Byte-level BPE vocabularies spell every byte as a
// printable code point (GPT-2's bytes_to_unicode): the printable Latin-1 bytes
// stand for themselves and the other 68 bytes take U+0100.. in byte order, so
// that the space 0x20 is 'Ġ' (U+0120) and the newline 0x0A is 'Ċ' (U+010A).
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_BYTELEVEL_H
#define QC_RUNTIME_TOKENIZER_BYTELEVEL_H

#include <string>
#include <string_view>

namespace qc::runtime::detail {

/// Spells raw bytes with the byte-level alphabet (the vocabulary's spelling).
std::string byteLevelEncode(std::string_view bytes);

/// Appends the raw bytes that a vocabulary token spells. Like Hugging Face's
/// ByteLevel decoder, a token with any character outside the byte-level
/// alphabet (an added token such as "<|endoftext|>" spelled in plain UTF-8
/// with non-ASCII characters) is taken as its own UTF-8 bytes.
void byteLevelDecode(std::string_view token, std::string &out);

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_BYTELEVEL_H
