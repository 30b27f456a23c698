//===- ContractionPayload.cpp - cloning linalg payloads into GPU kernels --===//

#include "ContractionPayload.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#include <numeric>

using namespace mlir;
using namespace mlir::qc;

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

/// Whether payload index `v` depends on loop index `dim`.
bool followsLoop(linalg::GenericOp op, Value v, unsigned dim) {
  if (auto index = v.getDefiningOp<linalg::IndexOp>())
    return index.getDim() == dim;
  Operation *def = v.getDefiningOp();
  return def && def->getBlock() == op.getBody() &&
         llvm::any_of(def->getOperands(),
                      [&](Value x) { return followsLoop(op, x, dim); });
}

bool followsReduction(linalg::GenericOp op, Value v) {
  return followsLoop(op, v, op.getNumLoops() - 1);
}

/// How many consecutive steps of loop `dim` share one element at payload
/// index `v`: 1 when `v` is that index plus terms independent of it, c when
/// it is such an index divided by the constant c (packed codes); 0 when it
/// follows the index some other way or not at all.
int64_t loopIndexDivisor(linalg::GenericOp op, Value v, unsigned dim) {
  if (auto index = v.getDefiningOp<linalg::IndexOp>())
    return index.getDim() == dim ? 1 : 0;
  if (auto add = v.getDefiningOp<arith::AddIOp>()) {
    bool lhs = followsLoop(op, add.getLhs(), dim);
    bool rhs = followsLoop(op, add.getRhs(), dim);
    if (lhs != rhs)
      return loopIndexDivisor(op, lhs ? add.getLhs() : add.getRhs(), dim);
    return 0;
  }
  if (auto div = v.getDefiningOp<arith::DivUIOp>()) {
    std::optional<int64_t> c = getConstantIntValue(div.getRhs());
    int64_t inner = loopIndexDivisor(op, div.getLhs(), dim);
    if (c && *c > 0 && inner)
      return inner * *c;
  }
  return 0;
}

/// Payload index `v` as multiple * q + offset for some integer q, given
/// the forms of the reduced loop index and of the feature (1) index (any
/// integer where not given); std::nullopt when unknown.
std::optional<IndexForm> indexForm(linalg::GenericOp op, Value v,
                                   IndexForm reduced,
                                   std::optional<IndexForm> feature) {
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return IndexForm{0, *c};
  if (auto index = v.getDefiningOp<linalg::IndexOp>()) {
    if (index.getDim() == op.getNumLoops() - 1)
      return reduced;
    return index.getDim() == 1 && feature ? *feature : IndexForm{1, 0};
  }
  auto binary = [&](Operation *def) {
    return std::pair(indexForm(op, def->getOperand(0), reduced, feature),
                     indexForm(op, def->getOperand(1), reduced, feature));
  };
  if (auto add = v.getDefiningOp<arith::AddIOp>()) {
    auto [x, y] = binary(add);
    if (x && y)
      return IndexForm{std::gcd(x->multiple, y->multiple),
                       x->offset + y->offset};
    return std::nullopt;
  }
  if (auto mul = v.getDefiningOp<arith::MulIOp>()) {
    auto [x, y] = binary(mul);
    if (x && y && x->multiple == 0)
      std::swap(x, y);
    if (x && y && y->multiple == 0)
      return IndexForm{x->multiple * y->offset, x->offset * y->offset};
    return std::nullopt;
  }
  if (auto div = v.getDefiningOp<arith::DivUIOp>()) {
    auto [x, c] = binary(div);
    // floor((m q + o) / c) = (m / c) q + floor(o / c) when c divides m.
    if (x && c && c->multiple == 0 && c->offset > 0 &&
        x->multiple % c->offset == 0 && x->offset >= 0)
      return IndexForm{x->multiple / c->offset, x->offset / c->offset};
  }
  return std::nullopt;
}

