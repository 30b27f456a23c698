//===- CpuQuantizedContractions.cpp - quantized linear layers on the CPU --===//
//
// The generic form of a quantized linear layer decodes one weight per
// multiply-add, with k innermost: for AWQ's [K, N/8] words that is a
// strided load, a variable shift and a scalar f16 rounding per element,
// which no vectorizer recovers, so int4 ran many times slower than f32.
// These kernels work on vectors instead:
// - AWQ, float activations: 8 features per vector; in the cpu layout one
//   vector load holds 8 features' codes at 8 inputs, a shift and a mask
//   give one input's. (q - z) * s is exact in f32 (4-bit codes, f16
//   scales) and rounded to f16 as AutoAWQ rounds it, so only the order of
//   the f32 sum over K differs from the generic (which its reassoc flag
//   already allows).
// - AWQ, int8 activations (AVX2): the same vector's nibbles are 4
//   consecutive inputs per feature, the operands of vpmaddubsw / vpmaddwd
//   against activations quantized per block of 32, as llama.cpp does.
// - bitsandbytes 4-bit and weight-only int8: codes stored along K, so each
//   feature is a dot product over K in vectors of 8 inputs, weights again
//   rounded exactly as the generic rounds them.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"
#include "qc/Conversion/QCKernels.h"

#include "qc/Quant/BnB4bit.h"
#include "qc/Quant/DynamicMap.h"

#include "ContractionPayload.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCCPUQUANTIZEDCONTRACTIONS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// f32 lanes of a vector register (AVX2); one AWQ word.
constexpr int64_t kLanes = 8;

/// Features per tile: the cpu layout's row; as many of them (at least a
/// vector) as divide N in the GEMM layout.
constexpr int64_t kMaxTileFeatures = AWQAttr::kCpuTileFeatures;

/// The buffers of an AWQ contraction in the GEMM or cpu layout.
struct AwqOperands {
  AWQAttr scheme;
  int64_t n, k;
  int64_t tileFeatures;
  Value activations; ///< memref<?xKxf16|f32>
  Value qweight;     ///< memref<K x N/8 x i32> or memref<N/64 x 8K x i32>
  Value qzeros;      ///< memref<K/G x N/8 x i32>, null if symmetric
  Value scales;      ///< memref<K/G x N x f16>
  Value out;         ///< memref<?xNxf32>
};

bool hasShape(Value v, ArrayRef<int64_t> shape, Type element) {
  auto t = dyn_cast<MemRefType>(v.getType());
  return t && t.getShape() == shape && t.getElementType() == element &&
         t.getLayout().isIdentity();
}

/// The contraction's buffers, if `op` is a linear layer over a 4-bit AWQ
/// weight in the GEMM or cpu layout.
FailureOr<AwqOperands> awqOperands(linalg::GenericOp op) {
  auto attr = op->getAttrOfType<TypeAttr>(kQuantizedWeightAttr);
  if (!attr || !isTokenFeatureContraction(op) || op.getNumDpsInputs() != 1)
    return failure();
  auto qtype = dyn_cast<QWeightType>(attr.getValue());
  auto scheme = qtype ? dyn_cast<AWQAttr>(qtype.getScheme()) : AWQAttr();
  if (!scheme || scheme.getLayout() == AWQLayout::Mma ||
      scheme.getBits() != 4)
    return failure();
  AwqOperands ops{scheme, qtype.getN(), qtype.getK(), kMaxTileFeatures,
                  {},     {},           {},           {},
                  {}};
  while (ops.n % ops.tileFeatures != 0)
    ops.tileFeatures /= 2;
  ops.activations = op.getDpsInputs()[0];
  ops.out = op.getDpsInits()[0];
  auto x = cast<MemRefType>(ops.activations.getType());
  auto out = cast<MemRefType>(ops.out.getType());
  if (!(x.getElementType().isF16() || x.getElementType().isF32()) ||
      x.getDimSize(1) != ops.k || !out.getElementType().isF32() ||
      out.getDimSize(1) != ops.n || !x.getLayout().isIdentity() ||
      !out.getLayout().isIdentity())
    return failure();
  MLIRContext *ctx = op.getContext();
  Type i32 = IntegerType::get(ctx, 32), f16 = Float16Type::get(ctx);
  int64_t groups = ops.k / scheme.getGroupSize();
  op.getBody()->walk([&](memref::LoadOp load) {
    Value buffer = load.getMemRef();
    if (buffer.getParentBlock() == op.getBody())
      return;
    bool cpu = scheme.getLayout() == AWQLayout::Cpu;
    if (hasShape(buffer,
                 cpu ? ArrayRef<int64_t>{ops.n / kMaxTileFeatures,
                                         ops.k * kMaxTileFeatures / kLanes}
                     : ArrayRef<int64_t>{ops.k, ops.n / kLanes},
                 i32))
      ops.qweight = buffer;
    else if (hasShape(buffer, {groups, ops.n / kLanes}, i32))
      ops.qzeros = buffer;
    else if (hasShape(buffer, {groups, ops.n}, f16))
      ops.scales = buffer;
  });
  if (!ops.qweight || !ops.scales ||
      (scheme.getZeroPoint() != static_cast<bool>(ops.qzeros)))
    return failure();
  return ops;
}

