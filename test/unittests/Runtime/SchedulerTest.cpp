//===- SchedulerTest.cpp - Tests for qc::runtime::Scheduler ---------------===//
//
// A fake model stands in for the compiled kernels: it writes each fed token
// into a slot array through the slot mapping (as the KV write does), then
// reads a sequence's whole history back through its block table (as
// attention does) and derives the next token from that history and the
// request's random draw. Any bookkeeping error (a wrong slot, a stale block, a
// lost token after preemption) changes the history and so the output, which
// must equal a one-request-at-a-time reference.
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/Scheduler.h"
#include "qc/runtime/PagedKVCache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

using namespace qc;
using namespace qc::runtime;

namespace {

constexpr int32_t kVocab = 97;

/// The fake model's next token: a hash of the history, shifted by the random
/// draw unless greedy.
int32_t nextToken(std::span<const int32_t> history, bool greedy, float u) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : history)
    h = (h ^ uint64_t(t)) * 1099511628211ull;
  int32_t shift = greedy ? 0 : int32_t(u * 5);
  return int32_t((h % kVocab + shift) % kVocab);
}

class FakeModel : public StepExecutor {
public:
  FakeModel(const KVCache &cache)
      : slots_(size_t(cache.numBlocks()) * cache.blockSize(), -1),
        blockSize_(cache.blockSize()) {}

  StatusOr<std::vector<int32_t>> execute(const StepPlan &plan) override {
    ++calls;
    if (failEvery && calls % failEvery == 0)
      return Status::error("injected failure");
    for (size_t t = 0; t < plan.tokens.size(); ++t)
      slots_[plan.slotMapping[t]] = plan.tokens[t];
    std::vector<int32_t> sampled;
    for (size_t row = 0; row < plan.logitIndices.size(); ++row) {
      int32_t t = plan.logitIndices[row];
      int32_t seq = plan.tokenSequence[t], pos = plan.positions[t];
      if (pos + 1 != plan.contextLengths[seq])
        return Status::error("logits row is not the sequence's last token");
      std::span<const int32_t> blocks = plan.blockTables.row(seq);
      std::vector<int32_t> history;
      for (int32_t j = 0; j <= pos; ++j) {
        int32_t token =
            slots_[blocks[j / blockSize_] * blockSize_ + j % blockSize_];
        if (token < 0)
          return Status::error("read a slot never written");
        history.push_back(token);
      }
      // What the sampling kernel does with its inputs: draw 0 of the row.
      std::array<uint32_t, 2> key = {plan.sampling.rngKey[2 * row],
                                     plan.sampling.rngKey[2 * row + 1]};
      std::array<uint32_t, 4> counter;
      std::copy_n(plan.sampling.rngCounter.begin() + 4 * row, 4,
                  counter.begin());
      float u = float(philox4x32(counter, key)[0] >> 8) * 0x1p-24f;
      sampled.push_back(nextToken(history, plan.sampling.greedy[row], u));
    }
    return sampled;
  }

  int failEvery = 0;
  int calls = 0;

private:
  std::vector<int32_t> slots_;
  int32_t blockSize_;
};

/// The request run alone, straight from the model's definition.
FinishedRequest reference(const Request &r, int32_t maxSequenceLength,
                          uint64_t engineSeed) {
  RngStream rng = RngStream::forRequest(r.sampling, engineSeed, r.id);
  std::vector<int32_t> tokens = r.prompt;
  FinishedRequest out{r.id, {}, FinishReason::Stop, 0};
  for (;;) {
    int32_t t = nextToken(tokens, r.sampling.isGreedy(),
                          rng.uniform(out.tokens.size()));
    tokens.push_back(t);
    out.tokens.push_back(t);
    if (std::count(r.stopTokens.begin(), r.stopTokens.end(), t))
      return out;
    if (int32_t(out.tokens.size()) >= r.maxNewTokens) {
      out.reason = FinishReason::Length;
      return out;
    }
    if (int32_t(tokens.size()) >= maxSequenceLength) {
      out.reason = FinishReason::ContextFull;
      return out;
    }
  }
}

