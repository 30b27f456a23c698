//===- FakeGPUKernels.cpp - a GPU kernels.so for the fake driver ----------===//
//
// Host code shaped like MLIR's gpu-to-llvm output: a constructor loads the
// "GPU image" with mgpuModuleLoad, a destructor unloads it, and each packed
// entry creates a stream, allocates a temporary, looks its kernels up before
// every launch, launches them, frees, synchronizes and destroys the stream.
//
// The model (the test computes the same on the host): each token writes
// token + 1 into the first key lane and 1 into the second value lane of its
// cache slot; then for token t of a sequence,
//   history[t] = sum over positions p <= position[t] of the sequence of
//                key[p] + 1000 * value[p],
//   logits[t][v] = history[t] + v * w[v % 4].
// argmax is the row's first maximum; "sampling" picks int(uniform * vocab).
//
//===----------------------------------------------------------------------===//

#include "FakeGPU.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace fakegpu;

extern "C" {
void *mgpuModuleLoad(void *data, size_t size);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream);
void *mgpuEventCreate();
void mgpuEventDestroy(void *event);
void mgpuEventRecord(void *event, void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
}

namespace {

constexpr int64_t kBlockSize = 4;

template <typename T> T *ptr(uint64_t v) { return reinterpret_cast<T *>(v); }

/// tokens, positions, slots, sequences, tables, blocksPerSequence, keys,
/// values, width, history (i64), tokens count.
void attend(const uint64_t *p, uint64_t) {
  auto *tokens = ptr<int32_t>(p[0]);
  auto *positions = ptr<int32_t>(p[1]);
  auto *slots = ptr<int32_t>(p[2]);
  auto *sequences = ptr<int32_t>(p[3]);
  auto *tables = ptr<int32_t>(p[4]);
  int64_t blocks = int64_t(p[5]);
  auto *keys = ptr<uint16_t>(p[6]);
  auto *values = ptr<uint16_t>(p[7]);
  int64_t width = int64_t(p[8]);
  auto *history = ptr<int64_t>(p[9]);
  int64_t n = int64_t(p[10]);
  for (int64_t t = 0; t < n; ++t) {
    keys[slots[t] * width] = uint16_t(tokens[t] + 1);
    values[slots[t] * width + 1] = 1;
  }
  for (int64_t t = 0; t < n; ++t) {
    int64_t sum = 0;
    for (int64_t q = 0; q <= positions[t]; ++q) {
      int64_t slot =
          tables[sequences[t] * blocks + q / kBlockSize] * kBlockSize +
          q % kBlockSize;
      sum += keys[slot * width] + 1000 * values[slot * width + 1];
    }
    history[t] += sum; // the host code zeroed it
  }
}

/// history, w, logits, tokens, vocab.
void project(const uint64_t *p, uint64_t) {
  auto *history = ptr<int64_t>(p[0]);
  auto *w = ptr<float>(p[1]);
  auto *logits = ptr<float>(p[2]);
  int64_t n = int64_t(p[3]), vocab = int64_t(p[4]);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t v = 0; v < vocab; ++v)
      logits[t * vocab + v] = float(history[t]) + float(v) * w[v % 4];
}

/// logits, out, rows, vocab.
void argmax(const uint64_t *p, uint64_t) {
  auto *logits = ptr<float>(p[0]);
  auto *out = ptr<int32_t>(p[1]);
  int64_t rows = int64_t(p[2]), vocab = int64_t(p[3]);
  for (int64_t r = 0; r < rows; ++r) {
    int32_t best = 0;
    for (int32_t v = 1; v < vocab; ++v)
      if (logits[r * vocab + v] > logits[r * vocab + best])
        best = v;
    out[r] = best;
  }
}

/// uniform, out, rows, vocab.
void sample(const uint64_t *p, uint64_t) {
  auto *uniform = ptr<float>(p[0]);
  auto *out = ptr<int32_t>(p[1]);
  int64_t rows = int64_t(p[2]), vocab = int64_t(p[3]);
  for (int64_t r = 0; r < rows; ++r)
    out[r] = int32_t(uniform[r] * float(vocab));
}

