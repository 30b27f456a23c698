//===- GPUDevice.cpp - what the CUDA and HIP devices share ----------------===//

#include "GPUDevice.h"

#include <algorithm>
#include <cassert>
#include <cstring>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::hal;

namespace {

/// Pinned staging memory, allocated on first use. Uploads take regions of
/// it in turn (so several copies are in flight while the host fills the
/// next one) and synchronize when it is full; downloads wait for each chunk.
constexpr size_t kStagingBytes = size_t(64) << 20;
constexpr size_t kUploadChunk = kStagingBytes / 4;
constexpr size_t kStagingAlignment = 256;

} // namespace

GPUDevice::~GPUDevice() = default;

void GPUDevice::releaseStaging() {
  if (staging_)
    releasePinned(staging_);
  staging_ = nullptr;
  stagingUsed_ = 0;
}

StatusOr<uint8_t *> GPUDevice::stagingRegion(size_t bytes) {
  assert(bytes <= kStagingBytes && "staging chunk too large");
  if (!staging_) {
    QC_ASSIGN_OR_RETURN(void *pinned, allocatePinned(kStagingBytes));
    staging_ = static_cast<uint8_t *>(pinned);
    stagingUsed_ = 0;
  }
  // The regions handed out since the last synchronization may still be
  // read or written by copies on the stream.
  if (stagingUsed_ + bytes > kStagingBytes)
    QC_RETURN_IF_ERROR(synchronize());
  uint8_t *region = staging_ + stagingUsed_;
  stagingUsed_ =
      std::min(kStagingBytes, (stagingUsed_ + bytes + kStagingAlignment - 1) /
                                  kStagingAlignment * kStagingAlignment);
  return region;
}

Status GPUDevice::synchronize() {
  QC_RETURN_IF_ERROR(makeCurrent());
  QC_RETURN_IF_ERROR(streamSynchronize());
  stagingUsed_ = 0;
  return Status::ok();
}

Status GPUDevice::zero(void *device, size_t bytes) {
  if (bytes == 0)
    return Status::ok();
  QC_RETURN_IF_ERROR(makeCurrent());
  return memsetAsync(device, 0, bytes, 1);
}

Status GPUDevice::upload(void *device, const void *host, size_t bytes) {
  QC_RETURN_IF_ERROR(makeCurrent());
  auto *dst = static_cast<uint8_t *>(device);
  const auto *src = static_cast<const uint8_t *>(host);
  while (bytes > 0) {
    size_t chunk = std::min(bytes, kUploadChunk);
    QC_ASSIGN_OR_RETURN(uint8_t *region, stagingRegion(chunk));
    std::memcpy(region, src, chunk);
    QC_RETURN_IF_ERROR(copyAsync(dst, region, chunk));
    dst += chunk;
    src += chunk;
    bytes -= chunk;
  }
  return Status::ok();
}

