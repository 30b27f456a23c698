//===- MappedFile.cpp - Read-only whole-file memory maps ------------------===//

#include "MappedFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qc::detail {

namespace {
Status errnoError(const std::string &path, const char *what) {
  return Status::error(path + ": " + what + ": " + std::strerror(errno));
}

/// Closes the descriptor on every return path; the mapping outlives it.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};
} // namespace

StatusOr<std::unique_ptr<MappedFile>>
MappedFile::open(const std::string &path) {
  if (path.find('\0') != std::string::npos)
    return Status::error(path + ": path contains a NUL byte");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected
  // below as a non-regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return errnoError(path, "cannot open");
  FdCloser closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0)
    return errnoError(path, "cannot stat");
  if (!S_ISREG(st.st_mode))
    return Status::error(path + ": not a regular file");
  if (st.st_size == 0)
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));

  auto size = static_cast<size_t>(st.st_size);
  void *addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED)
    return errnoError(path, "cannot mmap");
  return std::unique_ptr<MappedFile>(
      new MappedFile(static_cast<const uint8_t *>(addr), size));
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

} // namespace qc::detail
