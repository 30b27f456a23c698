//===- WarpContractions.cpp - matmul kernels as one warp per feature ------===//
//
// The kernel builders express every linear layer as one linalg.generic
// [token, feature, k] whose payload loads (and dequantizes) a weight and
// accumulates. Mapped like any parallel nest, each GPU thread would own one
// output and walk K alone: N threads in all, each reading a different weight
// row. Here a warp owns a feature and its lanes split K, so a model's widest
// layers fill the GPU and a warp's loads are contiguous.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"

#include "ContractionPayload.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::qc {
#define GEN_PASS_DEF_QCWARPCONTRACTIONS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// How a row reduction's output combines its partial values.
enum class Combine { AddF, AddI, MaxF, MaxNumF };

/// For a [row, r] reduction on buffers (parallel, then reduction), how
/// each output combines: an output indexed by the row accumulates (the
/// payload yields add/max of it), one indexed by (row, r) is written
/// element by element (std::nullopt). Fails on anything else.
FailureOr<SmallVector<std::optional<Combine>>>
rowReductionOutputs(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != 2)
    return failure();
  auto iterators = op.getIteratorTypesArray();
  if (iterators[0] != utils::IteratorType::parallel ||
      iterators[1] != utils::IteratorType::reduction)
    return failure();
  MLIRContext *ctx = op.getContext();
  AffineMap rowMap = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
  for (OpOperand *input : op.getDpsInputOperands())
    if (!op.getMatchingIndexingMap(input).isProjectedPermutation())
      return failure();
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  SmallVector<std::optional<Combine>> outputs;
  bool accumulates = false;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    if (map.isIdentity()) {
      outputs.push_back(std::nullopt);
      continue;
    }
    if (map != rowMap)
      return failure();
    unsigned i = init.getOperandNumber() - op.getNumDpsInputs();
    Value arg = op.getBody()->getArgument(init.getOperandNumber());
    Operation *def = yield.getOperand(i).getDefiningOp();
    if (!def || def->getNumOperands() != 2 ||
        (def->getOperand(0) != arg && def->getOperand(1) != arg))
      return failure();
    std::optional<Combine> combine =
        TypeSwitch<Operation *, std::optional<Combine>>(def)
            .Case([](arith::AddFOp) { return Combine::AddF; })
            .Case([](arith::AddIOp) { return Combine::AddI; })
            .Case([](arith::MaximumFOp) { return Combine::MaxF; })
            .Case([](arith::MaxNumFOp) { return Combine::MaxNumF; })
            .Default([](Operation *) { return std::nullopt; });
    if (!combine)
      return failure();
    outputs.push_back(combine);
    accumulates = true;
  }
  if (!accumulates)
    return failure();
  return outputs;
}

