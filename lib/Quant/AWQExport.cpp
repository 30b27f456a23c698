//===- AWQExport.cpp - Write AutoAWQ checkpoints --------------------------===//

#include "qc/Quant/AWQExport.h"

#include "qc/Model/SafeTensors.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Quant/AWQ.h"
#include "qc/Quant/WeightPacker.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <list>
#include <sstream>

namespace qc::quant {

namespace {

namespace fs = std::filesystem;
// ordered_json keeps the source config's key order in the output.
using Json = nlohmann::ordered_json;

StatusOr<std::string> readText(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return Status::error(path.string() + ": read error");
  return text.str();
}

Status writeText(const fs::path &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out)
    return Status::error(path.string() + ": cannot write");
  return Status::ok();
}

/// The files besides config and weights that loaders look for.
bool isSideFile(const std::string &name) {
  return (name.starts_with("tokenizer") && name.ends_with(".json")) ||
         name == "tokenizer.model" || name == "generation_config.json" ||
         name == "special_tokens_map.json";
}

Status checkOutDir(const fs::path &dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return Status::ok();
  if (!fs::is_directory(dir, ec))
    return Status::error(dir.string() + ": exists and is not a directory");
  if (!fs::is_empty(dir, ec) || ec)
    return Status::error(dir.string() +
                         ": output directory exists and is not empty");
  return Status::ok();
}

} // namespace

Status exportAutoAwqCheckpoint(const std::string &modelDir,
                               const std::string &outDir, int64_t groupSize,
                               bool zeroPoint,
                               const std::vector<std::string> &skipModules) {
  const fs::path src(modelDir), dst(outDir);
  for (const std::string &skip : skipModules)
    if (skip.empty())
      return Status::error("AWQ export: an empty modules_to_not_convert entry "
                           "would match every module");
  QC_RETURN_IF_ERROR(checkOutDir(dst));

  const fs::path configPath = src / "config.json";
  QC_ASSIGN_OR_RETURN(std::string configText, readText(configPath));
  Json config = Json::parse(configText, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return Status::error(configPath.string() + ": not a JSON object");
  if (config.contains("quantization_config"))
    return Status::error(configPath.string() +
                         ": the model is already quantized "
                         "(it has a quantization_config)");

  QC_ASSIGN_OR_RETURN(WeightIndex weights, WeightIndex::open(modelDir));
  QuantSchemeDesc scheme;
  scheme.kind = QuantSchemeDesc::Kind::AWQ;
  scheme.groupSize = groupSize;
  scheme.zeroPoint = zeroPoint;

  // Quantize everything first: the packed bytes must outlive the
  // TensorToWrite spans (a list never moves its elements).
  std::list<std::vector<PackedTensor>> packedLayers;
  std::vector<TensorToWrite> tensors;
  for (const std::string &name : weights.names()) {
    const TensorInfo &info = *weights.find(name);
    if (name.ends_with(".qweight"))
      return Status::error(name + ": the model is already quantized");
    std::string module =
        name.ends_with(".weight") ? name.substr(0, name.size() - 7) : "";
    bool quantize = isDecoderLinear(module);
    for (const std::string &skip : skipModules)
      quantize &= module.find(skip) == std::string::npos;
    if (!quantize) {
      tensors.push_back({name, info.dtype, info.shape, weights.data(name)});
      continue;
    }
    if (info.shape.size() != 2)
      return Status::error(name + ": expected a 2-D linear weight, got " +
                           formatShape(info.shape));
    QC_ASSIGN_OR_RETURN(
        auto packed,
        quantizeLinear(weights, module, scheme, info.shape[0], info.shape[1]));
    if (!zeroPoint) {
      // AutoAWQ's WQLinear_GEMM always has qzeros; insert the all-8 zeros.
      const int64_t words =
          (info.shape[1] / groupSize) * (info.shape[0] / kAwqPack);
      PackedTensor zeros{"qzeros",
                         DType::I32,
                         {info.shape[1] / groupSize, info.shape[0] / kAwqPack},
                         std::vector<uint8_t>(words * sizeof(int32_t))};
      // Code 8 in every nibble: kAwqSymmetricZeros in every word.
      std::memset(zeros.bytes.data(), 0x88, zeros.bytes.size());
      packed.insert(packed.begin() + 1, std::move(zeros));
    }
    for (const PackedTensor &t : packedLayers.emplace_back(std::move(packed)))
      tensors.push_back({module + "." + t.suffix, t.dtype, t.shape, t.bytes});
  }

  std::string configOut;
  try {
    Json skipped = Json::array();
    for (const std::string &skip : skipModules)
      skipped.push_back(skip);
    config["quantization_config"] =
        Json{{"quant_method", "awq"},   {"bits", kAwqBits},
             {"group_size", groupSize}, {"zero_point", zeroPoint},
             {"version", "gemm"},       {"modules_to_not_convert", skipped}};
    configOut = config.dump(2) + "\n";
  } catch (const nlohmann::json::exception &e) {
    // dump() rejects module names that are not valid UTF-8.
    return Status::error("AWQ export: cannot write config.json: " +
                         std::string(e.what()));
  }

  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec)
    return Status::error(outDir + ": cannot create directory: " + ec.message());
  QC_RETURN_IF_ERROR(writeText(dst / "config.json", configOut));
  // transformers refuses safetensors files without a "format" entry.
  QC_RETURN_IF_ERROR(writeSafeTensors((dst / "model.safetensors").string(),
                                      tensors, {{"format", "pt"}}));
  fs::directory_iterator it(src, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code fileEc;
    if (!isSideFile(name) || !it->is_regular_file(fileEc))
      continue;
    fs::copy_file(it->path(), dst / name, fileEc);
    if (fileEc)
      return Status::error(it->path().string() +
                           ": cannot copy: " + fileEc.message());
  }
  if (ec)
    return Status::error(modelDir + ": cannot list: " + ec.message());
  return Status::ok();
}

} // namespace qc::quant