/// The loads of the payload from buffers it captures (weights the kernel
/// builders read with tensor.extract: packed or quantized storage) whose
/// last index follows loop `dim`, with that index's divisor.
SmallVector<std::pair<memref::LoadOp, int64_t>>
capturedLoadsAlong(linalg::GenericOp op, unsigned dim) {
  SmallVector<std::pair<memref::LoadOp, int64_t>> loads;
  op.getBody()->walk([&](memref::LoadOp load) {
    if (load.getMemRef().getParentBlock() == op.getBody() ||
        load.getIndices().empty())
      return;
    if (int64_t divisor = loopIndexDivisor(op, load.getIndices().back(), dim))
      loads.push_back({load, divisor});
  });
  return loads;
}

} // namespace

int64_t mlir::qc::narrowestBitsAlongReduction(linalg::GenericOp op) {
  AffineExpr reduced = getAffineDimExpr(op.getNumLoops() - 1, op.getContext());
  int64_t bits = 0;
  auto narrow = [&](int64_t b) { bits = bits ? std::min(bits, b) : b; };
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap indexing = op.getMatchingIndexingMap(input);
    if (!indexing.getResults().empty() &&
        indexing.getResults().back() == reduced)
      narrow(cast<MemRefType>(input->get().getType()).getElementTypeBitWidth());
  }
  // Per-block scales (one element for 64 steps) are not data read along K.
  for (auto [load, divisor] : capturedLoadsAlong(op, op.getNumLoops() - 1))
    if (int64_t elementBits = load.getMemRefType().getElementTypeBitWidth();
        elementBits / divisor >= 4)
      narrow(elementBits / divisor);
  return bits;
}

int64_t mlir::qc::featurePacking(linalg::GenericOp op) {
  int64_t packing = 1;
  for (auto [load, divisor] : capturedLoadsAlong(op, /*dim=*/1))
    packing = std::max(packing, divisor);
  return packing;
}

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

SmallVector<Value> mlir::qc::loopSizes(OpBuilder &b, Location loc,
                                       linalg::GenericOp op) {
  return llvm::map_to_vector(
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc),
      [&](Range r) { return getValueOrCreateConstantIndexOp(b, loc, r.size); });
}

FlatSymbolRefAttr mlir::qc::kernelName(linalg::GenericOp op, StringRef prefix) {
  std::string name = prefix.str();
  SmallVector<int64_t> sizes =
      cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges();
  for (int64_t size : ArrayRef(sizes).drop_front())
    name += ShapedType::isDynamic(size) ? "_d" : "_" + std::to_string(size);
  return FlatSymbolRefAttr::get(op.getContext(), name);
}

gpu::LaunchOp mlir::qc::launchTiles(OpBuilder &b, Location loc,
                                    FlatSymbolRefAttr name, Value extentX,
                                    int64_t tileX, Value extentY, int64_t tileY,
                                    int64_t threads, TypeRange workgroup,
                                    int64_t dynamicSharedBytes) {
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto blocks = [&](Value extent, int64_t tile) -> Value {
    return arith::CeilDivUIOp::create(b, loc, extent, constant(tile));
  };
  Value one = constant(1);
  Value gridX = blocks(extentX, tileX);
  Value gridY = extentY ? blocks(extentY, tileY) : one;
  Value shared = dynamicSharedBytes
                     ? arith::ConstantIntOp::create(b, loc, b.getI32Type(),
                                                    dynamicSharedBytes)
                           .getResult()
                     : Value();
  return gpu::LaunchOp::create(
      b, loc, gridX, gridY, one, constant(threads), one, one, shared,
      /*asyncTokenType=*/{}, /*asyncDependencies=*/{}, workgroup,
      /*privateAttributions=*/{}, /*clusterSizeX=*/{}, /*clusterSizeY=*/{},
      /*clusterSizeZ=*/{}, name, name);
}

/// A builder inside `if (token < tokenCount && feature < featureCount)`.
static OpBuilder ifInRange(OpBuilder &b, Location loc, Value token,
                           Value feature, Value tokenCount,
                           Value featureCount) {
  Value inRange = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, token,
                            tokenCount),
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, feature,
                            featureCount));
  auto store = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  return store.getThenBodyBuilder();
}

