//===- AwqMmaKernel.cpp - AWQ layers of few tokens on tensor cores --------===//
//
// Decode and small batches are bound by the weight bytes. A kernel that
// decodes AWQ codes a feature at a time on CUDA cores spends more
// instructions per byte than the GPU can issue at its memory rate; this one
// does what Marlin does: the package stores the codes in the order of the
// tensor-core fragments (#qc.awq<..., layout = mma>, AWQLayouts.h), so a
// lane's 16-byte load is the A operands of four mma.sync m16n8k16 (16
// features x 16 k each), two codes become a biased half2 with a shift and
// an and/or, and the multiply-adds run on tensor cores.
//
// The kernel is chosen by what the weight is — the generic's
// qc.quantized_weight type — and reads the storage tensors the payload
// captures, identified by their types.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"
#include "qc/Conversion/QCKernels.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "ContractionPayload.h"
#include "TensorCoreFragments.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCAWQMMACONTRACTIONS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// K per block of the layout, features per tile, tokens per mma column.
constexpr int64_t kDepth = AWQAttr::kMmaTileDepth;
constexpr int64_t kFeatures = AWQAttr::kMmaTileFeatures;
constexpr int64_t kTokens = 8;
/// 0x6400 | q is the half 1024 + q: two codes per i32 at a time.
constexpr int32_t kCodeMask = 0x000F000F;
constexpr int32_t kBiasedHalves = 0x64006400;

/// The buffers of an AWQ contraction in the mma layout.
struct AwqOperands {
  AWQAttr scheme;
  int64_t n, k;
  Value activations; ///< memref<?xKxf16>
  Value qweight;     ///< memref<N/16 x 2K x i32>
  Value qzeros;      ///< memref<K/G x N/8 x i32>, null if symmetric
  Value scales;      ///< memref<K/G x N x f16>
  Value out;         ///< memref<?xNxf32>
};

/// The contraction's buffers, if `op` is a linear layer over an AWQ weight
/// in the mma layout with f16 activations and f32 sums.
FailureOr<AwqOperands> awqOperands(linalg::GenericOp op) {
  auto attr = op->getAttrOfType<TypeAttr>(kQuantizedWeightAttr);
  if (!attr || !isTokenFeatureContraction(op) || op.getNumDpsInputs() != 1)
    return failure();
  auto qtype = dyn_cast<QWeightType>(attr.getValue());
  auto scheme = qtype ? dyn_cast<AWQAttr>(qtype.getScheme()) : AWQAttr();
  if (!scheme || scheme.getLayout() != AWQLayout::Mma)
    return failure();
  AwqOperands ops{scheme, qtype.getN(), qtype.getK(), {}, {}, {}, {}, {}};
  ops.activations = op.getDpsInputs()[0];
  ops.out = op.getDpsInits()[0];
  auto x = cast<MemRefType>(ops.activations.getType());
  auto out = cast<MemRefType>(ops.out.getType());
  if (!x.getElementType().isF16() || x.getDimSize(1) != ops.k ||
      !out.getElementType().isF32() || out.getDimSize(1) != ops.n)
    return failure();
  MLIRContext *ctx = op.getContext();
  Type i32 = IntegerType::get(ctx, 32), f16 = Float16Type::get(ctx);
  int64_t groups = ops.k / scheme.getGroupSize();
  auto is = [](Value v, ArrayRef<int64_t> shape, Type element) {
    auto t = dyn_cast<MemRefType>(v.getType());
    return t && t.getShape() == shape && t.getElementType() == element &&
           t.getLayout().isIdentity();
  };
  op.getBody()->walk([&](memref::LoadOp load) {
    Value buffer = load.getMemRef();
    if (buffer.getParentBlock() == op.getBody())
      return;
    if (is(buffer, {ops.n / kFeatures, 2 * ops.k}, i32))
      ops.qweight = buffer;
    else if (is(buffer, {groups, ops.n / 8}, i32))
      ops.qzeros = buffer;
    else if (is(buffer, {groups, ops.n}, f16))
      ops.scales = buffer;
  });
  if (!ops.qweight || !ops.scales ||
      (scheme.getZeroPoint() != static_cast<bool>(ops.qzeros)))
    return failure();
  return ops;
}