/// Index and vector arithmetic at one builder and location, shared by the
/// kernels below.
class KernelMath {
protected:
  KernelMath(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t y) { return y ? add(x, c(y)) : x; }
  Value mul(Value x, int64_t y) {
    return arith::MulIOp::create(b, loc, x, c(y));
  }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, c(y));
  }
  Value splat(TypedAttr value, VectorType type) {
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, value));
  }
  Value toF32(Value v) {
    return v.getType().isF32()
               ? v
               : arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  }

  OpBuilder &b;
  Location loc;
};

/// Builds the kernel of one AWQ contraction at `b`.
class AwqKernel : KernelMath {
public:
  AwqKernel(OpBuilder &b, Location loc, const AwqOperands &ops,
            int64_t tileTokens)
      : KernelMath(b, loc), ops(ops), tileTokens(tileTokens),
        vectors(ops.tileFeatures / kLanes) {
    MLIRContext *ctx = b.getContext();
    f16 = Float16Type::get(ctx);
    f32 = Float32Type::get(ctx);
    wordType = VectorType::get({kLanes}, IntegerType::get(ctx, 32));
    floatType = VectorType::get({kLanes}, f32);
  }

  void build() {
    Value tokens = memref::DimOp::create(b, loc, ops.activations, 0);
    auto parallel = scf::ParallelOp::create(
        b, loc, ValueRange{c(0)}, ValueRange{c(ops.n / ops.tileFeatures)},
        ValueRange{c(1)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(parallel.getBody());
    // Constants inside the loop: the tile function outlined from it takes
    // only buffers and sizes.
    shifts = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(wordType,
                               ArrayRef<int32_t>{0, 16, 4, 20, 8, 24, 12, 28}));
    mask = splat(b.getI32IntegerAttr(15), wordType);
    // f16 activations are converted once per tile of tokens into a stack
    // buffer at the tile's entry (an alloca in a loop would grow the stack).
    if (!cast<MemRefType>(ops.activations.getType()).getElementType().isF32())
      activationsF32 = memref::AllocaOp::create(
          b, loc, MemRefType::get({std::max<int64_t>(tileTokens, 1), ops.k}, f32));
    Value tile = parallel.getInductionVars()[0];
    // Whole tiles of tokens, `kTileVectors` vectors of features at a time
    // (their sums fill the registers); then the rest a token at a time,
    // `kTokenVectors` at a time.
    Value whole = mul(div(tokens, tileTokens), tileTokens);
    if (tileTokens > 1) {
      auto tiles = scf::ForOp::create(b, loc, c(0), whole, c(tileTokens));
      b.setInsertionPointToStart(tiles.getBody());
      for (int64_t j = 0; j < vectors; j += kTileVectors)
        buildTile(tiles.getInductionVar(), tileTokens, tile, j,
                  std::min(kTileVectors, vectors - j));
      b.setInsertionPointAfter(tiles);
    }
    auto rest = scf::ForOp::create(b, loc, tileTokens > 1 ? whole : c(0),
                                   tokens, c(1));
    b.setInsertionPointToStart(rest.getBody());
    for (int64_t j = 0; j < vectors; j += kTokenVectors)
      buildTile(rest.getInductionVar(), 1, tile, j,
                std::min(kTokenVectors, vectors - j));
  }

private:
  /// Vectors of features per pass over a tile of several tokens: 4 tokens x
  /// 2 vectors of sums leave registers for the weights (AVX2 has 16).
  static constexpr int64_t kTileVectors = 2;
  /// Vectors of features per pass for one token: the whole tile, 8 sums.
  static constexpr int64_t kTokenVectors = 8;

  /// The 8 codes of `word` (8 consecutive features in AutoAWQ's nibble
  /// order) as f32.
  Value codes(Value word) {
    Value lanes = vector::BroadcastOp::create(b, loc, wordType, word);
    Value q = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, lanes, shifts), mask);
    return arith::UIToFPOp::create(b, loc, floatType, q);
  }

  /// Token `i` of the current tile's activation at input `k`, in f32.
  Value activation(int64_t i, Value token, Value k) {
    if (!activationsF32)
      return memref::LoadOp::create(b, loc, ops.activations,
                                    ValueRange{token, k});
    return memref::LoadOp::create(b, loc, activationsF32, ValueRange{c(i), k});
  }

  /// Copies the f16 activations of the tile's tokens to `activationsF32`.
  void convertActivations(ArrayRef<Value> tokens) {
    auto loop = scf::ForOp::create(b, loc, c(0), c(ops.k), c(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value k = loop.getInductionVar();
    for (auto [i, token] : llvm::enumerate(tokens)) {
      Value x = memref::LoadOp::create(b, loc, ops.activations,
                                       ValueRange{token, k});
      memref::StoreOp::create(b, loc, arith::ExtFOp::create(b, loc, f32, x),
                              activationsF32,
                              ValueRange{c(int64_t(i)), k});
    }
  }

  /// The GEMM word of codes of vector `j` of tile `tile` at input `k`.
  Value loadCodes(Value tile, int64_t j, Value k) {
    int64_t words = ops.tileFeatures / kLanes;
    return memref::LoadOp::create(b, loc, ops.qweight,
                                  ValueRange{k, add(mul(tile, words), j)});
  }

  /// The codes of input `input` (< 8) of a cpu-layout block of 8 features'
  /// words, as f32: input i sits at bit 8 (i % 4) + 4 (i / 4) of each word.
  Value blockCodes(Value block, int64_t input) {
    int32_t shift = 8 * (input % 4) + 4 * (input / 4);
    Value shifted =
        shift ? arith::ShRUIOp::create(
                    b, loc, block,
                    splat(b.getI32IntegerAttr(shift), wordType))
                    .getResult()
              : block;
    return arith::UIToFPOp::create(
        b, loc, floatType, arith::AndIOp::create(b, loc, shifted, mask));
  }

  /// The f32 sums of tokens [token0, token0 + tokens) and vectors
  /// [vector0, vector0 + count) of tile `tile`, added to the output.
  void buildTile(Value token0, int64_t tokens, Value tile, int64_t vector0,
                 int64_t count) {
    SmallVector<Value> tokenIndex, column, features;
    for (int64_t i = 0; i < tokens; ++i)
      tokenIndex.push_back(add(token0, i));
    Value feature0 = mul(tile, ops.tileFeatures);
    for (int64_t j = 0; j < count; ++j) {
      column.push_back(add(div(feature0, kLanes), vector0 + j));
      features.push_back(add(feature0, (vector0 + j) * kLanes));
    }
    if (activationsF32 && vector0 == 0)
      convertActivations(tokenIndex);
    SmallVector<Value> sums;
    for (int64_t i = 0; i < tokens; ++i)
      for (int64_t j = 0; j < count; ++j)
        sums.push_back(vector::LoadOp::create(
            b, loc, floatType, ops.out,
            ValueRange{tokenIndex[i], features[j]}));

    int64_t groupSize = ops.scheme.getGroupSize();
    auto groups =
        scf::ForOp::create(b, loc, c(0), c(ops.k / groupSize), c(1), sums);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(groups.getBody());
      Value g = groups.getInductionVar();
      // w = (q - z) * s = q * s - z * s: z * s is exact in f32 (a 4-bit
      // code times an f16), so one fused multiply-add gives (q - z) * s
      // exactly, before the rounding to f16.
      SmallVector<Value> scales, offsets;
      for (int64_t j = 0; j < count; ++j) {
        Value zero =
            ops.qzeros
                ? codes(memref::LoadOp::create(b, loc, ops.qzeros,
                                               ValueRange{g, column[j]}))
                : splat(b.getF32FloatAttr(8.0f), floatType);
        Value half = vector::LoadOp::create(
            b, loc, VectorType::get({kLanes}, f16), ops.scales,
            ValueRange{g, features[j]});
        Value scale = arith::ExtFOp::create(b, loc, floatType, half);
        scales.push_back(scale);
        offsets.push_back(arith::NegFOp::create(
            b, loc, arith::MulFOp::create(b, loc, zero, scale)));
      }
      Value k0 = mul(g, groupSize);
      // The cpu layout holds 8 inputs per word: one vector load per block
      // of 8 inputs, one shift and mask per input.
      bool cpu = ops.scheme.getLayout() == AWQLayout::Cpu;
      int64_t step = cpu ? kLanes : 1;
      auto inner = scf::ForOp::create(b, loc, c(0), c(groupSize), c(step),
                                      groups.getRegionIterArgs());
      b.setInsertionPointToStart(inner.getBody());
      Value k = add(k0, inner.getInductionVar());
      // Per vector of features: its codes, then each input's weights into
      // every token's sums (the activations come from the f32 copy, one
      // broadcast load each, so that only the sums stay in registers).
      SmallVector<Value> next(inner.getRegionIterArgs());
      for (int64_t j = 0; j < count; ++j) {
        Value block;
        if (cpu)
          block = vector::LoadOp::create(
              b, loc, wordType, ops.qweight,
              ValueRange{tile, add(mul(k, kMaxTileFeatures / kLanes),
                                   (vector0 + j) * kLanes)});
        for (int64_t input = 0; input < step; ++input) {
          Value ki = add(k, input);
          Value q = cpu ? blockCodes(block, input)
                        : codes(loadCodes(tile, vector0 + j, ki));
          Value scaled =
              vector::FMAOp::create(b, loc, q, scales[j], offsets[j]);
          // Rounded to f16 as AutoAWQ's fp16 dequantization rounds it.
          Value half = arith::TruncFOp::create(
              b, loc, VectorType::get({kLanes}, f16), scaled);
          Value weight = arith::ExtFOp::create(b, loc, floatType, half);
          for (int64_t i = 0; i < tokens; ++i) {
            Value x = activation(i, tokenIndex[i], ki);
            Value lanes = vector::BroadcastOp::create(b, loc, floatType, x);
            Value &sum = next[i * count + j];
            sum = vector::FMAOp::create(b, loc, lanes, weight, sum);
          }
        }
      }
      scf::YieldOp::create(b, loc, next);
      b.setInsertionPointAfter(inner);
      scf::YieldOp::create(b, loc, inner.getResults());
    }
    for (int64_t i = 0; i < tokens; ++i)
      for (int64_t j = 0; j < count; ++j)
        vector::StoreOp::create(b, loc, groups.getResult(i * count + j),
                                ops.out,
                                ValueRange{tokenIndex[i], features[j]});
  }

  const AwqOperands &ops;
  int64_t tileTokens, vectors;
  Type f16, f32;
  VectorType wordType, floatType;
  Value shifts, mask;
  Value activationsF32;
};

