//===- Weights.cpp - Float weight matrices fed to the quantizers ----------===//

#include "qc/Quant/Weights.h"

#include "qc/Model/SafeTensors.h"
#include "qc/Quant/Half.h"

#include <cmath>
#include <cstring>

namespace qc::quant {

float roundToType(DType type, float value) {
  switch (type) {
  case DType::F16:
    return roundToHalf(value);
  case DType::BF16:
    return roundToBFloat16(value);
  default:
    return value;
  }
}

Status validateWeights(const WeightMatrix &w) {
  if (w.type != DType::F32 && w.type != DType::F16 && w.type != DType::BF16)
    return Status::error(w.name + ": weights must be F32, F16 or BF16, got " +
                         std::string(dtypeName(w.type)));
  if (w.rows <= 0 || w.cols <= 0)
    return Status::error(w.name + ": empty weight matrix of shape " +
                         formatShape(std::vector<int64_t>{w.rows, w.cols}));
  if (w.cols > INT64_MAX / w.rows ||
      static_cast<int64_t>(w.values.size()) != w.rows * w.cols)
    return Status::error(w.name + ": " + std::to_string(w.values.size()) +
                         " values do not fill the shape " +
                         formatShape(std::vector<int64_t>{w.rows, w.cols}));
  for (size_t i = 0; i < w.values.size(); ++i) {
    float v = w.values[i];
    if (!std::isfinite(v))
      return Status::error(w.name + ": non-finite value at flat index " +
                           std::to_string(i));
    if (roundToType(w.type, v) != v)
      return Status::error(w.name + ": value at flat index " +
                           std::to_string(i) + " is not representable in " +
                           std::string(dtypeName(w.type)));
  }
  return Status::ok();
}

StatusOr<std::vector<float>> widenToFloat(DType type,
                                          std::span<const uint8_t> bytes,
                                          const std::string &name) {
  size_t width = type == DType::F32 ? 4 : 2;
  if (type != DType::F32 && type != DType::F16 && type != DType::BF16)
    return Status::error(name + ": cannot widen " +
                         std::string(dtypeName(type)) + " to F32");
  if (bytes.size() % width != 0)
    return Status::error(name + ": " + std::to_string(bytes.size()) +
                         " bytes is not a whole number of " +
                         std::string(dtypeName(type)) + " elements");
  std::vector<float> out(bytes.size() / width);
  for (size_t i = 0; i < out.size(); ++i) {
    if (type == DType::F32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
      continue;
    }
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    out[i] = type == DType::F16 ? halfToFloat(bits) : bfloat16ToFloat(bits);
  }
  return out;
}

} // namespace qc::quant
