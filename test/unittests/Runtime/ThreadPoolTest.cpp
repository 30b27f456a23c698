//===- ThreadPoolTest.cpp - the CPU kernels' thread pool ------------------===//

#include "qc/runtime/ThreadPool.h"
#include "qc/runtime/CpuTopology.h"
#include "qc/runtime/KernelParallelFor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace qc;
using namespace qc::runtime;

namespace {

/// Threads of this process (Linux), or -1.
int64_t processThreads() {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return ec ? -1 : n;
}

/// The thread count once it reads `expected` (an exited thread's task
/// lingers in /proc a little after join), or after a second of trying.
int64_t processThreadsSettle(int64_t expected) {
  int64_t n = processThreads();
  for (int i = 0; i < 200 && n != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    n = processThreads();
  }
  return n;
}

/// Runs a loop of `iterations` on `pool`, counting the runs of each
/// iteration; returns the counts and the threads that ran chunks.
std::vector<int> coverage(ThreadPool &pool, int64_t iterations, int64_t cost,
                          std::set<std::thread::id> *runners = nullptr) {
  std::vector<std::atomic<int>> counts(
      size_t(std::max<int64_t>(iterations, 0)));
  std::mutex mutex;
  Status s = pool.parallelFor(iterations, cost, [&](int64_t b, int64_t e) {
    EXPECT_LE(0, b);
    EXPECT_LT(b, e);
    EXPECT_LE(e, iterations);
    for (int64_t i = b; i < e; ++i)
      counts[size_t(i)].fetch_add(1);
    if (runners) {
      std::lock_guard<std::mutex> lock(mutex);
      runners->insert(std::this_thread::get_id());
    }
    return Status::ok();
  });
  EXPECT_TRUE(s.isOk());
  std::vector<int> out;
  for (auto &c : counts)
    out.push_back(c.load());
  return out;
}

bool allOnce(const std::vector<int> &counts) {
  for (int c : counts)
    if (c != 1)
      return false;
  return true;
}

} // namespace

TEST(ThreadPoolTest, ChunkCount) {
  constexpr int64_t kMin = ThreadPool::kMinWorkPerThread;
  EXPECT_EQ(ThreadPool::chunkCount(0, 1, 8), 0);
  EXPECT_EQ(ThreadPool::chunkCount(-5, 1, 8), 0);
  // Small loops stay whole.
  EXPECT_EQ(ThreadPool::chunkCount(1000, 1, 8), 1);
  EXPECT_EQ(ThreadPool::chunkCount(kMin, 1, 8), 1);
  EXPECT_EQ(ThreadPool::chunkCount(kMin + 1, 1, 8), 2);
  EXPECT_EQ(ThreadPool::chunkCount(100, 3 * kMin / 100, 8), 3);
  // Costs below 1 count as 1.
  EXPECT_EQ(ThreadPool::chunkCount(kMin + 1, 0, 8), 2);
  EXPECT_EQ(ThreadPool::chunkCount(kMin + 1, -7, 8), 2);
  // Large loops: a few chunks per thread, never more than iterations.
  EXPECT_EQ(ThreadPool::chunkCount(4096, kMin, 8),
            8 * ThreadPool::kChunksPerThread);
  EXPECT_EQ(ThreadPool::chunkCount(5, kMin, 8), 5);
  EXPECT_EQ(ThreadPool::chunkCount(INT64_MAX, INT64_MAX, 8),
            8 * ThreadPool::kChunksPerThread);
  EXPECT_EQ(ThreadPool::chunkCount(1 << 20, kMin, 1), 1);
}

TEST(ThreadPoolTest, EveryIterationExactlyOnce) {
  for (int64_t threads : {1, 2, 3, 4, 7, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t iterations :
         {0, 1, 2, 3, 5, 7, 8, 9, 31, 100, 1000, 4097, 100003})
      for (int64_t cost :
           {int64_t(1), int64_t(100), int64_t(1) << 15, int64_t(1) << 22})
        EXPECT_TRUE(allOnce(coverage(pool, iterations, cost)))
            << threads << " threads, " << iterations << " iterations, cost "
            << cost;
  }
}

TEST(ThreadPoolTest, CallerParticipates) {
  ThreadPool pool(4);
  std::set<std::thread::id> runners;
  std::mutex mutex;
  Status s = pool.parallelFor(64, int64_t(1) << 20, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      runners.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Status::ok();
  });
  EXPECT_TRUE(s.isOk());
  EXPECT_TRUE(runners.count(std::this_thread::get_id()));
  // 16 chunks of 2 ms: the workers wake in time for some of them.
  EXPECT_GT(runners.size(), 1u);
}