void mlir::qc::addToOutput(OpBuilder &b, Location loc, Value out, Value token,
                           Value feature, Value tokenCount, Value featureCount,
                           Value sum) {
  OpBuilder sb = ifInRange(b, loc, token, feature, tokenCount, featureCount);
  SmallVector<Value> at = {token, feature};
  Value old = memref::LoadOp::create(sb, loc, out, at);
  memref::StoreOp::create(sb, loc, arith::AddFOp::create(sb, loc, old, sum),
                          out, at);
}

void mlir::qc::storeToOutput(OpBuilder &b, Location loc, Value out,
                             Value token, Value feature, Value tokenCount,
                             Value featureCount, Value sum) {
  OpBuilder sb = ifInRange(b, loc, token, feature, tokenCount, featureCount);
  Type element = cast<MemRefType>(out.getType()).getElementType();
  if (element != sum.getType())
    sum = arith::TruncFOp::create(sb, loc, element, sum);
  memref::StoreOp::create(sb, loc, sum, out, ValueRange{token, feature});
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
                             ValueRange roots,
                             std::optional<IndexForm> reducedIndex,
                             std::optional<IndexForm> featureIndex) {
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
  constexpr int64_t kRunBytes = 16;
  auto load = [&](OpOperand &operand, bool mayAlign) -> Value {
    AffineMap indexing = op.getMatchingIndexingMap(&operand);
    SmallVector<Value> indices;
    for (AffineExpr e : indexing.getResults())
      indices.push_back(ivs[cast<AffineDimExpr>(e).getPosition()]);
    bool alongReduction = !indexing.getResults().empty() &&
                          indexing.getResults().back() == reduced;
    int64_t elementBytes =
        cast<MemRefType>(operand.get().getType()).getElementTypeBitWidth() / 8;
    llvm::MaybeAlign maybeAlign;
    if (mayAlign && reducedIndex && alongReduction &&
        (reducedIndex->multiple * elementBytes) % kRunBytes == 0 &&
        (reducedIndex->offset * elementBytes) % kRunBytes == 0 &&
        rowsAligned(operand.get(), kRunBytes))
      maybeAlign = llvm::Align(kRunBytes);
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
      map.map(arg, load(operand, /*mayAlign=*/true));
      return;
    }
    unsigned i = arg.getArgNumber() - op.getNumDpsInputs();
    map.map(arg, outputs[i] ? outputs[i] : load(operand, /*mayAlign=*/false));
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
    Operation *clone = b.clone(inner, map);
    // A captured load along K (or along the features, for weights packed
    // along them) starts a 16-byte run where its stored index provably
    // does.
    auto load = dyn_cast<memref::LoadOp>(inner);
    if (!load || load.getIndices().empty() ||
        load.getMemRef().getParentBlock() == payload)
      continue;
    Value last = load.getIndices().back();
    bool alongK = followsReduction(op, last);
    if (!(alongK ? reducedIndex.has_value()
                 : featureIndex && followsLoop(op, last, /*dim=*/1)))
      continue;
    std::optional<IndexForm> form = indexForm(
        op, last, reducedIndex.value_or(IndexForm{1, 0}), featureIndex);
    int64_t bytes = load.getMemRefType().getElementTypeBitWidth() / 8;
    if (form && (form->multiple * bytes) % kRunBytes == 0 &&
        (form->offset * bytes) % kRunBytes == 0 &&
        rowsAligned(load.getMemRef(), kRunBytes))
      cast<memref::LoadOp>(clone).setAlignmentAttr(
          b.getI64IntegerAttr(kRunBytes));
  }
  return llvm::map_to_vector(roots, [&](Value v) { return map.lookup(v); });
}

SmallVector<Value>
mlir::qc::clonePayload(OpBuilder &b, Location loc, linalg::GenericOp op,
                       ArrayRef<Value> ivs, ArrayRef<Value> outputs,
                       std::optional<IndexForm> reducedIndex,
                       std::optional<IndexForm> featureIndex) {
  return clonePayloadValues(b, loc, op, ivs, outputs,
                            op.getBody()->getTerminator()->getOperands(),
                            reducedIndex, featureIndex);
}
