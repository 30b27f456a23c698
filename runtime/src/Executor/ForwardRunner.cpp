//===- ForwardRunner.cpp - runs a package's compiled forward pass ---------===//

#include "qc/runtime/ForwardRunner.h"

#include "MemRefDescriptor.h"
#include "qc/runtime/KernelParallelFor.h"

#include <cmath>
#include <string>

using namespace qc;
using namespace qc::runtime;

namespace {

Status outOfRange(const std::string &what, size_t i, int64_t value,
                  int64_t limit) {
  return Status::error("batch: " + what + "[" + std::to_string(i) +
                       "] = " + std::to_string(value) + " is outside [0, " +
                       std::to_string(limit) + ")");
}

} // namespace

StatusOr<std::unique_ptr<ForwardRunner>>
ForwardRunner::create(const Package &package, int64_t numBlocks,
                      int64_t threads) {
  const PackageManifest &m = package.manifest();
  if (numBlocks <= 0)
    return Status::error("the KV cache needs at least one block");
  if (threads < 1 || threads > ThreadPool::kMaxThreads)
    return Status::error("the thread count " + std::to_string(threads) +
                         " is outside [1, " +
                         std::to_string(ThreadPool::kMaxThreads) + "]");
  // Bytes of one layer's keys (or values) per block; refuse sizes that
  // overflow or that the machine cannot hold.
  uint64_t perBlock = uint64_t(m.cacheLayers) * m.blockSize * m.numKvHeads *
                      m.headDim * dtypeSize(m.cacheDType);
  if (uint64_t(numBlocks) > (uint64_t(1) << 40) / perBlock)
    return Status::error("a KV cache of " + std::to_string(numBlocks) +
                         " blocks (" + std::to_string(perBlock) +
                         " bytes each for keys and values) is too large");
  std::unique_ptr<ForwardRunner> runner(new ForwardRunner(package, numBlocks));
  if (!package.device().isHost()) {
    QC_RETURN_IF_ERROR(runner->createOnDevice(perBlock * numBlocks));
    return runner;
  }
  try {
    runner->keys_.assign(perBlock * numBlocks, 0);
    runner->values_.assign(perBlock * numBlocks, 0);
  } catch (const std::bad_alloc &) {
    return Status::error("cannot allocate a KV cache of " +
                         std::to_string(2 * perBlock * numBlocks) + " bytes");
  }
  if (package.hasParallelKernels())
    runner->pool_ = std::make_unique<ThreadPool>(threads);
  return runner;
}

Status ForwardRunner::validate(const ForwardBatch &b) const {
  const PackageManifest &m = package_.manifest();
  size_t tokens = b.tokens.size();
  if (tokens == 0)
    return Status::error("batch: no tokens");
  if (b.positions.size() != tokens || b.slotMapping.size() != tokens ||
      b.tokenSequence.size() != tokens)
    return Status::error("batch: tokens, positions, slot_mapping and "
                         "token_sequence must have the same length");
  if (b.numSequences <= 0 || b.blocksPerSequence <= 0 ||
      int64_t(b.blockTables.size()) != b.numSequences * b.blocksPerSequence)
    return Status::error("batch: block_tables must be [sequences, blocks]");
  int64_t slots = numBlocks_ * m.blockSize;
  for (size_t i = 0; i < tokens; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= m.vocabSize)
      return outOfRange("tokens", i, b.tokens[i], m.vocabSize);
    int64_t positionLimit =
        std::min(m.maxPositionEmbeddings, b.blocksPerSequence * m.blockSize);
    if (b.positions[i] < 0 || b.positions[i] >= positionLimit)
      return outOfRange("positions", i, b.positions[i], positionLimit);
    if (b.slotMapping[i] < 0 || b.slotMapping[i] >= slots)
      return outOfRange("slot_mapping", i, b.slotMapping[i], slots);
    if (b.tokenSequence[i] < 0 || b.tokenSequence[i] >= b.numSequences)
      return outOfRange("token_sequence", i, b.tokenSequence[i],
                        b.numSequences);
  }
  for (size_t i = 0; i < b.blockTables.size(); ++i)
    if (b.blockTables[i] < 0 || b.blockTables[i] >= numBlocks_)
      return outOfRange("block_tables", i, b.blockTables[i], numBlocks_);
  return Status::ok();
}

