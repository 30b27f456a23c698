//===- ForwardRunner.cpp - runs a package's compiled forward pass ---------===//

#include "qc/runtime/ForwardRunner.h"

#include <string>

using namespace qc;
using namespace qc::runtime;

namespace {

/// A strided memref descriptor as MLIR's C interface lays it out:
/// {allocated, aligned, offset, sizes[rank], strides[rank]} of 64-bit words.
class MemRefDescriptor {
public:
  MemRefDescriptor(const void *data, std::vector<int64_t> shape) {
    words_.push_back(reinterpret_cast<int64_t>(data));
    words_.push_back(reinterpret_cast<int64_t>(data));
    words_.push_back(0);
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;)
      strides[i - 1] = strides[i] * shape[i];
    words_.insert(words_.end(), shape.begin(), shape.end());
    words_.insert(words_.end(), strides.begin(), strides.end());
  }
  void *get() { return words_.data(); }

private:
  std::vector<int64_t> words_;
};

Status outOfRange(const std::string &what, size_t i, int64_t value,
                  int64_t limit) {
  return Status::error("batch: " + what + "[" + std::to_string(i) + "] = " +
                       std::to_string(value) + " is outside [0, " +
                       std::to_string(limit) + ")");
}

} // namespace

StatusOr<std::unique_ptr<ForwardRunner>>
ForwardRunner::create(const Package &package, int64_t numBlocks) {
  const PackageManifest &m = package.manifest();
  if (numBlocks <= 0)
    return Status::error("the KV cache needs at least one block");
  // Bytes of one layer's keys (or values) per block; refuse sizes that
  // overflow or that the machine cannot hold.
  uint64_t perBlock = uint64_t(m.cacheLayers) * m.blockSize * m.numKvHeads *
                      m.headDim * dtypeSize(m.cacheDType);
  if (uint64_t(numBlocks) > (uint64_t(1) << 40) / perBlock)
    return Status::error("a KV cache of " + std::to_string(numBlocks) +
                         " blocks (" + std::to_string(perBlock) +
                         " bytes each for keys and values) is too large");
  std::unique_ptr<ForwardRunner> runner(new ForwardRunner(package, numBlocks));
  try {
    runner->keys_.assign(perBlock * numBlocks, 0);
    runner->values_.assign(perBlock * numBlocks, 0);
  } catch (const std::bad_alloc &) {
    return Status::error("cannot allocate a KV cache of " +
                         std::to_string(2 * perBlock * numBlocks) + " bytes");
  }
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
  package_.entry()(args.data());
  return Status::ok();
}

std::vector<int32_t> ForwardRunner::argmax(std::vector<float> &logits) const {
  int64_t vocab = package_.manifest().vocabSize;
  int64_t rows = int64_t(logits.size()) / vocab;
  std::vector<int32_t> out(rows);
  MemRefDescriptor in(logits.data(), {rows, vocab});
  MemRefDescriptor result(out.data(), {rows});
  void *args[] = {in.get(), result.get()};
  package_.argmaxEntry()(args);
  return out;
}
