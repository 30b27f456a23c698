//===- quant-compile.cpp - Hugging Face model dir -> qc IR / package ------===//
//
//   quant-compile MODEL_DIR -o PKG [--target=cpu] [--dtype=auto|f32|f16|bf16]
//                 [--quant=none|awq|nf4|fp4|int8|llm-int8|w8a8 [knobs]]
//                 [--quant-config=quantization_config.json]
//   quant-compile MODEL_DIR --emit=qc|kernels|llvm [-o FILE]
//
// Imports a Llama, Mistral or Qwen2 checkpoint, optionally quantizes it, and
// writes a compiled package (or prints the IR of one stage).
//
//===----------------------------------------------------------------------===//

#include "qc/Dialect/QC/IR/QCDialect.h"
#include "qc/Import/HFImporter.h"
#include "qc/Import/QuantizationConfig.h"
#include "qc/InitAllDialects.h"
#include "qc/Model/OutputPaths.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Pipelines/Pipelines.h"
#include "qc/Quant/AWQExport.h"
#include "qc/Quant/QuantReport.h"
#include "qc/Support/Version.h"
#include "qc/Target/DequantizedExport.h"
#include "qc/Target/HostLibrary.h"
#include "qc/Target/PackageWriter.h"
#include "qc/Transforms/Passes.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"

#include <sys/stat.h>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitAction { QC, Kernels, LLVM, Package };

cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                              cl::desc("<Hugging Face model directory>"));
cl::opt<EmitAction> emit(
    "emit", cl::desc("What to produce"),
    cl::values(
        clEnumValN(EmitAction::QC, "qc", "the qc graph IR"),
        clEnumValN(EmitAction::Kernels, "kernels",
                   "the kernels on linalg/tensor/scf/memref (qc-to-kernels)"),
        clEnumValN(EmitAction::LLVM, "llvm",
                   "the LLVM dialect for the host CPU (qc-to-llvm-cpu)"),
        clEnumValN(EmitAction::Package, "package",
                   "a compiled package directory (the default)")),
    cl::init(EmitAction::Package));
cl::opt<std::string> outputFile(
    "o", cl::desc("Output package directory, or IR file ('-' for stdout)"),
    cl::value_desc("path"), cl::init("-"));
cl::opt<std::string>
    target("target",
           cl::desc("Target: cpu, or a GPU: sm_80, sm_90a (CUDA), gfx90a, "
                    "gfx942 (HIP)"),
           cl::init("cpu"));
cl::opt<std::string> weightLayouts(
    "weight-layouts",
    cl::desc("Store quantized weights in the layouts of this target's "
             "kernels (default: --target's; a CPU package with a GPU's "
             "layouts checks them on any machine)"),
    cl::value_desc("cpu|sm_80|sm_90a|gfx90a|gfx942"), cl::init(""));
cl::opt<bool> noWeights(
    "no-weights",
    cl::desc("Write the kernels and manifest only, no weights.safetensors "
             "(benchmarks of model shapes fill it with random values)"),
    cl::init(false));
cl::opt<std::string> gpuFormat(
    "gpu-format",
    cl::desc("GPU kernel binary: bin (cubin / hsaco) or isa (PTX, which the "
             "CUDA driver compiles at load)"),
    cl::init("bin"));
cl::opt<std::string>
    gpuToolkit("gpu-toolkit",
               cl::desc("CUDA toolkit (ptxas) or ROCm-layout directory "
                        "(default: the one configured at build time)"),
               cl::init(""));
cl::opt<int64_t> tensorCoreMinTokens(
    "tensor-core-min-tokens",
    cl::desc("GPU: steps with at least this many tokens run the f16 linear "
             "layers on tensor cores (0: never)"),
    cl::init(16));
cl::opt<std::string>
    gpuOptions("gpu-options",
               cl::desc("More GPU pipeline options (qc-to-llvm-gpu's), e.g. "
                        "\"tensor-core-tile-tokens=64 tensor-core-unroll=2\""),
               cl::init(""));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU of the kernels: native (this machine) "
                                  "or an LLVM CPU name, e.g. x86-64-v3"),
                         cl::init("native"));
cl::opt<bool> cpuInt8Activations(
    "cpu-int8-activations",
    cl::desc("CPU packages: AWQ layers quantize their activations to int8 "
             "per block of 32 and multiply with integer dot products, as "
             "llama.cpp does (default where the CPU has AVX2; =false keeps "
             "float activations, bit-exact with the dequantized weights)"),
    cl::init(true));
cl::opt<int64_t> blockSize("kv-block-size",
                           cl::desc("Tokens per KV-cache block"), cl::init(16));
cl::opt<std::string> dtype("dtype",
                           cl::desc("Compute type: auto, f32, f16 or bf16"),
                           cl::init("auto"));

