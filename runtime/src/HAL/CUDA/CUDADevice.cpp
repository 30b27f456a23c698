//===- CUDADevice.cpp - an NVIDIA GPU through the CUDA driver API ---------===//
//
// The device's primary context (made current on the calling thread before
// every driver call), one non-blocking stream, long-lived buffers from
// cuMemAlloc, the kernels' temporaries from the default stream-ordered pool
// (its release threshold keeps freed memory in the pool between steps), and
// graph capture in thread-local mode.
//
//===----------------------------------------------------------------------===//

#include "../Backends.h"
#include "CUDADriver.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <unordered_map>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::hal;
using namespace qc::runtime::hal::cuda;

namespace {

CUdeviceptr devicePointer(const void *pointer) {
  return reinterpret_cast<CUdeviceptr>(pointer);
}

class CUDADevice final : public GPUDevice {
public:
  CUDADevice(const Driver &driver, int ordinal)
      : GPUDevice(DeviceKind::CUDA, ordinal), d_(driver) {}
  ~CUDADevice() override;

  Status open();

  std::string name() const override { return name_; }
  StatusOr<void *> allocate(size_t bytes) override;
  void release(void *pointer) override;

  bool supportsGraphs() const override;
  Status beginCapture() override;
  StatusOr<GraphHandle> endCapture() override;
  Status launchGraph(GraphHandle graph) override;
  void destroyGraph(GraphHandle graph) override;

