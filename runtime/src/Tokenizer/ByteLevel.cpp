//===- ByteLevel.cpp - GPT-2 byte <-> unicode map -------------------------===//

#include "ByteLevel.h"
#include "Unicode.h"

#include <array>
#include <cstdint>

namespace qc::runtime::detail {

namespace {
/// The code point spelling each byte, and the inverse over U+0000..U+01FF
/// (every code point of the alphabet lies below U+0144).
struct ByteLevelTables {
  std::array<uint32_t, 256> byteToCodepoint{};
  std::array<int16_t, 512> codepointToByte{};

  ByteLevelTables() {
    codepointToByte.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      byteToCodepoint[b] = printable ? b : next++;
      codepointToByte[byteToCodepoint[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTables &tables() {
  static const ByteLevelTables t;
  return t;
}
} // namespace

std::string byteLevelEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes)
    appendUtf8(out, tables().byteToCodepoint[static_cast<uint8_t>(c)]);
  return out;
}

void byteLevelDecode(std::string_view token, std::string &out) {
  const ByteLevelTables &t = tables();
  size_t start = out.size();
  for (size_t pos = 0; pos < token.size();) {
    Utf8Char c = readUtf8(token, pos);
    int16_t byte = c.kind == Utf8Char::Kind::Valid && c.codepoint < 512
                       ? t.codepointToByte[c.codepoint]
                       : int16_t(-1);
    if (byte < 0) {
      out.resize(start);
      out.append(token);
      return;
    }
    out.push_back(static_cast<char>(byte));
    pos += c.length;
  }
}

} // namespace qc::runtime::detail