cl::OptionCategory quantCategory("Quantization (as in HF AwqConfig / "
                                 "BitsAndBytesConfig)");
cl::opt<std::string>
    quant("quant", cl::desc("none, awq, nf4, fp4, int8, llm-int8 or w8a8"),
          cl::init("none"), cl::cat(quantCategory));
cl::opt<std::string>
    quantConfig("quant-config",
                cl::desc("JSON file shaped like HF's quantization_config"),
                cl::value_desc("file"), cl::cat(quantCategory));
cl::opt<int64_t> groupSize("group-size", cl::desc("AWQ group size"),
                           cl::init(128), cl::cat(quantCategory));
cl::opt<bool> zeroPoint("zero-point", cl::desc("AWQ zero points"),
                        cl::init(true), cl::cat(quantCategory));
cl::opt<bool> doubleQuant("bnb-4bit-use-double-quant",
                          cl::desc("nf4/fp4: quantize the absmaxes too"),
                          cl::init(false), cl::cat(quantCategory));
cl::opt<double> llmInt8Threshold("llm-int8-threshold",
                                 cl::desc("llm-int8 outlier threshold"),
                                 cl::init(6.0), cl::cat(quantCategory));
cl::list<std::string>
    skipModules("skip-modules", cl::CommaSeparated,
                cl::desc("Modules (name substrings) kept in floating point"),
                cl::cat(quantCategory));
cl::opt<bool> quantReport(
    "quant-report",
    cl::desc("Print each quantized layer's weight error (relative Frobenius, "
             "max abs, SQNR) against the float weights"),
    cl::init(false), cl::cat(quantCategory));
cl::opt<std::string> exportAwq(
    "export-awq",
    cl::desc("Write an AutoAWQ GEMM checkpoint of the model to this directory "
             "(uses --group-size, --zero-point, --skip-modules)"),
    cl::value_desc("dir"), cl::cat(quantCategory));
cl::opt<std::string> exportDequantized(
    "export-dequantized",
    cl::desc("Write the float checkpoint the quantized model computes with "
             "(dequantized linear weights) to this directory"),
    cl::value_desc("dir"), cl::cat(quantCategory));
cl::opt<bool> quantizeLmHead("quantize-lm-head",
                             cl::desc("Also quantize an untied lm_head"),
                             cl::init(false), cl::cat(quantCategory));

/// The qc-quantize options the command line asks for, or nullopt-like
/// method "none".
FailureOr<mlir::qc::QCQuantizeOptions> quantOptions(Location loc) {
  if (quant != "none" && !quantConfig.empty())
    return emitError(loc) << "give either --quant or --quant-config, not both";
  if (!quantConfig.empty()) {
    auto buffer = llvm::MemoryBuffer::getFile(quantConfig);
    if (!buffer)
      return emitError(loc) << "cannot read '" << quantConfig
                            << "': " << buffer.getError().message();
    return mlir::qc::parseQuantizationConfig((*buffer)->getBuffer(),
                                             quantConfig, loc);
  }
  FailureOr<mlir::qc::QCQuantizeOptions> options =
      mlir::qc::quantOptionsForFlag(quant, loc);
  if (failed(options))
    return failure();
  // Knobs override the method's HF defaults only when given.
  if (groupSize.getNumOccurrences())
    options->groupSize = groupSize;
  if (zeroPoint.getNumOccurrences())
    options->zeroPoint = zeroPoint;
  if (doubleQuant.getNumOccurrences())
    options->bnb4bitUseDoubleQuant = doubleQuant;
  if (llmInt8Threshold.getNumOccurrences())
    options->llmInt8Threshold = llmInt8Threshold;
  options->skipModules.append(skipModules.begin(), skipModules.end());
  options->quantizeLmHead = quantizeLmHead;
  return options;
}

/// Refuses command lines whose flags ask for different things.
LogicalResult checkFlagConflicts(Location loc) {
  int modes = int(!exportAwq.empty()) + int(!exportDequantized.empty()) +
              int(quantReport.getValue());
  if (modes > 1)
    return emitError(loc) << "give at most one of --export-awq, "
                             "--export-dequantized and --quant-report";
  if (modes && (outputFile.getNumOccurrences() || emit.getNumOccurrences()))
    return emitError(loc)
           << "--export-awq, --export-dequantized and --quant-report write no "
              "package or IR; drop -o / --emit";
  if (!exportAwq.empty() &&
      ((quant != "none" && quant != "awq") || !quantConfig.empty()))
    return emitError(loc) << "--export-awq writes an AutoAWQ checkpoint from "
                             "the float model (with --group-size, "
                             "--zero-point, --skip-modules); it cannot follow "
                             "--quant="
                          << quant
                          << (quantConfig.empty() ? "" : " / --quant-config");
  return success();
}

