//===- WeightIndex.cpp - Tensors of a HF model directory ------------------===//

#include "qc/Model/WeightIndex.h"

#include "qc/Support/Json.h"

#include <filesystem>

namespace qc {

namespace fs = std::filesystem;

namespace {
constexpr const char *kSingleFile = "model.safetensors";
constexpr const char *kIndexFile = "model.safetensors.index.json";

/// Shard names come from a possibly hostile index: they must be plain relative
/// paths that stay inside the model directory.
Status checkShardName(const std::string &shard) {
  if (shard.empty())
    return Status::error("empty shard file name");
  if (shard.find('\0') != std::string::npos)
    return Status::error("shard file name contains a NUL byte");
  fs::path path(shard);
  if (path.is_absolute() || path.has_root_name() || path.has_root_directory())
    return Status::error("shard file '" + shard + "' is an absolute path");
  for (const fs::path &part : path)
    if (part == "..")
      return Status::error("shard file '" + shard +
                           "' escapes the model directory");
  return Status::ok();
}

bool pathExists(const fs::path &path) {
  std::error_code ec; // An unreadable entry counts as absent.
  return fs::exists(path, ec);
}
} // namespace

StatusOr<WeightIndex> WeightIndex::open(const std::string &modelDir) {
  WeightIndex index;
  index.directory_ = modelDir;
  fs::path dir(modelDir);

  bool single = pathExists(dir / kSingleFile);
  if (!single && !pathExists(dir / kIndexFile))
    return Status::error(modelDir + ": no " + kSingleFile + " or " +
                         kIndexFile + " in the model directory");
  if (single) {
    QC_ASSIGN_OR_RETURN(auto file,
                        SafeTensorsFile::open((dir / kSingleFile).string()));
    for (const TensorInfo &t : file->tensors())
      index.tensors_.emplace(t.name, Entry{file.get(), &t});
    index.files_.push_back(std::move(file));
    return index;
  }

  std::string indexPath = (dir / kIndexFile).string();
  auto fail = [&](const std::string &message) {
    return Status::error(indexPath + ": " + message);
  };
  QC_ASSIGN_OR_RETURN(const detail::Json json, detail::readJsonFile(indexPath));
  if (!json.is_object())
    return fail("index must be a JSON object, got " +
                std::string(json.type_name()));
  if (!json.contains("weight_map"))
    return fail("missing required field 'weight_map'");
  const detail::Json &weightMap = json["weight_map"];
  if (!weightMap.is_object())
    return fail("field 'weight_map' must be an object, got " +
                std::string(weightMap.type_name()));

  // Open each shard once, however its name is spelled ("./a" and "a").
  std::map<std::string, SafeTensorsFile *> shards;
  for (const auto &[name, shardJson] : weightMap.items()) {
    std::string where = "weight_map['" + name + "']";
    if (!shardJson.is_string())
      return fail(where + " must be a string, got " +
                  std::string(shardJson.type_name()));
    Status nameOk = checkShardName(shardJson.get<std::string>());
    if (!nameOk)
      return fail(where + ": " + nameOk.message());
    std::string shard =
        fs::path(shardJson.get<std::string>()).lexically_normal().string();
    if (!shards.count(shard)) {
      StatusOr<std::unique_ptr<SafeTensorsFile>> file =
          SafeTensorsFile::open((dir / shard).string());
      if (!file)
        return fail(where + ": cannot open shard '" + shard +
                    "': " + file.status().message());
      shards[shard] = file->get();
      index.files_.push_back(std::move(*file));
    }
    const SafeTensorsFile *file = shards[shard];
    const TensorInfo *info = file->find(name);
    if (!info)
      return fail(where + ": tensor '" + name + "' is missing from shard '" +
                  shard + "'");
    index.tensors_.emplace(name, Entry{file, info});
  }

  // A shard must not carry tensors the index assigns elsewhere or omits:
  // which copy is meant would be ambiguous.
  for (const auto &[shard, file] : shards)
    for (const TensorInfo &t : file->tensors()) {
      auto it = index.tensors_.find(t.name);
      if (it == index.tensors_.end())
        return fail("shard '" + shard + "' holds tensor '" + t.name +
                    "', which weight_map does not list");
      if (it->second.file != file)
        return fail("shard '" + shard + "' holds tensor '" + t.name +
                    "', which weight_map assigns to shard '" +
                    weightMap[t.name].get<std::string>() + "'");
    }
  return index;
}

const TensorInfo *WeightIndex::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.info;
}

std::span<const uint8_t> WeightIndex::data(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return {};
  return it->second.file->data(*it->second.info);
}

const SafeTensorsFile *WeightIndex::fileOf(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.file;
}

std::vector<std::string> WeightIndex::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto &entry : tensors_)
    names.push_back(entry.first);
  return names;
}

} // namespace qc
