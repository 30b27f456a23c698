//===- StagedMmaKernel.cpp - block-tiled tensor-core linear kernel --------===//
//
// Past a few dozen tokens a linear layer is worth tiling for reuse: a block
// of four warps owns `tokens` x `features` outputs, so each activation row
// it stages serves `features` outputs and each weight row `tokens`. K is
// walked `depth` at a time through `stages` shared-memory buffers in a
// software pipeline: while the warps multiply slice i, the copies of slice
// i + stages - 1 are in flight.
//
//  - f16 rows read as they are (activations, fp16 weights) travel by
//    cp.async (nvgpu.device_async_copy, 16 bytes, L2 only), committed as one
//    group per slice;
//  - computed rows (dequantized weights, staged-dequantized only) are
//    evaluated in registers from global memory before the slice's
//    multiplies and stored to shared memory after them; the pipeline still
//    waits on those loads, which is why this is not the default;
//  - each warp (2 x 2 of the tile) reads its fragments with ldmatrix.x4
//    from rows padded by 16 bytes (eight rows of one ldmatrix fall in
//    distinct banks) and runs mma.sync m16n8k16 with f32 accumulators.
//
//===----------------------------------------------------------------------===//

#include "StagedMmaKernel.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::qc;

namespace {

/// f16 elements per 16-byte copy, and the padding of a row: rows 16 bytes
/// longer than a multiple of 64 put the eight rows of one ldmatrix phase in
/// distinct banks.
constexpr int64_t kChunk = 8;
constexpr int64_t kRowPadding = 8;
/// Four warps, two along tokens by two along features.
constexpr int64_t kThreads = 4 * kWarpLanes;

} // namespace

Value mlir::qc::copiedRows(linalg::GenericOp op, Value factor,
                           unsigned rowLoop) {
  auto ext = factor.getDefiningOp<arith::ExtFOp>();
  if (!ext || !ext.getIn().getType().isF16())
    return {};
  Value root = ext.getIn(), buffer;
  if (auto arg = dyn_cast<BlockArgument>(root)) {
    if (arg.getOwner() != op.getBody() ||
        arg.getArgNumber() >= unsigned(op.getNumDpsInputs()))
      return {};
    MLIRContext *ctx = op.getContext();
    AffineMap rows = AffineMap::get(
        3, 0, {getAffineDimExpr(rowLoop, ctx), getAffineDimExpr(2, ctx)}, ctx);
    OpOperand &operand = op->getOpOperand(arg.getArgNumber());
    if (op.getMatchingIndexingMap(&operand) != rows)
      return {};
    buffer = operand.get();
  } else if (auto load = root.getDefiningOp<memref::LoadOp>()) {
    if (load.getIndices().size() != 2)
      return {};
    auto row = load.getIndices()[0].getDefiningOp<linalg::IndexOp>();
    auto k = load.getIndices()[1].getDefiningOp<linalg::IndexOp>();
    if (!row || !k || row.getDim() != rowLoop || k.getDim() != 2)
      return {};
    buffer = load.getMemRef();
  } else {
    return {};
  }
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !type.getLayout().isIdentity() || !rowsAligned(buffer, 16))
    return {};
  return buffer;
}

namespace {

/// One operand of the tile: the activations (token rows) or the weights
/// (feature rows).
struct Side {
  Value factor;
  Value direct; ///< the f16 buffer cp.async copies from, or null
  Value tiles;  ///< shared memory [stages, rows, depth + kRowPadding]
  int64_t rows;
  Value first, last; ///< the tile's first row and the operand's last
  bool tokens;
};

/// A computed chunk waiting to be stored to shared memory.
struct PendingStore {
  Value value;
  Value tiles;
  SmallVector<Value> at;
};

} // namespace

int64_t mlir::qc::stagedTileBytes(const StagedTile &tile) {
  return tile.stages * (tile.tokens + tile.features) *
         (tile.depth + kRowPadding) * 2;
}

