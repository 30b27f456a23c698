//===- HIPRuntime.cpp - the HIP runtime API, loaded with dlopen -----------===//

#include "HIPRuntime.h"

#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

using namespace qc;
using namespace qc::runtime::hal::hip;

Status Runtime::check(hipError_t result, const char *call) const {
  if (result == hipSuccess)
    return Status::ok();
  const char *name = hipGetErrorName(result);
  const char *text = hipGetErrorString(result);
  return Status::error(std::string(call) + ": " + (name ? name : "HIP error") +
                       " " + std::to_string(result) + " (" +
                       (text ? text : "unknown error") + ")");
}

namespace {

StatusOr<const Runtime *> load() {
  const char *path = std::getenv("QC_HIP_LIBRARY");
  void *library = nullptr;
  std::string firstError;
  if (path && *path) {
    library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library)
      firstError = dlerror();
  } else {
    path = "libamdhip64.so";
    // The unversioned name comes with ROCm's development files; a runtime
    // install may only have the versioned one.
    for (const char *name : {"libamdhip64.so", "libamdhip64.so.7",
                             "libamdhip64.so.6", "libamdhip64.so.5"}) {
      library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (library)
        break;
      const char *why = dlerror();
      if (firstError.empty())
        firstError = why ? why : "unknown";
    }
  }
  if (!library)
    return Status::error(std::string("no AMD GPU: ") + path +
                         " cannot be loaded (" + firstError + ")");

  auto hip = std::make_unique<Runtime>();
  std::string missing;
  auto resolve = [&](auto &slot, std::initializer_list<const char *> symbols,
                     bool required) {
    for (const char *symbol : symbols) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
          dlsym(library, symbol));
      if (slot)
        return;
    }
    if (required)
      missing += std::string(missing.empty() ? "" : ", ") + *symbols.begin();
  };
#define QC_REQUIRED(name) resolve(hip->name, {#name}, true)
#define QC_OPTIONAL(name) resolve(hip->name, {#name}, false)
  QC_REQUIRED(hipGetErrorName);
  QC_REQUIRED(hipGetErrorString);
  QC_REQUIRED(hipInit);
  QC_REQUIRED(hipDriverGetVersion);
  QC_REQUIRED(hipGetDeviceCount);
  QC_REQUIRED(hipDeviceGet);
  QC_REQUIRED(hipDeviceGetName);
  QC_REQUIRED(hipDeviceTotalMem);
  QC_REQUIRED(hipSetDevice);
  QC_REQUIRED(hipStreamCreateWithFlags);
  QC_REQUIRED(hipStreamDestroy);
  QC_REQUIRED(hipStreamSynchronize);
  QC_REQUIRED(hipMalloc);
  QC_REQUIRED(hipFree);
  QC_REQUIRED(hipMallocManaged);
  resolve(hip->hostAlloc, {"hipHostMalloc", "hipExtHostAlloc"}, true);
  resolve(hip->hostFree, {"hipHostFree", "hipFreeHost"}, true);
  QC_REQUIRED(hipMemcpyAsync);
  QC_REQUIRED(hipMemsetAsync);
  QC_REQUIRED(hipMemsetD16Async);
  QC_REQUIRED(hipMemsetD32Async);
  QC_REQUIRED(hipModuleLoadData);
  QC_REQUIRED(hipModuleUnload);
  QC_REQUIRED(hipModuleGetFunction);
  QC_REQUIRED(hipModuleLaunchKernel);
  QC_OPTIONAL(hipDeviceGetDefaultMemPool);
  QC_OPTIONAL(hipMemPoolSetAttribute);
  QC_OPTIONAL(hipMallocAsync);
  QC_OPTIONAL(hipFreeAsync);
  QC_OPTIONAL(hipStreamBeginCapture);
  QC_OPTIONAL(hipStreamEndCapture);
  QC_OPTIONAL(hipGraphInstantiateWithFlags);
  QC_OPTIONAL(hipGraphLaunch);
  QC_OPTIONAL(hipGraphExecDestroy);
  QC_OPTIONAL(hipGraphDestroy);
#undef QC_REQUIRED
#undef QC_OPTIONAL
  if (!missing.empty()) {
    dlclose(library);
    return Status::error(std::string("the HIP runtime ") + path +
                         " is too old: it lacks " + missing);
  }
  if (hipError_t r = hip->hipInit(0); r != hipSuccess) {
    Status s = hip->check(r, "hipInit");
    dlclose(library);
    return Status::error("hipInit failed: " +
                         s.message().substr(sizeof("hipInit: ") - 1));
  }
  // The library stays loaded for the rest of the process.
  return hip.release();
}

} // namespace

StatusOr<const Runtime *> qc::runtime::hal::hip::loadRuntime() {
  static std::mutex mutex;
  static const Runtime *loaded = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded)
    return loaded;
  QC_ASSIGN_OR_RETURN(loaded, load());
  return loaded;
}