  Status checkChip(const std::string &chip) const override;

protected:
  Status makeCurrent() override {
    return d_.check(d_.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  }
  StatusOr<void *> allocatePinned(size_t bytes) override;
  void releasePinned(void *pointer) override {
    if (makeCurrent())
      (void)d_.cuMemFreeHost(pointer);
  }
  Status copyAsync(void *dst, const void *src, size_t bytes) override {
    return d_.check(d_.cuMemcpyAsync(devicePointer(dst), devicePointer(src),
                                     bytes, stream()),
                    "cuMemcpyAsync");
  }
  Status memsetAsync(void *dst, uint32_t value, size_t count,
                     unsigned width) override;
  Status streamSynchronize() override {
    return d_.check(d_.cuStreamSynchronize(stream()), "cuStreamSynchronize");
  }
  StatusOr<void *> loadModule(const void *data, size_t size) override;
  StatusOr<void *> loadModuleJIT(const char *ptx, int optLevel) override;
  Status unloadModule(void *module) override {
    return d_.check(d_.cuModuleUnload(static_cast<CUmodule>(module)),
                    "cuModuleUnload");
  }
  StatusOr<void *> lookupFunction(void *module, const char *name) override;
  Status launch(void *function, const intptr_t grid[3], const intptr_t block[3],
                int32_t sharedBytes, void **params, void **extra) override;
  StatusOr<void *> allocateAsync(size_t bytes) override;
  Status releaseAsync(void *pointer) override;
  StatusOr<void *> allocateShared(size_t bytes) override;
  Status releaseShared(void *pointer) override {
    return d_.check(d_.cuMemFree_v2(devicePointer(pointer)), "cuMemFree");
  }
  Status encodeTensorMap(void *map, const TensorMap2D &tensor) override;

private:
  CUstream stream() const { return static_cast<CUstream>(stream_); }

  const Driver &d_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  int major_ = 0, minor_ = 0;
  bool pools_ = false;
  std::string name_;
  /// Dynamic shared memory each kernel was opted in to past the default
  /// 48 KiB (the wgmma kernels' buffers).
  std::unordered_map<CUfunction, int32_t> sharedLimits_;
};

CUDADevice::~CUDADevice() {
  if (!context_)
    return;
  if (makeCurrent()) {
    if (stream_)
      (void)d_.cuStreamSynchronize(stream());
    releaseStaging();
    if (stream_)
      (void)d_.cuStreamDestroy_v2(stream());
  }
  (void)d_.cuDevicePrimaryCtxRelease_v2(device_);
}

Status CUDADevice::open() {
  int count = 0;
  QC_RETURN_IF_ERROR(d_.check(d_.cuDeviceGetCount(&count), "cuDeviceGetCount"));
  if (count == 0)
    return Status::error("no NVIDIA GPU: the CUDA driver sees no device");
  if (ordinal_ >= count)
    return Status::error("no NVIDIA GPU " + std::to_string(ordinal_) +
                         ": the CUDA driver sees " + std::to_string(count));
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuDeviceGet(&device_, ordinal_), "cuDeviceGet"));
  char deviceName[256] = {};
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuDeviceGetName(deviceName, sizeof(deviceName) - 1, device_),
               "cuDeviceGetName"));
  QC_RETURN_IF_ERROR(d_.check(
      d_.cuDeviceGetAttribute(
          &major_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_),
      "cuDeviceGetAttribute"));
  QC_RETURN_IF_ERROR(d_.check(
      d_.cuDeviceGetAttribute(
          &minor_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_),
      "cuDeviceGetAttribute"));
  size_t memory = 0;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuDeviceTotalMem_v2(&memory, device_), "cuDeviceTotalMem"));
  int version = 0;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuDriverGetVersion(&version), "cuDriverGetVersion"));

  QC_RETURN_IF_ERROR(d_.check(d_.cuDevicePrimaryCtxRetain(&context_, device_),
                              "cuDevicePrimaryCtxRetain"));
  QC_RETURN_IF_ERROR(makeCurrent());
  CUstream stream = nullptr;
  QC_RETURN_IF_ERROR(d_.check(
      d_.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"));
  stream_ = stream;

  // The kernels' temporaries come from the default pool; keep what a step
  // frees for the next one instead of returning it to the OS at each
  // synchronization.
  if (d_.hasMemoryPools()) {
    CUmemoryPool pool = nullptr;
    if (d_.cuDeviceGetDefaultMemPool(&pool, device_) == CUDA_SUCCESS) {
      uint64_t threshold = std::numeric_limits<uint64_t>::max();
      QC_RETURN_IF_ERROR(
          d_.check(d_.cuMemPoolSetAttribute(
                       pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold),
                   "cuMemPoolSetAttribute"));
      pools_ = true;
    }
  }

  name_ = "cuda:" + std::to_string(ordinal_) + " " + deviceName + " (sm_" +
          std::to_string(major_) + std::to_string(minor_) + ", " +
          std::to_string(memory >> 20) + " MiB, driver " +
          std::to_string(version / 1000) + "." +
          std::to_string(version % 1000 / 10) + ")";
  return Status::ok();
}

Status CUDADevice::checkChip(const std::string &chip) const {
  // sm_<major><minor>[a|f] (parseTarget checked the form).
  size_t digits = 3;
  while (digits < chip.size() && chip[digits] >= '0' && chip[digits] <= '9')
    ++digits;
  int value = std::atoi(chip.substr(3, digits - 3).c_str());
  int major = value / 10, minor = value % 10;
  std::string suffix = chip.substr(digits);
  std::string here = "sm_" + std::to_string(major_) + std::to_string(minor_);
  bool older = major_ < major || (major_ == major && minor_ < minor);
  if (older)
    return Status::error("the package is compiled for " + chip + " but " +
                         name_ + " is " + here + "; recompile it for " + here);
  if (suffix == "a" && (major_ != major || minor_ != minor))
    return Status::error("the package is compiled for " + chip +
                         ", which runs only on sm_" + std::to_string(major) +
                         std::to_string(minor) + ", but " + name_ + " is " +
                         here + "; recompile it for " + here);
  if (suffix == "f" && major_ != major)
    return Status::error("the package is compiled for " + chip +
                         ", which runs only on sm_" + std::to_string(major) +
                         "x, but " + name_ + " is " + here +
                         "; recompile it for " + here);
  return Status::ok();
}

StatusOr<void *> CUDADevice::allocate(size_t bytes) {
  if (bytes == 0)
    return static_cast<void *>(nullptr);
  QC_RETURN_IF_ERROR(makeCurrent());
  CUdeviceptr pointer = 0;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuMemAlloc_v2(&pointer, bytes),
               ("cuMemAlloc of " + std::to_string(bytes) + " bytes on " + name_)
                   .c_str()));
  return reinterpret_cast<void *>(pointer);
}

void CUDADevice::release(void *pointer) {
  if (pointer && makeCurrent())
    (void)d_.cuMemFree_v2(devicePointer(pointer));
}

