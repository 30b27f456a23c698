//===- QCTypes.cpp - qc types and their verifiers -------------------------===//

#include "qc/Dialect/QC/IR/QCTypes.h"
#include "qc/Dialect/QC/IR/QCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qc;

#define GET_TYPEDEF_CLASSES
#include "qc/Dialect/QC/IR/QCOpsTypes.cpp.inc"

void QCDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "qc/Dialect/QC/IR/QCOpsTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// QWeightType
//===----------------------------------------------------------------------===//

// !qc.qweight<NxKxT, #scheme>
Type QWeightType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  Type elementType;
  Attribute scheme;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false) ||
      parser.parseType(elementType) || parser.parseComma() ||
      parser.parseAttribute(scheme) || parser.parseGreater())
    return {};
  auto schemeIface = dyn_cast<QuantSchemeAttrInterface>(scheme);
  if (!schemeIface) {
    parser.emitError(loc) << "expected a quantization scheme attribute, got "
                          << scheme;
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    shape, elementType, schemeIface);
}

void QWeightType::print(AsmPrinter &printer) const {
  printer << '<';
  printer.printDimensionList(getShape());
  printer << 'x' << getElementType() << ", " << getScheme() << '>';
}

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, Type elementType,
                                  QuantSchemeAttrInterface scheme) {
  if (shape.size() != 2)
    return emitError() << "quantized weight must have rank 2 [N, K], got rank "
                       << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "quantized weight dimensions must be positive";
  if (!isa<Float16Type, BFloat16Type, Float32Type>(elementType))
    return emitError() << "quantized weight must dequantize to f16, bf16 or "
                          "f32, got "
                       << elementType;
  if (!scheme)
    return emitError() << "quantized weight needs a scheme";
  return scheme.verifyWeightShape(emitError, shape[0], shape[1]);
}

//===----------------------------------------------------------------------===//
// KVCacheType
//===----------------------------------------------------------------------===//

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t numLayers, int64_t numKvHeads,
                                  int64_t headDim, Type dtype) {
  if (numLayers <= 0 || numKvHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache num_layers, num_kv_heads and head_dim "
                          "must be positive";
  if (!isa<FloatType>(dtype))
    return emitError() << "kv_cache dtype must be a float type, got " << dtype;
  return success();
}
