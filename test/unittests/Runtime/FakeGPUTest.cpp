//===- FakeGPUTest.cpp - the runtime's GPU path on a fake CUDA driver -----===//
//
// Package::load, ForwardRunner, the mgpu* ABI, staging, graphs and sticky
// errors, run against FakeGPU/FakeCUDADriver.cpp (host memory; stream work
// runs only at synchronization) with FakeGPU/FakeGPUKernels.cpp as
// kernels.so. The driver is process-wide state, so this is its own binary.
//
//===----------------------------------------------------------------------===//

#include "FakeGPU/FakeGPU.h"
#include "TestPackage.h"

#include <algorithm>
#include <cstring>
#include <dlfcn.h>
#include <limits>
#include <map>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::test;

// The runtime's mgpu ABI (GPUABI.cpp), as kernels.so calls it.
extern "C" void *mgpuModuleLoad(void *data, size_t size);
extern "C" void mgpuModuleUnload(void *module);
extern "C" void *mgpuModuleGetFunction(void *module, const char *name);
extern "C" void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ, int32_t smem,
                                 void *stream, void **params, void **extra,
                                 size_t paramsCount);
extern "C" void mgpuTensorMapEncodeF16Swizzle128B(void *map, int64_t address,
                                                  int64_t rows, int64_t columns,
                                                  int64_t rowStrideBytes,
                                                  int64_t boxRows,
                                                  int64_t boxColumns);

namespace {

/// The fake driver's counters (the runtime opens the same library).
fakegpu::Stats &stats() {
  static fakegpu::Stats *s = [] {
    void *library = dlopen(QC_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(library, nullptr) << dlerror();
    auto get = reinterpret_cast<fakegpu::Stats *(*)()>(
        dlsym(library, "fakeCudaStats"));
    return get();
  }();
  return *s;
}

class FakeGPUTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ::setenv("QC_CUDA_DRIVER", QC_FAKE_CUDA_DRIVER, 1);
    ::unsetenv("QC_CUDA_GRAPHS");
    ::unsetenv("QC_DEVICE");
    (void)stats();
  }
};

/// The fake model of FakeGPUKernels.cpp on the host: the tokens of each
/// sequence by position.
class Model {
public:
  static constexpr int64_t kVocab = 8;

  /// The logits of a step of (sequence, token) pairs, each at the next
  /// position of its sequence; fills `batch` with the blocks of
  /// `tables` ([sequences][blocks]).
  std::vector<float> step(const std::vector<std::pair<int, int>> &tokens,
                          const std::vector<std::vector<int32_t>> &tables,
                          ForwardBatch &batch) {
    batch = ForwardBatch();
    batch.numSequences = int64_t(tables.size());
    batch.blocksPerSequence = int64_t(tables[0].size());
    for (const auto &row : tables)
      batch.blockTables.insert(batch.blockTables.end(), row.begin(), row.end());
    std::vector<float> logits;
    const float w[4] = {0.5f, 0.25f, -1.0f, 2.0f};
    for (auto [sequence, token] : tokens) {
      std::vector<int> &history = sequences_[sequence];
      int32_t position = int32_t(history.size());
      history.push_back(token);
      batch.tokens.push_back(token);
      batch.positions.push_back(position);
      batch.slotMapping.push_back(tables[sequence][position / 4] * 4 +
                                  position % 4);
      batch.tokenSequence.push_back(sequence);
    }
    // Every token of the step is in the cache before any is read.
    for (size_t t = 0; t < tokens.size(); ++t) {
      const std::vector<int> &history = sequences_[tokens[t].first];
      int64_t sum = 0;
      for (int32_t q = 0; q <= batch.positions[t]; ++q)
        sum += history[q] + 1 + 1000;
      for (int64_t v = 0; v < kVocab; ++v)
        logits.push_back(float(sum) + float(v) * w[v % 4]);
    }
    return logits;
  }

private:
  std::map<int, std::vector<int>> sequences_;
};

std::unique_ptr<Package> load(const PackageDir &dir) {
  StatusOr<std::unique_ptr<Package>> package = Package::load(dir.str());
  EXPECT_TRUE(package) << package.status().message();
  return package ? std::move(package).value() : nullptr;
}

TEST_F(FakeGPUTest, InitFailureIsAClearError) {
  if (stats().inits > 0)
    GTEST_SKIP() << "the fake driver is initialized in this process already "
                    "(ctest runs each test alone)";
  ScopedEnv fail("FAKE_CUDA_INIT_ERROR", "100");
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  EXPECT_EQ(loadError(dir.str()),
            dir.str() + "/manifest.json: target 'cuda:sm_90a': cuInit failed: "
                        "CUDA_ERROR_NO_DEVICE 100 (no CUDA-capable device is "
                        "detected)");
}

