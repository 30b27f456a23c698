//===- FakeCUDADriver.cpp - a CUDA driver on host memory, for tests -------===//
//
// Implements the driver functions the runtime resolves. Stream work is
// queued and runs at cuStreamSynchronize (or an implicitly synchronizing
// call); captured work goes into a graph instead. Environment:
// FAKE_CUDA_INIT_ERROR=N makes cuInit fail with N; FAKE_CUDA_CC=NN sets the
// compute capability (default 90).
//
//===----------------------------------------------------------------------===//

#include "FakeGPU.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

using namespace fakegpu;

namespace {

using CUresult = int;
using Op = std::function<void()>;
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kNoDevice = 100,
                   kNotFound = 500, kCaptureUnsupported = 900,
                   kCaptureInvalidated = 901;

struct Graph {
  std::vector<Op> ops;
  std::vector<void *> owned;
};

Stats stats;
int computeCapability = 90;
int context = 1, stream = 2, pool = 3;
bool contextCurrent = false;
std::vector<Op> queue;
bool capturing = false, invalidated = false;
Graph *capture = nullptr;
/// Device (and managed) memory and pinned host memory: start -> size.
std::map<uintptr_t, size_t> deviceMemory, pinnedMemory;
/// Dynamic shared memory each kernel was opted in to.
std::map<void *, int> sharedLimits;

bool inside(const std::map<uintptr_t, size_t> &m, const void *p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  auto it = m.upper_bound(a);
  if (it == m.begin())
    return false;
  --it;
  return a < it->first + it->second;
}
bool known(const void *p) {
  return inside(deviceMemory, p) || inside(pinnedMemory, p);
}

void *allocate(std::map<uintptr_t, size_t> &m, size_t bytes) {
  void *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  m[reinterpret_cast<uintptr_t>(p)] = bytes;
  return p;
}
void release(std::map<uintptr_t, size_t> &m, void *p) {
  m.erase(reinterpret_cast<uintptr_t>(p));
  std::free(p);
}

void drain() {
  std::vector<Op> ops;
  ops.swap(queue);
  for (Op &op : ops)
    op();
}

CUresult enqueue(Op op) {
  if (!contextCurrent)
    ++stats.contextErrors;
  if (capturing)
    capture->ops.push_back(std::move(op));
  else
    queue.push_back(std::move(op));
  return kSuccess;
}

/// A call that is not allowed while the stream captures (thread-local
/// mode): it fails and invalidates the capture.
bool refusedInCapture() {
  if (capturing)
    invalidated = true;
  return capturing;
}

} // namespace

