//===- ForwardRunnerDevice.cpp - the forward pass on a GPU ----------------===//
//
// The weights are uploaded once, the KV-cache pools live in device memory,
// and each step's inputs are uploaded into buffers at fixed addresses (so a
// graph captured on one step replays on the next with new contents). The
// kernels' host code enqueues everything on the device's one stream; the
// logits download waits for it, then the errors the mgpu* callbacks recorded
// are reported.
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/ForwardRunner.h"

#include "MemRefDescriptor.h"

#include <map>
#include <tuple>

using namespace qc;
using namespace qc::runtime;

namespace {

constexpr size_t kAlignment = 256;

size_t alignUp(size_t value) {
  return (value + kAlignment - 1) / kAlignment * kAlignment;
}

/// Ends a launch of a package entry: the first error its kernels left in
/// the device, else the download of its `bytes`-long result, else an error
/// the download's synchronization brought out; each named by `where`.
Status downloadResult(Device &device, void *host, const void *result,
                      size_t bytes, const std::string &where) {
  if (Status error = device.takeError(); !error) {
    (void)device.synchronize();
    return std::move(error).withContext(where);
  }
  QC_RETURN_IF_ERROR(device.download(host, result, bytes));
  if (Status error = device.takeError(); !error)
    return std::move(error).withContext(where);
  return Status::ok();
}

/// Capacities grow in these steps, so that a growing batch does not
/// reallocate (and drop every graph) at each step.
constexpr int64_t kTokenGranule = 64;
constexpr int64_t kTableGranule = 256;

int64_t roundUp(int64_t value, int64_t granule) {
  return (value + granule - 1) / granule * granule;
}

/// The per-step inputs, in ABI order.
enum StepInput { kTokens, kPositions, kSlots, kSequences, kTables, kInputs };

} // namespace

struct ForwardRunner::DeviceState {
  explicit DeviceState(Device &device) : device(device) {}
  ~DeviceState() { dropGraphs(); }

  void dropGraphs() {
    for (auto &[key, graph] : graphs)
      device.destroyGraph(graph);
    graphs.clear();
  }

  /// A scratch buffer of at least `bytes` for the sampling kernels.
  StatusOr<void *> scratch(size_t slot, size_t bytes) {
    if (scratchBuffers.size() <= slot)
      scratchBuffers.resize(slot + 1);
    DeviceBuffer &buffer = scratchBuffers[slot];
    if (buffer.size() < bytes) {
      buffer.reset();
      QC_ASSIGN_OR_RETURN(buffer, DeviceBuffer::allocate(device, bytes));
    }
    return buffer.get();
  }

  Device &device;
  DeviceBuffer weights;
  std::vector<const void *> weightPointers;
  DeviceBuffer keys, values;
  DeviceBuffer inputs[kInputs];
  DeviceBuffer logits;
  int64_t tokenCapacity = 0, tableCapacity = 0;

  bool graphsOn = false;
  /// Instantiated graphs by (tokens, sequences, blocks per sequence).
  std::map<std::tuple<int64_t, int64_t, int64_t>, GraphHandle> graphs;
  GraphStats stats;

  std::vector<DeviceBuffer> scratchBuffers;
};

ForwardRunner::ForwardRunner(const Package &package, int64_t numBlocks)
    : package_(package), numBlocks_(numBlocks) {}

ForwardRunner::~ForwardRunner() = default;

const GraphStats &ForwardRunner::graphStats() const {
  static const GraphStats none{0, 0, "the runner is on the host"};
  return gpu_ ? gpu_->stats : none;
}

Status ForwardRunner::createOnDevice(uint64_t poolBytes) {
  const PackageManifest &m = package_.manifest();
  Device &device = package_.device();
  gpu_ = std::make_unique<DeviceState>(device);
  DeviceState &d = *gpu_;
  (void)device.takeError();
  std::string where = "on " + device.name();

  // All weights in one allocation, each at an aligned offset.
  size_t numWeights = m.args.size() - kNumFixedKernelArgs;
  std::vector<size_t> offsets(numWeights);
  size_t total = 0;
  for (size_t i = 0; i < numWeights; ++i) {
    offsets[i] = total;
    total += alignUp(package_.weight(i).size());
  }
  StatusOr<DeviceBuffer> weights =
      DeviceBuffer::allocate(device, std::max<size_t>(total, 1));
  if (!weights)
    return Status(weights.status())
        .withContext("cannot hold the " + std::to_string(total) +
                     " bytes of weights " + where);
  d.weights = std::move(weights).value();
  auto *base = static_cast<uint8_t *>(d.weights.get());
  for (size_t i = 0; i < numWeights; ++i) {
    std::span<const uint8_t> bytes = package_.weight(i);
    QC_RETURN_IF_ERROR(
        device.upload(base + offsets[i], bytes.data(), bytes.size()));
    d.weightPointers.push_back(base + offsets[i]);
  }

  for (DeviceBuffer *pool : {&d.keys, &d.values}) {
    StatusOr<DeviceBuffer> buffer = DeviceBuffer::allocate(device, poolBytes);
    if (!buffer)
      return Status(buffer.status())
          .withContext("cannot hold a KV cache of " +
                       std::to_string(2 * poolBytes) + " bytes " + where);
    *pool = std::move(buffer).value();
    QC_RETURN_IF_ERROR(device.zero(pool->get(), poolBytes));
  }
  QC_RETURN_IF_ERROR(device.synchronize());

  d.graphsOn = device.supportsGraphs();
  if (!d.graphsOn)
    d.stats.disabledReason =
        device.kind() == DeviceKind::CUDA
            ? "graphs are off (QC_CUDA_GRAPHS=0, or the driver has none)"
            : "the device has no graphs (QC_HIP_GRAPHS=1 turns them on)";
  return Status::ok();
}