Status GPUDevice::download(void *host, const void *device, size_t bytes) {
  QC_RETURN_IF_ERROR(makeCurrent());
  auto *dst = static_cast<uint8_t *>(host);
  const auto *src = static_cast<const uint8_t *>(device);
  while (bytes > 0) {
    size_t chunk = std::min(bytes, kStagingBytes);
    QC_ASSIGN_OR_RETURN(uint8_t *region, stagingRegion(chunk));
    QC_RETURN_IF_ERROR(copyAsync(region, src, chunk));
    QC_RETURN_IF_ERROR(synchronize());
    std::memcpy(dst, region, chunk);
    dst += chunk;
    src += chunk;
    bytes -= chunk;
  }
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// The mgpu* ABI
//===----------------------------------------------------------------------===//

void *GPUDevice::abiModuleLoad(const void *data, size_t size) {
  if (Status s = makeCurrent(); !s) {
    recordError(std::move(s).withContext("mgpuModuleLoad"));
    return nullptr;
  }
  StatusOr<void *> module = loadModule(data, size);
  if (!module) {
    recordError(Status(module.status()).withContext("mgpuModuleLoad"));
    return nullptr;
  }
  return *module;
}

void *GPUDevice::abiModuleLoadJIT(const char *ptx, int optLevel) {
  if (Status s = makeCurrent(); !s) {
    recordError(std::move(s).withContext("mgpuModuleLoadJIT"));
    return nullptr;
  }
  StatusOr<void *> module = loadModuleJIT(ptx, optLevel);
  if (!module) {
    recordError(Status(module.status()).withContext("mgpuModuleLoadJIT"));
    return nullptr;
  }
  return *module;
}

void GPUDevice::abiModuleUnload(void *module) {
  if (!module)
    return;
  std::erase_if(functions_, [&](const auto &entry) {
    return entry.first.module == module;
  });
  Status s = makeCurrent();
  if (s)
    s = unloadModule(module);
  if (!s)
    recordError(std::move(s).withContext("mgpuModuleUnload"));
}

void *GPUDevice::abiModuleGetFunction(void *module, const char *name) {
  FunctionKey key{module, name};
  if (auto it = functions_.find(key); it != functions_.end())
    return it->second;
  std::string context =
      std::string("mgpuModuleGetFunction '") + (name ? name : "") + "'";
  if (!module || !name) {
    recordError(Status::error(context + ": no module (did it fail to load?)"));
    return nullptr;
  }
  if (Status s = makeCurrent(); !s) {
    recordError(std::move(s).withContext(context));
    return nullptr;
  }
  StatusOr<void *> function = lookupFunction(module, name);
  if (!function) {
    recordError(Status(function.status()).withContext(context));
    return nullptr;
  }
  functions_.emplace(key, *function);
  return *function;
}

void GPUDevice::abiLaunchKernel(void *function, const intptr_t grid[3],
                                const intptr_t block[3], int32_t sharedBytes,
                                void **params, void **extra) {
  // After a failure the step's results are void, and a kernel could fault
  // on what failed (a tensor map left zero): the rest is skipped.
  if (hasPendingError())
    return;
  if (!function) {
    recordError(Status::error("mgpuLaunchKernel: no kernel (its lookup "
                              "failed)"));
    return;
  }
  Status s = makeCurrent();
  if (s)
    s = launch(function, grid, block, sharedBytes, params, extra);
  if (!s)
    recordError(std::move(s).withContext("mgpuLaunchKernel"));
}

void *GPUDevice::abiMemAlloc(uint64_t bytes, bool hostShared) {
  if (bytes == 0)
    return nullptr;
  if (Status s = makeCurrent(); !s) {
    recordError(std::move(s).withContext("mgpuMemAlloc"));
    return nullptr;
  }
  StatusOr<void *> pointer =
      hostShared ? allocateShared(bytes) : allocateAsync(bytes);
  if (!pointer) {
    recordError(Status(pointer.status())
                    .withContext("mgpuMemAlloc of " + std::to_string(bytes) +
                                 " bytes"));
    return nullptr;
  }
  if (hostShared)
    sharedAllocations_.insert(*pointer);
  return *pointer;
}

void GPUDevice::abiMemFree(void *pointer) {
  if (!pointer)
    return;
  Status s = makeCurrent();
  if (s) {
    if (sharedAllocations_.erase(pointer))
      s = releaseShared(pointer);
    else
      s = releaseAsync(pointer);
  }
  if (!s)
    recordError(std::move(s).withContext("mgpuMemFree"));
}

void GPUDevice::abiMemcpy(void *dst, const void *src, size_t bytes) {
  if (bytes == 0)
    return;
  Status s = makeCurrent();
  if (s)
    s = copyAsync(dst, src, bytes);
  if (!s)
    recordError(std::move(s).withContext("mgpuMemcpy"));
}

void GPUDevice::abiMemset(void *dst, uint32_t value, size_t count,
                          unsigned width) {
  if (count == 0)
    return;
  Status s = makeCurrent();
  if (s)
    s = memsetAsync(dst, value, count, width);
  if (!s)
    recordError(
        std::move(s).withContext("mgpuMemset" + std::to_string(8 * width)));
}

void GPUDevice::abiSetDefaultDevice(int32_t ordinal) {
  if (ordinal != ordinal_)
    recordError(Status::error("mgpuSetDefaultDevice: the kernels select GPU " +
                              std::to_string(ordinal) +
                              " but the runtime runs on GPU " +
                              std::to_string(ordinal_)));
}

void GPUDevice::abiTensorMapEncode(void *map, const TensorMap2D &t) {
  // What cuTensorMapEncodeTiled requires of an f16, 128-byte-swizzled map,
  // checked here to name the field.
  constexpr int64_t kHalfBytes = 2, kSwizzleBytes = 128, kMaxBox = 256;
  auto address = reinterpret_cast<uintptr_t>(t.address);
  std::string problem;
  if (address % 16)
    problem = "the matrix's address is not 16-byte aligned";
  else if (t.rows <= 0 || t.columns <= 0)
    problem = "the matrix is empty";
  else if (t.rowStrideBytes % 16 || t.rowStrideBytes < t.columns * kHalfBytes)
    problem = "the row stride is not a multiple of 16 bytes covering a row";
  else if (t.boxRows <= 0 || t.boxRows > kMaxBox || t.boxColumns <= 0 ||
           t.boxColumns * kHalfBytes > kSwizzleBytes)
    problem = "the box is not 1-256 rows of at most 128 bytes";
  Status s = problem.empty() ? makeCurrent() : Status::error(problem);
  if (s)
    s = encodeTensorMap(map, t);
  if (!s) {
    std::memset(map, 0, kTensorMapBytes);
    recordError(std::move(s).withContext(
        "mgpuTensorMapEncodeF16Swizzle128B (" + std::to_string(t.rows) + " x " +
        std::to_string(t.columns) + " f16, row stride " +
        std::to_string(t.rowStrideBytes) + " bytes, box " +
        std::to_string(t.boxRows) + " x " + std::to_string(t.boxColumns) +
        ")"));
  }
}

Status GPUDevice::encodeTensorMap(void * /*map*/,
                                  const TensorMap2D & /*tensor*/) {
  return Status::error("TMA tensor maps need an NVIDIA GPU (sm_90 or newer); "
                       "this is " +
                       name());
}
