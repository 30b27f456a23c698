//===- TensorRef.cpp - Abstract tensor lookup for importers ---------------===//

#include "qc/Quant/TensorRef.h"

#include "qc/Model/SafeTensors.h"

namespace qc::quant {

std::string describeTensor(DType dtype, const std::vector<int64_t> &shape) {
  return std::string(dtypeName(dtype)) + " " + formatShape(shape);
}

StatusOr<const TensorRef *>
requireTensor(const TensorLookup &lookup, const std::string &key, DType dtype,
              const std::vector<std::vector<int64_t>> &shapes) {
  std::string expected;
  for (const auto &shape : shapes)
    expected += (expected.empty() ? "" : " or ") + describeTensor(dtype, shape);
  const TensorRef *t = lookup(key);
  if (!t)
    return Status::error("missing tensor " + key + " (expected " + expected +
                         ")");
  bool shapeOk = false;
  for (const auto &shape : shapes)
    shapeOk |= t->shape == shape;
  if (t->dtype != dtype || !shapeOk)
    return Status::error(key + ": expected " + expected + ", got " +
                         describeTensor(t->dtype, t->shape));
  uint64_t count = 1;
  for (int64_t d : t->shape) {
    // Checked before multiplying, so absurd shapes cannot wrap around.
    if (d < 0 || (d > 0 && count > (uint64_t(1) << 50) / uint64_t(d)))
      return Status::error(key + ": implausible shape " +
                           describeTensor(t->dtype, t->shape));
    count *= static_cast<uint64_t>(d);
  }
  if (t->bytes.size() != count * dtypeSize(dtype))
    return Status::error(key + ": holds " + std::to_string(t->bytes.size()) +
                         " bytes, " + describeTensor(t->dtype, t->shape) +
                         " needs " + std::to_string(count * dtypeSize(dtype)));
  if (std::optional<size_t> bad = findNonFinite(dtype, t->bytes))
    return Status::error(key +
                         ": non-finite value (NaN or infinity) at flat "
                         "index " +
                         std::to_string(*bad));
  return t;
}

void SafeTensorsLookup::add(const SafeTensorsFile &file) {
  for (const TensorInfo &info : file.tensors())
    tensors_[info.name] = TensorRef{info.dtype, info.shape, file.data(info)};
}

const TensorRef *SafeTensorsLookup::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

} // namespace qc::quant
