//===- QCKernels.cpp - tensor-level kernels of the qc ops -----------------===//

#include "qc/Conversion/QCKernels.h"

#include "qc/Quant/BnB4bit.h"
#include "qc/Quant/DynamicMap.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <numbers>

using namespace mlir;
using namespace mlir::qc;

using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value KernelBuilder::toF32(Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value KernelBuilder::fromF32(Value v, Type type) {
  if (type.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, type, v);
}

Value KernelBuilder::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// An empty [tokens, cols] tensor with the token count of `shapeSource`.
Value KernelBuilder::emptyLike(Value shapeSource, int64_t cols,
                               Type elementType) {
  Value tokens = tensor::DimOp::create(b, loc, shapeSource, 0);
  return tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(cols)},
      elementType);
}

static AffineMap rowMap(MLIRContext *ctx) {
  // (t, f) -> (t): a per-token operand of a [tokens, features] loop nest.
  return AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
}

/// A parallel [tokens, features] loop nest over same-shaped operands.
static Value
elementwise(OpBuilder &b, Location loc, ValueRange inputs, Value init,
            function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              AffineMap::getMultiDimIdentityMap(2, ctx));
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, init, maps,
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return op.getResult(0);
}

//===----------------------------------------------------------------------===//
// Embedding, norms, elementwise
//===----------------------------------------------------------------------===//

Value KernelBuilder::embedding(Value table, Value tokens) {
  auto tableType = cast<RankedTensorType>(table.getType());
  Value init =
      emptyLike(tokens, tableType.getDimSize(1), tableType.getElementType());
  MLIRContext *ctx = b.getContext();
  auto op = linalg::GenericOp::create(
      b, loc, init.getType(), tokens, init,
      {rowMap(ctx), AffineMap::getMultiDimIdentityMap(2, ctx)},
      {IteratorType::parallel, IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value row =
            arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), args[0]);
        Value col = linalg::IndexOp::create(nb, nloc, 1);
        Value v =
            tensor::ExtractOp::create(nb, nloc, table, ValueRange{row, col});
        linalg::YieldOp::create(nb, nloc, v);
      });
  return op.getResult(0);
}

Value KernelBuilder::zeros(ArrayRef<OpFoldResult> sizes, Type elementType) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value zero = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(elementType)));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

Value KernelBuilder::zerosLike(Value shapeSource, int64_t cols,
                               Type elementType) {
  Value tokens = tensor::DimOp::create(b, loc, shapeSource, 0);
  return zeros({tokens, b.getIndexAttr(cols)}, elementType);
}

Value KernelBuilder::rmsNorm(Value x, Value weight, double epsilon) {
  MLIRContext *ctx = b.getContext();
  Value tokens = tensor::DimOp::create(b, loc, x, 0);
  Value sumInit = zeros({tokens}, b.getF32Type());
  // Sum of squares per token, in f32.
  Value sums =
      linalg::GenericOp::create(
          b, loc, sumInit.getType(), x, sumInit,
          {AffineMap::getMultiDimIdentityMap(2, ctx), rowMap(ctx)},
          {IteratorType::parallel, IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            KernelBuilder k(nb, nloc);
            Value v = k.toF32(args[0]);
            Value sq = arith::MulFOp::create(nb, nloc, v, v);
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddFOp::create(nb, nloc, args[1], sq).getResult());
          })
          .getResult(0);
  return normalize(x, sums, weight, epsilon);
}

std::pair<Value, Value>
KernelBuilder::addRmsNorm(Value lhs, Value rhs, Value weight, double epsilon) {
  // One pass writes the residual sum and accumulates its sum of squares.
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(lhs.getType());
  Value tokens = tensor::DimOp::create(b, loc, lhs, 0);
  Value sumInit = zeros({tokens}, b.getF32Type());
  Value residualInit =
      emptyLike(lhs, type.getDimSize(1), type.getElementType());
  auto id = AffineMap::getMultiDimIdentityMap(2, ctx);
  auto fused = linalg::GenericOp::create(
      b, loc, TypeRange{residualInit.getType(), sumInit.getType()},
      ValueRange{lhs, rhs}, ValueRange{residualInit, sumInit},
      {id, id, id, rowMap(ctx)},
      {IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        KernelBuilder k(nb, nloc);
        Value sum = arith::AddFOp::create(nb, nloc, args[0], args[1]);
        Value v = k.toF32(sum);
        Value sq = arith::MulFOp::create(nb, nloc, v, v);
        linalg::YieldOp::create(
            nb, nloc,
            ValueRange{sum, arith::AddFOp::create(nb, nloc, args[3], sq)});
      });
  Value residual = fused.getResult(0);
  return {residual, normalize(residual, fused.getResult(1), weight, epsilon)};
}

