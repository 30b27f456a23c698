//===- quant-run.cpp - run a compiled quantc package ----------------------===//
//
//   quant-run PKG (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N]
//             [--ignore-eos] [--logits-out FILE.safetensors]
//   quant-run PKG --requests FILE.jsonl [--max-new-tokens N]
//   common: [--kv-blocks N] [--max-batch-tokens N] [--max-batch-sequences N]
//           [--greedy] [--temperature F] [--top-k N] [--top-p F]
//           [--repetition-penalty F] [--seed N]
//
// Generates with continuous batching: requests join and leave the batch
// between steps, prefills and decodes share steps, and requests are
// preempted and recomputed when the KV cache runs out of blocks. A single
// prompt streams its text (ids without a tokenizer); --logits-out writes
// `prompt_logits` (F32 [prompt, vocab]), `decode_logits` (F32 [generated - 1,
// vocab]: row i chose generated token i + 1; the last prompt row chose token
// 0) and `tokens` (I64, generated ids).
// --requests serves JSON lines {"id", "prompt" | "prompt_ids",
// "max_new_tokens", "ignore_eos", "temperature", "top_k", "top_p",
// "repetition_penalty", "seed"} and prints one JSON line per request.
//
// Decoding is greedy unless --temperature, --top-k, --top-p or
// --repetition-penalty is given (the others then default to 1, 0, 1 and 1,
// Hugging Face's defaults); a request line with any of these keys samples
// too, with the command line's values for the keys it leaves out. The
// sampling kernel of the package draws the tokens (temperature 0 is greedy).
// --greedy overrides all of it. --seed N keys the random streams of requests
// without a "seed" of their own (by N and the request's place in the run),
// so runs with equal seeds give equal outputs; it defaults to 0.
//
//===----------------------------------------------------------------------===//

#include "qc/Model/SafeTensors.h"
#include "qc/runtime/CompiledStepExecutor.h"
#include "qc/runtime/ForwardRunner.h"
#include "qc/runtime/PagedKVCache.h"
#include "qc/runtime/Scheduler.h"
#include "qc/runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

using namespace qc;
using namespace qc::runtime;
using json = nlohmann::json;

namespace {

struct Options {
  std::string package;
  std::optional<std::string> prompt;
  std::optional<std::vector<int32_t>> promptIds;
  int64_t maxNewTokens = 32;
  bool ignoreEos = false;
  int64_t kvBlocks = 0;
  int64_t maxBatchTokens = 2048;
  int64_t maxBatchSequences = 64;
  std::optional<std::string> logitsOut;
  std::optional<std::string> requestsFile;
  /// The sampling of every request, unless its line overrides it.
  SamplingParams sampling = SamplingParams::makeGreedy();
  bool forceGreedy = false;
  uint64_t seed = 0;
};

/// One request as the user gave it.
struct RequestSpec {
  json id;
  std::vector<int32_t> prompt;
  int32_t maxNewTokens = 0;
  bool ignoreEos = false;
  SamplingParams sampling;
};

const char *kUsage =
    "usage: quant-run PKG (--prompt TEXT | --prompt-ids 1,2,3 | --requests "
    "FILE.jsonl) [--max-new-tokens N] [--ignore-eos] [--kv-blocks N] "
    "[--max-batch-tokens N] [--max-batch-sequences N] "
    "[--logits-out FILE.safetensors] [--greedy] [--temperature F] "
    "[--top-k N] [--top-p F] [--repetition-penalty F] [--seed N]\n";

StatusOr<int64_t> parseInt(std::string_view s, const char *flag) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return Status::error(std::string(flag) + ": '" + std::string(s) +
                         "' is not an integer");
  return v;
}

StatusOr<float> parseFloat(std::string_view s, const char *flag) {
  float v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return Status::error(std::string(flag) + ": '" + std::string(s) +
                         "' is not a number");
  return v;
}

