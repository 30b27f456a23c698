//===- CUDADriver.cpp - the CUDA driver API, loaded with dlopen -----------===//

#include "CUDADriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <type_traits>

using namespace qc;
using namespace qc::runtime::hal::cuda;

Status Driver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::ok();
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "CUDA error";
  if (cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = "unknown error";
  return Status::error(std::string(call) + ": " + name + " " +
                       std::to_string(result) + " (" + text + ")");
}

namespace {

StatusOr<const Driver *> load() {
  const char *path = std::getenv("QC_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    return Status::error(std::string("no NVIDIA GPU/driver: ") + path +
                         " cannot be loaded (" + (why ? why : "unknown") + ")");
  }
  auto driver = std::make_unique<Driver>();
  std::string missing;
  auto resolve = [&](auto &slot, const char *symbol, bool required) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
        dlsym(library, symbol));
    if (!slot && required)
      missing += std::string(missing.empty() ? "" : ", ") + symbol;
  };
#define QC_REQUIRED(name) resolve(driver->name, #name, true)
#define QC_OPTIONAL(name) resolve(driver->name, #name, false)
  QC_REQUIRED(cuGetErrorName);
  QC_REQUIRED(cuGetErrorString);
  QC_REQUIRED(cuInit);
  QC_REQUIRED(cuDriverGetVersion);
  QC_REQUIRED(cuDeviceGetCount);
  QC_REQUIRED(cuDeviceGet);
  QC_REQUIRED(cuDeviceGetName);
  QC_REQUIRED(cuDeviceGetAttribute);
  QC_REQUIRED(cuDeviceTotalMem_v2);
  QC_REQUIRED(cuDevicePrimaryCtxRetain);
  QC_REQUIRED(cuDevicePrimaryCtxRelease_v2);
  QC_REQUIRED(cuCtxSetCurrent);
  QC_REQUIRED(cuStreamCreate);
  QC_REQUIRED(cuStreamDestroy_v2);
  QC_REQUIRED(cuStreamSynchronize);
  QC_REQUIRED(cuMemAlloc_v2);
  QC_REQUIRED(cuMemFree_v2);
  QC_REQUIRED(cuMemAllocManaged);
  QC_REQUIRED(cuMemHostAlloc);
  QC_REQUIRED(cuMemFreeHost);
  QC_REQUIRED(cuMemcpyAsync);
  QC_REQUIRED(cuMemsetD8Async);
  QC_REQUIRED(cuMemsetD16Async);
  QC_REQUIRED(cuMemsetD32Async);
  QC_REQUIRED(cuModuleLoadData);
  QC_REQUIRED(cuModuleLoadDataEx);
  QC_REQUIRED(cuModuleUnload);
  QC_REQUIRED(cuModuleGetFunction);
  QC_REQUIRED(cuFuncSetAttribute);
  QC_REQUIRED(cuLaunchKernel);
  QC_OPTIONAL(cuDeviceGetDefaultMemPool);
  QC_OPTIONAL(cuMemPoolSetAttribute);
  QC_OPTIONAL(cuMemAllocAsync);
  QC_OPTIONAL(cuMemFreeAsync);
  QC_OPTIONAL(cuStreamBeginCapture_v2);
  QC_OPTIONAL(cuStreamEndCapture);
  QC_OPTIONAL(cuGraphInstantiateWithFlags);
  QC_OPTIONAL(cuGraphLaunch);
  QC_OPTIONAL(cuGraphExecDestroy);
  QC_OPTIONAL(cuGraphDestroy);
  QC_OPTIONAL(cuTensorMapEncodeTiled);
#undef QC_REQUIRED
#undef QC_OPTIONAL
  if (!missing.empty()) {
    dlclose(library);
    return Status::error(std::string("the NVIDIA driver ") + path +
                         " is too old: it lacks " + missing);
  }
  if (CUresult r = driver->cuInit(0); r != CUDA_SUCCESS) {
    Status s = driver->check(r, "cuInit");
    dlclose(library);
    return Status::error("cuInit failed: " +
                         s.message().substr(sizeof("cuInit: ") - 1));
  }
  // The library stays loaded for the rest of the process.
  return driver.release();
}

} // namespace

StatusOr<const Driver *> qc::runtime::hal::cuda::loadDriver() {
  static std::mutex mutex;
  static const Driver *loaded = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded)
    return loaded;
  QC_ASSIGN_OR_RETURN(loaded, load());
  return loaded;
}
