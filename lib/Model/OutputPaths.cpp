//===- OutputPaths.cpp - outputs that never clobber inputs
//------------------===//

#include "qc/Model/OutputPaths.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>

namespace fs = std::filesystem;

namespace qc {
namespace {

/// True if `inner` is `outer` or lies inside it (both canonical).
bool within(const fs::path &inner, const fs::path &outer) {
  auto [o, i] =
      std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  return o == outer.end();
}

std::string errnoText() { return std::strerror(errno); }

} // namespace

Status checkOutsideInputs(const std::string &path,
                          const std::vector<std::string> &inputs) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec)
    return Status::error(path + ": " + ec.message());
  for (const std::string &input : inputs) {
    fs::path in = fs::weakly_canonical(fs::absolute(input), ec);
    if (ec)
      return Status::error(input + ": " + ec.message());
    if (within(out, in) || within(in, out))
      return Status::error(path + ": is, contains or lies inside the input '" +
                           input + "'; write it elsewhere");
  }
  return Status::ok();
}

Status checkReplaceableFile(const std::string &path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT
               ? Status::ok()
               : Status::error(path + ": cannot inspect: " + errnoText());
  if (!S_ISREG(st.st_mode))
    return Status::error(path + ": exists and is not a regular file; "
                                "refusing to replace it");
  return Status::ok();
}

StatusOr<StagedDirectory>
StagedDirectory::create(const std::string &target,
                        const std::vector<std::string> &inputs,
                        const std::string &marker) {
  if (target.empty())
    return Status::error("empty output directory name");
  QC_RETURN_IF_ERROR(checkOutsideInputs(target, inputs));
  std::error_code ec;
  fs::path canonicalTarget = fs::weakly_canonical(fs::absolute(target), ec);
  if (ec)
    return Status::error(target + ": " + ec.message());
  struct stat st;
  if (::lstat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Status::error(target + ": exists and is not a directory; "
                                    "refusing to replace it");
    bool empty = fs::is_empty(target, ec);
    if (ec)
      return Status::error(target + ": cannot list: " + ec.message());
    if (!empty && !fs::exists(fs::path(target) / marker))
      return Status::error(target + ": exists and holds no " + marker +
                           " (not an earlier output of this kind); refusing "
                           "to replace it");
  } else if (errno != ENOENT) {
    return Status::error(target + ": cannot inspect: " + errnoText());
  }
  fs::path parent = canonicalTarget.parent_path();
  fs::create_directories(parent, ec);
  if (ec)
    return Status::error(parent.string() + ": cannot create: " + ec.message());
  std::string staging =
      (parent / ("." + canonicalTarget.filename().string() + ".partial-XXXXXX"))
          .string();
  if (!::mkdtemp(staging.data()))
    return Status::error(staging + ": cannot create: " + errnoText());
  ::chmod(staging.c_str(), 0755);
  return StagedDirectory(canonicalTarget.string(), staging);
}

StagedDirectory::StagedDirectory(StagedDirectory &&other) noexcept
    : target_(std::move(other.target_)), staging_(std::move(other.staging_)) {
  other.staging_.clear();
}

StagedDirectory::~StagedDirectory() {
  if (staging_.empty())
    return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

Status StagedDirectory::commit() {
  if (staging_.empty())
    return Status::error(target_ + ": already committed");
  struct stat st;
  if (::lstat(target_.c_str(), &st) != 0) {
    if (::rename(staging_.c_str(), target_.c_str()) != 0)
      return Status::error(
          target_ + ": cannot move the output into place: " + errnoText());
    staging_.clear();
    return Status::ok();
  }
  // Swap the new directory with the old one in one step; the staging name
  // then holds the old output, which the destructor removes.
  if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(),
                  RENAME_EXCHANGE) == 0)
    return Status::ok();
  if (errno != EINVAL && errno != ENOSYS)
    return Status::error(
        target_ + ": cannot replace the previous output: " + errnoText());
  // A file system without exchange: move the old output aside first.
  std::string old = staging_ + ".old";
  if (::rename(target_.c_str(), old.c_str()) != 0)
    return Status::error(
        target_ + ": cannot replace the previous output: " + errnoText());
  if (::rename(staging_.c_str(), target_.c_str()) != 0) {
    Status error = Status::error(
        target_ + ": cannot move the output into place: " + errnoText());
    ::rename(old.c_str(), target_.c_str()); // the previous output stays
    return error;
  }
  staging_ = old;
  return Status::ok();
}

} // namespace qc