bool isCharacterDevice(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

/// Writes an output directory through a staged sibling (see OutputPaths.h):
/// `write` fills the given directory; nothing replaces `target` unless it
/// succeeds.
LogicalResult
writeStaged(Location loc, const std::string &target, const std::string &marker,
            llvm::function_ref<LogicalResult(const std::string &)> write) {
  auto staged = ::qc::StagedDirectory::create(target, {modelDir}, marker);
  if (!staged)
    return emitError(loc) << staged.status().message();
  if (failed(write(staged->path())))
    return failure();
  if (::qc::Status s = staged->commit(); !s)
    return emitError(loc) << s.message();
  return success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  // --help shows quant-compile's own options; LLVM's and MLIR's stay
  // usable (--help-hidden lists them).
  static cl::OptionCategory compileCategory("quant-compile options");
  for (cl::Option *o : std::initializer_list<cl::Option *>{
           &modelDir, &emit, &outputFile, &target, &weightLayouts, &noWeights,
           &gpuFormat, &gpuToolkit, &tensorCoreMinTokens, &gpuOptions, &cpu,
           &cpuInt8Activations, &blockSize, &dtype})
    o->addCategory(compileCategory);
  cl::HideUnrelatedOptions({&compileCategory, &quantCategory});
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << ::qc::versionText() << "\n"; });
  cl::ParseCommandLineOptions(argc, argv, "quantc model compiler\n");

  // Every dialect and interface model the pipelines use (bufferization
  // models of tensor/linalg/arith, LLVM translation interfaces).
  DialectRegistry registry;
  mlir::qc::registerAllQCDialects(registry);
  MLIRContext context(registry);
  context.loadDialect<mlir::qc::QCDialect>();
  context.printOpOnDiagnostic(false);
  // Diagnostics name their file or module themselves ("model.layers.3.mlp"
  // for errors in the graph); print them as a compiler driver does.
  context.getDiagEngine().registerHandler([](Diagnostic &diag) {
    llvm::raw_ostream &os = llvm::errs();
    if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
      os << name.getName().getValue() << ": ";
    os << (diag.getSeverity() == DiagnosticSeverity::Error ? "error: "
                                                           : "note: ")
       << diag << "\n";
    for (Diagnostic &note : diag.getNotes())
      os << "note: " << note << "\n";
  });
  Location cliLoc = UnknownLoc::get(&context);

  if (failed(checkFlagConflicts(cliLoc)))
    return 1;
  FailureOr<mlir::qc::QCQuantizeOptions> options = quantOptions(cliLoc);
  if (failed(options))
    return 1;

  mlir::qc::ImportOptions importOptions;
  importOptions.dtype = dtype;
  auto module = mlir::qc::importHFModel(context, modelDir, importOptions);
  if (failed(module))
    return 1;

  // A checkpoint with a quantization_config imports already quantized.
  bool prequantized =
      !mlir::qc::collectQuantizedLinears(**module).layers.empty();
  if (options->method != "none") {
    if (prequantized) {
      emitError(cliLoc) << "'" << modelDir
                        << "' is already quantized (its config.json has a "
                           "quantization_config); it is never re-quantized";
      return 1;
    }
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    pm.addPass(mlir::qc::createQCQuantize(*options));
    if (failed(pm.run(**module)))
      return 1;
  }

  if (!exportAwq.empty())
    return failed(writeStaged(
        cliLoc, exportAwq, "config.json", [&](const std::string &dir) {
          ::qc::Status s = ::qc::quant::exportAutoAwqCheckpoint(
              modelDir, dir, groupSize, zeroPoint,
              std::vector<std::string>(skipModules.begin(), skipModules.end()));
          if (!s)
            return LogicalResult(emitError(cliLoc) << s.message());
          return success();
        }));
  if (quantReport || !exportDequantized.empty()) {
    auto weights = ::qc::WeightIndex::open(modelDir);
    if (!weights) {
      emitError(cliLoc) << weights.status().message();
      return 1;
    }
    mlir::qc::QuantizedLinears linears =
        mlir::qc::collectQuantizedLinears(**module);
    if (!linears.scheme) {
      emitError(cliLoc) << "nothing is quantized: give --quant or "
                           "--quant-config";
      return 1;
    }
    if (quantReport) {
      if (prequantized) {
        emitError(cliLoc) << "--quant-report compares against float weights, "
                             "which a pre-quantized checkpoint does not have";
        return 1;
      }
      auto report = ::qc::quant::quantizationReport(
          *weights, linears.layers, mlir::qc::describeScheme(linears.scheme));
      if (!report) {
        emitError(cliLoc) << report.status().message();
        return 1;
      }
      llvm::outs() << ::qc::quant::formatReport(*report);
      return 0;
    }
    return failed(writeStaged(
        cliLoc, exportDequantized, "config.json", [&](const std::string &dir) {
          return mlir::qc::writeDequantizedCheckpoint(
              **module, *weights, modelDir, dir, prequantized);
        }));
  }

  mlir::qc::CPUPipelineOptions pipeline;
  pipeline.blockSize = blockSize;
  bool gpu = mlir::qc::isNVIDIAChip(target) || mlir::qc::isAMDChip(target);
  if (target != "cpu" && !gpu) {
    emitError(cliLoc) << "unknown --target '" << target
                      << "' (expected cpu, sm_80, sm_90a, gfx90a or gfx942)";
    return 1;
  }
  bool int8Capable = !gpu && mlir::qc::hostCpuHasFeature(cpu, "avx2");
  if (cpuInt8Activations && cpuInt8Activations.getNumOccurrences() &&
      !int8Capable) {
    emitError(cliLoc) << "--cpu-int8-activations needs --target=cpu and a "
                         "CPU with AVX2, got --target="
                      << target << " --cpu=" << cpu;
    return 1;
  }
  pipeline.int8Activations = cpuInt8Activations && int8Capable;
  if (gpuFormat != "bin" && gpuFormat != "isa") {
    emitError(cliLoc) << "unknown --gpu-format '" << gpuFormat
                      << "' (expected bin or isa)";
    return 1;
  }
  {
    // The package stores quantized weights in the order its kernels read.
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    mlir::qc::QCWeightLayoutsOptions layouts;
    layouts.chip = weightLayouts.empty() ? target : weightLayouts;
    pm.addPass(mlir::qc::createQCWeightLayouts(layouts));
    if (failed(pm.run(**module)))
      return 1;
  }
  mlir::qc::GPUPipelineOptions gpuPipeline;
  gpuPipeline.blockSize = blockSize;
  gpuPipeline.chip = target;
  gpuPipeline.format = gpuFormat;
  gpuPipeline.toolkit = gpuToolkit;
  gpuPipeline.tensorCoreMinTokens = tensorCoreMinTokens;
  if (failed(gpuPipeline.parseFromString(gpuOptions))) {
    emitError(cliLoc) << "invalid --gpu-options '" << gpuOptions << "'";
    return 1;
  }
  if (std::string why = gpu ? mlir::qc::checkPipelineOptions(gpuPipeline)
                            : mlir::qc::checkPipelineOptions(pipeline);
      !why.empty()) {
    emitError(cliLoc) << why;
    return 1;
  }
  if (emit == EmitAction::Package) {
    if (outputFile == "-") {
      emitError(cliLoc) << "a package needs an output directory: -o PKG "
                           "(or --emit=qc|kernels|llvm to print IR)";
      return 1;
    }
    auto weights = ::qc::WeightIndex::open(modelDir);
    if (!weights) {
      emitError(cliLoc) << weights.status().message();
      return 1;
    }
    mlir::qc::PackageOptions packageOptions;
    packageOptions.modelDir = modelDir;

    packageOptions.prequantized = prequantized;
    packageOptions.blockSize = blockSize;
    packageOptions.cpu = cpu;
    packageOptions.int8Activations = pipeline.int8Activations;
    packageOptions.target = target;
    packageOptions.gpuFormat = gpuFormat;
    packageOptions.writeWeights = !noWeights;
    packageOptions.gpuToolkit = gpuToolkit;
    packageOptions.tensorCoreMinTokens = tensorCoreMinTokens;
    packageOptions.gpuPipelineOptions = gpuOptions;
    return failed(writeStaged(
        cliLoc, outputFile, "manifest.json", [&](const std::string &dir) {
          packageOptions.outputDir = dir;
          return mlir::qc::writePackage(**module, *weights, packageOptions);
        }));
  }
  if (emit != EmitAction::QC) {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    if (emit == EmitAction::Kernels)
      mlir::qc::buildQCToKernelsPipeline(pm, pipeline);
    else if (gpu)
      mlir::qc::buildQCToLLVMGPUPipeline(pm, gpuPipeline);
    else
      mlir::qc::buildQCToLLVMCPUPipeline(pm, pipeline);
    if (failed(pm.run(**module)))
      return 1;
  }

  if (outputFile != "-" && !isCharacterDevice(outputFile)) {
    // An IR file replaces a regular file only (or streams into a device
    // such as /dev/null), never inside the model it was made from.
    ::qc::Status s = ::qc::checkReplaceableFile(outputFile);
    if (s)
      s = ::qc::checkOutsideInputs(outputFile, {modelDir});
    if (!s) {
      emitError(cliLoc) << s.message();
      return 1;
    }
  }
  std::string error;
  auto output = openOutputFile(outputFile, &error);
  if (!output) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }
  (*module)->print(output->os());
  output->os() << "\n";
  output->keep();
  return 0;
}
