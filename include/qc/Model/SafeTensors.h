//===- SafeTensors.h - safetensors reader and writer ------------*- C++ -*-===//
//
// Reads and writes the safetensors format used by Hugging Face checkpoints:
//   [u64 little-endian N][N bytes of JSON header][data section]
// The header maps tensor names to {dtype, shape, data_offsets} (offsets are
// relative to the data section) plus an optional "__metadata__" object of
// strings. Files are validated as strictly as the reference implementation:
// the tensors must tile the data section exactly, without gaps, overlaps or
// trailing bytes.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_SAFETENSORS_H
#define QC_MODEL_SAFETENSORS_H

#include "qc/Model/DType.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qc {

namespace detail {
class MappedFile;
} // namespace detail

/// One tensor entry of a safetensors header.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Byte range [dataBegin, dataEnd) relative to the data section.
  uint64_t dataBegin = 0, dataEnd = 0;

  int64_t numElements() const;
  uint64_t byteSize() const { return dataEnd - dataBegin; }
};

/// Formats a shape as "[4096, 11008]" for messages.
std::string formatShape(std::span<const int64_t> shape);

/// A validated safetensors file, memory-mapped or held in memory.
class SafeTensorsFile {
public:
  /// Maps the file at `path` read-only and validates it.
  static StatusOr<std::unique_ptr<SafeTensorsFile>>
  open(const std::string &path);
  /// Validates `bytes` as a safetensors file; `name` stands for the path in
  /// messages.
  static StatusOr<std::unique_ptr<SafeTensorsFile>>
  fromBuffer(std::vector<uint8_t> bytes, std::string name);

  SafeTensorsFile(const SafeTensorsFile &) = delete;
  SafeTensorsFile &operator=(const SafeTensorsFile &) = delete;
  ~SafeTensorsFile();

  /// All tensors, ordered by data offset.
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  /// The tensor called `name`, or null.
  const TensorInfo *find(std::string_view name) const;
  /// The bytes of `tensor`, which must come from this file's tensors().
  std::span<const uint8_t> data(const TensorInfo &tensor) const;
  /// The "__metadata__" entries (empty when absent).
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }
  /// The path given to open(), or the name given to fromBuffer().
  const std::string &path() const { return path_; }

private:
  explicit SafeTensorsFile(std::string path);
  static StatusOr<std::unique_ptr<SafeTensorsFile>>
  parse(std::unique_ptr<SafeTensorsFile> file, std::span<const uint8_t> bytes);

  std::string path_;
  std::unique_ptr<detail::MappedFile> mapping_; // set by open()
  std::vector<uint8_t> buffer_;                 // set by fromBuffer()
  std::span<const uint8_t> dataSection_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> byName_; // index into tensors_
  std::map<std::string, std::string> metadata_;
};

/// One tensor for writeSafeTensors; `bytes` must hold exactly
/// product(shape) * dtypeSize(dtype) bytes.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};

/// Encodes `tensors` (data laid out in the given order) and `metadata` as a
/// safetensors file image.
StatusOr<std::vector<uint8_t>>
serializeSafeTensors(const std::vector<TensorToWrite> &tensors,
                     const std::map<std::string, std::string> &metadata = {});

/// Writes the same image as serializeSafeTensors to `path`, streaming the
/// tensor bytes instead of building the image in memory.
Status
writeSafeTensors(const std::string &path,
                 const std::vector<TensorToWrite> &tensors,
                 const std::map<std::string, std::string> &metadata = {});

} // namespace qc

#endif // QC_MODEL_SAFETENSORS_H
