//===- CPUDevice.cpp - the host as a device -------------------------------===//
//
// Device memory is host memory: packages compiled for "cpu" take host
// pointers directly, so ForwardRunner passes its inputs and outputs without
// copies and uses this device only for what it owns.
//
//===----------------------------------------------------------------------===//

#include "../Backends.h"

#include <cstdlib>
#include <cstring>
#include <new>

using namespace qc;
using namespace qc::runtime;

namespace {

class CPUDevice final : public Device {
public:
  CPUDevice() : Device(DeviceKind::CPU) {}

  std::string name() const override { return "cpu (host memory)"; }

  StatusOr<void *> allocate(size_t bytes) override {
    if (bytes == 0)
      return static_cast<void *>(nullptr);
    constexpr size_t kAlignment = 256;
    size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded < bytes)
      return Status::error("cannot allocate " + std::to_string(bytes) +
                           " bytes");
    void *pointer = std::aligned_alloc(kAlignment, rounded);
    if (!pointer)
      return Status::error("cannot allocate " + std::to_string(bytes) +
                           " bytes of host memory");
    return pointer;
  }
  void release(void *pointer) override { std::free(pointer); }
  Status zero(void *device, size_t bytes) override {
    if (bytes)
      std::memset(device, 0, bytes);
    return Status::ok();
  }
  Status upload(void *device, const void *host, size_t bytes) override {
    if (bytes)
      std::memcpy(device, host, bytes);
    return Status::ok();
  }
  Status download(void *host, const void *device, size_t bytes) override {
    if (bytes)
      std::memcpy(host, device, bytes);
    return Status::ok();
  }
  Status synchronize() override { return Status::ok(); }
};

} // namespace

std::shared_ptr<Device> qc::runtime::hal::hostDevice() {
  static const std::shared_ptr<Device> device = std::make_shared<CPUDevice>();
  return device;
}