Value KernelBuilder::normalize(Value x, Value sums, Value weight,
                               double epsilon) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t hidden = type.getDimSize(1);
  // x * rsqrt(mean + eps), rounded to the input type, times the weight (the
  // order of HF's LlamaRMSNorm).
  Value init = emptyLike(x, hidden, type.getElementType());
  auto wMap = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{x, sums, weight}, init,
             {AffineMap::getMultiDimIdentityMap(2, ctx), rowMap(ctx), wMap,
              AffineMap::getMultiDimIdentityMap(2, ctx)},
             {IteratorType::parallel, IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               KernelBuilder k(nb, nloc);
               Value n = arith::ConstantOp::create(
                   nb, nloc, nb.getF32FloatAttr(float(hidden)));
               Value eps = arith::ConstantOp::create(
                   nb, nloc, nb.getF32FloatAttr(float(epsilon)));
               Value mean = arith::DivFOp::create(nb, nloc, args[1], n);
               // 1 / sqrt, both correctly rounded, on every target: GPU
               // rsqrt is an approximation whose last-bit differences
               // move activations across int8 rounding boundaries
               // (LLM.int8, W8A8). The CPU lowers math.rsqrt to this.
               Value inv = arith::DivFOp::create(
                   nb, nloc,
                   arith::ConstantOp::create(nb, nloc,
                                             nb.getF32FloatAttr(1.0f)),
                   math::SqrtOp::create(
                       nb, nloc, arith::AddFOp::create(nb, nloc, mean, eps)));
               Value normed =
                   arith::MulFOp::create(nb, nloc, k.toF32(args[0]), inv);
               Type t = args[3].getType();
               Value rounded = k.toF32(k.fromF32(normed, t));
               Value y =
                   arith::MulFOp::create(nb, nloc, k.toF32(args[2]), rounded);
               linalg::YieldOp::create(nb, nloc, k.fromF32(y, t));
             })
      .getResult(0);
}

Value KernelBuilder::siluMul(Value gate, Value up) {
  auto type = cast<RankedTensorType>(gate.getType());
  Value init = emptyLike(gate, type.getDimSize(1), type.getElementType());
  return elementwise(
      b, loc, {gate, up}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        KernelBuilder k(nb, nloc);
        Type t = args[0].getType();
        Value g = k.toF32(args[0]);
        Value one =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1.0f));
        Value e =
            math::ExpOp::create(nb, nloc, arith::NegFOp::create(nb, nloc, g));
        Value silu = arith::DivFOp::create(
            nb, nloc, g, arith::AddFOp::create(nb, nloc, one, e));
        // silu is rounded to the activation type before the
        // product, as torch does for act_fn(gate) * up.
        Value s = k.fromF32(silu, t);
        return arith::MulFOp::create(nb, nloc, s, args[1]).getResult();
      });
}

Value KernelBuilder::add(Value lhs, Value rhs) {
  auto type = cast<RankedTensorType>(lhs.getType());
  Value init = emptyLike(lhs, type.getDimSize(1), type.getElementType());
  return elementwise(
      b, loc, {lhs, rhs}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::AddFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

//===----------------------------------------------------------------------===//
// Linear layers
//===----------------------------------------------------------------------===//

/// AutoAWQ packs element j of eight along N at nibble (j % 2) * 4 + j / 2.
static Value awqNibble(OpBuilder &b, Location loc, Value packed, Value n) {
  Value eight = arith::ConstantIndexOp::create(b, loc, 8);
  Value two = arith::ConstantIndexOp::create(b, loc, 2);
  Value four = arith::ConstantIndexOp::create(b, loc, 4);
  Value j = arith::RemUIOp::create(b, loc, n, eight);
  Value pos = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, arith::RemUIOp::create(b, loc, j, two),
                            four),
      arith::DivUIOp::create(b, loc, j, two));
  Value shift = arith::IndexCastOp::create(
      b, loc, b.getI32Type(), arith::MulIOp::create(b, loc, pos, four));
  Value mask = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(15));
  return arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, packed, shift), mask);
}

/// The code of feature n at input k in the mma layout (AWQLayouts.h): row
/// n / 16, word 128 (k / 64) + 4 (4 (n % 8) + (k % 64) / 16) + (k % 16) / 4,
/// nibble (k % 2) 4 + ((k % 4) / 2) 2 + (n % 16) / 8.
static Value awqMmaCode(OpBuilder &b, Location loc, Value qweight, Value n,
                        Value k) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(b, loc, x, y);
  };
  auto mul = [&](Value x, int64_t y) -> Value {
    return arith::MulIOp::create(b, loc, x, c(y));
  };
  auto div = [&](Value x, int64_t y) -> Value {
    return arith::DivUIOp::create(b, loc, x, c(y));
  };
  auto rem = [&](Value x, int64_t y) -> Value {
    return arith::RemUIOp::create(b, loc, x, c(y));
  };
  Value inBlock = rem(k, 64);
  Value lane = add(mul(rem(n, 8), 4), div(inBlock, 16));
  Value word =
      add(add(mul(div(k, 64), 128), mul(lane, 4)), div(rem(inBlock, 16), 4));
  Value nibble = add(add(mul(rem(k, 2), 4), mul(div(rem(k, 4), 2), 2)),
                     div(rem(n, 16), 8));
  Value shift = arith::IndexCastOp::create(b, loc, b.getI32Type(),
                                           mul(nibble, 4));
  Value packed =
      tensor::ExtractOp::create(b, loc, qweight, ValueRange{div(n, 16), word});
  return arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, packed, shift),
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(15)));
}

