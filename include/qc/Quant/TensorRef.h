//===- TensorRef.h - Abstract tensor lookup for importers -------*- C++ -*-===//
//
// The checkpoint importers read tensors through a lookup function instead of
// a file type, so any container (a safetensors file, several shards, a test's
// in-memory map) can feed them.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_TENSORREF_H
#define QC_QUANT_TENSORREF_H

#include "qc/Model/DType.h"
#include "qc/Support/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qc {
class SafeTensorsFile;
} // namespace qc

namespace qc::quant {

/// A stored tensor: element type, shape and little-endian bytes. The bytes
/// must outlive the import that reads them.
struct TensorRef {
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};

/// Returns the tensor called `name`, or null when there is none. The pointer
/// must stay valid until the importer returns.
using TensorLookup = std::function<const TensorRef *(std::string_view name)>;

/// Finds `key` and checks that its dtype is `dtype`, its shape one of
/// `shapes`, and that its bytes fill that shape. Errors name the key and
/// the expected dtype and shape.
StatusOr<const TensorRef *>
requireTensor(const TensorLookup &lookup, const std::string &key, DType dtype,
              const std::vector<std::vector<int64_t>> &shapes);

/// "F32 [16]" for messages.
std::string describeTensor(DType dtype, const std::vector<int64_t> &shape);

/// A TensorLookup over the tensors of safetensors files (later files win on
/// duplicate names). The files must outlive it.
class SafeTensorsLookup {
public:
  SafeTensorsLookup() = default;
  explicit SafeTensorsLookup(const SafeTensorsFile &file) { add(file); }
  void add(const SafeTensorsFile &file);

  const TensorRef *find(std::string_view name) const;
  /// A TensorLookup that refers to this object.
  TensorLookup lookup() const {
    return [this](std::string_view name) { return find(name); };
  }

private:
  std::map<std::string, TensorRef, std::less<>> tensors_;
};

} // namespace qc::quant

#endif // QC_QUANT_TENSORREF_H
