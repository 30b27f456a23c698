//===- TensorCoreContractions.cpp - linear layers on tensor cores ---------===//
//
// Prefill and batched decode multiply many tokens by the same weights: past
// a few tokens a warp per feature on CUDA cores (qc-warp-contractions) is
// compute-bound, while one tensor-core instruction does 16 x 8 x 16
// multiply-adds. This pass gives half-precision linear layers a second
// kernel on nvgpu.mma.sync (NVIDIA) or amdgpu.mfma (AMD), chosen on the host
// when a step has enough tokens.
//
// Operands come straight from global memory into registers: every lane
// loads 8 consecutive k of each row and column it owns (16-byte loads of
// f16 data, L1-cached for the lanes that share them), evaluates the
// payload's dequantization on them, and hands them to two instructions as
// the k slots it owns. Which physical k fills which slot is a permutation
// of K that depends only on the lane's k slot, the same for both operands,
// so the products and the sum are unchanged; it needs no shared-memory
// staging or ldmatrix shuffles. On NVIDIA, fp16 layers in steps of many
// tokens take a block-tiled kernel staged in shared memory instead
// (StagedMmaKernel.cpp; WgmmaKernel.cpp on sm_90a).
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"
#include "qc/Conversion/QCKernels.h"

#include "ContractionPayload.h"
#include "StagedMmaKernel.h"
#include "TensorCoreFragments.h"
#include "WgmmaKernel.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCTENSORCORECONTRACTIONS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// K per step: two instructions of k = 16, 8 physical k per lane.
constexpr int64_t kStepDepth = 32;
constexpr int64_t kLaneDepth = 8;
/// Static shared memory a block may use without opting in to more, and
/// what a Hopper block may opt in to.
constexpr int64_t kSharedMemoryBytes = 48 * 1024;
constexpr int64_t kHopperSharedMemoryBytes = 227 * 1024;

/// Whether payload value `v` depends on loop `dim`: through an input indexed
/// by it or a linalg.index of it.
bool dependsOnLoop(linalg::GenericOp op, Value v, unsigned dim) {
  SmallVector<Value> worklist = {v};
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value next = worklist.pop_back_val();
    if (!seen.insert(next).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(next)) {
      if (arg.getOwner() != op.getBody())
        continue;
      AffineMap map =
          op.getMatchingIndexingMap(&op->getOpOperand(arg.getArgNumber()));
      if (map.isFunctionOfDim(dim))
        return true;
      continue;
    }
    Operation *def = next.getDefiningOp();
    if (!def || def->getBlock() != op.getBody())
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(def))
      if (index.getDim() == dim)
        return true;
    llvm::append_range(worklist, def->getOperands());
  }
  return false;
}

/// The factors of a contraction that tensor cores compute exactly as the
/// payload does up to the weight's rounding to f16: an f32 accumulator, an
/// activation that is an f16 value extended, and an f32 weight.
FailureOr<Factors> halfPrecisionFactors(linalg::GenericOp op) {
  if (!isTokenFeatureContraction(op))
    return failure();
  Block *body = op.getBody();
  if (!body->getArguments().back().getType().isF32())
    return failure();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto sum = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!sum)
    return failure();
  Value product =
      sum.getLhs() == body->getArguments().back() ? sum.getRhs() : sum.getLhs();
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return failure();
  for (auto [x, y] : {std::pair(mul.getLhs(), mul.getRhs()),
                      std::pair(mul.getRhs(), mul.getLhs())}) {
    auto ext = x.getDefiningOp<arith::ExtFOp>();
    if (!ext || !ext.getIn().getType().isF16() || !dependsOnLoop(op, x, 0) ||
        dependsOnLoop(op, x, 1) || dependsOnLoop(op, y, 0))
      continue;
    return Factors{x, y};
  }
  return failure();
}

