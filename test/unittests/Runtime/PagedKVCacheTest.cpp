//===- PagedKVCacheTest.cpp - Tests for qc::runtime::PagedKVCache ---------===//

#include "qc/runtime/PagedKVCache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

using namespace qc;
using namespace qc::runtime;

namespace {

PagedKVCache makeCache(int32_t blockSize, int32_t numBlocks,
                       int32_t maxSequenceLength) {
  auto cache = PagedKVCache::create({blockSize, numBlocks, maxSequenceLength});
  EXPECT_TRUE(cache.isOk()) << cache.status().message();
  return std::move(cache).value();
}

std::string createError(KVCacheConfig config) {
  auto cache = PagedKVCache::create(config);
  EXPECT_FALSE(cache.isOk());
  return cache.isOk() ? "" : cache.status().message();
}

TEST(PagedKVCacheTest, CreateRefusesConfigsThatCannotHoldOneRequest) {
  EXPECT_EQ(createError({16, 10, 512}),
            "KV cache: 10 blocks of 16 tokens (160 tokens) cannot hold one "
            "request of the maximum length 512, which needs 32 blocks");
  EXPECT_NE(createError({0, 10, 16}).find("must be positive"),
            std::string::npos);
  EXPECT_NE(createError({16, -1, 16}).find("must be positive"),
            std::string::npos);
  EXPECT_NE(createError({16, 10, 0}).find("must be positive"),
            std::string::npos);
  EXPECT_NE(createError({1 << 16, 1 << 16, 16}).find("int32"),
            std::string::npos);
  // Exactly one request of the maximum length fits.
  EXPECT_TRUE(PagedKVCache::create({16, 32, 512}).isOk());
  EXPECT_TRUE(PagedKVCache::create({16, 32, 500}).isOk());
}

TEST(PagedKVCacheTest, ReserveAppendsBlocksAsSequencesGrow) {
  PagedKVCache cache = makeCache(4, 8, 32);
  EXPECT_EQ(cache.maxBlocksPerSequence(), 8);
  ASSERT_TRUE(cache.reserve(7, 3).isOk());
  EXPECT_EQ(cache.blocksOf(7).size(), 1u);
  ASSERT_TRUE(cache.reserve(7, 1).isOk());
  EXPECT_EQ(cache.blocksOf(7).size(), 1u);
  ASSERT_TRUE(cache.reserve(7, 1).isOk());
  EXPECT_EQ(cache.blocksOf(7).size(), 2u);
  ASSERT_TRUE(cache.reserve(9, 6).isOk());
  EXPECT_EQ(cache.seqLength(7), 5);
  EXPECT_EQ(cache.seqLength(9), 6);
  EXPECT_EQ(cache.numFreeBlocks(), 4);

  // Block 0 and 1 went to sequence 7 (allocation starts at block 0).
  auto slot = cache.slotFor(7, 4);
  ASSERT_TRUE(slot.isOk());
  EXPECT_EQ(slot->block, cache.blocksOf(7)[1]);
  EXPECT_EQ(slot->offset, 0);
  EXPECT_EQ(slot->flat, slot->block * 4);
  slot = cache.slotFor(9, 5);
  ASSERT_TRUE(slot.isOk());
  EXPECT_EQ(slot->flat, cache.blocksOf(9)[1] * 4 + 1);
  EXPECT_FALSE(cache.slotFor(7, 5).isOk());
  EXPECT_FALSE(cache.slotFor(7, -1).isOk());
  EXPECT_FALSE(cache.slotFor(8, 0).isOk());

  // Every reserved position has its own slot.
  std::set<int32_t> slots;
  for (SeqId seq : {7, 9})
    for (int32_t p = 0; p < cache.seqLength(seq); ++p)
      EXPECT_TRUE(slots.insert(cache.slotFor(seq, p)->flat).second);
}

TEST(PagedKVCacheTest, RefusesWhatDoesNotFitAndChangesNothing) {
  PagedKVCache cache = makeCache(4, 4, 16);
  ASSERT_TRUE(cache.reserve(1, 10).isOk()); // 3 blocks
  EXPECT_TRUE(cache.canReserve(2, 4));
  EXPECT_FALSE(cache.canReserve(2, 5));
  Status s = cache.reserve(2, 5);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "sequence 2 needs 2 more blocks for 5 more tokens; "
                         "1 of 4 are free");
  EXPECT_FALSE(cache.contains(2));
  EXPECT_EQ(cache.numFreeBlocks(), 1);

  s = cache.reserve(1, 7);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.message(), "sequence 1: 7 more tokens would make 17, beyond the "
                         "maximum sequence length 16");
  EXPECT_EQ(cache.seqLength(1), 10);
  EXPECT_FALSE(cache.reserve(1, -1).isOk());
  EXPECT_TRUE(cache.reserve(1, 0).isOk());
}

TEST(PagedKVCacheTest, RemoveFreesBlocksForReuse) {
  PagedKVCache cache = makeCache(4, 4, 16);
  ASSERT_TRUE(cache.reserve(1, 16).isOk());
  EXPECT_EQ(cache.numFreeBlocks(), 0);
  EXPECT_FALSE(cache.canReserve(2, 1));
  ASSERT_TRUE(cache.seqRemove(1).isOk());
  EXPECT_FALSE(cache.contains(1));
  EXPECT_EQ(cache.numFreeBlocks(), 4);
  EXPECT_TRUE(cache.reserve(2, 16).isOk());
  EXPECT_FALSE(cache.seqRemove(1).isOk());
  cache.clear();
  EXPECT_EQ(cache.numFreeBlocks(), 4);
  EXPECT_FALSE(cache.contains(2));
}

