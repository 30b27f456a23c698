//===- DeviceTest.cpp - Tests for targets, devices and GPU packages -------===//
//
// No GPU here (nor in CI): these check the target field, the errors of a GPU
// package on a machine without the driver, and that executables export the
// mgpu* ABI that GPU kernels.so files resolve from them.
//
//===----------------------------------------------------------------------===//

#include "TestPackage.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::test;

namespace {

std::string targetError(std::string_view text) {
  StatusOr<Target> t = parseTarget(text);
  return t ? "" : t.status().message();
}

TEST(DeviceTest, ParsesTargets) {
  StatusOr<Target> cpu = parseTarget("cpu");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->kind, DeviceKind::CPU);
  EXPECT_EQ(cpu->chip, "");
  EXPECT_EQ(cpu->str(), "cpu");

  for (const char *chip : {"sm_80", "sm_90a", "sm_86", "sm_100a", "sm_120f"}) {
    StatusOr<Target> t = parseTarget(std::string("cuda:") + chip);
    ASSERT_TRUE(t) << chip << ": " << t.status().message();
    EXPECT_EQ(t->kind, DeviceKind::CUDA);
    EXPECT_EQ(t->chip, chip);
    EXPECT_EQ(t->str(), std::string("cuda:") + chip);
  }
  for (const char *chip : {"gfx90a", "gfx942", "gfx1100", "gfx90a:xnack-"}) {
    StatusOr<Target> t = parseTarget(std::string("hip:") + chip);
    ASSERT_TRUE(t) << chip << ": " << t.status().message();
    EXPECT_EQ(t->kind, DeviceKind::HIP);
    EXPECT_EQ(t->chip, chip);
  }
  EXPECT_EQ(deviceKindName(DeviceKind::CPU), "cpu");
  EXPECT_EQ(deviceKindName(DeviceKind::CUDA), "cuda");
  EXPECT_EQ(deviceKindName(DeviceKind::HIP), "hip");
}

TEST(DeviceTest, RejectsUnknownTargets) {
  for (const char *text :
       {"", "CPU", "gpu", "cuda", "cuda:", "cuda:sm_9", "cuda:sm_90b",
        "cuda:gfx942", "cuda:sm_90a:x", "hip", "hip:", "hip:sm_80", "hip:gfx",
        "hip:gfx942 ", "metal:m1", "cpu:x86"})
    EXPECT_EQ(targetError(text),
              "unknown target '" + std::string(text) +
                  "'; expected 'cpu', 'cuda:sm_XY' (e.g. cuda:sm_90a) or "
                  "'hip:gfxNNN' (e.g. hip:gfx942)")
        << text;
}

TEST(DeviceTest, ManifestReportsTheTarget) {
  struct Case {
    const char *target;
    DeviceKind kind;
    const char *chip;
  } cases[] = {{"cpu", DeviceKind::CPU, ""},
               {"cuda:sm_90a", DeviceKind::CUDA, "sm_90a"},
               {"cuda:sm_80", DeviceKind::CUDA, "sm_80"},
               {"hip:gfx942", DeviceKind::HIP, "gfx942"},
               {"hip:gfx90a", DeviceKind::HIP, "gfx90a"}};
  for (const Case &c : cases) {
    StatusOr<PackageManifest> m =
        parseManifest(manifestJson(c.target), "manifest.json");
    ASSERT_TRUE(m) << c.target << ": " << m.status().message();
    EXPECT_EQ(m->target.kind, c.kind) << c.target;
    EXPECT_EQ(m->target.chip, c.chip) << c.target;
    EXPECT_EQ(m->target.str(), c.target);
  }
}

TEST(DeviceTest, ManifestRejectsUnknownTargetsNamingTheField) {
  for (const char *target : {"tpu:v5", "cuda:sm_90x", "hip:gfx", "gpu"}) {
    StatusOr<PackageManifest> m =
        parseManifest(manifestJson(target), "pkg/manifest.json");
    ASSERT_FALSE(m) << target;
    EXPECT_EQ(m.status().message(),
              "pkg/manifest.json: field 'target' is not valid: unknown "
              "target '" +
                  std::string(target) +
                  "'; expected 'cpu', 'cuda:sm_XY' (e.g. cuda:sm_90a) or "
                  "'hip:gfxNNN' (e.g. hip:gfx942)");
  }
  StatusOr<PackageManifest> m = parseManifest(
      R"({"format": "quantc-package", "version": 2, "target": 3})", "m");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.status().message(), "m: field 'target' must be a string");
}

bool canLoad(const char *library) {
  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle)
    dlclose(handle);
  return handle != nullptr;
}

