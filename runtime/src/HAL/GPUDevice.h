//===- GPUDevice.h - what the CUDA and HIP devices share --------*- C++ -*-===//
//
// The part of a GPU device that does not depend on the driver: pinned staging
// for uploads and downloads, the per-(module, name) kernel cache, host-shared
// allocations, and the mgpu* entry points that GPUABI.cpp routes to the
// active device. The backends (CUDA/CUDADevice.cpp, HIP/HIPDevice.cpp)
// implement the driver primitives below.
//
// Not thread-safe: a device is used by one thread at a time (the runtime's
// step loop; kernels.so calls back on the thread that runs it).
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_HAL_GPUDEVICE_H
#define QC_RUNTIME_HAL_GPUDEVICE_H

#include "qc/runtime/Device.h"

#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace qc::runtime::hal {

class GPUDevice : public Device {
public:
  ~GPUDevice() override;

  Status zero(void *device, size_t bytes) override;
  Status upload(void *device, const void *host, size_t bytes) override;
  Status download(void *host, const void *device, size_t bytes) override;
  Status synchronize() override;

  /// The mgpu* ABI (see GPUABI.cpp); failures are recorded with
  /// recordError() and give null results.
  void *abiModuleLoad(const void *data, size_t size);
  void *abiModuleLoadJIT(const char *ptx, int optLevel);
  void abiModuleUnload(void *module);
  void *abiModuleGetFunction(void *module, const char *name);
  void abiLaunchKernel(void *function, const intptr_t grid[3],
                       const intptr_t block[3], int32_t sharedBytes,
                       void **params, void **extra);
  /// The device's one stream, whatever stream kernels.so asks for.
  void *abiStream() const { return stream_; }
  void *abiMemAlloc(uint64_t bytes, bool hostShared);
  void abiMemFree(void *pointer);
  void abiMemcpy(void *dst, const void *src, size_t bytes);
  void abiMemset(void *dst, uint32_t value, size_t count, unsigned width);
  void abiSetDefaultDevice(int32_t ordinal);
  /// Encodes into `map` (128 bytes) the TMA tensor map of an f16 matrix
  /// read in boxes of `boxRows` x `boxColumns`, 128-byte swizzled; rows
  /// past the matrix read as zeros. A failure is recorded and leaves the
  /// map zero (the step's launches are then skipped).
  static constexpr size_t kTensorMapBytes = 128;
  struct TensorMap2D {
    void *address;
    int64_t rows, columns, rowStrideBytes, boxRows, boxColumns;
  };
  void abiTensorMapEncode(void *map, const TensorMap2D &tensor);

  /// An error unless this device can run code compiled for `chip`.
  virtual Status checkChip(const std::string &chip) const = 0;

protected:
  GPUDevice(DeviceKind kind, int ordinal) : Device(kind), ordinal_(ordinal) {}

  /// Makes the device current on the calling thread (cuCtxSetCurrent /
  /// hipSetDevice); every primitive below calls it first.
  virtual Status makeCurrent() = 0;
  virtual StatusOr<void *> allocatePinned(size_t bytes) = 0;
  virtual void releasePinned(void *pointer) = 0;
  /// A copy in any direction (unified addressing), ordered on the stream.
  virtual Status copyAsync(void *dst, const void *src, size_t bytes) = 0;
  /// Sets `count` elements of `width` (1, 2 or 4) bytes to `value`.
  virtual Status memsetAsync(void *dst, uint32_t value, size_t count,
                             unsigned width) = 0;
  virtual Status streamSynchronize() = 0;
  virtual StatusOr<void *> loadModule(const void *data, size_t size) = 0;
  virtual StatusOr<void *> loadModuleJIT(const char *ptx, int optLevel) = 0;
  virtual Status unloadModule(void *module) = 0;
  virtual StatusOr<void *> lookupFunction(void *module, const char *name) = 0;
  virtual Status launch(void *function, const intptr_t grid[3],
                        const intptr_t block[3], int32_t sharedBytes,
                        void **params, void **extra) = 0;
  /// Stream-ordered pool allocation (capturable), or a plain allocation on
  /// devices without memory pools.
  virtual StatusOr<void *> allocateAsync(size_t bytes) = 0;
  virtual Status releaseAsync(void *pointer) = 0;
  /// Managed memory (host-shared memrefs); not capturable.
  virtual StatusOr<void *> allocateShared(size_t bytes) = 0;
  virtual Status releaseShared(void *pointer) = 0;
  /// Encodes a checked TensorMap2D (cuTensorMapEncodeTiled); an error on
  /// devices without TMA.
  virtual Status encodeTensorMap(void *map, const TensorMap2D &tensor);

  /// Releases the staging memory; the backends call it before they destroy
  /// their stream and context.
  void releaseStaging();

  int ordinal_;
  void *stream_ = nullptr;

private:
  /// A region of the staging buffer for `bytes` (at most its capacity),
  /// synchronizing first when the regions in flight fill it.
  StatusOr<uint8_t *> stagingRegion(size_t bytes);

  struct FunctionKey {
    void *module;
    const char *name;
    bool operator==(const FunctionKey &) const = default;
  };
  struct FunctionKeyHash {
    size_t operator()(const FunctionKey &k) const {
      return std::hash<void *>()(k.module) * 31 +
             std::hash<const void *>()(k.name);
    }
  };
  /// Keyed by the name's address: kernels.so passes the same constant
  /// string before every launch, and its modules are unloaded (dropping
  /// their entries) before that string goes away.
  std::unordered_map<FunctionKey, void *, FunctionKeyHash> functions_;
  std::unordered_set<void *> sharedAllocations_;

  uint8_t *staging_ = nullptr;
  size_t stagingUsed_ = 0;
};

/// The device that the mgpu* ABI routes to, or null (GPUABI.cpp).
GPUDevice *activeGPUDevice();
/// Makes `device` the active one; an error when another GPU device is.
Status activateGPUDevice(GPUDevice *device);
/// The first mgpu* failure that happened while no device was active.
Status takeOrphanGPUError();

} // namespace qc::runtime::hal

#endif // QC_RUNTIME_HAL_GPUDEVICE_H