/// Requests of varied lengths and sampling settings.
std::vector<Request> makeRequests(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Request> requests;
  for (int i = 0; i < count; ++i) {
    Request r;
    r.id = 100 + i;
    int32_t length = 1 + rng() % 40;
    for (int32_t k = 0; k < length; ++k)
      r.prompt.push_back(rng() % kVocab);
    r.maxNewTokens = 1 + rng() % 30;
    if (i % 3 == 0)
      r.stopTokens = {int32_t(rng() % kVocab), int32_t(rng() % kVocab)};
    if (i % 4 == 0)
      r.sampling = SamplingParams::makeGreedy();
    if (i % 5 == 0)
      r.sampling.seed = 7;
    requests.push_back(r);
  }
  return requests;
}

/// Checks what every plan must satisfy.
void checkPlan(const StepPlan &plan, const SchedulerConfig &config,
               const KVCache &cache) {
  ASSERT_LE(plan.tokens.size(), size_t(config.maxTokensPerStep));
  ASSERT_LE(plan.sequences.size(), size_t(config.maxSequencesPerStep));
  size_t n = plan.tokens.size();
  ASSERT_EQ(plan.positions.size(), n);
  ASSERT_EQ(plan.slotMapping.size(), n);
  ASSERT_EQ(plan.tokenSequence.size(), n);
  ASSERT_EQ(plan.blockTables.rows, int32_t(plan.sequences.size()));
  ASSERT_EQ(plan.contextLengths.size(), plan.sequences.size());
  ASSERT_EQ(plan.sampling.size(), plan.logitIndices.size());
  EXPECT_EQ(size_t(plan.numPrefillTokens + plan.numDecodeTokens), n);
  std::set<int32_t> slots(plan.slotMapping.begin(), plan.slotMapping.end());
  EXPECT_EQ(slots.size(), n) << "two tokens share a cache slot";
  std::set<RequestId> ids;
  for (size_t row = 0; row < plan.sequences.size(); ++row) {
    const ScheduledSequence &seq = plan.sequences[row];
    EXPECT_TRUE(ids.insert(seq.id).second);
    EXPECT_EQ(plan.contextLengths[row], seq.startPosition + seq.numTokens);
    EXPECT_EQ(cache.seqLength(seq.id), plan.contextLengths[row]);
    for (int32_t k = 0; k < seq.numTokens; ++k) {
      EXPECT_EQ(plan.positions[seq.tokenOffset + k], seq.startPosition + k);
      EXPECT_EQ(plan.tokenSequence[seq.tokenOffset + k], int32_t(row));
    }
    if (seq.logitsRow >= 0)
      EXPECT_EQ(plan.logitIndices[seq.logitsRow],
                seq.tokenOffset + seq.numTokens - 1);
  }
}

struct RunResult {
  std::map<RequestId, FinishedRequest> finished;
  std::map<RequestId, std::vector<int32_t>> streamed;
  int64_t preemptions = 0;
  int steps = 0;
};