//===----------------------------------------------------------------------===//
// AWQ with int8 activations: 8-bit integer dot products (AVX2)
//===----------------------------------------------------------------------===//

/// Inputs per activation block: one int8 scale each.
constexpr int64_t kActivationBlock = 32;

/// Builds the integer form of one AWQ contraction in the cpu layout: each
/// token's activations quantized to int8 per block of 32 inputs (scale
/// absmax / 127, round to nearest even), then per feature
/// sum_g s_g (sum_b dx_b sum_{k in b} q_k xq_k - z_g sum_b dx_b sum xq_k):
/// the inner sums are vpmaddubsw (u4 codes x s8 activations, pairs) and
/// vpmaddwd (pairs of pairs) on 8 features x 4 inputs per instruction.
class AwqInt8Kernel : KernelMath {
public:
  AwqInt8Kernel(OpBuilder &b, Location loc, const AwqOperands &ops)
      : KernelMath(b, loc), ops(ops) {
    MLIRContext *ctx = b.getContext();
    f32 = Float32Type::get(ctx);
    i32 = IntegerType::get(ctx, 32);
    wordType = VectorType::get({kLanes}, i32);
    floatType = VectorType::get({kLanes}, f32);
    bytesType = VectorType::get({4 * kLanes}, b.getI8Type());
    pairsType = VectorType::get({2 * kLanes}, b.getI16Type());
  }

