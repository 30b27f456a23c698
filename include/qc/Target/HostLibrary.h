//===- HostLibrary.h - LLVM dialect -> host shared library ------*- C++ -*-===//

#ifndef QC_TARGET_HOSTLIBRARY_H
#define QC_TARGET_HOSTLIBRARY_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::qc {

/// Adds `<name>_packed(void **args)` for every function with a C interface
/// (`_mlir_ciface_<name>`): args[i] points to the i-th memref descriptor. The
/// runtime calls kernels of any arity through this one signature.
LogicalResult addPackedEntryPoints(ModuleOp llvmModule);

/// Translates an LLVM-dialect module to optimized native code and links it
/// into the shared library `path` (with ld.lld). `cpu` is "native" (this
/// machine's CPU and features) or an LLVM CPU name such as "x86-64-v3" for
/// packages that run on other machines.
LogicalResult emitHostSharedLibrary(ModuleOp llvmModule, StringRef path,
                                    StringRef cpu = "native");

/// Whether `cpu` ("native" or an LLVM CPU name) of this machine's target
/// has the subtarget feature `feature` (e.g. "avx2"); false for CPUs LLVM
/// does not know.
bool hostCpuHasFeature(StringRef cpu, StringRef feature);

} // namespace mlir::qc

#endif // QC_TARGET_HOSTLIBRARY_H