TEST(ThreadPoolTest, ErrorIsPropagatedAndPoolStaysUsable) {
  ThreadPool pool(4);
  for (int round = 0; round < 50; ++round) {
    Status s =
        pool.parallelFor(1000, int64_t(1) << 20, [](int64_t b, int64_t e) {
          if (b <= 500 && 500 < e)
            return Status::error("iteration 500 failed");
          return Status::ok();
        });
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.message(), "iteration 500 failed");
    // Every chunk failing: one of the errors, no deadlock.
    s = pool.parallelFor(1000, int64_t(1) << 20, [](int64_t b, int64_t) {
      return Status::error("chunk at " + std::to_string(b));
    });
    ASSERT_FALSE(s.isOk());
    EXPECT_EQ(s.message().rfind("chunk at ", 0), 0u);
    EXPECT_TRUE(allOnce(coverage(pool, 1000, int64_t(1) << 20)));
  }
}

TEST(ThreadPoolTest, ManyLoopsInARow) {
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  constexpr int kLoops = 20000;
  for (int loop = 0; loop < kLoops; ++loop) {
    // Alternate split and unsplit loops, as a decode step does.
    int64_t cost = loop % 3 ? int64_t(1) << 16 : 1;
    Status s = pool.parallelFor(64, cost, [&](int64_t b, int64_t e) {
      sum.fetch_add(e - b, std::memory_order_relaxed);
      return Status::ok();
    });
    ASSERT_TRUE(s.isOk());
  }
  EXPECT_EQ(sum.load(), int64_t(kLoops) * 64);
}

TEST(ThreadPoolTest, SleepingWorkersWake) {
  ThreadPool pool(3);
  for (int round = 0; round < 5; ++round) {
    // Longer than the spin: the workers go to sleep in between.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_TRUE(allOnce(coverage(pool, 999, int64_t(1) << 20)));
  }
}

TEST(ThreadPoolTest, OneThreadCreatesNoThread) {
  // Threads of earlier tests may still be leaving.
  int64_t before = processThreadsSettle(1);
  ThreadPool pool(1);
  EXPECT_EQ(pool.workerCount(), 0u);
  EXPECT_EQ(pool.threads(), 1);
  std::set<std::thread::id> runners;
  EXPECT_TRUE(allOnce(coverage(pool, 100000, int64_t(1) << 20, &runners)));
  EXPECT_EQ(runners, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(processThreads(), before);
  {
    ThreadPool four(4);
    EXPECT_EQ(four.workerCount(), 3u);
    if (before > 0)
      EXPECT_EQ(processThreadsSettle(before + 3), before + 3);
  }
  EXPECT_EQ(processThreadsSettle(before), before); // joined
}

TEST(ThreadPoolTest, DestroyedRightAfterCreation) {
  for (int i = 0; i < 20; ++i)
    ThreadPool pool(4);
  for (int i = 0; i < 5; ++i) {
    ThreadPool pool(4);
    EXPECT_TRUE(allOnce(coverage(pool, 100, int64_t(1) << 20)));
  }
}

TEST(ThreadPoolTest, LoopInsideAChunkRunsInline) {
  ThreadPool pool(4);
  std::atomic<int64_t> inner{0};
  Status s = pool.parallelFor(8, int64_t(1) << 20, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      EXPECT_TRUE(pool.parallelFor(100, int64_t(1) << 20,
                                   [&](int64_t x, int64_t y) {
                                     inner.fetch_add(y - x);
                                     return Status::ok();
                                   })
                      .isOk());
    return Status::ok();
  });
  EXPECT_TRUE(s.isOk());
  EXPECT_EQ(inner.load(), 800);
}

TEST(ThreadPoolTest, ConcurrentCallersTakeTurns) {
  ThreadPool pool(3);
  auto work = [&] {
    for (int i = 0; i < 500; ++i)
      EXPECT_TRUE(allOnce(coverage(pool, 257, int64_t(1) << 20)));
  };
  std::thread other(work);
  work();
  other.join();
}

//===----------------------------------------------------------------------===//
// The kernels' hook (abi::kCpuParallelForSymbol).
//===----------------------------------------------------------------------===//

namespace {

/// What a compiled parallel loop passes as its context.
struct TileContext {
  std::vector<std::atomic<int>> counts;
  std::atomic<int> calls{0};
  std::mutex mutex;
  std::set<std::thread::id> runners;
  explicit TileContext(size_t n) : counts(n) {}
};

void countTile(void *context, int64_t begin, int64_t end) {
  auto &c = *static_cast<TileContext *>(context);
  for (int64_t i = begin; i < end; ++i)
    c.counts[size_t(i)].fetch_add(1);
  c.calls.fetch_add(1);
  std::lock_guard<std::mutex> lock(c.mutex);
  c.runners.insert(std::this_thread::get_id());
}

bool allOnce(const TileContext &c) {
  for (const auto &n : c.counts)
    if (n.load() != 1)
      return false;
  return true;
}

} // namespace

