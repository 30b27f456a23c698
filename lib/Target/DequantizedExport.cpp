//===- DequantizedExport.cpp - quantized model -> float checkpoint --------===//

#include "qc/Target/DequantizedExport.h"

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Model/WeightIndex.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <set>

using namespace mlir;
using namespace mlir::qc;
using ::qc::DType;

::qc::quant::QuantSchemeDesc
mlir::qc::describeScheme(QuantSchemeAttrInterface scheme) {
  using Desc = ::qc::quant::QuantSchemeDesc;
  Desc d;
  if (auto awq = dyn_cast<AWQAttr>(scheme)) {
    d.kind = Desc::Kind::AWQ;
    d.groupSize = awq.getGroupSize();
    d.zeroPoint = awq.getZeroPoint();
    d.awqLayout = awq.getLayout() == AWQLayout::Mma   ? ::qc::quant::AwqPackageLayout::Mma
                  : awq.getLayout() == AWQLayout::Cpu ? ::qc::quant::AwqPackageLayout::Cpu
                                                      : ::qc::quant::AwqPackageLayout::Gemm;
  } else if (auto bnb = dyn_cast<BnB4Attr>(scheme)) {
    d.kind = Desc::Kind::BnB4;
    d.bnbType = bnb.getType() == BnB4Type::NF4 ? ::qc::quant::Bnb4Type::NF4
                                               : ::qc::quant::Bnb4Type::FP4;
    d.blockSize = bnb.getBlockSize();
    d.doubleQuant = bnb.getDoubleQuant();
  } else {
    auto int8 = cast<Int8Attr>(scheme);
    d.kind = Desc::Kind::Int8;
    d.int8Mode = int8.getMode() == Int8Mode::WeightOnly
                     ? Desc::Int8Mode::WeightOnly
                 : int8.getMode() == Int8Mode::LLMInt8 ? Desc::Int8Mode::LLMInt8
                                                       : Desc::Int8Mode::W8A8;
    d.threshold = int8.getThreshold().convertToDouble();
  }
  return d;
}

QuantizedLinears mlir::qc::collectQuantizedLinears(ModuleOp graph) {
  QuantizedLinears out;
  graph.walk([&](WeightOp op) {
    auto qtype = dyn_cast<QWeightType>(op.getType());
    if (!qtype)
      return;
    out.layers.push_back({op.getName().str(), {qtype.getN(), qtype.getK()}});
    if (!out.scheme)
      out.scheme = qtype.getScheme();
  });
  return out;
}

LogicalResult mlir::qc::writeDequantizedCheckpoint(
    ModuleOp graph, const ::qc::WeightIndex &weights,
    const std::string &modelDir, const std::string &outDir, bool prequantized) {
  Location loc = graph.getLoc();
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return emitError(loc) << "cannot create '" << outDir
                          << "': " << ec.message();
  auto path = [](StringRef dir, StringRef file) {
    SmallString<256> p(dir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };

  std::vector<std::vector<uint8_t>> buffers;
  std::vector<::qc::TensorToWrite> tensors;
  std::set<std::string> replaced;
  // The layout a pre-quantized AWQ checkpoint stores (the importer records
  // it); qc's own storage is AutoAWQ GEMM.
  std::string awqLayout = "gemm";
  if (auto layout =
          graph->getAttrOfType<StringAttr>("qc.checkpoint.awq_layout"))
    awqLayout = layout.getValue().str();
  WalkResult walk = graph.walk([&](WeightOp op) {
    auto qtype = dyn_cast<QWeightType>(op.getType());
    if (!qtype)
      return WalkResult::advance();
    auto desc = describeScheme(qtype.getScheme());
    int64_t n = qtype.getN(), k = qtype.getK();
    auto packed =
        prequantized
            ? ::qc::quant::importQuantizedLinear(weights, op.getName(), desc, n,
                                                 k, awqLayout)
            : ::qc::quant::quantizeLinear(weights, op.getName(), desc, n, k);
    if (!packed) {
      op.emitError() << packed.status().message();
      return WalkResult::interrupt();
    }
    // Dequantized as the kernels do: rounded to the compute type.
    Type elem = qtype.getElementType();
    DType computeType = elem.isF16()    ? DType::F16
                        : elem.isBF16() ? DType::BF16
                                        : DType::F32;
    auto values =
        ::qc::quant::dequantizePacked(*packed, desc, n, k, computeType);
    if (!values) {
      op.emitError() << values.status().message();
      return WalkResult::interrupt();
    }
    std::vector<uint8_t> bytes(values->size() * sizeof(float));
    std::memcpy(bytes.data(), values->data(), bytes.size());
    buffers.push_back(std::move(bytes));
    std::string name = (op.getName() + ".weight").str();
    tensors.push_back({name, DType::F32, {n, k}, buffers.back()});
    replaced.insert(name);
    // A pre-quantized checkpoint's packed tensors are not float weights.
    if (prequantized)
      for (const std::string &other : weights.names())
        if (StringRef(other).starts_with((op.getName() + ".").str()) &&
            !StringRef(other).ends_with(".bias"))
          replaced.insert(other);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  for (const std::string &name : weights.names()) {
    if (replaced.count(name))
      continue;
    const ::qc::TensorInfo *info = weights.find(name);
    std::span<const uint8_t> data = weights.data(name);
    tensors.push_back({name, info->dtype, info->shape, data});
  }
  if (::qc::Status s = ::qc::writeSafeTensors(path(outDir, "model.safetensors"),
                                              tensors, {{"format", "pt"}});
      !s)
    return emitError(loc) << s.message();
  // config.json without quantization_config: the weights are plain floats.
  auto config = llvm::MemoryBuffer::getFile(path(modelDir, "config.json"));
  if (!config)
    return emitError(loc) << "cannot read " << path(modelDir, "config.json");
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*config)->getBuffer());
  if (!json || !json->getAsObject())
    return emitError(loc) << path(modelDir, "config.json")
                          << " is not a JSON object";
  json->getAsObject()->erase("quantization_config");
  std::error_code ec;
  llvm::raw_fd_ostream os(path(outDir, "config.json"), ec);
  if (ec)
    return emitError(loc) << "cannot write config.json: " << ec.message();
  os << llvm::formatv("{0:2}", *json) << "\n";
  for (StringRef file :
       {"generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    std::string src = path(modelDir, file);
    if (!llvm::sys::fs::exists(src))
      continue;
    if (std::error_code ec = llvm::sys::fs::copy_file(src, path(outDir, file)))
      return emitError(loc) << "cannot copy " << src << ": " << ec.message();
  }
  return success();
}