/// The f32 accumulator of a contraction that starts at zero and is only
/// rounded to f16 after it, which the kernel can do itself: it owns whole
/// outputs (split-K stays inside a block), so it stores the rounded sums
/// where the conversion would have put them, and the zero initialisation
/// and the conversion launch only for the larger steps the generic serves.
struct Epilogue {
  SmallVector<Operation *> init; ///< initialisation of `out` only it needs
  linalg::GenericOp convert;     ///< out -> half, a truncf per element
  Operation *halfAlloc = nullptr; ///< half's alloc, if after the contraction
  Value half;
};

Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

bool isZeroFill(Operation *op, Value buffer) {
  auto fill = dyn_cast<linalg::FillOp>(op);
  return fill && fill.getOutputs().front() == buffer &&
         matchPattern(fill.getInputs().front(), m_AnyZeroFloat());
}

/// Whether `copy`'s source is all zeros when it runs: a fresh buffer whose
/// zero fill precedes it and which nothing else writes in between (other
/// copies read it: bufferization shares one zero buffer between layers).
bool copiesZeros(memref::CopyOp copy) {
  Value source = copy.getSource();
  if (!source.getDefiningOp<memref::AllocOp>())
    return false;
  Operation *fill = nullptr;
  for (Operation *u : source.getUsers())
    if (isZeroFill(u, source) && u->getBlock() == copy->getBlock() &&
        u->isBeforeInBlock(copy))
      fill = u;
  if (!fill)
    return false;
  return llvm::all_of(source.getUsers(), [&](Operation *u) {
    auto reader = dyn_cast<memref::CopyOp>(u);
    return u == fill || isa<memref::DeallocOp>(u) ||
           (reader && reader.getSource() == source) ||
           (u->getBlock() == copy->getBlock() &&
            (!u->isBeforeInBlock(copy) || u->isBeforeInBlock(fill)));
  });
}

