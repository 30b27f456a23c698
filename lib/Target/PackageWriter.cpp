//===- PackageWriter.cpp - qc module -> compiled package ------------------===//

#include "qc/Target/PackageWriter.h"

#include "qc/ABI/ForwardABI.h"
#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Model/SHA256.h"
#include "qc/Model/SafeTensors.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Quant/Half.h"
#include "qc/Quant/WeightPacker.h"
#include "qc/Target/DTypeOf.h"
#include "qc/Target/DequantizedExport.h"
#include "qc/Target/HostLibrary.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <map>

using namespace mlir;
using namespace mlir::qc;
using ::qc::DType;

namespace {

/// The manifest's form of a shape: -1 for a dynamic dimension.
std::vector<int64_t> manifestShape(ArrayRef<int64_t> shape) {
  std::vector<int64_t> out;
  for (int64_t d : shape)
    out.push_back(ShapedType::isDynamic(d) ? int64_t(-1) : d);
  return out;
}

} // namespace

std::string mlir::qc::manifestTarget(StringRef target) {
  if (isNVIDIAChip(target))
    return ("cuda:" + target).str();
  if (isAMDChip(target))
    return ("hip:" + target).str();
  return target.str();
}

/// Gives the LLVM-dialect kernels module a global holding `text`, the
/// signature the runtime checks the manifest against.
static void addKernelSignature(ModuleOp module, StringRef text) {
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  std::string bytes = text.str();
  bytes.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
  LLVM::GlobalOp::create(
      b, module.getLoc(), type, /*isConstant=*/true, LLVM::Linkage::External,
      ::qc::abi::kKernelSignatureSymbol, b.getStringAttr(bytes));
}

