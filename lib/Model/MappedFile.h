//===- MappedFile.h - Read-only whole-file memory maps ----------*- C++ -*-===//
//
// Private to QCModel. Weight files are mapped rather than read so that a
// multi-gigabyte checkpoint costs no copy; JSON files use the same path so that
// every reader rejects directories, FIFOs and devices the same way (opening a
// FIFO for reading would otherwise block forever).
//
//===----------------------------------------------------------------------===//

#ifndef QC_LIB_MODEL_MAPPEDFILE_H
#define QC_LIB_MODEL_MAPPEDFILE_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace qc::detail {

class MappedFile {
public:
  /// Maps the regular file at `path`; an empty file maps to an empty span.
  static StatusOr<std::unique_ptr<MappedFile>> open(const std::string &path);

  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

private:
  MappedFile(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  const uint8_t *data_;
  size_t size_;
};

} // namespace qc::detail

#endif // QC_LIB_MODEL_MAPPEDFILE_H