TEST(PagedKVCacheTest, BlockTableIsDenseAndPadded) {
  PagedKVCache cache = makeCache(4, 10, 20);
  ASSERT_TRUE(cache.reserve(5, 9).isOk());
  ASSERT_TRUE(cache.reserve(6, 1).isOk());
  std::vector<SeqId> seqs = {6, 5};
  auto table = cache.blockTable(seqs);
  ASSERT_TRUE(table.isOk());
  EXPECT_EQ(table->rows, 2);
  EXPECT_EQ(table->cols, 5);
  ASSERT_EQ(table->blocks.size(), 10u);
  std::vector<int32_t> row0(table->row(0).begin(), table->row(0).end());
  std::vector<int32_t> row1(table->row(1).begin(), table->row(1).end());
  auto b5 = cache.blocksOf(5), b6 = cache.blocksOf(6);
  int32_t pad = BlockTable::kPadBlock;
  EXPECT_EQ(row0, (std::vector<int32_t>{b6[0], pad, pad, pad, pad}));
  EXPECT_EQ(row1, (std::vector<int32_t>{b5[0], b5[1], b5[2], pad, pad}));
  std::vector<SeqId> unknown = {5, 4};
  EXPECT_FALSE(cache.blockTable(unknown).isOk());
}

TEST(PagedKVCacheTest, ForkSharesFullBlocksAndCopiesTheLastOne) {
  PagedKVCache cache = makeCache(4, 8, 32);
  ASSERT_TRUE(cache.reserve(1, 10).isOk()); // 2 full blocks + 2 tokens
  auto copies = cache.seqFork(1, 2);
  ASSERT_TRUE(copies.isOk()) << copies.status().message();
  auto b1 = cache.blocksOf(1), b2 = cache.blocksOf(2);
  ASSERT_EQ(b2.size(), 3u);
  EXPECT_EQ(b2[0], b1[0]);
  EXPECT_EQ(b2[1], b1[1]);
  EXPECT_NE(b2[2], b1[2]);
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ((*copies)[0].source, b1[2]);
  EXPECT_EQ((*copies)[0].destination, b2[2]);
  EXPECT_EQ(cache.seqLength(2), 10);
  EXPECT_EQ(cache.numFreeBlocks(), 4);

  // Shared blocks stay until their last user goes.
  ASSERT_TRUE(cache.seqRemove(1).isOk());
  EXPECT_EQ(cache.numFreeBlocks(), 5);
  ASSERT_TRUE(cache.seqRemove(2).isOk());
  EXPECT_EQ(cache.numFreeBlocks(), 8);

  // A sequence of whole blocks shares everything.
  ASSERT_TRUE(cache.reserve(3, 8).isOk());
  copies = cache.seqFork(3, 4);
  ASSERT_TRUE(copies.isOk());
  EXPECT_TRUE(copies->empty());
  EXPECT_EQ(cache.numFreeBlocks(), 6);
  EXPECT_FALSE(cache.seqFork(3, 4).isOk()); // exists
  EXPECT_FALSE(cache.seqFork(9, 5).isOk()); // unknown
}

/// Random operations keep the books: every block is free or owned, with as
/// many owners as its reference count implies.
TEST(PagedKVCacheTest, RandomOperationsKeepInvariants) {
  constexpr int32_t kBlocks = 24, kBlockSize = 3;
  PagedKVCache cache = makeCache(kBlockSize, kBlocks, 30);
  std::mt19937 rng(1234);
  std::vector<SeqId> live;
  SeqId next = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    int op = rng() % 4;
    if (op == 0 || live.empty()) {
      int32_t n = rng() % 12;
      if (cache.canReserve(next, n)) {
        ASSERT_TRUE(cache.reserve(next, n).isOk());
        live.push_back(next);
      } else {
        ASSERT_FALSE(cache.reserve(next, n).isOk());
      }
      ++next;
    } else if (op == 1) {
      SeqId seq = live[rng() % live.size()];
      int32_t n = rng() % 5;
      EXPECT_EQ(cache.canReserve(seq, n), cache.reserve(seq, n).isOk());
    } else if (op == 2) {
      size_t i = rng() % live.size();
      ASSERT_TRUE(cache.seqRemove(live[i]).isOk());
      live.erase(live.begin() + i);
    } else {
      SeqId seq = live[rng() % live.size()];
      if (cache.seqFork(seq, next).isOk())
        live.push_back(next);
      ++next;
    }

    std::map<int32_t, int> owners;
    for (SeqId seq : live) {
      EXPECT_EQ(cache.blocksOf(seq).size(),
                size_t((cache.seqLength(seq) + kBlockSize - 1) / kBlockSize));
      for (int32_t block : cache.blocksOf(seq))
        ++owners[block];
    }
    ASSERT_EQ(int32_t(owners.size()) + cache.numFreeBlocks(), kBlocks);
  }
}

} // namespace