StatusOr<void *> CUDADevice::allocatePinned(size_t bytes) {
  void *pointer = nullptr;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuMemHostAlloc(&pointer, bytes, 0), "cuMemHostAlloc"));
  return pointer;
}

Status CUDADevice::memsetAsync(void *dst, uint32_t value, size_t count,
                               unsigned width) {
  switch (width) {
  case 1:
    return d_.check(d_.cuMemsetD8Async(devicePointer(dst),
                                       static_cast<unsigned char>(value), count,
                                       stream()),
                    "cuMemsetD8Async");
  case 2:
    return d_.check(d_.cuMemsetD16Async(devicePointer(dst),
                                        static_cast<unsigned short>(value),
                                        count, stream()),
                    "cuMemsetD16Async");
  default:
    return d_.check(
        d_.cuMemsetD32Async(devicePointer(dst), value, count, stream()),
        "cuMemsetD32Async");
  }
}

StatusOr<void *> CUDADevice::loadModule(const void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuModuleLoadData(&module, data), "cuModuleLoadData"));
  return static_cast<void *>(module);
}

StatusOr<void *> CUDADevice::loadModuleJIT(const char *ptx, int optLevel) {
  char log[4096] = {};
  int options[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_ERROR_LOG_BUFFER,
                   CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {
      reinterpret_cast<void *>(static_cast<intptr_t>(
          optLevel < 0 ? 0 : (optLevel > 4 ? 4 : optLevel))),
      log, reinterpret_cast<void *>(static_cast<uintptr_t>(sizeof(log) - 1))};
  CUmodule module = nullptr;
  Status s = d_.check(d_.cuModuleLoadDataEx(&module, ptx, 3, options, values),
                      "cuModuleLoadDataEx (PTX JIT)");
  if (!s)
    return log[0] ? Status::error(s.message() + ": " + log) : s;
  return static_cast<void *>(module);
}

StatusOr<void *> CUDADevice::lookupFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  QC_RETURN_IF_ERROR(d_.check(
      d_.cuModuleGetFunction(&function, static_cast<CUmodule>(module), name),
      "cuModuleGetFunction"));
  return static_cast<void *>(function);
}

Status CUDADevice::launch(void *function, const intptr_t grid[3],
                          const intptr_t block[3], int32_t sharedBytes,
                          void **params, void **extra) {
  constexpr intptr_t kMax = std::numeric_limits<unsigned>::max();
  for (int i = 0; i < 3; ++i)
    if (grid[i] <= 0 || grid[i] > kMax || block[i] <= 0 || block[i] > kMax)
      return Status::error(
          "invalid launch dimensions grid (" + std::to_string(grid[0]) + ", " +
          std::to_string(grid[1]) + ", " + std::to_string(grid[2]) +
          ") block (" + std::to_string(block[0]) + ", " +
          std::to_string(block[1]) + ", " + std::to_string(block[2]) + ")");
  constexpr int32_t kDefaultSharedBytes = 48 * 1024;
  auto cuFunction = static_cast<CUfunction>(function);
  if (sharedBytes > kDefaultSharedBytes) {
    int32_t &limit = sharedLimits_[cuFunction];
    if (limit < sharedBytes) {
      QC_RETURN_IF_ERROR(d_.check(
          d_.cuFuncSetAttribute(cuFunction,
                                CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                sharedBytes),
          ("cuFuncSetAttribute (a kernel asks for " +
           std::to_string(sharedBytes) + " bytes of dynamic shared memory on " +
           name_ + ")")
              .c_str()));
      limit = sharedBytes;
    }
  }
  return d_.check(d_.cuLaunchKernel(cuFunction, unsigned(grid[0]),
                                    unsigned(grid[1]), unsigned(grid[2]),
                                    unsigned(block[0]), unsigned(block[1]),
                                    unsigned(block[2]), unsigned(sharedBytes),
                                    stream(), params, extra),
                  "cuLaunchKernel");
}

