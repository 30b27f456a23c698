//===- PreTokenizer.cpp - Regex splits of byte-level BPE ------------------===//

#include "PreTokenizer.h"
#include "Unicode.h"

namespace qc::runtime::detail {

namespace {
// The patterns as tokenizer.json spells them (JSON-decoded).
constexpr std::string_view kGPT2Regex =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+)re"
    R"re(|\s+(?!\S)|\s+)re";
constexpr std::string_view kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})re"
    R"re(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})re"
    R"re(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

/// The text as code points, their classes and byte offsets.
class CodepointText {
public:
  explicit CodepointText(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
      Utf8Char c = readUtf8(text, pos);
      // Invalid bytes count as punctuation; they still reach BPE as bytes.
      cps_.push_back(c.kind == Utf8Char::Kind::Valid ? c.codepoint
                                                     : kReplacementChar);
      classes_.push_back(c.kind == Utf8Char::Kind::Valid
                             ? classifyCodepoint(c.codepoint)
                             : CharClass::Other);
      offsets_.push_back(pos);
      pos += c.length;
    }
    offsets_.push_back(text.size());
  }

  size_t size() const { return cps_.size(); }
  uint32_t at(size_t i) const { return i < size() ? cps_[i] : 0; }
  bool is(size_t i, CharClass cls) const {
    return i < size() && classes_[i] == cls;
  }
  bool isNewline(size_t i) const { return at(i) == '\r' || at(i) == '\n'; }
  size_t offset(size_t i) const { return offsets_[i]; }

  /// The end of the run of `cls` starting at `i`, at most `limit` long.
  size_t runEnd(size_t i, CharClass cls, size_t limit = SIZE_MAX) const {
    size_t j = i;
    while (j < size() && j - i < limit && classes_[j] == cls)
      ++j;
    return j;
  }

private:
  std::vector<uint32_t> cps_;
  std::vector<CharClass> classes_;
  std::vector<size_t> offsets_;
};

using enum CharClass;

/// 's|'t|'re|'ve|'m|'ll|'d, ASCII case-insensitive with `ignoreCase`.
size_t matchContraction(const CodepointText &t, size_t i, bool ignoreCase) {
  if (t.at(i) != '\'')
    return 0;
  auto lower = [&](size_t k) {
    uint32_t c = t.at(k);
    return ignoreCase && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
  };
  uint32_t c1 = lower(i + 1), c2 = lower(i + 2);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
    return i + 2;
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
      (c1 == 'l' && c2 == 'l'))
    return i + 3;
  return 0;
}

/// \s+(?!\S)|\s+ at a whitespace character: the run, less its last character
/// when a non-space follows, so that the space can join the next word.
size_t matchWhitespace(const CodepointText &t, size_t i) {
  size_t j = t.runEnd(i, Whitespace);
  return j < t.size() && j - i > 1 ? j - 1 : j;
}

/// One match of the GPT-2 pattern at `i`.
size_t matchGPT2(const CodepointText &t, size_t i) {
  if (size_t end = matchContraction(t, i, /*ignoreCase=*/false))
    return end;
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional space, then a
  // run of one class.
  size_t start = t.at(i) == ' ' && i + 1 < t.size() ? i + 1 : i;
  for (CharClass cls : {Letter, Number, Other})
    if (t.is(start, cls))
      return t.runEnd(start, cls);
  if (t.is(i, Whitespace))
    return matchWhitespace(t, i);
  return i + 1;
}

/// One match of the Llama-3 pattern (Qwen2's with `maxDigits` 1) at `i`.
size_t matchLlama3(const CodepointText &t, size_t i, size_t maxDigits) {
  if (size_t end = matchContraction(t, i, /*ignoreCase=*/true))
    return end;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (t.is(i, Letter))
    return t.runEnd(i, Letter);
  if (!t.isNewline(i) && !t.is(i, Number) && t.is(i + 1, Letter))
    return t.runEnd(i + 1, Letter);
  // \p{N}{1,3}
  if (t.is(i, Number))
    return t.runEnd(i, Number, maxDigits);
  // " ?[^\s\p{L}\p{N}]+[\r\n]*"
  size_t start = t.at(i) == ' ' ? i + 1 : i;
  if (t.is(start, Other)) {
    size_t j = t.runEnd(start, Other);
    while (t.isNewline(j))
      ++j;
    return j;
  }
  if (!t.is(i, Whitespace))
    return i + 1;
  // \s*[\r\n]+ : the whitespace up to and including its last line break.
  size_t runEnd = t.runEnd(i, Whitespace);
  for (size_t k = runEnd; k > i; --k)
    if (t.isNewline(k - 1))
      return k;
  return matchWhitespace(t, i);
}
} // namespace

StatusOr<SplitPattern> recognizeSplitPattern(std::string_view regex) {
  if (regex == kGPT2Regex)
    return SplitPattern::GPT2;
  if (regex == kLlama3Regex)
    return SplitPattern::Llama3;
  if (regex == kQwen2Regex)
    return SplitPattern::Qwen2;
  return Status::error(
      "unsupported pre-tokenizer regex '" + std::string(regex) +
      "' (supported: the GPT-2, Llama-3 and Qwen2 split patterns)");
}

