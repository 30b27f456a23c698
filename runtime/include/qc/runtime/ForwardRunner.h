//===- ForwardRunner.h - runs a package's compiled forward pass -*- C++ -*-===//
//
// Owns the device memory of one model instance (on the CPU backend: host
// memory) — the paged KV cache, and on a GPU the weights and the step's
// input and output buffers — and launches the compiled entry point on a
// batch. It checks every index the kernels will follow (token ids,
// positions, cache slots, block ids) so that a bad batch is an error, never
// an out-of-bounds access. It computes nothing itself.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_FORWARDRUNNER_H
#define QC_RUNTIME_FORWARDRUNNER_H

#include "qc/runtime/Package.h"
#include "qc/runtime/ThreadPool.h"

#include <string>

namespace qc::runtime {

/// One step's tokens, from one or more sequences (ragged, concatenated).
struct ForwardBatch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  /// Flat cache slot (block * block_size + offset) each token is written to.
  std::vector<int32_t> slotMapping;
  /// Index of each token's sequence in blockTables.
  std::vector<int32_t> tokenSequence;
  /// [numSequences, blocksPerSequence] block ids, row-major.
  std::vector<int32_t> blockTables;
  int64_t numSequences = 0;
  int64_t blocksPerSequence = 0;
};

/// The inputs of the sampling kernel besides the logits, one entry per row
/// (the semantics are @qc_sample's, in the compiler's SamplingKernel.h).
struct SamplerInputs {
  std::vector<float> temperature; ///< > 0
  std::vector<int32_t> topK;      ///< 0 keeps all
  std::vector<float> topP;        ///< in (0, 1]
  std::vector<float> repetitionPenalty;
  /// [rows, historyWidth] token ids of each row's sequence, -1 padded.
  std::vector<int32_t> history;
  int64_t historyWidth = 0;
  /// One draw in [0, 1) per row.
  std::vector<float> uniform;
};

/// How a GPU runner used graphs (see ForwardRunner::forward).
struct GraphStats {
  int64_t captured = 0, replayed = 0;
  /// Why graphs are off for this runner: the device has none (or
  /// QC_CUDA_GRAPHS=0), or a capture failed; empty while they are on.
  std::string disabledReason;
};

class ForwardRunner {
public:
  /// A runner whose KV cache holds `numBlocks` blocks, on the package's
  /// device: on a GPU the weights are uploaded here and the cache pools are
  /// allocated and zeroed in device memory. A CPU package with parallel
  /// kernels (Package::hasParallelKernels) runs their loops on a pool of
  /// `threads` threads, the calling one included (in [1,
  /// ThreadPool::kMaxThreads]); other packages ignore it.
  static StatusOr<std::unique_ptr<ForwardRunner>>
  create(const Package &package, int64_t numBlocks, int64_t threads = 1);
  ~ForwardRunner();

  /// Runs the model on `batch`; `logits` receives [tokens, vocab] f32.
  ///
  /// On a GPU the batch is uploaded into device buffers at fixed addresses
  /// (grown, and the graphs dropped, when a larger step comes) and the
  /// logits are downloaded. A step of at most kMaxGraphTokens tokens is
  /// captured into a graph the first time its shape (tokens, sequences,
  /// blocks per sequence) is seen and replayed from it afterwards, where the
  /// device has graphs (CUDA; off with QC_CUDA_GRAPHS=0).
  Status forward(const ForwardBatch &batch, std::vector<float> &logits);

  /// The greedy token of each row of `logits` ([tokens, vocab]), computed by
  /// the package's compiled argmax kernel.
  StatusOr<std::vector<int32_t>> argmax(std::vector<float> &logits) const;

  /// One token per row of `logits` ([rows, vocab]) drawn by the package's
  /// compiled sampling kernel; checks the inputs first. An error when the
  /// package has no sampling kernel.
  StatusOr<std::vector<int32_t>> sample(std::vector<float> &logits,
                                        const SamplerInputs &inputs) const;

  int64_t numBlocks() const { return numBlocks_; }
  int64_t blockSize() const { return package_.manifest().blockSize; }
  Device &device() const { return package_.device(); }
  const GraphStats &graphStats() const;
  /// Threads the kernels' parallel loops run on (1 without a pool).
  int64_t threads() const { return pool_ ? pool_->threads() : 1; }

  /// The largest step replayed from a graph (decode and small mixed steps).
  static constexpr int64_t kMaxGraphTokens = 256;

private:
  struct DeviceState;

  ForwardRunner(const Package &package, int64_t numBlocks);
  Status validate(const ForwardBatch &batch) const;
  Status createOnDevice(uint64_t poolBytes);
  Status forwardOnDevice(const ForwardBatch &batch, std::vector<float> &logits);
  StatusOr<std::vector<int32_t>> argmaxOnDevice(std::vector<float> &logits,
                                                int64_t rows) const;
  StatusOr<std::vector<int32_t>> sampleOnDevice(std::vector<float> &logits,
                                                const SamplerInputs &inputs,
                                                int64_t rows) const;

  const Package &package_;
  int64_t numBlocks_;
  /// The cache pools on the host (CPU packages).
  std::vector<uint8_t> keys_, values_;
  /// Device memory, buffers and graphs (GPU packages).
  std::unique_ptr<DeviceState> gpu_;
  /// Where the kernels' parallel loops run (CPU packages with parallel
  /// kernels), named to them around each call (KernelPoolScope).
  std::unique_ptr<ThreadPool> pool_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_FORWARDRUNNER_H
