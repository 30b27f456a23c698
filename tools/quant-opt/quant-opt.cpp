//===- quant-opt.cpp - mlir-opt for quantc --------------------------------===//
//
// Parses, verifies, transforms and prints IR at any stage of the quantc
// pipeline; `quant-opt --help` lists every registered pass and pipeline.
//
//===----------------------------------------------------------------------===//

#include "qc/InitAllDialects.h"
#include "qc/InitAllPasses.h"
#include "qc/Support/Version.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::qc::registerAllQCDialects(registry);
  mlir::qc::registerAllQCPasses();
  llvm::cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { os << ::qc::versionText() << "\n"; });
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "quantc optimizer driver\n", registry));
}