void splitWithPattern(std::string_view text, SplitPattern pattern,
                      std::vector<std::string_view> &pieces) {
  CodepointText t(text);
  for (size_t i = 0; i < t.size();) {
    size_t end =
        pattern == SplitPattern::GPT2
            ? matchGPT2(t, i)
            : matchLlama3(t, i, pattern == SplitPattern::Llama3 ? 3 : 1);
    pieces.push_back(text.substr(t.offset(i), t.offset(end) - t.offset(i)));
    i = end;
  }
}

StatusOr<PreTokenizer::Step> PreTokenizer::parseStep(const Json &config) {
  QC_ASSIGN_OR_RETURN(auto type, stringMember(config, "type", "pre_tokenizer"));
  if (type == "ByteLevel") {
    Step step{/*isByteLevel=*/true, std::nullopt};
    QC_ASSIGN_OR_RETURN(step.addPrefixSpace,
                        boolMember(config, "add_prefix_space", false,
                                   "ByteLevel pre_tokenizer"));
    QC_ASSIGN_OR_RETURN(bool useRegex, boolMember(config, "use_regex", true,
                                                  "ByteLevel pre_tokenizer"));
    if (useRegex)
      step.pattern = SplitPattern::GPT2;
    return step;
  }
  if (type == "Split") {
    const Json *pattern = findMember(config, "pattern");
    const Json *regex = pattern ? findMember(*pattern, "Regex") : nullptr;
    if (!regex || !regex->is_string())
      return Status::error("Split pre_tokenizer: only {\"Regex\": ...} "
                           "patterns are supported");
    QC_ASSIGN_OR_RETURN(
        auto behavior, stringMember(config, "behavior", "Split pre_tokenizer"));
    if (behavior != "Isolated")
      return Status::error("Split pre_tokenizer: behavior '" +
                           behavior.value_or("") +
                           "' is not supported (only Isolated)");
    QC_ASSIGN_OR_RETURN(bool invert,
                        boolMember(config, "invert", false, "Split"));
    if (invert)
      return Status::error("Split pre_tokenizer: invert is not supported");
    QC_ASSIGN_OR_RETURN(SplitPattern split,
                        recognizeSplitPattern(regex->get<std::string>()));
    return Step{/*isByteLevel=*/false, split};
  }
  return Status::error("unsupported pre_tokenizer '" + type.value_or("?") +
                       "' (supported: ByteLevel, Split, Sequence)");
}

StatusOr<PreTokenizer> PreTokenizer::fromJson(const Json &config) {
  if (!config.is_object())
    return Status::error("'pre_tokenizer' must be an object");
  PreTokenizer result;
  QC_ASSIGN_OR_RETURN(auto type, stringMember(config, "type", "pre_tokenizer"));
  if (type == "Sequence") {
    const Json *steps = findMember(config, "pretokenizers");
    if (!steps || !steps->is_array())
      return Status::error(
          "Sequence pre_tokenizer: 'pretokenizers' must be an array");
    for (const Json &step : *steps) {
      QC_ASSIGN_OR_RETURN(Step parsed, parseStep(step));
      result.steps_.push_back(parsed);
    }
  } else {
    QC_ASSIGN_OR_RETURN(Step parsed, parseStep(config));
    result.steps_.push_back(parsed);
  }
  // After ByteLevel the text is spelled in the byte alphabet; a later step
  // would split that spelling, which the scanners above do not model.
  if (result.steps_.empty() || !result.steps_.back().isByteLevel)
    return Status::error("pre_tokenizer must end with a ByteLevel step (only "
                         "byte-level BPE is supported)");
  for (size_t i = 0; i + 1 < result.steps_.size(); ++i)
    if (result.steps_[i].isByteLevel)
      return Status::error("pre_tokenizer has more than one ByteLevel step");
  return result;
}

void PreTokenizer::split(std::string_view text,
                         std::vector<std::string> &pieces) const {
  std::vector<std::string> current{std::string(text)}, next;
  std::vector<std::string_view> parts;
  for (const Step &step : steps_) {
    next.clear();
    for (const std::string &piece : current) {
      // Hugging Face drops empty splits before each step.
      if (piece.empty())
        continue;
      std::string prefixed;
      std::string_view input = piece;
      if (step.addPrefixSpace && piece.front() != ' ') {
        prefixed = " " + piece;
        input = prefixed;
      }
      if (!step.pattern) {
        next.emplace_back(input);
        continue;
      }
      parts.clear();
      splitWithPattern(input, *step.pattern, parts);
      next.insert(next.end(), parts.begin(), parts.end());
    }
    std::swap(current, next);
  }
  for (std::string &piece : current)
    if (!piece.empty())
      pieces.push_back(std::move(piece));
}

} // namespace qc::runtime::detail
