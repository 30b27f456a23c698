//===- AddedTokens.cpp - Special and added tokens -------------------------===//

#include "AddedTokens.h"
#include "Unicode.h"

#include <algorithm>
#include <limits>

namespace qc::runtime::detail {

namespace {
bool isAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// Whether the code point is part of a word for `single_word` tokens.
bool isWordChar(uint32_t c) {
  CharClass cls = classifyCodepoint(c);
  return c == '_' || cls == CharClass::Letter || cls == CharClass::Number;
}

/// Whether the code point ending just before `pos` is a word character.
bool wordBefore(std::string_view text, size_t pos) {
  if (pos == 0)
    return false;
  size_t start = pos - 1;
  while (start > 0 && pos - start < 4 &&
         (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80)
    --start;
  Utf8Char c = readUtf8(text, start);
  return c.kind == Utf8Char::Kind::Valid && start + c.length == pos &&
         isWordChar(c.codepoint);
}

bool wordAt(std::string_view text, size_t pos) {
  if (pos >= text.size())
    return false;
  Utf8Char c = readUtf8(text, pos);
  return c.kind == Utf8Char::Kind::Valid && isWordChar(c.codepoint);
}
} // namespace

StatusOr<AddedTokenMatcher> AddedTokenMatcher::fromJson(const Json &config) {
  if (!config.is_array())
    return Status::error("'added_tokens' must be an array");
  AddedTokenMatcher matcher;
  for (const Json &entry : config) {
    std::string where =
        "added_tokens[" + std::to_string(matcher.tokens_.size()) + "]";
    if (!entry.is_object())
      return Status::error(where + " must be an object");
    AddedToken token;
    const Json *id = findMember(entry, "id");
    if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 ||
        id->get<int64_t>() > std::numeric_limits<int32_t>::max())
      return Status::error(where +
                           ": 'id' must be a non-negative 32-bit integer");
    token.id = static_cast<int32_t>(id->get<int64_t>());
    QC_ASSIGN_OR_RETURN(auto content, stringMember(entry, "content", where));
    if (!content || content->empty())
      return Status::error(where + ": 'content' must be a non-empty string");
    token.content = std::move(*content);
    QC_ASSIGN_OR_RETURN(token.special,
                        boolMember(entry, "special", false, where));
    QC_ASSIGN_OR_RETURN(token.singleWord,
                        boolMember(entry, "single_word", false, where));
    QC_ASSIGN_OR_RETURN(token.lstrip,
                        boolMember(entry, "lstrip", false, where));
    QC_ASSIGN_OR_RETURN(token.rstrip,
                        boolMember(entry, "rstrip", false, where));
    matcher.tokens_.push_back(std::move(token));
  }
  for (size_t i = 0; i < matcher.tokens_.size(); ++i)
    matcher.byFirstByte_[static_cast<uint8_t>(matcher.tokens_[i].content[0])]
        .push_back(i);
  for (auto &candidates : matcher.byFirstByte_)
    std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
      size_t la = matcher.tokens_[a].content.size();
      size_t lb = matcher.tokens_[b].content.size();
      return la != lb ? la > lb : a < b;
    });
  return matcher;
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text,
                                                  bool specials) const {
  std::vector<TextSegment> segments;
  size_t plainStart = 0;
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken *match = nullptr;
    for (size_t index : byFirstByte_[static_cast<uint8_t>(text[pos])]) {
      const AddedToken &token = tokens_[index];
      if ((specials || !token.special) &&
          text.substr(pos).starts_with(token.content)) {
        match = &token;
        break;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    size_t begin = pos, end = pos + match->content.size();
    // A rejected single_word match stays ordinary text, and the search goes
    // on after it, as with Hugging Face's non-overlapping match iterator.
    if (match->singleWord && (wordBefore(text, begin) || wordAt(text, end))) {
      pos = end;
      continue;
    }
    if (match->lstrip)
      while (begin > plainStart && isAsciiSpace(text[begin - 1]))
        --begin;
    if (match->rstrip)
      while (end < text.size() && isAsciiSpace(text[end]))
        ++end;
    if (begin > plainStart)
      segments.push_back({text.substr(plainStart, begin - plainStart)});
    segments.push_back({text.substr(begin, end - begin), match->id});
    plainStart = pos = end;
  }
  if (plainStart < text.size())
    segments.push_back({text.substr(plainStart)});
  return segments;
}

} // namespace qc::runtime::detail
