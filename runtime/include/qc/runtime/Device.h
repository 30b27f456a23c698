//===- Device.h - the runtime's hardware abstraction layer ------*- C++ -*-===//
//
// Where a package's kernels run: the host CPU, an NVIDIA GPU (the CUDA driver
// API) or an AMD GPU (HIP). The GPU backends load their driver with dlopen at
// run time, so the runtime builds and runs without any GPU toolkit; a GPU
// package on a machine without the driver is a clear error, never a crash.
//
// A GPU device owns one context, one stream on which every operation is
// ordered (the runtime's uploads and downloads and the work that a package's
// kernels.so enqueues through the mgpu* ABI, see GPUABI.cpp), pinned staging
// memory for host transfers, and the hooks ForwardRunner uses to capture a
// step into a graph and replay it.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_DEVICE_H
#define QC_RUNTIME_DEVICE_H

#include "qc/Support/Status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace qc::runtime {

enum class DeviceKind { CPU, CUDA, HIP };

/// "cpu", "cuda" or "hip".
std::string_view deviceKindName(DeviceKind kind);

/// What a package was compiled for: manifest.json's "target", one of "cpu",
/// "cuda:<chip>" (sm_80, sm_90a, ...) or "hip:<chip>" (gfx90a, gfx942, ...).
struct Target {
  DeviceKind kind = DeviceKind::CPU;
  /// Empty for the CPU.
  std::string chip;

  std::string str() const;
};

/// Parses a target string; the error says what the accepted forms are.
StatusOr<Target> parseTarget(std::string_view text);

/// An opaque, instantiated graph of captured device work.
using GraphHandle = void *;

class Device {
public:
  virtual ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  DeviceKind kind() const { return kind_; }
  /// True when device memory is host memory (the CPU backend): kernels take
  /// host pointers directly and nothing needs copying.
  bool isHost() const { return kind_ == DeviceKind::CPU; }
  /// A human-readable description, e.g. "cuda:0 NVIDIA H200 (sm_90)".
  virtual std::string name() const = 0;

  /// `bytes` of device memory (at least 256-byte aligned); release it with
  /// release(). Zero bytes give a null pointer.
  virtual StatusOr<void *> allocate(size_t bytes) = 0;
  virtual void release(void *pointer) = 0;
  /// Sets `bytes` of device memory to zero (ordered on the device's stream).
  virtual Status zero(void *device, size_t bytes) = 0;
  /// Copies host memory to the device through pinned staging memory. The
  /// copy is ordered on the stream; `host` may be reused as soon as this
  /// returns.
  virtual Status upload(void *device, const void *host, size_t bytes) = 0;
  /// Copies device memory to the host once the work before it is done;
  /// returns when `host` holds the bytes.
  virtual Status download(void *host, const void *device, size_t bytes) = 0;
  /// Waits for all work on the stream.
  virtual Status synchronize() = 0;

  /// Graph capture and replay of the work a step enqueues. Devices without
  /// them return false here and errors from the others.
  virtual bool supportsGraphs() const { return false; }
  /// Starts capturing the stream (in thread-local capture mode).
  virtual Status beginCapture();
  /// Ends the capture and instantiates the graph.
  virtual StatusOr<GraphHandle> endCapture();
  /// Enqueues an instantiated graph on the stream.
  virtual Status launchGraph(GraphHandle graph);
  virtual void destroyGraph(GraphHandle graph);

  /// The first error that the mgpu* callbacks hit since the last call (they
  /// cannot return one); clears it. The runtime checks it after each step.
  Status takeError();
  /// Keeps `error` unless an earlier one is pending.
  void recordError(Status error);
  bool hasPendingError() const { return !pendingError_.isOk(); }

protected:
  explicit Device(DeviceKind kind) : kind_(kind) {}

private:
  DeviceKind kind_;
  Status pendingError_;
};

/// The device a package of `target` runs on: the host for "cpu", else GPU
/// 0 of the target's kind (opened once per process, with its driver loaded
/// by dlopen, and made the device that the mgpu* ABI routes to). Fails with
/// a clear message when the driver or the GPU is missing, when the GPU is
/// older than the target's chip, or when a GPU of the other kind is already
/// in use.
StatusOr<std::shared_ptr<Device>> openDevice(const Target &target);

/// Device memory released when it goes away.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(Device &device, void *pointer, size_t bytes)
      : device_(&device), pointer_(pointer), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer &&other) noexcept { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  ~DeviceBuffer() { reset(); }

  static StatusOr<DeviceBuffer> allocate(Device &device, size_t bytes);

  void *get() const { return pointer_; }
  size_t size() const { return bytes_; }
  void reset();

private:
  Device *device_ = nullptr;
  void *pointer_ = nullptr;
  size_t bytes_ = 0;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_DEVICE_H
