//===- CpuTopology.cpp - how many cores the process may use ---------------===//

#include "qc/runtime/CpuTopology.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif

using namespace qc::runtime;

namespace {

/// The first line of `path`, or nothing when it cannot be read.
bool readLine(const std::string &path, std::string &line) {
  std::ifstream in(path);
  return in && std::getline(in, line) && !line.empty();
}

} // namespace

int64_t qc::runtime::countPhysicalCores(const std::string &cpuDir,
                                        const std::vector<int> &cpus) {
  std::set<std::string> cores;
  for (int cpu : cpus) {
    std::string topology = cpuDir + "/cpu" + std::to_string(cpu) + "/topology/";
    std::string key, package, core;
    if (readLine(topology + "core_cpus_list", key) ||
        readLine(topology + "thread_siblings_list", key)) {
      cores.insert(key);
    } else if (readLine(topology + "physical_package_id", package) &&
               readLine(topology + "core_id", core)) {
      cores.insert(package + ":" + core);
    } else {
      return 0;
    }
  }
  return int64_t(cores.size());
}

int64_t qc::runtime::physicalCoreCount() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set))
        cpus.push_back(cpu);
    if (int64_t cores = countPhysicalCores("/sys/devices/system/cpu", cpus))
      return cores;
    if (!cpus.empty())
      return int64_t(cpus.size());
  }
#endif
  return std::max<int64_t>(std::thread::hardware_concurrency(), 1);
}