extern "C" {

Stats *fakeCudaStats() { return &stats; }

CUresult cuGetErrorName(CUresult r, const char **name) {
  switch (r) {
  case kNoDevice:
    *name = "CUDA_ERROR_NO_DEVICE";
    break;
  case kCaptureUnsupported:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    break;
  case kCaptureInvalidated:
    *name = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    break;
  case kNotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    break;
  default:
    *name = "CUDA_ERROR_FAKE";
  }
  return kSuccess;
}
CUresult cuGetErrorString(CUresult r, const char **text) {
  *text = r == kNoDevice ? "no CUDA-capable device is detected"
                         : "a fake driver error";
  return kSuccess;
}
CUresult cuInit(unsigned) {
  if (const char *e = std::getenv("FAKE_CUDA_INIT_ERROR"))
    return std::atoi(e);
  if (const char *e = std::getenv("FAKE_CUDA_CC"))
    computeCapability = std::atoi(e);
  ++stats.inits;
  return kSuccess;
}
CUresult cuDriverGetVersion(int *v) {
  *v = 12040;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *d = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int len, int) {
  std::strncpy(name, "Fake GPU", len);
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *v, int attribute, int) {
  if (attribute == 75)
    *v = computeCapability / 10;
  else if (attribute == 76)
    *v = computeCapability % 10;
  else
    return kInvalidValue;
  return kSuccess;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(80) << 30;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  *ctx = &context;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *ctx) {
  contextCurrent = ctx == &context;
  return kSuccess;
}
CUresult cuStreamCreate(void **s, unsigned flags) {
  if (flags != 1)
    return kInvalidValue;
  *s = &stream;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *) { return kSuccess; }
CUresult cuStreamSynchronize(void *s) {
  if (s != &stream)
    return kInvalidValue;
  if (refusedInCapture())
    return kCaptureUnsupported;
  ++stats.syncs;
  drain();
  return kSuccess;
}

CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  if (refusedInCapture())
    return kCaptureUnsupported;
  *p = reinterpret_cast<uint64_t>(allocate(deviceMemory, bytes));
  return kSuccess;
}
CUresult cuMemFree_v2(uint64_t p) {
  if (refusedInCapture())
    return kCaptureUnsupported;
  drain(); // cuMemFree synchronizes
  release(deviceMemory, reinterpret_cast<void *>(p));
  return kSuccess;
}
CUresult cuMemAllocManaged(uint64_t *p, size_t bytes, unsigned) {
  return cuMemAlloc_v2(p, bytes);
}
CUresult cuMemHostAlloc(void **p, size_t bytes, unsigned) {
  if (refusedInCapture())
    return kCaptureUnsupported;
  *p = allocate(pinnedMemory, bytes);
  return kSuccess;
}
CUresult cuMemFreeHost(void *p) {
  drain();
  release(pinnedMemory, p);
  return kSuccess;
}
CUresult cuMemcpyAsync(uint64_t dst, uint64_t src, size_t bytes, void *s) {
  if (s != &stream)
    return kInvalidValue;
  auto *d = reinterpret_cast<void *>(dst);
  auto *from = reinterpret_cast<const void *>(src);
  if (!known(d) || !known(from))
    ++stats.pageableCopies;
  return enqueue([=] { std::memcpy(d, from, bytes); });
}
CUresult cuMemsetD8Async(uint64_t dst, unsigned char v, size_t n, void *) {
  auto *d = reinterpret_cast<uint8_t *>(dst);
  return enqueue([=] { std::memset(d, v, n); });
}
CUresult cuMemsetD16Async(uint64_t dst, unsigned short v, size_t n, void *) {
  auto *d = reinterpret_cast<uint16_t *>(dst);
  return enqueue([=] { std::fill(d, d + n, v); });
}
CUresult cuMemsetD32Async(uint64_t dst, unsigned v, size_t n, void *) {
  auto *d = reinterpret_cast<uint32_t *>(dst);
  return enqueue([=] { std::fill(d, d + n, v); });
}

CUresult cuModuleLoadData(void **module, const void *image) {
  auto *i = static_cast<const Image *>(image);
  if (!i || i->magic != kMagic)
    return 209; // CUDA_ERROR_NO_BINARY_FOR_GPU
  ++stats.moduleLoads;
  *module = const_cast<Image *>(i);
  return kSuccess;
}
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned, int *,
                            void **) {
  return cuModuleLoadData(module, image);
}
CUresult cuModuleUnload(void *) {
  ++stats.moduleUnloads;
  return kSuccess;
}
CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  ++stats.functionLookups;
  auto *image = static_cast<const Image *>(module);
  for (int i = 0; i < image->numKernels; ++i)
    if (std::strcmp(image->kernels[i].name, name) == 0) {
      *function = const_cast<Kernel *>(&image->kernels[i]);
      return kSuccess;
    }
  return kNotFound;
}
CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  if (attribute != 8 || value > 227 * 1024)
    return kInvalidValue;
  sharedLimits[function] = value;
  ++stats.sharedOptIns;
  return kSuccess;
}
CUresult cuLaunchKernel(void *function, unsigned gx, unsigned, unsigned,
                        unsigned, unsigned, unsigned, unsigned sharedBytes,
                        void *s, void **params, void **) {
  if (s != &stream)
    return kInvalidValue;
  // Past 48 KiB a kernel must have been opted in (the real driver's rule).
  if (sharedBytes > 48 * 1024 && sharedLimits[function] < int(sharedBytes))
    return kInvalidValue;
  auto *kernel = static_cast<const Kernel *>(function);
  std::vector<uint64_t> values(kernel->numParams);
  for (int i = 0; i < kernel->numParams; ++i)
    std::memcpy(&values[i], params[i], sizeof(uint64_t));
  ++stats.launches;
  return enqueue([=] { kernel->fn(values.data(), gx); });
}

