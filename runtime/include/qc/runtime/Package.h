//===- Package.h - a compiled quantc package, loaded and checked -*- C++
//-*-===//
//
// The runtime side of the package contract (see the compiler's
// PackageWriter.h): manifest.json is parsed and validated against the
// weights file and the kernels library before anything runs, so a corrupt or
// mismatched package is an error naming the file and field, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_PACKAGE_H
#define QC_RUNTIME_PACKAGE_H

#include "qc/ABI/ForwardABI.h"
#include "qc/Model/DType.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Support/Status.h"
#include "qc/runtime/Device.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qc::runtime {

/// One argument of the compiled entry point; -1 marks a dynamic dimension.
struct KernelArg {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

struct PackageManifest {
  /// What the kernels were compiled for ("target": cpu, cuda:<chip> or
  /// hip:<chip>).
  Target target;
  std::string architecture;
  int64_t vocabSize = 0, hiddenSize = 0, numLayers = 0;
  int64_t maxPositionEmbeddings = 0;
  std::vector<int64_t> bosTokenIds, eosTokenIds;
  // KV cache geometry.
  int64_t cacheLayers = 0, numKvHeads = 0, headDim = 0, blockSize = 0;
  DType cacheDType = DType::F16;
  std::string library, entry, argmaxEntry, sampleEntry;
  /// SHA-256 of the library, checked before it is loaded.
  std::string librarySha256;
  std::vector<KernelArg> args;
  std::string weightsFile;
  std::optional<std::string> tokenizerFile;
};

/// Parses and checks manifest.json text; `source` prefixes errors.
StatusOr<PackageManifest> parseManifest(std::string_view json,
                                        std::string_view source);

/// What the manifest says the kernel library's entry points take (compared
/// with the library's own qc_kernel_signature at load).
abi::KernelSignature signatureOf(const PackageManifest &m);

/// The fixed leading arguments of the entry point, in order; weights follow.
using ::qc::abi::kForwardArgNames;
inline constexpr size_t kNumFixedKernelArgs = ::qc::abi::kFirstWeight;

/// A loaded package: manifest, memory-mapped weights (checked against the
/// kernel arguments), the device of its target, and the kernels library
/// opened with dlopen.
class Package {
public:
  /// Opens the target's device before it loads kernels.so (a GPU package's
  /// kernels.so loads its GPU code when it is opened), so a GPU package on a
  /// machine without that GPU fails here with the driver's message.
  static StatusOr<std::unique_ptr<Package>> load(const std::string &dir);
  ~Package();

  const PackageManifest &manifest() const { return manifest_; }
  /// Where the kernels run; the host for "cpu" packages.
  Device &device() const { return *device_; }
  DeviceKind deviceKind() const { return manifest_.target.kind; }
  const std::string &directory() const { return dir_; }
  /// The bytes of weight argument i (counted from the first weight).
  std::span<const uint8_t> weight(size_t i) const;
  /// The packed entry point: args[i] points to the i-th memref descriptor.
  using PackedEntry = void (*)(void **args);
  PackedEntry entry() const { return entry_; }
  /// The compiled greedy sampler: (logits [T, V] f32, out [T] i32).
  PackedEntry argmaxEntry() const { return argmax_; }
  /// The compiled sampler (@qc_sample, see the compiler's SamplingKernel.h),
  /// or null when the package has none.
  PackedEntry sampleEntry() const { return sample_; }
  /// Whether the kernels run their parallel loops through the runtime's
  /// threads: a CPU package whose kernels.so has abi::kCpuParallelForSymbol
  /// (filled in at load with kernelParallelFor, KernelParallelFor.h).
  bool hasParallelKernels() const { return parallelKernels_; }

private:
  Package() = default;
  std::string dir_;
  PackageManifest manifest_;
  std::shared_ptr<Device> device_;
  std::unique_ptr<SafeTensorsFile> weights_;
  std::vector<const TensorInfo *> weightInfos_;
  void *library_ = nullptr;
  PackedEntry entry_ = nullptr;
  PackedEntry argmax_ = nullptr;
  PackedEntry sample_ = nullptr;
  bool parallelKernels_ = false;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_PACKAGE_H