StatusOr<Options> parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> StatusOr<std::string_view> {
      if (i + 1 >= argc)
        return Status::error(std::string(a) + " needs a value");
      return std::string_view(argv[++i]);
    };
    if (a == "--prompt") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      o.prompt = std::string(v);
    } else if (a == "--prompt-ids") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      std::vector<int32_t> ids;
      while (!v.empty()) {
        size_t comma = v.find(',');
        QC_ASSIGN_OR_RETURN(int64_t id,
                            parseInt(v.substr(0, comma), "--prompt-ids"));
        if (id < 0 || id > INT32_MAX)
          return Status::error("--prompt-ids: id " + std::to_string(id) +
                               " is out of range");
        ids.push_back(int32_t(id));
        v = comma == std::string_view::npos ? "" : v.substr(comma + 1);
      }
      o.promptIds = ids;
    } else if (a == "--max-new-tokens") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.maxNewTokens, parseInt(v, "--max-new-tokens"));
      if (o.maxNewTokens < 0)
        return Status::error("--max-new-tokens must be non-negative");
    } else if (a == "--kv-blocks") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.kvBlocks, parseInt(v, "--kv-blocks"));
    } else if (a == "--max-batch-tokens") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.maxBatchTokens, parseInt(v, "--max-batch-tokens"));
    } else if (a == "--max-batch-sequences") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.maxBatchSequences,
                          parseInt(v, "--max-batch-sequences"));
    } else if (a == "--requests") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      o.requestsFile = std::string(v);
    } else if (a == "--logits-out") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      o.logitsOut = std::string(v);
    } else if (a == "--greedy") {
      o.forceGreedy = true;
    } else if (a == "--temperature") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.sampling.temperature,
                          parseFloat(v, "--temperature"));
      o.sampling.greedy = false;
    } else if (a == "--top-k") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(int64_t k, parseInt(v, "--top-k"));
      if (k < INT32_MIN || k > INT32_MAX)
        return Status::error("--top-k: " + std::to_string(k) +
                             " is out of range");
      o.sampling.topK = int32_t(k);
      o.sampling.greedy = false;
    } else if (a == "--top-p") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.sampling.topP, parseFloat(v, "--top-p"));
      o.sampling.greedy = false;
    } else if (a == "--repetition-penalty") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(o.sampling.repetitionPenalty,
                          parseFloat(v, "--repetition-penalty"));
      o.sampling.greedy = false;
    } else if (a == "--seed") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      QC_ASSIGN_OR_RETURN(int64_t seed, parseInt(v, "--seed"));
      if (seed < 0)
        return Status::error("--seed must be non-negative");
      o.seed = uint64_t(seed);
    } else if (a == "--ignore-eos") {
      o.ignoreEos = true;
    } else if (!a.empty() && a[0] != '-' && o.package.empty()) {
      o.package = std::string(a);
    } else {
      return Status::error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (o.package.empty())
    return Status::error("no package given");
  if (int(o.prompt.has_value()) + int(o.promptIds.has_value()) +
          int(o.requestsFile.has_value()) !=
      1)
    return Status::error(
        "give exactly one of --prompt, --prompt-ids and --requests");
  if (o.logitsOut && o.requestsFile)
    return Status::error("--logits-out applies to a single prompt");
  if (o.forceGreedy)
    o.sampling.greedy = true;
  QC_RETURN_IF_ERROR(o.sampling.validate());
  return o;
}

Status writeOutputs(const std::string &path, const std::vector<float> &logits,
                    int64_t promptLength, int64_t vocab,
                    const std::vector<int32_t> &generated) {
  std::vector<int64_t> tokens(generated.begin(), generated.end());
  auto bytes = [](const auto *data, size_t count) {
    return std::span(reinterpret_cast<const uint8_t *>(data),
                     count * sizeof(*data));
  };
  size_t promptValues = size_t(promptLength * vocab);
  int64_t decodeRows = int64_t(logits.size()) / vocab - promptLength;
  std::vector<TensorToWrite> tensors = {{"prompt_logits",
                                         DType::F32,
                                         {promptLength, vocab},
                                         bytes(logits.data(), promptValues)},
                                        {"tokens",
                                         DType::I64,
                                         {int64_t(tokens.size())},
                                         bytes(tokens.data(), tokens.size())}};
  if (decodeRows > 0)
    tensors.push_back(
        {"decode_logits",
         DType::F32,
         {decodeRows, vocab},
         bytes(logits.data() + promptValues, size_t(decodeRows * vocab))});
  return writeSafeTensors(path, tensors);
}

