//===- QCAttrs.cpp - qc attributes and their verifiers --------------------===//

#include "qc/Dialect/QC/IR/QCAttrs.h"
#include "qc/Dialect/QC/IR/QCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qc;

#include "qc/Dialect/QC/IR/QCAttrInterfaces.cpp.inc"
#include "qc/Dialect/QC/IR/QCEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "qc/Dialect/QC/IR/QCAttrs.cpp.inc"

void QCDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qc/Dialect/QC/IR/QCAttrs.cpp.inc"
      >();
}

FailureOr<APFloat> mlir::qc::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return APFloat(value);
}

static RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}

//===----------------------------------------------------------------------===//
// AWQAttr
//===----------------------------------------------------------------------===//

LogicalResult AWQAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              unsigned bits, int64_t groupSize,
                              bool zeroPoint, AWQLayout layout) {
  if (bits != 4)
    return emitError() << "AWQ supports only 4-bit weights, got bits = "
                       << bits;
  // Kernels tile K by at least 16 (one tensor-core step) and AutoAWQ uses
  // power-of-two groups; 1024 bounds the scale tensors' usefulness.
  if (groupSize < 16 || groupSize > 1024 || !llvm::isPowerOf2_64(groupSize))
    return emitError() << "AWQ group_size must be a power of two between 16 "
                          "and 1024, got "
                       << groupSize;
  return success();
}

LogicalResult
AWQAttr::verifyWeightShape(function_ref<InFlightDiagnostic()> emitError,
                           int64_t n, int64_t k) const {
  if (k % getGroupSize() != 0)
    return emitError() << "AWQ group_size " << getGroupSize()
                       << " does not divide K = " << k << " (input features)";
  if (n % 8 != 0)
    return emitError() << "AWQ needs N (output features) to be a multiple of "
                          "8 to pack eight int4 values per i32, got N = "
                       << n;
  if (getLayout() == AWQLayout::Mma &&
      (n % kMmaTileFeatures != 0 || k % kMmaTileDepth != 0))
    return emitError() << "AWQ layout mma needs N (output features) to be a "
                          "multiple of "
                       << kMmaTileFeatures << " and K (input features) of "
                       << kMmaTileDepth << ", got N = " << n << ", K = " << k;
  if (getLayout() == AWQLayout::Cpu && n % kCpuTileFeatures != 0)
    return emitError() << "AWQ layout cpu needs N (output features) to be a "
                          "multiple of "
                       << kCpuTileFeatures << ", got N = " << n;
  return success();
}

void AWQAttr::getStorageComponents(
    int64_t n, int64_t k, SmallVectorImpl<StorageComponent> &out) const {
  MLIRContext *ctx = getContext();
  auto i32 = IntegerType::get(ctx, 32);
  int64_t groups = k / getGroupSize();
  if (getLayout() == AWQLayout::Mma)
    out.push_back({"qweight",
                   tensorOf({n / kMmaTileFeatures, k * kMmaTileFeatures / 8},
                            i32),
                   0});
  else if (getLayout() == AWQLayout::Cpu)
    out.push_back({"qweight",
                   tensorOf({n / kCpuTileFeatures, k * kCpuTileFeatures / 8},
                            i32),
                   0});
  else
    out.push_back({"qweight", tensorOf({k, n / 8}, i32), 1});
  if (getZeroPoint())
    out.push_back({"qzeros", tensorOf({groups, n / 8}, i32), 1});
  out.push_back({"scales", tensorOf({groups, n}, Float16Type::get(ctx)), 1});
}

//===----------------------------------------------------------------------===//
// BnB4Attr
//===----------------------------------------------------------------------===//

LogicalResult BnB4Attr::verify(function_ref<InFlightDiagnostic()> emitError,
                               BnB4Type type, int64_t blockSize,
                               bool doubleQuant) {
  if (blockSize < 32 || blockSize > 4096 || !llvm::isPowerOf2_64(blockSize))
    return emitError() << "bnb4 block_size must be a power of two between 32 "
                          "and 4096, got "
                       << blockSize;
  return success();
}

LogicalResult
BnB4Attr::verifyWeightShape(function_ref<InFlightDiagnostic()> emitError,
                            int64_t n, int64_t k) const {
  // Blocks that never straddle two rows let kernels dequantize a row tile
  // with one absmax per block.
  if (k % getBlockSize() != 0)
    return emitError() << "bnb4 block_size " << getBlockSize()
                       << " does not divide K = " << k
                       << " (input features), so blocks would span rows";
  return success();
}