TEST_F(FakeGPUTest, RefusesPackagesForNewerChips) {
  PackageDir dir("cuda:sm_100a", QC_FAKE_GPU_KERNELS);
  EXPECT_EQ(loadError(dir.str()),
            dir.str() + "/manifest.json: target 'cuda:sm_100a': the package "
                        "is compiled for sm_100a but cuda:0 Fake GPU (sm_90, "
                        "81920 MiB, driver 12.4) is sm_90; recompile it for "
                        "sm_90");
  PackageDir older("cuda:sm_80", QC_FAKE_GPU_KERNELS);
  EXPECT_EQ(loadError(older.str()), "");
}

TEST_F(FakeGPUTest, ModuleLoadFailuresAreReportedByLoad) {
  ScopedEnv bad("FAKE_KERNELS_BAD_IMAGE", "1");
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  EXPECT_EQ(loadError(dir.str()),
            dir.str() + "/kernels.so: cannot load the GPU code: "
                        "mgpuModuleLoad: cuModuleLoadData: CUDA_ERROR_FAKE "
                        "209 (a fake driver error)");
}

/// Runs prefills and decodes of two sequences and checks every logit.
void runSteps(ForwardRunner &runner, Model &model) {
  std::vector<std::vector<int32_t>> tables = {{0, 1}, {2, 3}};
  ForwardBatch batch;
  std::vector<float> logits;
  std::vector<float> expected =
      model.step({{0, 3}, {0, 5}, {0, 7}, {1, 1}, {1, 4}}, tables, batch);
  ASSERT_TRUE(runner.forward(batch, logits));
  EXPECT_EQ(logits, expected);
  for (int step = 0; step < 5; ++step) {
    expected = model.step({{0, (2 * step) % 8}, {1, (2 * step + 1) % 8}},
                          tables, batch);
    Status s = runner.forward(batch, logits);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(logits, expected) << "decode step " << step;
  }
}

TEST_F(FakeGPUTest, RunsStepsOnTheDeviceWithGraphs) {
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  EXPECT_EQ(package->deviceKind(), DeviceKind::CUDA);
  EXPECT_EQ(package->device().name(),
            "cuda:0 Fake GPU (sm_90, 81920 MiB, driver 12.4)");
  EXPECT_EQ(stats().releaseThreshold, std::numeric_limits<uint64_t>::max());
  fakegpu::Stats before = stats();

  StatusOr<std::unique_ptr<ForwardRunner>> runner =
      ForwardRunner::create(*package, 8);
  ASSERT_TRUE(runner) << runner.status().message();
  Model model;
  runSteps(**runner, model);

  // The prefill shape and the decode shape were captured once each; the
  // other decodes replayed.
  const GraphStats &graphs = (*runner)->graphStats();
  EXPECT_EQ(graphs.captured, 2);
  EXPECT_EQ(graphs.replayed, 4);
  EXPECT_EQ(graphs.disabledReason, "");
  EXPECT_EQ(stats().captures - before.captures, 2);
  EXPECT_EQ(stats().graphLaunches - before.graphLaunches, 6);
  // Two kernels, each looked up once whatever the number of launches; the
  // one with 96 KiB of dynamic shared memory opted in once.
  EXPECT_EQ(stats().functionLookups - before.functionLookups, 2);
  EXPECT_EQ(stats().sharedOptIns - before.sharedOptIns, 1);
  // Host transfers go through pinned staging; every call had the context.
  EXPECT_EQ(stats().pageableCopies, 0);
  EXPECT_EQ(stats().contextErrors, 0);

  std::vector<float> rows = {0, 1, 9, 2, 0, 0, 0, 0, //
                             5, 5, 5, 5, 5, 5, 5, 6};
  StatusOr<std::vector<int32_t>> greedy = (*runner)->argmax(rows);
  ASSERT_TRUE(greedy) << greedy.status().message();
  EXPECT_EQ(*greedy, (std::vector<int32_t>{2, 7}));

  SamplerInputs in;
  in.temperature = {1.0f, 0.5f};
  in.topK = {0, 3};
  in.topP = {1.0f, 0.9f};
  in.repetitionPenalty = {1.0f, 1.2f};
  in.historyWidth = 2;
  in.history = {1, -1, 3, 4};
  in.uniform = {0.1f, 0.9f};
  StatusOr<std::vector<int32_t>> sampled = (*runner)->sample(rows, in);
  ASSERT_TRUE(sampled) << sampled.status().message();
  EXPECT_EQ(*sampled, (std::vector<int32_t>{0, 7}));
  EXPECT_EQ(stats().pageableCopies, 0);
}

