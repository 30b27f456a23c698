//===- QCOps.cpp - qc operation verifiers ---------------------------------===//

#include "qc/Dialect/QC/IR/QCOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qc;

#define GET_OP_CLASSES
#include "qc/Dialect/QC/IR/QCOps.cpp.inc"

namespace {
/// Dimension `dim` of a ranked tensor type, or kDynamic.
int64_t dimOf(Type type, unsigned dim) {
  return cast<RankedTensorType>(type).getDimSize(dim);
}

bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Every value's dimension 0 counts the tokens of the step: they must agree.
LogicalResult verifySameTokens(Operation *op, ArrayRef<Value> values,
                               Type result) {
  int64_t tokens = dimOf(result, 0);
  for (Value value : values) {
    int64_t dim = dimOf(value.getType(), 0);
    if (!compatible(tokens, dim))
      return op->emitOpError() << "has " << dim << " tokens in an operand but "
                               << tokens << " in the result";
    if (!ShapedType::isDynamic(dim))
      tokens = dim;
  }
  return success();
}

Type elementTypeOf(Type type) {
  return cast<ShapedType>(type).getElementType();
}

/// Shared by linear and quantized_linear: x [T, K] * W[N, K]^T + b[N].
LogicalResult verifyLinear(Operation *op, Value input, int64_t n, int64_t k,
                           Type weightElementType, Value bias, Type result) {
  Type elementType = elementTypeOf(input.getType());
  if (dimOf(input.getType(), 1) != k)
    return op->emitOpError() << "input has " << dimOf(input.getType(), 1)
                             << " features but the weight expects K = " << k;
  if (dimOf(result, 1) != n)
    return op->emitOpError() << "result has " << dimOf(result, 1)
                             << " features but the weight has N = " << n;
  if (weightElementType != elementType || elementTypeOf(result) != elementType)
    return op->emitOpError()
           << "input, weight and result element types must match, got "
           << elementType << ", " << weightElementType << " and "
           << elementTypeOf(result);
  if (bias) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getDimSize(0) != n)
      return op->emitOpError() << "bias has " << biasType.getDimSize(0)
                               << " elements but the weight has N = " << n;
    if (biasType.getElementType() != elementType)
      return op->emitOpError()
             << "bias element type " << biasType.getElementType()
             << " does not match " << elementType;
  }
  return verifySameTokens(op, {input}, result);
}

/// The [rows, cols] logical shape of a float or quantized weight.
std::pair<int64_t, int64_t> weightShape(Type type) {
  if (auto qweight = dyn_cast<QWeightType>(type))
    return {qweight.getN(), qweight.getK()};
  auto tensor = cast<RankedTensorType>(type);
  return {tensor.getDimSize(0), tensor.getDimSize(1)};
}

Type weightElementType(Type type) {
  if (auto qweight = dyn_cast<QWeightType>(type))
    return qweight.getElementType();
  return elementTypeOf(type);
}
} // namespace

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "needs a non-empty tensor name";
  if (auto tensor = dyn_cast<RankedTensorType>(getType());
      tensor && !tensor.hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "' must have a static shape, got " << tensor;
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  auto table = getTable().getType();
  if (dimOf(getType(), 1) != table.getDimSize(1))
    return emitOpError() << "result has " << dimOf(getType(), 1)
                         << " features but the table has "
                         << table.getDimSize(1);
  if (elementTypeOf(getType()) != table.getElementType())
    return emitOpError() << "result element type must match the table's "
                         << table.getElementType();
  return verifySameTokens(*this, {getTokens()}, getType());
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  int64_t hidden = dimOf(getInput().getType(), 1);
  if (getWeight().getType().getDimSize(0) != hidden)
    return emitOpError() << "weight has " << getWeight().getType().getDimSize(0)
                         << " elements but the input has " << hidden
                         << " features";
  if (getType() != getInput().getType())
    return emitOpError() << "result type must equal the input type";
  if (double eps = getEpsilon().convertToDouble();
      !std::isfinite(eps) || eps <= 0.0)
    return emitOpError() << "epsilon must be finite and positive, got " << eps;
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp / QuantizedLinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  auto [n, k] = weightShape(getWeight().getType());
  return verifyLinear(*this, getInput(), n, k,
                      getWeight().getType().getElementType(), getBias(),
                      getType());
}

