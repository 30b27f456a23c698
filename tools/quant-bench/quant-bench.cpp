//===- quant-bench.cpp - numerics checks and benchmarks of packages -------===//
//
//   quant-bench compare OUT REF [--logits A:B --max-rel-l2 X]... [--tokens
//   A:B]... [--greedy A:B --step-logits C:D --max-rel-l2 X]...
//       Compares tensors of two safetensors files (e.g. quant-run
//       --logits-out against HF reference data): relative L2 error of float
//       tensors, exact equality of token ids. Exits 1 on any violation.
//       A tensor may be NAME@FIRST-END: rows [FIRST, END) of it.
//       --greedy compares greedy continuations of a scheme that rounds
//       activations at run time (see greedyContinuations).
//   quant-bench ids FILE NAME
//       Prints an integer tensor as a comma-separated list (for --prompt-ids).
//   quant-bench decode PKG [--batch B] [--prompt-len P] [--new-tokens N]
//                          [--repeat R] [--csv FILE] [--threads T]
//       Times prefill (B prompts of P random tokens in one step) and greedy
//       decode (N steps of B tokens through the KV cache) with the package's
//       compiled kernels on T threads (CPU packages; default: physical
//       cores); prints tokens/s (best of R runs) and the threads used, and
//       appends a CSV row (package, batch, prompt, new, prefill, decode,
//       threads).
//
//===----------------------------------------------------------------------===//

#include "qc/Model/SafeTensors.h"
#include "qc/Quant/Half.h"
#include "qc/Support/CommandLine.h"
#include "qc/runtime/CpuTopology.h"
#include "qc/runtime/ForwardRunner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>

using namespace qc;

namespace {

StatusOr<std::vector<double>> readValues(const SafeTensorsFile &file,
                                         const std::string &name) {
  const TensorInfo *info = file.find(name);
  if (!info)
    return Status::error(file.path() + ": no tensor '" + name + "'");
  std::span<const uint8_t> bytes = file.data(*info);
  std::vector<double> out(info->numElements());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t *p = bytes.data() + i * dtypeSize(info->dtype);
    switch (info->dtype) {
    case DType::F32: {
      float v;
      std::memcpy(&v, p, 4);
      out[i] = v;
      break;
    }
    case DType::F16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      out[i] = quant::halfToFloat(v);
      break;
    }
    case DType::I64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      out[i] = double(v);
      break;
    }
    case DType::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      out[i] = v;
      break;
    }
    default:
      return Status::error(file.path() + ": tensor '" + name +
                           "' has an unsupported dtype");
    }
  }
  return out;
}

/// Tensor `spec` of `file`: NAME, or NAME@FIRST-END for rows [FIRST, END)
/// of its leading dimension.
StatusOr<std::vector<double>> readRows(const SafeTensorsFile &file,
                                       const std::string &spec) {
  size_t at = spec.find('@');
  std::string name = spec.substr(0, at);
  QC_ASSIGN_OR_RETURN(std::vector<double> values, readValues(file, name));
  if (at == std::string::npos)
    return values;
  const TensorInfo *info = file.find(name);
  std::string range = spec.substr(at + 1);
  size_t dash = range.find('-');
  int64_t first = -1, end = -1;
  int64_t rows = info->shape.empty() ? 0 : info->shape[0];
  if (dash != std::string::npos &&
      (!cli::parseInteger(range.substr(0, dash), 0, rows, first).empty() ||
       !cli::parseInteger(range.substr(dash + 1), 0, rows, end).empty()))
    first = end = -1;
  if (dash == std::string::npos || first < 0 || end <= first || end > rows)
    return Status::error(file.path() + ": '" + spec +
                         "': expected NAME@FIRST-END with 0 <= FIRST < END "
                         "<= " +
                         std::to_string(rows));
  size_t width = values.size() / size_t(rows);
  return std::vector<double>(values.begin() + first * width,
                             values.begin() + end * width);
}

std::pair<std::string, std::string> splitPair(const std::string &s) {
  size_t colon = s.find(':');
  return {s.substr(0, colon),
          colon == std::string::npos ? s : s.substr(colon + 1)};
}