struct QCWarpContractionsPass
    : mlir::qc::impl::QCWarpContractionsBase<QCWarpContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (columnLanes < 0 || (columnLanes && kWarpLanes % columnLanes != 0) ||
        columnWarps < 1 || columnUnroll < 1 || columnTileUnroll < 1 ||
        columnTokens < 1 || rowThreads < kWarpLanes ||
        rowThreads % kWarpLanes != 0 || rowThreads > 1024) {
      getOperation().emitError()
          << "qc-warp-contractions: column-lanes must be 0 or divide 32 and "
             "column-warps, column-unroll, column-tile-unroll and "
             "column-tokens be at least 1, and row-threads a multiple of 32 "
             "up to 1024, got "
          << int64_t(columnLanes) << ", " << int64_t(columnWarps) << ", "
          << int64_t(columnUnroll) << ", " << int64_t(columnTileUnroll) << ", "
          << int64_t(columnTokens) << ", " << int64_t(rowThreads);
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> contractions, rowReductions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isTokenFeatureContraction(op))
        contractions.push_back(op);
      else if (succeeded(rowReductionOutputs(op)))
        rowReductions.push_back(op);
    });
    for (linalg::GenericOp op : contractions) {
      if (int64_t packing = columnPacking(op))
        rewriteColumns(op, packing);
      else
        rewrite(op);
    }
    for (linalg::GenericOp op : rowReductions)
      rewriteRowReduction(op, *rowReductionOutputs(op));
  }

  /// A [row, r] reduction (rms_norm's sums of squares, LLM.int8's row
  /// absmax) as one block per row: its `rowThreads` threads stride r (a
  /// decode step has one row, so a warp alone would walk the whole row with
  /// a load in flight at a time), partial results combine by xor shuffles
  /// within each warp, then in shared memory in warp order (deterministic);
  /// outputs indexed by (row, r) are stored as computed.
  void rewriteRowReduction(linalg::GenericOp op,
                           ArrayRef<std::optional<Combine>> outputs) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto constant = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    Value rows = sizes[0], depth = sizes[1];
    // No more threads than a static row has elements (whole warps).
    int64_t staticDepth =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[1];
    int64_t threads =
        ShapedType::isDynamic(staticDepth)
            ? int64_t(rowThreads)
            : std::min<int64_t>(rowThreads,
                                llvm::alignTo(staticDepth, kWarpLanes));
    int64_t rowWarps = threads / kWarpLanes;
    SmallVector<unsigned> accumulated;
    SmallVector<Type> partialTypes;
    for (auto [i, combine] : llvm::enumerate(outputs)) {
      if (!combine)
        continue;
      accumulated.push_back(i);
      partialTypes.push_back(MemRefType::get(
          {rowWarps},
          cast<MemRefType>(op.getDpsInits()[i].getType()).getElementType(),
          MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3)));
    }
    auto launch =
        launchTiles(b, loc, kernelName(op, "qc_row_reduction"), rows, 1,
                    /*extentY=*/Value(), 1, threads, partialTypes);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value row = launch.getBlockIds().x;
    Value tid = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, constant(kWarpLanes));
    Value warp = arith::DivUIOp::create(b, loc, tid, constant(kWarpLanes));

    SmallVector<Value> inits;
    for (unsigned i : accumulated)
      inits.push_back(arith::ConstantOp::create(
          b, loc, identity(b, getElementTypeOrSelf(op.getDpsInits()[i]),
                           *outputs[i])));
    auto loop = scf::ForOp::create(
        b, loc, tid, depth, constant(threads), inits,
        [&](OpBuilder &lb, Location ll, Value k, ValueRange partials) {
          SmallVector<Value> args;
          unsigned next = 0;
          for (const std::optional<Combine> &combine : outputs)
            args.push_back(combine ? partials[next++] : Value());
          SmallVector<Value> results =
              clonePayload(lb, ll, op, {row, k}, args,
                           /*reducedIndex=*/std::nullopt);
          SmallVector<Value> yielded;
          for (auto [i, combine] : llvm::enumerate(outputs)) {
            if (combine)
              yielded.push_back(results[i]);
            else
              memref::StoreOp::create(lb, ll, results[i], op.getDpsInits()[i],
                                      ValueRange{row, k});
          }
          scf::YieldOp::create(lb, ll, yielded);
        });

    // Each warp's first lane leaves the warp's result in shared memory.
    auto isZero = [&](Value v) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, v,
                                   constant(0));
    };
    SmallVector<Value> warpResults;
    for (auto [n, i] : llvm::enumerate(accumulated))
      warpResults.push_back(
          warpAllReduce(b, loc, *outputs[i], loop.getResult(n)));
    {
      auto ifOp = scf::IfOp::create(b, loc, isZero(lane),
                                    /*withElseRegion=*/false);
      OpBuilder ib = ifOp.getThenBodyBuilder();
      for (auto [n, v] : llvm::enumerate(warpResults))
        memref::StoreOp::create(ib, loc, v,
                                launch.getWorkgroupAttributions()[n], warp);
    }
    gpu::BarrierOp::create(b, loc);
    auto ifOp = scf::IfOp::create(b, loc, isZero(tid), /*withElseRegion=*/false);
    OpBuilder ib = ifOp.getThenBodyBuilder();
    for (auto [n, i] : llvm::enumerate(accumulated)) {
      Combine combine = *outputs[i];
      Value partials = launch.getWorkgroupAttributions()[n];
      Value v;
      for (int64_t w = 0; w < rowWarps; ++w) {
        Value p = memref::LoadOp::create(
            ib, loc, partials, arith::ConstantIndexOp::create(ib, loc, w)
                                   .getResult());
        v = w ? apply(ib, loc, combine, v, p) : p;
      }
      Value out = op.getDpsInits()[i];
      Value old = memref::LoadOp::create(ib, loc, out, ValueRange{row});
      memref::StoreOp::create(ib, loc, apply(ib, loc, combine, old, v), out,
                              ValueRange{row});
    }
    gpu::TerminatorOp::create(b, loc);
    op.erase();
  }

  static TypedAttr identity(OpBuilder &b, Type type, Combine combine) {
    if (combine == Combine::MaxF || combine == Combine::MaxNumF)
      return b.getFloatAttr(type, -std::numeric_limits<double>::infinity());
    return cast<TypedAttr>(b.getZeroAttr(type));
  }

  static Value apply(OpBuilder &b, Location loc, Combine combine, Value x,
                     Value y) {
    switch (combine) {
    case Combine::AddF:
      return arith::AddFOp::create(b, loc, x, y);
    case Combine::AddI:
      return arith::AddIOp::create(b, loc, x, y);
    case Combine::MaxF:
      return arith::MaximumFOp::create(b, loc, x, y);
    case Combine::MaxNumF:
      return arith::MaxNumFOp::create(b, loc, x, y);
    }
    llvm_unreachable("unknown combine");
  }

  /// `v` combined over the 32 lanes of the warp (a butterfly: every lane
  /// gets the result).
  static Value warpAllReduce(OpBuilder &b, Location loc, Combine combine,
                             Value v) {
    for (int32_t offset = kWarpLanes / 2; offset > 0; offset /= 2)
      v = apply(b, loc, combine, v,
                gpu::ShuffleOp::create(b, loc, v, offset, kWarpLanes,
                                       gpu::ShuffleMode::XOR)
                    .getShuffleResult());
    return v;
  }

  void rewrite(linalg::GenericOp op) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto constant = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    Value tokenCount = sizes[0], featureCount = sizes[1], depth = sizes[2];
    Value one = constant(1);
    auto launch = launchTiles(b, loc, kernelName(op, "qc_linear"), featureCount,
                              warps, tokenCount, tokens, kWarpLanes * warps);

    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    Value tid = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, constant(kWarpLanes));
    Value feature = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(b, loc, launch.getBlockIds().x, constant(warps)),
        arith::DivUIOp::create(b, loc, tid, constant(kWarpLanes)));
    // Every lane stays in the loop and the shuffles; out-of-range warps and
    // tokens read the last row instead and do not store.
    Value lastFeature = arith::SubIOp::create(b, loc, featureCount, one);
    Value loadFeature = arith::MinUIOp::create(b, loc, feature, lastFeature);
    Value lastToken = arith::SubIOp::create(b, loc, tokenCount, one);
    SmallVector<Value> tokenIds, loadTokens;
    for (int64_t i = 0; i < tokens; ++i) {
      Value t = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(b, loc, launch.getBlockIds().y,
                                constant(tokens)),
          constant(i));
      tokenIds.push_back(t);
      loadTokens.push_back(arith::MinUIOp::create(b, loc, t, lastToken));
    }

    Value out = op.getDpsInitOperand(0)->get();
    Type accType = cast<MemRefType>(out.getType()).getElementType();
    Value zero = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(b.getZeroAttr(accType)));
    SmallVector<Value> inits(tokens, zero);
    // Each lane takes `vector` consecutive k per step, so that the inputs
    // read along K (activations, fp16 weights) are read as aligned 16-byte
    // vectors (the leading load of each run carries the alignment, LLVM's
    // load/store vectorizer merges the run).
    int64_t vector = vectorWidth(op, maxVector);
    Value laneStart = arith::MulIOp::create(b, loc, lane, constant(vector));
    auto loop = scf::ForOp::create(
        b, loc, laneStart, depth, constant(kWarpLanes * vector), inits,
        [&](OpBuilder &lb, Location ll, Value k0, ValueRange accs) {
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t e = 0; e < vector; ++e) {
            Value k =
                e ? arith::AddIOp::create(
                        lb, ll, k0, arith::ConstantIndexOp::create(lb, ll, e))
                        .getResult()
                  : k0;
            for (int64_t i = 0; i < tokens; ++i)
              next[i] =
                  clonePayload(lb, ll, op, {loadTokens[i], loadFeature, k},
                               {next[i]}, IndexForm{vector, e})[0];
          }
          scf::YieldOp::create(lb, ll, next);
        });

    // Sum the 32 lanes' partial sums (butterfly: every lane gets the total).
    Value isFirstLane = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                              lane, constant(0));
    Value featureInRange = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, feature, featureCount);
    Combine sumOf = isa<FloatType>(accType) ? Combine::AddF : Combine::AddI;
    for (int64_t i = 0; i < tokens; ++i) {
      Value sum = warpAllReduce(b, loc, sumOf, loop.getResult(i));
      Value store = arith::AndIOp::create(
          b, loc, arith::AndIOp::create(b, loc, isFirstLane, featureInRange),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, tokenIds[i],
                                tokenCount));
      auto ifOp = scf::IfOp::create(b, loc, store, /*withElseRegion=*/false);
      OpBuilder ib = ifOp.getThenBodyBuilder();
      SmallVector<Value> at = {tokenIds[i], feature};
      Value old = memref::LoadOp::create(ib, loc, out, at);
      memref::StoreOp::create(ib, loc, apply(ib, loc, sumOf, old, sum), out,
                              at);
    }
    gpu::TerminatorOp::create(b, loc);
    op.erase();
  }

  /// The features per packed weight element where `op` takes the column
  /// kernel (float sums, whole word columns: a clamped column must hold the
  /// features it computes); 0 for a warp per feature.
  int64_t columnPacking(linalg::GenericOp op) const {
    int64_t packing = featurePacking(op);
    int64_t features =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[1];
    bool floatSums = isa<FloatType>(
        getElementTypeOrSelf(op.getDpsInitOperand(0)->get().getType()));
    if (!columnLanes || packing == 1 || ShapedType::isDynamic(features) ||
        features % packing != 0 || !floatSums)
      return 0;
    return packing;
  }

  /// A contraction whose weights pack `packing` consecutive features per
  /// element (AWQ: eight per i32 word, rows along K): a thread owns the
  /// `packing` features of one word column, so each word is read once and
  /// decoded for all of them; a warp row covers `columnLanes` adjacent
  /// columns (consecutive words: coalesced), the warp's other lanes and the
  /// block's warps take interleaved k. Sums meet by xor shuffles within a
  /// warp, then in shared memory in warp order. One token (decode) gets a
  /// kernel of its own: a tile of `columnTokens` reuses each decoded weight
  /// for that many tokens, but costs a single token that many times the
  /// multiply-adds.
  void rewriteColumns(linalg::GenericOp op, int64_t packing) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    if (columnTokens > 1) {
      Value single =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, sizes[0],
                                arith::ConstantIndexOp::create(b, loc, 1));
      auto choice = scf::IfOp::create(b, loc, single, /*withElseRegion=*/true);
      b.setInsertionPoint(choice.thenBlock()->getTerminator());
      buildColumns(b, loc, op, sizes, packing, /*tileTokens=*/1);
      b.setInsertionPoint(choice.elseBlock()->getTerminator());
    }
    buildColumns(b, loc, op, sizes, packing, columnTokens);
    op.erase();
  }

  void buildColumns(OpBuilder &b, Location loc, linalg::GenericOp op,
                    ArrayRef<Value> sizes, int64_t packing,
                    int64_t tileTokens) {
    auto constant = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value tokenCount = sizes[0], featureCount = sizes[1], depth = sizes[2];
    int64_t slicesPerWarp = kWarpLanes / columnLanes;
    int64_t slices = slicesPerWarp * columnWarps;
    int64_t blockFeatures = columnLanes * packing;
    int64_t threads = kWarpLanes * columnWarps;
    // Unrolled steps need K to be a multiple of slices x unroll: the most
    // of the option's, halved until it is (1 where K is dynamic).
    int64_t staticDepth =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
    int64_t unroll = ShapedType::isDynamic(staticDepth) ? 1
                     : tileTokens == 1                  ? columnUnroll
                                                        : columnTileUnroll;
    while (unroll > 1 && staticDepth % (slices * unroll) != 0)
      unroll /= 2;
    Value out = op.getDpsInitOperand(0)->get();
    Type accType = cast<MemRefType>(out.getType()).getElementType();
    auto partialsType =
        MemRefType::get({columnWarps, tileTokens, blockFeatures}, accType,
                        MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3));
    FlatSymbolRefAttr symbol =
        kernelName(op, tileTokens == 1 ? "qc_linear_columns"
                                       : "qc_linear_columns_t" +
                                             std::to_string(tileTokens));
    Value one = constant(1);
    auto launch = launchTiles(b, loc, symbol, featureCount, blockFeatures,
                              tokenCount, tileTokens, threads, {partialsType});
    b.setInsertionPointToStart(&launch.getBody().front());
    Value partials = launch.getWorkgroupAttributions().front();
    Value tid = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, constant(kWarpLanes));
    Value warp = arith::DivUIOp::create(b, loc, tid, constant(kWarpLanes));
    Value column = arith::RemUIOp::create(b, loc, lane, constant(columnLanes));
    Value slice = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, warp, constant(slicesPerWarp)),
        arith::DivUIOp::create(b, loc, lane, constant(columnLanes)));
    Value firstFeature = arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                                               constant(blockFeatures));
    Value firstToken = arith::MulIOp::create(b, loc, launch.getBlockIds().y,
                                             constant(tileTokens));
    // Out-of-range tokens and word columns read the last one and are not
    // stored. A column's features are its first plus 0..packing-1, so
    // that every copy of the payload visibly reads the same word.
    auto clampedTo = [&](Value last, Value v) -> Value {
      return arith::MinUIOp::create(b, loc, v, last);
    };
    Value columnFeature = clampedTo(
        arith::SubIOp::create(b, loc, featureCount, constant(packing)),
        arith::AddIOp::create(
            b, loc, firstFeature,
            arith::MulIOp::create(b, loc, column, constant(packing))));
    SmallVector<Value> loadFeatures, loadTokens;
    for (int64_t j = 0; j < packing; ++j)
      loadFeatures.push_back(
          j ? arith::AddIOp::create(b, loc, columnFeature, constant(j))
                  .getResult()
            : columnFeature);
    Value lastToken = arith::SubIOp::create(b, loc, tokenCount, one);
    for (int64_t t = 0; t < tileTokens; ++t)
      loadTokens.push_back(clampedTo(
          lastToken, arith::AddIOp::create(b, loc, firstToken, constant(t))));

    Value zero = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(b.getZeroAttr(accType)));
    SmallVector<Value> inits(tileTokens * packing, zero);
    auto loop = scf::ForOp::create(
        b, loc, slice, depth, constant(slices * unroll), inits,
        [&](OpBuilder &lb, Location ll, Value k0, ValueRange accs) {
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t u = 0; u < unroll; ++u) {
            Value k = u ? arith::AddIOp::create(lb, ll, k0,
                                                arith::ConstantIndexOp::create(
                                                    lb, ll, u * slices))
                              .getResult()
                        : k0;
            for (int64_t j = 0; j < packing; ++j)
              for (int64_t t = 0; t < tileTokens; ++t) {
                Value &acc = next[t * packing + j];
                // Column starts are multiples of `packing`: a run of
                // per-feature values (scales) starts 16-byte aligned.
                acc = clonePayload(
                    lb, ll, op, {loadTokens[t], loadFeatures[j], k}, {acc},
                    /*reducedIndex=*/std::nullopt, IndexForm{packing, j})[0];
              }
          }
          scf::YieldOp::create(lb, ll, next);
        });

    // The warp's slices (lanes columnLanes apart) combine by xor shuffles;
    // its first row of lanes leaves the sums in shared memory.
    SmallVector<Value> sums;
    for (Value v : loop.getResults()) {
      for (int32_t offset = columnLanes; offset < kWarpLanes; offset *= 2)
        v = arith::AddFOp::create(b, loc, v,
                                  gpu::ShuffleOp::create(b, loc, v, offset,
                                                         kWarpLanes,
                                                         gpu::ShuffleMode::XOR)
                                      .getShuffleResult());
      sums.push_back(v);
    }
    {
      auto ifOp = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lane,
                                constant(columnLanes)),
          /*withElseRegion=*/false);
      OpBuilder ib = ifOp.getThenBodyBuilder();
      for (int64_t t = 0; t < tileTokens; ++t)
        for (int64_t j = 0; j < packing; ++j)
          memref::StoreOp::create(
              ib, loc, sums[t * packing + j], partials,
              ValueRange{
                  warp, arith::ConstantIndexOp::create(ib, loc, t),
                  arith::AddIOp::create(
                      ib, loc,
                      arith::MulIOp::create(
                          ib, loc, column,
                          arith::ConstantIndexOp::create(ib, loc, packing)),
                      arith::ConstantIndexOp::create(ib, loc, j))});
    }
    gpu::BarrierOp::create(b, loc);
    // Each output of the block: the warps' sums in warp order.
    scf::ForOp::create(
        b, loc, tid, constant(tileTokens * blockFeatures), constant(threads),
        ValueRange{}, [&](OpBuilder &lb, Location ll, Value e, ValueRange) {
          auto index = [&](int64_t v) {
            return arith::ConstantIndexOp::create(lb, ll, v);
          };
          Value t = arith::DivUIOp::create(lb, ll, e, index(blockFeatures));
          Value f = arith::RemUIOp::create(lb, ll, e, index(blockFeatures));
          Value sum;
          for (int64_t w = 0; w < columnWarps; ++w) {
            Value v = memref::LoadOp::create(lb, ll, partials,
                                             ValueRange{index(w), t, f});
            sum = w ? arith::AddFOp::create(lb, ll, sum, v).getResult() : v;
          }
          addToOutput(lb, ll, out, arith::AddIOp::create(lb, ll, firstToken, t),
                      arith::AddIOp::create(lb, ll, firstFeature, f),
                      tokenCount, featureCount, sum);
          scf::YieldOp::create(lb, ll);
        });
    gpu::TerminatorOp::create(b, loc);
  }

  /// Elements per lane step: 16 bytes of the narrowest data read along K
  /// (at most `maxVector`) when K is static and a multiple of 32 steps of
  /// it, else 1.
  static int64_t vectorWidth(linalg::GenericOp op, int64_t maxVector) {
    int64_t depth =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
    int64_t bits = narrowestBitsAlongReduction(op);
    int64_t width = bits ? 128 / bits : 1;
    width = std::clamp<int64_t>(width, 1, std::max<int64_t>(maxVector, 1));
    if (ShapedType::isDynamic(depth) || depth % (width * kWarpLanes) != 0)
      return 1;
    return width;
  }
};

} // namespace