/// The value and bits of biasedHalf's bias: 1024.0 in f16.
constexpr int64_t kHalfCodeBias = 1024;
constexpr int64_t kHalfCodeBiasBits = 0x6400;

Value KernelBuilder::biasedHalf(Value code) {
  Value bits =
      arith::OrIOp::create(b, loc, code,
                           arith::ConstantOp::create(
                               b, loc, b.getI32IntegerAttr(kHalfCodeBiasBits)));
  return arith::BitcastOp::create(
      b, loc, b.getF16Type(),
      arith::TruncIOp::create(b, loc, b.getI16Type(), bits));
}

static Value constantTable(OpBuilder &b, Location loc, ArrayRef<float> values) {
  auto type = RankedTensorType::get({int64_t(values.size())}, b.getF32Type());
  return arith::ConstantOp::create(b, loc,
                                   DenseElementsAttr::get(type, values));
}

Value KernelBuilder::dequantize(ArrayRef<Value> s, QWeightType qtype, Value n,
                                Value k) {
  Type f32 = b.getF32Type();
  Type i32 = b.getI32Type();
  auto roundTo = [&](Value v, Type t) { return toF32(fromF32(v, t)); };
  Attribute scheme = qtype.getScheme();

  if (auto awq = dyn_cast<AWQAttr>(scheme)) {
    // w = (q - z) * s in fp16, as AutoAWQ dequantizes.
    Value g = arith::DivUIOp::create(b, loc, k, index(awq.getGroupSize()));
    Value col = arith::DivUIOp::create(b, loc, n, index(8));
    Value q;
    if (awq.getLayout() == AWQLayout::Mma) {
      q = awqMmaCode(b, loc, s[0], n, k);
    } else if (awq.getLayout() == AWQLayout::Cpu) {
      // Row n / 64, word 64 (k / 8) + n % 64; input k % 8 in byte k % 4,
      // high nibble for k % 8 >= 4 (AWQLayouts.h).
      int64_t tile = AWQAttr::kCpuTileFeatures;
      Value word = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc, arith::DivUIOp::create(b, loc, k, index(8)),
              index(tile)),
          arith::RemUIOp::create(b, loc, n, index(tile)));
      Value inBlock = arith::RemUIOp::create(b, loc, k, index(8));
      Value shift = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc, arith::RemUIOp::create(b, loc, inBlock, index(4)),
              index(8)),
          arith::MulIOp::create(
              b, loc, arith::DivUIOp::create(b, loc, inBlock, index(4)),
              index(4)));
      Value packed = tensor::ExtractOp::create(
          b, loc, s[0],
          ValueRange{arith::DivUIOp::create(b, loc, n, index(tile)), word});
      q = arith::AndIOp::create(
          b, loc,
          arith::ShRUIOp::create(
              b, loc, packed,
              arith::IndexCastOp::create(b, loc, b.getI32Type(), shift)),
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(15)));
    } else {
      q = awqNibble(
          b, loc, tensor::ExtractOp::create(b, loc, s[0], ValueRange{k, col}),
          n);
    }
    Value z =
        awq.getZeroPoint()
            ? biasedHalf(awqNibble(
                  b, loc,
                  tensor::ExtractOp::create(b, loc, s[1], ValueRange{g, col}),
                  n))
            : arith::ConstantOp::create(b, loc,
                                        b.getF16FloatAttr(kHalfCodeBias + 8))
                  .getResult();
    Value scale = tensor::ExtractOp::create(
        b, loc, s[awq.getZeroPoint() ? 2 : 1], ValueRange{g, n});
    Value diff = arith::SubFOp::create(b, loc, biasedHalf(q), z);
    return toF32(arith::MulFOp::create(b, loc, diff, scale));
  }

  if (auto bnb = dyn_cast<BnB4Attr>(scheme)) {
    // Flat element index e = n * K + k; two codes per byte, first high.
    Value e = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, n, index(qtype.getK())), k);
    Value byte = arith::ExtUIOp::create(
        b, loc, i32,
        tensor::ExtractOp::create(
            b, loc, s[0],
            ValueRange{arith::DivUIOp::create(b, loc, e, index(2))}));
    Value isHigh = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, loc, e, index(2)), index(0));
    Value high = arith::ShRUIOp::create(
        b, loc, byte,
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(4)));
    Value low = arith::AndIOp::create(
        b, loc, byte,
        arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(15)));
    Value code = arith::SelectOp::create(b, loc, isHigh, high, low);
    ::qc::quant::Bnb4Type type = bnb.getType() == BnB4Type::NF4
                                     ? ::qc::quant::Bnb4Type::NF4
                                     : ::qc::quant::Bnb4Type::FP4;
    std::span<const float, 16> book = ::qc::quant::bnb4Codebook(type);
    Value table = constantTable(b, loc, ArrayRef<float>(book.data(), 16));
    Value level = tensor::ExtractOp::create(
        b, loc, table,
        ValueRange{arith::IndexCastOp::create(b, loc, b.getIndexType(), code)});
    Value block = arith::DivUIOp::create(b, loc, e, index(bnb.getBlockSize()));
    Value absmax;
    if (!bnb.getDoubleQuant()) {
      absmax = tensor::ExtractOp::create(b, loc, s[1], ValueRange{block});
    } else {
      // absmax = dynamic_map[code8] * nested_absmax[block / 256] + offset.
      std::span<const float, 256> dyn = ::qc::quant::dynamicMapSigned();
      Value dynTable = constantTable(b, loc, ArrayRef<float>(dyn.data(), 256));
      Value code8 = arith::ExtUIOp::create(
          b, loc, i32,
          tensor::ExtractOp::create(b, loc, s[1], ValueRange{block}));
      Value dynValue =
          tensor::ExtractOp::create(b, loc, dynTable,
                                    ValueRange{arith::IndexCastOp::create(
                                        b, loc, b.getIndexType(), code8)});
      Value nestedIdx = arith::DivUIOp::create(
          b, loc, block, index(BnB4Attr::kNestedBlockSize));
      Value nested =
          tensor::ExtractOp::create(b, loc, s[2], ValueRange{nestedIdx});
      Value offset =
          tensor::ExtractOp::create(b, loc, s[3], ValueRange{index(0)});
      absmax = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, dynValue, nested), offset);
    }
    return roundTo(arith::MulFOp::create(b, loc, level, absmax),
                   qtype.getElementType());
  }

  // Weight-only int8: w = q * scale[n]. (LLM.int8 and W8A8 quantize the
  // activations too; KernelBuilder::linear rejects them before this point.)
  Value q = tensor::ExtractOp::create(b, loc, s[0], ValueRange{n, k});
  Value scale = tensor::ExtractOp::create(b, loc, s[1], ValueRange{n});
  if (qtype.getElementType().isF16()) {
    // q + 128 = q ^ 0x80 as a byte, a biased half; minus (bias + 128) is q.
    Value unsignedCode = arith::ExtUIOp::create(
        b, loc, i32,
        arith::XOrIOp::create(
            b, loc, q,
            arith::ConstantOp::create(b, loc,
                                      b.getIntegerAttr(q.getType(), 0x80))));
    Value code = arith::SubFOp::create(
        b, loc, biasedHalf(unsignedCode),
        arith::ConstantOp::create(b, loc,
                                  b.getF16FloatAttr(kHalfCodeBias + 128)));
    return toF32(arith::MulFOp::create(b, loc, code, scale));
  }
  return roundTo(arith::MulFOp::create(b, loc,
                                       arith::SIToFPOp::create(b, loc, f32, q),
                                       toF32(scale)),
                 qtype.getElementType());
}

