//===- Json.h - Strict JSON parsing for tokenizer.json ----------*- C++ -*-===//
//
// Private to the tokenizer. Parses with nlohmann::json, but bounds the nesting
// depth (a hostile "[[[[..." must not exhaust the stack or memory), rejects
// duplicate object keys (nlohmann keeps the last silently, which would let a
// vocabulary spell a token twice) and turns every nlohmann exception into a
// Status. The same rules as QCModel's private JSON reader, which the runtime
// cannot include.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_JSON_H
#define QC_RUNTIME_TOKENIZER_JSON_H

#include "qc/Support/Status.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace qc::runtime::detail {

using Json = nlohmann::json;

/// Parses `text`; `source` prefixes error messages.
StatusOr<Json> parseJson(std::string_view text, const std::string &source);

/// The member `key` of object `object`, or null when it is absent or JSON
/// null (tokenizer.json writes absent options as null).
const Json *findMember(const Json &object, std::string_view key);

/// The boolean member `key`, `fallback` when absent; an error if it is
/// present with another type. `where` names the object in messages.
StatusOr<bool> boolMember(const Json &object, std::string_view key,
                          bool fallback, std::string_view where);

/// The string member `key`, nullopt when absent; an error if it is present
/// with another type.
StatusOr<std::optional<std::string>>
stringMember(const Json &object, std::string_view key, std::string_view where);

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_JSON_H
