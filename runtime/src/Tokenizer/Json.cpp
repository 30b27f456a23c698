//===- Json.cpp - Typed member access for tokenizer.json ------------------===//

#include "Json.h"

#include <set>
#include <vector>

namespace qc::runtime::detail {

const Json *findMember(const Json &object, std::string_view key) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return nullptr;
  return &*it;
}

StatusOr<bool> boolMember(const Json &object, std::string_view key,
                          bool fallback, std::string_view where) {
  const Json *value = findMember(object, key);
  if (!value)
    return fallback;
  if (!value->is_boolean())
    return Status::error(std::string(where) + ": '" + std::string(key) +
                         "' must be a boolean");
  return value->get<bool>();
}

StatusOr<std::optional<std::string>>
stringMember(const Json &object, std::string_view key, std::string_view where) {
  const Json *value = findMember(object, key);
  if (!value)
    return std::optional<std::string>();
  if (!value->is_string())
    return Status::error(std::string(where) + ": '" + std::string(key) +
                         "' must be a string");
  return std::optional<std::string>(value->get<std::string>());
}

} // namespace qc::runtime::detail
