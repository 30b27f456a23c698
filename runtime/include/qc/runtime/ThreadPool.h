//===- ThreadPool.h - fork-join parallel loops for CPU kernels --*- C++ -*-===//
//
// A pool of N - 1 worker threads plus the calling thread, built for many
// short parallel loops: a decode step runs about ten per layer, each a few
// tens of microseconds of work. A loop is split into contiguous chunks that
// the participating threads claim from one shared counter; the caller
// always runs the first chunk itself and then helps with the rest, and
// waits for the stragglers by spinning (never by sleeping). Idle workers
// spin on the job word for a short while before they sleep on a condition
// variable, so back-to-back loops reach them in well under a microsecond.
//
// One loop runs at a time (concurrent callers take turns); a loop started
// from inside a chunk runs inline, serially.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_THREADPOOL_H
#define QC_RUNTIME_THREADPOOL_H

#include "qc/Support/Status.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace qc::runtime {

class ThreadPool {
public:
  /// One range [begin, end) of a loop's iterations (the kernels' QcTileFn).
  using TileFn = void (*)(void *context, int64_t begin, int64_t end);

  /// The most threads a pool runs (the job word counts chunks in 16 bits).
  static constexpr int64_t kMaxThreads = 1024;
  /// Work (multiply-adds or element operations) below which one more
  /// thread does not pay: handing a chunk to a spinning worker costs about
  /// a microsecond of cache-line traffic, and 32K multiply-adds take a
  /// vectorized core a few microseconds, so from there a split wins.
  static constexpr int64_t kMinWorkPerThread = int64_t(1) << 15;
  /// Chunks per thread when every thread takes part: a worker that wakes
  /// late or is preempted leaves half its share for the others, while
  /// claims (one contended atomic each) stay few.
  static constexpr int64_t kChunksPerThread = 2;

  /// `threads` participants (clamped to [1, kMaxThreads]): threads - 1
  /// workers are started; 1 starts none and runs every loop inline.
  explicit ThreadPool(int64_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Participants, the caller included.
  int64_t threads() const { return int64_t(workers_.size()) + 1; }
  /// Worker threads started (threads() - 1).
  size_t workerCount() const { return workers_.size(); }

  /// How many chunks a loop of `iterations` costing `costPerIteration` each
  /// is split into on `threads` participants: at most
  /// ceil(iterations * cost / kMinWorkPerThread) threads take part, one
  /// chunk each, or kChunksPerThread each when all of them do; never more
  /// chunks than iterations. 0 for an empty loop.
  static int64_t chunkCount(int64_t iterations, int64_t costPerIteration,
                            int64_t threads);

  /// Runs tile(context, b, e) over disjoint ranges covering [0, iterations)
  /// exactly once, on the caller and the workers, and returns when all have
  /// finished (the kernels' QcParallelFor contract).
  void runTiles(TileFn tile, void *context, int64_t iterations,
                int64_t costPerIteration);

  /// Runs fn(begin, end) -> Status over the chunks of [0, iterations). After
  /// a chunk fails, chunks not yet started are skipped; the first failure
  /// is returned once every started chunk has finished.
  template <typename Fn>
  Status parallelFor(int64_t iterations, int64_t costPerIteration, Fn &&fn) {
    static_assert(std::is_invocable_r_v<Status, Fn &, int64_t, int64_t>,
                  "fn(begin, end) must return a Status");
    struct Job {
      Fn &fn;
      std::atomic<bool> failed{false};
      std::mutex mutex;
      Status first;
    } job{fn};
    runTiles(
        [](void *context, int64_t begin, int64_t end) {
          Job &j = *static_cast<Job *>(context);
          if (j.failed.load(std::memory_order_relaxed))
            return;
          Status s = j.fn(begin, end);
          if (s)
            return;
          std::lock_guard<std::mutex> lock(j.mutex);
          if (!j.failed.load(std::memory_order_relaxed)) {
            j.first = std::move(s);
            j.failed.store(true, std::memory_order_relaxed);
          }
        },
        &job, iterations, costPerIteration);
    return std::move(job.first);
  }

private:
  void workerLoop();
  /// Waits until the job word's epoch differs from `seen` (true) or the
  /// pool stops (false).
  bool waitForJob(uint32_t seen);
  /// Claims and runs chunks of the published job until none is left;
  /// returns the epoch it saw last.
  uint32_t claimChunks();
  void runChunk(int64_t chunk);

  std::vector<std::thread> workers_;

  /// The job word: epoch (32 bits) | next chunk (16) | chunks (16). A chunk
  /// is claimed by a fetch_add on "next" of whatever job is current, so a
  /// successful claim (next < chunks) proves the job's fields below are
  /// that job's: they are rewritten only after every chunk has finished.
  /// Own cache lines: claims, completions and the dispatcher's writes
  /// would otherwise invalidate each other.
  alignas(64) std::atomic<uint64_t> job_{0};
  /// Chunks of the current job not yet finished.
  alignas(64) std::atomic<int64_t> remaining_{0};
  // The current job: written by the dispatcher before it publishes the job
  // word, read by whoever claimed one of its chunks.
  alignas(64) TileFn tile_ = nullptr;
  void *context_ = nullptr;
  int64_t iterations_ = 0, chunks_ = 0;
  uint32_t epoch_ = 0; ///< The dispatcher's last epoch.

  /// Serialises dispatchers (a runner is used from one thread at a time;
  /// this keeps a second caller correct rather than fast).
  alignas(64) std::mutex dispatch_;
  // Sleeping workers: the dispatcher notifies only when some sleep.
  std::mutex sleepMutex_;
  std::condition_variable wake_;
  std::atomic<int64_t> sleepers_{0};
  std::atomic<bool> stop_{false};
};

} // namespace qc::runtime

#endif // QC_RUNTIME_THREADPOOL_H
