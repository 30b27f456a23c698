//===- Sampling.h - Sampling parameters and random streams ------*- C++ -*-===//
//
// The sampling math (repetition penalty, temperature, top-k / top-p filtering,
// softmax and the draw) is a kernel that the compiler emits, like every other
// numeric kernel; the runtime does no arithmetic on logits. What lives here is
// the plumbing: the parameters and their validation, their packing per batch
// row, and each request's random numbers.
//
// The random numbers come from Philox4x32-10 (Salmon et al., SC'11; the
// generator of cuRAND and PyTorch's CUDA sampling), a counter-based generator:
// any draw is a pure function of a key and a counter, so a kernel thread
// computes its numbers without state, and a request's draws depend only on its
// key and the index of the token being sampled, not on the batch it runs in or
// on preemption and recomputation.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_SAMPLING_H
#define QC_RUNTIME_SAMPLING_H

#include "qc/Support/Status.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace qc::runtime {

struct SamplingParams {
  /// Take the most likely token; the fields below are then ignored (but
  /// still validated).
  bool greedy = false;
  /// Logits are divided by it: 0 (greedy) or at least kMinTemperature.
  float temperature = 1.0f;
  /// Keep the topK most likely tokens; 0 keeps all.
  int32_t topK = 0;
  /// Keep the smallest set of tokens whose probability reaches topP, in
  /// (0, 1]; 1 keeps all.
  float topP = 1.0f;
  /// Hugging Face's repetition penalty (> 0; 1 is off): logits of tokens
  /// already in the sequence are divided by it when positive and multiplied
  /// when negative.
  float repetitionPenalty = 1.0f;
  /// With a seed, equal requests draw equal numbers; without one, the stream
  /// is keyed by the engine's seed and the request id.
  std::optional<uint64_t> seed;

  /// Smaller temperatures would overflow float logits.
  static constexpr float kMinTemperature = 1e-5f;

  static SamplingParams makeGreedy() {
    SamplingParams p;
    p.greedy = true;
    return p;
  }
  bool isGreedy() const { return greedy || temperature == 0.0f; }

  /// An error naming the first field out of range; `vocabSize` > 0 also
  /// bounds topK.
  Status validate(int32_t vocabSize = 0) const;
};

/// One Philox4x32-10 block: four 32-bit numbers of `counter` under `key`.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter,
                                   std::array<uint32_t, 2> key);

/// The random numbers of one request. Draw `i` of the token with generated
/// index `step` is word i % 4 of philox4x32({i / 4, 0, lo(step), hi(step)},
/// key()); as a float, uniform in [0, 1), it is (word >> 8) * 2^-24. A
/// sampling kernel reproduces exactly this from the key and the step.
class RngStream {
public:
  explicit RngStream(std::array<uint32_t, 2> key) : key_(key) {}
  /// Keyed by params.seed alone when set, else by (engineSeed, requestId).
  static RngStream forRequest(const SamplingParams &params, uint64_t engineSeed,
                              int64_t requestId);

  std::array<uint32_t, 2> key() const { return key_; }
  /// The counter of the first block of draws of token `step`.
  static std::array<uint32_t, 4> counter(uint64_t step, uint32_t block = 0);
  /// Word `index` of token `step`.
  uint32_t bits(uint64_t step, uint32_t index = 0) const;
  /// Draw `index` of token `step`, uniform in [0, 1).
  float uniform(uint64_t step, uint32_t index = 0) const;

private:
  std::array<uint32_t, 2> key_;
};

/// The sampling inputs of a batch, one row per sampled token, laid out as
/// the sampling kernel takes them (structure of arrays).
struct SamplingBatch {
  std::vector<uint8_t> greedy;
  std::vector<float> temperature;
  std::vector<int32_t> topK;
  std::vector<float> topP;
  std::vector<float> repetitionPenalty;
  std::vector<uint32_t> rngKey;     ///< 2 words per row
  std::vector<uint32_t> rngCounter; ///< 4 words per row: counter(step)
  /// The sequence so far (prompt and generated tokens) of the rows that
  /// sample with a repetition penalty, empty for the others: row i's tokens
  /// are history[historyOffsets[i], historyOffsets[i + 1]).
  std::vector<int32_t> history;
  std::vector<int32_t> historyOffsets;

  size_t size() const { return greedy.size(); }
  /// Adds the row sampling token `step` of a request whose sequence so far
  /// is `sequence`.
  void append(const SamplingParams &params, const RngStream &rng, uint64_t step,
              std::span<const int32_t> sequence = {});
  /// The history of row `row` (empty when it has none).
  std::span<const int32_t> historyOf(size_t row) const;
  /// The draw of row `row`: RngStream::uniform(step) of its key and step.
  float uniform(size_t row) const;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_SAMPLING_H
