//===- CpuTopology.h - how many cores the process may use -------*- C++ -*-===//
//
// The default thread count of CPU packages: one thread per physical core
// this process may run on. Hyperthreads share a core's vector units, which
// the kernels keep busy, so a second thread per core only adds contention.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_CPUTOPOLOGY_H
#define QC_RUNTIME_CPUTOPOLOGY_H

#include <cstdint>
#include <string>
#include <vector>

namespace qc::runtime {

/// Physical cores among the CPUs this process may run on (Linux: its
/// sched_getaffinity mask, grouped into cores by sysfs topology); when the
/// topology cannot be read, the CPUs it may run on, else
/// std::thread::hardware_concurrency(). At least 1.
int64_t physicalCoreCount();

/// The distinct cores of `cpus` under the sysfs directory `cpuDir`
/// (/sys/devices/system/cpu): CPUs with equal topology/core_cpus_list
/// (thread_siblings_list on older kernels; else equal physical_package_id
/// and core_id) share a core. 0 when a CPU's topology cannot be read.
int64_t countPhysicalCores(const std::string &cpuDir,
                           const std::vector<int> &cpus);

} // namespace qc::runtime

#endif // QC_RUNTIME_CPUTOPOLOGY_H