Value KernelBuilder::linear(Value x, ValueRange weight, QWeightType qtype,
                            Value bias, Type resultElementType) {
  MLIRContext *ctx = b.getContext();
  int64_t n = qtype ? qtype.getN()
                    : cast<RankedTensorType>(weight[0].getType()).getDimSize(0);
  Type f32 = b.getF32Type();

  // acc[t, n] = sum_k x[t, k] * w[n, k] in f32.
  Value accInit = zerosLike(x, n, f32);
  AffineExpr t = getAffineDimExpr(0, ctx), nn = getAffineDimExpr(1, ctx),
             kk = getAffineDimExpr(2, ctx);
  auto xMap = AffineMap::get(3, 0, {t, kk}, ctx);
  auto outMap = AffineMap::get(3, 0, {t, nn}, ctx);
  SmallVector<Value> inputs = {x};
  SmallVector<AffineMap> maps = {xMap};
  if (!qtype) {
    inputs.push_back(weight[0]);
    maps.push_back(AffineMap::get(3, 0, {nn, kk}, ctx));
  }
  maps.push_back(outMap);
  SmallVector<Value> storage(weight.begin(), weight.end());
  auto contraction =
      linalg::GenericOp::create(
          b, loc, accInit.getType(), inputs, accInit, maps,
          {IteratorType::parallel, IteratorType::parallel,
           IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            KernelBuilder kb(nb, nloc);
            Value w;
            if (qtype) {
              Value ni = linalg::IndexOp::create(nb, nloc, 1);
              Value ki = linalg::IndexOp::create(nb, nloc, 2);
              w = kb.dequantize(storage, qtype, ni, ki);
            } else {
              w = kb.toF32(args[1]);
            }
            // The sum over K may be reassociated: it lets the backend
            // vectorize the reduction (cuBLAS and torch's CPU kernels
            // reorder it too).
            auto fm =
                arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
            Value prod =
                arith::MulFOp::create(nb, nloc, kb.toF32(args[0]), w, fm);
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddFOp::create(nb, nloc, args.back(), prod, fm)
                    .getResult());
          });
  // GPU lowerings pick kernels that know the weight's storage by it.
  if (qtype)
    contraction->setAttr(kQuantizedWeightAttr, TypeAttr::get(qtype));
  Value acc = contraction.getResult(0);

  // Round to the result type, then add the bias in that type (torch adds the
  // bias to the rounded product in F.linear's addmm epilogue).
  Value init = emptyLike(x, n, resultElementType);
  SmallVector<Value> epilogueInputs = {acc};
  SmallVector<AffineMap> epilogueMaps = {
      AffineMap::getMultiDimIdentityMap(2, ctx)};
  if (bias) {
    epilogueInputs.push_back(bias);
    epilogueMaps.push_back(
        AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx));
  }
  epilogueMaps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  return linalg::GenericOp::create(
             b, loc, init.getType(), epilogueInputs, init, epilogueMaps,
             {IteratorType::parallel, IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               KernelBuilder kb(nb, nloc);
               Type out = args.back().getType();
               Value v = args[0];
               if (bias)
                 v = arith::AddFOp::create(nb, nloc, v, kb.toF32(args[1]));
               linalg::YieldOp::create(nb, nloc, kb.fromF32(v, out));
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

std::pair<SmallVector<float>, float>
mlir::qc::ropeInverseFrequencies(RopeAttr rope, int64_t headDim) {
  double theta = rope.getTheta().convertToDouble();
  double factor = rope.getFactor().convertToDouble();
  int64_t half = headDim / 2;
  SmallVector<float> inv(half);
  // transformers computes base ** (arange(0, dim, 2) / dim) in f32.
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(headDim));
  float scale = 1.0f;
  switch (rope.getType()) {
  case RopeType::Default:
  case RopeType::Dynamic: // equals default within the original context
    break;
  case RopeType::Linear:
    for (float &f : inv)
      f = f / float(factor);
    break;
  case RopeType::Llama3: {
    double low = rope.getLowFreqFactor().convertToDouble();
    double high = rope.getHighFreqFactor().convertToDouble();
    double old = double(rope.getOriginalMaxPositions());
    double lowWavelen = old / low, highWavelen = old / high;
    for (float &f : inv) {
      double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > lowWavelen) {
        f = float(f / factor);
      } else if (wavelen >= highWavelen) {
        double smooth = (old / wavelen - low) / (high - low);
        f = float((1 - smooth) * f / factor + smooth * f);
      }
    }
    break;
  }
  case RopeType::Yarn: {
    double old = double(rope.getOriginalMaxPositions());
    double betaFast = rope.getBetaFast().convertToDouble();
    double betaSlow = rope.getBetaSlow().convertToDouble();
    auto correctionDim = [&](double rotations) {
      return headDim * std::log(old / (rotations * 2 * std::numbers::pi)) /
             (2 * std::log(theta));
    };
    double low = std::floor(correctionDim(betaFast));
    double highDim = std::ceil(correctionDim(betaSlow));
    low = std::max(low, 0.0);
    highDim = std::min(highDim, double(headDim - 1));
    if (low == highDim)
      highDim += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((i - low) / (highDim - low), 0.0, 1.0);
      double extrapolation = 1.0 - ramp;
      double interpolated = inv[i] / factor;
      inv[i] =
          float(interpolated * (1 - extrapolation) + inv[i] * extrapolation);
    }
    double attention = rope.getAttentionFactor().convertToDouble();
    scale =
        attention > 0 ? float(attention) : float(0.1 * std::log(factor) + 1.0);
    break;
  }
  }
  return {inv, scale};
}

