//===- FakeGPU.h - a fake CUDA driver and GPU kernels.so for tests -*- C++ -*-//
//
// The runtime's GPU path without a GPU: FakeCUDADriver.cpp is a libcuda.so.1
// on host memory whose stream work runs only at synchronization (so a
// missing synchronization shows up as stale data), and FakeGPUKernels.cpp is
// a kernels.so that drives it through the mgpu* ABI the way MLIR's
// gpu-to-llvm host code does. Its "GPU image" is a table of host functions.
//
//===----------------------------------------------------------------------===//

#ifndef QC_TEST_FAKEGPU_H
#define QC_TEST_FAKEGPU_H

#include <cstdint>

namespace fakegpu {

/// A kernel: `params` holds numParams 8-byte values, copied at launch.
using KernelFn = void (*)(const uint64_t *params, uint64_t gridX);
struct Kernel {
  const char *name;
  KernelFn fn;
  int numParams;
};
/// What cuModuleLoadData takes.
struct Image {
  uint64_t magic;
  int numKernels;
  const Kernel *kernels;
};
constexpr uint64_t kMagic = 0x5143464b47505531ull;

/// What the fake driver saw (fakeCudaStats()).
struct Stats {
  int inits = 0;
  int moduleLoads = 0, moduleUnloads = 0, functionLookups = 0;
  int launches = 0, graphLaunches = 0, captures = 0, syncs = 0;
  /// Copies whose host side is neither device nor pinned memory.
  int pageableCopies = 0;
  int contextErrors = 0;
  /// cuFuncSetAttribute calls raising a kernel's dynamic shared memory.
  int sharedOptIns = 0;
  uint64_t releaseThreshold = 0;
};

/// What the fake cuTensorMapEncodeTiled writes into a 128-byte map.
struct TensorMap {
  uint64_t magic;
  const void *address;
  uint64_t dims[2], stride;
  unsigned box[2];
  int dataType, swizzle, l2Promotion, oobFill;
};
constexpr uint64_t kTensorMapMagic = 0x5143544d41503031ull;

} // namespace fakegpu

extern "C" fakegpu::Stats *fakeCudaStats();

#endif // QC_TEST_FAKEGPU_H
