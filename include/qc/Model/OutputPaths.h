//===- OutputPaths.h - outputs that never clobber inputs -*- C++ -*-===//
//
// quant-compile's packages and exports are written into a fresh sibling
// directory and swapped into place only when complete: a failed or
// interrupted compile leaves the previous output as it was, and readers
// never see a mix of old and new files. The target is never one of the
// inputs (nor inside one, nor around one), and an existing target is
// replaced only if it is empty or a previous output of the same kind.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_OUTPUTPATHS_H
#define QC_MODEL_OUTPUTPATHS_H

#include "qc/Support/Status.h"

#include <string>
#include <vector>

namespace qc {

class StagedDirectory {
public:
  /// Prepares to write directory `target`. `inputs` are the paths the
  /// writer reads; `marker` is a file every output of this kind has (an
  /// existing non-empty target without it is not replaced).
  static StatusOr<StagedDirectory>
  create(const std::string &target, const std::vector<std::string> &inputs,
         const std::string &marker);
  StagedDirectory(StagedDirectory &&other) noexcept;
  StagedDirectory &operator=(StagedDirectory &&) = delete;
  ~StagedDirectory();

  /// Where to write (a sibling of the target, on its file system).
  const std::string &path() const { return staging_; }
  /// Puts the staged directory in the target's place (an existing target
  /// is exchanged atomically, then removed).
  Status commit();

private:
  StagedDirectory(std::string target, std::string staging)
      : target_(std::move(target)), staging_(std::move(staging)) {}
  std::string target_, staging_;
};

/// Refuses an output `path` that is one of `inputs`, lies inside one, or
/// contains one.
Status checkOutsideInputs(const std::string &path,
                          const std::vector<std::string> &inputs);

/// Refuses to write a file at `path` unless nothing is there or a regular
/// file is (never a directory, symlink, FIFO or device).
Status checkReplaceableFile(const std::string &path);

} // namespace qc

#endif // QC_MODEL_OUTPUTPATHS_H
