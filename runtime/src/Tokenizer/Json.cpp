//===- Json.cpp - Strict JSON parsing for tokenizer.json ------------------===//

#include "Json.h"

#include <set>
#include <vector>

namespace qc::runtime::detail {

namespace {
// tokenizer.json nests about 6 levels; this leaves room for any real file.
constexpr int kMaxDepth = 64;
// Llama-3's tokenizer.json is 9 MB; larger vocabularies stay well below this.
constexpr size_t kMaxBytes = 256u << 20;

/// Thrown from the parse callback to stop parsing; caught in parseJson.
struct Reject {
  std::string message;
};
} // namespace

StatusOr<Json> parseJson(std::string_view text, const std::string &source) {
  if (text.size() > kMaxBytes)
    return Status::error(
        source + ": JSON document of " + std::to_string(text.size()) +
        " bytes exceeds the limit of " + std::to_string(kMaxBytes));
  std::vector<std::set<std::string, std::less<>>> openObjects;
  auto callback = [&](int depth, Json::parse_event_t event,
                      Json &parsed) -> bool {
    switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      if (depth >= kMaxDepth)
        throw Reject{"JSON nested deeper than " + std::to_string(kMaxDepth) +
                     " levels"};
      if (event == Json::parse_event_t::object_start)
        openObjects.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      openObjects.pop_back();
      break;
    case Json::parse_event_t::key: {
      const auto &key = parsed.get_ref<const std::string &>();
      if (!openObjects.back().insert(key).second)
        throw Reject{"duplicate key '" + key + "'"};
      break;
    }
    default:
      break;
    }
    return true;
  };

  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const Reject &r) {
    return Status::error(source + ": " + r.message);
  } catch (const Json::parse_error &e) {
    return Status::error(source + ": invalid JSON near byte " +
                         std::to_string(e.byte) + ": " + e.what());
  } catch (const std::exception &e) {
    return Status::error(source + ": invalid JSON: " + e.what());
  }
}

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