TEST_F(FakeGPUTest, GraphsOffGiveTheSameLogits) {
  ScopedEnv off("QC_CUDA_GRAPHS", "0");
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  fakegpu::Stats before = stats();
  StatusOr<std::unique_ptr<ForwardRunner>> runner =
      ForwardRunner::create(*package, 8);
  ASSERT_TRUE(runner) << runner.status().message();
  Model model;
  runSteps(**runner, model);
  EXPECT_EQ((*runner)->graphStats().captured, 0);
  EXPECT_EQ((*runner)->graphStats().replayed, 0);
  EXPECT_NE((*runner)->graphStats().disabledReason, "");
  EXPECT_EQ(stats().captures, before.captures);
  EXPECT_EQ(stats().graphLaunches, before.graphLaunches);
}

TEST_F(FakeGPUTest, LargerStepsReallocateAndRecapture) {
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  StatusOr<std::unique_ptr<ForwardRunner>> runner =
      ForwardRunner::create(*package, 32);
  ASSERT_TRUE(runner) << runner.status().message();
  std::vector<std::vector<int32_t>> tables(2);
  for (int32_t b = 0; b < 16; ++b) {
    tables[0].push_back(b);
    tables[1].push_back(31 - b);
  }
  Model model;
  ForwardBatch batch;
  std::vector<float> logits;
  auto run = [&](const std::vector<std::pair<int, int>> &tokens) {
    std::vector<float> expected = model.step(tokens, tables, batch);
    Status s = (*runner)->forward(batch, logits);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(logits, expected);
  };
  std::vector<std::pair<int, int>> prompt;
  for (int i = 0; i < 10; ++i)
    prompt.push_back({0, i % 8});
  run(prompt);
  run({{0, 1}});
  run({{0, 2}});
  // 60 + 5 tokens: past the first capacity of 64.
  prompt.clear();
  for (int i = 0; i < 60; ++i)
    prompt.push_back({1, (i * 3) % 8});
  for (int i = 0; i < 5; ++i)
    prompt.push_back({0, 5 - i});
  run(prompt);
  run({{0, 6}, {1, 7}});
  run({{0, 0}, {1, 1}});
  run({{0, 2}, {1, 3}});
  const GraphStats &graphs = (*runner)->graphStats();
  // 10 tokens, 1 token, 65 tokens, then 2 tokens: captured each.
  EXPECT_EQ(graphs.captured, 4);
  EXPECT_EQ(graphs.replayed, 3);
}

TEST_F(FakeGPUTest, StepsThatCannotBeCapturedRunDirectly) {
  ScopedEnv shared("FAKE_KERNELS_HOST_SHARED", "1");
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  StatusOr<std::unique_ptr<ForwardRunner>> runner =
      ForwardRunner::create(*package, 8);
  ASSERT_TRUE(runner) << runner.status().message();
  Model model;
  runSteps(**runner, model);
  const GraphStats &graphs = (*runner)->graphStats();
  EXPECT_EQ(graphs.captured, 0);
  EXPECT_EQ(graphs.disabledReason,
            "a step could not be captured: mgpuMemAlloc of 40 bytes: "
            "cuMemAllocManaged: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED 900 (a "
            "fake driver error)");
}

TEST_F(FakeGPUTest, KernelErrorsFailTheStep) {
  ScopedEnv missing("FAKE_KERNELS_MISSING", "1");
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  StatusOr<std::unique_ptr<ForwardRunner>> runner =
      ForwardRunner::create(*package, 8);
  ASSERT_TRUE(runner) << runner.status().message();
  Model model;
  ForwardBatch batch;
  std::vector<float> logits;
  (void)model.step({{0, 3}}, {{0, 1}}, batch);
  Status s = (*runner)->forward(batch, logits);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.message(),
            "forward on cuda:0 Fake GPU (sm_90, 81920 MiB, driver 12.4): "
            "mgpuModuleGetFunction 'missing': cuModuleGetFunction: "
            "CUDA_ERROR_NOT_FOUND 500 (a fake driver error)");
  // Reported once, not left behind for the next step.
  EXPECT_TRUE(package->device().takeError());
}

