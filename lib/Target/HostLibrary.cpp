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
        llvm::any_of(type.getParams(), [](Type t) { return !isa<LLVM::LLVMPointerType>(t); }))
      return fn.emitOpError()
             << "packed entry points need void functions of descriptor pointers";
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

LogicalResult mlir::qc::emitHostSharedLibrary(ModuleOp module, StringRef path) {
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
  // The package runs on machines like this one: tune for the host CPU.
  llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
  SmallVector<std::string> features;
  for (auto &f : hostFeatures)
    features.push_back((f.second ? "+" : "-") + f.first().str());
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), llvm::sys::getHostCPUName(),
      llvm::join(features, ","), targetOptions, llvm::Reloc::PIC_));
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
  int rc = llvm::sys::ExecuteAndWait(*lld, argv, std::nullopt, {}, 0, 0,
                                     &linkError);
  llvm::sys::fs::remove(objectPath);
  if (rc != 0)
    return fail("linking " + out + " failed: " + linkError);
  return success();
}
