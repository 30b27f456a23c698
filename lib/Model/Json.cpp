//===- Json.cpp - Strict JSON parsing for the model readers ---------------===//

#include "qc/Support/Json.h"
#include "MappedFile.h"

#include <limits>
#include <set>
#include <vector>

namespace qc::detail {

namespace {
// Deep enough for any config or index; shallow enough that a hostile
// "[[[[..." cannot make the DOM eat gigabytes.
constexpr int kMaxDepth = 64;

/// Thrown from the parse callback to stop parsing; caught in parseJson.
struct Reject {
  std::string message;
};
} // namespace

StatusOr<Json> parseJson(std::string_view text, const std::string &source) {
  if (text.size() > kMaxJsonBytes)
    return Status::error(
        source + ": JSON document of " + std::to_string(text.size()) +
        " bytes exceeds the limit of " + std::to_string(kMaxJsonBytes));
  // The keys seen so far in each enclosing object.
  std::vector<std::set<std::string>> openObjects;
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
      auto key = parsed.get<std::string>();
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
    return Json::parse(text.data(), text.data() + text.size(), callback);
  } catch (const Reject &r) {
    return Status::error(source + ": " + r.message);
  } catch (const Json::parse_error &e) {
    return Status::error(source + ": invalid JSON near byte " +
                         std::to_string(e.byte) + ": " + e.what());
  } catch (const Json::exception &e) {
    return Status::error(source + ": invalid JSON: " + e.what());
  }
}

StatusOr<Json> readJsonFile(const std::string &path) {
  QC_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  std::span<const uint8_t> bytes = file->bytes();
  return parseJson(
      std::string_view(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size()),
      path);
}

std::optional<int64_t> toInt64(const Json &value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer())
    return value.get<int64_t>();
  return std::nullopt;
}

} // namespace qc::detail