  void build() {
    Value tokens = memref::DimOp::create(b, loc, ops.activations, 0);
    int64_t blocks = ops.k / kActivationBlock;
    int64_t groups = ops.k / ops.scheme.getGroupSize();
    auto dyn = ShapedType::kDynamic;
    Value xq = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, ops.k}, b.getI8Type()), tokens);
    Value dx = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, blocks}, f32), tokens);
    Value gsum = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, groups}, f32), tokens);
    quantizeActivations(tokens, xq, dx, gsum);
    auto parallel = scf::ParallelOp::create(
        b, loc, ValueRange{c(0)},
        ValueRange{c(ops.n / AWQAttr::kCpuTileFeatures)}, ValueRange{c(1)});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(parallel.getBody());
      Value tile = parallel.getInductionVars()[0];
      auto perToken = scf::ForOp::create(b, loc, c(0), tokens, c(1));
      b.setInsertionPointToStart(perToken.getBody());
      for (int64_t j = 0; j < kVectors; j += kPassVectors)
        buildPass(perToken.getInductionVar(), tile, j, xq, dx, gsum);
    }
    for (Value buffer : {xq, dx, gsum})
      memref::DeallocOp::create(b, loc, buffer);
  }

private:
  static constexpr int64_t kVectors = AWQAttr::kCpuTileFeatures / kLanes;
  /// Vectors of features per pass: 4 integer and 4 float sums.
  static constexpr int64_t kPassVectors = 4;

  Value intrinsic(StringRef name, Type result, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(b, loc, result,
                                         b.getStringAttr(name), args)
        .getResult(0);
  }

  /// xq[t, k], dx[t, block] and gsum[t, group] = sum over the group's
  /// blocks of dx times the block's sum of xq.
  void quantizeActivations(Value tokens, Value xq, Value dx, Value gsum) {
    auto parallel = scf::ParallelOp::create(b, loc, ValueRange{c(0)},
                                            ValueRange{tokens},
                                            ValueRange{c(1)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(parallel.getBody());
    Value t = parallel.getInductionVars()[0];
    int64_t groupSize = ops.scheme.getGroupSize();
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    auto groups = scf::ForOp::create(b, loc, c(0), c(ops.k / groupSize), c(1));
    b.setInsertionPointToStart(groups.getBody());
    Value g = groups.getInductionVar();
    auto perBlock = scf::ForOp::create(b, loc, c(0),
                                       c(groupSize / kActivationBlock), c(1),
                                       ValueRange{zero});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(perBlock.getBody());
      Value block = add(mul(g, groupSize / kActivationBlock),
                        perBlock.getInductionVar());
      Value k0 = mul(block, kActivationBlock);
      auto absmax = scf::ForOp::create(b, loc, c(0), c(kActivationBlock), c(1),
                                       ValueRange{zero});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(absmax.getBody());
        Value x = toF32(memref::LoadOp::create(
            b, loc, ops.activations,
            ValueRange{t, add(k0, absmax.getInductionVar())}));
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::MaximumFOp::create(
                b, loc, absmax.getRegionIterArgs()[0],
                math::AbsFOp::create(b, loc, x))});
      }
      Value amax = absmax.getResult(0);
      Value scale = arith::DivFOp::create(
          b, loc, amax, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(127)));
      // A block of zeros quantizes to zeros with scale 0.
      Value inverse = arith::SelectOp::create(
          b, loc,
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, amax, zero),
          arith::DivFOp::create(
              b, loc, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(127)),
              amax),
          zero);
      memref::StoreOp::create(b, loc, scale, dx, ValueRange{t, block});
      auto quantize = scf::ForOp::create(b, loc, c(0), c(kActivationBlock),
                                         c(1), ValueRange{zero});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(quantize.getBody());
        Value k = add(k0, quantize.getInductionVar());
        Value x = toF32(
            memref::LoadOp::create(b, loc, ops.activations, ValueRange{t, k}));
        Value rounded = math::RoundEvenOp::create(
            b, loc, arith::MulFOp::create(b, loc, x, inverse));
        memref::StoreOp::create(
            b, loc, arith::FPToSIOp::create(b, loc, b.getI8Type(), rounded),
            xq, ValueRange{t, k});
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddFOp::create(
                b, loc, quantize.getRegionIterArgs()[0], rounded)});
      }
      scf::YieldOp::create(
          b, loc,
          ValueRange{arith::AddFOp::create(
              b, loc, perBlock.getRegionIterArgs()[0],
              arith::MulFOp::create(b, loc, scale, quantize.getResult(0)))});
    }
    memref::StoreOp::create(b, loc, perBlock.getResult(0), gsum,
                            ValueRange{t, g});
  }

  /// out[t, features of vectors [vector0, vector0 + 4) of `tile`] += the
  /// integer form of their dot products with token t.
  void buildPass(Value t, Value tile, int64_t vector0, Value xq, Value dx,
                 Value gsum) {
    Value feature0 = mul(tile, AWQAttr::kCpuTileFeatures);
    Value nibbles = splat(b.getI32IntegerAttr(0x0F0F0F0F), wordType);
    Value ones = splat(b.getI16IntegerAttr(1), pairsType);
    Value shifts = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(wordType,
                               ArrayRef<int32_t>{0, 16, 4, 20, 8, 24, 12, 28}));
    Value fifteen = splat(b.getI32IntegerAttr(15), wordType);
    Value fzero = splat(b.getF32FloatAttr(0), floatType);
    Value izero = splat(b.getI32IntegerAttr(0), wordType);
    int64_t groupSize = ops.scheme.getGroupSize();
    auto groups = scf::ForOp::create(b, loc, c(0), c(ops.k / groupSize), c(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(groups.getBody());
    Value g = groups.getInductionVar();
    SmallVector<Value> fsums(kPassVectors, fzero);
    auto perBlock = scf::ForOp::create(b, loc, c(0),
                                       c(groupSize / kActivationBlock), c(1),
                                       fsums);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(perBlock.getBody());
      Value block = add(mul(g, groupSize / kActivationBlock),
                        perBlock.getInductionVar());
      SmallVector<Value> isums(kPassVectors, izero);
      for (int64_t eight = 0; eight < kActivationBlock / kLanes; ++eight) {
        Value k = add(mul(block, kActivationBlock), eight * kLanes);
        auto xWord = [&](int64_t first) -> Value {
          Value four = vector::LoadOp::create(
              b, loc, VectorType::get({4}, b.getI8Type()), xq,
              ValueRange{t, add(k, first)});
          Value word = vector::ExtractOp::create(
              b, loc,
              vector::BitCastOp::create(b, loc, VectorType::get({1}, i32),
                                        four),
              ArrayRef<int64_t>{0});
          return vector::BitCastOp::create(
              b, loc, bytesType,
              vector::BroadcastOp::create(b, loc, wordType, word));
        };
        Value xLow = xWord(0), xHigh = xWord(4);
        for (int64_t j = 0; j < kPassVectors; ++j) {
          Value codes = vector::LoadOp::create(
              b, loc, wordType, ops.qweight,
              ValueRange{tile, add(mul(k, AWQAttr::kCpuTileFeatures / kLanes),
                                   (vector0 + j) * kLanes)});
          Value low = arith::AndIOp::create(b, loc, codes, nibbles);
          Value high = arith::AndIOp::create(
              b, loc,
              arith::ShRUIOp::create(b, loc, codes,
                                     splat(b.getI32IntegerAttr(4), wordType)),
              nibbles);
          auto pairs = [&](Value w, Value x) {
            return intrinsic("llvm.x86.avx2.pmadd.ub.sw", pairsType,
                             {vector::BitCastOp::create(b, loc, bytesType, w),
                              x});
          };
          // Each i16 lane is at most 2 x 15 x 128 per half: the sum fits.
          Value both = arith::AddIOp::create(b, loc, pairs(low, xLow),
                                             pairs(high, xHigh));
          isums[j] = arith::AddIOp::create(
              b, loc, isums[j],
              intrinsic("llvm.x86.avx2.pmadd.wd", wordType, {both, ones}));
        }
      }
      Value scale = vector::BroadcastOp::create(
          b, loc, floatType,
          memref::LoadOp::create(b, loc, dx, ValueRange{t, block}));
      SmallVector<Value> next;
      for (int64_t j = 0; j < kPassVectors; ++j)
        next.push_back(vector::FMAOp::create(
            b, loc, arith::SIToFPOp::create(b, loc, floatType, isums[j]), scale,
            perBlock.getRegionIterArgs()[j]));
      scf::YieldOp::create(b, loc, next);
    }
    Value groupSum = vector::BroadcastOp::create(
        b, loc, floatType,
        memref::LoadOp::create(b, loc, gsum, ValueRange{t, g}));
    for (int64_t j = 0; j < kPassVectors; ++j) {
      Value features = add(feature0, (vector0 + j) * kLanes);
      Value column = div(features, kLanes);
      Value zero =
          ops.qzeros
              ? arith::UIToFPOp::create(
                    b, loc, floatType,
                    arith::AndIOp::create(
                        b, loc,
                        arith::ShRUIOp::create(
                            b, loc,
                            vector::BroadcastOp::create(
                                b, loc, wordType,
                                memref::LoadOp::create(b, loc, ops.qzeros,
                                                       ValueRange{g, column})),
                            shifts),
                        fifteen))
                    .getResult()
              : splat(b.getF32FloatAttr(8.0f), floatType);
      Value halves = vector::LoadOp::create(
          b, loc, VectorType::get({kLanes}, b.getF16Type()), ops.scales,
          ValueRange{g, features});
      Value scale = arith::ExtFOp::create(b, loc, floatType, halves);
      // s (sum - z gsum)
      Value inner = arith::SubFOp::create(
          b, loc, perBlock.getResult(j),
          arith::MulFOp::create(b, loc, zero, groupSum));
      Value old = vector::LoadOp::create(b, loc, floatType, ops.out,
                                         ValueRange{t, features});
      vector::StoreOp::create(b, loc,
                              vector::FMAOp::create(b, loc, scale, inner, old),
                              ops.out, ValueRange{t, features});
    }
  }

  const AwqOperands &ops;
  Type f32, i32;
  VectorType wordType, floatType, bytesType, pairsType;
};

