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
// staging or ldmatrix shuffles.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"

#include "ContractionPayload.h"

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

/// The payload `out + activation * weight` split into its factors: the one
/// that depends on the token (and not the feature) and the one that does
/// not depend on the token.
struct Factors {
  Value activation, weight;
};

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

/// How the lanes of a warp (NVIDIA, 32 lanes) or a wave (AMD, 64 lanes)
/// hold the operands of one instruction, f16 x f16 + f32 with k = 16:
/// NVIDIA mma.sync m16n8k16, AMD MFMA 16x16x16.
struct FragmentLayout {
  bool nvidia;
  int64_t lanes;
  int64_t tokens = 16;
  int64_t features;

  static FragmentLayout forChip(StringRef chip) {
    if (chip.starts_with("gfx"))
      return {/*nvidia=*/false, /*lanes=*/64, 16, /*features=*/16};
    return {/*nvidia=*/true, /*lanes=*/32, 16, /*features=*/8};
  }

  /// The lane's k slot (which 8 physical k of a 32-deep step it loads).
  Value kSlot(OpBuilder &b, Location loc, Value lane) const {
    if (nvidia)
      return arith::RemUIOp::create(b, loc, lane, index(b, loc, 4));
    return arith::DivUIOp::create(b, loc, lane, index(b, loc, 16));
  }
  /// Rows of a fragment's A (tokens) the lane holds, as offsets.
  SmallVector<Value> tokenRows(OpBuilder &b, Location loc, Value lane) const {
    if (nvidia) {
      Value g = arith::DivUIOp::create(b, loc, lane, index(b, loc, 4));
      return {g, arith::AddIOp::create(b, loc, g, index(b, loc, 8))};
    }
    return {arith::RemUIOp::create(b, loc, lane, index(b, loc, 16))};
  }
  /// The column of a fragment's B (feature) the lane holds, as an offset.
  Value featureColumn(OpBuilder &b, Location loc, Value lane) const {
    if (nvidia)
      return arith::DivUIOp::create(b, loc, lane, index(b, loc, 4));
    return arith::RemUIOp::create(b, loc, lane, index(b, loc, 16));
  }
  /// The (token, feature) offsets of the lane's 4 accumulator elements.
  SmallVector<std::pair<Value, Value>>
  accumulatorElements(OpBuilder &b, Location loc, Value lane) const {
    SmallVector<std::pair<Value, Value>> elements;
    if (nvidia) {
      Value g = arith::DivUIOp::create(b, loc, lane, index(b, loc, 4));
      Value t2 = arith::MulIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, lane, index(b, loc, 4)),
          index(b, loc, 2));
      for (int64_t e = 0; e < 4; ++e)
        elements.push_back(
            {arith::AddIOp::create(b, loc, g, index(b, loc, 8 * (e / 2))),
             arith::AddIOp::create(b, loc, t2, index(b, loc, e % 2))});
      return elements;
    }
    Value q4 = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, lane, index(b, loc, 16)),
        index(b, loc, 4));
    Value r = arith::RemUIOp::create(b, loc, lane, index(b, loc, 16));
    for (int64_t e = 0; e < 4; ++e)
      elements.push_back(
          {arith::AddIOp::create(b, loc, q4, index(b, loc, e)), r});
    return elements;
  }

  VectorType accumulatorType(MLIRContext *ctx) const {
    Type f32 = Float32Type::get(ctx);
    return nvidia ? VectorType::get({2, 2}, f32) : VectorType::get({4}, f32);
  }
  /// Element e of an accumulator (the order of accumulatorElements).
  SmallVector<int64_t> accumulatorPosition(int64_t e) const {
    if (nvidia)
      return {e / 2, e % 2};
    return {e};
  }

  /// acc + A x B for the lane's values of k step `s` (physical k
  /// 4s .. 4s+3 of its 8): `rows[h][j]` for A's rows, `column[j]` for B.
  Value multiplyAdd(OpBuilder &b, Location loc,
                    ArrayRef<SmallVector<Value>> rows, ArrayRef<Value> column,
                    int64_t s, Value acc) const {
    Type f16 = Float16Type::get(b.getContext());
    auto pack = [&](ArrayRef<Value> values) -> Value {
      return vector::FromElementsOp::create(
          b, loc, VectorType::get({int64_t(values.size())}, f16), values);
    };
    auto stack = [&](ArrayRef<Value> rowsOfTwo) -> Value {
      auto type = VectorType::get({int64_t(rowsOfTwo.size()), 2}, f16);
      Value v = arith::ConstantOp::create(b, loc, b.getZeroAttr(type));
      for (auto [i, row] : llvm::enumerate(rowsOfTwo))
        v = vector::InsertOp::create(b, loc, row, v, int64_t(i));
      return v;
    };
    int64_t k = 4 * s;
    if (nvidia) {
      // A slots: (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..);
      // B slots: (2t..2t+1, g), (2t+8..2t+9, g).
      Value a = stack({pack({rows[0][k], rows[0][k + 1]}),
                       pack({rows[1][k], rows[1][k + 1]}),
                       pack({rows[0][k + 2], rows[0][k + 3]}),
                       pack({rows[1][k + 2], rows[1][k + 3]})});
      Value bm = stack({pack({column[k], column[k + 1]}),
                        pack({column[k + 2], column[k + 3]})});
      return nvgpu::MmaSyncOp::create(b, loc, a, bm, acc,
                                      ArrayRef<int64_t>{16, 8, 16});
    }
    // MFMA 16x16x16: lane (r, q) holds A[r][4q..4q+3] and B[4q..4q+3][r].
    Value a = pack(ArrayRef(rows[0]).slice(k, 4));
    Value bm = pack(column.slice(k, 4));
    return amdgpu::MFMAOp::create(b, loc, acc.getType(), 16, 16, 16, 1, a, bm,
                                  acc);
  }

  static Value index(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
};

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

  /// `if (tokens >= min-tokens) <tensor-core kernel> else <op>`.
  void rewrite(linalg::GenericOp op, Factors factors,
               const FragmentLayout &layout) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    Value enough = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::uge, sizes[0],
        arith::ConstantIndexOp::create(b, loc, minTokens));
    auto branch = scf::IfOp::create(b, loc, enough, /*withElseRegion=*/true);
    op->moveBefore(branch.elseBlock()->getTerminator());
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    buildKernel(b, loc, op, factors, layout, sizes);
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
    Type f16 = Float16Type::get(ctx);
    Type f32 = Float32Type::get(ctx);
    VectorType accType = layout.accumulatorType(ctx);
    // The k-split warps' partial sums meet in shared memory.
    auto partialsType =
        MemRefType::get({kSplit, layout.lanes, accumulators * 4}, f32,
                        MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3));

    FlatSymbolRefAttr symbol = kernelName(op, "qc_linear_mma");
    Value one = constant(1);
    auto launch = gpu::LaunchOp::create(
        b, loc,
        arith::CeilDivUIOp::create(b, loc, featureCount,
                                   constant(tileFeatures)),
        arith::CeilDivUIOp::create(b, loc, tokenCount, constant(tileTokens)),
        one, constant(layout.lanes * kSplit), one, one,
        /*dynamicSharedMemorySize=*/{}, /*asyncTokenType=*/{},
        /*asyncDependencies=*/{}, /*workgroupAttributions=*/{partialsType},
        /*privateAttributions=*/{}, /*clusterSizeX=*/{}, /*clusterSizeY=*/{},
        /*clusterSizeZ=*/{}, symbol, symbol);
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
          // The lane's 8 consecutive k from `k` of a factor, as f16: an f16
          // value extended is used as it is, a computed one (a
          // dequantization) is rounded.
          auto loadHalves = [&](Value factor, Value token, Value feature,
                                Value k) {
            auto ext = factor.getDefiningOp<arith::ExtFOp>();
            Value root =
                ext && ext.getIn().getType() == f16 ? ext.getIn() : factor;
            SmallVector<Value> halves;
            for (int64_t e = 0; e < kLaneDepth; ++e) {
              Value ke =
                  e ? arith::AddIOp::create(lb, ll, k, index(e)).getResult()
                    : k;
              Value v = clonePayloadValues(lb, ll, op, {token, feature, ke},
                                           {Value()}, root,
                                           IndexForm{kLaneDepth, e})[0];
              halves.push_back(v.getType() == f16
                                   ? v
                                   : arith::TruncFOp::create(lb, ll, f16, v));
            }
            return halves;
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
          Value inRange = arith::AndIOp::create(
              ib, loc,
              arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ult, token,
                                    tokenCount),
              arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ult, feature,
                                    featureCount));
          auto store = scf::IfOp::create(ib, loc, inRange,
                                         /*withElseRegion=*/false);
          OpBuilder sb = store.getThenBodyBuilder();
          SmallVector<Value> at = {token, feature};
          Value old = memref::LoadOp::create(sb, loc, out, at);
          memref::StoreOp::create(
              sb, loc, arith::AddFOp::create(sb, loc, old, sum), out, at);
        }
    gpu::TerminatorOp::create(b, loc);
  }
};

} // namespace