/// Element j of a [*, heads * headDim] row after rotary embedding at
/// `position`: x[j] * cos + rotate_half(x)[j] * sin, with cos and sin rounded
/// to the activation type as HF does. `load` reads element c of the row.
static Value rotate(OpBuilder &b, Location loc, function_ref<Value(Value)> load,
                    Value j, Value position, Value invTable, float cosScale,
                    int64_t headDim, Type type) {
  KernelBuilder kb(b, loc);
  int64_t half = headDim / 2;
  auto idx = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value i = arith::RemUIOp::create(b, loc, j, idx(headDim));
  Value firstHalf =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i, idx(half));
  Value partner = arith::SelectOp::create(
      b, loc, firstHalf, arith::AddIOp::create(b, loc, j, idx(half)),
      arith::SubIOp::create(b, loc, j, idx(half)));
  Value freq = tensor::ExtractOp::create(
      b, loc, invTable,
      ValueRange{arith::RemUIOp::create(b, loc, i, idx(half))});
  Value angle = arith::MulFOp::create(
      b, loc, arith::SIToFPOp::create(b, loc, b.getF32Type(), position), freq);
  Value scale = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(cosScale));
  auto rounded = [&](Value v) {
    return kb.toF32(kb.fromF32(arith::MulFOp::create(b, loc, v, scale), type));
  };
  Value c = rounded(math::CosOp::create(b, loc, angle));
  Value s = rounded(math::SinOp::create(b, loc, angle));
  Value self = kb.toF32(load(j));
  Value other = kb.toF32(load(partner));
  // rotate_half: (-x2, x1).
  Value rotated = arith::SelectOp::create(
      b, loc, firstHalf, arith::NegFOp::create(b, loc, other), other);
  Value y =
      arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, self, c),
                            arith::MulFOp::create(b, loc, rotated, s));
  return kb.fromF32(y, type);
}