TEST(DeviceTest, CUDAPackageWithoutDriverIsAClearError) {
  if (canLoad("libcuda.so.1"))
    GTEST_SKIP() << "this machine has an NVIDIA driver";
  ScopedEnv driver("QC_CUDA_DRIVER", nullptr);
  PackageDir dir("cuda:sm_90a");
  std::string error = loadError(dir.str());
  std::string expected =
      dir.str() + "/manifest.json: target 'cuda:sm_90a': no NVIDIA "
                  "GPU/driver: libcuda.so.1 cannot be loaded (libcuda.so.1: ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
  EXPECT_EQ(error.back(), ')') << error;
  // Again: nothing was cached in a broken state.
  EXPECT_EQ(loadError(dir.str()), error);
}

TEST(DeviceTest, HIPPackageWithoutRuntimeIsAClearError) {
  if (canLoad("libamdhip64.so") || canLoad("libamdhip64.so.6") ||
      canLoad("libamdhip64.so.7"))
    GTEST_SKIP() << "this machine has HIP";
  ScopedEnv library("QC_HIP_LIBRARY", nullptr);
  PackageDir dir("hip:gfx942");
  std::string error = loadError(dir.str());
  std::string expected = dir.str() +
                         "/manifest.json: target 'hip:gfx942': no AMD GPU: "
                         "libamdhip64.so cannot be loaded (libamdhip64.so: ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
  EXPECT_EQ(error.back(), ')') << error;
}

TEST(DeviceTest, DriverOverridesGiveTheSameErrors) {
  PackageDir cuda("cuda:sm_80");
  {
    ScopedEnv driver("QC_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
    EXPECT_EQ(loadError(cuda.str()),
              cuda.str() + "/manifest.json: target 'cuda:sm_80': no NVIDIA "
                           "GPU/driver: /nonexistent/libcuda.so.1 cannot be "
                           "loaded (/nonexistent/libcuda.so.1: cannot open "
                           "shared object file: No such file or directory)");
  }
  PackageDir hip("hip:gfx90a");
  {
    ScopedEnv library("QC_HIP_LIBRARY", "/nonexistent/libamdhip64.so");
    EXPECT_EQ(loadError(hip.str()),
              hip.str() + "/manifest.json: target 'hip:gfx90a': no AMD GPU: "
                          "/nonexistent/libamdhip64.so cannot be loaded "
                          "(/nonexistent/libamdhip64.so: cannot open shared "
                          "object file: No such file or directory)");
  }
}

TEST(DeviceTest, CPUPackageStillLoadsItsKernels) {
  // The CPU target opens the host device and goes on to dlopen kernels.so:
  // here a file that is not a library.
  PackageDir dir("cpu");
  std::string error = loadError(dir.str());
  std::string expected = dir.str() + "/kernels.so: cannot load kernels: ";
  EXPECT_EQ(error.substr(0, expected.size()), expected) << error;
}

TEST(DeviceTest, HostDeviceCopies) {
  StatusOr<std::shared_ptr<Device>> device = openDevice(Target{});
  ASSERT_TRUE(device);
  Device &host = **device;
  EXPECT_TRUE(host.isHost());
  EXPECT_EQ(host.kind(), DeviceKind::CPU);
  EXPECT_FALSE(host.supportsGraphs());
  StatusOr<DeviceBuffer> buffer = DeviceBuffer::allocate(host, 1000);
  ASSERT_TRUE(buffer);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->get()) % 256, 0u);
  std::vector<uint8_t> in(1000), out(1000, 7);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = uint8_t(i * 13);
  ASSERT_TRUE(host.upload(buffer->get(), in.data(), in.size()));
  ASSERT_TRUE(host.download(out.data(), buffer->get(), out.size()));
  EXPECT_EQ(in, out);
  ASSERT_TRUE(host.zero(buffer->get(), 500));
  ASSERT_TRUE(host.download(out.data(), buffer->get(), out.size()));
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 500),
            std::vector<uint8_t>(500, 0));
  EXPECT_EQ(out[500], in[500]);
  EXPECT_FALSE(host.beginCapture());
  EXPECT_TRUE(host.takeError());
}

TEST(DeviceTest, ExecutableExportsTheGPURuntimeABI) {
  // kernels.so is opened RTLD_LOCAL and finds these in the executable.
  for (const char *symbol :
       {"mgpuModuleLoad", "mgpuModuleLoadJIT", "mgpuModuleUnload",
        "mgpuModuleGetFunction", "mgpuLaunchKernel", "mgpuStreamCreate",
        "mgpuStreamDestroy", "mgpuStreamSynchronize", "mgpuMemAlloc",
        "mgpuMemFree", "mgpuMemcpy", "mgpuMemset32", "mgpuMemset16",
        "mgpuEventCreate", "mgpuEventDestroy", "mgpuEventSynchronize",
        "mgpuEventRecord", "mgpuStreamWaitEvent", "mgpuSetDefaultDevice"}) {
    void *self = dlopen(nullptr, RTLD_NOW);
    ASSERT_NE(self, nullptr);
    EXPECT_NE(dlsym(self, symbol), nullptr) << symbol;
    dlclose(self);
  }
}

} // namespace
