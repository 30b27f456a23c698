//===- ThreadPool.cpp - fork-join parallel loops for CPU kernels ----------===//

#include "qc/runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <limits>

using namespace qc;
using namespace qc::runtime;

namespace {

/// How long an idle worker spins before it sleeps: longer than the gaps
/// between the parallel loops of a decode step (serial kernels, sampling,
/// the scheduler), short enough that an idle process stops burning cores
/// at once. Waking a sleeping worker costs tens of microseconds.
constexpr auto kSpinTime = std::chrono::microseconds(200);
/// Pauses between looks at the clock (and yields, so that an
/// oversubscribed machine still runs the threads that have work).
constexpr unsigned kSpinsPerYield = 256;

/// Set while this thread runs a chunk: a loop started there runs inline.
thread_local bool insideChunk = false;

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

uint32_t epochOf(uint64_t word) { return uint32_t(word >> 32); }
uint32_t nextOf(uint64_t word) { return uint32_t(word >> 16) & 0xffff; }
uint32_t chunksOf(uint64_t word) { return uint32_t(word) & 0xffff; }
uint64_t makeWord(uint32_t epoch, uint32_t next, uint32_t chunks) {
  return uint64_t(epoch) << 32 | uint64_t(next) << 16 | chunks;
}

} // namespace

ThreadPool::ThreadPool(int64_t threads) {
  threads = std::clamp<int64_t>(threads, 1, kMaxThreads);
  workers_.reserve(size_t(threads - 1));
  for (int64_t i = 1; i < threads; ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  // Taking the lock orders the store before any worker's predicate check.
  { std::lock_guard<std::mutex> lock(sleepMutex_); }
  wake_.notify_all();
  for (std::thread &t : workers_)
    t.join();
}

int64_t ThreadPool::chunkCount(int64_t iterations, int64_t costPerIteration,
                               int64_t threads) {
  if (iterations <= 0)
    return 0;
  int64_t cost = std::max<int64_t>(costPerIteration, 1);
  threads = std::clamp<int64_t>(threads, 1, kMaxThreads);
  // ceil(iterations * cost / kMinWorkPerThread), saturated.
  int64_t useful = threads;
  if (iterations <= std::numeric_limits<int64_t>::max() / cost) {
    int64_t work = iterations * cost;
    useful = work / kMinWorkPerThread + (work % kMinWorkPerThread != 0);
  }
  int64_t participants = std::min(threads, useful);
  int64_t chunks = participants == threads && threads > 1
                       ? threads * kChunksPerThread
                       : participants;
  return std::min(chunks, iterations);
}

void ThreadPool::runChunk(int64_t chunk) {
  int64_t base = iterations_ / chunks_, extra = iterations_ % chunks_;
  int64_t begin = chunk * base + std::min(chunk, extra);
  int64_t end = begin + base + (chunk < extra);
  insideChunk = true;
  tile_(context_, begin, end);
  insideChunk = false;
  // After this the job may be replaced: touch none of its fields.
  remaining_.fetch_sub(1, std::memory_order_release);
}

uint32_t ThreadPool::claimChunks() {
  for (;;) {
    // A look first: a claim that would come too late costs no write to
    // the contended line.
    uint64_t word = job_.load(std::memory_order_acquire);
    if (nextOf(word) >= chunksOf(word))
      return epochOf(word);
    // One fetch_add per claim, whichever job is current then: a claim that
    // still comes too late finds next >= chunks and only bumps "next" (by
    // at most one per thread and job, so it never reaches the epoch bits).
    word = job_.fetch_add(uint64_t(1) << 16, std::memory_order_acq_rel);
    if (nextOf(word) >= chunksOf(word))
      return epochOf(word);
    runChunk(nextOf(word));
  }
}

void ThreadPool::runTiles(TileFn tile, void *context, int64_t iterations,
                          int64_t costPerIteration) {
  int64_t chunks = chunkCount(iterations, costPerIteration, threads());
  if (chunks == 0)
    return;
  if (chunks == 1 || insideChunk) {
    tile(context, 0, iterations);
    return;
  }
  std::lock_guard<std::mutex> lock(dispatch_);
  // The previous job has finished (every chunk claimed, so no claim can
  // succeed until the word below is published): its fields are free.
  tile_ = tile;
  context_ = context;
  iterations_ = iterations;
  chunks_ = chunks;
  remaining_.store(chunks, std::memory_order_relaxed);
  // Chunk 0 is the caller's, published as claimed: the caller always
  // takes part, without a claim.
  job_.store(makeWord(++epoch_, 1, uint32_t(chunks)));
  // Workers that gave up spinning sleep; wake as many as can help. (The
  // seq_cst store above and load here pair with the worker's increment of
  // sleepers_ and its look at job_: one of the two sees the other.)
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> sleepLock(sleepMutex_); }
    size_t helpers = size_t(std::min<int64_t>(chunks, threads()) - 1);
    if (helpers >= workers_.size())
      wake_.notify_all();
    else
      for (size_t i = 0; i < helpers; ++i)
        wake_.notify_one();
  }
  runChunk(0);
  claimChunks();
  // Others still run their last chunks: a few microseconds, so spin.
  for (unsigned spins = 1; remaining_.load(std::memory_order_acquire) != 0;
       ++spins) {
    cpuRelax();
    if (spins % kSpinsPerYield == 0)
      std::this_thread::yield();
  }
}

bool ThreadPool::waitForJob(uint32_t seen) {
  auto start = std::chrono::steady_clock::now();
  for (unsigned spins = 1;; ++spins) {
    if (stop_.load(std::memory_order_relaxed))
      return false;
    if (epochOf(job_.load(std::memory_order_acquire)) != seen)
      return true;
    cpuRelax();
    if (spins % kSpinsPerYield == 0) {
      if (std::chrono::steady_clock::now() - start > kSpinTime)
        break;
      std::this_thread::yield();
    }
  }
  std::unique_lock<std::mutex> lock(sleepMutex_);
  sleepers_.fetch_add(1);
  wake_.wait(lock,
             [&] { return stop_.load() || epochOf(job_.load()) != seen; });
  sleepers_.fetch_sub(1);
  return !stop_.load();
}

void ThreadPool::workerLoop() {
  uint32_t seen = 0; // the pool starts at epoch 0, with no chunks
  while (waitForJob(seen))
    seen = claimChunks();
}
