//===- Scheduler.cpp - Continuous batching scheduler ----------------------===//

#include "qc/runtime/Scheduler.h"

#include <algorithm>
#include <string>

namespace qc::runtime {

namespace {
std::string requestName(RequestId id) {
  return "request " + std::to_string(id);
}

/// An error unless every token is a valid id.
Status checkTokens(std::span<const int32_t> tokens, int32_t vocabSize,
                   const std::string &what) {
  for (int32_t token : tokens)
    if (token < 0 || (vocabSize > 0 && token >= vocabSize))
      return Status::error(what + " holds token " + std::to_string(token) +
                           (vocabSize > 0 ? ", outside the vocabulary of " +
                                                std::to_string(vocabSize)
                                          : ", a negative id"));
  return Status::ok();
}
} // namespace

Scheduler::Scheduler(const SchedulerConfig &config, KVCache &cache)
    : config_(config), cache_(&cache) {}

StatusOr<Scheduler> Scheduler::create(const SchedulerConfig &config,
                                      KVCache &cache) {
  if (config.maxTokensPerStep <= 0 || config.maxSequencesPerStep <= 0)
    return Status::error("scheduler: maxTokensPerStep (" +
                         std::to_string(config.maxTokensPerStep) +
                         ") and maxSequencesPerStep (" +
                         std::to_string(config.maxSequencesPerStep) +
                         ") must be positive");
  if (config.vocabSize < 0)
    return Status::error("scheduler: negative vocabulary size");
  // A recomputed sequence is fed whole: without chunks it must fit a step.
  if (!config.chunkedPrefill &&
      config.maxTokensPerStep < cache.maxSequenceLength())
    return Status::error(
        "scheduler: without chunked prefill, maxTokensPerStep (" +
        std::to_string(config.maxTokensPerStep) +
        ") must be at least the maximum sequence length (" +
        std::to_string(cache.maxSequenceLength()) + ")");
  return Scheduler(config, cache);
}

Status Scheduler::addRequest(Request request) {
  std::string name = requestName(request.id);
  if (requests_.count(request.id) || cache_->contains(request.id))
    return Status::error(name + " already exists");
  if (request.prompt.empty())
    return Status::error(name + ": empty prompt");
  if (request.maxNewTokens <= 0)
    return Status::error(name + ": maxNewTokens (" +
                         std::to_string(request.maxNewTokens) +
                         ") must be positive");
  int32_t maxLength = cache_->maxSequenceLength();
  if (request.prompt.size() >= size_t(maxLength))
    return Status::error(name + ": a prompt of " +
                         std::to_string(request.prompt.size()) +
                         " tokens leaves no room to generate within the "
                         "maximum sequence length " +
                         std::to_string(maxLength));
  QC_RETURN_IF_ERROR(
      checkTokens(request.prompt, config_.vocabSize, name + ": the prompt"));
  QC_RETURN_IF_ERROR(checkTokens(request.stopTokens, config_.vocabSize,
                                 name + ": the stop tokens"));
  QC_RETURN_IF_ERROR(
      request.sampling.validate(config_.vocabSize).withContext(name));

  RngStream rng =
      RngStream::forRequest(request.sampling, config_.seed, request.id);
  std::vector<int32_t> tokens = request.prompt;
  RequestId id = request.id;
  requests_.emplace(id,
                    RequestState{std::move(request), std::move(tokens),
                                 /*numComputed=*/0, /*preemptions=*/0, rng});
  waiting_.push_back(id);
  return Status::ok();
}

void Scheduler::removeRunning(RequestId id) {
  running_.erase(std::remove(running_.begin(), running_.end(), id),
                 running_.end());
}

void Scheduler::preempt(RequestId id) {
  RequestState &state = requests_.at(id);
  if (cache_->contains(id))
    (void)cache_->seqRemove(id);
  state.numComputed = 0;
  ++state.preemptions;
  ++numPreemptions_;
  removeRunning(id);
  waiting_.push_front(id);
}

FinishedRequest Scheduler::retire(RequestId id, FinishReason reason) {
  RequestState &state = requests_.at(id);
  FinishedRequest finished{
      id,
      {state.tokens.begin() + state.request.prompt.size(), state.tokens.end()},
      reason,
      state.preemptions};
  if (cache_->contains(id))
    (void)cache_->seqRemove(id);
  removeRunning(id);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), id),
                 waiting_.end());
  requests_.erase(id);
  return finished;
}

