//===- QCKernelsGPU.cpp - kernels shaped for GPUs -------------------------===//
//
// Attention as one 32-lane warp per (token, head). The loop-nest form of
// KernelBuilder::attention gives each (token, head) to one thread, which
// walks every cached position and every head dimension alone: at decode, a
// handful of threads doing all the work, one dependent load chain per
// position. Here the lanes take 32 positions at a time, each lane a whole
// dot product (summed over the head dimension in order, as the loop nest
// does), and xor shuffles combine the lanes' maxima and sums; the weighted
// values are accumulated position by position with lanes splitting the head
// dimension, each position's weight and cache slot handed out by a shuffle.
// The arithmetic is the loop nest's: scaled scores, a first pass for their
// maximum, a second for exp(s - max), their sum and the weighted values.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/QCKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::qc;

namespace {
constexpr int64_t kWarp = 32;
} // namespace

Value KernelBuilder::warpAttention(const PagedCache &cache, int64_t layer,
                                   Value query, Value positions,
                                   int64_t numHeads, int64_t numKvHeads,
                                   int64_t headDim, double scale,
                                   std::optional<int64_t> slidingWindow) {
  auto qType = cast<RankedTensorType>(query.getType());
  Type elem = qType.getElementType();
  auto buffer = [&](Value tensor) -> Value {
    auto type = cast<RankedTensorType>(tensor.getType());
    return bufferization::ToBufferOp::create(
        b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
        /*read_only=*/true);
  };
  Value q = buffer(query), pos = buffer(positions);
  Value tokens = memref::DimOp::create(b, loc, q, 0);
  Value out = memref::AllocOp::create(
      b, loc, MemRefType::get(qType.getShape(), elem), ValueRange{tokens});
  Value one = index(1);
  auto launch = gpu::LaunchOp::create(b, loc, tokens, index(numHeads), one,
                                      index(kWarp), one, one);

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value t = launch.getBlockIds().x, h = launch.getBlockIds().y;
  Value lane = launch.getThreadIds().x;
  auto idx = [&](int64_t v) { return index(v); };
  auto f32c = [&](float v) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  };
  auto toIndex = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  Value seq = toIndex(
      memref::LoadOp::create(b, loc, cache.tokenSequence, ValueRange{t}));
  Value p = toIndex(memref::LoadOp::create(b, loc, pos, ValueRange{t}));
  Value end = arith::AddIOp::create(b, loc, p, one);
  Value start = idx(0);
  if (slidingWindow) {
    // HF's sliding window keeps key positions j > i - window.
    Value lo = arith::SubIOp::create(b, loc, end, idx(*slidingWindow));
    start = arith::MaxSIOp::create(b, loc, lo, start);
  }
  Value layerIdx = idx(layer);
  Value kBase = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, h, idx(numHeads / numKvHeads)),
      idx(headDim));
  Value qBase = arith::MulIOp::create(b, loc, h, idx(headDim));

  // For the weighted sum of values lane l holds dimensions l, l + 32, ...;
  // lanes past headDim read dimension 0 and do not store.
  int64_t slots = (headDim + kWarp - 1) / kWarp;
  SmallVector<Value> dims, inRange;
  for (int64_t i = 0; i < slots; ++i) {
    Value d = arith::AddIOp::create(b, loc, lane, idx(i * kWarp));
    Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, d,
                                     idx(headDim));
    inRange.push_back(ok);
    dims.push_back(arith::SelectOp::create(b, loc, ok, d, idx(0)));
  }
  Value zero = f32c(0.0f);
  Value negInf = f32c(-std::numeric_limits<float>::infinity());

  auto slotOf = [&](Value j) -> Value {
    Value block = toIndex(memref::LoadOp::create(
        b, loc, cache.blockTables,
        ValueRange{seq,
                   arith::DivUIOp::create(b, loc, j, idx(cache.blockSize))}));
    return arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, block, idx(cache.blockSize)),
        arith::RemUIOp::create(b, loc, j, idx(cache.blockSize)));
  };
  // The scaled score at cache slot `slot`: one lane's whole dot product,
  // summed over the head dimension in order (as the loop nest does).
  auto score = [&](Value slot) -> Value {
    auto loop = scf::ForOp::create(
        b, loc, idx(0), idx(headDim), one, ValueRange{zero},
        [&](OpBuilder &db, Location dl, Value d, ValueRange acc) {
          KernelBuilder kd(db, dl);
          Value qv = kd.toF32(memref::LoadOp::create(
              db, dl, q,
              ValueRange{t, arith::AddIOp::create(db, dl, qBase, d)}));
          Value kv = kd.toF32(memref::LoadOp::create(
              db, dl, cache.keys,
              ValueRange{layerIdx, slot,
                         arith::AddIOp::create(db, dl, kBase, d)}));
          scf::YieldOp::create(
              db, dl,
              ValueRange{arith::AddFOp::create(
                  db, dl, acc[0], arith::MulFOp::create(db, dl, qv, kv))});
        });
    return arith::MulFOp::create(b, loc, loop.getResult(0), f32c(float(scale)));
  };
  auto butterfly = [&](Value v, bool isMax) -> Value {
    for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
      Value other = gpu::ShuffleOp::create(b, loc, v, offset, kWarp,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      v = isMax ? arith::MaximumFOp::create(b, loc, v, other).getResult()
                : arith::AddFOp::create(b, loc, v, other).getResult();
    }
    return v;
  };
  // Positions go 32 at a time, one per lane: chunk c holds positions
  // start + 32c + lane. `body(position, valid, iterArgs)` yields the next.
  Value count = arith::SubIOp::create(b, loc, end, start);
  Value chunks = arith::CeilDivUIOp::create(b, loc, count, idx(kWarp));
  auto chunkLoop =
      [&](ValueRange inits,
          function_ref<SmallVector<Value>(Value, Value, Value, ValueRange)>
              body) {
        auto loop =
            scf::ForOp::create(b, loc, idx(0), chunks, one, inits,
                               [](OpBuilder &, Location, Value, ValueRange) {});
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(loop.getBody());
        Value chunkStart = arith::AddIOp::create(
            b, loc, start,
            arith::MulIOp::create(b, loc, loop.getInductionVar(), idx(kWarp)));
        Value j = arith::AddIOp::create(b, loc, chunkStart, lane);
        Value valid =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, end);
        // Lanes past the end score the chunk's first position, then mask.
        Value position = arith::SelectOp::create(b, loc, valid, j, chunkStart);
        scf::YieldOp::create(
            b, loc,
            body(chunkStart, position, valid, loop.getRegionIterArgs()));
        return loop.getResults();
      };

  // Pass 1: the maximum score, for a stable softmax.
  Value laneMax =
      chunkLoop({negInf},
                [&](Value, Value position, Value valid,
                    ValueRange it) -> SmallVector<Value> {
                  Value s = arith::SelectOp::create(
                      b, loc, valid, score(slotOf(position)), negInf);
                  return {arith::MaximumFOp::create(b, loc, it[0], s)};
                })[0];
  Value maxScore = butterfly(laneMax, /*isMax=*/true);

  // Pass 2: each lane's softmax weight, then the chunk's values weighted,
  // position by position (a shuffle hands every lane the position's weight
  // and slot), into each lane's dimensions.
  SmallVector<Value> inits(slots + 1, zero);
  ValueRange sums = chunkLoop(
      inits,
      [&](Value chunkStart, Value position, Value valid,
          ValueRange it) -> SmallVector<Value> {
        Value slot = slotOf(position);
        Value w = arith::SelectOp::create(
            b, loc, valid,
            math::ExpOp::create(
                b, loc, arith::SubFOp::create(b, loc, score(slot), maxScore)),
            zero);
        Value slot32 = arith::IndexCastOp::create(b, loc, b.getI32Type(), slot);
        Value inChunk = arith::MinUIOp::create(
            b, loc, idx(kWarp), arith::SubIOp::create(b, loc, end, chunkStart));
        auto values = scf::ForOp::create(
            b, loc, idx(0), inChunk, one, it.drop_front(),
            [&](OpBuilder &vb, Location vl, Value src, ValueRange acc) {
              KernelBuilder kv(vb, vl);
              Value srcLane =
                  arith::IndexCastOp::create(vb, vl, vb.getI32Type(), src);
              Value width = arith::ConstantOp::create(
                  vb, vl, vb.getI32IntegerAttr(kWarp));
              Value wj = gpu::ShuffleOp::create(vb, vl, w, srcLane, width,
                                                gpu::ShuffleMode::IDX)
                             .getShuffleResult();
              Value slotj = arith::IndexCastOp::create(
                  vb, vl, vb.getIndexType(),
                  gpu::ShuffleOp::create(vb, vl, slot32, srcLane, width,
                                         gpu::ShuffleMode::IDX)
                      .getShuffleResult());
              SmallVector<Value> next;
              for (int64_t i = 0; i < slots; ++i) {
                Value v = kv.toF32(memref::LoadOp::create(
                    vb, vl, cache.values,
                    ValueRange{layerIdx, slotj,
                               arith::AddIOp::create(vb, vl, kBase, dims[i])}));
                next.push_back(arith::AddFOp::create(
                    vb, vl, acc[i], arith::MulFOp::create(vb, vl, wj, v)));
              }
              scf::YieldOp::create(vb, vl, next);
            });
        SmallVector<Value> next = {arith::AddFOp::create(b, loc, it[0], w)};
        llvm::append_range(next, values.getResults());
        return next;
      });
  Value denom = butterfly(sums[0], /*isMax=*/false);
  for (int64_t i = 0; i < slots; ++i) {
    auto store = scf::IfOp::create(b, loc, inRange[i], /*withElse=*/false);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    Value o = arith::DivFOp::create(b, loc, sums[i + 1], denom);
    memref::StoreOp::create(
        b, loc, fromF32(o, elem), out,
        ValueRange{t, arith::AddIOp::create(b, loc, qBase, dims[i])});
  }
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointAfter(launch);
  return bufferization::ToTensorOp::create(b, loc, qType, out,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}