Status CUDADevice::encodeTensorMap(void *map, const TensorMap2D &t) {
  if (!d_.cuTensorMapEncodeTiled)
    return Status::error("the CUDA driver has no cuTensorMapEncodeTiled (TMA "
                         "needs CUDA 12.0 or newer)");
  if (major_ < 9)
    return Status::error(name_ + " has no TMA (sm_90 or newer)");
  // Innermost dimension first; the row stride is the one stride given.
  const uint64_t dims[2] = {uint64_t(t.columns), uint64_t(t.rows)};
  const uint64_t strides[1] = {uint64_t(t.rowStrideBytes)};
  const unsigned box[2] = {unsigned(t.boxColumns), unsigned(t.boxRows)};
  const unsigned elementStrides[2] = {1, 1};
  // Out-of-bounds rows are filled with zeros (FLOAT_OOB_FILL_NONE).
  return d_.check(d_.cuTensorMapEncodeTiled(
                      map, CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, t.address, dims,
                      strides, box, elementStrides,
                      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                      CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                  "cuTensorMapEncodeTiled");
}

StatusOr<void *> CUDADevice::allocateAsync(size_t bytes) {
  CUdeviceptr pointer = 0;
  if (pools_)
    QC_RETURN_IF_ERROR(d_.check(d_.cuMemAllocAsync(&pointer, bytes, stream()),
                                "cuMemAllocAsync"));
  else
    QC_RETURN_IF_ERROR(
        d_.check(d_.cuMemAlloc_v2(&pointer, bytes), "cuMemAlloc"));
  return reinterpret_cast<void *>(pointer);
}

Status CUDADevice::releaseAsync(void *pointer) {
  if (pools_)
    return d_.check(d_.cuMemFreeAsync(devicePointer(pointer), stream()),
                    "cuMemFreeAsync");
  return d_.check(d_.cuMemFree_v2(devicePointer(pointer)), "cuMemFree");
}

StatusOr<void *> CUDADevice::allocateShared(size_t bytes) {
  CUdeviceptr pointer = 0;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuMemAllocManaged(&pointer, bytes, CU_MEM_ATTACH_GLOBAL),
               "cuMemAllocManaged"));
  return reinterpret_cast<void *>(pointer);
}

bool CUDADevice::supportsGraphs() const {
  if (!d_.hasGraphs())
    return false;
  const char *env = std::getenv("QC_CUDA_GRAPHS");
  return !env || std::strcmp(env, "0") != 0;
}

Status CUDADevice::beginCapture() {
  QC_RETURN_IF_ERROR(makeCurrent());
  return d_.check(
      d_.cuStreamBeginCapture_v2(stream(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
      "cuStreamBeginCapture");
}

StatusOr<GraphHandle> CUDADevice::endCapture() {
  QC_RETURN_IF_ERROR(makeCurrent());
  CUgraph graph = nullptr;
  QC_RETURN_IF_ERROR(
      d_.check(d_.cuStreamEndCapture(stream(), &graph), "cuStreamEndCapture"));
  // Memory the step allocates and does not free is freed before the next
  // launch (the step frees its temporaries itself).
  CUgraphExec exec = nullptr;
  Status s = d_.check(
      d_.cuGraphInstantiateWithFlags(
          &exec, graph, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH),
      "cuGraphInstantiateWithFlags");
  (void)d_.cuGraphDestroy(graph);
  QC_RETURN_IF_ERROR(s);
  return static_cast<GraphHandle>(exec);
}

Status CUDADevice::launchGraph(GraphHandle graph) {
  QC_RETURN_IF_ERROR(makeCurrent());
  return d_.check(d_.cuGraphLaunch(static_cast<CUgraphExec>(graph), stream()),
                  "cuGraphLaunch");
}

void CUDADevice::destroyGraph(GraphHandle graph) {
  if (graph && makeCurrent())
    (void)d_.cuGraphExecDestroy(static_cast<CUgraphExec>(graph));
}

} // namespace

StatusOr<std::unique_ptr<GPUDevice>>
qc::runtime::hal::openCUDADevice(int ordinal) {
  QC_ASSIGN_OR_RETURN(const Driver *driver, loadDriver());
  auto device = std::make_unique<CUDADevice>(*driver, ordinal);
  QC_RETURN_IF_ERROR(device->open());
  return std::unique_ptr<GPUDevice>(std::move(device));
}