Status ForwardRunner::forwardOnDevice(const ForwardBatch &b,
                                      std::vector<float> &logits) {
  const PackageManifest &m = package_.manifest();
  DeviceState &d = *gpu_;
  Device &device = d.device;
  int64_t tokens = int64_t(b.tokens.size());
  int64_t tableEntries = int64_t(b.blockTables.size());
  int64_t slots = numBlocks_ * m.blockSize;
  int64_t width = m.numKvHeads * m.headDim;
  (void)device.takeError();

  // Input buffers at fixed addresses, sized for the largest step so far;
  // graphs hold those addresses, so growing drops them.
  if (tokens > d.tokenCapacity || tableEntries > d.tableCapacity) {
    d.dropGraphs();
    int64_t tokenCapacity =
        std::max(d.tokenCapacity, roundUp(tokens, kTokenGranule));
    int64_t tableCapacity =
        std::max(d.tableCapacity, roundUp(tableEntries, kTableGranule));
    for (DeviceBuffer &buffer : d.inputs)
      buffer.reset();
    d.logits.reset();
    d.tokenCapacity = d.tableCapacity = 0;
    for (int i = 0; i < kInputs; ++i) {
      size_t count = i == kTables ? tableCapacity : tokenCapacity;
      QC_ASSIGN_OR_RETURN(
          d.inputs[i], DeviceBuffer::allocate(device, count * sizeof(int32_t)));
    }
    StatusOr<DeviceBuffer> logitsBuffer = DeviceBuffer::allocate(
        device, size_t(tokenCapacity) * m.vocabSize * sizeof(float));
    if (!logitsBuffer)
      return Status(logitsBuffer.status())
          .withContext("the logits of a " + std::to_string(tokens) +
                       "-token step");
    d.logits = std::move(logitsBuffer).value();
    d.tokenCapacity = tokenCapacity;
    d.tableCapacity = tableCapacity;
  }

  const std::vector<int32_t> *hostInputs[kInputs] = {
      &b.tokens, &b.positions, &b.slotMapping, &b.tokenSequence,
      &b.blockTables};
  for (int i = 0; i < kInputs; ++i)
    QC_RETURN_IF_ERROR(device.upload(d.inputs[i].get(), hostInputs[i]->data(),
                                     hostInputs[i]->size() * sizeof(int32_t)));

  std::vector<MemRefDescriptor> descriptors;
  descriptors.reserve(m.args.size());
  for (int i = 0; i < kTables; ++i)
    descriptors.emplace_back(d.inputs[i].get(), std::vector<int64_t>{tokens});
  descriptors.emplace_back(
      d.inputs[kTables].get(),
      std::vector<int64_t>{b.numSequences, b.blocksPerSequence});
  descriptors.emplace_back(d.keys.get(),
                           std::vector<int64_t>{m.cacheLayers, slots, width});
  descriptors.emplace_back(d.values.get(),
                           std::vector<int64_t>{m.cacheLayers, slots, width});
  descriptors.emplace_back(d.logits.get(),
                           std::vector<int64_t>{tokens, m.vocabSize});
  for (size_t i = kNumFixedKernelArgs; i < m.args.size(); ++i)
    descriptors.emplace_back(d.weightPointers[i - kNumFixedKernelArgs],
                             m.args[i].shape);
  std::vector<void *> args;
  for (MemRefDescriptor &descriptor : descriptors)
    args.push_back(descriptor.get());

  // Small steps replay a graph captured the first time their shape came.
  bool ran = false;
  if (d.graphsOn && tokens <= kMaxGraphTokens) {
    auto key = std::make_tuple(tokens, b.numSequences, b.blocksPerSequence);
    auto it = d.graphs.find(key);
    if (it == d.graphs.end()) {
      Status captured = device.beginCapture();
      if (captured) {
        package_.entry()(args.data());
        StatusOr<GraphHandle> graph = device.endCapture();
        captured = device.takeError();
        if (captured && !graph)
          captured = graph.status();
        if (captured) {
          it = d.graphs.emplace(key, *graph).first;
          ++d.stats.captured;
        } else if (graph) {
          device.destroyGraph(*graph);
        }
      }
      // Nothing ran: the step runs directly below, and later ones too.
      if (!captured) {
        d.graphsOn = false;
        d.dropGraphs();
        d.stats.disabledReason =
            "a step could not be captured: " + captured.message();
      }
    } else {
      ++d.stats.replayed;
    }
    if (it != d.graphs.end()) {
      QC_RETURN_IF_ERROR(device.launchGraph(it->second));
      ran = true;
    }
  }
  if (!ran)
    package_.entry()(args.data());

  logits.resize(size_t(tokens) * m.vocabSize);
  return downloadResult(device, logits.data(), d.logits.get(),
                        logits.size() * sizeof(float),
                        "forward on " + device.name());
}

