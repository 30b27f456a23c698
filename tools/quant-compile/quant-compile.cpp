//===- quant-compile.cpp - Hugging Face model dir -> qc IR / package ------===//
//
//   quant-compile MODEL_DIR --emit=qc [-o FILE] [--dtype=auto|f32|f16|bf16]
//
// Imports a Llama, Mistral or Qwen2 checkpoint and prints its verified qc IR.
//
//===----------------------------------------------------------------------===//

#include "qc/Dialect/QC/IR/QCDialect.h"
#include "qc/Import/HFImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitAction { QC };

cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                              cl::desc("<Hugging Face model directory>"));
cl::opt<EmitAction> emit("emit", cl::desc("What to produce"),
                         cl::values(clEnumValN(EmitAction::QC, "qc",
                                               "the imported qc graph IR")),
                         cl::init(EmitAction::QC));
cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' for stdout)"),
                                cl::value_desc("file"), cl::init("-"));
cl::opt<std::string> dtype("dtype",
                           cl::desc("Compute type: auto, f32, f16 or bf16"),
                           cl::init("auto"));
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "quantc model compiler\n");

  MLIRContext context;
  context.loadDialect<mlir::qc::QCDialect>();
  // Diagnostics go to stderr with their location (the config.json path).
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);

  mlir::qc::ImportOptions options;
  options.dtype = dtype;
  auto module = mlir::qc::importHFModel(context, modelDir, options);
  if (failed(module))
    return 1;

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
