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

/// Builds the DOM like Json::parse, refusing duplicate keys and nesting
/// past kMaxDepth. (Json::parse's callback form would do the same, but it
/// rescans the enclosing object at every object's end: quadratic in the
/// number of sibling objects, e.g. a safetensors header of 100k tensors.)
class StrictDomBuilder : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

public:
  explicit StrictDomBuilder(Json &result) : Base(result, true) {}

  bool start_object(std::size_t n) {
    if (!enter())
      return false;
    keys_.emplace_back();
    return Base::start_object(n);
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t n) { return enter() && Base::start_array(n); }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }
  bool key(std::string &key) {
    if (!keys_.back().insert(key).second) {
      error_ = "duplicate key '" + key + "'";
      return false;
    }
    return Base::key(key);
  }

  /// Why parsing stopped early, or "" (a syntax error throws instead).
  const std::string &error() const { return error_; }

private:
  bool enter() {
    if (++depth_ <= kMaxDepth)
      return true;
    error_ = "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels";
    return false;
  }

  int depth_ = 0;
  std::vector<std::set<std::string>> keys_; // per open object
  std::string error_;
};
} // namespace

StatusOr<Json> parseJson(std::string_view text, const std::string &source) {
  if (text.size() > kMaxJsonBytes)
    return Status::error(
        source + ": JSON document of " + std::to_string(text.size()) +
        " bytes exceeds the limit of " + std::to_string(kMaxJsonBytes));
  try {
    Json result;
    StrictDomBuilder builder(result);
    bool complete =
        Json::sax_parse(text.data(), text.data() + text.size(), &builder);
    if (!complete)
      return Status::error(source + ": " + builder.error());
    return result;
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
