//===- Scheduler.h - Continuous batching scheduler --------------*- C++ -*-===//
//
// Continuous batching in the manner of vLLM's scheduler, driven as a loop of
// steps (MLC-LLM's engine actions): requests wait in a queue; each step first
// continues the running requests in admission order (one decode token each,
// or the next chunk of a prompt), then admits waiting requests while the
// token budget, the sequence limit and the KV cache allow. When the cache has
// no block for a running request, the most recently admitted request is
// preempted: its blocks are freed and it waits again at the front of the
// queue, to be recomputed from its prompt and the tokens it has generated.
// Recomputation samples nothing until it catches up, and sampling draws are
// keyed by token index, so preemption changes no output. Requests finish
// between steps, on a stop token, after maxNewTokens tokens, or when the
// sequence reaches the cache's maximum length.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_SCHEDULER_H
#define QC_RUNTIME_SCHEDULER_H

#include "qc/runtime/KVCache.h"
#include "qc/runtime/Request.h"
#include "qc/runtime/StepPlan.h"

#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace qc::runtime {

struct SchedulerConfig {
  /// Tokens fed in one step, prompts and decodes together.
  int32_t maxTokensPerStep = 2048;
  /// Sequences in one step.
  int32_t maxSequencesPerStep = 64;
  /// Split prompts that exceed the remaining budget over several steps.
  /// Without it, maxTokensPerStep must cover the longest sequence.
  bool chunkedPrefill = true;
  /// Keys the sampling streams of requests without a seed of their own.
  uint64_t seed = 0;
  /// When positive, prompt tokens, sampled tokens and top_k are checked
  /// against it.
  int32_t vocabSize = 0;
};

/// A token sampled in a step.
struct TokenEvent {
  RequestId id = 0;
  int32_t token = 0;
};

struct FinishedRequest {
  RequestId id = 0;
  /// The generated tokens (a final stop token included).
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::Stop;
  /// How often it was preempted and recomputed.
  int32_t preemptions = 0;
};

struct StepOutput {
  std::vector<TokenEvent> tokens;
  std::vector<FinishedRequest> finished;
};

class Scheduler {
public:
  /// `cache` must outlive the scheduler, and only the scheduler may add or
  /// remove its sequences.
  static StatusOr<Scheduler> create(const SchedulerConfig &config,
                                    KVCache &cache);

  /// Queues a request; refuses duplicates and requests that can never run.
  Status addRequest(Request request);
  /// Removes a waiting or running request at once, with what it generated;
  /// between steps only (not while a plan awaits commit).
  StatusOr<FinishedRequest> abortRequest(RequestId id);

  /// Plans the next step and reserves its cache slots; an empty plan when
  /// there is nothing to do. One plan at a time: commit or abandon it first.
  StatusOr<StepPlan> schedule();
  /// Applies the tokens sampled for `plan` (one per logits row): appends
  /// them, and retires the requests that finish.
  StatusOr<StepOutput> commit(const StepPlan &plan,
                              std::span<const int32_t> sampled);
  /// Gives up a plan whose execution failed: its requests are preempted, so
  /// they will be recomputed and none is lost.
  Status abandon(const StepPlan &plan);
  /// schedule(), executor.execute() and commit(); abandons the plan when the
  /// executor fails.
  StatusOr<StepOutput> step(StepExecutor &executor);

  bool hasWork() const { return !waiting_.empty() || !running_.empty(); }
  size_t numWaiting() const { return waiting_.size(); }
  size_t numRunning() const { return running_.size(); }
  /// Preemptions so far, over all requests.
  int64_t numPreemptions() const { return numPreemptions_; }

private:
  Scheduler(const SchedulerConfig &config, KVCache &cache);

  struct RequestState {
    Request request;
    /// The prompt, then the generated tokens.
    std::vector<int32_t> tokens;
    /// Tokens whose keys/values are in the cache.
    int32_t numComputed = 0;
    int32_t preemptions = 0;
    RngStream rng;

    int32_t numGenerated() const {
      return int32_t(tokens.size() - request.prompt.size());
    }
  };

  /// Frees the cache of a running request and queues it for recomputation.
  void preempt(RequestId id);
  void removeRunning(RequestId id);
  /// Builds the arrays of `plan` for the chosen (request, token count)s.
  Status fillPlan(StepPlan &plan,
                  const std::vector<std::pair<RequestId, int32_t>> &chosen);
  /// Why `state` finishes after its last token, if it does.
  std::optional<FinishReason> finishReason(const RequestState &state) const;
  FinishedRequest retire(RequestId id, FinishReason reason);

  SchedulerConfig config_;
  KVCache *cache_;
  std::unordered_map<RequestId, RequestState> requests_;
  std::deque<RequestId> waiting_;
  /// In admission order: the last is the first to be preempted.
  std::vector<RequestId> running_;
  uint64_t nextStep_ = 0;
  /// The step index of the plan awaiting commit or abandon.
  std::optional<uint64_t> outstanding_;
  int64_t numPreemptions_ = 0;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_SCHEDULER_H