TEST(KernelParallelForTest, TrampolineRunsOnTheScopesPool) {
  // kernels.so's global, as Package::load fills it in.
  qc::abi::QcParallelFor slot = nullptr;
  installKernelParallelFor(&slot);
  ASSERT_EQ(slot, &kernelParallelFor);

  ThreadPool pool(4);
  {
    KernelPoolScope scope(&pool);
    for (int64_t n : {0, 1, 3, 4, 5, 1000, 65537}) {
      TileContext c{size_t(n)};
      slot(&countTile, &c, n, int64_t(1) << 16);
      EXPECT_TRUE(allOnce(c)) << n;
      EXPECT_EQ(c.calls.load() == 0, n == 0);
      if (n >= 4)
        EXPECT_GT(c.calls.load(), 1) << n; // split
    }
    // A tiny loop is not split.
    TileContext tiny(100);
    slot(&countTile, &tiny, 100, 1);
    EXPECT_TRUE(allOnce(tiny));
    EXPECT_EQ(tiny.calls.load(), 1);
    // Scopes nest and restore: none inside means serial, on this thread.
    {
      KernelPoolScope none(nullptr);
      TileContext c(1000);
      slot(&countTile, &c, 1000, int64_t(1) << 20);
      EXPECT_TRUE(allOnce(c));
      EXPECT_EQ(c.calls.load(), 1);
    }
    TileContext after(1000);
    slot(&countTile, &after, 1000, int64_t(1) << 20);
    EXPECT_TRUE(allOnce(after));
    EXPECT_GT(after.calls.load(), 1);
    EXPECT_TRUE(after.runners.count(std::this_thread::get_id()));
  }
  // Outside any scope (should not happen): still every iteration, serially.
  TileContext c(5000);
  slot(&countTile, &c, 5000, int64_t(1) << 20);
  EXPECT_TRUE(allOnce(c));
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(c.runners, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(KernelParallelForTest, ScopeIsPerThread) {
  qc::abi::QcParallelFor slot = nullptr;
  installKernelParallelFor(&slot);
  ThreadPool pool(3);
  KernelPoolScope scope(&pool);
  // Another thread (another runner's) sees no pool of this one's.
  std::thread other([&] {
    TileContext c(1000);
    slot(&countTile, &c, 1000, int64_t(1) << 20);
    EXPECT_TRUE(allOnce(c));
    EXPECT_EQ(c.calls.load(), 1);
  });
  other.join();
}

//===----------------------------------------------------------------------===//
// Core counting.
//===----------------------------------------------------------------------===//

TEST(CpuTopologyTest, CountsCoresNotHyperthreads) {
  std::filesystem::path root = std::filesystem::temp_directory_path() /
                               ("qc-topology-" + std::to_string(getpid()));
  std::filesystem::remove_all(root);
  auto write = [&](int cpu, const std::string &file, const std::string &text) {
    std::filesystem::path dir =
        root / ("cpu" + std::to_string(cpu)) / "topology";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / file) << text << "\n";
  };
  // Two cores with two hyperthreads each (cpu0+2, cpu1+3)...
  for (int cpu = 0; cpu < 4; ++cpu)
    write(cpu, "core_cpus_list", cpu % 2 ? "1,3" : "0,2");
  // ...an older kernel's sibling list...
  write(4, "thread_siblings_list", "4-5");
  write(5, "thread_siblings_list", "4-5");
  // ...and only package and core ids, on two packages.
  for (int cpu : {6, 7}) {
    write(cpu, "physical_package_id", std::to_string(cpu - 6));
    write(cpu, "core_id", "0");
  }
  std::string dir = root.string();
  EXPECT_EQ(countPhysicalCores(dir, {0, 1, 2, 3}), 2);
  EXPECT_EQ(countPhysicalCores(dir, {0, 2}), 1); // affinity: one core
  EXPECT_EQ(countPhysicalCores(dir, {0, 1, 2, 3, 4, 5, 6, 7}), 5);
  EXPECT_EQ(countPhysicalCores(dir, {6, 7}), 2);
  EXPECT_EQ(countPhysicalCores(dir, {0, 9}), 0); // unreadable: unknown
  EXPECT_EQ(countPhysicalCores(dir, {}), 0);
  std::filesystem::remove_all(root);

  int64_t cores = physicalCoreCount();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, int64_t(std::max(1u, std::thread::hardware_concurrency())));
}