/// Drives the scheduler to completion. With `stagger`, half the requests
/// join at the start and the others one every `stagger` iterations; with
/// `failEvery`, every failEvery-th execution fails and its plan is abandoned.
RunResult run(const SchedulerConfig &config, const KVCacheConfig &kvConfig,
              const std::vector<Request> &requests, int stagger = 0,
              int failEvery = 0) {
  RunResult result;
  auto cache = PagedKVCache::create(kvConfig);
  EXPECT_TRUE(cache.isOk()) << cache.status().message();
  auto scheduler = Scheduler::create(config, *cache);
  EXPECT_TRUE(scheduler.isOk()) << scheduler.status().message();
  FakeModel model(*cache);
  model.failEvery = failEvery;
  size_t added = 0;
  auto addSome = [&](size_t n) {
    for (; added < requests.size() && n > 0; ++added, --n)
      EXPECT_TRUE(scheduler->addRequest(requests[added]).isOk());
  };
  addSome(stagger ? requests.size() / 2 : requests.size());
  for (int iteration = 0; scheduler->hasWork() || added < requests.size();
       ++iteration) {
    if (iteration > 10000) {
      ADD_FAILURE() << "no progress";
      break;
    }
    if (stagger && iteration % stagger == 0)
      addSome(1);
    auto plan = scheduler->schedule();
    EXPECT_TRUE(plan.isOk()) << plan.status().message();
    if (!plan.isOk())
      break;
    checkPlan(*plan, config, *cache);
    if (plan->empty()) {
      addSome(1);
      continue;
    }
    auto sampled = model.execute(*plan);
    if (!sampled.isOk()) {
      EXPECT_EQ(sampled.status().message(), "injected failure");
      EXPECT_TRUE(scheduler->abandon(*plan).isOk());
      continue;
    }
    auto output = scheduler->commit(*plan, *sampled);
    EXPECT_TRUE(output.isOk()) << output.status().message();
    for (const TokenEvent &e : output->tokens)
      result.streamed[e.id].push_back(e.token);
    for (FinishedRequest &f : output->finished)
      result.finished.emplace(f.id, std::move(f));
    ++result.steps;
  }
  result.preemptions = scheduler->numPreemptions();
  EXPECT_EQ(cache->numFreeBlocks(), kvConfig.numBlocks);
  return result;
}

void expectMatchesReference(const RunResult &result,
                            const std::vector<Request> &requests,
                            int32_t maxSequenceLength, uint64_t seed) {
  ASSERT_EQ(result.finished.size(), requests.size());
  for (const Request &r : requests) {
    FinishedRequest expected = reference(r, maxSequenceLength, seed);
    const FinishedRequest &got = result.finished.at(r.id);
    EXPECT_EQ(got.tokens, expected.tokens) << "request " << r.id;
    EXPECT_EQ(got.reason, expected.reason) << "request " << r.id;
    EXPECT_EQ(result.streamed.at(r.id), got.tokens);
  }
}

//===----------------------------------------------------------------------===//
// Outputs
//===----------------------------------------------------------------------===//

TEST(SchedulerTest, ConcurrentRequestsMatchOneAtATime) {
  SchedulerConfig config;
  config.maxTokensPerStep = 32; // forces chunked prefill of long prompts
  config.maxSequencesPerStep = 6;
  config.seed = 99;
  config.vocabSize = kVocab;
  KVCacheConfig kv{4, 200, 64};
  std::vector<Request> requests = makeRequests(16, 1);
  RunResult result = run(config, kv, requests);
  EXPECT_EQ(result.preemptions, 0);
  expectMatchesReference(result, requests, kv.maxSequenceLength, config.seed);
}

TEST(SchedulerTest, PreemptionLosesNoRequestAndChangesNoOutput) {
  SchedulerConfig config;
  config.maxTokensPerStep = 48;
  config.maxSequencesPerStep = 8;
  config.seed = 5;
  // Room for little more than one request of the maximum length.
  KVCacheConfig kv{4, 20, 64};
  std::vector<Request> requests = makeRequests(12, 2);
  RunResult result = run(config, kv, requests);
  EXPECT_GT(result.preemptions, 0);
  expectMatchesReference(result, requests, kv.maxSequenceLength, config.seed);
  int preempted = 0;
  for (const auto &[id, f] : result.finished)
    preempted += f.preemptions > 0;
  EXPECT_GT(preempted, 0);
}

TEST(SchedulerTest, LateArrivalsAndExecutorFailuresChangeNoOutput) {
  SchedulerConfig config;
  config.maxTokensPerStep = 24;
  config.maxSequencesPerStep = 4;
  KVCacheConfig kv{4, 24, 64};
  std::vector<Request> requests = makeRequests(10, 3);
  RunResult result = run(config, kv, requests, /*stagger=*/3,
                         /*failEvery=*/4);
  expectMatchesReference(result, requests, kv.maxSequenceLength, config.seed);
}