void mlir::qc::buildStagedMmaKernel(OpBuilder &b, Location loc,
                                    linalg::GenericOp op,
                                    const Factors &factors,
                                    ArrayRef<Value> sizes,
                                    const StagedTile &tile) {
  MLIRContext *ctx = b.getContext();
  IndexMath math{loc};
  Value tokenCount = sizes[0], featureCount = sizes[1];
  int64_t slices =
      cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2] /
      tile.depth;
  Type f16 = Float16Type::get(ctx);
  auto tilesType = [&](int64_t rows) {
    return MemRefType::get({tile.stages, rows, tile.depth + kRowPadding}, f16,
                           MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3));
  };

  Value one = math.constant(b, 1);
  auto launch =
      launchTiles(b, loc, kernelName(op, "qc_linear_staged"), featureCount,
                  tile.features, tokenCount, tile.tokens, kThreads,
                  {tilesType(tile.tokens), tilesType(tile.features)});
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
  Value tid = launch.getThreadIds().x;
  Value lane = math.rem(b, tid, kWarpLanes),
        warp = math.div(b, tid, kWarpLanes);
  Value firstToken = math.mul(b, launch.getBlockIds().y, tile.tokens);
  Value firstFeature = math.mul(b, launch.getBlockIds().x, tile.features);
  Side sides[2] = {
      {factors.activation, copiedRows(op, factors.activation, 0),
       launch.getWorkgroupAttributions()[0], tile.tokens, firstToken,
       arith::SubIOp::create(b, loc, tokenCount, one), /*tokens=*/true},
      {factors.weight, copiedRows(op, factors.weight, 1),
       launch.getWorkgroupAttributions()[1], tile.features, firstFeature,
       arith::SubIOp::create(b, loc, featureCount, one), /*tokens=*/false}};

  // Slice `slice` of both operands into buffer `stage`: thread t takes the
  // 16-byte chunks t, t + kThreads, ... of the rows (depth / 8 a row); rows
  // past the edge copy the last one.
  Type tokenType = nvgpu::DeviceAsyncTokenType::get(ctx);
  auto stageSlice = [&](OpBuilder &sb, Value slice, Value stage,
                        SmallVectorImpl<PendingStore> &pending) -> Value {
    SmallVector<Value> copies;
    int64_t chunksPerRow = tile.depth / kChunk;
    for (const Side &side : sides) {
      for (int64_t r = 0; r < side.rows * chunksPerRow / kThreads; ++r) {
        Value c = math.add(sb, tid, math.constant(sb, r * kThreads));
        Value row = math.div(sb, c, chunksPerRow);
        Value column = math.mul(sb, math.rem(sb, c, chunksPerRow), kChunk);
        Value index = arith::MinUIOp::create(
            sb, loc, math.add(sb, side.first, row), side.last);
        Value k = math.add(sb, math.mul(sb, slice, tile.depth), column);
        SmallVector<Value> at = {stage, row, column};
        if (side.direct) {
          copies.push_back(nvgpu::DeviceAsyncCopyOp::create(
              sb, loc, tokenType, side.tiles, at, side.direct,
              ValueRange{index, k}, sb.getIndexAttr(kChunk),
              /*srcElements=*/Value(), /*bypassL1=*/sb.getUnitAttr()));
          continue;
        }
        Value token = side.tokens ? index : firstToken;
        Value feature = side.tokens ? firstFeature : index;
        Value chunk = vector::FromElementsOp::create(
            sb, loc, VectorType::get({kChunk}, f16),
            halvesAt(sb, loc, op, side.factor, token, feature, k, kChunk));
        pending.push_back({chunk, side.tiles, at});
      }
    }
    return nvgpu::DeviceAsyncCreateGroupOp::create(sb, loc, tokenType, copies);
  };
  auto storePending = [&](OpBuilder &sb, ArrayRef<PendingStore> pending) {
    for (const PendingStore &p : pending)
      vector::StoreOp::create(sb, loc, p.value, p.tiles, p.at,
                              /*nontemporal=*/false, llvm::Align(16));
  };

  // Prologue: slices 0 .. stages - 2 (clamped to the last).
  Value lastSlice = math.constant(b, slices - 1);
  Value group;
  for (int64_t s = 0; s + 1 < tile.stages; ++s) {
    SmallVector<PendingStore> pending;
    group = stageSlice(
        b, arith::MinUIOp::create(b, loc, math.constant(b, s), lastSlice),
        math.constant(b, s), pending);
    storePending(b, pending);
  }

  // The lane's ldmatrix rows: A's four 8 x 8 matrices are (rows 0-7, k
  // 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) of a 16 x 16 fragment; B's
  // (features 0-7, k 0-7), (0-7, 8-15), (8-15, 0-7), (8-15, 8-15) of two
  // 8-feature fragments, rows holding k as mma.sync's B columns want.
  Value quarter = math.div(b, lane, 8), eighth = math.rem(b, lane, 8);
  Value aRow = math.add(b, eighth, math.mul(b, math.rem(b, quarter, 2), 8));
  Value aColumn = math.mul(b, math.div(b, lane, 16), 8);
  Value bRow = math.add(b, eighth, math.mul(b, math.div(b, lane, 16), 8));
  Value bColumn = math.mul(b, math.rem(b, quarter, 2), 8);
  int64_t warpTokens = tile.tokens / 2, warpFeatures = tile.features / 2;
  Value warpToken = math.mul(b, math.div(b, warp, 2), warpTokens);
  Value warpFeature = math.mul(b, math.rem(b, warp, 2), warpFeatures);
  int64_t fragmentRows = warpTokens / 16, fragmentColumns = warpFeatures / 8;

  FragmentLayout layout = FragmentLayout::forChip("sm_80");
  VectorType accType = layout.accumulatorType(ctx);
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
  SmallVector<Value> inits(fragmentRows * fragmentColumns, zero);
  auto loop = scf::ForOp::create(
      b, loc, math.constant(b, 0), math.constant(b, slices), one, inits,
      [&](OpBuilder &lb, Location, Value i, ValueRange accs) {
        // Slice i's copies (this thread's) are done, and every thread's
        // copies and stores are visible; every warp is past slice i - 1,
        // whose buffer the next slice reuses.
        nvgpu::DeviceAsyncWaitOp::create(lb, loc, group,
                                         lb.getI32IntegerAttr(tile.stages - 2));
        gpu::BarrierOp::create(lb, loc);
        Value next = math.add(lb, i, math.constant(lb, tile.stages - 1));
        SmallVector<PendingStore> pending;
        stageSlice(lb, arith::MinUIOp::create(lb, loc, next, lastSlice),
                   math.rem(lb, next, tile.stages), pending);

        Value stage = math.rem(lb, i, tile.stages);
        SmallVector<Value> sums(accs.begin(), accs.end());
        auto vec = [&](int64_t r, int64_t c) {
          return VectorType::get({r, c}, f16);
        };
        for (int64_t k = 0; k < tile.depth; k += 16) {
          Value kk = math.constant(lb, k);
          SmallVector<Value> a, bcols;
          for (int64_t r = 0; r < fragmentRows; ++r)
            a.push_back(nvgpu::LdMatrixOp::create(
                lb, loc, vec(4, 2), sides[0].tiles,
                ValueRange{
                    stage,
                    math.add(lb, warpToken,
                             math.add(lb, aRow, math.constant(lb, 16 * r))),
                    math.add(lb, kk, aColumn)},
                /*transpose=*/false, /*numTiles=*/4));
          for (int64_t p = 0; p < fragmentColumns / 2; ++p) {
            Value pair = nvgpu::LdMatrixOp::create(
                lb, loc, vec(4, 2), sides[1].tiles,
                ValueRange{
                    stage,
                    math.add(lb, warpFeature,
                             math.add(lb, bRow, math.constant(lb, 16 * p))),
                    math.add(lb, kk, bColumn)},
                /*transpose=*/false, /*numTiles=*/4);
            // Rows 0-1 and 2-3 of the x4 result are two B operands.
            for (int64_t h = 0; h < 2; ++h) {
              Value column =
                  arith::ConstantOp::create(lb, loc, lb.getZeroAttr(vec(2, 2)));
              for (int64_t row = 0; row < 2; ++row)
                column = vector::InsertOp::create(
                    lb, loc,
                    vector::ExtractOp::create(lb, loc, pair, 2 * h + row),
                    column, row);
              bcols.push_back(column);
            }
          }
          for (int64_t r = 0; r < fragmentRows; ++r)
            for (int64_t c = 0; c < fragmentColumns; ++c) {
              Value &acc = sums[r * fragmentColumns + c];
              acc = nvgpu::MmaSyncOp::create(lb, loc, a[r], bcols[c], acc,
                                             ArrayRef<int64_t>{16, 8, 16});
            }
        }
        storePending(lb, pending);
        scf::YieldOp::create(lb, loc, sums);
      });

  Value out = op.getDpsInitOperand(0)->get();
  SmallVector<std::pair<Value, Value>> elements =
      layout.accumulatorElements(b, loc, lane);
  for (int64_t r = 0; r < fragmentRows; ++r)
    for (int64_t c = 0; c < fragmentColumns; ++c)
      for (int64_t e = 0; e < 4; ++e) {
        Value sum = vector::ExtractOp::create(
            b, loc, loop.getResult(r * fragmentColumns + c),
            layout.accumulatorPosition(e));
        Value token =
            math.add(b, math.add(b, firstToken, warpToken),
                     math.add(b, elements[e].first, math.constant(b, 16 * r)));
        Value feature =
            math.add(b, math.add(b, firstFeature, warpFeature),
                     math.add(b, elements[e].second, math.constant(b, 8 * c)));
        addToOutput(b, loc, out, token, feature, tokenCount, featureCount, sum);
      }
  gpu::TerminatorOp::create(b, loc);
}
