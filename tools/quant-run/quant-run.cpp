//===- quant-run.cpp - run a compiled quantc package ----------------------===//
//
//   quant-run PKG (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N]
//             [--ignore-eos] [--logits-out FILE.safetensors]
//   quant-run PKG --requests FILE.jsonl [--max-new-tokens N]
//   common: [--kv-blocks N] [--max-batch-tokens N] [--max-batch-sequences N]
//           [--greedy] [--temperature F] [--top-k N] [--top-p F]
//           [--repetition-penalty F] [--seed N] [--threads N]
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
// "repetition_penalty", "seed"} (any other key is refused; the command line
// gives the defaults) and prints one JSON line per request. A timing line
// (load, first token, tokens/s, threads) ends every run on stderr.
// --threads N runs a CPU package's parallel kernel loops on N threads
// (default: the physical cores this process may use); GPU packages ignore
// it.
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

#include "qc/Model/OutputPaths.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Support/CommandLine.h"
#include "qc/runtime/CompiledStepExecutor.h"
#include "qc/runtime/CpuTopology.h"
#include "qc/runtime/ForwardRunner.h"
#include "qc/runtime/PagedKVCache.h"
#include "qc/runtime/RequestLines.h"
#include "qc/runtime/Scheduler.h"
#include "qc/runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <variant>

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
  /// Threads of a CPU package's kernels (set to the physical cores).
  int64_t threads = 1;
};

/// Parses "1,2,3" into token ids.
StatusOr<std::vector<int32_t>> parseIds(std::string_view v) {
  std::vector<int32_t> ids;
  while (!v.empty()) {
    size_t comma = v.find(',');
    int64_t id = 0;
    std::string why =
        cli::parseInteger(std::string(v.substr(0, comma)), 0, INT32_MAX, id);
    if (!why.empty())
      return Status::error("--prompt-ids: " + why);
    ids.push_back(int32_t(id));
    v = comma == std::string_view::npos ? "" : v.substr(comma + 1);
  }
  if (ids.empty())
    return Status::error("--prompt-ids: no ids");
  return ids;
}