TEST_F(FakeGPUTest, TensorMapsAreEncodedByTheDriverAndCheckedFirst) {
  PackageDir dir("cuda:sm_90a", QC_FAKE_GPU_KERNELS);
  std::unique_ptr<Package> package = load(dir);
  ASSERT_TRUE(package);
  Device &device = package->device();
  StatusOr<void *> rows = device.allocate(100 * 512 * 2);
  ASSERT_TRUE(rows) << rows.status().message();
  auto address = reinterpret_cast<int64_t>(*rows);
  alignas(64) uint8_t map[128];

  // A 100 x 256 f16 matrix with rows 1024 bytes apart, boxes of 64 x 64:
  // the driver gets the dimensions innermost first, the one row stride, an
  // f16 128-byte-swizzled map with zero fill.
  mgpuTensorMapEncodeF16Swizzle128B(map, address, 100, 256, 1024, 64, 64);
  ASSERT_TRUE(device.takeError());
  fakegpu::TensorMap encoded;
  std::memcpy(&encoded, map, sizeof encoded);
  EXPECT_EQ(encoded.magic, fakegpu::kTensorMapMagic);
  EXPECT_EQ(encoded.address, *rows);
  EXPECT_EQ(encoded.dims[0], 256u);
  EXPECT_EQ(encoded.dims[1], 100u);
  EXPECT_EQ(encoded.stride, 1024u);
  EXPECT_EQ(encoded.box[0], 64u);
  EXPECT_EQ(encoded.box[1], 64u);
  EXPECT_EQ(encoded.dataType, 6);
  EXPECT_EQ(encoded.swizzle, 3);
  EXPECT_EQ(encoded.oobFill, 0);

  // What TMA cannot take is refused before the driver sees it, naming the
  // field, and the map is left zero.
  auto refusal = [&](int64_t at, int64_t stride, int64_t boxRows,
                     int64_t boxColumns) {
    std::memset(map, 0xff, sizeof map);
    mgpuTensorMapEncodeF16Swizzle128B(map, at, 100, 256, stride, boxRows,
                                      boxColumns);
    EXPECT_TRUE(
        std::all_of(map, map + sizeof map, [](uint8_t b) { return b == 0; }));
    return std::string(device.takeError().message());
  };
  const std::string prefix = "mgpuTensorMapEncodeF16Swizzle128B (100 x 256 "
                             "f16, row stride ";
  EXPECT_EQ(refusal(address + 8, 1024, 64, 64),
            prefix + "1024 bytes, box 64 x 64): the matrix's address is not "
                     "16-byte aligned");
  EXPECT_EQ(refusal(address, 500, 64, 64),
            prefix + "500 bytes, box 64 x 64): the row stride is not a "
                     "multiple of 16 bytes covering a row");
  EXPECT_EQ(refusal(address, 1024, 512, 64),
            prefix + "1024 bytes, box 512 x 64): the box is not 1-256 rows "
                     "of at most 128 bytes");
  EXPECT_EQ(refusal(address, 1024, 64, 128),
            prefix + "1024 bytes, box 64 x 128): the box is not 1-256 rows "
                     "of at most 128 bytes");
  // The driver's own refusal (memory it does not know) is reported too.
  alignas(16) static uint8_t host[1024];
  EXPECT_EQ(refusal(reinterpret_cast<int64_t>(host), 1024, 64, 64),
            prefix + "1024 bytes, box 64 x 64): cuTensorMapEncodeTiled: "
                     "CUDA_ERROR_FAKE 1 (a fake driver error)");

  // After a failure the rest of the step is skipped (a kernel would fault
  // on the zero map), until the runtime has taken the error.
  static uint64_t ran = 0;
  static const fakegpu::Kernel kernels[] = {
      {"count", [](const uint64_t *, uint64_t) { ++ran; }, 0}};
  static const fakegpu::Image image{fakegpu::kMagic, 1, kernels};
  void *module =
      mgpuModuleLoad(const_cast<fakegpu::Image *>(&image), sizeof image);
  void *count = mgpuModuleGetFunction(module, "count");
  ASSERT_TRUE(count);
  auto launch = [&] {
    mgpuLaunchKernel(count, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
    ASSERT_TRUE(device.synchronize());
  };
  mgpuTensorMapEncodeF16Swizzle128B(map, address + 8, 100, 256, 1024, 64, 64);
  launch();
  EXPECT_EQ(ran, 0u);
  EXPECT_NE(device.takeError().message().find("not 16-byte aligned"),
            std::string::npos);
  launch();
  EXPECT_EQ(ran, 1u);
  EXPECT_TRUE(device.takeError());
  mgpuModuleUnload(module);
  device.release(*rows);
}

} // namespace
