//===- CompiledStepExecutor.cpp - scheduler steps on compiled kernels -----===//

#include "qc/runtime/CompiledStepExecutor.h"

#include <algorithm>

using namespace qc;
using namespace qc::runtime;

void CompiledStepExecutor::recordPromptLogits(RequestId id,
                                              int32_t promptLength) {
  Recording &r = recordings_[id];
  r.promptLength = promptLength;
  r.logits.assign(size_t(promptLength) * vocabSize_, 0.0f);
  r.recorded = 0;
}

const std::vector<float> *
CompiledStepExecutor::promptLogits(RequestId id) const {
  auto it = recordings_.find(id);
  if (it == recordings_.end() || it->second.recorded < it->second.promptLength)
    return nullptr;
  return &it->second.logits;
}

StatusOr<std::vector<int32_t>>
CompiledStepExecutor::execute(const StepPlan &plan) {
  for (size_t i = 0; i < plan.sampling.size(); ++i)
    if (!plan.sampling.greedy[i])
      return Status::error(
          "only greedy decoding runs on compiled kernels in this build: the "
          "sampling kernel (temperature, top-k, top-p, repetition penalty) is "
          "not compiled yet");

  ForwardBatch batch;
  batch.tokens = plan.tokens;
  batch.positions = plan.positions;
  batch.slotMapping = plan.slotMapping;
  batch.tokenSequence = plan.tokenSequence;
  batch.blockTables = plan.blockTables.blocks;
  batch.numSequences = plan.blockTables.rows;
  batch.blocksPerSequence = plan.blockTables.cols;
  std::vector<float> logits;
  QC_RETURN_IF_ERROR(runner_.forward(batch, logits));

  // Prompt logits of recorded requests, the first time each position runs.
  for (const ScheduledSequence &seq : plan.sequences) {
    auto it = recordings_.find(seq.id);
    if (it == recordings_.end())
      continue;
    Recording &r = it->second;
    for (int32_t i = 0; i < seq.numTokens; ++i) {
      int32_t position = seq.startPosition + i;
      if (position != r.recorded || position >= r.promptLength)
        continue;
      std::copy_n(logits.begin() + size_t(seq.tokenOffset + i) * vocabSize_,
                  vocabSize_, r.logits.begin() + size_t(position) * vocabSize_);
      ++r.recorded;
    }
  }

  std::vector<float> rows;
  rows.reserve(plan.logitIndices.size() * vocabSize_);
  for (int32_t index : plan.logitIndices)
    rows.insert(rows.end(), logits.begin() + size_t(index) * vocabSize_,
                logits.begin() + size_t(index + 1) * vocabSize_);
  if (rows.empty())
    return std::vector<int32_t>{};
  return runner_.argmax(rows);
}
