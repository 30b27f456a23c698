//===- HIPDevice.cpp - an AMD GPU through HIP -----------------------------===//
//
// The same shape as the CUDA device: the GPU made current on the calling
// thread (hipSetDevice) before every call, one non-blocking stream,
// long-lived buffers from hipMalloc, the kernels' temporaries from the
// default stream-ordered pool where HIP has one. Graph capture is opt-in
// (QC_HIP_GRAPHS=1) until it is measured on ROCm.
//
//===----------------------------------------------------------------------===//

#include "../Backends.h"
#include "HIPRuntime.h"

#include <cstdlib>
#include <cstring>
#include <limits>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::hal;
using namespace qc::runtime::hal::hip;

namespace {

class HIPDevice final : public GPUDevice {
public:
  HIPDevice(const Runtime &hip, int ordinal)
      : GPUDevice(DeviceKind::HIP, ordinal), h_(hip) {}
  ~HIPDevice() override;

  Status open();

  std::string name() const override { return name_; }
  StatusOr<void *> allocate(size_t bytes) override;
  void release(void *pointer) override;

  bool supportsGraphs() const override;
  Status beginCapture() override;
  StatusOr<GraphHandle> endCapture() override;
  Status launchGraph(GraphHandle graph) override;
  void destroyGraph(GraphHandle graph) override;

  /// The GPU's ISA is not checked here (HIP reports it only in the
  /// version-dependent hipDeviceProp_t); a package for another gfx fails
  /// when kernels.so loads its code object (hipErrorNoBinaryForGpu).
  Status checkChip(const std::string &) const override { return Status::ok(); }

protected:
  Status makeCurrent() override {
    return h_.check(h_.hipSetDevice(ordinal_), "hipSetDevice");
  }
  StatusOr<void *> allocatePinned(size_t bytes) override {
    void *pointer = nullptr;
    QC_RETURN_IF_ERROR(
        h_.check(h_.hostAlloc(&pointer, bytes, 0), "hipHostMalloc"));
    return pointer;
  }
  void releasePinned(void *pointer) override {
    if (makeCurrent())
      (void)h_.hostFree(pointer);
  }
  Status copyAsync(void *dst, const void *src, size_t bytes) override {
    return h_.check(
        h_.hipMemcpyAsync(dst, src, bytes, hipMemcpyDefault, stream()),
        "hipMemcpyAsync");
  }
  Status memsetAsync(void *dst, uint32_t value, size_t count,
                     unsigned width) override;
  Status streamSynchronize() override {
    return h_.check(h_.hipStreamSynchronize(stream()), "hipStreamSynchronize");
  }
  StatusOr<void *> loadModule(const void *data, size_t) override {
    hipModule_t module = nullptr;
    QC_RETURN_IF_ERROR(
        h_.check(h_.hipModuleLoadData(&module, data), "hipModuleLoadData"));
    return static_cast<void *>(module);
  }
  StatusOr<void *> loadModuleJIT(const char *, int) override {
    return Status::error("HIP packages carry code objects, not PTX");
  }
  Status unloadModule(void *module) override {
    return h_.check(h_.hipModuleUnload(static_cast<hipModule_t>(module)),
                    "hipModuleUnload");
  }
  StatusOr<void *> lookupFunction(void *module, const char *name) override {
    hipFunction_t function = nullptr;
    QC_RETURN_IF_ERROR(
        h_.check(h_.hipModuleGetFunction(
                     &function, static_cast<hipModule_t>(module), name),
                 "hipModuleGetFunction"));
    return static_cast<void *>(function);
  }
  Status launch(void *function, const intptr_t grid[3], const intptr_t block[3],
                int32_t sharedBytes, void **params, void **extra) override;
  StatusOr<void *> allocateAsync(size_t bytes) override;
  Status releaseAsync(void *pointer) override;
  StatusOr<void *> allocateShared(size_t bytes) override {
    void *pointer = nullptr;
    QC_RETURN_IF_ERROR(
        h_.check(h_.hipMallocManaged(&pointer, bytes, hipMemAttachGlobal),
                 "hipMallocManaged"));
    return pointer;
  }
  Status releaseShared(void *pointer) override {
    return h_.check(h_.hipFree(pointer), "hipFree");
  }

private:
  hipStream_t stream() const { return static_cast<hipStream_t>(stream_); }

  const Runtime &h_;
  bool pools_ = false;
  bool opened_ = false;
  std::string name_;
};

HIPDevice::~HIPDevice() {
  if (!opened_ || !makeCurrent())
    return;
  if (stream_)
    (void)h_.hipStreamSynchronize(stream());
  releaseStaging();
  if (stream_)
    (void)h_.hipStreamDestroy(stream());
}

Status HIPDevice::open() {
  int count = 0;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipGetDeviceCount(&count), "hipGetDeviceCount"));
  if (count == 0)
    return Status::error("no AMD GPU: HIP sees no device");
  if (ordinal_ >= count)
    return Status::error("no AMD GPU " + std::to_string(ordinal_) +
                         ": HIP sees " + std::to_string(count));
  opened_ = true;
  QC_RETURN_IF_ERROR(makeCurrent());
  hipDevice_t device = 0;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipDeviceGet(&device, ordinal_), "hipDeviceGet"));
  char deviceName[256] = {};
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipDeviceGetName(deviceName, sizeof(deviceName) - 1, device),
               "hipDeviceGetName"));
  size_t memory = 0;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipDeviceTotalMem(&memory, device), "hipDeviceTotalMem"));
  int version = 0;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipDriverGetVersion(&version), "hipDriverGetVersion"));
  hipStream_t stream = nullptr;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipStreamCreateWithFlags(&stream, hipStreamNonBlocking),
               "hipStreamCreateWithFlags"));
  stream_ = stream;

  if (h_.hasMemoryPools()) {
    hipMemPool_t pool = nullptr;
    if (h_.hipDeviceGetDefaultMemPool(&pool, ordinal_) == hipSuccess) {
      uint64_t threshold = std::numeric_limits<uint64_t>::max();
      QC_RETURN_IF_ERROR(
          h_.check(h_.hipMemPoolSetAttribute(
                       pool, hipMemPoolAttrReleaseThreshold, &threshold),
                   "hipMemPoolSetAttribute"));
      pools_ = true;
    }
  }

  name_ = "hip:" + std::to_string(ordinal_) + " " + deviceName + " (" +
          std::to_string(memory >> 20) + " MiB, HIP " +
          std::to_string(version) + ")";
  return Status::ok();
}

