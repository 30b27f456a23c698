//===- SHA256.h - SHA-256 digests of files ----------------------*- C++ -*-===//
//
// The package writer records the SHA-256 of kernels.so in the manifest and
// the runtime checks it before loading any code from the file: a truncated,
// swapped or edited kernel library is refused instead of crashing. (It
// detects accidents and tampering that leaves the manifest alone; it is not
// a signature.) Plain C++, shared by the compiler and the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_SHA256_H
#define QC_MODEL_SHA256_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <span>
#include <string>

namespace qc {

/// Lowercase hex SHA-256 of `bytes`.
std::string sha256Hex(std::span<const uint8_t> bytes);
/// Lowercase hex SHA-256 of the file at `path`.
StatusOr<std::string> sha256File(const std::string &path);

} // namespace qc

#endif // QC_MODEL_SHA256_H
