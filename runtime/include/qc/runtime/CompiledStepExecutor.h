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

  /// Keeps the logits of the first `promptLength` positions of request `id`
  /// as its prefill computes them (quant-run --logits-out).
  void recordPromptLogits(RequestId id, int32_t promptLength);
  /// [promptLength, vocab] row-major, once the prompt has been computed.
  const std::vector<float> *promptLogits(RequestId id) const;

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