/// The sampling of a request line: the command line's, with the line's
/// keys on top (any of them turns sampling on, unless --greedy).
StatusOr<SamplingParams> samplingOf(const json &j, const Options &o,
                                    const std::string &where) {
  SamplingParams p = o.sampling;
  auto number = [&](const char *key, float &field) -> Status {
    if (!j.contains(key))
      return Status::ok();
    if (!j[key].is_number())
      return Status::error(where + ": '" + key + "' must be a number");
    field = j[key].get<float>();
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

StatusOr<std::vector<RequestSpec>>
readRequests(const std::string &path, const std::optional<Tokenizer> &tokenizer,
             const Options &o) {
  std::ifstream in(path);
  if (!in)
    return Status::error(path + ": cannot open");
  std::vector<RequestSpec> out;
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = path + ":" + std::to_string(lineNo);
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      return Status::error(where + ": not a JSON object");
    RequestSpec r;
    r.id = j.contains("id") ? j["id"] : json(int64_t(out.size()));
    r.maxNewTokens = int32_t(o.maxNewTokens);
    if (j.contains("max_new_tokens")) {
      if (!j["max_new_tokens"].is_number_integer() ||
          j["max_new_tokens"].get<int64_t>() < 0)
        return Status::error(where + ": 'max_new_tokens' must be a "
                                     "non-negative integer");
      r.maxNewTokens = j["max_new_tokens"].get<int32_t>();
    }
    if (j.contains("ignore_eos"))
      r.ignoreEos = j["ignore_eos"].is_boolean() && j["ignore_eos"].get<bool>();
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
    } else if (j.contains("prompt") && j["prompt"].is_string()) {
      if (!tokenizer)
        return Status::error(where + ": the package has no tokenizer; use "
                                     "'prompt_ids'");
      QC_ASSIGN_OR_RETURN(r.prompt,
                          tokenizer->encode(j["prompt"].get<std::string>(),
                                            tokenizer->bosId().has_value()));
    } else {
      return Status::error(where + ": needs 'prompt' or 'prompt_ids'");
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status run(const Options &o) {
  QC_ASSIGN_OR_RETURN(std::unique_ptr<Package> package,
                      Package::load(o.package));
  const PackageManifest &m = package->manifest();
  std::optional<Tokenizer> tokenizer;
  if (m.tokenizerFile) {
    QC_ASSIGN_OR_RETURN(
        tokenizer, Tokenizer::fromFile(o.package + "/" + *m.tokenizerFile));
  }

  std::vector<RequestSpec> specs;
  if (o.requestsFile) {
    QC_ASSIGN_OR_RETURN(specs, readRequests(*o.requestsFile, tokenizer, o));
  } else {
    RequestSpec r;
    r.id = 0;
    r.maxNewTokens = int32_t(o.maxNewTokens);
    r.ignoreEos = o.ignoreEos;
    r.sampling = o.sampling;
    if (o.prompt) {
      if (!tokenizer)
        return Status::error(o.package + " has no tokenizer; use --prompt-ids");
      QC_ASSIGN_OR_RETURN(
          r.prompt,
          tokenizer->encode(*o.prompt, tokenizer->bosId().has_value()));
    } else {
      r.prompt = *o.promptIds;
    }
    specs.push_back(std::move(r));
  }

  if (!package->sampleEntry())
    for (const RequestSpec &r : specs)
      if (!r.sampling.isGreedy())
        return Status::error("request " + r.id.dump() + ": " + o.package +
                             " has no sampling kernel (it was compiled "
                             "before quantc had one); recompile it, or use "
                             "--greedy");

  // Every request must fit the model's context; by default the cache holds
  // all of them at once, --kv-blocks sizes it (preempting when it is full).
  int64_t longest = 0, blocksForAll = 0;
  for (const RequestSpec &r : specs) {
    if (r.prompt.empty())
      return Status::error("request " + r.id.dump() + ": the prompt is empty");
    int64_t total = int64_t(r.prompt.size()) + r.maxNewTokens;
    if (total > m.maxPositionEmbeddings)
      return Status::error("request " + r.id.dump() + ": the prompt (" +
                           std::to_string(r.prompt.size()) + " tokens) plus " +
                           std::to_string(r.maxNewTokens) +
                           " new tokens exceeds the model's context of " +
                           std::to_string(m.maxPositionEmbeddings) + " tokens");
    longest = std::max(longest, total);
    blocksForAll += (total + m.blockSize - 1) / m.blockSize;
  }
  KVCacheConfig cacheConfig;
  cacheConfig.blockSize = int32_t(m.blockSize);
  cacheConfig.numBlocks = int32_t(o.kvBlocks ? o.kvBlocks : blocksForAll);
  cacheConfig.maxSequenceLength = int32_t(longest);
  QC_ASSIGN_OR_RETURN(PagedKVCache cache, PagedKVCache::create(cacheConfig));
  QC_ASSIGN_OR_RETURN(std::unique_ptr<ForwardRunner> runner,
                      ForwardRunner::create(*package, cacheConfig.numBlocks));
  CompiledStepExecutor executor(*runner, m.vocabSize);

  SchedulerConfig schedulerConfig;
  schedulerConfig.maxTokensPerStep = int32_t(o.maxBatchTokens);
  schedulerConfig.maxSequencesPerStep = int32_t(o.maxBatchSequences);
  schedulerConfig.vocabSize = int32_t(m.vocabSize);
  schedulerConfig.seed = o.seed;
  QC_ASSIGN_OR_RETURN(Scheduler scheduler,
                      Scheduler::create(schedulerConfig, cache));
  for (size_t i = 0; i < specs.size(); ++i) {
    Request request;
    request.id = RequestId(i);
    request.prompt = specs[i].prompt;
    request.maxNewTokens = specs[i].maxNewTokens;
    if (!specs[i].ignoreEos)
      request.stopTokens.assign(m.eosTokenIds.begin(), m.eosTokenIds.end());
    request.sampling = specs[i].sampling;
    QC_RETURN_IF_ERROR(scheduler.addRequest(std::move(request)));
  }
  if (o.logitsOut)
    executor.recordLogits(0, int32_t(specs[0].prompt.size()));

  // A single prompt streams; served requests print as they finish.
  bool streaming = !o.requestsFile;
  std::optional<StreamingDetokenizer> stream;
  if (streaming && tokenizer && o.prompt)
    stream.emplace(*tokenizer);
  std::vector<FinishedRequest> finished(specs.size());
  int64_t printed = 0;
  while (scheduler.hasWork()) {
    QC_ASSIGN_OR_RETURN(StepOutput out, scheduler.step(executor));
    if (streaming) {
      for (const TokenEvent &t : out.tokens) {
        if (stream) {
          QC_ASSIGN_OR_RETURN(std::string text, stream->push(t.token));
          std::cout << text << std::flush;
        } else {
          std::cout << (printed++ ? "," : "") << t.token << std::flush;
        }
      }
    }
    for (FinishedRequest &f : out.finished) {
      if (!streaming) {
        json line = {{"id", specs[f.id].id},
                     {"tokens", f.tokens},
                     {"finish_reason", finishReasonName(f.reason)},
                     {"preemptions", f.preemptions}};
        if (tokenizer) {
          QC_ASSIGN_OR_RETURN(
              std::string text,
              tokenizer->decode(f.tokens, /*skipSpecial=*/true));
          line["text"] = text;
        }
        std::cout << line.dump() << "\n" << std::flush;
      }
      finished[f.id] = std::move(f);
    }
  }
  if (streaming) {
    if (stream)
      std::cout << stream->finish();
    std::cout << "\n";
  }
  if (o.logitsOut) {
    const std::vector<float> *logits = executor.recordedLogits(0);
    if (!logits)
      return Status::error("internal: the prompt's logits were not recorded");
    QC_RETURN_IF_ERROR(writeOutputs(*o.logitsOut, *logits,
                                    int64_t(specs[0].prompt.size()),
                                    m.vocabSize, finished[0].tokens));
  }
  return Status::ok();
}

} // namespace

int main(int argc, char **argv) {
  StatusOr<Options> options = parseArgs(argc, argv);
  if (!options) {
    std::cerr << "quant-run: error: " << options.status().message() << "\n"
              << kUsage;
    return 2;
  }
  Status status = run(*options);
  if (!status) {
    std::cerr << "quant-run: error: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