TEST(SchedulerTest, WithoutChunkedPrefillPromptsRunWhole) {
  SchedulerConfig config;
  config.chunkedPrefill = false;
  config.maxTokensPerStep = 64;
  KVCacheConfig kv{4, 40, 64};
  std::vector<Request> requests = makeRequests(8, 4);
  auto cache = PagedKVCache::create(kv);
  auto scheduler = Scheduler::create(config, *cache);
  ASSERT_TRUE(scheduler.isOk());
  for (const Request &r : requests)
    ASSERT_TRUE(scheduler->addRequest(r).isOk());
  auto plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  for (const ScheduledSequence &seq : plan->sequences) {
    EXPECT_EQ(seq.startPosition, 0);
    EXPECT_GE(seq.logitsRow, 0); // whole prompt: it samples
  }
  RunResult result = run(config, kv, requests);
  expectMatchesReference(result, requests, kv.maxSequenceLength, config.seed);
}

//===----------------------------------------------------------------------===//
// Planning details
//===----------------------------------------------------------------------===//

Request request(RequestId id, int32_t promptLength, int32_t maxNew) {
  Request r;
  r.id = id;
  r.prompt.assign(promptLength, 3);
  r.maxNewTokens = maxNew;
  return r;
}

TEST(SchedulerTest, ChunksLongPromptsAndSamplesAfterTheLastChunk) {
  SchedulerConfig config;
  config.maxTokensPerStep = 16;
  auto cache = PagedKVCache::create({4, 32, 100});
  auto scheduler = Scheduler::create(config, *cache);
  ASSERT_TRUE(scheduler.isOk());
  ASSERT_TRUE(scheduler->addRequest(request(1, 40, 2)).isOk());
  ASSERT_TRUE(scheduler->addRequest(request(2, 5, 2)).isOk());

  auto plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  ASSERT_EQ(plan->sequences.size(), 1u); // request 1 takes the whole budget
  EXPECT_EQ(plan->sequences[0].numTokens, 16);
  EXPECT_EQ(plan->sequences[0].logitsRow, -1);
  EXPECT_TRUE(plan->logitIndices.empty());
  auto out = scheduler->commit(*plan, {});
  ASSERT_TRUE(out.isOk());
  EXPECT_TRUE(out->tokens.empty());

  plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->sequences[0].startPosition, 16);
  ASSERT_TRUE(scheduler->commit(*plan, {}).isOk());

  // The last 8 prompt tokens, then request 2's 5 (budget 16 - 8 = 8).
  plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  ASSERT_EQ(plan->sequences.size(), 2u);
  EXPECT_EQ(plan->sequences[0].numTokens, 8);
  EXPECT_EQ(plan->sequences[0].logitsRow, 0);
  EXPECT_TRUE(plan->sequences[0].isPrefill);
  EXPECT_EQ(plan->sequences[1].id, 2);
  EXPECT_EQ(plan->sequences[1].numTokens, 5);
  EXPECT_EQ(plan->logitIndices, (std::vector<int32_t>{7, 12}));
  std::vector<int32_t> sampled = {10, 11};
  ASSERT_TRUE(scheduler->commit(*plan, sampled).isOk());

  // Both decode now.
  plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->tokens, (std::vector<int32_t>{10, 11}));
  EXPECT_EQ(plan->positions, (std::vector<int32_t>{40, 5}));
  EXPECT_EQ(plan->numDecodeTokens, 2);
  EXPECT_FALSE(plan->sequences[0].isPrefill);
  out = scheduler->commit(*plan, sampled);
  ASSERT_TRUE(out.isOk());
  ASSERT_EQ(out->finished.size(), 2u);
  EXPECT_EQ(out->finished[0].reason, FinishReason::Length);
  EXPECT_EQ(out->finished[0].tokens, (std::vector<int32_t>{10, 10}));
  EXPECT_FALSE(scheduler->hasWork());
  EXPECT_EQ(cache->numFreeBlocks(), 32);
}

