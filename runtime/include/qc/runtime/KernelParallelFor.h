//===- KernelParallelFor.h - the kernels' parallel loops on a pool -*- C++ -*-//
//
// The runtime side of abi::kCpuParallelForSymbol: when a CPU package's
// kernels.so has that slot, Package::load stores kernelParallelFor in it,
// and ForwardRunner names its pool with a KernelPoolScope around each call
// into the kernels. The slot is per library and the pool per runner, so the
// pool travels in a thread_local: two runners of one package, on two
// threads, each use their own.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_KERNELPARALLELFOR_H
#define QC_RUNTIME_KERNELPARALLELFOR_H

#include "qc/ABI/ForwardABI.h"
#include "qc/runtime/ThreadPool.h"

namespace qc::runtime {

/// The abi::QcParallelFor the runtime gives kernels: runs the loop on this
/// thread's KernelPoolScope pool, or serially here when there is none.
void kernelParallelFor(abi::QcTileFn tile, void *context, int64_t iterations,
                       int64_t costPerIteration);

/// Stores kernelParallelFor into a kernel library's slot.
void installKernelParallelFor(abi::QcParallelFor *slot);

/// Makes `pool` (may be null: serial) the one kernelParallelFor uses on
/// this thread until the scope ends; scopes nest.
class KernelPoolScope {
public:
  explicit KernelPoolScope(ThreadPool *pool);
  ~KernelPoolScope();
  KernelPoolScope(const KernelPoolScope &) = delete;
  KernelPoolScope &operator=(const KernelPoolScope &) = delete;

private:
  ThreadPool *previous_;
};

} // namespace qc::runtime

#endif // QC_RUNTIME_KERNELPARALLELFOR_H
