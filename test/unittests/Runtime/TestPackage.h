//===- TestPackage.h - tiny packages for the runtime tests ------*- C++ -*-===//
//
// A package directory of a tiny model for the device and GPU-path tests.
//
//===----------------------------------------------------------------------===//

#ifndef QC_TEST_RUNTIME_TESTPACKAGE_H
#define QC_TEST_RUNTIME_TESTPACKAGE_H

#include "qc/Model/SHA256.h"
#include "qc/Model/SafeTensors.h"
#include "qc/runtime/ForwardRunner.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace qc::runtime::test {

/// A manifest of a tiny model: vocabulary 8, one layer, a KV cache of one
/// head of 2, blocks of 4, and one weight `w` F32 [4].
/// `librarySha256` is what kernels.so must hash to.
inline std::string manifestJson(const std::string &target,
                                const std::string &librarySha256 = "") {
  return R"({
  "format": "quantc-package", "version": )" +
         std::to_string(abi::kPackageFormatVersion) + R"(, "target": ")" +
         target + R"(",
  "model": {"architecture": "LlamaForCausalLM", "vocab_size": 8,
            "hidden_size": 4, "num_layers": 1,
            "max_position_embeddings": 64, "bos_token_ids": [1],
            "eos_token_ids": [2]},
  "kv_cache": {"num_layers": 1, "num_kv_heads": 1, "head_dim": 2,
               "block_size": 4, "dtype": "F16"},
  "kernels": {"library": "kernels.so", "library_sha256": ")" +
         librarySha256 + R"(", "entry": "qc_forward_packed",
              "argmax": "qc_argmax_packed", "sample": "qc_sample_packed",
              "args": [
    {"name": "tokens", "dtype": "I32", "shape": [-1]},
    {"name": "positions", "dtype": "I32", "shape": [-1]},
    {"name": "slot_mapping", "dtype": "I32", "shape": [-1]},
    {"name": "token_sequence", "dtype": "I32", "shape": [-1]},
    {"name": "block_tables", "dtype": "I32", "shape": [-1, -1]},
    {"name": "k_cache", "dtype": "F16", "shape": [1, -1, 2]},
    {"name": "v_cache", "dtype": "F16", "shape": [1, -1, 2]},
    {"name": "logits", "dtype": "F32", "shape": [-1, 8]},
    {"name": "w", "dtype": "F32", "shape": [4]}]},
  "weights": "weights.safetensors"
})";
}

/// A package directory for `target` with the weights file; `kernels`, when
/// given, is copied in as kernels.so.
class PackageDir {
public:
  PackageDir(const std::string &target, const std::string &kernels = "") {
    path_ = std::filesystem::temp_directory_path() /
            ("qc-device-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter_++));
    std::filesystem::create_directories(path_);
    std::vector<float> w = {0.5f, 0.25f, -1.0f, 2.0f};
    Status s = writeSafeTensors(
        (path_ / "weights.safetensors").string(),
        {{"w",
          DType::F32,
          {4},
          {reinterpret_cast<const uint8_t *>(w.data()), w.size() * 4}}});
    EXPECT_TRUE(s) << s.message();
    if (!kernels.empty())
      std::filesystem::copy_file(kernels, path_ / "kernels.so");
    else
      std::ofstream(path_ / "kernels.so") << "not a library";
    StatusOr<std::string> digest = sha256File((path_ / "kernels.so").string());
    EXPECT_TRUE(digest) << digest.status().message();
    std::ofstream(path_ / "manifest.json")
        << manifestJson(target, digest ? *digest : "");
  }
  ~PackageDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }

private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

/// Sets an environment variable for the scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

private:
  const char *name_;
  std::optional<std::string> old_;
};

inline std::string loadError(const std::string &dir) {
  StatusOr<std::unique_ptr<Package>> p = Package::load(dir);
  return p ? "" : p.status().message();
}

} // namespace qc::runtime::test

#endif // QC_TEST_RUNTIME_TESTPACKAGE_H
