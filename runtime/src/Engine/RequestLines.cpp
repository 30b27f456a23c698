//===- RequestLines.cpp - JSON request lines of quant-run --requests ------===//

#include "qc/runtime/RequestLines.h"

#include "qc/runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cfloat>
#include <cmath>
#include <set>

using json = nlohmann::json;

namespace qc::runtime {
namespace {

/// The sampling of a request line: the command line's, with the line's
/// keys on top (any of them turns sampling on, unless --greedy).
StatusOr<SamplingParams> samplingOf(const json &j, const RequestDefaults &o,
                                    const std::string &where) {
  SamplingParams p = o.sampling;
  auto number = [&](const char *key, float &field) -> Status {
    if (!j.contains(key))
      return Status::ok();
    double v = j[key].is_number() ? j[key].get<double>() : NAN;
    if (!std::isfinite(v) || std::fabs(v) > FLT_MAX)
      return Status::error(where + ": '" + key + "' must be a finite number");
    field = float(v);
    p.greedy = o.forceGreedy;
    return Status::ok();
  };
  QC_RETURN_IF_ERROR(number("temperature", p.temperature));
  QC_RETURN_IF_ERROR(number("top_p", p.topP));
  QC_RETURN_IF_ERROR(number("repetition_penalty", p.repetitionPenalty));
  if (j.contains("top_k")) {
    if (!j["top_k"].is_number_integer() ||
        j["top_k"].get<int64_t>() < INT32_MIN ||
        j["top_k"].get<int64_t>() > INT32_MAX)
      return Status::error(where + ": 'top_k' must be an integer");
    p.topK = int32_t(j["top_k"].get<int64_t>());
    p.greedy = o.forceGreedy;
  }
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned())
      return Status::error(where + ": 'seed' must be a non-negative integer");
    p.seed = j["seed"].get<uint64_t>();
  }
  if (Status s = p.validate(); !s)
    return Status::error(where + ": " + s.message());
  return p;
}

/// Every key a request line may have (any other is a misspelling).
const std::set<std::string> kRequestKeys = {
    "id",          "prompt",
    "prompt_ids",  "max_new_tokens",
    "ignore_eos",  "seed",
    "temperature", "top_k",
    "top_p",       "repetition_penalty"};

} // namespace

StatusOr<RequestSpec> parseRequestLine(std::string_view line, int64_t index,
                                       const std::string &where,
                                       const RequestDefaults &o,
                                       const Tokenizer *tokenizer) {
  // No exceptions: a malformed line is a value, not a throw.
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::error(where + ": not a JSON object");
  for (const auto &[key, value] : j.items())
    if (!kRequestKeys.contains(key))
      return Status::error(where + ": unknown key '" + key + "'");
  if (j.contains("prompt") == j.contains("prompt_ids"))
    return Status::error(where + ": needs exactly one of 'prompt' and "
                                 "'prompt_ids'");
  RequestSpec r;
  r.idJson = j.contains("id")
                 ? j["id"].dump(-1, ' ', false, json::error_handler_t::replace)
                 : std::to_string(index);
  r.maxNewTokens = int32_t(o.maxNewTokens);
  r.ignoreEos = o.ignoreEos;
  if (j.contains("max_new_tokens")) {
    const json &v = j["max_new_tokens"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX))
      return Status::error(where + ": 'max_new_tokens' must be an integer "
                                   "in [0, 2147483647]");
    r.maxNewTokens = int32_t(v.get<int64_t>());
  }
  if (j.contains("ignore_eos")) {
    if (!j["ignore_eos"].is_boolean())
      return Status::error(where + ": 'ignore_eos' must be true or false");
    r.ignoreEos = j["ignore_eos"].get<bool>();
  }
  QC_ASSIGN_OR_RETURN(r.sampling, samplingOf(j, o, where));
  if (j.contains("prompt_ids")) {
    if (!j["prompt_ids"].is_array())
      return Status::error(where + ": 'prompt_ids' must be a list");
    for (const json &id : j["prompt_ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > INT32_MAX)
        return Status::error(where + ": 'prompt_ids' must be token ids");
      r.prompt.push_back(id.get<int32_t>());
    }
  } else {
    if (!j["prompt"].is_string())
      return Status::error(where + ": 'prompt' must be a string");
    if (!tokenizer)
      return Status::error(where + ": the package has no tokenizer; use "
                                   "'prompt_ids'");
    QC_ASSIGN_OR_RETURN(r.prompt,
                        tokenizer->encode(j["prompt"].get<std::string>(),
                                          tokenizer->bosId().has_value()));
  }
  return r;
}

} // namespace qc::runtime