/// `g` is `half[i, j] = truncf(out[i, j])`.
bool isTruncation(linalg::GenericOp g, Value out) {
  if (g.getNumDpsInputs() != 1 || g.getNumDpsInits() != 1 ||
      g.getDpsInputs()[0] != out || g.getNumReductionLoops() != 0 ||
      !llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  auto from = cast<MemRefType>(out.getType());
  auto to = dyn_cast<MemRefType>(g.getDpsInits()[0].getType());
  if (!to || to.getShape() != from.getShape() || !to.getElementType().isF16())
    return false;
  Block &body = g.getRegion().front();
  auto trunc = dyn_cast<arith::TruncFOp>(&body.front());
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  return trunc && trunc.getIn() == body.getArgument(0) &&
         trunc->getNextNode() == yield && yield.getNumOperands() == 1 &&
         yield.getOperand(0) == trunc.getResult();
}

std::optional<Epilogue> matchEpilogue(linalg::GenericOp op,
                                      const AwqOperands &ops) {
  Value out = ops.out;
  Block *block = op->getBlock();
  if (!out.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  Epilogue e;
  Operation *fill = nullptr, *copyIn = nullptr;
  bool copiedFrom = false;
  for (Operation *user : out.getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    if (user->getBlock() != block)
      return std::nullopt;
    auto copy = dyn_cast<memref::CopyOp>(user);
    bool before = user->isBeforeInBlock(op);
    if (before && !fill && isZeroFill(user, out)) {
      fill = user;
    } else if (before && copy && copy.getSource() == out) {
      copiedFrom = true; // others start from this zero buffer
    } else if (before && copy && !copyIn && copiesZeros(copy)) {
      copyIn = user;
    } else {
      auto g = dyn_cast<linalg::GenericOp>(user);
      if (e.convert || !g || before || !isTruncation(g, out))
        return std::nullopt;
      e.convert = g;
    }
  }
  if (bool(fill) == bool(copyIn) || !e.convert)
    return std::nullopt;
  // What only this contraction needs moves into the generic's branch; a
  // zero fill that others copy stays where it is.
  if (copyIn)
    e.init = {copyIn};
  else if (!copiedFrom)
    e.init = {fill};
  // The kernel writes `half` where the contraction was: nothing in between
  // may touch memory, and it must not be the buffer the kernel reads.
  for (Operation *it = op->getNextNode(); it != e.convert.getOperation();
       it = it->getNextNode())
    if (!isMemoryEffectFree(it) && !isa<memref::AllocOp>(it))
      return std::nullopt;
  e.half = e.convert.getDpsInits()[0];
  if (rootBuffer(e.half) == rootBuffer(ops.activations))
    return std::nullopt;
  if (Operation *def = e.half.getDefiningOp();
      def && def->getBlock() == block && op->isBeforeInBlock(def)) {
    if (!isa<memref::AllocOp>(def) ||
        llvm::any_of(def->getOperands(), [&](Value v) {
          Operation *d = v.getDefiningOp();
          return d && d->getBlock() == block && op->isBeforeInBlock(d);
        }))
      return std::nullopt;
    e.halfAlloc = def;
  }
  return e;
}

struct AwqMmaContractionsPass
    : mlir::qc::impl::QCAwqMmaContractionsBase<AwqMmaContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (maxTokens < 0 || tileTokens <= 0 || tileTokens % kTokens != 0 ||
        warps < 1 || warps > 32 || unroll < 1) {
      getOperation().emitError()
          << "qc-awq-mma-contractions: max-tokens must be at least 0, "
             "tile-tokens a positive multiple of 8, warps 1 to 32 and "
             "unroll at least 1, got "
          << int64_t(maxTokens) << ", " << int64_t(tileTokens) << ", "
          << int64_t(warps) << ", " << int64_t(unroll);
      return signalPassFailure();
    }
    if (maxTokens == 0)
      return;
    SmallVector<std::pair<linalg::GenericOp, AwqOperands>> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (FailureOr<AwqOperands> ops = awqOperands(op); succeeded(ops))
        candidates.push_back({op, *ops});
    });
    for (auto &[op, ops] : candidates)
      rewrite(op, ops);
  }

  /// `if (tokens <= max-tokens) <kernel> else <op>`, the zero fill and the
  /// f16 conversion of the output moved into the else branch where the
  /// kernel does them itself.
  void rewrite(linalg::GenericOp op, const AwqOperands &ops) {
    std::optional<Epilogue> epilogue = matchEpilogue(op, ops);
    OpBuilder b(op);
    Location loc = op.getLoc();
    if (epilogue && epilogue->halfAlloc)
      epilogue->halfAlloc->moveBefore(op);
    SmallVector<Value> sizes = loopSizes(b, loc, op);
    Value few = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ule, sizes[0],
        arith::ConstantIndexOp::create(b, loc, maxTokens));
    auto branch = scf::IfOp::create(b, loc, few, /*withElseRegion=*/true);
    op->moveBefore(branch.elseBlock()->getTerminator());
    if (epilogue) {
      for (Operation *init : epilogue->init)
        init->moveBefore(op);
      epilogue->convert->moveAfter(op);
    }
    // Later passes need no kernel for fewer tokens than that.
    op->setAttr(kMinTokensAttr, b.getI64IntegerAttr(maxTokens + 1));
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    buildKernel(b, loc, op, ops, sizes[0],
                epilogue ? epilogue->half : Value());
  }

  /// The kernel; with `half`, it stores its sums there rounded to f16
  /// instead of adding them to the f32 output.
  void buildKernel(OpBuilder &b, Location loc, linalg::GenericOp op,
                   const AwqOperands &ops, Value tokenCount, Value half) {
    IndexMath math{loc};
    MLIRContext *ctx = b.getContext();
    Type f16 = Float16Type::get(ctx), f32 = Float32Type::get(ctx),
         i32 = IntegerType::get(ctx, 32);
    int64_t tiles = tileTokens / kTokens;
    int64_t blocks = ops.k / kDepth;
    int64_t threads = kWarpLanes * warps;
    // Each lane's accumulators (4 per tile) meet the other warps' here.
    auto partialsType =
        MemRefType::get({warps, kWarpLanes, 4 * tiles}, f32,
                        MemRefLayoutAttrInterface{}, b.getI64IntegerAttr(3));
    auto launch = launchTiles(
        b, loc, kernelName(op, "qc_linear_awq_mma"),
        arith::ConstantIndexOp::create(b, loc, ops.n), kFeatures, tokenCount,
        tileTokens, threads, {partialsType});
    b.setInsertionPointToStart(&launch.getBody().front());
    Value tid = launch.getThreadIds().x;
    Value lane = math.rem(b, tid, kWarpLanes);
    Value warp = math.div(b, tid, kWarpLanes);
    Value g = math.div(b, lane, 4), t = math.rem(b, lane, 4);
    Value tile = launch.getBlockIds().x;
    Value firstToken = math.mul(b, launch.getBlockIds().y, tileTokens);
    Value featureLow = math.add(b, math.mul(b, tile, kFeatures), g);
    Value featureHigh = math.add(b, featureLow, math.constant(b, 8));
    // Token rows of the lane's B operand, clamped (not stored past the end).
    Value lastToken =
        arith::SubIOp::create(b, loc, tokenCount, math.constant(b, 1));
    SmallVector<Value> tokenRows;
    for (int64_t j = 0; j < tiles; ++j)
      tokenRows.push_back(arith::MinUIOp::create(
          b, loc, math.add(b, firstToken, math.add(b, g, math.constant(b, kTokens * j))),
          lastToken));

    auto i32Constant = [&](OpBuilder &ib, int64_t v) -> Value {
      return arith::ConstantOp::create(ib, loc, ib.getI32IntegerAttr(v));
    };
    auto splat = [&](OpBuilder &ib, Value v, int64_t n) -> Value {
      return vector::BroadcastOp::create(ib, loc,
                                         VectorType::get({n}, v.getType()), v);
    };
    // The biased zero point and scale of a feature for the group at k.
    auto groupFactors = [&](OpBuilder &ib, Value k,
                            Value feature) -> std::pair<Value, Value> {
      Value group = math.div(ib, k, ops.scheme.getGroupSize());
      Value scale = memref::LoadOp::create(ib, loc, ops.scales,
                                           ValueRange{group, feature});
      Value zero;
      if (ops.qzeros) {
        Value word = memref::LoadOp::create(
            ib, loc, ops.qzeros, ValueRange{group, math.div(ib, feature, 8)});
        // AutoAWQ's order: feature j of a word's eight in nibble
        // (j % 2) * 4 + j / 2.
        Value j = math.rem(ib, feature, 8);
        Value nibble = math.add(ib, math.mul(ib, math.rem(ib, j, 2), 4),
                                math.div(ib, j, 2));
        Value shift = arith::IndexCastOp::create(ib, loc, i32,
                                                 math.mul(ib, nibble, 4));
        Value code = arith::AndIOp::create(
            ib, loc, arith::ShRUIOp::create(ib, loc, word, shift),
            i32Constant(ib, 15));
        zero = arith::BitcastOp::create(
            ib, loc, f16,
            arith::TruncIOp::create(
                ib, loc, ib.getI16Type(),
                arith::OrIOp::create(ib, loc, code, i32Constant(ib, 0x6400))));
      } else {
        zero = arith::ConstantOp::create(ib, loc, ib.getF16FloatAttr(1024 + 8));
      }
      return {splat(ib, zero, 8), splat(ib, scale, 8)};
    };

    VectorType accType = VectorType::get({2, 2}, f32);
    Value zeroAcc =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(accType));
    SmallVector<Value> inits(tiles, zeroAcc);
    // Blocks of K `kb` = first, first + warps, ...: `count` at a time.
    auto step = [&](OpBuilder &lb, Value kb0, int64_t count,
                    ValueRange accs) -> SmallVector<Value> {
      struct Loaded {
        Value codes;
        SmallVector<Value> activations;
        Value k;
      };
      SmallVector<Loaded> loaded;
      // Every load first: `count` blocks of 16-byte loads in flight.
      for (int64_t u = 0; u < count; ++u) {
        Value kb = math.add(lb, kb0, math.constant(lb, u * warps));
        Loaded l;
        l.codes = vector::LoadOp::create(
            lb, loc, VectorType::get({4}, i32), ops.qweight,
            ValueRange{tile, math.add(lb, math.mul(lb, kb, 2 * kDepth),
                                      math.mul(lb, lane, 4))},
            /*nontemporal=*/false, llvm::Align(16));
        l.k = math.add(lb, math.mul(lb, kb, kDepth), math.mul(lb, t, 16));
        for (int64_t j = 0; j < tiles; ++j)
          l.activations.push_back(vector::LoadOp::create(
              lb, loc, VectorType::get({16}, f16), ops.activations,
              ValueRange{tokenRows[j], l.k}, /*nontemporal=*/false,
              llvm::Align(16)));
        loaded.push_back(std::move(l));
      }
      SmallVector<Value> next(accs.begin(), accs.end());
      for (Loaded &l : loaded) {
        auto [zeroLow, scaleLow] = groupFactors(lb, l.k, featureLow);
        auto [zeroHigh, scaleHigh] = groupFactors(lb, l.k, featureHigh);
        // Pairs i of the four words (nibbles i and i + 4): rows g (i even)
        // and g + 8 (i odd), as weights (q - z) * s rounded to f16.
        SmallVector<Value> pairs;
        for (int64_t i = 0; i < 4; ++i) {
          Value bits = l.codes;
          if (i)
            bits = arith::ShRUIOp::create(
                lb, loc, bits,
                splat(lb, i32Constant(lb, 4 * i), 4));
          bits = arith::OrIOp::create(
              lb, loc,
              arith::AndIOp::create(lb, loc, bits,
                                    splat(lb, i32Constant(lb, kCodeMask), 4)),
              splat(lb, i32Constant(lb, kBiasedHalves), 4));
          Value halves = vector::BitCastOp::create(
              lb, loc, VectorType::get({8}, f16), bits);
          bool high = i % 2;
          Value w = arith::MulFOp::create(
              lb, loc,
              arith::SubFOp::create(lb, loc, halves,
                                    high ? zeroHigh : zeroLow),
              high ? scaleHigh : scaleLow);
          pairs.push_back(w);
        }
        // Elements `first`, `first + 1` of a 1-D vector (a shuffle: the
        // device lowering has no strided slices).
        auto two = [&](Value v, int64_t first) -> Value {
          return vector::ShuffleOp::create(lb, loc, v, v,
                                           ArrayRef<int64_t>{first, first + 1});
        };
        auto stack = [&](ArrayRef<Value> rows) -> Value {
          Value m = arith::ConstantOp::create(
              lb, loc,
              lb.getZeroAttr(VectorType::get({int64_t(rows.size()), 2}, f16)));
          for (auto [i, row] : llvm::enumerate(rows))
            m = vector::InsertOp::create(lb, loc, row, m, int64_t(i));
          return m;
        };
        for (int64_t s = 0; s < 4; ++s) {
          // A: (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..) =
          // pairs 0..3 of word s.
          Value a = stack({two(pairs[0], 2 * s), two(pairs[1], 2 * s),
                           two(pairs[2], 2 * s), two(pairs[3], 2 * s)});
          for (int64_t j = 0; j < tiles; ++j) {
            // B: (2t..2t+1, g), (2t+8..2t+9, g) = the lane's activations
            // k = 16t + 4s + 0..1 and + 2..3.
            Value bm = stack({two(l.activations[j], 4 * s),
                              two(l.activations[j], 4 * s + 2)});
            next[j] = nvgpu::MmaSyncOp::create(lb, loc, a, bm, next[j],
                                               ArrayRef<int64_t>{16, 8, 16});
          }
        }
      }
      return next;
    };
    // Whole rounds of `unroll` blocks per warp, then the remainder.
    int64_t round = warps * unroll;
    int64_t full = blocks / round * round;
    ValueRange accs = inits;
    if (full) {
      auto loop = scf::ForOp::create(
          b, loc, warp, math.constant(b, full), math.constant(b, round), accs,
          [&](OpBuilder &lb, Location, Value kb0, ValueRange it) {
            scf::YieldOp::create(lb, loc, step(lb, kb0, unroll, it));
          });
      accs = loop.getResults();
    }
    if (full < blocks) {
      auto loop = scf::ForOp::create(
          b, loc, math.add(b, warp, math.constant(b, full)),
          math.constant(b, blocks), math.constant(b, warps), accs,
          [&](OpBuilder &lb, Location, Value kb, ValueRange it) {
            scf::YieldOp::create(lb, loc, step(lb, kb, 1, it));
          });
      accs = loop.getResults();
    }

    // Each warp's accumulators to shared memory, then the warps' sums in
    // warp order, added to the output.
    Value partials = launch.getWorkgroupAttributions().front();
    for (int64_t j = 0; j < tiles; ++j)
      for (int64_t e = 0; e < 4; ++e)
        memref::StoreOp::create(
            b, loc,
            vector::ExtractOp::create(b, loc, accs[j],
                                      ArrayRef<int64_t>{e / 2, e % 2}),
            partials, ValueRange{warp, lane, math.constant(b, 4 * j + e)});
    gpu::BarrierOp::create(b, loc);
    int64_t elements = kWarpLanes * 4 * tiles;
    scf::ForOp::create(
        b, loc, tid, math.constant(b, elements), math.constant(b, threads),
        ValueRange{}, [&](OpBuilder &lb, Location, Value e, ValueRange) {
          Value owner = math.div(lb, e, 4 * tiles);
          Value slot = math.rem(lb, e, 4 * tiles);
          Value sum;
          for (int64_t w = 0; w < warps; ++w) {
            Value v = memref::LoadOp::create(
                lb, loc, partials,
                ValueRange{math.constant(lb, w), owner, slot});
            sum = w ? arith::AddFOp::create(lb, loc, sum, v).getResult() : v;
          }
          // Accumulator element c of tile j: feature g + 8 (c / 2), token
          // 8j + 2t + c % 2 of the owning lane (g, t).
          Value j = math.div(lb, slot, 4), c = math.rem(lb, slot, 4);
          Value feature = math.add(
              lb,
              math.add(lb, math.mul(lb, tile, kFeatures), math.div(lb, owner, 4)),
              math.mul(lb, math.div(lb, c, 2), 8));
          Value token = math.add(
              lb, math.add(lb, firstToken, math.mul(lb, j, kTokens)),
              math.add(lb, math.mul(lb, math.rem(lb, owner, 4), 2),
                       math.rem(lb, c, 2)));
          Value features = arith::ConstantIndexOp::create(lb, loc, ops.n);
          if (half)
            storeToOutput(lb, loc, half, token, feature, tokenCount, features,
                          sum);
          else
            addToOutput(lb, loc, ops.out, token, feature, tokenCount, features,
                        sum);
          scf::YieldOp::create(lb, loc);
        });
    gpu::TerminatorOp::create(b, loc);
  }
};

} // namespace
