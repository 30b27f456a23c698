//===- QCIRFuzzer.cpp - libFuzzer: qc IR parse, verify, graph passes
//-------===//
//
// Any text: parsed as a module of the qc dialect and verified; a module that
// verifies then goes through qc-fuse and the graph-to-kernels pipeline
// (convert-qc-to-linalg), whose failures must be diagnostics, never crashes.
// Only this file carries coverage hooks (the compiler is not rebuilt with
// them), so the fuzzer mutates with little guidance: seeds are the graphs
// of the test models (test/fuzz/corpus/qc-ir).
//
//===----------------------------------------------------------------------===//

#include "qc/InitAllDialects.h"
#include "qc/InitAllPasses.h"
#include "qc/Pipelines/Pipelines.h"
#include "qc/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    mlir::qc::registerAllQCDialects(*r);
    return r;
  }();
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  std::string_view text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      llvm::StringRef(text.data(), text.size()), ParserConfig(&context));
  if (!module)
    return 0;
  PassManager pm(&context);
  pm.addPass(mlir::qc::createQCFuse());
  mlir::qc::CPUPipelineOptions options;
  mlir::qc::buildQCToKernelsPipeline(pm, options);
  (void)pm.run(*module);
  return 0;
}
