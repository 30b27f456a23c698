//===- SamplingKernel.cpp - the compiled sampling kernel ------------------===//
//
// @qc_sample as scf/memref/arith/math loops (semantics in SamplingKernel.h).
// One row at a time: the processed logits go to a V-float scratch buffer,
// and the token ids to a V-int buffer that is turned into a binary max-heap
// ordered by (logit descending, id ascending). Popping the heap yields the
// tokens in exactly the order the filters and the draw walk, and only as
// many of them as those walks visit, so a peaked distribution costs little
// more than the O(V) passes over the logits. Popped tokens collect at the
// back of the id buffer, as in heap sort: the j-th largest sits at V-1-j.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/SamplingKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

using namespace mlir;

namespace {

using arith::CmpFPredicate;
using arith::CmpIPredicate;

/// Emits the body of @qc_sample at the builder's insertion point.
class SamplingKernel {
public:
  SamplingKernel(ImplicitLocOpBuilder &builder, int64_t vocab, ValueRange args)
      : b(builder), vocab(vocab), logits(args[0]), temperature(args[1]),
        topK(args[2]), topP(args[3]), penalty(args[4]), history(args[5]),
        uniform(args[6]), out(args[7]) {}

  void build() {
    c0 = index(0);
    c1 = index(1);
    cV = index(vocab);
    // Scratch shared by all rows (the buffer-deallocation pipeline frees
    // it): V floats would be too large for the stack at 150k tokens.
    vals = memref::AllocOp::create(b, MemRefType::get({vocab}, b.getF32Type()));
    ids = memref::AllocOp::create(b, MemRefType::get({vocab}, b.getI32Type()));
    Value rows = memref::DimOp::create(b, logits, 0);
    forLoop(c0, rows, {}, [&](Value row, ValueRange) {
      sampleRow(row);
      return SmallVector<Value>{};
    });
  }

private:
  using Body = function_ref<SmallVector<Value>(ValueRange)>;