//===----------------------------------------------------------------------===//
// bitsandbytes 4-bit and weight-only int8: codes stored along K
//===----------------------------------------------------------------------===//

/// The buffers of a contraction whose weight stores each feature's codes
/// contiguously along K: bitsandbytes 4-bit (two codes per byte, the first
/// high) and weight-only int8.
struct RowOperands {
  QWeightType qtype;
  Value activations; ///< memref<?xKxf16|f32>
  Value codes;       ///< memref<N*K/2 x i8> | memref<N x K x i8>
  Value absmax;      ///< memref<blocks x f32|i8> (4-bit)
  Value nested;      ///< memref<blocks/256 x f32> (double quant)
  Value offset;      ///< memref<1 x f32> (double quant)
  Value scales;      ///< memref<N x f16|f32> (int8)
  Value out;         ///< memref<?xNxf32>
};

/// Features per parallel tile of a row kernel; each is a dot product over
/// K in vectors of 8.
constexpr int64_t kRowTileFeatures = 4;

FailureOr<RowOperands> rowOperands(linalg::GenericOp op) {
  auto attr = op->getAttrOfType<TypeAttr>(kQuantizedWeightAttr);
  if (!attr || !isTokenFeatureContraction(op) || op.getNumDpsInputs() != 1)
    return failure();
  auto qtype = dyn_cast<QWeightType>(attr.getValue());
  if (!qtype)
    return failure();
  auto bnb = dyn_cast<BnB4Attr>(qtype.getScheme());
  auto int8 = dyn_cast<Int8Attr>(qtype.getScheme());
  if (!bnb && !(int8 && int8.getMode() == Int8Mode::WeightOnly))
    return failure();
  int64_t n = qtype.getN(), k = qtype.getK();
  if (n % kRowTileFeatures != 0 || k % kLanes != 0)
    return failure();
  RowOperands ops{qtype, op.getDpsInputs()[0], {}, {}, {}, {}, {},
                  op.getDpsInits()[0]};
  auto x = cast<MemRefType>(ops.activations.getType());
  auto out = cast<MemRefType>(ops.out.getType());
  if (!(x.getElementType().isF16() || x.getElementType().isF32()) ||
      x.getDimSize(1) != k || !out.getElementType().isF32() ||
      out.getDimSize(1) != n || !x.getLayout().isIdentity() ||
      !out.getLayout().isIdentity())
    return failure();
  MLIRContext *ctx = op.getContext();
  Type i8 = IntegerType::get(ctx, 8), f32 = Float32Type::get(ctx);
  // Each buffer by its type, which the scheme makes distinct; any doubt
  // leaves the generic.
  SmallVector<std::pair<Value *, std::pair<SmallVector<int64_t>, Type>>> slots;
  if (bnb) {
    int64_t blocks = n * k / bnb.getBlockSize();
    slots.push_back({&ops.codes, {{n * k / 2}, i8}});
    if (!bnb.getDoubleQuant()) {
      slots.push_back({&ops.absmax, {{blocks}, f32}});
    } else {
      slots.push_back({&ops.absmax, {{blocks}, i8}});
      slots.push_back(
          {&ops.nested,
           {{int64_t(llvm::divideCeil(blocks, BnB4Attr::kNestedBlockSize))}, f32}});
      slots.push_back({&ops.offset, {{1}, f32}});
    }
  } else {
    slots.push_back({&ops.codes, {{n, k}, i8}});
    slots.push_back({&ops.scales, {{n}, Float16Type::get(ctx)}});
  }
  bool ambiguous = false;
  op.getBody()->walk([&](memref::LoadOp load) {
    Value buffer = load.getMemRef();
    if (buffer.getParentBlock() == op.getBody())
      return;
    for (auto &[slot, type] : slots) {
      if (!hasShape(buffer, type.first, type.second))
        continue;
      ambiguous |= *slot && *slot != buffer;
      *slot = buffer;
    }
  });
  if (ambiguous || llvm::any_of(slots, [](auto &s) { return !*s.first; }))
    return failure();
  return ops;
}

