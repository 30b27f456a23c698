//===- DType.h - Element types of stored tensors ----------------*- C++ -*-===//
//
// The element types a safetensors file can hold that the compiler and the
// runtime understand. Names follow the safetensors spelling ("F32", "BOOL").
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_DTYPE_H
#define QC_MODEL_DTYPE_H

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace qc {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// Every DType, in declaration order.
std::span<const DType> allDTypes();

/// Maps a safetensors dtype string ("F32", "BOOL", ...) to a DType; nullopt
/// for names that are unknown or unsupported (e.g. "F8_E4M3").
std::optional<DType> parseDType(std::string_view name);

/// The safetensors spelling of `type`.
std::string_view dtypeName(DType type);

/// Bytes per element.
uint64_t dtypeSize(DType type);

/// True for F64, F32, F16 and BF16.
bool isFloatingPoint(DType type);

/// The flat index of the first NaN or infinity in `bytes` (elements of a
/// floating-point `type`, little-endian), or nullopt if all are finite (or
/// `type` is not floating point).
std::optional<size_t> findNonFinite(DType type, std::span<const uint8_t> bytes);

} // namespace qc

#endif // QC_MODEL_DTYPE_H
