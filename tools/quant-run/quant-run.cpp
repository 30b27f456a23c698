//===- quant-run.cpp - run a compiled quantc package ----------------------===//
//
//   quant-run PKG (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N]
//             [--greedy] [--ignore-eos] [--kv-blocks N]
//             [--logits-out FILE.safetensors]
//
// Generates a continuation greedily, streaming text as it is generated (ids
// without a tokenizer). --logits-out writes `prompt_logits` (F32 [prompt,
// vocab], the prefill's logits at every prompt position) and `tokens` (I64,
// the generated ids).
//
//===----------------------------------------------------------------------===//

#include "qc/Model/SafeTensors.h"
#include "qc/runtime/ForwardRunner.h"
#include "qc/runtime/Tokenizer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

using namespace qc;
using namespace qc::runtime;

namespace {

struct Options {
  std::string package;
  std::optional<std::string> prompt;
  std::optional<std::vector<int32_t>> promptIds;
  int64_t maxNewTokens = 32;
  bool ignoreEos = false;
  int64_t kvBlocks = 0;
  std::optional<std::string> logitsOut;
};

const char *kUsage =
    "usage: quant-run PKG (--prompt TEXT | --prompt-ids 1,2,3) "
    "[--max-new-tokens N] [--greedy] [--ignore-eos] [--kv-blocks N] "
    "[--logits-out FILE.safetensors]\n";

StatusOr<int64_t> parseInt(std::string_view s, const char *flag) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return Status::error(std::string(flag) + ": '" + std::string(s) +
                         "' is not an integer");
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
        QC_ASSIGN_OR_RETURN(int64_t id, parseInt(v.substr(0, comma), "--prompt-ids"));
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
    } else if (a == "--logits-out") {
      QC_ASSIGN_OR_RETURN(std::string_view v, value());
      o.logitsOut = std::string(v);
    } else if (a == "--greedy") {
      // Greedy is the only decoding this build offers.
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
  if (o.prompt.has_value() == o.promptIds.has_value())
    return Status::error("give exactly one of --prompt and --prompt-ids");
  return o;
}

Status writeOutputs(const std::string &path, const std::vector<float> &logits,
                    int64_t promptLength, int64_t vocab,
                    const std::vector<int32_t> &generated) {
  std::vector<int64_t> tokens(generated.begin(), generated.end());
  std::vector<TensorToWrite> tensors = {
      {"prompt_logits", DType::F32, {promptLength, vocab},
       std::span(reinterpret_cast<const uint8_t *>(logits.data()),
                 logits.size() * sizeof(float))},
      {"tokens", DType::I64, {int64_t(tokens.size())},
       std::span(reinterpret_cast<const uint8_t *>(tokens.data()),
                 tokens.size() * sizeof(int64_t))}};
  return writeSafeTensors(path, tensors);
}

Status run(const Options &o) {
  QC_ASSIGN_OR_RETURN(std::unique_ptr<Package> package, Package::load(o.package));
  const PackageManifest &m = package->manifest();

  std::optional<Tokenizer> tokenizer;
  if (m.tokenizerFile) {
    QC_ASSIGN_OR_RETURN(tokenizer, Tokenizer::fromFile(o.package + "/" +
                                                       *m.tokenizerFile));
  }
  std::vector<int32_t> ids;
  if (o.prompt) {
    if (!tokenizer)
      return Status::error(o.package + " has no tokenizer; use --prompt-ids");
    QC_ASSIGN_OR_RETURN(ids, tokenizer->encode(*o.prompt, tokenizer->bosId().has_value()));
  } else {
    ids = *o.promptIds;
  }
  if (ids.empty())
    return Status::error("the prompt is empty");
  int64_t total = int64_t(ids.size()) + o.maxNewTokens;
  if (total > m.maxPositionEmbeddings)
    return Status::error("the prompt (" + std::to_string(ids.size()) +
                         " tokens) plus --max-new-tokens " +
                         std::to_string(o.maxNewTokens) +
                         " exceeds the model's context of " +
                         std::to_string(m.maxPositionEmbeddings) + " tokens");
  int64_t blocksNeeded = (total + m.blockSize - 1) / m.blockSize;
  int64_t blocks = o.kvBlocks ? o.kvBlocks : blocksNeeded;
  if (blocks < blocksNeeded)
    return Status::error("the KV cache of " + std::to_string(blocks) +
                         " blocks of " + std::to_string(m.blockSize) +
                         " tokens cannot hold this request (" +
                         std::to_string(total) + " tokens need " +
                         std::to_string(blocksNeeded) + " blocks)");
  QC_ASSIGN_OR_RETURN(std::unique_ptr<ForwardRunner> runner,
                      ForwardRunner::create(*package, blocks));

  // One sequence owning blocks 0..n-1: position p lives in slot p.
  ForwardBatch batch;
  batch.numSequences = 1;
  batch.blocksPerSequence = blocksNeeded;
  for (int64_t i = 0; i < blocksNeeded; ++i)
    batch.blockTables.push_back(int32_t(i));
  auto setTokens = [&](std::span<const int32_t> toks, int64_t start) {
    batch.tokens.assign(toks.begin(), toks.end());
    batch.positions.clear();
    for (size_t i = 0; i < toks.size(); ++i)
      batch.positions.push_back(int32_t(start + i));
    batch.slotMapping = batch.positions;
    batch.tokenSequence.assign(toks.size(), 0);
  };

  std::vector<float> promptLogits, logits;
  setTokens(ids, 0);
  QC_RETURN_IF_ERROR(runner->forward(batch, promptLogits));
  std::vector<int32_t> generated;
  std::optional<StreamingDetokenizer> stream;
  if (tokenizer && o.prompt)
    stream.emplace(*tokenizer);
  std::vector<float> last(promptLogits.end() - m.vocabSize, promptLogits.end());
  for (int64_t step = 0; step < o.maxNewTokens; ++step) {
    int32_t next = runner->argmax(last)[0];
    generated.push_back(next);
    if (stream) {
      QC_ASSIGN_OR_RETURN(std::string text, stream->push(next));
      std::cout << text << std::flush;
    } else {
      std::cout << (step ? "," : "") << next << std::flush;
    }
    bool eos = std::find(m.eosTokenIds.begin(), m.eosTokenIds.end(), next) !=
               m.eosTokenIds.end();
    if ((eos && !o.ignoreEos) || step + 1 == o.maxNewTokens)
      break;
    int32_t token = next;
    setTokens(std::span(&token, 1), int64_t(ids.size()) + step);
    QC_RETURN_IF_ERROR(runner->forward(batch, logits));
    last = logits;
  }
  if (stream)
    std::cout << stream->finish();
  std::cout << "\n";
  if (o.logitsOut)
    QC_RETURN_IF_ERROR(writeOutputs(*o.logitsOut, promptLogits,
                                    int64_t(ids.size()), m.vocabSize,
                                    generated));
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
