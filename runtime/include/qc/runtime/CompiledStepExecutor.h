//===- CompiledStepExecutor.h - scheduler steps on compiled kernels -*- C++
//-*-===//
//
// Runs the scheduler's step plans with a package's kernels: the compiled
// forward pass over the paged KV cache, then the compiled sampler on the
// rows the plan samples.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_COMPILEDSTEPEXECUTOR_H
#define QC_RUNTIME_COMPILEDSTEPEXECUTOR_H

#include "qc/runtime/ForwardRunner.h"
#include "qc/runtime/StepPlan.h"

#include <map>

namespace qc::runtime {

class CompiledStepExecutor final : public StepExecutor {
public:
  explicit CompiledStepExecutor(ForwardRunner &runner, int64_t vocabSize)
      : runner_(runner), vocabSize_(vocabSize) {}

  StatusOr<std::vector<int32_t>> execute(const StepPlan &plan) override;

  /// Keeps the logits of every position of request `id` as its steps
  /// compute them: its prompt's, then those of each decode step
  /// (quant-run --logits-out).
  void recordLogits(RequestId id, int32_t promptLength);
  /// [positions, vocab] row-major, from position 0; null until the whole
  /// prompt has been computed.
  const std::vector<float> *recordedLogits(RequestId id) const;

private:
  struct Recording {
    int32_t promptLength = 0;
    std::vector<float> logits;
    int32_t recorded = 0;
  };
  ForwardRunner &runner_;
  int64_t vocabSize_;
  std::map<RequestId, Recording> recordings_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_COMPILEDSTEPEXECUTOR_H