/// Builds the kernel of one contraction over codes stored along K: tiles
/// of 4 features, each a dot product over K in vectors of 8 consecutive
/// inputs, the activations' vector shared by the tile's features.
class RowKernel : KernelMath {
public:
  RowKernel(OpBuilder &b, Location loc, const RowOperands &ops,
            int64_t tileTokens)
      : KernelMath(b, loc), ops(ops), tileTokens(tileTokens) {
    MLIRContext *ctx = b.getContext();
    f32 = Float32Type::get(ctx);
    i32 = IntegerType::get(ctx, 32);
    wordType = VectorType::get({kLanes}, i32);
    floatType = VectorType::get({kLanes}, f32);
    bnb = dyn_cast<BnB4Attr>(ops.qtype.getScheme());
  }

  void build() {
    Value tokens = memref::DimOp::create(b, loc, ops.activations, 0);
    auto parallel = scf::ParallelOp::create(
        b, loc, ValueRange{c(0)},
        ValueRange{c(ops.qtype.getN() / kRowTileFeatures)}, ValueRange{c(1)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(parallel.getBody());
    tileBody = parallel.getBody();
    Value feature0 = mul(parallel.getInductionVars()[0], kRowTileFeatures);
    // Pairs of tokens share each decoded vector (4 features x 2 tokens of
    // sums fill half the registers), then the rest one at a time.
    int64_t pair = std::min<int64_t>(tileTokens, 2);
    Value whole = mul(div(tokens, pair), pair);
    if (pair > 1) {
      auto tiles = scf::ForOp::create(b, loc, c(0), whole, c(pair));
      b.setInsertionPointToStart(tiles.getBody());
      buildTile(tiles.getInductionVar(), pair, feature0);
      b.setInsertionPointAfter(tiles);
    }
    auto rest =
        scf::ForOp::create(b, loc, pair > 1 ? whole : c(0), tokens, c(1));
    b.setInsertionPointToStart(rest.getBody());
    buildTile(rest.getInductionVar(), 1, feature0);
  }

private:
  /// The codebook's levels of 4-bit codes `q`: two 8-entry tables indexed
  /// by each lane's low 3 bits, picked by bit 3. Written as lane extracts
  /// at variable positions, which LLVM turns into a variable permute
  /// where the CPU has one (vpermps on AVX2) and into scalar code where not.
  Value lookupLevels(Value q) {
    ::qc::quant::Bnb4Type type = bnb.getType() == BnB4Type::NF4
                                     ? ::qc::quant::Bnb4Type::NF4
                                     : ::qc::quant::Bnb4Type::FP4;
    std::span<const float, 16> book = ::qc::quant::bnb4Codebook(type);
    auto half = [&](int64_t first) -> Value {
      return arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(floatType,
                                 ArrayRef<float>(book.data() + first, 8)));
    };
    Value low = half(0), high = half(8);
    auto splatInt = [&](int32_t v) -> Value {
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(wordType, b.getI32IntegerAttr(v)));
    };
    Value index = arith::AndIOp::create(b, loc, q, splatInt(7));
    SmallVector<Value> lanes;
    for (int64_t i = 0; i < kLanes; ++i)
      lanes.push_back(arith::IndexCastOp::create(
          b, loc, b.getIndexType(),
          vector::ExtractOp::create(b, loc, index, ArrayRef<int64_t>{i})));
    auto permute = [&](Value table) -> Value {
      SmallVector<Value> picked;
      for (Value lane : lanes)
        picked.push_back(vector::ExtractOp::create(
            b, loc, table, ArrayRef<OpFoldResult>{lane}));
      return vector::FromElementsOp::create(b, loc, floatType, picked);
    };
    Value upper = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ne,
        arith::AndIOp::create(b, loc, q, splatInt(8)), splatInt(0));
    return arith::SelectOp::create(b, loc, upper, permute(high), permute(low));
  }

  /// The absmax of 4-bit block `block` (double quant: decoded from its
  /// 8-bit code as KernelBuilder::dequantize does).
  Value absmaxOf(Value block) {
    Value absmax = memref::LoadOp::create(b, loc, ops.absmax, block);
    if (!bnb.getDoubleQuant())
      return absmax;
    std::span<const float, 256> dyn = ::qc::quant::dynamicMapSigned();
    if (!dynamicMap) {
      // A stack copy of the map per tile: the tile function outlined from
      // the parallel loop takes only buffers and sizes.
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(tileBody);
      dynamicMap = memref::AllocaOp::create(b, loc, MemRefType::get({256}, f32));
      vector::StoreOp::create(
          b, loc,
          arith::ConstantOp::create(
              b, loc,
              DenseElementsAttr::get(VectorType::get({256}, f32),
                                     ArrayRef<float>(dyn.data(), 256))),
          dynamicMap, ValueRange{c(0)});
    }
    Value code = arith::IndexCastUIOp::create(
        b, loc, b.getIndexType(), arith::ExtUIOp::create(b, loc, i32, absmax));
    Value level = memref::LoadOp::create(b, loc, dynamicMap, code);
    Value nested = memref::LoadOp::create(
        b, loc, ops.nested, div(block, BnB4Attr::kNestedBlockSize));
    Value offset = memref::LoadOp::create(b, loc, ops.offset, c(0));
    return arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, level, nested), offset);
  }

  /// The weights of feature `n` at inputs [k, k + 8) as f32, rounded to
  /// the weight's element type as KernelBuilder::dequantize rounds them.
  Value weights(Value n, Value k) {
    int64_t depth = ops.qtype.getK();
    Value scaled;
    if (bnb) {
      // Element e = n K + k; the 8 codes are 4 bytes from e / 2, each
      // byte's high nibble first.
      Value e = add(mul(n, depth), k);
      Value bytes = vector::LoadOp::create(
          b, loc, VectorType::get({4}, b.getI8Type()), ops.codes,
          ValueRange{div(e, 2)});
      Value word = vector::ExtractOp::create(
          b, loc,
          vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), bytes),
          ArrayRef<int64_t>{0});
      Value lanes = vector::BroadcastOp::create(b, loc, wordType, word);
      Value shifts = arith::ConstantOp::create(
          b, loc,
          DenseElementsAttr::get(
              wordType, ArrayRef<int32_t>{4, 0, 12, 8, 20, 16, 28, 24}));
      Value q = arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, lanes, shifts),
          arith::ConstantOp::create(
              b, loc,
              DenseElementsAttr::get(wordType, b.getI32IntegerAttr(15))));
      Value level = lookupLevels(q);
      Value absmax = absmaxOf(div(e, bnb.getBlockSize()));
      scaled = arith::MulFOp::create(
          b, loc, level, vector::BroadcastOp::create(b, loc, floatType, absmax));
    } else {
      // q * scale is exact in f32 (8-bit codes, f16 scales).
      Value q = vector::LoadOp::create(
          b, loc, VectorType::get({kLanes}, b.getI8Type()), ops.codes,
          ValueRange{n, k});
      Value scale = toF32(memref::LoadOp::create(b, loc, ops.scales, n));
      scaled = arith::MulFOp::create(
          b, loc, arith::SIToFPOp::create(b, loc, floatType, q),
          vector::BroadcastOp::create(b, loc, floatType, scale));
    }
    Type element = ops.qtype.getElementType();
    if (element.isF32())
      return scaled;
    Value narrow = arith::TruncFOp::create(
        b, loc, VectorType::get({kLanes}, element), scaled);
    return arith::ExtFOp::create(b, loc, floatType, narrow);
  }

  /// out[t, n] += the dot products of tokens [token0, token0 + tokens) and
  /// the tile's features from `feature0`.
  void buildTile(Value token0, int64_t tokens, Value feature0) {
    SmallVector<Value> tokenIndex, features;
    for (int64_t i = 0; i < tokens; ++i)
      tokenIndex.push_back(add(token0, i));
    for (int64_t f = 0; f < kRowTileFeatures; ++f)
      features.push_back(add(feature0, f));
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(floatType, b.getF32FloatAttr(0)));
    SmallVector<Value> init(tokens * kRowTileFeatures, zero);
    auto loop = scf::ForOp::create(b, loc, c(0), c(ops.qtype.getK()),
                                   c(kLanes), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k = loop.getInductionVar();
      SmallVector<Value> w;
      for (Value n : features)
        w.push_back(weights(n, k));
      SmallVector<Value> next(loop.getRegionIterArgs());
      auto xType = cast<MemRefType>(ops.activations.getType());
      for (int64_t i = 0; i < tokens; ++i) {
        Value x = vector::LoadOp::create(
            b, loc, VectorType::get({kLanes}, xType.getElementType()),
            ops.activations, ValueRange{tokenIndex[i], k});
        if (!xType.getElementType().isF32())
          x = arith::ExtFOp::create(b, loc, floatType, x);
        for (int64_t f = 0; f < kRowTileFeatures; ++f) {
          Value &sum = next[i * kRowTileFeatures + f];
          sum = vector::FMAOp::create(b, loc, x, w[f], sum);
        }
      }
      scf::YieldOp::create(b, loc, next);
    }
    for (int64_t i = 0; i < tokens; ++i)
      for (int64_t f = 0; f < kRowTileFeatures; ++f) {
        Value sum = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD,
            loop.getResult(i * kRowTileFeatures + f));
        SmallVector<Value, 2> at{tokenIndex[i], features[f]};
        Value old = memref::LoadOp::create(b, loc, ops.out, at);
        memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, sum),
                                ops.out, at);
      }
  }

  const RowOperands &ops;
  int64_t tileTokens;
  Type f32, i32;
  VectorType wordType, floatType;
  BnB4Attr bnb;
  Block *tileBody = nullptr;
  Value dynamicMap;
};

