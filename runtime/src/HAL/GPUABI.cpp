//===- GPUABI.cpp - MLIR's GPU runtime ABI, served by the active device ---===//
//
// A GPU package's kernels.so is lowered by MLIR's gpu-to-llvm and leaves
// these functions undefined; the executable that loads it exports them
// (QCRuntime's link options) and they route to the GPU device that
// Package::load opened. Differences from MLIR's own runtime wrappers:
//
// - every stream is the device's one stream: mgpuStreamCreate returns it and
//   mgpuStreamDestroy / mgpuStreamSynchronize do nothing. All work is
//   ordered on it, the runtime synchronizes before it reads results, and a
//   step that never synchronizes can be captured into a graph;
// - events are placeholders (one stream already orders everything), so
//   recording, waiting and synchronizing do nothing;
// - mgpuMemAlloc / mgpuMemFree are stream-ordered pool allocations
//   (capturable), managed memory when host-shared;
// - mgpuModuleGetFunction, called before every launch, is cached;
// - a failure cannot be returned: the first one is recorded in the device
//   and the runtime reports it after the step (or after dlopen).
//
//===----------------------------------------------------------------------===//

#include "GPUDevice.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::hal;

namespace {

std::atomic<GPUDevice *> activeDevice{nullptr};

std::mutex &orphanMutex() {
  static auto *mutex = new std::mutex;
  return *mutex;
}
Status &orphanError() {
  static auto *error = new Status;
  return *error;
}

/// The active device, or null after recording that there is none.
GPUDevice *device(const char *call) {
  GPUDevice *d = activeDevice.load(std::memory_order_acquire);
  if (!d) {
    std::lock_guard<std::mutex> lock(orphanMutex());
    if (orphanError().isOk())
      orphanError() = Status::error(
          std::string(call) +
          ": GPU kernels called the GPU runtime but no GPU device is open "
          "(the package's target is not a GPU)");
  }
  return d;
}

/// A non-null token for the placeholder events.
char eventToken;

} // namespace

GPUDevice *qc::runtime::hal::activeGPUDevice() {
  return activeDevice.load(std::memory_order_acquire);
}

Status qc::runtime::hal::activateGPUDevice(GPUDevice *device) {
  GPUDevice *expected = nullptr;
  if (activeDevice.compare_exchange_strong(expected, device) ||
      expected == device)
    return Status::ok();
  return Status::error(
      "cannot run a " + std::string(deviceKindName(device->kind())) +
      " package: this process already runs " + expected->name());
}

Status qc::runtime::hal::takeOrphanGPUError() {
  std::lock_guard<std::mutex> lock(orphanMutex());
  Status error = std::move(orphanError());
  orphanError() = Status::ok();
  return error;
}

extern "C" {

void *mgpuModuleLoad(void *data, size_t size) {
  GPUDevice *d = device("mgpuModuleLoad");
  return d ? d->abiModuleLoad(data, size) : nullptr;
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  GPUDevice *d = device("mgpuModuleLoadJIT");
  return d ? d->abiModuleLoadJIT(static_cast<const char *>(data), optLevel)
           : nullptr;
}

void mgpuModuleUnload(void *module) {
  if (GPUDevice *d = device("mgpuModuleUnload"))
    d->abiModuleUnload(module);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  GPUDevice *d = device("mgpuModuleGetFunction");
  return d ? d->abiModuleGetFunction(module, name) : nullptr;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void * /*stream*/,
                      void **params, void **extra, size_t /*paramsCount*/) {
  if (GPUDevice *d = device("mgpuLaunchKernel")) {
    const intptr_t grid[3] = {gridX, gridY, gridZ};
    const intptr_t block[3] = {blockX, blockY, blockZ};
    d->abiLaunchKernel(function, grid, block, smem, params, extra);
  }
}

void *mgpuStreamCreate() {
  GPUDevice *d = device("mgpuStreamCreate");
  return d ? d->abiStream() : nullptr;
}

void mgpuStreamDestroy(void * /*stream*/) {}

void mgpuStreamSynchronize(void * /*stream*/) {}

void *mgpuMemAlloc(uint64_t sizeBytes, void * /*stream*/, bool isHostShared) {
  GPUDevice *d = device("mgpuMemAlloc");
  return d ? d->abiMemAlloc(sizeBytes, isHostShared) : nullptr;
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  if (GPUDevice *d = device("mgpuMemFree"))
    d->abiMemFree(ptr);
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void * /*stream*/) {
  if (GPUDevice *d = device("mgpuMemcpy"))
    d->abiMemcpy(dst, src, sizeBytes);
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void * /*stream*/) {
  if (GPUDevice *d = device("mgpuMemset32"))
    d->abiMemset(dst, value, count, 4);
}

void mgpuMemset16(void *dst, unsigned short value, size_t count,
                  void * /*stream*/) {
  if (GPUDevice *d = device("mgpuMemset16"))
    d->abiMemset(dst, value, count, 2);
}

/// Not in MLIR's wrappers (whose mgpuTensorMapEncodeTiledMemref returns a
/// map in device memory): kernels take the map by value (a grid-constant
/// parameter), so it is written to the caller's 128-byte, 64-byte-aligned
/// slot.
void mgpuTensorMapEncodeF16Swizzle128B(void *map, int64_t address, int64_t rows,
                                       int64_t columns, int64_t rowStrideBytes,
                                       int64_t boxRows, int64_t boxColumns) {
  if (GPUDevice *d = device("mgpuTensorMapEncodeF16Swizzle128B"))
    d->abiTensorMapEncode(map, {reinterpret_cast<void *>(address), rows,
                                columns, rowStrideBytes, boxRows, boxColumns});
  else
    std::memset(map, 0, GPUDevice::kTensorMapBytes);
}

void *mgpuEventCreate() { return &eventToken; }
void mgpuEventDestroy(void * /*event*/) {}
void mgpuEventSynchronize(void * /*event*/) {}
void mgpuEventRecord(void * /*event*/, void * /*stream*/) {}
void mgpuStreamWaitEvent(void * /*stream*/, void * /*event*/) {}

void mgpuSetDefaultDevice(int32_t device) {
  if (GPUDevice *d = ::device("mgpuSetDefaultDevice"))
    d->abiSetDefaultDevice(device);
}

} // extern "C"
