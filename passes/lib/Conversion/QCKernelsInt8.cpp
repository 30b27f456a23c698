//===- QCKernelsInt8.cpp - linear layers with int8 activations ------------===//
//
// LLM.int8 (bitsandbytes' MatMul8bitLt) and W8A8 quantize the activations at
// run time, so their matmuls are int8 x int8 with int32 accumulation rather
// than a dequantized weight in a float matmul. The arithmetic follows
// qc::quant::llmInt8MatmulReference / w8a8MatmulReference step by step (the
// library versions are checked against torch on the GPU).
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/QCKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::qc;
using utils::IteratorType;

Value KernelBuilder::absMax(Value x, unsigned reduced,
                            std::optional<float> below) {
  MLIRContext *ctx = b.getContext();
  Value kept = tensor::DimOp::create(b, loc, x, 1 - reduced);
  Value init = zeros({kept}, b.getF32Type());
  SmallVector<IteratorType> iterators = {IteratorType::parallel,
                                         IteratorType::parallel};
  iterators[reduced] = IteratorType::reduction;
  auto outMap = AffineMap::get(2, 0, {getAffineDimExpr(1 - reduced, ctx)}, ctx);
  return linalg::GenericOp::create(
             b, loc, init.getType(), x, init,
             {AffineMap::getMultiDimIdentityMap(2, ctx), outMap}, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               KernelBuilder k(nb, nl);
               Value a = math::AbsFOp::create(nb, nl, k.toF32(args[0]));
               Value m = arith::MaximumFOp::create(nb, nl, args[1], a);
               if (below) {
                 Value limit = arith::ConstantOp::create(
                     nb, nl, nb.getF32FloatAttr(*below));
                 Value counts = arith::CmpFOp::create(
                     nb, nl, arith::CmpFPredicate::OLT, a, limit);
                 m = arith::SelectOp::create(nb, nl, counts, m, args[1]);
               }
               linalg::YieldOp::create(nb, nl, m);
             })
      .getResult(0);
}

/// clamp(roundeven(v), -127, 127) as i32: bitsandbytes' and torch's rounding.
static Value toInt8Code(OpBuilder &b, Location loc, Value v) {
  Value r = math::RoundEvenOp::create(b, loc, v);
  Value lo = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(-127.0f));
  Value hi = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(127.0f));
  r = arith::MinimumFOp::create(b, loc,
                                arith::MaximumFOp::create(b, loc, r, lo), hi);
  return arith::FPToSIOp::create(b, loc, b.getI32Type(), r);
}

static Value roundToHalf(OpBuilder &b, Location loc, Value v) {
  Value h = arith::TruncFOp::create(b, loc, b.getF16Type(), v);
  return arith::ExtFOp::create(b, loc, b.getF32Type(), h);
}

