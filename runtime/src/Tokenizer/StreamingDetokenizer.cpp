//===- StreamingDetokenizer.cpp - Text from ids as they arrive ------------===//

#include "qc/runtime/Tokenizer.h"

#include "Unicode.h"

namespace qc::runtime {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer &tokenizer,
                                           bool skipSpecial)
    : tokenizer_(&tokenizer), skipSpecial_(skipSpecial) {}

StatusOr<std::string> StreamingDetokenizer::push(int32_t id) {
  QC_ASSIGN_OR_RETURN(std::string_view bytes, tokenizer_->tokenBytes(id));
  if (skipSpecial_ && tokenizer_->isSpecial(id))
    return std::string();
  pending_.append(bytes);
  std::string text;
  size_t consumed =
      detail::appendSanitizedUtf8(pending_, /*final=*/false, text);
  pending_.erase(0, consumed);
  return text;
}

std::string StreamingDetokenizer::finish() {
  std::string text;
  detail::appendSanitizedUtf8(pending_, /*final=*/true, text);
  pending_.clear();
  return text;
}

} // namespace qc::runtime
