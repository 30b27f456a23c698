//===- QCKernelsGPU.cpp - kernels shaped for GPUs -------------------------===//
//
// Attention for GPUs (flash-decoding). The loop-nest form of
// KernelBuilder::attention gives each (token, head) to one thread, which
// walks every cached position and every head dimension alone: at decode, a
// handful of threads doing all the work. Here each (token, head) gets
// several 32-lane warps, each taking a slice of its positions; the lanes
// split the head dimension: each position's score is a lane-parallel dot
// product finished by xor shuffles, and each lane accumulates its own slice
// of the output. The softmax is computed online in one pass (running
// maximum, rescaled sums) and a second kernel combines the slices' states;
// the loop nest's two passes compute the same values up to rounding.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/QCKernels.h"

#include "ContractionPayload.h"

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
/// Attention warps a step aims for, and the most warps one (token, head)
/// is split over.
constexpr int64_t kTargetWarps = 1024;
constexpr int64_t kMaxSplits = 32;
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
  // Each (token, head) is split over `splits` warps taking consecutive
  // slices of its positions, enough that a decode step fills the GPU
  // (about kTargetWarps warps; one split once tokens x heads reach it).
  // Their partial softmax states meet in `partials` [token, head, split,
  // (max, sum, weighted values...)] and a second kernel combines them.
  Value splits = arith::MinUIOp::create(
      b, loc,
      arith::CeilDivUIOp::create(
          b, loc, index(kTargetWarps),
          arith::MulIOp::create(b, loc, tokens, index(numHeads))),
      index(kMaxSplits));
  int64_t stateSize = headDim + 2;
  // Where head dimension d's weighted value sits in a state (after the
  // maximum and the sum).
  auto valueSlot = [&](Value d) -> Value {
    return arith::AddIOp::create(b, loc, d, index(2));
  };
  Value partials =
      memref::AllocOp::create(b, loc,
                              MemRefType::get({ShapedType::kDynamic, numHeads,
                                               ShapedType::kDynamic, stateSize},
                                              b.getF32Type()),
                              ValueRange{tokens, splits});
  auto launch = gpu::LaunchOp::create(b, loc, tokens, index(numHeads), splits,
                                      index(kWarpLanes), one, one);

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value t = launch.getBlockIds().x, h = launch.getBlockIds().y;
  Value split = launch.getBlockIds().z;
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
  Value visibleEnd = arith::AddIOp::create(b, loc, p, one);
  Value visibleStart = idx(0);
  if (slidingWindow) {
    // HF's sliding window keeps key positions j > i - window.
    Value lo = arith::SubIOp::create(b, loc, visibleEnd, idx(*slidingWindow));
    visibleStart = arith::MaxSIOp::create(b, loc, lo, visibleStart);
  }
  // This warp's slice of the visible positions (possibly empty).
  Value chunk = arith::CeilDivUIOp::create(
      b, loc, arith::SubIOp::create(b, loc, visibleEnd, visibleStart),
      launch.getGridSizeZ());
  Value start = arith::MinUIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, visibleStart,
                            arith::MulIOp::create(b, loc, split, chunk)),
      visibleEnd);
  Value end = arith::MinUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, start, chunk), visibleEnd);
  Value layerIdx = idx(layer);
  Value kBase = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, h, idx(numHeads / numKvHeads)),
      idx(headDim));
  Value qBase = arith::MulIOp::create(b, loc, h, idx(headDim));

  // Lane l holds dimensions l, l + 32, ...; lanes past headDim hold zeros
  // (and read dimension 0 instead, so every load is in bounds).
  int64_t slots = (headDim + kWarpLanes - 1) / kWarpLanes;
  auto laneDimensions = [&](Value lane, SmallVector<Value> &dims,
                            SmallVector<Value> &inRange) {
    for (int64_t i = 0; i < slots; ++i) {
      Value d = arith::AddIOp::create(b, loc, lane, idx(i * kWarpLanes));
      Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, d,
                                       idx(headDim));
      inRange.push_back(ok);
      dims.push_back(arith::SelectOp::create(b, loc, ok, d, idx(0)));
    }
  };
  SmallVector<Value> dims, inRange;
  laneDimensions(lane, dims, inRange);
  Value zero = f32c(0.0f);
  auto masked = [&](int64_t i, Value v) -> Value {
    return arith::SelectOp::create(b, loc, inRange[i], v, zero);
  };
  SmallVector<Value> qv;
  for (int64_t i = 0; i < slots; ++i)
    qv.push_back(masked(
        i, toF32(memref::LoadOp::create(
               b, loc, q,
               ValueRange{t, arith::AddIOp::create(b, loc, qBase, dims[i])}))));

  auto slotOf = [&](Value j) { return cacheSlot(cache, seq, j); };
  auto cacheAt = [&](Value pool, Value slot, int64_t i) -> Value {
    return masked(
        i, toF32(memref::LoadOp::create(
               b, loc, pool,
               ValueRange{layerIdx, slot,
                          arith::AddIOp::create(b, loc, kBase, dims[i])})));
  };
  // The scaled score of position j, the same in every lane.
  auto score = [&](Value slot) -> Value {
    Value partial = zero;
    for (int64_t i = 0; i < slots; ++i)
      partial = arith::AddFOp::create(
          b, loc, partial,
          arith::MulFOp::create(b, loc, qv[i], cacheAt(cache.keys, slot, i)));
    for (int32_t offset = kWarpLanes / 2; offset > 0; offset /= 2)
      partial = arith::AddFOp::create(
          b, loc, partial,
          gpu::ShuffleOp::create(b, loc, partial, offset, kWarpLanes,
                                 gpu::ShuffleMode::XOR)
              .getShuffleResult());
    return arith::MulFOp::create(b, loc, partial, f32c(float(scale)));
  };
  // An scf.for from `lb` to `ub` whose body `body` builds at `b`.
  auto forLoop = [&](Value lb, Value ub, ValueRange inits,
                     function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto loop =
        scf::ForOp::create(b, loc, lb, ub, one, inits,
                           [](OpBuilder &, Location, Value, ValueRange) {});
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(loop.getBody());
    scf::YieldOp::create(
        b, loc, body(loop.getInductionVar(), loop.getRegionIterArgs()));
    return loop.getResults();
  };

  // One pass (online softmax): the running maximum score m, the sum of
  // exp(s - m) and the weighted values, rescaled by exp(m_old - m) when m
  // grows (0 at the first position, where m_old is -inf). Every score is
  // computed once.
  SmallVector<Value> inits = {f32c(-std::numeric_limits<float>::infinity()),
                              zero};
  inits.append(slots, zero);
  ValueRange state = forLoop(
      start, end, inits, [&](Value j, ValueRange it) -> SmallVector<Value> {
        Value slot = slotOf(j);
        Value s = score(slot);
        Value m = arith::MaximumFOp::create(b, loc, it[0], s);
        Value rescale = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, it[0], m));
        Value w =
            math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, s, m));
        auto update = [&](Value old, Value v) -> Value {
          return arith::AddFOp::create(
              b, loc, arith::MulFOp::create(b, loc, old, rescale),
              arith::MulFOp::create(b, loc, w, v));
        };
        SmallVector<Value> next = {m, update(it[1], f32c(1.0f))};
        for (int64_t i = 0; i < slots; ++i)
          next.push_back(update(it[i + 2], cacheAt(cache.values, slot, i)));
        return next;
      });
  // Lane 0 stores the maximum and the sum, every lane its values.
  SmallVector<Value> stateIndex = {idx(0), idx(1)};
  for (int64_t i = 0; i < slots; ++i)
    stateIndex.push_back(valueSlot(dims[i]));
  SmallVector<Value> stores = {
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0))};
  stores.push_back(stores[0]);
  llvm::append_range(stores, inRange);
  for (auto [k, value] : llvm::enumerate(state)) {
    auto store = scf::IfOp::create(b, loc, stores[k], /*withElse=*/false);
    OpBuilder sb = store.getThenBodyBuilder();
    memref::StoreOp::create(sb, loc, value, partials,
                            ValueRange{t, h, split, stateIndex[k]});
  }
  gpu::TerminatorOp::create(b, loc);

  // Combine: out = sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) sum_s, M
  // the largest m_s (an empty slice has m = -inf and weighs 0).
  b.setInsertionPointAfter(launch);
  auto combine = gpu::LaunchOp::create(b, loc, tokens, index(numHeads), one,
                                       index(kWarpLanes), one, one);
  b.setInsertionPointToStart(&combine.getBody().front());
  t = combine.getBlockIds().x;
  h = combine.getBlockIds().y;
  lane = combine.getThreadIds().x;
  Value numSplits = memref::DimOp::create(b, loc, partials, 2);
  auto load = [&](Value sp, Value k) -> Value {
    return memref::LoadOp::create(b, loc, partials, ValueRange{t, h, sp, k});
  };
  Value globalMax = forLoop(
      idx(0), numSplits, {f32c(-std::numeric_limits<float>::infinity())},
      [&](Value sp, ValueRange it) -> SmallVector<Value> {
        return {arith::MaximumFOp::create(b, loc, it[0], load(sp, idx(0)))};
      })[0];
  SmallVector<Value> laneDims, laneInRange;
  laneDimensions(lane, laneDims, laneInRange);
  SmallVector<Value> combineInits(slots + 1, f32c(0.0f));
  ValueRange sums = forLoop(
      idx(0), numSplits, combineInits,
      [&](Value sp, ValueRange it) -> SmallVector<Value> {
        Value weight = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, load(sp, idx(0)), globalMax));
        SmallVector<Value> next = {arith::AddFOp::create(
            b, loc, it[0],
            arith::MulFOp::create(b, loc, weight, load(sp, idx(1))))};
        for (int64_t i = 0; i < slots; ++i)
          next.push_back(arith::AddFOp::create(
              b, loc, it[i + 1],
              arith::MulFOp::create(b, loc, weight,
                                    load(sp, valueSlot(laneDims[i])))));
        return next;
      });
  for (int64_t i = 0; i < slots; ++i) {
    auto store = scf::IfOp::create(b, loc, laneInRange[i], /*withElse=*/false);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    Value o = arith::DivFOp::create(b, loc, sums[i + 1], sums[0]);
    memref::StoreOp::create(
        b, loc, fromF32(o, elem), out,
        ValueRange{t,
                   arith::AddIOp::create(
                       b, loc, arith::MulIOp::create(b, loc, h, idx(headDim)),
                       laneDims[i])});
  }
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointAfter(combine);
  return bufferization::ToTensorOp::create(b, loc, qType, out,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

void mlir::qc::buildSplitArgmax(OpBuilder &b, Location loc, Value logits,
                                Value out) {
  auto index = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ib, loc, v);
  };
  auto i32c = [&](OpBuilder &ib, int64_t v) -> Value {
    return arith::ConstantOp::create(ib, loc, ib.getI32IntegerAttr(v));
  };
  int64_t vocab = cast<MemRefType>(logits.getType()).getDimSize(1);
  // A warp scans a chunk of the row with `unroll` loads in flight per lane;
  // `warps` warps per block of the first kernel.
  constexpr int64_t unroll = 4, steps = 4, warps = 4;
  constexpr int64_t chunk = kWarpLanes * unroll * steps;
  int64_t chunks = llvm::divideCeil(vocab, chunk);
  // (v, i) replaced by (w, j) when w is larger, or equal at a lower index.
  auto combine = [&](OpBuilder &cb, Value v, Value i, Value w, Value j) {
    Value larger =
        arith::CmpFOp::create(cb, loc, arith::CmpFPredicate::OGT, w, v);
    Value tieLower = arith::AndIOp::create(
        cb, loc,
        arith::CmpFOp::create(cb, loc, arith::CmpFPredicate::OEQ, w, v),
        arith::CmpIOp::create(cb, loc, arith::CmpIPredicate::ult, j, i));
    Value take = arith::OrIOp::create(cb, loc, larger, tieLower);
    return std::pair<Value, Value>(
        arith::SelectOp::create(cb, loc, take, w, v),
        arith::SelectOp::create(cb, loc, take, j, i));
  };
  auto warpCombine = [&](OpBuilder &cb, Value v, Value i) {
    for (int32_t offset = kWarpLanes / 2; offset > 0; offset /= 2) {
      auto shuffle = [&](Value x) -> Value {
        return gpu::ShuffleOp::create(cb, loc, x, offset, kWarpLanes,
                                      gpu::ShuffleMode::XOR)
            .getShuffleResult();
      };
      std::tie(v, i) = combine(cb, v, i, shuffle(v), shuffle(i));
    }
    return std::pair<Value, Value>(v, i);
  };
  auto isZero = [&](OpBuilder &cb, Value x) {
    return arith::CmpIOp::create(cb, loc, arith::CmpIPredicate::eq, x,
                                 index(cb, 0));
  };
  Value rows = memref::DimOp::create(b, loc, logits, 0);
  // Each chunk's first maximum; index `vocab` means none yet (a row of NaN
  // or -inf gives 0, as the sequential scan does).
  Value values = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, chunks}, b.getF32Type()),
      ValueRange{rows});
  Value indices = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, chunks}, b.getI32Type()),
      ValueRange{rows});
  Value lowest = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value one = index(b, 1);
  {
    auto scan = gpu::LaunchOp::create(
        b, loc, rows, index(b, llvm::divideCeil(chunks, warps)), one,
        index(b, kWarpLanes * warps), one, one);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&scan.getBody().front());
    Value row = scan.getBlockIds().x, tid = scan.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, index(b, kWarpLanes));
    Value c = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, scan.getBlockIds().y, index(b, warps)),
        arith::DivUIOp::create(b, loc, tid, index(b, kWarpLanes)));
    Value first = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, c, index(b, chunk)), lane);
    // Indices past the row read its last element again: a repeat of the
    // same (value, index) changes no maximum.
    auto loop = scf::ForOp::create(
        b, loc, index(b, 0), index(b, chunk), index(b, kWarpLanes * unroll),
        ValueRange{lowest, i32c(b, vocab)},
        [&](OpBuilder &sb, Location sl, Value offset, ValueRange best) {
          SmallVector<Value> xs, is;
          for (int64_t u = 0; u < unroll; ++u) {
            Value v = arith::MinUIOp::create(
                sb, sl,
                arith::AddIOp::create(
                    sb, sl, first,
                    arith::AddIOp::create(sb, sl, offset,
                                          index(sb, u * kWarpLanes))),
                index(sb, vocab - 1));
            xs.push_back(
                memref::LoadOp::create(sb, sl, logits, ValueRange{row, v}));
            is.push_back(
                arith::IndexCastOp::create(sb, sl, sb.getI32Type(), v));
          }
          Value bv = best[0], bi = best[1];
          for (int64_t u = 0; u < unroll; ++u)
            std::tie(bv, bi) = combine(sb, bv, bi, xs[u], is[u]);
          scf::YieldOp::create(sb, sl, ValueRange{bv, bi});
        });
    auto [v, i] = warpCombine(b, loop.getResult(0), loop.getResult(1));
    Value store = arith::AndIOp::create(
        b, loc, isZero(b, lane),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, c,
                              index(b, chunks)));
    auto ifOp = scf::IfOp::create(b, loc, store, /*withElseRegion=*/false);
    OpBuilder ib = ifOp.getThenBodyBuilder();
    memref::StoreOp::create(ib, loc, v, values, ValueRange{row, c});
    memref::StoreOp::create(ib, loc, i, indices, ValueRange{row, c});
    gpu::TerminatorOp::create(b, loc);
  }
  // A warp per row combines its chunks' pairs.
  auto reduce = gpu::LaunchOp::create(b, loc, rows, one, one,
                                      index(b, kWarpLanes), one, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&reduce.getBody().front());
  Value row = reduce.getBlockIds().x, lane = reduce.getThreadIds().x;
  auto loop = scf::ForOp::create(
      b, loc, lane, index(b, chunks), index(b, kWarpLanes),
      ValueRange{lowest, i32c(b, vocab)},
      [&](OpBuilder &sb, Location sl, Value c, ValueRange best) {
        auto [bv, bi] = combine(
            sb, best[0], best[1],
            memref::LoadOp::create(sb, sl, values, ValueRange{row, c}),
            memref::LoadOp::create(sb, sl, indices, ValueRange{row, c}));
        scf::YieldOp::create(sb, sl, ValueRange{bv, bi});
      });
  auto [v, i] = warpCombine(b, loop.getResult(0), loop.getResult(1));
  auto first = scf::IfOp::create(b, loc, isZero(b, lane),
                                 /*withElseRegion=*/false);
  OpBuilder ib = first.getThenBodyBuilder();
  Value none = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::eq, i,
                                     i32c(ib, vocab));
  memref::StoreOp::create(
      ib, loc, arith::SelectOp::create(ib, loc, none, i32c(ib, 0), i), out,
      ValueRange{row});
  gpu::TerminatorOp::create(b, loc);
}