CUresult cuDeviceGetDefaultMemPool(void **p, int) {
  *p = &pool;
  return kSuccess;
}
CUresult cuMemPoolSetAttribute(void *, int attribute, void *value) {
  if (attribute == 4)
    std::memcpy(&stats.releaseThreshold, value, sizeof(uint64_t));
  return kSuccess;
}
CUresult cuMemAllocAsync(uint64_t *p, size_t bytes, void *) {
  void *memory = allocate(deviceMemory, bytes);
  if (capturing)
    capture->owned.push_back(memory);
  *p = reinterpret_cast<uint64_t>(memory);
  return kSuccess;
}
CUresult cuMemFreeAsync(uint64_t p, void *) {
  // Graph allocations live as long as the graph.
  if (capturing)
    return kSuccess;
  return enqueue([=] { release(deviceMemory, reinterpret_cast<void *>(p)); });
}

CUresult cuStreamBeginCapture_v2(void *s, int mode) {
  if (s != &stream || capturing || mode != 1)
    return kInvalidValue;
  capturing = true;
  invalidated = false;
  capture = new Graph;
  return kSuccess;
}
CUresult cuStreamEndCapture(void *s, void **graph) {
  if (s != &stream || !capturing)
    return kInvalidValue;
  capturing = false;
  if (invalidated) {
    delete capture;
    capture = nullptr;
    *graph = nullptr;
    return kCaptureInvalidated;
  }
  ++stats.captures;
  *graph = capture;
  capture = nullptr;
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                     unsigned long long) {
  auto *g = static_cast<Graph *>(graph);
  *exec = new Graph{g->ops, std::move(g->owned)};
  g->owned.clear();
  return kSuccess;
}
CUresult cuGraphLaunch(void *exec, void *s) {
  if (s != &stream)
    return kInvalidValue;
  ++stats.graphLaunches;
  for (const Op &op : static_cast<Graph *>(exec)->ops)
    (void)enqueue(op);
  return kSuccess;
}
CUresult cuGraphExecDestroy(void *exec) {
  auto *g = static_cast<Graph *>(exec);
  for (void *p : g->owned)
    release(deviceMemory, p);
  delete g;
  return kSuccess;
}
CUresult cuGraphDestroy(void *graph) {
  delete static_cast<Graph *>(graph);
  return kSuccess;
}

// The real driver's rules for a rank-2 tiled map (cuda.h): 16-byte-aligned
// global address and strides, dimensions and boxes in range, a box row
// within the swizzle span; a pure host function (no context needed).
CUresult cuTensorMapEncodeTiled(void *map, int dataType, unsigned rank,
                                void *address, const uint64_t *dims,
                                const uint64_t *strides, const unsigned *box,
                                const unsigned *elementStrides, int interleave,
                                int swizzle, int l2Promotion, int oobFill) {
  static_assert(sizeof(TensorMap) <= 128);
  constexpr unsigned kSwizzleBytes[] = {0, 32, 64, 128};
  constexpr unsigned kElementBytes = 2; // the one data type used: f16
  if (rank != 2 || dataType != 6 || interleave != 0 || swizzle < 0 ||
      swizzle > 3 || reinterpret_cast<uintptr_t>(address) % 16 ||
      !inside(deviceMemory, address))
    return kInvalidValue;
  for (int i = 0; i < 2; ++i)
    if (dims[i] == 0 || dims[i] > (uint64_t(1) << 32) || box[i] == 0 ||
        box[i] > 256 || elementStrides[i] != 1)
      return kInvalidValue;
  if (strides[0] % 16 || strides[0] < dims[0] * kElementBytes ||
      (swizzle && box[0] * kElementBytes > kSwizzleBytes[swizzle]))
    return kInvalidValue;
  TensorMap m{kTensorMapMagic, address,          {dims[0], dims[1]},
              strides[0],      {box[0], box[1]}, dataType,
              swizzle,         l2Promotion,      oobFill};
  std::memset(map, 0, 128);
  std::memcpy(map, &m, sizeof m);
  return kSuccess;
}

} // extern "C"
