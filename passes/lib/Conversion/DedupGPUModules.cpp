//===- DedupGPUModules.cpp - one gpu.module per distinct kernel -----------===//

#include "qc/Conversion/Passes.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCDEDUPGPUMODULES
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

bool isIdentifierChar(char c) {
  return llvm::isAlnum(c) || c == '_' || c == '$' || c == '.' || c == '-';
}

/// The module's text with its own name and its functions' names replaced
/// by placeholders (in order of appearance), so that copies of one kernel
/// print the same.
std::string normalizedText(gpu::GPUModuleOp module) {
  llvm::StringMap<std::string> placeholders;
  auto name = [&](StringRef symbol) {
    placeholders.try_emplace(symbol,
                             "__qc_symbol_" +
                                 std::to_string(placeholders.size()));
  };
  name(module.getSymName());
  for (auto fn : module.getOps<gpu::GPUFuncOp>())
    name(fn.getName());
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, OpPrintingFlags().useLocalScope());
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '@') {
      out += text[i++];
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && isIdentifierChar(text[end]))
      ++end;
    auto it = placeholders.find(StringRef(text).slice(i + 1, end));
    out += '@';
    out += it == placeholders.end() ? text.substr(i + 1, end - i - 1)
                                    : it->second;
    i = end;
  }
  return out;
}

struct DedupGPUModulesPass
    : mlir::qc::impl::QCDedupGPUModulesBase<DedupGPUModulesPass> {
  void runOnOperation() override {
    ModuleOp top = getOperation();
    llvm::StringMap<gpu::GPUModuleOp> firstOf;
    DenseMap<StringAttr, gpu::GPUModuleOp> keptFor;
    SmallVector<gpu::GPUModuleOp> copies;
    for (auto module : top.getOps<gpu::GPUModuleOp>()) {
      auto [it, first] = firstOf.try_emplace(normalizedText(module), module);
      if (!first) {
        keptFor[module.getSymNameAttr()] = it->second;
        copies.push_back(module);
      }
    }
    if (copies.empty())
      return;
    // A copy's i-th function is the kept module's i-th.
    top.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr kernel = launch.getKernel();
      auto it = keptFor.find(kernel.getRootReference());
      if (it == keptFor.end())
        return;
      auto copy = top.lookupSymbol<gpu::GPUModuleOp>(kernel.getRootReference());
      auto copyFns = llvm::to_vector(copy.getOps<gpu::GPUFuncOp>());
      auto keptFns = llvm::to_vector(it->second.getOps<gpu::GPUFuncOp>());
      for (auto [c, k] : llvm::zip_equal(copyFns, keptFns))
        if (c.getNameAttr() == kernel.getLeafReference())
          launch.setKernelAttr(SymbolRefAttr::get(
              it->second.getSymNameAttr(),
              {FlatSymbolRefAttr::get(k.getNameAttr())}));
    });
    for (gpu::GPUModuleOp copy : copies)
      copy.erase();
  }
};

} // namespace