TEST(SchedulerTest, FinishesOnStopTokenAndFullContext) {
  SchedulerConfig config;
  auto cache = PagedKVCache::create({4, 8, 8});
  auto scheduler = Scheduler::create(config, *cache);
  ASSERT_TRUE(scheduler.isOk());
  Request stop = request(1, 2, 100);
  stop.stopTokens = {42};
  ASSERT_TRUE(scheduler->addRequest(stop).isOk());
  ASSERT_TRUE(scheduler->addRequest(request(2, 5, 100)).isOk());
  std::map<RequestId, FinishedRequest> finished;
  for (int32_t token : {7, 42, 7}) {
    auto plan = scheduler->schedule();
    ASSERT_TRUE(plan.isOk());
    std::vector<int32_t> sampled(plan->logitIndices.size(), token);
    auto out = scheduler->commit(*plan, sampled);
    ASSERT_TRUE(out.isOk());
    for (FinishedRequest &f : out->finished)
      finished.emplace(f.id, f);
  }
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[1].reason, FinishReason::Stop);
  EXPECT_EQ(finished[1].tokens, (std::vector<int32_t>{7, 42}));
  // 5 prompt tokens + 3 generated reach the maximum length 8.
  EXPECT_EQ(finished[2].reason, FinishReason::ContextFull);
  EXPECT_EQ(finished[2].tokens, (std::vector<int32_t>{7, 42, 7}));
  EXPECT_STREQ(finishReasonName(FinishReason::ContextFull), "context_full");
}

TEST(SchedulerTest, RespectsTheSequenceLimit) {
  SchedulerConfig config;
  config.maxSequencesPerStep = 3;
  auto cache = PagedKVCache::create({4, 64, 32});
  auto scheduler = Scheduler::create(config, *cache);
  ASSERT_TRUE(scheduler.isOk());
  for (RequestId id = 0; id < 5; ++id)
    ASSERT_TRUE(scheduler->addRequest(request(id, 3, 4)).isOk());
  auto plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->sequences.size(), 3u);
  EXPECT_EQ(scheduler->numWaiting(), 2u);
  EXPECT_EQ(scheduler->numRunning(), 3u);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(SchedulerTest, RefusesBadConfigsAndRequests) {
  auto cache = PagedKVCache::create({4, 16, 32});
  ASSERT_TRUE(cache.isOk());
  SchedulerConfig bad;
  bad.maxTokensPerStep = 0;
  EXPECT_FALSE(Scheduler::create(bad, *cache).isOk());
  bad = {};
  bad.chunkedPrefill = false;
  bad.maxTokensPerStep = 16;
  auto refused = Scheduler::create(bad, *cache);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("maximum sequence length (32)"),
            std::string::npos);

  SchedulerConfig config;
  config.vocabSize = 50;
  auto scheduler = Scheduler::create(config, *cache);
  ASSERT_TRUE(scheduler.isOk());
  auto addError = [&](Request r) {
    Status s = scheduler->addRequest(std::move(r));
    return s.isOk() ? std::string() : s.message();
  };
  EXPECT_EQ(addError(request(1, 4, 4)), "");
  EXPECT_EQ(addError(request(1, 4, 4)), "request 1 already exists");
  EXPECT_EQ(addError(request(2, 0, 4)), "request 2: empty prompt");
  EXPECT_EQ(addError(request(2, 4, 0)),
            "request 2: maxNewTokens (0) must be positive");
  EXPECT_EQ(addError(request(2, 32, 4)),
            "request 2: a prompt of 32 tokens leaves no room to generate "
            "within the maximum sequence length 32");
  Request r = request(2, 4, 4);
  r.prompt[2] = 50;
  EXPECT_EQ(addError(r), "request 2: the prompt holds token 50, outside the "
                         "vocabulary of 50");
  r = request(2, 4, 4);
  r.stopTokens = {-3};
  EXPECT_NE(addError(r).find("stop tokens holds token -3"), std::string::npos);
  r = request(2, 4, 4);
  r.sampling.topP = 0;
  EXPECT_EQ(addError(r), "request 2: sampling: top_p 0.000000 must be in "
                         "(0, 1]");
  EXPECT_EQ(scheduler->numWaiting(), 1u);
}