StatusOr<void *> HIPDevice::allocate(size_t bytes) {
  if (bytes == 0)
    return static_cast<void *>(nullptr);
  QC_RETURN_IF_ERROR(makeCurrent());
  void *pointer = nullptr;
  QC_RETURN_IF_ERROR(
      h_.check(h_.hipMalloc(&pointer, bytes),
               ("hipMalloc of " + std::to_string(bytes) + " bytes on " + name_)
                   .c_str()));
  return pointer;
}

void HIPDevice::release(void *pointer) {
  if (pointer && makeCurrent())
    (void)h_.hipFree(pointer);
}

Status HIPDevice::memsetAsync(void *dst, uint32_t value, size_t count,
                              unsigned width) {
  switch (width) {
  case 1:
    return h_.check(h_.hipMemsetAsync(dst, int(value & 0xff), count, stream()),
                    "hipMemsetAsync");
  case 2:
    return h_.check(h_.hipMemsetD16Async(dst,
                                         static_cast<unsigned short>(value),
                                         count, stream()),
                    "hipMemsetD16Async");
  default:
    return h_.check(
        h_.hipMemsetD32Async(dst, static_cast<int>(value), count, stream()),
        "hipMemsetD32Async");
  }
}

Status HIPDevice::launch(void *function, const intptr_t grid[3],
                         const intptr_t block[3], int32_t sharedBytes,
                         void **params, void **extra) {
  constexpr intptr_t kMax = std::numeric_limits<unsigned>::max();
  for (int i = 0; i < 3; ++i)
    if (grid[i] <= 0 || grid[i] > kMax || block[i] <= 0 || block[i] > kMax)
      return Status::error("invalid launch dimensions");
  return h_.check(h_.hipModuleLaunchKernel(
                      static_cast<hipFunction_t>(function), unsigned(grid[0]),
                      unsigned(grid[1]), unsigned(grid[2]), unsigned(block[0]),
                      unsigned(block[1]), unsigned(block[2]),
                      unsigned(sharedBytes), stream(), params, extra),
                  "hipModuleLaunchKernel");
}

StatusOr<void *> HIPDevice::allocateAsync(size_t bytes) {
  void *pointer = nullptr;
  if (pools_)
    QC_RETURN_IF_ERROR(h_.check(h_.hipMallocAsync(&pointer, bytes, stream()),
                                "hipMallocAsync"));
  else
    QC_RETURN_IF_ERROR(h_.check(h_.hipMalloc(&pointer, bytes), "hipMalloc"));
  return pointer;
}

Status HIPDevice::releaseAsync(void *pointer) {
  if (pools_)
    return h_.check(h_.hipFreeAsync(pointer, stream()), "hipFreeAsync");
  return h_.check(h_.hipFree(pointer), "hipFree");
}

bool HIPDevice::supportsGraphs() const {
  const char *env = std::getenv("QC_HIP_GRAPHS");
  return h_.hasGraphs() && env && std::strcmp(env, "1") == 0;
}

Status HIPDevice::beginCapture() {
  QC_RETURN_IF_ERROR(makeCurrent());
  return h_.check(
      h_.hipStreamBeginCapture(stream(), hipStreamCaptureModeThreadLocal),
      "hipStreamBeginCapture");
}

StatusOr<GraphHandle> HIPDevice::endCapture() {
  QC_RETURN_IF_ERROR(makeCurrent());
  hipGraph_t graph = nullptr;
  QC_RETURN_IF_ERROR(h_.check(h_.hipStreamEndCapture(stream(), &graph),
                              "hipStreamEndCapture"));
  hipGraphExec_t exec = nullptr;
  Status s =
      h_.check(h_.hipGraphInstantiateWithFlags(
                   &exec, graph, hipGraphInstantiateFlagAutoFreeOnLaunch),
               "hipGraphInstantiateWithFlags");
  (void)h_.hipGraphDestroy(graph);
  QC_RETURN_IF_ERROR(s);
  return static_cast<GraphHandle>(exec);
}

Status HIPDevice::launchGraph(GraphHandle graph) {
  QC_RETURN_IF_ERROR(makeCurrent());
  return h_.check(
      h_.hipGraphLaunch(static_cast<hipGraphExec_t>(graph), stream()),
      "hipGraphLaunch");
}

void HIPDevice::destroyGraph(GraphHandle graph) {
  if (graph && makeCurrent())
    (void)h_.hipGraphExecDestroy(static_cast<hipGraphExec_t>(graph));
}

} // namespace

StatusOr<std::unique_ptr<GPUDevice>>
qc::runtime::hal::openHIPDevice(int ordinal) {
  QC_ASSIGN_OR_RETURN(const Runtime *hip, loadRuntime());
  auto device = std::make_unique<HIPDevice>(*hip, ordinal);
  QC_RETURN_IF_ERROR(device->open());
  return std::unique_ptr<GPUDevice>(std::move(device));
}