StatusOr<FinishedRequest> Scheduler::abortRequest(RequestId id) {
  if (outstanding_)
    return Status::error("cannot abort " + requestName(id) + " while step " +
                         std::to_string(*outstanding_) +
                         " awaits commit; abort between steps");
  if (!requests_.count(id))
    return Status::error("no " + requestName(id) + " to abort");
  return retire(id, FinishReason::Aborted);
}

std::optional<FinishReason>
Scheduler::finishReason(const RequestState &state) const {
  const std::vector<int32_t> &stops = state.request.stopTokens;
  if (std::find(stops.begin(), stops.end(), state.tokens.back()) != stops.end())
    return FinishReason::Stop;
  if (state.numGenerated() >= state.request.maxNewTokens)
    return FinishReason::Length;
  if (state.tokens.size() >= size_t(cache_->maxSequenceLength()))
    return FinishReason::ContextFull;
  return std::nullopt;
}

StatusOr<StepPlan> Scheduler::schedule() {
  if (outstanding_)
    return Status::error("step " + std::to_string(*outstanding_) +
                         " awaits commit or abandon");
  StepPlan plan;
  plan.stepIndex = nextStep_;
  int32_t budget = config_.maxTokensPerStep;
  std::vector<std::pair<RequestId, int32_t>> chosen;
  auto roomFor = [&] {
    return budget > 0 && chosen.size() < size_t(config_.maxSequencesPerStep);
  };

  // Running requests first, oldest first; each takes what it still needs
  // (a decode token or a prompt chunk), preempting the newest ones for
  // blocks. Those after index i have not been scheduled yet, so a victim is
  // never in this plan.
  bool preempted = false;
  for (size_t i = 0; i < running_.size() && roomFor();) {
    RequestId id = running_[i];
    const RequestState &state = requests_.at(id);
    int32_t count = std::min<int32_t>(
        int32_t(state.tokens.size()) - state.numComputed, budget);
    bool preemptedSelf = false;
    while (!cache_->canReserve(id, count)) {
      RequestId victim = running_.back();
      preempt(victim);
      plan.preempted.push_back(victim);
      preempted = true;
      if (victim == id) {
        preemptedSelf = true;
        break;
      }
    }
    if (preemptedSelf)
      break;
    QC_RETURN_IF_ERROR(cache_->reserve(id, count));
    chosen.emplace_back(id, count);
    budget -= count;
    ++i;
  }

  // Then waiting requests, in order, unless blocks just ran short.
  while (!preempted && !waiting_.empty() && roomFor()) {
    RequestId id = waiting_.front();
    const RequestState &state = requests_.at(id);
    int32_t remaining = int32_t(state.tokens.size()) - state.numComputed;
    int32_t count = std::min(remaining, budget);
    if (count < remaining && !config_.chunkedPrefill)
      break;
    if (!cache_->canReserve(id, count)) {
      // With nothing running the cache is empty: this request can never run.
      if (running_.empty())
        return cache_->reserve(id, count).withContext("cannot schedule " +
                                                      requestName(id));
      break;
    }
    QC_RETURN_IF_ERROR(cache_->reserve(id, count));
    waiting_.pop_front();
    running_.push_back(id);
    chosen.emplace_back(id, count);
    budget -= count;
  }

  QC_RETURN_IF_ERROR(fillPlan(plan, chosen));
  if (!plan.empty())
    outstanding_ = nextStep_++;
  return plan;
}

