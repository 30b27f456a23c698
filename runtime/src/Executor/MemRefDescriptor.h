//===- MemRefDescriptor.h - memref arguments of the kernels -----*- C++ -*-===//
//
// The packed entries of kernels.so take each argument as a pointer to a
// strided memref descriptor; the pointer inside is host memory on the CPU
// backend and device memory on a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_EXECUTOR_MEMREFDESCRIPTOR_H
#define QC_RUNTIME_EXECUTOR_MEMREFDESCRIPTOR_H

#include <cstdint>
#include <vector>

namespace qc::runtime {

/// A strided memref descriptor as MLIR's C interface lays it out:
/// {allocated, aligned, offset, sizes[rank], strides[rank]} of 64-bit words.
class MemRefDescriptor {
public:
  MemRefDescriptor(const void *data, std::vector<int64_t> shape) {
    words_.push_back(reinterpret_cast<int64_t>(data));
    words_.push_back(reinterpret_cast<int64_t>(data));
    words_.push_back(0);
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;)
      strides[i - 1] = strides[i] * shape[i];
    words_.insert(words_.end(), shape.begin(), shape.end());
    words_.insert(words_.end(), strides.begin(), strides.end());
  }
  void *get() { return words_.data(); }

private:
  std::vector<int64_t> words_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_EXECUTOR_MEMREFDESCRIPTOR_H
