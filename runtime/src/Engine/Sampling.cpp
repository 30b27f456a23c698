//===- Sampling.cpp - Sampling parameters and random streams --------------===//
//
// No logits are touched here: the sampling kernel comes from the compiler.
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace qc::runtime {

namespace {
std::string show(float v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  return std::to_string(v);
}

/// SplitMix64's finalizer: spreads seeds that differ in few bits.
uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
} // namespace

Status SamplingParams::validate(int32_t vocabSize) const {
  if (!std::isfinite(temperature) ||
      (temperature != 0.0f && temperature < kMinTemperature))
    return Status::error("sampling: temperature " + show(temperature) +
                         " must be 0 (greedy) or a finite value of at least " +
                         std::to_string(kMinTemperature));
  if (topK < 0)
    return Status::error("sampling: top_k " + std::to_string(topK) +
                         " must be 0 (off) or positive");
  if (vocabSize > 0 && topK > vocabSize)
    return Status::error("sampling: top_k " + std::to_string(topK) +
                         " exceeds the vocabulary size " +
                         std::to_string(vocabSize));
  if (!(topP > 0.0f && topP <= 1.0f))
    return Status::error("sampling: top_p " + show(topP) +
                         " must be in (0, 1]");
  if (!std::isfinite(repetitionPenalty) || repetitionPenalty <= 0.0f)
    return Status::error("sampling: repetition_penalty " +
                         show(repetitionPenalty) +
                         " must be a finite positive value (1 is off)");
  return Status::ok();
}

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c,
                                   std::array<uint32_t, 2> k) {
  constexpr uint64_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57;
  constexpr uint32_t kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kW0;
      k[1] += kW1;
    }
    uint64_t p0 = kM0 * c[0], p1 = kM1 * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1),
         uint32_t(p0 >> 32) ^ c[3] ^ k[1], uint32_t(p0)};
  }
  return c;
}

RngStream RngStream::forRequest(const SamplingParams &params,
                                uint64_t engineSeed, int64_t requestId) {
  uint64_t key =
      params.seed ? mix64(*params.seed)
                  : mix64(engineSeed ^ mix64(static_cast<uint64_t>(requestId) ^
                                             0x5851F42D4C957F2Dull));
  return RngStream({uint32_t(key), uint32_t(key >> 32)});
}

std::array<uint32_t, 4> RngStream::counter(uint64_t step, uint32_t block) {
  return {block, 0, uint32_t(step), uint32_t(step >> 32)};
}

uint32_t RngStream::bits(uint64_t step, uint32_t index) const {
  return philox4x32(counter(step, index / 4), key_)[index % 4];
}

float RngStream::uniform(uint64_t step, uint32_t index) const {
  // 24 bits: every value is exact in float and below 1.
  return float(bits(step, index) >> 8) * 0x1p-24f;
}

void SamplingBatch::append(const SamplingParams &params, const RngStream &rng,
                           uint64_t step, std::span<const int32_t> sequence) {
  greedy.push_back(params.isGreedy());
  temperature.push_back(params.temperature);
  topK.push_back(params.topK);
  topP.push_back(params.topP);
  repetitionPenalty.push_back(params.repetitionPenalty);
  std::array<uint32_t, 2> key = rng.key();
  rngKey.insert(rngKey.end(), key.begin(), key.end());
  std::array<uint32_t, 4> c = RngStream::counter(step);
  rngCounter.insert(rngCounter.end(), c.begin(), c.end());
  // Only a repetition penalty reads the history.
  if (historyOffsets.empty())
    historyOffsets.push_back(0);
  if (!params.isGreedy() && params.repetitionPenalty != 1.0f)
    history.insert(history.end(), sequence.begin(), sequence.end());
  historyOffsets.push_back(int32_t(history.size()));
}

std::span<const int32_t> SamplingBatch::historyOf(size_t row) const {
  if (row + 1 >= historyOffsets.size())
    return {};
  return std::span(history).subspan(
      historyOffsets[row], historyOffsets[row + 1] - historyOffsets[row]);
}

float SamplingBatch::uniform(size_t row) const {
  std::array<uint32_t, 4> counter;
  std::copy_n(rngCounter.begin() + 4 * row, 4, counter.begin());
  uint32_t word =
      philox4x32(counter, {rngKey[2 * row], rngKey[2 * row + 1]})[0];
  return float(word >> 8) * 0x1p-24f;
}

} // namespace qc::runtime