Value KernelBuilder::int8ActivationLinear(Value x, ValueRange s,
                                          Int8Attr scheme, Value bias,
                                          Type resultElementType) {
  MLIRContext *ctx = b.getContext();
  Value qweight = s[0], wscale = s[1];
  int64_t n = cast<RankedTensorType>(qweight.getType()).getDimSize(0);
  bool llmInt8 = scheme.getMode() == Int8Mode::LLMInt8;
  float threshold = float(scheme.getThreshold().convertToDouble());
  bool outliers = llmInt8 && threshold > 0.0f;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();

  // Per-token absmax (LLM.int8: of the elements below the threshold) and,
  // for LLM.int8, the columns holding an outlier in any token.
  Value rowMax =
      absMax(x, 1, outliers ? std::optional(threshold) : std::nullopt);
  Value colMax = outliers ? absMax(x, 0, std::nullopt) : Value();

  AffineExpr t = getAffineDimExpr(0, ctx), nn = getAffineDimExpr(1, ctx),
             kk = getAffineDimExpr(2, ctx);
  auto at = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(3, 0, e, ctx);
  };
  auto isDropped = [&](OpBuilder &nb, Location nl, Value colAbsMax) {
    Value limit =
        arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(threshold));
    return arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OGE, colAbsMax,
                                 limit);
  };

  // acc[t, n] = sum_k q(x[t, k]) * qweight[n, k] in int32.
  Value accInit = zerosLike(x, n, i32);
  Value zeroI = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  SmallVector<Value> inputs = {x, rowMax, qweight};
  SmallVector<AffineMap> maps = {at({t, kk}), at({t}), at({nn, kk})};
  if (outliers) {
    inputs.push_back(colMax);
    maps.push_back(at({kk}));
  }
  maps.push_back(at({t, nn}));
  Value acc =
      linalg::GenericOp::create(
          b, loc, accInit.getType(), inputs, accInit, maps,
          {IteratorType::parallel, IteratorType::parallel,
           IteratorType::reduction},
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            KernelBuilder kb(nb, nl);
            Value v = kb.toF32(a[0]);
            Value zeroF =
                arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0.0f));
            Value c127 =
                arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(127.0f));
            // LLM.int8 scales by (1 / absmax) * 127, W8A8 divides by
            // absmax / 127: the references' exact f32 operations.
            // A row without a non-outlier value (absmax 0) quantizes to
            // zeros; guarding the scale keeps inf and NaN (whose conversion
            // to an integer is poison) out of the loop.
            Value nonZero = arith::CmpFOp::create(
                nb, nl, arith::CmpFPredicate::ONE, a[1], zeroF);
            Value one =
                arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(1.0f));
            Value absmax = arith::SelectOp::create(nb, nl, nonZero, a[1], one);
            Value scaled =
                llmInt8
                    ? arith::MulFOp::create(
                          nb, nl, v,
                          arith::MulFOp::create(
                              nb, nl,
                              arith::DivFOp::create(nb, nl, one, absmax), c127))
                          .getResult()
                    : arith::DivFOp::create(
                          nb, nl, v,
                          arith::DivFOp::create(nb, nl, absmax, c127))
                          .getResult();
            Value q = toInt8Code(nb, nl, scaled);
            Value keep = nonZero;
            if (outliers)
              keep = arith::AndIOp::create(
                  nb, nl, keep,
                  arith::XOrIOp::create(
                      nb, nl, isDropped(nb, nl, a[3]),
                      arith::ConstantOp::create(nb, nl, nb.getBoolAttr(true))));
            q = arith::SelectOp::create(nb, nl, keep, q, zeroI);
            Value w = arith::ExtSIOp::create(nb, nl, i32, a[2]);
            linalg::YieldOp::create(
                nb, nl,
                arith::AddIOp::create(nb, nl, a.back(),
                                      arith::MulIOp::create(nb, nl, q, w))
                    .getResult());
          })
          .getResult(0);

  // LLM.int8's outlier columns in floating point: sum_k x[t, k] *
  // fp16((q[n, k] * SCB[n]) / 127) over the outlier columns, in f64.
  Value outlierSum;
  if (outliers) {
    Value init = zerosLike(x, n, b.getF64Type());
    outlierSum =
        linalg::GenericOp::create(
            b, loc, init.getType(), ValueRange{x, qweight, wscale, colMax},
            init, {at({t, kk}), at({nn, kk}), at({nn}), at({kk}), at({t, nn})},
            {IteratorType::parallel, IteratorType::parallel,
             IteratorType::reduction},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              KernelBuilder kb(nb, nl);
              Value w = arith::MulFOp::create(
                  nb, nl,
                  arith::MulFOp::create(
                      nb, nl, arith::SIToFPOp::create(nb, nl, f32, a[1]), a[2]),
                  arith::ConstantOp::create(
                      nb, nl, nb.getF32FloatAttr(7.874015718698502e-3f)));
              w = roundToHalf(nb, nl, w);
              Type f64 = nb.getF64Type();
              Value prod = arith::MulFOp::create(
                  nb, nl, arith::ExtFOp::create(nb, nl, f64, kb.toF32(a[0])),
                  arith::ExtFOp::create(nb, nl, f64, w));
              Value zero =
                  arith::ConstantOp::create(nb, nl, nb.getF64FloatAttr(0.0));
              prod = arith::SelectOp::create(nb, nl, isDropped(nb, nl, a[3]),
                                             prod, zero);
              linalg::YieldOp::create(
                  nb, nl,
                  arith::AddFOp::create(nb, nl, a[4], prod).getResult());
            })
            .getResult(0);
  }

  // Scale back: LLM.int8 in bitsandbytes' order with fp16 rounding; W8A8
  // as acc * (sx[t] * sw[n]). Then the bias, in the result type.
  Value init = emptyLike(x, n, resultElementType);
  SmallVector<Value> epiInputs = {acc, rowMax, wscale};
  SmallVector<AffineMap> epiMaps = {
      AffineMap::getMultiDimIdentityMap(2, ctx),
      AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx),
      AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx)};
  if (outlierSum) {
    epiInputs.push_back(outlierSum);
    epiMaps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  }
  if (bias) {
    epiInputs.push_back(bias);
    epiMaps.push_back(AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx));
  }
  epiMaps.push_back(AffineMap::getMultiDimIdentityMap(2, ctx));
  return linalg::GenericOp::create(
             b, loc, init.getType(), epiInputs, init, epiMaps,
             {IteratorType::parallel, IteratorType::parallel},
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               KernelBuilder kb(nb, nl);
               Type out = a.back().getType();
               Value accF = arith::SIToFPOp::create(nb, nl, f32, a[0]);
               Value y;
               size_t next = 3;
               if (llmInt8) {
                 y = arith::MulFOp::create(
                     nb, nl,
                     arith::MulFOp::create(
                         nb, nl, accF,
                         arith::MulFOp::create(nb, nl, a[1], a[2])),
                     arith::ConstantOp::create(
                         nb, nl, nb.getF32FloatAttr(6.200124e-05f)));
                 if (bias)
                   y = arith::AddFOp::create(nb, nl, y,
                                             kb.toF32(a[a.size() - 2]));
                 y = roundToHalf(nb, nl, y);
                 if (outlierSum) {
                   Value sum = arith::AddFOp::create(
                       nb, nl,
                       arith::ExtFOp::create(nb, nl, nb.getF64Type(), y),
                       a[next++]);
                   y = roundToHalf(nb, nl,
                                   arith::TruncFOp::create(nb, nl, f32, sum));
                 }
               } else {
                 // W8A8: scale = absmax / 127 for both operands.
                 Value c127 = arith::ConstantOp::create(
                     nb, nl, nb.getF32FloatAttr(127.0f));
                 Value sx = arith::DivFOp::create(nb, nl, a[1], c127);
                 y = arith::MulFOp::create(
                     nb, nl, accF, arith::MulFOp::create(nb, nl, sx, a[2]));
                 if (bias)
                   y = kb.toF32(arith::AddFOp::create(
                       nb, nl, kb.fromF32(y, out),
                       kb.fromF32(kb.toF32(a[a.size() - 2]), out)));
               }
               linalg::YieldOp::create(nb, nl, kb.fromF32(y, out));
             })
      .getResult(0);
}
