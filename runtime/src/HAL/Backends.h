//===- Backends.h - constructors of the runtime's devices -------*- C++ -*-===//
//
// openDevice() (Device.cpp) picks one of these by the package's target.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_HAL_BACKENDS_H
#define QC_RUNTIME_HAL_BACKENDS_H

#include "GPUDevice.h"

namespace qc::runtime::hal {

/// The host (CPU/CPUDevice.cpp).
std::shared_ptr<Device> hostDevice();
/// GPU `ordinal` through the CUDA driver (CUDA/CUDADevice.cpp).
StatusOr<std::unique_ptr<GPUDevice>> openCUDADevice(int ordinal);
/// GPU `ordinal` through HIP (HIP/HIPDevice.cpp).
StatusOr<std::unique_ptr<GPUDevice>> openHIPDevice(int ordinal);

} // namespace qc::runtime::hal

#endif // QC_RUNTIME_HAL_BACKENDS_H