double relativeL2(const double *x, const double *y, size_t count) {
  double num = 0, den = 0;
  for (size_t k = 0; k < count; ++k) {
    num += (x[k] - y[k]) * (x[k] - y[k]);
    den += y[k] * y[k];
  }
  return std::sqrt(num / den);
}

/// Greedy continuations of schemes that round activations to int8 at run
/// time, where a last-bit difference can flip a code and with it a near-tie
/// (test/Runtime/int8-activations.test). Tokens must be equal up to the
/// first departure; every decode step up to and including it (equal
/// contexts, so comparable) must stay within `limit` of the reference's
/// step logits: a departure then happened at a tie the scheme's tolerance
/// covers, and its reference margin is printed. `steps` are decode_logits
/// rows: row i chose token i + 1. The first token is chosen by the prompt's
/// last logits row: `prompt` (out, ref), the pair of the --logits check
/// before this one, if any; a departure there is judged by that row alike,
/// and fails without it.
bool greedyContinuations(
    const std::string &names, const std::vector<double> &outTokens,
    const std::vector<double> &refTokens, const std::string &stepNames,
    const std::vector<double> &outSteps, const std::vector<double> &refSteps,
    const std::pair<std::vector<double>, std::vector<double>> *prompt,
    double limit) {
  size_t n = refTokens.size(), same = 0;
  while (same < outTokens.size() && same < n &&
         outTokens[same] == refTokens[same])
    ++same;
  std::cout << names << ": " << same << " of " << n << " tokens equal";
  if (outTokens.size() != n || n < 2 || outSteps.size() % (n - 1) ||
      refSteps.size() != outSteps.size()) {
    std::cout << "; " << outTokens.size() << " vs " << n << " tokens, "
              << outSteps.size() << " vs " << refSteps.size()
              << " step logits: FAIL\n";
    return false;
  }
  size_t width = outSteps.size() / (n - 1);
  // The rows (out, ref) that chose token i: the prompt's last for i = 0.
  auto rows = [&](size_t i) -> std::pair<const double *, const double *> {
    if (i > 0)
      return {outSteps.data() + (i - 1) * width,
              refSteps.data() + (i - 1) * width};
    return {prompt->first.data() + prompt->first.size() - width,
            prompt->second.data() + prompt->second.size() - width};
  };
  bool firstRow = prompt && prompt->first.size() == prompt->second.size() &&
                  prompt->first.size() >= width &&
                  prompt->first.size() % width == 0;
  if (same == 0 && !firstRow) {
    std::cout << ", departure at the first token (no prompt logits to "
                 "judge it): FAIL\n";
    return false;
  }
  if (same < n) {
    const double *row = rows(same).second;
    auto [lo, hi] = std::minmax_element(row, row + width);
    std::cout << ", departure: reference margin "
              << row[size_t(refTokens[same])] - row[size_t(outTokens[same])]
              << " (logit spread " << *hi - *lo << ")";
  }
  std::cout << "\n";
  // Decode steps of equal context; a departure at the first token is judged
  // by the prompt's last row alone.
  size_t first = same == 0 ? 0 : 1, last = std::min(same, n - 1);
  double worst = 0;
  for (size_t i = first; i <= last; ++i) {
    auto [x, y] = rows(i);
    worst = std::max(worst, relativeL2(x, y, width));
  }
  bool pass = worst <= limit;
  std::cout << stepNames << " (" << (same == 0 ? "the prompt's last row"
                                                : std::to_string(last) +
                                                      " steps of equal context")
            << "): max relative L2 " << worst << " (limit " << limit
            << "): " << (pass ? "ok" : "FAIL") << "\n";
  return pass;
}

/// One check of `compare`, in command-line order.
struct Check {
  enum Kind { Logits, Tokens, Greedy } kind;
  std::string pair, steps;
  double limit = 0;
};

