//===- DTypeOf.h - MLIR element types as safetensors dtypes -----*- C++ -*-===//

#ifndef QC_TARGET_DTYPEOF_H
#define QC_TARGET_DTYPEOF_H

#include "qc/Model/DType.h"

#include "mlir/IR/Types.h"

#include <optional>

namespace mlir::qc {

/// The safetensors dtype storing elements of `type`, if there is one.
inline std::optional<::qc::DType> dtypeOf(Type type) {
  if (type.isF32())
    return ::qc::DType::F32;
  if (type.isF16())
    return ::qc::DType::F16;
  if (type.isBF16())
    return ::qc::DType::BF16;
  if (type.isInteger(64))
    return ::qc::DType::I64;
  if (type.isInteger(32))
    return ::qc::DType::I32;
  if (type.isInteger(16))
    return ::qc::DType::I16;
  if (type.isInteger(8))
    return ::qc::DType::I8;
  return std::nullopt;
}

} // namespace mlir::qc

#endif // QC_TARGET_DTYPEOF_H
