//===- WeightIndex.h - Tensors of a HF model directory ----------*- C++ -*-===//
//
// Opens the weights of a Hugging Face model directory: a single
// model.safetensors, or the shards listed by model.safetensors.index.json
// (whose "weight_map" maps each tensor name to its shard file). Like
// transformers, a single model.safetensors wins when both are present.
//
//===----------------------------------------------------------------------===//

#ifndef QC_MODEL_WEIGHTINDEX_H
#define QC_MODEL_WEIGHTINDEX_H

#include "qc/Model/SafeTensors.h"
#include "qc/Support/Status.h"

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qc {

class WeightIndex {
public:
  /// Opens and cross-checks every weight file of `modelDir`. With an index,
  /// every shard must exist inside the directory, hold each tensor the index
  /// assigns to it, and hold no tensor the index assigns elsewhere or omits.
  static StatusOr<WeightIndex> open(const std::string &modelDir);

  /// The tensor called `name`, or null.
  const TensorInfo *find(std::string_view name) const;
  /// The bytes of tensor `name`; empty if there is no such tensor.
  std::span<const uint8_t> data(std::string_view name) const;
  /// The file holding tensor `name`, or null.
  const SafeTensorsFile *fileOf(std::string_view name) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  /// The directory given to open().
  const std::string &directory() const { return directory_; }

private:
  struct Entry {
    const SafeTensorsFile *file;
    const TensorInfo *info;
  };

  std::string directory_;
  std::vector<std::unique_ptr<SafeTensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> tensors_;
};

} // namespace qc

#endif // QC_MODEL_WEIGHTINDEX_H