int compare(const std::string &outPath, const std::string &refPath,
            const std::vector<Check> &checks) {
  auto out = SafeTensorsFile::open(outPath);
  auto ref = SafeTensorsFile::open(refPath);
  if (!out || !ref) {
    std::cerr << "quant-bench: error: "
              << (!out ? out.status() : ref.status()).message() << "\n";
    return 1;
  }
  // Tensors A of OUT and B of REF for "A:B" (the error printed if not).
  auto readPair = [&](const std::string &spec)
      -> std::optional<std::pair<std::vector<double>, std::vector<double>>> {
    auto [a, b] = splitPair(spec);
    auto x = readRows(**out, a);
    auto y = readRows(**ref, b);
    if (!x || !y) {
      std::cerr << "quant-bench: error: "
                << (!x ? x.status() : y.status()).message() << "\n";
      return std::nullopt;
    }
    return std::pair(std::move(*x), std::move(*y));
  };
  bool ok = true;
  std::optional<std::pair<std::vector<double>, std::vector<double>>> prompt;
  for (const Check &check : checks) {
    auto [a, b] = splitPair(check.pair);
    auto xy = readPair(check.pair);
    if (!xy)
      return 1;
    const auto &[x, y] = *xy;
    if (check.kind == Check::Logits) {
      if (x.size() != y.size()) {
        std::cout << a << " vs " << b << ": " << x.size() << " vs " << y.size()
                  << " elements: FAIL\n";
        ok = false;
        continue;
      }
      double rel = relativeL2(x.data(), y.data(), x.size());
      bool pass = rel <= check.limit;
      ok &= pass;
      std::cout << a << " vs " << b << ": relative L2 " << rel << " (limit "
                << check.limit << "): " << (pass ? "ok" : "FAIL") << "\n";
      prompt = *xy;
    } else if (check.kind == Check::Tokens) {
      size_t same = 0;
      while (same < x.size() && same < y.size() && x[same] == y[same])
        ++same;
      bool pass = x.size() == y.size() && same == x.size();
      ok &= pass;
      std::cout << a << " vs " << b << ": " << same << " of " << y.size()
                << " tokens equal: " << (pass ? "ok" : "FAIL") << "\n";
    } else {
      auto [c, d] = splitPair(check.steps);
      auto steps = readPair(check.steps);
      if (!steps)
        return 1;
      ok &= greedyContinuations(a + " vs " + b, x, y, c + " vs " + d,
                                steps->first, steps->second,
                                prompt ? &*prompt : nullptr, check.limit);
    }
  }
  return ok ? 0 : 1;
}

/// The checks of `compare` from its options in command-line order: --logits
/// A:B --max-rel-l2 X, --tokens A:B, --greedy A:B --step-logits C:D
/// --max-rel-l2 X. Returns the error, if any.
std::string pairChecks(const CLI::App &cmd, std::vector<Check> &checks) {
  std::map<const CLI::Option *, size_t> used;
  auto next = [&](const CLI::Option *o) { return o->results()[used[o]++]; };
  std::vector<const CLI::Option *> order;
  for (const CLI::Option *o : cmd.parse_order())
    if (!o->get_positional())
      order.push_back(o);
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string name = order[i]->get_name();
    auto follows = [&](size_t k, const char *what) {
      return i + k < order.size() && order[i + k]->get_name() == what;
    };
    Check c;
    if (name == "--logits") {
      if (!follows(1, "--max-rel-l2"))
        return "--logits needs --max-rel-l2 X after it";
      c = {Check::Logits, next(order[i]), "", 0};
      c.limit = std::stod(next(order[++i]));
    } else if (name == "--tokens") {
      c = {Check::Tokens, next(order[i]), "", 0};
    } else if (name == "--greedy") {
      if (!follows(1, "--step-logits") || !follows(2, "--max-rel-l2"))
        return "--greedy needs --step-logits C:D --max-rel-l2 X after it";
      c = {Check::Greedy, next(order[i]), next(order[i + 1]), 0};
      c.limit = std::stod(next(order[i + 2]));
      i += 2;
    } else {
      return name + " must follow --logits or --greedy";
    }
    checks.push_back(std::move(c));
  }
  return "";
}

