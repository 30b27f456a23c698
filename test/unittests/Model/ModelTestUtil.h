//===- ModelTestUtil.h - Helpers for the QCModel tests ----------*- C++ -*-===//

#ifndef QC_TEST_UNITTESTS_MODEL_MODELTESTUTIL_H
#define QC_TEST_UNITTESTS_MODEL_MODELTESTUTIL_H

#include "qc/Support/Status.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qc::test {

/// A fresh directory under testing::TempDir(), removed with its contents
/// when the object dies.
class ScopedTempDir {
public:
  ScopedTempDir() {
    std::string pattern =
        (std::filesystem::path(testing::TempDir()) / "qcmodel-XXXXXX").string();
    if (::mkdtemp(pattern.data()))
      path_ = pattern;
    else
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir &) = delete;
  ScopedTempDir &operator=(const ScopedTempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const {
    return (std::filesystem::path(path_) / name).string();
  }

private:
  std::string path_;
};

inline void writeFile(const std::string &path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline void writeFile(const std::string &path,
                      const std::vector<uint8_t> &contents) {
  writeFile(path,
            std::string_view(reinterpret_cast<const char *>(contents.data()),
                             contents.size()));
}

/// A safetensors image made by hand: the little-endian `headerLength`
/// (default: the header's size), the header text, then `dataBytes` zeros.
inline std::vector<uint8_t>
rawSafeTensors(std::string_view header, size_t dataBytes,
               std::optional<uint64_t> headerLength = std::nullopt) {
  uint64_t length = headerLength.value_or(header.size());
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<uint8_t>(length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.resize(bytes.size() + dataBytes, 0);
  return bytes;
}

/// The message of a failure; records a test failure on success.
inline std::string errorOf(const Status &status) {
  if (status.isOk()) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return status.message();
}

template <typename T> std::string errorOf(const StatusOr<T> &result) {
  return errorOf(result.status());
}

} // namespace qc::test

#endif // QC_TEST_UNITTESTS_MODEL_MODELTESTUTIL_H
