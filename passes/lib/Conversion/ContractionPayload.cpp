//===- ContractionPayload.cpp - cloning linalg payloads into GPU kernels --===//

#include "ContractionPayload.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace {

/// Whether the payload yields `out + f(...)`.
bool isAccumulation(linalg::GenericOp op) {
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  if (yield.getNumOperands() != 1)
    return false;
  Operation *sum = yield.getOperand(0).getDefiningOp();
  if (!isa_and_nonnull<arith::AddFOp, arith::AddIOp>(sum))
    return false;
  Value acc = op.getBody()->getArguments().back();
  return sum->getOperand(0) == acc || sum->getOperand(1) == acc;
}

} // namespace

bool mlir::qc::isTokenFeatureContraction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3)
    return false;
  auto iterators = op.getIteratorTypesArray();
  if (iterators[0] != utils::IteratorType::parallel ||
      iterators[1] != utils::IteratorType::parallel ||
      iterators[2] != utils::IteratorType::reduction)
    return false;
  MLIRContext *ctx = op.getContext();
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (out !=
      AffineMap::get(3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)},
                     ctx))
    return false;
  for (OpOperand *input : op.getDpsInputOperands())
    if (!op.getMatchingIndexingMap(input).isProjectedPermutation())
      return false;
  return isAccumulation(op);
}

bool mlir::qc::rowsAligned(Value buffer, uint64_t bytes) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  auto aligned = [&](int64_t elements) {
    return !ShapedType::isDynamic(elements) &&
           (elements * elementBytes) % int64_t(bytes) == 0;
  };
  return aligned(offset) &&
         llvm::all_of(ArrayRef(strides).drop_back(), aligned);
}

SmallVector<Value>
mlir::qc::clonePayloadValues(OpBuilder &b, Location loc, linalg::GenericOp op,
                             ArrayRef<Value> ivs, ArrayRef<Value> outputs,
                             ValueRange roots, uint64_t alignment) {
  Block *payload = op.getBody();
  // The payload operations the roots depend on, in block order.
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> worklist(roots.begin(), roots.end());
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || def->getBlock() != payload || !needed.insert(def))
      continue;
    llvm::append_range(worklist, def->getOperands());
  }

  AffineExpr reduced = getAffineDimExpr(op.getNumLoops() - 1, op.getContext());
  auto load = [&](OpOperand &operand, uint64_t align) -> Value {
    AffineMap indexing = op.getMatchingIndexingMap(&operand);
    SmallVector<Value> indices;
    for (AffineExpr e : indexing.getResults())
      indices.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    bool alongReduction = !indexing.getResults().empty() &&
                          indexing.getResults().back() == reduced;
    llvm::MaybeAlign maybeAlign;
    if (align && alongReduction && rowsAligned(operand.get(), align))
      maybeAlign = llvm::Align(align);
    return memref::LoadOp::create(b, loc, operand.get(), indices,
                                  /*nontemporal=*/false, maybeAlign);
  };
  IRMapping map;
  auto mapArgument = [&](Value v) {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != payload || map.contains(arg))
      return;
    OpOperand &operand = op->getOpOperand(arg.getArgNumber());
    if (op.isDpsInput(&operand)) {
      map.map(arg, load(operand, alignment));
      return;
    }
    unsigned i = arg.getArgNumber() - op.getNumDpsInputs();
    map.map(arg, outputs[i] ? outputs[i] : load(operand, /*align=*/0));
  };
  for (Value root : roots)
    mapArgument(root);
  for (Operation &inner : payload->without_terminator()) {
    if (!needed.contains(&inner))
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      map.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    for (Value operand : inner.getOperands())
      mapArgument(operand);
    b.clone(inner, map);
  }
  return llvm::map_to_vector(roots, [&](Value v) { return map.lookup(v); });
}

SmallVector<Value> mlir::qc::clonePayload(OpBuilder &b, Location loc,
                                          linalg::GenericOp op,
                                          ArrayRef<Value> ivs,
                                          ArrayRef<Value> outputs,
                                          uint64_t alignment) {
  return clonePayloadValues(b, loc, op, ivs, outputs,
                            op.getBody()->getTerminator()->getOperands(),
                            alignment);
}