struct CpuQuantizedContractionsPass
    : mlir::qc::impl::QCCpuQuantizedContractionsBase<
          CpuQuantizedContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileTokens < 1) {
      getOperation().emitError()
          << "qc-cpu-quantized-contractions: tile-tokens must be at least 1, "
             "got "
          << int64_t(tileTokens);
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, AwqOperands>> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (FailureOr<AwqOperands> ops = awqOperands(op); succeeded(ops))
        candidates.push_back({op, *ops});
    });
    SmallVector<std::pair<linalg::GenericOp, RowOperands>> rows;
    getOperation().walk([&](linalg::GenericOp op) {
      if (FailureOr<RowOperands> ops = rowOperands(op); succeeded(ops))
        rows.push_back({op, *ops});
    });
    for (auto &[op, ops] : candidates) {
      OpBuilder b(op);
      if (int8Activations && ops.scheme.getLayout() == AWQLayout::Cpu &&
          ops.scheme.getGroupSize() % kActivationBlock == 0)
        AwqInt8Kernel(b, op.getLoc(), ops).build();
      else
        AwqKernel(b, op.getLoc(), ops, tileTokens).build();
      op.erase();
    }
    for (auto &[op, ops] : rows) {
      OpBuilder b(op);
      RowKernel(b, op.getLoc(), ops, tileTokens).build();
      op.erase();
    }
  }
};

} // namespace