Value KernelBuilder::rope(Value x, Value positions, int64_t numHeads,
                          int64_t headDim, RopeAttr ropeAttr) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  auto [inv, cosScale] = ropeInverseFrequencies(ropeAttr, headDim);
  Value invTable = constantTable(b, loc, inv);
  Value init = emptyLike(x, numHeads * headDim, type.getElementType());
  return linalg::GenericOp::create(
             b, loc, init.getType(), positions, init,
             {rowMap(ctx), AffineMap::getMultiDimIdentityMap(2, ctx)},
             {IteratorType::parallel, IteratorType::parallel},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value row = linalg::IndexOp::create(nb, nloc, 0);
               Value j = linalg::IndexOp::create(nb, nloc, 1);
               auto load = [&](Value col) -> Value {
                 return tensor::ExtractOp::create(nb, nloc, x,
                                                  ValueRange{row, col});
               };
               linalg::YieldOp::create(nb, nloc,
                                       rotate(nb, nloc, load, j, args[0],
                                              invTable, cosScale, headDim,
                                              args[1].getType()));
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Paged KV cache
//===----------------------------------------------------------------------===//

static Value toBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
  return bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                           /*read_only=*/true);
}

/// The loops of a cache write: for each token t and feature c, stores
/// keyAt(t, c) and values[t, c] at the token's slot of layer `layer`.
static void writeCacheLoops(
    OpBuilder &b, Location loc, const PagedCache &cache, int64_t layer,
    Value keys, Value values,
    function_ref<Value(OpBuilder &, Location, Value, Value)> keyAt) {
  Value v = toBuffer(b, loc, values);
  auto idx = [&](OpBuilder &ib, Location il, int64_t i) -> Value {
    return arith::ConstantIndexOp::create(ib, il, i);
  };
  Value tokens = memref::DimOp::create(b, loc, v, 0);
  Value width = memref::DimOp::create(b, loc, v, 1);
  Value layerIdx = idx(b, loc, layer);
  // Every (token, feature) store is independent: a parallel loop, which the
  // GPU pipelines map to threads.
  scf::ParallelOp::create(
      b, loc, ValueRange{idx(b, loc, 0), idx(b, loc, 0)},
      ValueRange{tokens, width}, ValueRange{idx(b, loc, 1), idx(b, loc, 1)},
      [&](OpBuilder &ib, Location iloc, ValueRange ivs) {
        Value t = ivs[0], c = ivs[1];
        Value slot = arith::IndexCastOp::create(
            ib, iloc, ib.getIndexType(),
            memref::LoadOp::create(ib, iloc, cache.slotMapping, ValueRange{t}));
        memref::StoreOp::create(ib, iloc, keyAt(ib, iloc, t, c), cache.keys,
                                ValueRange{layerIdx, slot, c});
        Value vv = memref::LoadOp::create(ib, iloc, v, ValueRange{t, c});
        memref::StoreOp::create(ib, iloc, vv, cache.values,
                                ValueRange{layerIdx, slot, c});
      });
}

