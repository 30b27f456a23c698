//===- TensorMaps.h - TMA tensor maps made on the host ----------*- C++ -*-===//
//
// Hopper's TMA copies a box of a tensor into shared memory, described by a
// 128-byte tensor map that the driver encodes on the host
// (cuTensorMapEncodeTiled). Kernels receive the map by value as a
// `__grid_constant__` parameter: no device memory to manage, and a CUDA
// graph captures it with the launch.
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_TENSORMAPS_H
#define QC_CONVERSION_TENSORMAPS_H

#include "mlir/IR/Builders.h"

namespace mlir::qc {

/// The runtime function that encodes a map (runtime/src/HAL/GPUABI.cpp):
/// (map out, address, rows, columns, row stride bytes, box rows, box
/// columns), all i64 but the out pointer.
inline constexpr llvm::StringLiteral kTensorMapEncoder =
    "mgpuTensorMapEncodeF16Swizzle128B";

/// The type a tensor map travels as: 128 bytes, by value.
Type tensorMapType(MLIRContext *ctx);

/// Builds on the host (at `b`) the tensor map of the f16 matrix `rows`
/// (a 2-D memref with contiguous rows, 16-byte aligned) whose boxes are
/// `boxRows` rows of 64 elements (one 128-byte swizzle row), placed with
/// the 128-byte swizzle; rows past the matrix read as zeros.
Value buildTensorMap(OpBuilder &b, Location loc, Value rows, int64_t boxRows);

/// The generic address of kernel argument `map` (a tensor map used inside a
/// gpu.launch): a marker cast that qc-grid-constant-kernel-args turns into
/// the address of the by-value kernel parameter.
Value kernelArgumentAddress(OpBuilder &b, Location loc, Value map);

/// The marker attribute of those casts.
inline constexpr llvm::StringLiteral kKernelArgumentAddress =
    "qc.kernel_argument_address";

} // namespace mlir::qc

#endif // QC_CONVERSION_TENSORMAPS_H
