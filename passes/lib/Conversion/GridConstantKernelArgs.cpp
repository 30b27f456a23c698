//===- GridConstantKernelArgs.cpp - kernel parameters used by address -----===//
//
// A TMA copy names its tensor map by address, and the map is best passed by
// value as a kernel parameter (`__grid_constant__`): the kernel then reads
// it where the launch put it, in parameter space, with no device memory to
// manage. Before outlining, a kernel can only mark the value whose address
// it wants (TensorMaps.h); once the kernel is an llvm.func, this pass makes
// each marked argument a `byval` pointer with `nvvm.grid_constant`, which
// NVPTX lowers to the parameter's generic address. The launch is unchanged:
// it passes the value, which the driver copies into the parameter.
//
//===----------------------------------------------------------------------===//

#include "TensorMaps.h"

#include "qc/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCGRIDCONSTANTKERNELARGS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Tensor maps need their parameter 64-byte aligned.
constexpr int64_t kParameterAlignment = 64;

struct QCGridConstantKernelArgsPass
    : mlir::qc::impl::QCGridConstantKernelArgsBase<
          QCGridConstantKernelArgsPass> {
  void runOnOperation() override {
    // Each marked value, with its first marker.
    llvm::MapVector<Value, Operation *> marked;
    getOperation().walk([&](UnrealizedConversionCastOp cast) {
      if (cast->hasAttr(kKernelArgumentAddress))
        marked.insert({cast.getInputs().front(), cast});
    });
    for (auto [value, marker] : marked)
      if (failed(byAddress(value, marker)))
        return signalPassFailure();
  }

  /// Makes `value`, whose address marker casts take, a by-value kernel
  /// parameter used by address.
  LogicalResult byAddress(Value value, Operation *marker) {
    auto arg = dyn_cast<BlockArgument>(value);
    auto func = arg ? dyn_cast<LLVM::LLVMFuncOp>(arg.getOwner()->getParentOp())
                    : LLVM::LLVMFuncOp();
    if (!func || arg.getOwner() != &func.getBody().front() ||
        !func->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName()))
      return marker->emitOpError()
             << "takes the address of a value that is not an argument of an "
                "NVVM kernel (an llvm.func with nvvm.kernel)";
    Type ptr = LLVM::LLVMPointerType::get(&getContext());
    for (Operation *user : arg.getUsers()) {
      auto other = dyn_cast<UnrealizedConversionCastOp>(user);
      if (!other || !other->hasAttr(kKernelArgumentAddress) ||
          other.getResultTypes() != TypeRange{ptr})
        return user->emitOpError()
               << "uses kernel argument " << arg.getArgNumber()
               << " by value, which is passed by address (a marker cast "
                  "takes its address)";
    }
    Type valueType = arg.getType();
    for (Operation *user : llvm::make_early_inc_range(arg.getUsers())) {
      user->getResult(0).replaceAllUsesWith(arg);
      user->erase();
    }
    arg.setType(ptr);
    unsigned index = arg.getArgNumber();
    OpBuilder b(func);
    func.setArgAttr(index, LLVM::LLVMDialect::getByValAttrName(),
                    TypeAttr::get(valueType));
    func.setArgAttr(index, LLVM::LLVMDialect::getAlignAttrName(),
                    b.getI64IntegerAttr(kParameterAlignment));
    func.setArgAttr(index, NVVM::NVVMDialect::getGridConstantAttrName(),
                    b.getUnitAttr());
    LLVM::LLVMFunctionType type = func.getFunctionType();
    SmallVector<Type> inputs(type.getParams());
    inputs[index] = ptr;
    func.setFunctionType(LLVM::LLVMFunctionType::get(type.getReturnType(),
                                                     inputs, type.isVarArg()));
    return success();
  }
};

} // namespace