/// The options, or the exit code to leave with (--help, --version, errors).
std::variant<Options, int> parseArgs(int argc, char **argv) {
  Options o;
  CLI::App app("Generates text with a compiled quantc package (continuous "
               "batching over a paged KV cache).",
               "quant-run");
  cli::configure(app);
  app.add_option("package", o.package, "Package directory (quant-compile -o)")
      ->required();
  std::string promptIds;
  auto *prompt = app.add_option("--prompt", o.prompt, "Prompt text");
  auto *ids =
      app.add_option("--prompt-ids", promptIds, "Prompt token ids: 1,2,3");
  auto *requests = app.add_option("--requests", o.requestsFile,
                                  "Serve JSON lines of requests from FILE");
  prompt->excludes(ids)->excludes(requests);
  ids->excludes(requests);
  cli::addInteger(app, "--max-new-tokens", o.maxNewTokens,
                  "Tokens to generate per request", 0, INT32_MAX);
  app.add_flag("--ignore-eos", o.ignoreEos, "Generate past end-of-sequence");
  cli::addInteger(app, "--kv-blocks", o.kvBlocks,
                  "KV-cache blocks (0: as many as fit the budget)", 0,
                  INT32_MAX);
  cli::addInteger(app, "--max-batch-tokens", o.maxBatchTokens,
                  "Tokens per step at most", 1, INT32_MAX);
  cli::addInteger(app, "--max-batch-sequences", o.maxBatchSequences,
                  "Sequences per step at most", 1, INT32_MAX);
  app.add_option("--logits-out", o.logitsOut,
                 "Write prompt/decode logits and tokens (safetensors)")
      ->excludes(requests);
  app.add_flag("--greedy", o.forceGreedy, "Greedy decoding, whatever else");
  SamplingParams &s = o.sampling;
  // Ranges here only keep the values representable; SamplingParams::
  // validate, which request lines go through too, judges them.
  constexpr double kHuge = 3e38;
  CLI::Option *sampling[] = {
      cli::addFloat(app, "--temperature", s.temperature,
                    "Sampling temperature (0: greedy)", -kHuge, kHuge),
      cli::addInteger(app, "--top-k", s.topK, "Top-k (0: off)", INT32_MIN,
                      INT32_MAX),
      cli::addFloat(app, "--top-p", s.topP, "Top-p (1: off)", -kHuge, kHuge),
      cli::addFloat(app, "--repetition-penalty", s.repetitionPenalty,
                    "Repetition penalty (1: off)", -kHuge, kHuge)};
  cli::addInteger(app, "--seed", o.seed, "Seed of the random streams", 0,
                  INT64_MAX);
  o.threads = std::min(physicalCoreCount(), ThreadPool::kMaxThreads);
  cli::addInteger(app, "--threads", o.threads,
                  "Threads of a CPU package's kernels (default: physical "
                  "cores; GPU packages ignore it)",
                  1, ThreadPool::kMaxThreads);
  if (int rc = cli::parse(app, argc, argv); rc >= 0)
    return rc;
  auto fail = [](const std::string &message) {
    std::cerr << "quant-run: error: " << message << "\n"
              << "Run with --help for more information.\n";
    return 2;
  };
  if (o.logitsOut) // never into the package it reads
    if (Status st = checkOutsideInputs(*o.logitsOut, {o.package}); !st)
      return fail(st.message());
  if (!ids->empty()) {
    StatusOr<std::vector<int32_t>> parsed = parseIds(promptIds);
    if (!parsed)
      return fail(parsed.status().message());
    o.promptIds = std::move(*parsed);
  }
  if (int(o.prompt.has_value()) + int(o.promptIds.has_value()) +
          int(o.requestsFile.has_value()) !=
      1)
    return fail("give exactly one of --prompt, --prompt-ids and --requests");
  for (CLI::Option *opt : sampling)
    if (!opt->empty())
      s.greedy = false;
  if (o.forceGreedy)
    s.greedy = true;
  if (Status st = s.validate(); !st)
    return fail(st.message());
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

StatusOr<std::vector<RequestSpec>>
readRequests(const std::string &path, const std::optional<Tokenizer> &tokenizer,
             const Options &o) {
  std::ifstream in(path);
  if (!in)
    return Status::error(path + ": cannot open");
  RequestDefaults defaults{int32_t(o.maxNewTokens), o.ignoreEos, o.sampling,
                           o.forceGreedy};
  std::vector<RequestSpec> out;
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    QC_ASSIGN_OR_RETURN(RequestSpec r,
                        parseRequestLine(line, int64_t(out.size()),
                                         path + ":" + std::to_string(lineNo),
                                         defaults,
                                         tokenizer ? &*tokenizer : nullptr));
    out.push_back(std::move(r));
  }
  return out;
}

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Status run(const Options &o) {
  Clock::time_point loadStart = Clock::now();
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
    r.idJson = "0";
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

  // Every request must fit the model's context; by default the cache holds
  // all of them at once, --kv-blocks sizes it (preempting when it is full).
  int64_t longest = 0, blocksForAll = 0;
  for (const RequestSpec &r : specs) {
    if (r.prompt.empty())
      return Status::error("request " + r.idJson + ": the prompt is empty");
    int64_t total = int64_t(r.prompt.size()) + r.maxNewTokens;
    if (total > m.maxPositionEmbeddings)
      return Status::error("request " + r.idJson + ": the prompt (" +
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
  QC_ASSIGN_OR_RETURN(
      std::unique_ptr<ForwardRunner> runner,
      ForwardRunner::create(*package, cacheConfig.numBlocks, o.threads));
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
  int64_t printed = 0, generated = 0, promptTokens = 0;
  for (const RequestSpec &r : specs)
    promptTokens += int64_t(r.prompt.size());
  double loadSeconds = secondsSince(loadStart), firstTokenSeconds = 0;
  Clock::time_point start = Clock::now();
  while (scheduler.hasWork()) {
    QC_ASSIGN_OR_RETURN(StepOutput out, scheduler.step(executor));
    if (!generated && !out.tokens.empty())
      firstTokenSeconds = secondsSince(start);
    generated += int64_t(out.tokens.size());
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
        json line = {{"id", json::parse(specs[f.id].idJson)},
                     {"tokens", f.tokens},
                     {"finish_reason", finishReasonName(f.reason)},
                     {"preemptions", f.preemptions}};
        if (tokenizer) {
          QC_ASSIGN_OR_RETURN(
              std::string text,
              tokenizer->decode(f.tokens, /*skipSpecial=*/true));
          line["text"] = text;
        }
        // Decoded text may end inside a UTF-8 sequence: replaced, not thrown.
        std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace)
                  << "\n"
                  << std::flush;
      }
      finished[f.id] = std::move(f);
    }
  }
  if (streaming) {
    if (stream)
      std::cout << stream->finish();
    std::cout << "\n";
  }
  double total = secondsSince(start), decode = total - firstTokenSeconds;
  auto rate = [](int64_t n, double t) { return t > 0 ? double(n) / t : 0.0; };
  std::cerr << std::fixed << std::setprecision(3) << "quant-run: loaded in "
            << loadSeconds << " s; " << promptTokens << " prompt tokens, first "
            << "token after " << firstTokenSeconds << " s ("
            << std::setprecision(1) << rate(promptTokens, firstTokenSeconds)
            << " tokens/s); " << generated << " tokens generated in "
            << std::setprecision(3) << total << " s (" << std::setprecision(1)
            << rate(std::max<int64_t>(generated - 1, 0), decode)
            << " tokens/s after the first), " << runner->threads()
            << (runner->threads() == 1 ? " thread\n" : " threads\n");
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
  std::variant<Options, int> options = parseArgs(argc, argv);
  if (int *rc = std::get_if<int>(&options))
    return *rc;
  Status status = run(std::get<Options>(options));
  if (!status) {
    std::cerr << "quant-run: error: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
