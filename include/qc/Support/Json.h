//===- Json.h - Strict JSON parsing -----------------------------*- C++ -*-===//
//
// Shared by the MLIR-free readers (QCModel) and the runtime, built into
// QCModel. nlohmann::json silently keeps the last of duplicate
// object keys, which would let a file name a tensor twice with different
// contents; these helpers reject duplicates, bound the nesting depth, and turn
// every nlohmann exception into a Status naming the file and byte offset.
//
//===----------------------------------------------------------------------===//

#ifndef QC_SUPPORT_JSON_H
#define QC_SUPPORT_JSON_H

#include "qc/Support/Status.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qc::detail {

using Json = nlohmann::json;

/// Largest JSON document (and safetensors header) the readers accept; the
/// safetensors reference implementation uses the same bound.
constexpr uint64_t kMaxJsonBytes = 100'000'000;

/// Parses `text`; `source` prefixes error messages.
StatusOr<Json> parseJson(std::string_view text, const std::string &source);

/// Reads and parses the JSON file at `path`.
StatusOr<Json> readJsonFile(const std::string &path);

/// `value` as an int64_t; nullopt unless it is an integer that fits.
std::optional<int64_t> toInt64(const Json &value);

} // namespace qc::detail

#endif // QC_SUPPORT_JSON_H
