//===- PagedKVCache.cpp - Paged KV-cache block allocator ------------------===//

#include "qc/runtime/PagedKVCache.h"

#include <algorithm>
#include <limits>
#include <string>

namespace qc::runtime {

namespace {
std::string seqName(SeqId seq) { return "sequence " + std::to_string(seq); }
} // namespace

PagedKVCache::PagedKVCache(const KVCacheConfig &config) : config_(config) {
  clear();
}

StatusOr<PagedKVCache> PagedKVCache::create(const KVCacheConfig &config) {
  if (config.blockSize <= 0 || config.numBlocks <= 0 ||
      config.maxSequenceLength <= 0)
    return Status::error(
        "KV cache: block size (" + std::to_string(config.blockSize) +
        "), block count (" + std::to_string(config.numBlocks) +
        ") and maximum sequence length (" +
        std::to_string(config.maxSequenceLength) + ") must be positive");
  int64_t slots = int64_t(config.numBlocks) * config.blockSize;
  if (slots > std::numeric_limits<int32_t>::max())
    return Status::error("KV cache: " + std::to_string(config.numBlocks) +
                         " blocks of " + std::to_string(config.blockSize) +
                         " tokens make " + std::to_string(slots) +
                         " slots, more than int32 slot indices address");
  PagedKVCache cache(config);
  int32_t needed = cache.maxBlocksPerSequence();
  if (needed > config.numBlocks)
    return Status::error(
        "KV cache: " + std::to_string(config.numBlocks) + " blocks of " +
        std::to_string(config.blockSize) + " tokens (" + std::to_string(slots) +
        " tokens) cannot hold one request of the maximum length " +
        std::to_string(config.maxSequenceLength) + ", which needs " +
        std::to_string(needed) + " blocks");
  return cache;
}

int32_t PagedKVCache::blocksFor(int64_t tokens) const {
  return static_cast<int32_t>((tokens + config_.blockSize - 1) /
                              config_.blockSize);
}

int32_t PagedKVCache::maxBlocksPerSequence() const {
  return blocksFor(config_.maxSequenceLength);
}

int32_t PagedKVCache::seqLength(SeqId seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.length;
}

std::span<const int32_t> PagedKVCache::blocksOf(SeqId seq) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    return {};
  return it->second.blocks;
}

bool PagedKVCache::canReserve(SeqId seq, int32_t newTokens) const {
  return checkReserve(seq, newTokens).isOk();
}

Status PagedKVCache::checkReserve(SeqId seq, int32_t newTokens) const {
  if (newTokens < 0)
    return Status::error(seqName(seq) + ": cannot reserve " +
                         std::to_string(newTokens) + " tokens");
  auto it = seqs_.find(seq);
  int32_t length = it == seqs_.end() ? 0 : it->second.length;
  int32_t owned = it == seqs_.end() ? 0 : int32_t(it->second.blocks.size());
  int64_t newLength = int64_t(length) + newTokens;
  if (newLength > config_.maxSequenceLength)
    return Status::error(seqName(seq) + ": " + std::to_string(newTokens) +
                         " more tokens would make " +
                         std::to_string(newLength) +
                         ", beyond the maximum sequence length " +
                         std::to_string(config_.maxSequenceLength));
  int32_t needed = blocksFor(newLength) - owned;
  if (needed > numFreeBlocks())
    return Status::error(seqName(seq) + " needs " + std::to_string(needed) +
                         " more blocks for " + std::to_string(newTokens) +
                         " more tokens; " + std::to_string(numFreeBlocks()) +
                         " of " + std::to_string(config_.numBlocks) +
                         " are free");
  return Status::ok();
}

int32_t PagedKVCache::allocateBlock() {
  int32_t block = freeBlocks_.back();
  freeBlocks_.pop_back();
  refCounts_[block] = 1;
  return block;
}

void PagedKVCache::releaseBlock(int32_t block) {
  if (--refCounts_[block] == 0)
    freeBlocks_.push_back(block);
}

Status PagedKVCache::reserve(SeqId seq, int32_t newTokens) {
  QC_RETURN_IF_ERROR(checkReserve(seq, newTokens));
  Sequence &s = seqs_[seq];
  s.length += newTokens;
  while (int32_t(s.blocks.size()) < blocksFor(s.length))
    s.blocks.push_back(allocateBlock());
  return Status::ok();
}

Status PagedKVCache::seqRemove(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    return Status::error("KV cache has no " + seqName(seq));
  for (int32_t block : it->second.blocks)
    releaseBlock(block);
  seqs_.erase(it);
  return Status::ok();
}

StatusOr<std::vector<BlockCopy>> PagedKVCache::seqFork(SeqId src, SeqId dst) {
  auto it = seqs_.find(src);
  if (it == seqs_.end())
    return Status::error("cannot fork: KV cache has no " + seqName(src));
  if (contains(dst))
    return Status::error("cannot fork " + seqName(src) + " into " +
                         seqName(dst) + ", which exists");
  const Sequence &source = it->second;
  bool partial = source.length % config_.blockSize != 0;
  if (partial && numFreeBlocks() == 0)
    return Status::error("cannot fork " + seqName(src) +
                         ": no free block for its partly filled last block");
  Sequence copy{source.blocks, source.length};
  std::vector<BlockCopy> copies;
  size_t shared = copy.blocks.size() - (partial ? 1 : 0);
  for (size_t i = 0; i < shared; ++i)
    ++refCounts_[copy.blocks[i]];
  // Both sequences will write into the last block: each needs its own.
  if (partial) {
    copy.blocks.back() = allocateBlock();
    copies.push_back({source.blocks.back(), copy.blocks.back()});
  }
  seqs_.emplace(dst, std::move(copy));
  return copies;
}

void PagedKVCache::clear() {
  seqs_.clear();
  refCounts_.assign(config_.numBlocks, 0);
  freeBlocks_.resize(config_.numBlocks);
  // Reversed, so that allocation starts at block 0.
  for (int32_t i = 0; i < config_.numBlocks; ++i)
    freeBlocks_[i] = config_.numBlocks - 1 - i;
}

StatusOr<KVSlot> PagedKVCache::slotFor(SeqId seq, int32_t position) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end())
    return Status::error("KV cache has no " + seqName(seq));
  if (position < 0 || position >= it->second.length)
    return Status::error(seqName(seq) + ": position " +
                         std::to_string(position) + " is outside its " +
                         std::to_string(it->second.length) +
                         " reserved positions");
  KVSlot slot;
  slot.block = it->second.blocks[position / config_.blockSize];
  slot.offset = position % config_.blockSize;
  slot.flat = slot.block * config_.blockSize + slot.offset;
  return slot;
}

StatusOr<BlockTable>
PagedKVCache::blockTable(std::span<const SeqId> seqs) const {
  BlockTable table;
  table.rows = static_cast<int32_t>(seqs.size());
  table.cols = maxBlocksPerSequence();
  table.blocks.assign(seqs.size() * size_t(table.cols), BlockTable::kPadBlock);
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto it = seqs_.find(seqs[i]);
    if (it == seqs_.end())
      return Status::error("block table: KV cache has no " + seqName(seqs[i]));
    std::copy(it->second.blocks.begin(), it->second.blocks.end(),
              table.blocks.begin() + i * table.cols);
  }
  return table;
}

} // namespace qc::runtime
