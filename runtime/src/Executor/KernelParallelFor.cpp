//===- KernelParallelFor.cpp - the kernels' parallel loops on a pool ------===//

#include "qc/runtime/KernelParallelFor.h"

#include <type_traits>

using namespace qc;
using namespace qc::runtime;

static_assert(std::is_same_v<ThreadPool::TileFn, abi::QcTileFn>);

namespace {
thread_local ThreadPool *currentPool = nullptr;
} // namespace

void qc::runtime::kernelParallelFor(abi::QcTileFn tile, void *context,
                                    int64_t iterations,
                                    int64_t costPerIteration) {
  if (iterations <= 0)
    return;
  if (ThreadPool *pool = currentPool)
    pool->runTiles(tile, context, iterations, costPerIteration);
  else // a call outside any runner's scope: still correct, just serial
    tile(context, 0, iterations);
}

void qc::runtime::installKernelParallelFor(abi::QcParallelFor *slot) {
  *slot = &kernelParallelFor;
}

KernelPoolScope::KernelPoolScope(ThreadPool *pool) : previous_(currentPool) {
  currentPool = pool;
}

KernelPoolScope::~KernelPoolScope() { currentPool = previous_; }
