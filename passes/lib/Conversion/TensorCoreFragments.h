//===- TensorCoreFragments.h - operand fragments of tensor-core kernels ---===//
//
// What the tensor-core linear kernels (qc-tensor-core-contractions) share:
// the payload's two factors, and how the lanes of a warp or wave hold the
// operands and accumulators of one instruction.
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_TENSORCOREFRAGMENTS_H
#define QC_CONVERSION_TENSORCOREFRAGMENTS_H

#include "ContractionPayload.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::qc {

/// The payload `out + activation * weight` split into its factors: the one
/// that depends on the token (and not the feature) and the one that does
/// not depend on the token.
struct Factors {
  Value activation, weight;
};

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

/// The index arithmetic kernel builders address tiles with, built at the
/// builder passed in (which moves between host code, kernel and loop
/// bodies).
struct IndexMath {
  Location loc;

  Value constant(OpBuilder &b, int64_t v) const {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value add(OpBuilder &b, Value x, Value y) const {
    return arith::AddIOp::create(b, loc, x, y);
  }
  Value mul(OpBuilder &b, Value x, int64_t y) const {
    return arith::MulIOp::create(b, loc, x, constant(b, y));
  }
  Value div(OpBuilder &b, Value x, int64_t y) const {
    return arith::DivUIOp::create(b, loc, x, constant(b, y));
  }
  Value rem(OpBuilder &b, Value x, int64_t y) const {
    return arith::RemUIOp::create(b, loc, x, constant(b, y));
  }
};

/// Payload factor `factor` at `token`, `feature` and the `count`
/// consecutive k from `k` (a multiple of `count`), as f16: an f16 value
/// extended is used as it is, a computed one (a dequantization) is rounded.
inline SmallVector<Value> halvesAt(OpBuilder &b, Location loc,
                                   linalg::GenericOp op, Value factor,
                                   Value token, Value feature, Value k,
                                   int64_t count) {
  Type f16 = b.getF16Type();
  auto ext = factor.getDefiningOp<arith::ExtFOp>();
  Value root = ext && ext.getIn().getType() == f16 ? ext.getIn() : factor;
  SmallVector<Value> halves;
  for (int64_t e = 0; e < count; ++e) {
    Value ke = e ? arith::AddIOp::create(
                       b, loc, k, arith::ConstantIndexOp::create(b, loc, e))
                       .getResult()
                 : k;
    Value v = clonePayloadValues(b, loc, op, {token, feature, ke}, {Value()},
                                 root, IndexForm{count, e})[0];
    halves.push_back(
        v.getType() == f16 ? v : arith::TruncFOp::create(b, loc, f16, v));
  }
  return halves;
}

} // namespace mlir::qc

#endif // QC_CONVERSION_TENSORCOREFRAGMENTS_H