TEST(SchedulerTest, ProtocolErrorsAreReportedNotFatal) {
  auto cache = PagedKVCache::create({4, 16, 32});
  auto scheduler = Scheduler::create({}, *cache);
  ASSERT_TRUE(scheduler.isOk());
  ASSERT_TRUE(scheduler->addRequest(request(1, 4, 4)).isOk());
  ASSERT_TRUE(scheduler->addRequest(request(2, 4, 4)).isOk());
  auto plan = scheduler->schedule();
  ASSERT_TRUE(plan.isOk());
  EXPECT_FALSE(scheduler->schedule().isOk());      // plan outstanding
  EXPECT_FALSE(scheduler->abortRequest(1).isOk()); // mid-step
  std::vector<int32_t> one = {1};
  EXPECT_FALSE(scheduler->commit(*plan, one).isOk()); // 2 rows
  std::vector<int32_t> negative = {1, -1};
  EXPECT_FALSE(scheduler->commit(*plan, negative).isOk());
  StepPlan other = *plan;
  other.stepIndex += 1;
  EXPECT_FALSE(scheduler->commit(other, std::vector<int32_t>{1, 1}).isOk());
  ASSERT_TRUE(scheduler->commit(*plan, std::vector<int32_t>{1, 1}).isOk());
  EXPECT_FALSE(scheduler->commit(*plan, std::vector<int32_t>{1, 1}).isOk());
  EXPECT_FALSE(scheduler->abandon(*plan).isOk());

  // Abort between steps: running and waiting requests alike.
  ASSERT_TRUE(scheduler->addRequest(request(3, 4, 4)).isOk());
  auto aborted = scheduler->abortRequest(1);
  ASSERT_TRUE(aborted.isOk());
  EXPECT_EQ(aborted->reason, FinishReason::Aborted);
  EXPECT_EQ(aborted->tokens, (std::vector<int32_t>{1}));
  EXPECT_TRUE(scheduler->abortRequest(3).isOk());
  EXPECT_FALSE(scheduler->abortRequest(3).isOk());
  EXPECT_EQ(scheduler->numRunning(), 1u);
  EXPECT_EQ(scheduler->numWaiting(), 0u);
  EXPECT_TRUE(scheduler->abortRequest(2).isOk());
  EXPECT_EQ(cache->numFreeBlocks(), 16);
}

TEST(SchedulerTest, StepAbandonsWhenTheExecutorFails) {
  auto cache = PagedKVCache::create({4, 16, 32});
  auto scheduler = Scheduler::create({}, *cache);
  ASSERT_TRUE(scheduler.isOk());
  ASSERT_TRUE(scheduler->addRequest(request(1, 4, 2)).isOk());
  FakeModel model(*cache);
  model.failEvery = 1;
  auto out = scheduler->step(model);
  ASSERT_FALSE(out.isOk());
  EXPECT_EQ(out.status().message(), "step 0: injected failure");
  EXPECT_EQ(scheduler->numWaiting(), 1u);
  EXPECT_EQ(cache->numFreeBlocks(), 16);
  model.failEvery = 0;
  int steps = 0;
  while (scheduler->hasWork() && steps++ < 10)
    ASSERT_TRUE(scheduler->step(model).isOk());
  EXPECT_FALSE(scheduler->hasWork());
}

} // namespace