struct QCTensorCoreContractionsPass
    : mlir::qc::impl::QCTensorCoreContractionsBase<
          QCTensorCoreContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    FragmentLayout layout = FragmentLayout::forChip(chip);
    if (tileTokens <= 0 || tileTokens % layout.tokens != 0 ||
        tileFeatures <= 0 || tileFeatures % layout.features != 0 ||
        kSplit <= 0) {
      getOperation().emitError()
          << "qc-tensor-core-contractions: tile-tokens must be a multiple of "
          << layout.tokens << ", tile-features of " << layout.features
          << " and k-split positive";
      return signalPassFailure();
    }
    StagedTile staged = stagedTile();
    // Checked on sm_90a too: layers whose K is not a multiple of 64 keep
    // the mma.sync staged kernel there.
    if (stagedMinTokens > 0 &&
        (staged.tokens <= 0 || staged.tokens % 32 || staged.features <= 0 ||
         staged.features % 32 || staged.depth <= 0 || staged.depth % 32 ||
         staged.stages < 2 || stagedTileBytes(staged) > kSharedMemoryBytes)) {
      getOperation().emitError()
          << "qc-tensor-core-contractions: staged-tile-tokens, "
             "staged-tile-features and staged-tile-depth must be multiples "
             "of 32, stages at least 2, and their buffers ("
          << stagedTileBytes(staged) << " bytes) within " << kSharedMemoryBytes
          << " bytes of shared memory";
      return signalPassFailure();
    }
    WgmmaTile wgmma = wgmmaTile();
    if (useWgmma() && ((wgmma.tokens != 64 && wgmma.tokens != 128) ||
                       wgmma.features % (16 * wgmma.warpgroups()) ||
                       wgmma.features > 256 || wgmma.stages < 3 ||
                       wgmmaSharedBytes(wgmma) > kHopperSharedMemoryBytes)) {
      getOperation().emitError()
          << "qc-tensor-core-contractions: wgmma-tile-tokens must be 64 or "
             "128, wgmma-tile-features a multiple of 16 per warpgroup up to "
             "256, wgmma-stages at least 3, and their buffers ("
          << wgmmaSharedBytes(wgmma) << " bytes) within "
          << kHopperSharedMemoryBytes << " bytes of shared memory";
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Factors>> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      int64_t depth =
          cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
      FailureOr<Factors> factors = halfPrecisionFactors(op);
      if (succeeded(factors) && !ShapedType::isDynamic(depth) &&
          depth % kStepDepth == 0)
        candidates.push_back({op, *factors});
    });
    for (auto [op, factors] : candidates)
      rewrite(op, factors, layout);
  }

  StagedTile stagedTile() const {
    return {stagedTileTokens, stagedTileFeatures, stagedTileDepth, stages};
  }
  /// The layer's output features (static: a weight dimension), 0 if dynamic.
  static int64_t featureCount(linalg::GenericOp op) {
    int64_t n =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[1];
    return ShapedType::isDynamic(n) ? 0 : n;
  }
  WgmmaTile wgmmaTile() const {
    return {wgmmaTileTokens, wgmmaTileFeatures, wgmmaStages};
  }
  /// The staged kernel is the wgmma one: sm_90a (the "a" features).
  bool useWgmma() const {
    return stagedMinTokens > 0 && chip == "sm_90a" && wgmmaTileFeatures != 0;
  }

  /// `if (tokens >= min-tokens) <tensor-core kernel> else <op>`, the
  /// tensor-core kernel being `if (tokens >= staged-min-tokens) <staged>
  /// else <direct>` on NVIDIA.
  void rewrite(linalg::GenericOp op, Factors factors,
               const FragmentLayout &layout) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    auto atLeast = [&](int64_t tokens) -> scf::IfOp {
      Value enough =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, sizes[0],
                                arith::ConstantIndexOp::create(b, loc, tokens));
      return scf::IfOp::create(b, loc, enough, /*withElseRegion=*/true);
    };
    scf::IfOp branch = atLeast(minTokens);
    op->moveBefore(branch.elseBlock()->getTerminator());
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    int64_t depth =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
    // Staging pays where both operands travel by cp.async; dequantizing
    // weights into shared memory stalls the pipeline on the staging
    // threads' loads (benchmarks/RESULTS.md), so it is opt-in. On sm_90a,
    // quantized weights are instead dequantized into an f16 buffer once
    // per step, which the wgmma kernel then copies as it is.
    bool weightsCopied =
        static_cast<bool>(copiedRows(op, factors.weight, /*rowLoop=*/1));
    bool wgmma = useWgmma() && depth % WgmmaTile::kDepth == 0;
    // Not for weights packed along features (AWQ's [K, N/8] words): the
    // dequantizing threads, 8 k of one feature each, would read every word
    // 8 times over, slower than the direct kernel (benchmarks/RESULTS.md).
    bool dequantize = wgmma && !weightsCopied && !stagedDequantized &&
                      wgmmaDequantize && featurePacking(op) == 1;
    if (layout.nvidia && stagedMinTokens > 0 &&
        (wgmma || depth % stagedTileDepth == 0) &&
        (weightsCopied || stagedDequantized || dequantize)) {
      scf::IfOp staged = atLeast(stagedMinTokens);
      b.setInsertionPoint(staged.thenBlock()->getTerminator());
      Value rows = dequantize
                       ? buildDequantizedWeights(b, loc, op, factors, sizes)
                       : Value();
      if (wgmma) {
        scf::IfOp wide;
        if (wgmmaWideMinTokens > 0 &&
            featureCount(op) >= wgmmaWideMinFeatures) {
          // Wide layers at many tokens: a block of 128 x 256 reads each
          // weight slice for twice the tokens and each activation slice
          // for four times the features; smaller layers would leave SMs
          // idle.
          wide = atLeast(wgmmaWideMinTokens);
          b.setInsertionPoint(wide.thenBlock()->getTerminator());
          buildWgmmaKernel(b, loc, op, factors, sizes, WgmmaTile::wide(),
                           "qc_linear_wgmma_wide", rows, wgmmaTma);
          b.setInsertionPoint(wide.elseBlock()->getTerminator());
        }
        buildWgmmaKernel(b, loc, op, factors, sizes, wgmmaTile(),
                         "qc_linear_wgmma", rows, wgmmaTma);
      } else {
        buildStagedMmaKernel(b, loc, op, factors, sizes, stagedTile());
      }
      if (rows) {
        b.setInsertionPoint(staged.thenBlock()->getTerminator());
        memref::DeallocOp::create(b, loc, rows);
      }
      b.setInsertionPoint(staged.elseBlock()->getTerminator());
    }
    buildKernel(b, loc, op, factors, layout, sizes);
    // Steps this small were taken by an earlier kernel choice: the CUDA-core
    // form of the layer would never run.
    if (auto known = op->getAttrOfType<IntegerAttr>(kMinTokensAttr);
        known && known.getInt() >= minTokens)
      op.erase();
  }

  void buildKernel(OpBuilder &b, Location loc, linalg::GenericOp op,
                   Factors factors, const FragmentLayout &layout,
                   ArrayRef<Value> sizes) {
    auto constant = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value tokenCount = sizes[0], featureCount = sizes[1], depth = sizes[2];
    int64_t fragmentRows = tileTokens / layout.tokens;
    int64_t fragmentColumns = tileFeatures / layout.features;
    int64_t accumulators = fragmentRows * fragmentColumns;
    MLIRContext *ctx = b.getContext();
    Type f32 = Float32Type::get(ctx);
    VectorType accType = layout.accumulatorType(ctx);
    // The k-split warps' partial sums meet in shared memory.
    auto partialsType =
        MemRefType::get({kSplit, layout.lanes, accumulators * 4}, f32,
                        MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3));

    Value one = constant(1);
    auto launch = launchTiles(
        b, loc, kernelName(op, "qc_linear_mma"), featureCount, tileFeatures,
        tokenCount, tileTokens, layout.lanes * kSplit, {partialsType});
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    Value partials = launch.getWorkgroupAttributions().front();
    Value tid = launch.getThreadIds().x;
    Value lane = arith::RemUIOp::create(b, loc, tid, constant(layout.lanes));
    Value warp = arith::DivUIOp::create(b, loc, tid, constant(layout.lanes));
    Value firstToken = arith::MulIOp::create(b, loc, launch.getBlockIds().y,
                                             constant(tileTokens));
    Value firstFeature = arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                                               constant(tileFeatures));
    // first + offset + fragment * size, clamped to last: out-of-range rows
    // and columns load the last one and are not stored.
    auto clamped = [&](Value first, Value offset, int64_t fragment,
                       int64_t size, Value count) -> Value {
      return arith::MinUIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, first,
              arith::AddIOp::create(b, loc, offset, constant(fragment * size))),
          arith::SubIOp::create(b, loc, count, one));
    };
    SmallVector<SmallVector<Value>> tokenRows; // [fragment row][h]
    for (int64_t i = 0; i < fragmentRows; ++i)
      tokenRows.push_back(llvm::map_to_vector(
          layout.tokenRows(b, loc, lane), [&](Value offset) {
            return clamped(firstToken, offset, i, layout.tokens, tokenCount);
          }));
    SmallVector<Value> featureColumns;
    Value column = layout.featureColumn(b, loc, lane);
    for (int64_t j = 0; j < fragmentColumns; ++j)
      featureColumns.push_back(
          clamped(firstFeature, column, j, layout.features, featureCount));

    // Each loop iteration loads `unroll` K steps before their instructions
    // (more loads in flight); warp w sums iterations
    // [w * iterations / split, (w + 1) * iterations / split).
    int64_t staticDepth =
        cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
    int64_t unrolled = std::max<int64_t>(unroll, 1);
    while (unrolled > 1 && staticDepth % (kStepDepth * unrolled * kSplit))
      unrolled /= 2;
    int64_t chunk = kStepDepth * unrolled;
    Value iterations = arith::DivUIOp::create(b, loc, depth, constant(chunk));
    auto bound = [&](Value w) -> Value {
      return arith::MulIOp::create(
          b, loc,
          arith::DivUIOp::create(b, loc,
                                 arith::MulIOp::create(b, loc, w, iterations),
                                 constant(kSplit)),
          constant(chunk));
    };
    Value kBegin = bound(warp);
    Value kEnd = bound(arith::AddIOp::create(b, loc, warp, one));
    Value laneK = arith::MulIOp::create(b, loc, layout.kSlot(b, loc, lane),
                                        constant(kLaneDepth));
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
    SmallVector<Value> inits(accumulators, zero);
    auto loop = scf::ForOp::create(
        b, loc, kBegin, kEnd, constant(chunk), inits,
        [&](OpBuilder &lb, Location ll, Value k0, ValueRange accs) {
          auto index = [&](int64_t v) -> Value {
            return arith::ConstantIndexOp::create(lb, ll, v);
          };
          auto loadHalves = [&](Value factor, Value token, Value feature,
                                Value k) {
            return halvesAt(lb, ll, op, factor, token, feature, k, kLaneDepth);
          };
          // a[u][i][h][e], w[u][j][e].
          SmallVector<SmallVector<SmallVector<SmallVector<Value>>>> a;
          SmallVector<SmallVector<SmallVector<Value>>> w;
          for (int64_t u = 0; u < unrolled; ++u) {
            Value k = arith::AddIOp::create(
                lb, ll,
                arith::AddIOp::create(lb, ll, k0, index(u * kStepDepth)),
                laneK);
            a.emplace_back();
            for (ArrayRef<Value> rows : tokenRows) {
              a.back().emplace_back();
              for (Value token : rows)
                a.back().back().push_back(loadHalves(factors.activation, token,
                                                     featureColumns[0], k));
            }
            w.emplace_back();
            for (Value feature : featureColumns)
              w.back().push_back(
                  loadHalves(factors.weight, tokenRows[0][0], feature, k));
          }
          SmallVector<Value> next(accs.begin(), accs.end());
          for (int64_t u = 0; u < unrolled; ++u)
            for (int64_t s = 0; s < 2; ++s)
              for (int64_t i = 0; i < fragmentRows; ++i)
                for (int64_t j = 0; j < fragmentColumns; ++j) {
                  Value &acc = next[i * fragmentColumns + j];
                  acc = layout.multiplyAdd(lb, ll, a[u][i], w[u][j], s, acc);
                }
          scf::YieldOp::create(lb, ll, next);
        });

    // Warps other than 0 leave their sums in shared memory; warp 0 adds
    // them in warp order and stores.
    auto element = [&](OpBuilder &eb, int64_t n, int64_t e) -> Value {
      return vector::ExtractOp::create(eb, loc, loop.getResult(n),
                                       layout.accumulatorPosition(e));
    };
    Value isFirstWarp = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                              warp, constant(0));
    {
      auto ifOp = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, warp,
                                constant(0)),
          /*withElseRegion=*/false);
      OpBuilder ib = ifOp.getThenBodyBuilder();
      for (int64_t n = 0; n < accumulators; ++n)
        for (int64_t e = 0; e < 4; ++e)
          memref::StoreOp::create(
              ib, loc, element(ib, n, e), partials,
              ValueRange{warp, lane,
                         FragmentLayout::index(ib, loc, 4 * n + e)});
    }
    gpu::BarrierOp::create(b, loc);
    auto ifOp =
        scf::IfOp::create(b, loc, isFirstWarp, /*withElseRegion=*/false);
    OpBuilder ib = ifOp.getThenBodyBuilder();
    Value out = op.getDpsInitOperand(0)->get();
    SmallVector<std::pair<Value, Value>> elements =
        layout.accumulatorElements(ib, loc, lane);
    for (int64_t i = 0; i < fragmentRows; ++i)
      for (int64_t j = 0; j < fragmentColumns; ++j)
        for (int64_t e = 0; e < 4; ++e) {
          int64_t n = i * fragmentColumns + j;
          Value sum = element(ib, n, e);
          for (int64_t other = 1; other < kSplit; ++other)
            sum = arith::AddFOp::create(
                ib, loc, sum,
                memref::LoadOp::create(
                    ib, loc, partials,
                    ValueRange{FragmentLayout::index(ib, loc, other), lane,
                               FragmentLayout::index(ib, loc, 4 * n + e)}));
          Value token = arith::AddIOp::create(
              ib, loc, firstToken,
              arith::AddIOp::create(
                  ib, loc, elements[e].first,
                  FragmentLayout::index(ib, loc, i * layout.tokens)));
          Value feature = arith::AddIOp::create(
              ib, loc, firstFeature,
              arith::AddIOp::create(
                  ib, loc, elements[e].second,
                  FragmentLayout::index(ib, loc, j * layout.features)));
          addToOutput(ib, loc, out, token, feature, tokenCount, featureCount,
                      sum);
        }
    gpu::TerminatorOp::create(b, loc);
  }
};

} // namespace
