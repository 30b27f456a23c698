//===- Device.cpp - targets, the Device base and openDevice ---------------===//

#include "Backends.h"

#include <cstdlib>
#include <mutex>

using namespace qc;
using namespace qc::runtime;
using namespace qc::runtime::hal;

std::string_view qc::runtime::deviceKindName(DeviceKind kind) {
  switch (kind) {
  case DeviceKind::CPU:
    return "cpu";
  case DeviceKind::CUDA:
    return "cuda";
  case DeviceKind::HIP:
    return "hip";
  }
  return "?";
}

std::string Target::str() const {
  if (kind == DeviceKind::CPU)
    return "cpu";
  return std::string(deviceKindName(kind)) + ":" + chip;
}

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLowerAlnum(char c) { return isDigit(c) || (c >= 'a' && c <= 'z'); }

/// sm_<major><minor>[a|f], e.g. sm_80, sm_90a, sm_100a.
bool isCUDAChip(std::string_view chip) {
  if (!chip.starts_with("sm_"))
    return false;
  std::string_view rest = chip.substr(3);
  size_t digits = 0;
  while (digits < rest.size() && isDigit(rest[digits]))
    ++digits;
  if (digits < 2 || digits > 3)
    return false;
  rest.remove_prefix(digits);
  return rest.empty() || rest == "a" || rest == "f";
}

/// gfx<id>, e.g. gfx90a or gfx942, optionally with target features
/// (gfx90a:xnack-).
bool isHIPChip(std::string_view chip) {
  if (!chip.starts_with("gfx"))
    return false;
  std::string_view rest = chip.substr(3);
  size_t id = 0;
  while (id < rest.size() && isLowerAlnum(rest[id]))
    ++id;
  if (id < 3)
    return false;
  for (char c : rest.substr(id))
    if (!isLowerAlnum(c) && c != ':' && c != '+' && c != '-')
      return false;
  return rest.size() == id || rest[id] == ':';
}

} // namespace

StatusOr<Target> qc::runtime::parseTarget(std::string_view text) {
  const char *forms =
      "; expected 'cpu', 'cuda:sm_XY' (e.g. cuda:sm_90a) or 'hip:gfxNNN' "
      "(e.g. hip:gfx942)";
  Target target;
  if (text == "cpu")
    return target;
  size_t colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  std::string_view chip =
      colon == std::string_view::npos ? "" : text.substr(colon + 1);
  if (kind == "cuda" && isCUDAChip(chip))
    target.kind = DeviceKind::CUDA;
  else if (kind == "hip" && isHIPChip(chip))
    target.kind = DeviceKind::HIP;
  else
    return Status::error("unknown target '" + std::string(text) + "'" + forms);
  target.chip = std::string(chip);
  return target;
}

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

Device::~Device() = default;

Status Device::beginCapture() {
  return Status::error(name() + " has no graphs");
}
StatusOr<GraphHandle> Device::endCapture() {
  return Status::error(name() + " has no graphs");
}
Status Device::launchGraph(GraphHandle) {
  return Status::error(name() + " has no graphs");
}
void Device::destroyGraph(GraphHandle) {}

Status Device::takeError() {
  Status error = std::move(pendingError_);
  pendingError_ = Status::ok();
  return error;
}

void Device::recordError(Status error) {
  if (pendingError_.isOk())
    pendingError_ = std::move(error);
}

StatusOr<std::shared_ptr<Device>>
qc::runtime::openDevice(const Target &target) {
  if (target.kind == DeviceKind::CPU)
    return hostDevice();

  // One device per kind and process, opened on first use and kept until the
  // process ends: kernels.so's module destructors may call into it as late
  // as the dynamic linker's exit-time finalizers.
  static std::mutex mutex;
  static auto *devices = new std::shared_ptr<GPUDevice>[2];
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<GPUDevice> &device =
      devices[target.kind == DeviceKind::CUDA ? 0 : 1];
  if (!device) {
    // QC_DEVICE picks another GPU of the machine.
    int ordinal = 0;
    if (const char *env = std::getenv("QC_DEVICE")) {
      char *end = nullptr;
      long value = std::strtol(env, &end, 10);
      if (end == env || *end || value < 0 || value > 1024)
        return Status::error("QC_DEVICE='" + std::string(env) +
                             "' is not a GPU index");
      ordinal = int(value);
    }
    StatusOr<std::unique_ptr<GPUDevice>> opened =
        target.kind == DeviceKind::CUDA ? openCUDADevice(ordinal)
                                        : openHIPDevice(ordinal);
    if (!opened)
      return opened.status();
    device = std::move(opened).value();
  }
  QC_RETURN_IF_ERROR(device->checkChip(target.chip));
  QC_RETURN_IF_ERROR(activateGPUDevice(device.get()));
  return std::shared_ptr<Device>(device);
}

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    reset();
    device_ = other.device_;
    pointer_ = other.pointer_;
    bytes_ = other.bytes_;
    other.device_ = nullptr;
    other.pointer_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

StatusOr<DeviceBuffer> DeviceBuffer::allocate(Device &device, size_t bytes) {
  QC_ASSIGN_OR_RETURN(void *pointer, device.allocate(bytes));
  return DeviceBuffer(device, pointer, bytes);
}

void DeviceBuffer::reset() {
  if (device_ && pointer_)
    device_->release(pointer_);
  device_ = nullptr;
  pointer_ = nullptr;
  bytes_ = 0;
}
