//===- HIPRuntime.h - the HIP runtime API, loaded with dlopen ---*- C++ -*-===//
//
// Our own minimal declarations of the HIP API (no ROCm header or library at
// build time): opaque handles, hipError_t as int, and a table of the
// functions the runtime calls, resolved from libamdhip64.so.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_HAL_HIP_HIPRUNTIME_H
#define QC_RUNTIME_HAL_HIP_HIPRUNTIME_H

#include "qc/Support/Status.h"

#include <cstddef>
#include <cstdint>

namespace qc::runtime::hal::hip {

using hipError_t = int;
using hipDevice_t = int;
using hipStream_t = struct ihipStream_t *;
using hipModule_t = struct ihipModule_t *;
using hipFunction_t = struct ihipModuleSymbol_t *;
using hipGraph_t = struct ihipGraph *;
using hipGraphExec_t = struct hipGraphExec *;
using hipMemPool_t = struct ihipMemPoolHandle_t *;

constexpr hipError_t hipSuccess = 0;
constexpr unsigned hipStreamNonBlocking = 0x1;
constexpr unsigned hipMemAttachGlobal = 0x1;
constexpr int hipMemcpyDefault = 4;
constexpr int hipMemPoolAttrReleaseThreshold = 0x4;
constexpr int hipStreamCaptureModeThreadLocal = 1;
constexpr unsigned long long hipGraphInstantiateFlagAutoFreeOnLaunch = 1;

/// The HIP functions, by the symbol each is resolved from.
struct Runtime {
  const char *(*hipGetErrorName)(hipError_t);
  const char *(*hipGetErrorString)(hipError_t);
  hipError_t (*hipInit)(unsigned);
  hipError_t (*hipDriverGetVersion)(int *);
  hipError_t (*hipGetDeviceCount)(int *);
  hipError_t (*hipDeviceGet)(hipDevice_t *, int);
  hipError_t (*hipDeviceGetName)(char *, int, hipDevice_t);
  hipError_t (*hipDeviceTotalMem)(size_t *, hipDevice_t);
  hipError_t (*hipSetDevice)(int);
  hipError_t (*hipStreamCreateWithFlags)(hipStream_t *, unsigned);
  hipError_t (*hipStreamDestroy)(hipStream_t);
  hipError_t (*hipStreamSynchronize)(hipStream_t);
  hipError_t (*hipMalloc)(void **, size_t);
  hipError_t (*hipFree)(void *);
  hipError_t (*hipMallocManaged)(void **, size_t, unsigned);
  /// hipHostMalloc, or hipExtHostAlloc where a ROCm release renamed it.
  hipError_t (*hostAlloc)(void **, size_t, unsigned);
  /// hipHostFree, or hipFreeHost.
  hipError_t (*hostFree)(void *);
  hipError_t (*hipMemcpyAsync)(void *, const void *, size_t, int, hipStream_t);
  hipError_t (*hipMemsetAsync)(void *, int, size_t, hipStream_t);
  hipError_t (*hipMemsetD16Async)(void *, unsigned short, size_t, hipStream_t);
  hipError_t (*hipMemsetD32Async)(void *, int, size_t, hipStream_t);
  hipError_t (*hipModuleLoadData)(hipModule_t *, const void *);
  hipError_t (*hipModuleUnload)(hipModule_t);
  hipError_t (*hipModuleGetFunction)(hipFunction_t *, hipModule_t,
                                     const char *);
  hipError_t (*hipModuleLaunchKernel)(hipFunction_t, unsigned, unsigned,
                                      unsigned, unsigned, unsigned, unsigned,
                                      unsigned, hipStream_t, void **, void **);
  // Optional: stream-ordered allocation and graphs.
  hipError_t (*hipDeviceGetDefaultMemPool)(hipMemPool_t *, int);
  hipError_t (*hipMemPoolSetAttribute)(hipMemPool_t, int, void *);
  hipError_t (*hipMallocAsync)(void **, size_t, hipStream_t);
  hipError_t (*hipFreeAsync)(void *, hipStream_t);
  hipError_t (*hipStreamBeginCapture)(hipStream_t, int);
  hipError_t (*hipStreamEndCapture)(hipStream_t, hipGraph_t *);
  hipError_t (*hipGraphInstantiateWithFlags)(hipGraphExec_t *, hipGraph_t,
                                             unsigned long long);
  hipError_t (*hipGraphLaunch)(hipGraphExec_t, hipStream_t);
  hipError_t (*hipGraphExecDestroy)(hipGraphExec_t);
  hipError_t (*hipGraphDestroy)(hipGraph_t);

  bool hasMemoryPools() const {
    return hipDeviceGetDefaultMemPool && hipMemPoolSetAttribute &&
           hipMallocAsync && hipFreeAsync;
  }
  bool hasGraphs() const {
    return hipStreamBeginCapture && hipStreamEndCapture &&
           hipGraphInstantiateWithFlags && hipGraphLaunch &&
           hipGraphExecDestroy && hipGraphDestroy;
  }

  /// OK, or "<call>: <name> (<description>)" for a failed result.
  Status check(hipError_t result, const char *call) const;
};

/// HIP, loaded and initialized (hipInit) once per process; a clear error
/// when libamdhip64.so (or $QC_HIP_LIBRARY) cannot be loaded, lacks a
/// required function, or hipInit fails.
StatusOr<const Runtime *> loadRuntime();

} // namespace qc::runtime::hal::hip

#endif // QC_RUNTIME_HAL_HIP_HIPRUNTIME_H
