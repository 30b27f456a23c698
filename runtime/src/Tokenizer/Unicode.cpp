//===- Unicode.cpp - UTF-8 and character classes for the tokenizer --------===//

#include "Unicode.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace qc::runtime::detail {

Utf8Char readUtf8(std::string_view bytes, size_t pos) {
  auto byteAt = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  uint8_t lead = byteAt(pos);
  if (lead < 0x80)
    return {Utf8Char::Kind::Valid, lead, 1};

  // Sequence length and the range allowed for the second byte, which rules
  // out overlong forms, surrogates and code points above U+10FFFF.
  size_t length;
  uint8_t lo = 0x80, hi = 0xBF;
  uint32_t codepoint;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    codepoint = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    codepoint = lead & 0x0F;
    if (lead == 0xE0)
      lo = 0xA0;
    else if (lead == 0xED)
      hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    codepoint = lead & 0x07;
    if (lead == 0xF0)
      lo = 0x90;
    else if (lead == 0xF4)
      hi = 0x8F;
  } else {
    return {Utf8Char::Kind::Invalid, kReplacementChar, 1};
  }

  for (size_t k = 1; k < length; ++k) {
    if (pos + k >= bytes.size())
      return {Utf8Char::Kind::Truncated, kReplacementChar, k};
    uint8_t b = byteAt(pos + k);
    if (b < lo || b > hi)
      return {Utf8Char::Kind::Invalid, kReplacementChar, k};
    codepoint = (codepoint << 6) | (b & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return {Utf8Char::Kind::Valid, codepoint, length};
}

void appendUtf8(std::string &out, uint32_t codepoint) {
  auto put = [&](uint32_t v) { out.push_back(static_cast<char>(v)); };
  if (codepoint < 0x80) {
    put(codepoint);
  } else if (codepoint < 0x800) {
    put(0xC0 | (codepoint >> 6));
    put(0x80 | (codepoint & 0x3F));
  } else if (codepoint < 0x10000) {
    put(0xE0 | (codepoint >> 12));
    put(0x80 | ((codepoint >> 6) & 0x3F));
    put(0x80 | (codepoint & 0x3F));
  } else {
    put(0xF0 | (codepoint >> 18));
    put(0x80 | ((codepoint >> 12) & 0x3F));
    put(0x80 | ((codepoint >> 6) & 0x3F));
    put(0x80 | (codepoint & 0x3F));
  }
}

size_t appendSanitizedUtf8(std::string_view bytes, bool final,
                           std::string &out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    Utf8Char c = readUtf8(bytes, pos);
    if (c.kind == Utf8Char::Kind::Truncated && !final)
      break;
    if (c.kind == Utf8Char::Kind::Valid)
      out.append(bytes.substr(pos, c.length));
    else
      appendUtf8(out, kReplacementChar);
    pos += c.length;
  }
  return pos;
}

namespace {
struct ClassRange {
  uint32_t first, last;
  CharClass cls;
};

using enum CharClass;

// Non-ASCII code points that are not letters, sorted. White_Space is complete;
// the rest covers the common blocks (see Unicode.h).
constexpr ClassRange kRanges[] = {
    {0x0080, 0x0084, Other},      {0x0085, 0x0085, Whitespace},
    {0x0086, 0x009F, Other},      {0x00A0, 0x00A0, Whitespace},
    {0x00A1, 0x00A9, Other},      {0x00AB, 0x00B1, Other},
    {0x00B2, 0x00B3, Number},     {0x00B4, 0x00B4, Other},
    {0x00B6, 0x00B8, Other},      {0x00B9, 0x00B9, Number},
    {0x00BB, 0x00BB, Other},      {0x00BC, 0x00BE, Number},
    {0x00BF, 0x00BF, Other},      {0x00D7, 0x00D7, Other},
    {0x00F7, 0x00F7, Other},      {0x02C2, 0x02C5, Other},
    {0x02D2, 0x02DF, Other},      {0x0300, 0x036F, Other},
    {0x0660, 0x0669, Number},     {0x06F0, 0x06F9, Number},
    {0x0966, 0x096F, Number},     {0x1680, 0x1680, Whitespace},
    {0x2000, 0x200A, Whitespace}, {0x200B, 0x2027, Other},
    {0x2028, 0x2029, Whitespace}, {0x202A, 0x202E, Other},
    {0x202F, 0x202F, Whitespace}, {0x2030, 0x205E, Other},
    {0x205F, 0x205F, Whitespace}, {0x2060, 0x206F, Other},
    {0x2070, 0x2070, Number},     {0x2074, 0x2079, Number},
    {0x207A, 0x207E, Other},      {0x2080, 0x2089, Number},
    {0x208A, 0x208E, Other},      {0x20A0, 0x20FF, Other},
    {0x2150, 0x2182, Number},     {0x2185, 0x2189, Number},
    {0x2190, 0x245F, Other},      {0x2460, 0x249B, Number},
    {0x249C, 0x24E9, Other},      {0x24EA, 0x24FF, Number},
    {0x2500, 0x2775, Other},      {0x2776, 0x2793, Number},
    {0x2794, 0x2BFF, Other},      {0x2E00, 0x2E7F, Other},
    {0x3000, 0x3000, Whitespace}, {0x3001, 0x3004, Other},
    {0x3007, 0x3007, Number},     {0x3008, 0x3020, Other},
    {0x3021, 0x3029, Number},     {0x302A, 0x3030, Other},
    {0xFE00, 0xFE0F, Other},      {0xFE30, 0xFE4F, Other},
    {0xFEFF, 0xFEFF, Other},      {0xFF01, 0xFF0F, Other},
    {0xFF10, 0xFF19, Number},     {0xFF1A, 0xFF20, Other},
    {0xFF3B, 0xFF40, Other},      {0xFF5B, 0xFF65, Other},
    {0x1F000, 0x1F0FF, Other},    {0x1F100, 0x1F10C, Number},
    {0x1F10D, 0x1FAFF, Other},    {0xE0000, 0xE007F, Other},
};
} // namespace

CharClass classifyCodepoint(uint32_t c) {
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
      return Letter;
    if (c >= '0' && c <= '9')
      return Number;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D))
      return Whitespace;
    return Other;
  }
  const ClassRange *it = std::upper_bound(
      std::begin(kRanges), std::end(kRanges), c,
      [](uint32_t v, const ClassRange &r) { return v < r.first; });
  if (it != std::begin(kRanges) && c <= std::prev(it)->last)
    return std::prev(it)->cls;
  return Letter;
}

} // namespace qc::runtime::detail