Status ForwardRunner::forward(const ForwardBatch &b,
                              std::vector<float> &logits) {
  QC_RETURN_IF_ERROR(validate(b));
  if (gpu_)
    return forwardOnDevice(b, logits);
  const PackageManifest &m = package_.manifest();
  int64_t tokens = int64_t(b.tokens.size());
  int64_t slots = numBlocks_ * m.blockSize;
  int64_t width = m.numKvHeads * m.headDim;
  logits.assign(tokens * m.vocabSize, 0.0f);

  std::vector<MemRefDescriptor> descriptors;
  descriptors.reserve(m.args.size());
  descriptors.emplace_back(b.tokens.data(), std::vector<int64_t>{tokens});
  descriptors.emplace_back(b.positions.data(), std::vector<int64_t>{tokens});
  descriptors.emplace_back(b.slotMapping.data(), std::vector<int64_t>{tokens});
  descriptors.emplace_back(b.tokenSequence.data(),
                           std::vector<int64_t>{tokens});
  descriptors.emplace_back(
      b.blockTables.data(),
      std::vector<int64_t>{b.numSequences, b.blocksPerSequence});
  descriptors.emplace_back(keys_.data(),
                           std::vector<int64_t>{m.cacheLayers, slots, width});
  descriptors.emplace_back(values_.data(),
                           std::vector<int64_t>{m.cacheLayers, slots, width});
  descriptors.emplace_back(logits.data(),
                           std::vector<int64_t>{tokens, m.vocabSize});
  for (size_t i = kNumFixedKernelArgs; i < m.args.size(); ++i)
    descriptors.emplace_back(package_.weight(i - kNumFixedKernelArgs).data(),
                             m.args[i].shape);
  std::vector<void *> args;
  for (MemRefDescriptor &d : descriptors)
    args.push_back(d.get());
  KernelPoolScope scope(pool_.get());
  package_.entry()(args.data());
  return Status::ok();
}

StatusOr<std::vector<int32_t>>
ForwardRunner::argmax(std::vector<float> &logits) const {
  int64_t vocab = package_.manifest().vocabSize;
  int64_t rows = int64_t(logits.size()) / vocab;
  if (gpu_)
    return argmaxOnDevice(logits, rows);
  std::vector<int32_t> out(rows);
  MemRefDescriptor in(logits.data(), {rows, vocab});
  MemRefDescriptor result(out.data(), {rows});
  void *args[] = {in.get(), result.get()};
  KernelPoolScope scope(pool_.get());
  package_.argmaxEntry()(args);
  return out;
}

StatusOr<std::vector<int32_t>>
ForwardRunner::sample(std::vector<float> &logits,
                      const SamplerInputs &in) const {
  int64_t vocab = package_.manifest().vocabSize;
  size_t rows = logits.size() / vocab;
  if (logits.size() != rows * vocab || in.temperature.size() != rows ||
      in.topK.size() != rows || in.topP.size() != rows ||
      in.repetitionPenalty.size() != rows || in.uniform.size() != rows ||
      in.historyWidth < 0 || in.history.size() != rows * in.historyWidth)
    return Status::error("sampling: every input needs one entry per logits "
                         "row (history: historyWidth per row)");
  // The kernel divides by the temperature and the penalty and walks top-k
  // and the draw: out-of-range values would make it return nonsense.
  for (size_t i = 0; i < rows; ++i) {
    std::string row = "sampling row " + std::to_string(i) + ": ";
    if (!std::isfinite(in.temperature[i]) || !(in.temperature[i] > 0.0f))
      return Status::error(row + "temperature must be finite and positive");
    if (in.topK[i] < 0 || in.topK[i] > vocab)
      return Status::error(row + "top_k must be in [0, vocab_size]");
    if (!(in.topP[i] > 0.0f && in.topP[i] <= 1.0f))
      return Status::error(row + "top_p must be in (0, 1]");
    if (!std::isfinite(in.repetitionPenalty[i]) ||
        !(in.repetitionPenalty[i] > 0.0f))
      return Status::error(row +
                           "repetition_penalty must be finite and positive");
    if (!(in.uniform[i] >= 0.0f && in.uniform[i] < 1.0f))
      return Status::error(row + "the uniform draw must be in [0, 1)");
  }
  for (size_t i = 0; i < in.history.size(); ++i)
    if (in.history[i] < -1 || in.history[i] >= vocab)
      return outOfRange("history", i, in.history[i], vocab);

  if (gpu_)
    return sampleOnDevice(logits, in, int64_t(rows));
  std::vector<int32_t> out(rows);
  int64_t n = int64_t(rows);
  MemRefDescriptor logitsArg(logits.data(), {n, vocab});
  MemRefDescriptor temperature(in.temperature.data(), {n});
  MemRefDescriptor topK(in.topK.data(), {n});
  MemRefDescriptor topP(in.topP.data(), {n});
  MemRefDescriptor penalty(in.repetitionPenalty.data(), {n});
  MemRefDescriptor history(in.history.data(), {n, in.historyWidth});
  MemRefDescriptor uniform(in.uniform.data(), {n});
  MemRefDescriptor result(out.data(), {n});
  void *args[] = {logitsArg.get(), temperature.get(), topK.get(),
                  topP.get(),      penalty.get(),     history.get(),
                  uniform.get(),   result.get()};
  KernelPoolScope scope(pool_.get());
  package_.sampleEntry()(args);
  return out;
}