StatusOr<std::vector<int32_t>>
ForwardRunner::argmaxOnDevice(std::vector<float> &logits, int64_t rows) const {
  int64_t vocab = package_.manifest().vocabSize;
  std::vector<int32_t> out(rows);
  if (rows == 0)
    return out;
  DeviceState &d = *gpu_;
  Device &device = d.device;
  (void)device.takeError();
  size_t logitsBytes = size_t(rows) * vocab * sizeof(float);
  QC_ASSIGN_OR_RETURN(void *deviceLogits, d.scratch(0, logitsBytes));
  QC_ASSIGN_OR_RETURN(void *deviceOut, d.scratch(1, rows * sizeof(int32_t)));
  QC_RETURN_IF_ERROR(device.upload(deviceLogits, logits.data(), logitsBytes));
  MemRefDescriptor in(deviceLogits, {rows, vocab});
  MemRefDescriptor result(deviceOut, {rows});
  void *args[] = {in.get(), result.get()};
  package_.argmaxEntry()(args);
  QC_RETURN_IF_ERROR(downloadResult(device, out.data(), deviceOut,
                                    out.size() * sizeof(int32_t),
                                    "argmax on " + device.name()));
  return out;
}

StatusOr<std::vector<int32_t>>
ForwardRunner::sampleOnDevice(std::vector<float> &logits,
                              const SamplerInputs &in, int64_t rows) const {
  int64_t vocab = package_.manifest().vocabSize;
  std::vector<int32_t> out(rows);
  if (rows == 0)
    return out;
  DeviceState &d = *gpu_;
  Device &device = d.device;
  (void)device.takeError();

  // Each input into its own scratch buffer (slots 2.. after argmax's).
  struct Input {
    const void *data;
    size_t bytes;
  };
  Input inputs[] = {
      {logits.data(), logits.size() * sizeof(float)},
      {in.temperature.data(), in.temperature.size() * sizeof(float)},
      {in.topK.data(), in.topK.size() * sizeof(int32_t)},
      {in.topP.data(), in.topP.size() * sizeof(float)},
      {in.repetitionPenalty.data(),
       in.repetitionPenalty.size() * sizeof(float)},
      {in.history.data(), in.history.size() * sizeof(int32_t)},
      {in.uniform.data(), in.uniform.size() * sizeof(float)},
      {nullptr, out.size() * sizeof(int32_t)}};
  void *pointers[std::size(inputs)];
  for (size_t i = 0; i < std::size(inputs); ++i) {
    // A zero-width history still needs a valid address.
    QC_ASSIGN_OR_RETURN(pointers[i],
                        d.scratch(2 + i, std::max<size_t>(inputs[i].bytes, 4)));
    if (inputs[i].data)
      QC_RETURN_IF_ERROR(
          device.upload(pointers[i], inputs[i].data, inputs[i].bytes));
  }
  MemRefDescriptor logitsArg(pointers[0], {rows, vocab});
  MemRefDescriptor temperature(pointers[1], {rows});
  MemRefDescriptor topK(pointers[2], {rows});
  MemRefDescriptor topP(pointers[3], {rows});
  MemRefDescriptor penalty(pointers[4], {rows});
  MemRefDescriptor history(pointers[5], {rows, in.historyWidth});
  MemRefDescriptor uniform(pointers[6], {rows});
  MemRefDescriptor result(pointers[7], {rows});
  void *args[] = {logitsArg.get(), temperature.get(), topK.get(),
                  topP.get(),      penalty.get(),     history.get(),
                  uniform.get(),   result.get()};
  package_.sampleEntry()(args);
  QC_RETURN_IF_ERROR(downloadResult(device, out.data(), pointers[7],
                                    out.size() * sizeof(int32_t),
                                    "sampling on " + device.name()));
  return out;
}