void KernelBuilder::kvCacheWrite(const PagedCache &cache, int64_t layer,
                                 Value keys, Value values) {
  Value k = toBuffer(b, loc, keys);
  writeCacheLoops(b, loc, cache, layer, keys, values,
                  [&](OpBuilder &ib, Location il, Value t, Value c) -> Value {
                    return memref::LoadOp::create(ib, il, k, ValueRange{t, c});
                  });
}

void KernelBuilder::ropeKVCacheWrite(const PagedCache &cache, int64_t layer,
                                     Value keys, Value values, Value positions,
                                     int64_t headDim, RopeAttr ropeAttr) {
  auto [inv, cosScale] = ropeInverseFrequencies(ropeAttr, headDim);
  Value invTable = constantTable(b, loc, inv);
  Type elem = cast<RankedTensorType>(keys.getType()).getElementType();
  Value k = toBuffer(b, loc, keys), pos = toBuffer(b, loc, positions);
  writeCacheLoops(
      b, loc, cache, layer, keys, values,
      [&](OpBuilder &ib, Location il, Value t, Value c) -> Value {
        auto load = [&](Value col) -> Value {
          return memref::LoadOp::create(ib, il, k, ValueRange{t, col});
        };
        Value p = memref::LoadOp::create(ib, il, pos, ValueRange{t});
        return rotate(ib, il, load, c, p, invTable, cosScale, headDim, elem);
      });
}

Value KernelBuilder::cacheSlot(const PagedCache &cache, Value sequence,
                               Value position) {
  Value block = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(
          b, loc, cache.blockTables,
          ValueRange{sequence, arith::DivUIOp::create(
                                   b, loc, position, index(cache.blockSize))}));
  return arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block, index(cache.blockSize)),
      arith::RemUIOp::create(b, loc, position, index(cache.blockSize)));
}

Value KernelBuilder::headDot(Value query, Value token, Value queryBase,
                             Value keys, Value layer, Value slot, Value keyBase,
                             int64_t headDim) {
  auto loop = scf::ForOp::create(
      b, loc, index(0), index(headDim), index(1),
      ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f))},
      [&](OpBuilder &db, Location dl, Value d, ValueRange acc) {
        KernelBuilder kd(db, dl);
        Value qv = kd.toF32(memref::LoadOp::create(
            db, dl, query,
            ValueRange{token, arith::AddIOp::create(db, dl, queryBase, d)}));
        Value kv = kd.toF32(memref::LoadOp::create(
            db, dl, keys,
            ValueRange{layer, slot,
                       arith::AddIOp::create(db, dl, keyBase, d)}));
        scf::YieldOp::create(
            db, dl,
            ValueRange{arith::AddFOp::create(
                db, dl, acc[0], arith::MulFOp::create(db, dl, qv, kv))});
      });
  return loop.getResult(0);
}

