//===- Json.h - Strict JSON parsing for tokenizer.json ----------*- C++ -*-===//
//
// Private to the tokenizer: typed member access over the project's strict
// JSON parser (qc/Support/Json.h: bounded nesting, duplicate keys rejected,
// every nlohmann exception a Status).
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_JSON_H
#define QC_RUNTIME_TOKENIZER_JSON_H

#include "qc/Support/Json.h"
#include "qc/Support/Status.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace qc::runtime::detail {

using Json = nlohmann::json;
using qc::detail::parseJson;

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
