//===- CompiledStepExecutor.cpp - scheduler steps on compiled kernels -----===//

#include "qc/runtime/CompiledStepExecutor.h"

#include <algorithm>

using namespace qc;
using namespace qc::runtime;

void CompiledStepExecutor::recordLogits(RequestId id, int32_t promptLength) {
  Recording &r = recordings_[id];
  r.promptLength = promptLength;
  r.logits.clear();
  r.recorded = 0;
}

const std::vector<float> *
CompiledStepExecutor::recordedLogits(RequestId id) const {
  auto it = recordings_.find(id);
  if (it == recordings_.end() || it->second.recorded < it->second.promptLength)
    return nullptr;
  return &it->second.logits;
}

StatusOr<std::vector<int32_t>>
CompiledStepExecutor::execute(const StepPlan &plan) {
  const SamplingBatch &sampling = plan.sampling;
  if (sampling.size() != plan.logitIndices.size())
    return Status::error("step plan: " + std::to_string(sampling.size()) +
                         " sampling rows for " +
                         std::to_string(plan.logitIndices.size()) +
                         " logits rows");

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

  // Logits of recorded requests, the first time each position runs (a
  // preempted sequence recomputes positions it has recorded).
  for (const ScheduledSequence &seq : plan.sequences) {
    auto it = recordings_.find(seq.id);
    if (it == recordings_.end())
      continue;
    Recording &r = it->second;
    for (int32_t i = 0; i < seq.numTokens; ++i) {
      if (seq.startPosition + i != r.recorded)
        continue;
      auto row = logits.begin() + size_t(seq.tokenOffset + i) * vocabSize_;
      r.logits.insert(r.logits.end(), row, row + vocabSize_);
      ++r.recorded;
    }
  }

  // Greedy rows go to the argmax kernel, the others to the sampling kernel
  // with their parameters, history and draw.
  std::vector<size_t> greedyRows, sampledRows;
  for (size_t i = 0; i < sampling.size(); ++i)
    (sampling.greedy[i] ? greedyRows : sampledRows).push_back(i);
  auto gather = [&](const std::vector<size_t> &which) {
    std::vector<float> rows;
    rows.reserve(which.size() * vocabSize_);
    for (size_t i : which) {
      auto row = logits.begin() + size_t(plan.logitIndices[i]) * vocabSize_;
      rows.insert(rows.end(), row, row + vocabSize_);
    }
    return rows;
  };
  std::vector<int32_t> sampled(sampling.size());
  if (!greedyRows.empty()) {
    std::vector<float> rows = gather(greedyRows);
    QC_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, runner_.argmax(rows));
    for (size_t j = 0; j < greedyRows.size(); ++j)
      sampled[greedyRows[j]] = tokens[j];
  }
  if (!sampledRows.empty()) {
    SamplerInputs in;
    for (size_t i : sampledRows) {
      in.temperature.push_back(sampling.temperature[i]);
      in.topK.push_back(sampling.topK[i]);
      in.topP.push_back(sampling.topP[i]);
      in.repetitionPenalty.push_back(sampling.repetitionPenalty[i]);
      in.uniform.push_back(sampling.uniform(i));
      in.historyWidth =
          std::max(in.historyWidth, int64_t(sampling.historyOf(i).size()));
    }
    in.history.assign(sampledRows.size() * in.historyWidth, -1);
    for (size_t j = 0; j < sampledRows.size(); ++j)
      std::ranges::copy(sampling.historyOf(sampledRows[j]),
                        in.history.begin() + j * in.historyWidth);
    std::vector<float> rows = gather(sampledRows);
    QC_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, runner_.sample(rows, in));
    for (size_t j = 0; j < sampledRows.size(); ++j)
      sampled[sampledRows[j]] = tokens[j];
  }
  return sampled;
}