LogicalResult QuantizedLinearOp::verify() {
  QWeightType weight = getWeight().getType();
  return verifyLinear(*this, getInput(), weight.getN(), weight.getK(),
                      weight.getElementType(), getBias(), getType());
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeads(), headDim = getHeadDim();
  if (heads <= 0 || headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "needs num_heads > 0 and an even head_dim > 0, got "
                         << heads << " and " << headDim;
  if (dimOf(getInput().getType(), 1) != heads * headDim)
    return emitOpError() << "input has " << dimOf(getInput().getType(), 1)
                         << " features, expected num_heads * head_dim = "
                         << heads * headDim;
  if (getType() != getInput().getType())
    return emitOpError() << "result type must equal the input type";
  return verifySameTokens(*this, {getInput(), getPositions()}, getType());
}

//===----------------------------------------------------------------------===//
// KVCacheWriteOp / AttentionOp
//===----------------------------------------------------------------------===//

static LogicalResult verifyLayer(Operation *op, KVCacheType cache,
                                 int64_t layer) {
  if (layer < 0 || layer >= cache.getNumLayers())
    return op->emitOpError() << "layer " << layer << " is out of range for a "
                             << cache.getNumLayers() << "-layer cache";
  return success();
}

/// Shared by kv_cache_write and rope_kv_cache_write.
static LogicalResult verifyCacheWrite(Operation *op, KVCacheType cache,
                                      int64_t layer, Value key, Value value,
                                      Value positions, Type result) {
  if (failed(verifyLayer(op, cache, layer)))
    return failure();
  int64_t width = cache.getNumKvHeads() * cache.getHeadDim();
  for (Value kv : {key, value})
    if (dimOf(kv.getType(), 1) != width)
      return op->emitOpError()
             << "keys and values need num_kv_heads * head_dim = " << width
             << " features, got " << dimOf(kv.getType(), 1);
  if (key.getType() != value.getType())
    return op->emitOpError() << "keys and values must have the same type";
  if (result != cache)
    return op->emitOpError() << "result type must equal the cache type";
  return verifySameTokens(op, {key, positions}, value.getType());
}

LogicalResult KVCacheWriteOp::verify() {
  return verifyCacheWrite(*this, getCache().getType(), getLayer(), getKey(),
                          getValue(), getPositions(), getType());
}

LogicalResult AttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, cache, getLayer())))
    return failure();
  int64_t heads = getNumHeads();
  if (heads <= 0 || heads % cache.getNumKvHeads() != 0)
    return emitOpError() << "num_heads " << heads
                         << " must be a positive multiple of num_kv_heads "
                         << cache.getNumKvHeads();
  int64_t width = heads * cache.getHeadDim();
  if (dimOf(getQuery().getType(), 1) != width)
    return emitOpError() << "query has " << dimOf(getQuery().getType(), 1)
                         << " features, expected num_heads * head_dim = "
                         << width;
  if (getType() != getQuery().getType())
    return emitOpError() << "result type must equal the query type";
  if (!(getScale().convertToDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  if (auto window = getSlidingWindow(); window && *window <= 0)
    return emitOpError() << "sliding_window must be positive, got " << *window;
  return verifySameTokens(*this, {getQuery(), getPositions()}, getType());
}

//===----------------------------------------------------------------------===//
// FusedLinearOp
//===----------------------------------------------------------------------===//

LogicalResult FusedLinearOp::verify() {
  size_t count = getWeights().size();
  if (count < 2)
    return emitOpError() << "fuses at least two weights, got " << count;
  if (getResults().size() != count)
    return emitOpError() << "has " << getResults().size() << " results for "
                         << count << " weights";
  if (!getBiases().empty() && getBiases().size() != count)
    return emitOpError() << "needs no biases or one per weight, got "
                         << getBiases().size();
  Type first = getWeights()[0].getType();
  auto firstQ = dyn_cast<QWeightType>(first);
  for (auto [i, weight] : llvm::enumerate(getWeights())) {
    auto q = dyn_cast<QWeightType>(weight.getType());
    if (bool(q) != bool(firstQ) ||
        (q && (q.getScheme() != firstQ.getScheme() ||
               q.getElementType() != firstQ.getElementType())))
      return emitOpError() << "weights must all be float or all quantized "
                              "with one scheme";
    auto [n, k] = weightShape(weight.getType());
    Value bias = getBiases().empty() ? Value() : getBiases()[i];
    if (failed(verifyLinear(*this, getInput(), n, k,
                            weightElementType(weight.getType()), bias,
                            getResult(i).getType())))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// AddRMSNormOp / RopeKVCacheWriteOp
//===----------------------------------------------------------------------===//

LogicalResult AddRMSNormOp::verify() {
  Type type = getLhs().getType();
  if (getRhs().getType() != type || getSum().getType() != type ||
      getNormed().getType() != type)
    return emitOpError() << "operands and results must have the same type";
  int64_t hidden = dimOf(type, 1);
  if (getWeight().getType().getDimSize(0) != hidden)
    return emitOpError() << "weight has " << getWeight().getType().getDimSize(0)
                         << " elements but the input has " << hidden
                         << " features";
  if (double eps = getEpsilon().convertToDouble();
      !std::isfinite(eps) || eps <= 0.0)
    return emitOpError() << "epsilon must be finite and positive, got " << eps;
  return success();
}

LogicalResult RopeKVCacheWriteOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyCacheWrite(*this, cache, getLayer(), getKey(), getValue(),
                              getPositions(), getType())))
    return failure();
  if (cache.getHeadDim() % 2 != 0)
    return emitOpError() << "needs an even head_dim, got "
                         << cache.getHeadDim();
  return success();
}

//===----------------------------------------------------------------------===//
// LMHeadOp
//===----------------------------------------------------------------------===//

LogicalResult LMHeadOp::verify() {
  auto [vocab, hidden] = weightShape(getWeight().getType());
  if (dimOf(getInput().getType(), 1) != hidden)
    return emitOpError() << "input has " << dimOf(getInput().getType(), 1)
                         << " features but the weight has " << hidden;
  if (dimOf(getType(), 1) != vocab)
    return emitOpError() << "result has " << dimOf(getType(), 1)
                         << " logits per token but the vocabulary has "
                         << vocab;
  if (weightElementType(getWeight().getType()) !=
      elementTypeOf(getInput().getType()))
    return emitOpError() << "input and weight element types must match";
  return verifySameTokens(*this, {getInput()}, getType());
}
