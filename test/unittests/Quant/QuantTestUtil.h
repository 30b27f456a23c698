//===- QuantTestUtil.h - Reference data for the QCQuant tests ---*- C++ -*-===//
//
// Loads the safetensors files that test/data/quant/make_quant_reference.py
// made on a GPU machine, and converts their tensors to host vectors.
//
//===----------------------------------------------------------------------===//

#ifndef QC_TEST_QUANT_QUANTTESTUTIL_H
#define QC_TEST_QUANT_QUANTTESTUTIL_H

#include "qc/Model/SafeTensors.h"
#include "qc/Quant/Half.h"

#include "gtest/gtest.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace qc::quant::test {

/// One reference file, opened once per test.
class RefFile {
public:
  explicit RefFile(const std::string &name) {
    auto file =
        SafeTensorsFile::open(std::string(QC_QUANT_TEST_DATA_DIR) + "/" + name);
    if (!file.isOk()) {
      ADD_FAILURE() << file.status().message();
      return;
    }
    file_ = std::move(file.value());
  }

  const TensorInfo &info(const std::string &name) const {
    const TensorInfo *t = file_ ? file_->find(name) : nullptr;
    if (!t) {
      ADD_FAILURE() << "reference tensor missing: " << name;
      static const TensorInfo empty{};
      return empty;
    }
    return *t;
  }

  std::span<const uint8_t> bytes(const std::string &name) const {
    const TensorInfo &t = info(name);
    return t.name.empty() ? std::span<const uint8_t>() : file_->data(t);
  }

  /// The tensor as T values (T's size must match the dtype's).
  template <typename T> std::vector<T> get(const std::string &name) const {
    std::span<const uint8_t> b = bytes(name);
    EXPECT_EQ(b.size() % sizeof(T), 0u) << name;
    std::vector<T> out(b.size() / sizeof(T));
    if (!out.empty())
      std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
    return out;
  }

  /// F16 / BF16 / F32 tensors widened to float.
  std::vector<float> floats(const std::string &name) const {
    const TensorInfo &t = info(name);
    if (t.dtype == DType::F32)
      return get<float>(name);
    std::vector<uint16_t> bits = get<uint16_t>(name);
    return t.dtype == DType::BF16 ? bfloat16ToFloat(bits) : halfToFloat(bits);
  }

  const SafeTensorsFile *file() const { return file_.get(); }

private:
  std::unique_ptr<SafeTensorsFile> file_;
};

/// Bit patterns of floats, for exact comparisons that see -0 and NaN.
inline std::vector<uint32_t> floatBits(const std::vector<float> &v) {
  std::vector<uint32_t> out(v.size());
  if (!v.empty()) // memcpy from an empty vector's null data is undefined
    std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

inline std::vector<uint16_t> halfBits(const std::vector<float> &v) {
  return floatToHalf(v);
}

} // namespace qc::quant::test

#endif // QC_TEST_QUANT_QUANTTESTUTIL_H