  //===--- Values and arithmetic ------------------------------------------===//

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f32(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value i32(int32_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
  }
  Value i1(bool v) { return arith::ConstantOp::create(b, b.getBoolAttr(v)); }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  Value toI32(Value v) {
    return arith::IndexCastOp::create(b, b.getI32Type(), v);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value cmpi(CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value cmpf(CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, p, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value either(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value negate(Value x) { return arith::XOrIOp::create(b, x, i1(true)); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, memref, indices);
  }
  void store(Value v, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, v, memref, indices);
  }

  //===--- Control flow ---------------------------------------------------===//
  // Regions are filled at `b` after the op exists, so every helper below
  // emits through the one builder.

  /// scf.for lb..ub step 1; `body(iv, iterArgs)` returns the yielded values.
  SmallVector<Value>
  forLoop(Value lb, Value ub, ValueRange inits,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto loop = scf::ForOp::create(
        b, lb, ub, c1, inits, [](OpBuilder &, Location, Value, ValueRange) {});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(loop.getBody());
    scf::YieldOp::create(
        b, body(loop.getInductionVar(), loop.getRegionIterArgs()));
    return SmallVector<Value>(loop.getResults().begin(),
                              loop.getResults().end());
  }

  /// scf.while carrying values of the types of `inits`: runs `body` while
  /// `cond` (of the current values) holds.
  SmallVector<Value>
  whileLoop(ValueRange inits, function_ref<Value(ValueRange)> cond, Body body) {
    auto none = [](OpBuilder &, Location, ValueRange) {};
    auto loop = scf::WhileOp::create(b, inits.getTypes(), inits, none, none);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(loop.getBeforeBody());
    ValueRange current = loop.getBeforeArguments();
    scf::ConditionOp::create(b, cond(current), current);
    b.setInsertionPointToEnd(loop.getAfterBody());
    scf::YieldOp::create(b, body(loop.getAfterArguments()));
    return SmallVector<Value>(loop.getResults().begin(),
                              loop.getResults().end());
  }

  void ifThen(Value cond, function_ref<void()> body) {
    auto op = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    body();
  }

  //===--- The heap of token ids ------------------------------------------===//

  /// Whether token x (i32) comes before token y: a larger logit, or an equal
  /// one and a lower id.
  Value before(Value x, Value y) {
    Value vx = load(vals, toIndex(x)), vy = load(vals, toIndex(y));
    return either(
        cmpf(CmpFPredicate::OGT, vx, vy),
        both(cmpf(CmpFPredicate::OEQ, vx, vy), cmpi(CmpIPredicate::slt, x, y)));
  }

  /// Restores the heap property of ids[0, size) below position `start`.
  void siftDown(Value start, Value size) {
    Value last = index(vocab - 1);
    Value two = index(2);
    whileLoop(
        {start, i1(false)}, [&](ValueRange s) { return negate(s[1]); },
        [&](ValueRange s) {
          Value i = s[0];
          Value left = add(arith::MulIOp::create(b, i, two), c1);
          Value right = add(left, c1);
          // Clamped so that the loads stay inside the buffer; whether a
          // child exists is decided against `size`.
          Value l = arith::MinUIOp::create(b, left, last);
          Value r = arith::MinUIOp::create(b, right, last);
          Value leftId = load(ids, l), rightId = load(ids, r);
          Value takeRight = both(cmpi(CmpIPredicate::ult, right, size),
                                 before(rightId, leftId));
          Value child = select(takeRight, r, l);
          Value childId = select(takeRight, rightId, leftId);
          Value parentId = load(ids, i);
          Value swap = both(cmpi(CmpIPredicate::ult, left, size),
                            before(childId, parentId));
          ifThen(swap, [&] {
            store(childId, ids, i);
            store(parentId, ids, child);
          });
          return SmallVector<Value>{select(swap, child, i), negate(swap)};
        });
  }

  /// Pops the heap ids[0, V - j) as the j-th token in order: its root moves
  /// to position V - 1 - j.
  void popSorted(Value j) {
    Value end = sub(index(vocab - 1), j);
    Value root = load(ids, c0);
    store(load(ids, end), ids, c0);
    store(root, ids, end);
    siftDown(c0, end);
  }

  /// The j-th token in order (as an index); it must have been popped.
  Value sortedAt(Value j) {
    return toIndex(load(ids, sub(index(vocab - 1), j)));
  }

  /// Pops the j-th token unless it is out already; returns the new count of
  /// popped tokens (the walks take tokens one past the popped ones at most).
  Value ensurePopped(Value j, Value popped) {
    Value missing = cmpi(CmpIPredicate::uge, j, popped);
    ifThen(missing, [&] { popSorted(j); });
    return select(missing, add(popped, c1), popped);
  }

  /// The unnormalized probability of `token`: exp(x - max x), in (0, 1].
  Value weight(Value token, Value max) {
    return math::ExpOp::create(
        b, arith::SubFOp::create(b, load(vals, token), max));
  }

  //===--- One row --------------------------------------------------------===//

  void sampleRow(Value row) {
    Value t = load(temperature, row), p = load(penalty, row);
    Value k = toIndex(load(topK, row));
    Value nucleus = load(topP, row), u = load(uniform, row);

    // 1. Repetition penalty, from the raw logit so that a token repeated in
    //    the history is penalized once (HF gathers, then scatters).
    forLoop(c0, cV, {}, [&](Value v, ValueRange) {
      store(load(logits, {row, v}), vals, v);
      return SmallVector<Value>{};
    });
    Value historyLength = memref::DimOp::create(b, history, 1);
    forLoop(c0, historyLength, {}, [&](Value j, ValueRange) {
      Value id = load(history, {row, j});
      Value valid = both(cmpi(CmpIPredicate::sge, id, i32(0)),
                         cmpi(CmpIPredicate::slt, id, i32(int32_t(vocab))));
      ifThen(valid, [&] {
        Value v = toIndex(id);
        Value x = load(logits, {row, v});
        Value negative = cmpf(CmpFPredicate::OLT, x, f32(0));
        store(select(negative, arith::MulFOp::create(b, x, p),
                     arith::DivFOp::create(b, x, p)),
              vals, v);
      });
      return SmallVector<Value>{};
    });

    // 2. Temperature; the maximum scaled logit keeps every weight <= 1.
    Value max = forLoop(c0, cV, {f32(-std::numeric_limits<float>::infinity())},
                        [&](Value v, ValueRange it) {
                          Value x = arith::DivFOp::create(b, load(vals, v), t);
                          store(x, vals, v);
                          store(toI32(v), ids, v);
                          return SmallVector<Value>{
                              arith::MaximumFOp::create(b, it[0], x)};
                        })[0];
    Value half = index(vocab / 2);
    forLoop(c0, half, {}, [&](Value j, ValueRange) {
      siftDown(sub(sub(half, c1), j), cV);
      return SmallVector<Value>{};
    });

    // 3. Top-k: pop the k largest, then every token tied with the k-th.
    Value useK =
        both(cmpi(CmpIPredicate::sgt, k, c0), cmpi(CmpIPredicate::slt, k, cV));
    Value kPops = select(useK, k, c0);
    forLoop(c0, kPops, {}, [&](Value j, ValueRange) {
      popSorted(j);
      return SmallVector<Value>{};
    });
    Value kth = load(vals, sortedAt(select(useK, sub(k, c1), c0)));
    Value popped = whileLoop(
        {kPops},
        [&](ValueRange s) {
          Value tied =
              cmpf(CmpFPredicate::OEQ, load(vals, toIndex(load(ids, c0))), kth);
          return both(both(useK, cmpi(CmpIPredicate::ult, s[0], cV)), tied);
        },
        [&](ValueRange s) {
          popSorted(s[0]);
          return SmallVector<Value>{add(s[0], c1)};
        })[0];
    Value kept = select(useK, popped, cV);
    // Z, the total weight of the kept tokens: over the popped ones in order,
    // or over the whole vocabulary when top-k is off.
    Value zero = f32(0);
    Value weightOfTop =
        forLoop(c0, popped, {zero}, [&](Value j, ValueRange it) {
          return SmallVector<Value>{
              arith::AddFOp::create(b, it[0], weight(sortedAt(j), max))};
        })[0];
    Value weightOfAll =
        forLoop(c0, select(useK, c0, cV), {zero}, [&](Value v, ValueRange it) {
          return SmallVector<Value>{
              arith::AddFOp::create(b, it[0], weight(v, max))};
        })[0];
    Value z = select(useK, weightOfTop, weightOfAll);

    // 4. Top-p: the shortest prefix whose weight reaches top_p * Z; the
    //    walk starts from 0 < top_p * Z, so it keeps at least one token.
    Value useP = cmpf(CmpFPredicate::OLT, nucleus, f32(1));
    Value target = arith::MulFOp::create(b, nucleus, z);
    SmallVector<Value> prefix = whileLoop(
        {c0, popped, zero},
        [&](ValueRange s) {
          return both(useP, both(cmpi(CmpIPredicate::ult, s[0], kept),
                                 cmpf(CmpFPredicate::OLT, s[2], target)));
        },
        [&](ValueRange s) {
          Value nowPopped = ensurePopped(s[0], s[1]);
          Value sum =
              arith::AddFOp::create(b, s[2], weight(sortedAt(s[0]), max));
          return SmallVector<Value>{add(s[0], c1), nowPopped, sum};
        });
    Value candidates = select(useP, prefix[0], kept);
    Value total = select(useP, prefix[2], z);

    // 5. The draw: the first token whose cumulative weight passes
    //    u * total. `chosen` follows the tokens of positive weight until
    //    then, so a walk that rounding leaves without a crossing ends on the
    //    last of them.
    Value threshold = arith::MulFOp::create(b, u, total);
    SmallVector<Value> draw = whileLoop(
        {c0, prefix[1], zero, i32(0), i1(false)},
        [&](ValueRange s) {
          return both(cmpi(CmpIPredicate::ult, s[0], candidates), negate(s[4]));
        },
        [&](ValueRange s) {
          Value nowPopped = ensurePopped(s[0], s[1]);
          Value token = sortedAt(s[0]);
          Value w = weight(token, max);
          Value sum = arith::AddFOp::create(b, s[2], w);
          Value chosen =
              select(cmpf(CmpFPredicate::OGT, w, zero), toI32(token), s[3]);
          return SmallVector<Value>{add(s[0], c1), nowPopped, sum, chosen,
                                    cmpf(CmpFPredicate::OGT, sum, threshold)};
        });
    store(draw[3], out, row);
  }

  ImplicitLocOpBuilder &b;
  int64_t vocab;
  Value logits, temperature, topK, topP, penalty, history, uniform, out;
  Value c0, c1, cV;
  Value vals, ids;
};

} // namespace

void mlir::qc::buildSamplingKernel(ModuleOp module, int64_t vocabSize) {
  // The scratch buffers are sized at compile time.
  if (ShapedType::isDynamic(vocabSize) || vocabSize <= 0)
    return;
  ImplicitLocOpBuilder b =
      ImplicitLocOpBuilder::atBlockEnd(module.getLoc(), module.getBody());
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto rowsOf = [&](Type t) { return MemRefType::get({dyn}, t); };
  SmallVector<Type> inputs = {MemRefType::get({dyn, vocabSize}, f32),
                              rowsOf(f32),
                              rowsOf(i32),
                              rowsOf(f32),
                              rowsOf(f32),
                              MemRefType::get({dyn, dyn}, i32),
                              rowsOf(f32),
                              rowsOf(i32)};
  auto fn = func::FuncOp::create(b, "qc_sample", b.getFunctionType(inputs, {}));
  fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  SamplingKernel(b, vocabSize, entry->getArguments()).build();
  func::ReturnOp::create(b);
}
