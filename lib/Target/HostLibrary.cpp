//===- HostLibrary.cpp - LLVM dialect -> host shared library --------------===//

#include "qc/Target/HostLibrary.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::qc;

LogicalResult mlir::qc::addPackedEntryPoints(ModuleOp module) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  MLIRContext *ctx = module.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  SmallVector<LLVM::LLVMFuncOp> interfaces;
  for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
    if (fn.getName().starts_with("_mlir_ciface_") && !fn.isExternal())
      interfaces.push_back(fn);
  for (LLVM::LLVMFuncOp fn : interfaces) {
    StringRef name = fn.getName().drop_front(strlen("_mlir_ciface_"));
    LLVM::LLVMFunctionType type = fn.getFunctionType();
    if (!isa<LLVM::LLVMVoidType>(type.getReturnType()) ||
        llvm::any_of(type.getParams(),
                     [](Type t) { return !isa<LLVM::LLVMPointerType>(t); }))
      return fn.emitOpError() << "packed entry points need void functions of "
                                 "descriptor pointers";
    auto packed = LLVM::LLVMFuncOp::create(
        b, fn.getLoc(), (name + "_packed").str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}));
    Block *entry = packed.addEntryBlock(b);
    OpBuilder body = OpBuilder::atBlockBegin(entry);
    SmallVector<Value> args;
    for (unsigned i = 0, e = type.getNumParams(); i < e; ++i) {
      Value slot = LLVM::GEPOp::create(body, fn.getLoc(), ptr, ptr,
                                       entry->getArgument(0),
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      args.push_back(LLVM::LoadOp::create(body, fn.getLoc(), ptr, slot));
    }
    LLVM::CallOp::create(body, fn.getLoc(), fn, args);
    LLVM::ReturnOp::create(body, fn.getLoc(), ValueRange{});
  }
  return success();
}

bool mlir::qc::hostCpuHasFeature(StringRef cpu, StringRef feature) {
  llvm::InitializeNativeTarget();
  if (cpu == "native") {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    auto it = features.find(feature);
    return it != features.end() && it->second;
  }
  std::string triple = llvm::sys::getDefaultTargetTriple(), error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return false;
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(llvm::Triple(triple), cpu, ""));
  return subtarget && subtarget->isCPUStringValid(cpu) &&
         subtarget->checkFeatures(("+" + feature).str());
}

LogicalResult mlir::qc::emitHostSharedLibrary(ModuleOp module, StringRef path,
                                              StringRef cpu) {
  auto fail = [&](const Twine &message) {
    return emitError(module.getLoc()) << message;
  };
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "qc_kernels");
  if (!llvmModule)
    return fail("cannot translate the kernels to LLVM IR");

  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return fail("no LLVM target for " + triple + ": " + error);
  // "native" tunes for this machine; a named CPU implies its features.
  SmallVector<std::string> features;
  std::string cpuName = cpu.str();
  if (cpu == "native") {
    cpuName = llvm::sys::getHostCPUName().str();
    for (auto &f : llvm::sys::getHostCPUFeatures())
      features.push_back((f.second ? "+" : "-") + f.first().str());
  }
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(llvm::Triple(triple), cpuName, ""));
  if (!subtarget || !subtarget->isCPUStringValid(cpuName))
    return fail("unknown CPU '" + cpuName + "' for " + triple +
                " (use native or an LLVM CPU name such as x86-64-v3)");
  llvm::TargetOptions targetOptions;
  // GPU packages load their device modules from static constructors; the
  // dynamic loader runs .init_array, not the legacy .ctors.
  targetOptions.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), cpuName, llvm::join(features, ","), targetOptions,
      llvm::Reloc::PIC_));
  if (!machine)
    return fail("cannot create a target machine for CPU '" + cpuName + "'");
  llvmModule->setTargetTriple(llvm::Triple(triple));
  llvmModule->setDataLayout(machine->createDataLayout());

  if (llvm::Error err =
          makeOptimizingTransformer(3, 0, machine.get())(llvmModule.get()))
    return fail("LLVM optimization failed: " + llvm::toString(std::move(err)));

  SmallString<128> objectPath;
  if (llvm::sys::fs::createTemporaryFile("qc-kernels", "o", objectPath))
    return fail("cannot create a temporary object file");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objectPath, ec);
    if (ec)
      return fail("cannot write " + objectPath + ": " + ec.message());
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
    pm.run(*llvmModule);
  }

  // Debian's lld-22; LLVM's own bin directory first.
  auto lld = llvm::sys::findProgramByName("ld.lld", {"/usr/lib/llvm-22/bin"});
  if (!lld)
    lld = llvm::sys::findProgramByName("ld.lld");
  if (!lld)
    return fail("ld.lld not found (install lld-22)");
  std::string out = path.str(), obj = objectPath.str().str();
  SmallVector<StringRef> argv = {*lld, "-shared", "-o", out, obj};
  std::string linkError;
  int rc =
      llvm::sys::ExecuteAndWait(*lld, argv, std::nullopt, {}, 0, 0, &linkError);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0)
    return fail("linking " + out + " failed: " + linkError);
  return success();
}