int ids(const std::string &path, const std::string &name) {
  auto file = SafeTensorsFile::open(path);
  if (!file) {
    std::cerr << "quant-bench: error: " << file.status().message() << "\n";
    return 1;
  }
  auto values = readValues(**file, name);
  if (!values) {
    std::cerr << "quant-bench: error: " << values.status().message() << "\n";
    return 1;
  }
  for (size_t i = 0; i < values->size(); ++i)
    std::cout << (i ? "," : "") << int64_t((*values)[i]);
  std::cout << "\n";
  return 0;
}

struct DecodeOptions {
  std::string package;
  int64_t batch = 1, promptLen = 128, newTokens = 64, repeat = 3;
  int64_t threads = 1;
  std::string csv;
};

int decode(const DecodeOptions &o) {
  using namespace qc::runtime;
  const int64_t batch = o.batch, promptLen = o.promptLen,
                newTokens = o.newTokens, repeat = o.repeat;
  auto package = Package::load(o.package);
  if (!package) {
    std::cerr << "quant-bench: error: " << package.status().message() << "\n";
    return 1;
  }
  const PackageManifest &m = (*package)->manifest();
  int64_t perSeqBlocks =
      (promptLen + newTokens + m.blockSize - 1) / m.blockSize;
  auto runner =
      ForwardRunner::create(**package, perSeqBlocks * batch, o.threads);
  if (!runner) {
    std::cerr << "quant-bench: error: " << runner.status().message() << "\n";
    return 1;
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> token(0, int32_t(m.vocabSize - 1));
  // Sequence s owns blocks [s * perSeqBlocks, (s + 1) * perSeqBlocks).
  ForwardBatch b;
  b.numSequences = batch;
  b.blocksPerSequence = perSeqBlocks;
  for (int64_t i = 0; i < batch * perSeqBlocks; ++i)
    b.blockTables.push_back(int32_t(i));
  auto fill = [&](int64_t start, int64_t count,
                  const std::vector<int32_t> &toks) {
    b.tokens = toks;
    b.positions.clear();
    b.slotMapping.clear();
    b.tokenSequence.clear();
    for (int64_t s = 0; s < batch; ++s)
      for (int64_t p = start; p < start + count; ++p) {
        b.positions.push_back(int32_t(p));
        b.slotMapping.push_back(int32_t(s * perSeqBlocks * m.blockSize + p));
        b.tokenSequence.push_back(int32_t(s));
      }
  };
  using Clock = std::chrono::steady_clock;
  double bestPrefill = 0, bestDecode = 0;
  std::vector<float> logits;
  for (int64_t r = 0; r < repeat; ++r) {
    std::vector<int32_t> prompt(batch * promptLen);
    for (int32_t &t : prompt)
      t = token(rng);
    fill(0, promptLen, prompt);
    auto t0 = Clock::now();
    if (auto s = (*runner)->forward(b, logits); !s) {
      std::cerr << "quant-bench: error: " << s.message() << "\n";
      return 1;
    }
    auto t1 = Clock::now();
    // Each sequence's last prompt row picks its first new token.
    std::vector<float> last;
    for (int64_t s = 0; s < batch; ++s)
      last.insert(last.end(),
                  logits.begin() + ((s + 1) * promptLen - 1) * m.vocabSize,
                  logits.begin() + (s + 1) * promptLen * m.vocabSize);
    auto first = (*runner)->argmax(last);
    if (!first) {
      std::cerr << "quant-bench: error: " << first.status().message() << "\n";
      return 1;
    }
    std::vector<int32_t> next = std::move(first).value();
    auto t2 = Clock::now();
    for (int64_t step = 0; step + 1 < newTokens; ++step) {
      fill(promptLen + step, 1, next);
      if (auto s = (*runner)->forward(b, logits); !s) {
        std::cerr << "quant-bench: error: " << s.message() << "\n";
        return 1;
      }
      auto argmax = (*runner)->argmax(logits);
      if (!argmax) {
        std::cerr << "quant-bench: error: " << argmax.status().message()
                  << "\n";
        return 1;
      }
      next = std::move(argmax).value();
    }
    auto t3 = Clock::now();
    double prefill =
        batch * promptLen / std::chrono::duration<double>(t1 - t0).count();
    double decodeRate = batch * (newTokens - 1) /
                        std::chrono::duration<double>(t3 - t2).count();
    bestPrefill = std::max(bestPrefill, prefill);
    bestDecode = std::max(bestDecode, decodeRate);
  }
  int64_t threads = (*runner)->threads();
  std::cout << "package " << o.package << ", " << threads
            << (threads == 1 ? " thread" : " threads") << ": batch " << batch
            << ", prompt " << promptLen << ", new " << newTokens << ": prefill "
            << bestPrefill << " tokens/s, decode " << bestDecode
            << " tokens/s (best of " << repeat << ")\n";
  if (!o.csv.empty()) {
    std::ofstream out(o.csv, std::ios::app);
    out << o.package << "," << batch << "," << promptLen << "," << newTokens
        << "," << bestPrefill << "," << bestDecode << "," << threads << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app("Numerics checks and benchmarks of quantc packages.",
               "quant-bench");
  qc::cli::configure(app);
  app.require_subcommand(1);

  CLI::App *cmp = app.add_subcommand(
      "compare", "Compare tensors of two safetensors files; exit 1 on any "
                 "violation. A tensor may be NAME@FIRST-END (rows).");
  std::string outPath, refPath;
  cmp->add_option("out", outPath, "safetensors under test")->required();
  cmp->add_option("ref", refPath, "reference safetensors")->required();
  std::vector<std::string> unused;
  for (auto [flag, help] :
       {std::pair{"--logits", "A:B: relative L2 of OUT's A vs REF's B"},
        {"--tokens", "A:B: token ids equal"},
        {"--greedy", "A:B: greedy continuations (with --step-logits)"},
        {"--step-logits", "C:D: the decode steps' logits of --greedy"},
        {"--max-rel-l2", "X: the limit of the check before it"}})
    cmp->add_option(flag, unused, help)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(std::string(flag) == "--max-rel-l2"
                    ? CLI::Validator(CLI::NonNegativeNumber)
                    : CLI::Validator(CLI::TypeValidator<std::string>()));

  CLI::App *idsCmd =
      app.add_subcommand("ids", "Print an integer tensor as 1,2,3");
  std::string idsFile, idsName;
  idsCmd->add_option("file", idsFile, "safetensors file")->required();
  idsCmd->add_option("name", idsName, "tensor name")->required();

  CLI::App *dec = app.add_subcommand(
      "decode", "Time prefill and greedy decode of random prompts with the "
                "package's kernels (best of --repeat runs)");
  DecodeOptions d;
  dec->add_option("package", d.package, "package directory")->required();
  qc::cli::addInteger(*dec, "--batch", d.batch, "sequences", 1, 1 << 16);
  qc::cli::addInteger(*dec, "--prompt-len", d.promptLen, "prompt tokens", 1,
                      1 << 24);
  qc::cli::addInteger(*dec, "--new-tokens", d.newTokens, "tokens generated", 1,
                      1 << 24);
  qc::cli::addInteger(*dec, "--repeat", d.repeat, "runs", 1, 1 << 20);
  d.threads = std::min(qc::runtime::physicalCoreCount(),
                       qc::runtime::ThreadPool::kMaxThreads);
  qc::cli::addInteger(*dec, "--threads", d.threads,
                      "threads of a CPU package's kernels (default: physical "
                      "cores; GPU packages ignore it)",
                      1, qc::runtime::ThreadPool::kMaxThreads);
  dec->add_option("--csv", d.csv, "append a CSV row to FILE");

  if (int rc = qc::cli::parse(app, argc, argv); rc >= 0)
    return rc;
  if (cmp->parsed()) {
    std::vector<Check> checks;
    if (std::string why = pairChecks(*cmp, checks); !why.empty()) {
      std::cerr << "quant-bench: error: compare: " << why << "\n";
      return 2;
    }
    return compare(outPath, refPath, checks);
  }
  if (idsCmd->parsed())
    return ids(idsFile, idsName);
  return decode(d);
}