void BnB4Attr::getStorageComponents(
    int64_t n, int64_t k, SmallVectorImpl<StorageComponent> &out) const {
  MLIRContext *ctx = getContext();
  auto i8 = IntegerType::get(ctx, 8);
  auto f32 = Float32Type::get(ctx);
  int64_t blocks = n * k / getBlockSize();
  // Rows are contiguous in the flat codes and blocks never span rows, so
  // codes and absmaxes of stacked weights concatenate.
  bool stackable = !getDoubleQuant();
  out.push_back({"codes", tensorOf({n * k / 2}, i8), stackable ? 0 : -1});
  if (!getDoubleQuant()) {
    out.push_back({"absmax", tensorOf({blocks}, f32), 0});
    return;
  }
  int64_t nested = llvm::divideCeil(blocks, kNestedBlockSize);
  out.push_back({"absmax", tensorOf({blocks}, i8)});
  out.push_back({"nested_absmax", tensorOf({nested}, f32)});
  out.push_back({"nested_offset", tensorOf({1}, f32)});
}

//===----------------------------------------------------------------------===//
// Int8Attr
//===----------------------------------------------------------------------===//

LogicalResult Int8Attr::verify(function_ref<InFlightDiagnostic()> emitError,
                               Int8Mode mode, APFloat thresholdValue) {
  double threshold = thresholdValue.convertToDouble();
  if (!std::isfinite(threshold) || threshold < 0.0)
    return emitError() << "int8 threshold must be a finite non-negative "
                          "number, got "
                       << threshold;
  if (mode != Int8Mode::LLMInt8 && threshold != 0.0)
    return emitError() << "int8 threshold applies only to mode llm_int8, not "
                       << stringifyInt8Mode(mode);
  return success();
}

LogicalResult
Int8Attr::verifyWeightShape(function_ref<InFlightDiagnostic()> emitError,
                            int64_t n, int64_t k) const {
  return success();
}

void Int8Attr::getStorageComponents(
    int64_t n, int64_t k, SmallVectorImpl<StorageComponent> &out) const {
  MLIRContext *ctx = getContext();
  Type scaleType = getMode() == Int8Mode::WeightOnly
                       ? Type(Float16Type::get(ctx))
                       : Type(Float32Type::get(ctx));
  out.push_back({"qweight", tensorOf({n, k}, IntegerType::get(ctx, 8)), 0});
  out.push_back({"scales", tensorOf({n}, scaleType), 0});
}

//===----------------------------------------------------------------------===//
// RopeAttr
//===----------------------------------------------------------------------===//

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               RopeType type, APFloat thetaValue,
                               APFloat factorValue, APFloat lowFreqValue,
                               APFloat highFreqValue,
                               int64_t originalMaxPositions,
                               APFloat attentionFactorValue,
                               APFloat betaFastValue, APFloat betaSlowValue) {
  double theta = thetaValue.convertToDouble();
  double factor = factorValue.convertToDouble();
  double lowFreqFactor = lowFreqValue.convertToDouble();
  double highFreqFactor = highFreqValue.convertToDouble();
  if (!std::isfinite(theta) || theta <= 0.0)
    return emitError() << "rope theta must be positive, got " << theta;
  if (!std::isfinite(factor) || factor <= 0.0)
    return emitError() << "rope factor must be positive, got " << factor;
  if (type == RopeType::Default && factor != 1.0)
    return emitError() << "rope type default takes no factor, got " << factor;
  if (originalMaxPositions < 0)
    return emitError() << "rope original_max_positions must be non-negative";
  double attentionFactor = attentionFactorValue.convertToDouble();
  if (!std::isfinite(attentionFactor) || attentionFactor < 0.0)
    return emitError() << "rope attention_factor must be non-negative";
  if (type == RopeType::Yarn &&
      !(betaFastValue.convertToDouble() > betaSlowValue.convertToDouble() &&
        betaSlowValue.convertToDouble() > 0.0))
    return emitError() << "rope type yarn needs beta_fast > beta_slow > 0";
  if (type == RopeType::Llama3) {
    if (originalMaxPositions == 0)
      return emitError() << "rope type llama3 needs original_max_positions > 0";
    if (!(lowFreqFactor > 0.0) || !(highFreqFactor > lowFreqFactor))
      return emitError() << "rope type llama3 needs 0 < low_freq_factor < "
                            "high_freq_factor, got "
                         << lowFreqFactor << " and " << highFreqFactor;
  }
  return success();
}
