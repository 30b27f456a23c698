//===- StepPlan.h - One engine step, as the kernels take it -----*- C++ -*-===//
//
// What the scheduler decided for one step, laid out as the compiled forward
// function takes it (the qc_forward ABI of convert-qc-to-linalg): flat
// per-token arrays of ids, positions, cache slots and batch rows, one block
// table row per sequence, and the rows whose logits are sampled together with
// their sampling inputs. The model itself runs behind StepExecutor.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_STEPPLAN_H
#define QC_RUNTIME_STEPPLAN_H

#include "qc/runtime/KVCache.h"
#include "qc/runtime/Request.h"
#include "qc/runtime/Sampling.h"

#include <cstdint>
#include <vector>

namespace qc::runtime {

/// One sequence's share of a step.
struct ScheduledSequence {
  RequestId id = 0;
  /// Its tokens are [tokenOffset, tokenOffset + numTokens) of the arrays.
  int32_t tokenOffset = 0, numTokens = 0;
  /// The position of its first token this step.
  int32_t startPosition = 0;
  /// A prompt chunk (or recomputation after preemption), not one decode
  /// token.
  bool isPrefill = false;
  /// Row of StepPlan::logitIndices and ::sampling, or -1 when this step ends
  /// inside the prompt and samples nothing.
  int32_t logitsRow = -1;
};

struct StepPlan {
  /// Numbers the plans so that commit() can check it gets the current one.
  uint64_t stepIndex = 0;
  std::vector<ScheduledSequence> sequences;

  /// Per token.
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> slotMapping;   ///< cache slot its keys/values go to
  std::vector<int32_t> tokenSequence; ///< its row in `sequences`

  /// Per sequence: its blocks, and the positions cached once this step's
  /// tokens are written.
  BlockTable blockTables;
  std::vector<int32_t> contextLengths;

  /// The token indices whose logits are sampled, with their sampling inputs.
  std::vector<int32_t> logitIndices;
  SamplingBatch sampling;

  /// Requests preempted while planning this step (they wait to recompute).
  std::vector<RequestId> preempted;
  int32_t numPrefillTokens = 0, numDecodeTokens = 0;

  bool empty() const { return sequences.empty(); }
};

/// Runs the model on a plan. The engine implements it with compiled kernels
/// (forward, then the sampling kernel); tests implement it with fakes.
class StepExecutor {
public:
  virtual ~StepExecutor() = default;
  /// Writes the keys/values of plan.tokens to the cache and returns one
  /// sampled token per entry of plan.logitIndices, in that order.
  virtual StatusOr<std::vector<int32_t>> execute(const StepPlan &plan) = 0;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_STEPPLAN_H