Status
Scheduler::fillPlan(StepPlan &plan,
                    const std::vector<std::pair<RequestId, int32_t>> &chosen) {
  std::vector<SeqId> ids;
  for (const auto &[id, count] : chosen) {
    const RequestState &state = requests_.at(id);
    int32_t row = int32_t(plan.sequences.size());
    int32_t start = state.numComputed;
    ScheduledSequence seq;
    seq.id = id;
    seq.tokenOffset = int32_t(plan.tokens.size());
    seq.numTokens = count;
    seq.startPosition = start;
    for (int32_t pos = start; pos < start + count; ++pos) {
      QC_ASSIGN_OR_RETURN(KVSlot slot, cache_->slotFor(id, pos));
      plan.tokens.push_back(state.tokens[pos]);
      plan.positions.push_back(pos);
      plan.slotMapping.push_back(slot.flat);
      plan.tokenSequence.push_back(row);
    }
    bool reachesEnd = size_t(start + count) == state.tokens.size();
    seq.isPrefill = !(count == 1 && reachesEnd && state.numGenerated() > 0);
    (seq.isPrefill ? plan.numPrefillTokens : plan.numDecodeTokens) += count;
    // Only the last token of the known sequence predicts a new one.
    if (reachesEnd) {
      seq.logitsRow = int32_t(plan.logitIndices.size());
      plan.logitIndices.push_back(seq.tokenOffset + count - 1);
      plan.sampling.append(state.request.sampling, state.rng,
                           uint64_t(state.numGenerated()), state.tokens);
    }
    plan.contextLengths.push_back(start + count);
    plan.sequences.push_back(seq);
    ids.push_back(id);
  }
  QC_ASSIGN_OR_RETURN(plan.blockTables, cache_->blockTable(ids));
  return Status::ok();
}

StatusOr<StepOutput> Scheduler::commit(const StepPlan &plan,
                                       std::span<const int32_t> sampled) {
  if (!outstanding_ || plan.stepIndex != *outstanding_)
    return Status::error("commit: step " + std::to_string(plan.stepIndex) +
                         " is not the step awaiting commit");
  if (sampled.size() != plan.logitIndices.size())
    return Status::error("commit: step " + std::to_string(plan.stepIndex) +
                         " samples " +
                         std::to_string(plan.logitIndices.size()) +
                         " tokens, got " + std::to_string(sampled.size()));
  QC_RETURN_IF_ERROR(
      checkTokens(sampled, config_.vocabSize, "commit: the sampled tokens"));
  StepOutput output;
  for (const ScheduledSequence &seq : plan.sequences) {
    RequestState &state = requests_.at(seq.id);
    state.numComputed += seq.numTokens;
    if (seq.logitsRow < 0)
      continue;
    int32_t token = sampled[seq.logitsRow];
    state.tokens.push_back(token);
    output.tokens.push_back({seq.id, token});
    if (std::optional<FinishReason> reason = finishReason(state))
      output.finished.push_back(retire(seq.id, *reason));
  }
  outstanding_.reset();
  return output;
}

Status Scheduler::abandon(const StepPlan &plan) {
  if (!outstanding_ || plan.stepIndex != *outstanding_)
    return Status::error("abandon: step " + std::to_string(plan.stepIndex) +
                         " is not the step awaiting commit");
  // In reverse, so that the plan's order is the queue's front order.
  for (auto it = plan.sequences.rbegin(); it != plan.sequences.rend(); ++it)
    preempt(it->id);
  outstanding_.reset();
  return Status::ok();
}

StatusOr<StepOutput> Scheduler::step(StepExecutor &executor) {
  QC_ASSIGN_OR_RETURN(StepPlan plan, schedule());
  if (plan.empty())
    return StepOutput();
  StatusOr<std::vector<int32_t>> sampled = executor.execute(plan);
  if (!sampled) {
    QC_RETURN_IF_ERROR(abandon(plan));
    return Status(sampled.status())
        .withContext("step " + std::to_string(plan.stepIndex));
  }
  return commit(plan, *sampled);
}

} // namespace qc::runtime
