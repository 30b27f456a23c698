//===- KVCache.h - KV-cache bookkeeping interface ---------------*- C++ -*-===//
//
// The key/value cache as the scheduler sees it, in the shape of llama.cpp's
// llama_memory_i: per-sequence operations (grow, remove, fork) and a fit check
// before a batch is built. It holds no tensors: the compiled kernels own the
// key and value pools and find a token's row through the slot mapping and
// block tables built here (see the qc_forward ABI of convert-qc-to-linalg).
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_KVCACHE_H
#define QC_RUNTIME_KVCACHE_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <vector>

namespace qc::runtime {

/// Identifies a sequence in the cache (the scheduler uses request ids).
using SeqId = int64_t;

/// Where one token's keys and values live.
struct KVSlot {
  int32_t block = 0;  ///< physical block
  int32_t offset = 0; ///< position within the block
  int32_t flat = 0;   ///< block * blockSize + offset: the row in the pools
};

/// A block to copy before the next step writes to the cache (after a fork).
struct BlockCopy {
  int32_t source = 0, destination = 0;
};

/// The block tables of a batch, dense for kernels: row i lists the blocks of
/// the i-th sequence in position order, padded with kPadBlock.
struct BlockTable {
  /// Padding is a valid block so that a kernel reading past a sequence's
  /// length stays inside the pools; the context lengths bound the reads.
  static constexpr int32_t kPadBlock = 0;

  int32_t rows = 0, cols = 0;
  std::vector<int32_t> blocks; ///< rows * cols, row-major

  std::span<const int32_t> row(int32_t i) const {
    return std::span(blocks).subspan(size_t(i) * cols, cols);
  }
};

class KVCache {
public:
  virtual ~KVCache() = default;

  /// Tokens per block.
  virtual int32_t blockSize() const = 0;
  /// The longest sequence the cache accepts.
  virtual int32_t maxSequenceLength() const = 0;
  virtual int32_t numBlocks() const = 0;
  virtual int32_t numFreeBlocks() const = 0;

  /// Whether `seq` (new or known) can grow by `newTokens` right now.
  virtual bool canReserve(SeqId seq, int32_t newTokens) const = 0;
  /// Grows `seq` by `newTokens` positions, creating it when new; fails
  /// without changing anything when they do not fit.
  virtual Status reserve(SeqId seq, int32_t newTokens) = 0;
  /// Forgets `seq` and frees the blocks no other sequence shares.
  virtual Status seqRemove(SeqId seq) = 0;
  /// (optional) Makes new sequence `dst` a copy of `src`, sharing its full
  /// blocks; returns the block copies the engine must make before the next
  /// step (the partly filled last block is copied, never shared).
  virtual StatusOr<std::vector<BlockCopy>> seqFork(SeqId src, SeqId dst) {
    (void)src, (void)dst;
    return Status::error("this KV cache does not support seqFork");
  }
  /// Forgets every sequence.
  virtual void clear() = 0;

  virtual bool contains(SeqId seq) const = 0;
  /// The positions reserved for `seq` (0 when unknown).
  virtual int32_t seqLength(SeqId seq) const = 0;
  /// The slot of `position` (< seqLength(seq)) of `seq`.
  virtual StatusOr<KVSlot> slotFor(SeqId seq, int32_t position) const = 0;
  /// The block tables of `seqs`, one row each, `cols` wide: the block count
  /// of a sequence of maxSequenceLength(), so that kernel shapes stay fixed.
  virtual StatusOr<BlockTable>
  blockTable(std::span<const SeqId> seqs) const = 0;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_KVCACHE_H
