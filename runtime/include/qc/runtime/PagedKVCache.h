//===- PagedKVCache.h - Paged KV-cache block allocator ----------*- C++ -*-===//
//
// The paged cache of vLLM: the pools hold numBlocks blocks of blockSize
// tokens; each sequence owns a list of blocks (its block table) that grows one
// block at a time, so memory follows the tokens actually cached rather than
// the maximum length. Blocks may be shared after a fork and are reference
// counted.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_PAGEDKVCACHE_H
#define QC_RUNTIME_PAGEDKVCACHE_H

#include "qc/runtime/KVCache.h"

#include <unordered_map>

namespace qc::runtime {

struct KVCacheConfig {
  /// Tokens per block (the kernels' block-size option).
  int32_t blockSize = 16;
  /// Blocks in the pools.
  int32_t numBlocks = 0;
  /// The longest sequence (prompt and generated tokens) one request may
  /// reach; at least one such sequence must fit in the blocks.
  int32_t maxSequenceLength = 0;
};

class PagedKVCache final : public KVCache {
public:
  /// Validates `config`: positive sizes, slots addressable with int32, and
  /// room for one sequence of maxSequenceLength.
  static StatusOr<PagedKVCache> create(const KVCacheConfig &config);

  int32_t blockSize() const override { return config_.blockSize; }
  int32_t maxSequenceLength() const override {
    return config_.maxSequenceLength;
  }
  int32_t numBlocks() const override { return config_.numBlocks; }
  int32_t numFreeBlocks() const override {
    return static_cast<int32_t>(freeBlocks_.size());
  }
  /// The block count of a sequence of maxSequenceLength().
  int32_t maxBlocksPerSequence() const;

  bool canReserve(SeqId seq, int32_t newTokens) const override;
  Status reserve(SeqId seq, int32_t newTokens) override;
  Status seqRemove(SeqId seq) override;
  StatusOr<std::vector<BlockCopy>> seqFork(SeqId src, SeqId dst) override;
  void clear() override;

  bool contains(SeqId seq) const override { return seqs_.count(seq) != 0; }
  int32_t seqLength(SeqId seq) const override;
  StatusOr<KVSlot> slotFor(SeqId seq, int32_t position) const override;
  StatusOr<BlockTable> blockTable(std::span<const SeqId> seqs) const override;

  /// The blocks of `seq` in position order (empty when unknown).
  std::span<const int32_t> blocksOf(SeqId seq) const;

private:
  explicit PagedKVCache(const KVCacheConfig &config);
  /// Blocks needed for `tokens` positions.
  int32_t blocksFor(int64_t tokens) const;
  /// Why `seq` cannot grow by `newTokens`, or ok.
  Status checkReserve(SeqId seq, int32_t newTokens) const;
  int32_t allocateBlock();
  void releaseBlock(int32_t block);

  struct Sequence {
    std::vector<int32_t> blocks;
    int32_t length = 0;
  };

  KVCacheConfig config_;
  /// A stack: the most recently freed block is reused first.
  std::vector<int32_t> freeBlocks_;
  std::vector<int32_t> refCounts_;
  std::unordered_map<SeqId, Sequence> seqs_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_PAGEDKVCACHE_H