Value KernelBuilder::attention(const PagedCache &cache, int64_t layer,
                               Value query, Value positions, int64_t numHeads,
                               int64_t numKvHeads, int64_t headDim,
                               double scale,
                               std::optional<int64_t> slidingWindow) {
  auto qType = cast<RankedTensorType>(query.getType());
  Type elem = qType.getElementType();
  Type f32 = b.getF32Type();
  Value q = toBuffer(b, loc, query);
  Value pos = toBuffer(b, loc, positions);
  Value tokens = memref::DimOp::create(b, loc, q, 0);
  auto outType = MemRefType::get(qType.getShape(), elem);
  Value out = memref::AllocOp::create(b, loc, outType, ValueRange{tokens});
  Value layerIdx = index(layer);
  int64_t group = numHeads / numKvHeads;
  Value scaleValue =
      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(scale)));
  Value negInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value zeroF = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));

  auto forRange = [](OpBuilder &ob, Location ol, Value lo, Value hi,
                     ValueRange iters,
                     function_ref<SmallVector<Value>(OpBuilder &, Location,
                                                     Value, ValueRange)>
                         body) {
    auto loop = scf::ForOp::create(
        ob, ol, lo, hi, arith::ConstantIndexOp::create(ob, ol, 1), iters,
        [&](OpBuilder &nb, Location nl, Value iv, ValueRange args) {
          scf::YieldOp::create(nb, nl, body(nb, nl, iv, args));
        });
    return loop.getResults();
  };

  // Every (token, head) pair is independent: a parallel loop, which the GPU
  // pipelines map to threads. Its f32 accumulator row lives in an alloca
  // scope so the CPU's stack does not grow with the iterations.
  scf::ParallelOp::create(
      b, loc, ValueRange{index(0), index(0)},
      ValueRange{tokens, index(numHeads)}, ValueRange{index(1), index(1)},
      [&](OpBuilder &b0, Location l0, ValueRange ivs) {
        auto scope = memref::AllocaScopeOp::create(b0, l0, TypeRange{});
        OpBuilder b1 =
            OpBuilder::atBlockBegin(&scope.getBodyRegion().emplaceBlock());
        Location l1 = l0;
        Value t = ivs[0], h = ivs[1];
        Value acc =
            memref::AllocaOp::create(b1, l1, MemRefType::get({headDim}, f32));
        KernelBuilder k1(b1, l1);
        Value seq = arith::IndexCastOp::create(
            b1, l1, b1.getIndexType(),
            memref::LoadOp::create(b1, l1, cache.tokenSequence, ValueRange{t}));
        Value p = arith::IndexCastOp::create(
            b1, l1, b1.getIndexType(),
            memref::LoadOp::create(b1, l1, pos, ValueRange{t}));
        Value end = arith::AddIOp::create(b1, l1, p, k1.index(1));
        Value start = k1.index(0);
        if (slidingWindow) {
          // HF's sliding window keeps key positions j > i - window.
          Value w = k1.index(*slidingWindow);
          Value lo = arith::SubIOp::create(b1, l1, end, w);
          Value isPositive = arith::CmpIOp::create(
              b1, l1, arith::CmpIPredicate::sgt, lo, start);
          start = arith::SelectOp::create(b1, l1, isPositive, lo, start);
        }
        // The cache slot of position j of this token's sequence.
        auto slotOf = [&](OpBuilder &sb, Location sl, Value j) -> Value {
          return KernelBuilder(sb, sl).cacheSlot(cache, seq, j);
        };

        Value kvHead = arith::DivUIOp::create(b1, l1, h, k1.index(group));
        Value qBase = arith::MulIOp::create(b1, l1, h, k1.index(headDim));
        Value kBase = arith::MulIOp::create(b1, l1, kvHead, k1.index(headDim));
        auto score = [&](OpBuilder &sb, Location sl, Value slot) -> Value {
          KernelBuilder ks(sb, sl);
          Value dot = ks.headDot(q, t, qBase, cache.keys, layerIdx, slot, kBase,
                                 headDim);
          return arith::MulFOp::create(sb, sl, dot, scaleValue);
        };

        // Pass 1: the maximum score, for a stable softmax.
        Value maxScore =
            forRange(b1, l1, start, end, {negInf},
                     [&](OpBuilder &sb, Location sl, Value j, ValueRange it) {
                       Value s = score(sb, sl, slotOf(sb, sl, j));
                       return SmallVector<Value>{
                           arith::MaximumFOp::create(sb, sl, it[0], s)};
                     })[0];
        // Pass 2: softmax weights and the weighted sum of values.
        forRange(b1, l1, k1.index(0), k1.index(headDim), {},
                 [&](OpBuilder &zb, Location zl, Value d, ValueRange) {
                   memref::StoreOp::create(zb, zl, zeroF, acc, ValueRange{d});
                   return SmallVector<Value>{};
                 });
        Value denom = forRange(
            b1, l1, start, end, {zeroF},
            [&](OpBuilder &sb, Location sl, Value j, ValueRange it) {
              KernelBuilder ks(sb, sl);
              Value slot = slotOf(sb, sl, j);
              Value w = math::ExpOp::create(
                  sb, sl,
                  arith::SubFOp::create(sb, sl, score(sb, sl, slot), maxScore));
              forRange(
                  sb, sl, ks.index(0), ks.index(headDim), {},
                  [&](OpBuilder &vb, Location vl, Value d, ValueRange) {
                    KernelBuilder kv(vb, vl);
                    Value vv = kv.toF32(memref::LoadOp::create(
                        vb, vl, cache.values,
                        ValueRange{layerIdx, slot,
                                   arith::AddIOp::create(vb, vl, kBase, d)}));
                    Value old =
                        memref::LoadOp::create(vb, vl, acc, ValueRange{d});
                    memref::StoreOp::create(
                        vb, vl,
                        arith::AddFOp::create(
                            vb, vl, old, arith::MulFOp::create(vb, vl, w, vv)),
                        acc, ValueRange{d});
                    return SmallVector<Value>{};
                  });
              return SmallVector<Value>{
                  arith::AddFOp::create(sb, sl, it[0], w)};
            })[0];
        forRange(b1, l1, k1.index(0), k1.index(headDim), {},
                 [&](OpBuilder &ob, Location ol, Value d, ValueRange) {
                   KernelBuilder ko(ob, ol);
                   Value a = memref::LoadOp::create(ob, ol, acc, ValueRange{d});
                   Value o = arith::DivFOp::create(ob, ol, a, denom);
                   memref::StoreOp::create(
                       ob, ol, ko.fromF32(o, elem), out,
                       ValueRange{t, arith::AddIOp::create(ob, ol, qBase, d)});
                   return SmallVector<Value>{};
                 });
        memref::AllocaScopeReturnOp::create(b1, l1);
      });
  return bufferization::ToTensorOp::create(b, loc, qType, out,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}