const Kernel kernels[] = {{"attend", attend, 11},
                          {"project", project, 5},
                          {"argmax", argmax, 4},
                          {"sample", sample, 4}};
const Image image = {kMagic, 4, kernels};
void *module = nullptr;

const Image badImage = {0, 0, nullptr};

bool env(const char *name) { return std::getenv(name) != nullptr; }

// FAKE_KERNELS_BAD_IMAGE: code the driver cannot load.
__attribute__((constructor)) void load() {
  const Image *which = env("FAKE_KERNELS_BAD_IMAGE") ? &badImage : &image;
  module = mgpuModuleLoad(const_cast<Image *>(which), sizeof(image));
}
__attribute__((destructor)) void unload() { mgpuModuleUnload(module); }

/// A memref descriptor's aligned pointer and size `i`.
uint64_t data(void *descriptor) {
  return uint64_t(static_cast<int64_t *>(descriptor)[1]);
}
int64_t size(void *descriptor, int i) {
  return static_cast<int64_t *>(descriptor)[3 + i];
}

void launch(const char *name, void *stream, uint64_t *values, size_t count,
            int32_t sharedBytes = 0) {
  void *params[16];
  for (size_t i = 0; i < count; ++i)
    params[i] = &values[i];
  // Looked up before every launch, as gpu-to-llvm does.
  mgpuLaunchKernel(mgpuModuleGetFunction(module, name), 1, 1, 1, 1, 1, 1,
                   sharedBytes, stream, params, nullptr, count);
}

} // namespace

// What a compiled library records of its entry points (ForwardABI.h), for
// TestPackage.h's manifest.
extern "C" const char qc_kernel_signature[] =
    "entry qc_forward_packed\nargmax qc_argmax_packed\nsample "
    "qc_sample_packed\narg tokens I32 -1\narg positions I32 -1\narg "
    "slot_mapping I32 -1\narg token_sequence I32 -1\narg block_tables I32 -1 "
    "-1\narg k_cache F16 1 -1 2\narg v_cache F16 1 -1 2\narg logits F32 -1 "
    "8\narg w F32 4\n";

extern "C" void qc_forward_packed(void **args) {
  void *stream = mgpuStreamCreate();
  int64_t n = size(args[0], 0);
  int64_t vocab = size(args[7], 1);
  // FAKE_KERNELS_HOST_SHARED: a temporary that cannot be captured.
  auto *history =
      mgpuMemAlloc(uint64_t(n) * 8, stream, env("FAKE_KERNELS_HOST_SHARED"));
  mgpuMemset32(history, 0, size_t(n) * 2, stream);
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(stream, event);
  uint64_t a[] = {data(args[0]),
                  data(args[1]),
                  data(args[2]),
                  data(args[3]),
                  data(args[4]),
                  uint64_t(size(args[4], 1)),
                  data(args[5]),
                  data(args[6]),
                  uint64_t(size(args[5], 2)),
                  reinterpret_cast<uint64_t>(history),
                  uint64_t(n)};
  // More dynamic shared memory than a kernel gets without opting in, as
  // the wgmma kernels ask for.
  launch("attend", stream, a, 11, 96 * 1024);
  uint64_t b[] = {reinterpret_cast<uint64_t>(history), data(args[8]),
                  data(args[7]), uint64_t(n), uint64_t(vocab)};
  launch("project", stream, b, 5);
  // FAKE_KERNELS_MISSING: a kernel the module does not have.
  if (env("FAKE_KERNELS_MISSING"))
    launch("missing", stream, b, 5);
  mgpuEventDestroy(event);
  mgpuMemFree(history, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}

extern "C" void qc_argmax_packed(void **args) {
  void *stream = mgpuStreamCreate();
  uint64_t a[] = {data(args[0]), data(args[1]), uint64_t(size(args[0], 0)),
                  uint64_t(size(args[0], 1))};
  launch("argmax", stream, a, 4);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}

extern "C" void qc_sample_packed(void **args) {
  void *stream = mgpuStreamCreate();
  uint64_t a[] = {data(args[6]), data(args[7]), uint64_t(size(args[0], 0)),
                  uint64_t(size(args[0], 1))};
  launch("sample", stream, a, 4);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}