LogicalResult mlir::qc::writePackage(ModuleOp graph,
                                     const ::qc::WeightIndex &weights,
                                     const PackageOptions &options) {
  Location loc = graph.getLoc();
  MLIRContext *ctx = graph.getContext();
  auto forward = graph.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return emitError(loc) << "expected a qc graph 'func.func @forward'";
  auto cacheType = cast<KVCacheType>(forward.getArgumentTypes()[2]);
  auto modelInfo = graph->getAttrOfType<DictionaryAttr>("qc.model");
  if (!modelInfo)
    return emitError(loc) << "the qc module has no 'qc.model' attribute";

  if (std::error_code ec = llvm::sys::fs::create_directories(options.outputDir))
    return emitError(loc) << "cannot create '" << options.outputDir
                          << "': " << ec.message();
  auto inPackage = [&](StringRef file) {
    SmallString<256> p(options.outputDir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };

  // Stage 1: kernels, and the ABI they define.
  OwningOpRef<ModuleOp> kernels = cast<ModuleOp>(graph->clone());
  {
    PassManager pm(ctx);
    CPUPipelineOptions pipeline;
    pipeline.blockSize = options.blockSize;
    pipeline.warpAttention = options.target != "cpu";
    buildQCToKernelsPipeline(pm, pipeline);
    if (failed(pm.run(*kernels)))
      return failure();
  }
  auto entry = kernels->lookupSymbol<func::FuncOp>("qc_forward");
  auto weightNames = (*kernels)->getAttrOfType<ArrayAttr>("qc.abi.weights");
  FunctionType abi = entry.getFunctionType();
  llvm::json::Array args;
  ::qc::abi::KernelSignature signature{
      "qc_forward_packed", "qc_argmax_packed", "qc_sample_packed", {}};
  for (auto [i, type] : llvm::enumerate(abi.getInputs())) {
    auto shaped = cast<ShapedType>(type);
    std::optional<DType> dtype = dtypeOf(shaped.getElementType());
    if (!dtype)
      return emitError(loc) << "unsupported ABI element type " << type;
    StringRef name =
        i < ::qc::abi::kFirstWeight
            ? StringRef(::qc::abi::kForwardArgNames[i])
            : cast<StringAttr>(weightNames[i - ::qc::abi::kFirstWeight])
                  .getValue();
    args.push_back(
        llvm::json::Object{{"name", name},
                           {"dtype", std::string(::qc::dtypeName(*dtype))},
                           {"shape", manifestShape(shaped.getShape())}});
    signature.args.push_back({name.str(), std::string(::qc::dtypeName(*dtype)),
                              manifestShape(shaped.getShape())});
  }

  // Stage 2: weights, in argument order. Quantized weights are quantized
  // here (or taken from a pre-quantized checkpoint) by lib/Quant.
  if (options.writeWeights) {
    std::map<std::string, ::qc::quant::PackedTensor> packed;
    // The layout a pre-quantized AWQ checkpoint stores (the importer records
    // it); qc's own storage is AutoAWQ GEMM.
    std::string awqLayout = "gemm";
    if (auto layout =
            graph->getAttrOfType<StringAttr>("qc.checkpoint.awq_layout"))
      awqLayout = layout.getValue().str();
    WalkResult packing = graph.walk([&](WeightOp op) {
      auto qtype = dyn_cast<QWeightType>(op.getType());
      if (!qtype)
        return WalkResult::advance();
      auto desc = describeScheme(qtype.getScheme());
      auto result =
          options.prequantized
              ? ::qc::quant::importQuantizedLinear(weights, op.getName(), desc,
                                                   qtype.getN(), qtype.getK(),
                                                   awqLayout)
              : ::qc::quant::quantizeLinear(weights, op.getName(), desc,
                                            qtype.getN(), qtype.getK());
      if (!result) {
        op.emitError() << result.status().message();
        return WalkResult::interrupt();
      }
      for (::qc::quant::PackedTensor &t : *result)
        packed[(op.getName() + "." + t.suffix).str()] = std::move(t);
      return WalkResult::advance();
    });
    if (packing.wasInterrupted())
      return failure();

    // The bytes and shape of one source tensor in the kernels' dtype.
    auto source = [&](StringRef name, DType dtype)
        -> FailureOr<std::pair<std::vector<uint8_t>, std::vector<int64_t>>> {
      if (auto it = packed.find(name.str()); it != packed.end()) {
        if (it->second.dtype != dtype)
          return emitError(loc)
                 << "internal: packed '" << name << "' is "
                 << ::qc::dtypeName(it->second.dtype) << ", the kernels take "
                 << ::qc::dtypeName(dtype);
        return std::make_pair(std::move(it->second.bytes), it->second.shape);
      }
      const ::qc::TensorInfo *info = weights.find(name.str());
      if (!info)
        return emitError(loc)
               << "weight '" << name << "' is not in the checkpoint";
      auto bytes = ::qc::quant::convertFloatTensor(
          *info, weights.data(name.str()), dtype);
      if (!bytes)
        return emitError(loc) << bytes.status().message();
      return std::make_pair(std::move(*bytes), info->shape);
    };

    auto stackDims = (*kernels)->getAttrOfType<ArrayAttr>("qc.abi.stack_dims");
    std::vector<std::vector<uint8_t>> buffers;
    std::vector<::qc::TensorToWrite> tensors;
    buffers.reserve(weightNames.size());
    for (auto [i, nameAttr] : llvm::enumerate(weightNames)) {
      StringRef name = cast<StringAttr>(nameAttr).getValue();
      auto type =
          cast<RankedTensorType>(abi.getInput(::qc::abi::kFirstWeight + i));
      std::vector<int64_t> shape(type.getShape().begin(),
                                 type.getShape().end());
      std::optional<DType> dtype = dtypeOf(type.getElementType());
      if (!dtype)
        return emitError(loc)
               << "weight '" << name << "' has unsupported type " << type;
      // A stacked argument (fused q/k/v, gate/up) concatenates its sources
      // along `dim`: rows of [R, C_i] tensors for dim 1, whole tensors for 0.
      int64_t dim = cast<IntegerAttr>(stackDims[i]).getInt();
      SmallVector<StringRef> names;
      name.split(names, '+');
      std::vector<std::vector<uint8_t>> parts;
      std::vector<int64_t> stackedSize(shape.size(), 0);
      for (StringRef part : names) {
        auto bytesAndShape = source(part, *dtype);
        if (failed(bytesAndShape))
          return failure();
        const std::vector<int64_t> &partShape = bytesAndShape->second;
        if (partShape.size() != shape.size())
          return emitError(loc)
                 << "internal: '" << part << "' has rank " << partShape.size()
                 << ", expected " << shape.size();
        for (size_t d = 0; d < shape.size(); ++d)
          stackedSize[d] = int64_t(d) == dim || names.size() == 1
                               ? stackedSize[d] + partShape[d]
                               : partShape[d];
        parts.push_back(std::move(bytesAndShape->first));
      }
      if (stackedSize != shape)
        return emitError(loc)
               << "internal: '" << name << "' assembles to "
               << ::qc::formatShape(stackedSize) << ", the kernels take "
               << ::qc::formatShape(shape);
      std::vector<uint8_t> bytes;
      if (parts.size() == 1 || dim == 0) {
        for (std::vector<uint8_t> &p : parts)
          bytes.insert(bytes.end(), p.begin(), p.end());
      } else {
        size_t rows = size_t(shape[0]);
        for (size_t r = 0; r < rows; ++r)
          for (std::vector<uint8_t> &p : parts) {
            size_t rowBytes = p.size() / rows;
            bytes.insert(bytes.end(), p.begin() + r * rowBytes,
                         p.begin() + (r + 1) * rowBytes);
          }
      }
      buffers.push_back(std::move(bytes));
      tensors.push_back({name.str(), *dtype, shape, buffers.back()});
    }
    if (::qc::Status s =
            ::qc::writeSafeTensors(inPackage("weights.safetensors"), tensors);
        !s)
      return emitError(loc) << s.message();
  }

  // Stage 3: native code.
  {
    PassManager pm(ctx);
    if (options.target == "cpu") {
      buildKernelsToLLVMCPUPipeline(pm, options.int8Activations);
    } else {
      GPUPipelineOptions gpu;
      gpu.chip = options.target;
      gpu.format = options.gpuFormat;
      gpu.toolkit = options.gpuToolkit;
      gpu.tensorCoreMinTokens = options.tensorCoreMinTokens;
      if (failed(gpu.parseFromString(options.gpuPipelineOptions)))
        return emitError(loc) << "invalid GPU pipeline options '"
                              << options.gpuPipelineOptions << "'";
      buildKernelsToGPUPipeline(pm, gpu);
      buildGPUToLLVMPipeline(pm, gpu);
    }
    if (failed(pm.run(*kernels)) || failed(addPackedEntryPoints(*kernels)))
      return failure();
    addKernelSignature(*kernels, signature.text());
    if (failed(emitHostSharedLibrary(*kernels, inPackage("kernels.so"),
                                     options.cpu)))
      return failure();
  }
  ::qc::StatusOr<std::string> librarySha256 =
      ::qc::sha256File(inPackage("kernels.so"));
  if (!librarySha256)
    return emitError(loc) << librarySha256.status().message();

  // Stage 4: tokenizer files and the manifest.
  bool hasTokenizer = false;
  for (StringRef file : {"tokenizer.json", "tokenizer_config.json"}) {
    SmallString<256> src(options.modelDir);
    llvm::sys::path::append(src, file);
    if (!llvm::sys::fs::exists(src))
      continue;
    if (std::error_code ec = llvm::sys::fs::copy_file(src, inPackage(file)))
      return emitError(loc) << "cannot copy " << src << ": " << ec.message();
    hasTokenizer |= file == "tokenizer.json";
  }
  auto intList = [&](StringRef key) {
    llvm::json::Array out;
    if (auto list = modelInfo.getAs<ArrayAttr>(key))
      for (Attribute a : list)
        out.push_back(cast<IntegerAttr>(a).getInt());
    return out;
  };
  auto intOf = [&](StringRef key) {
    return modelInfo.getAs<IntegerAttr>(key).getInt();
  };
  auto logitsType = cast<ShapedType>(abi.getInput(::qc::abi::kLogits));
  llvm::json::Object manifest{
      {"format", "quantc-package"},
      {"version", ::qc::abi::kPackageFormatVersion},
      {"target", manifestTarget(options.target)},
      {"model",
       llvm::json::Object{
           {"architecture",
            modelInfo.getAs<StringAttr>("architecture").getValue()},
           {"vocab_size", logitsType.getDimSize(1)},
           {"hidden_size", intOf("hidden_size")},
           {"num_layers", intOf("num_layers")},
           {"max_position_embeddings", intOf("max_position_embeddings")},
           {"bos_token_ids", intList("bos_token_ids")},
           {"eos_token_ids", intList("eos_token_ids")}}},
      {"kv_cache",
       llvm::json::Object{{"num_layers", cacheType.getNumLayers()},
                          {"num_kv_heads", cacheType.getNumKvHeads()},
                          {"head_dim", cacheType.getHeadDim()},
                          {"dtype", std::string(::qc::dtypeName(
                                        *dtypeOf(cacheType.getDtype())))},
                          {"block_size", options.blockSize}}},
      {"kernels", llvm::json::Object{{"library", "kernels.so"},
                                     {"library_sha256", *librarySha256},
                                     {"entry", signature.entry},
                                     {"argmax", signature.argmax},
                                     {"sample", signature.sample},
                                     {"args", std::move(args)}}},
      {"weights", "weights.safetensors"},
      {"tokenizer", hasTokenizer ? llvm::json::Value("tokenizer.json")
                                 : llvm::json::Value(nullptr)}};
  std::error_code ec;
  llvm::raw_fd_ostream os(inPackage("manifest.json"), ec);
  if (ec)
    return emitError(loc) << "cannot write the manifest: " << ec.message();
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  return success();
}
