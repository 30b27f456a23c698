//===- HoistKernelAllocas.cpp - static per-thread scratch in the entry ----===//

#include "qc/Conversion/Passes.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCHOISTKERNELALLOCAS
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct QCHoistKernelAllocasPass
    : mlir::qc::impl::QCHoistKernelAllocasBase<QCHoistKernelAllocasPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::GPUFuncOp kernel) {
      SmallVector<memref::AllocaScopeOp> scopes;
      kernel.walk(
          [&](memref::AllocaScopeOp scope) { scopes.push_back(scope); });
      // Innermost first (post-order walk): each scope's body moves out.
      for (memref::AllocaScopeOp scope : scopes) {
        Block &body = scope.getBodyRegion().front();
        Operation *terminator = body.getTerminator();
        scope->replaceAllUsesWith(terminator->getOperands());
        terminator->erase();
        scope->getBlock()->getOperations().splice(scope->getIterator(),
                                                  body.getOperations());
        scope.erase();
      }
      Block &entry = kernel.getBody().front();
      kernel.walk([&](memref::AllocaOp alloca) {
        if (alloca->getBlock() != &entry && alloca.getType().hasStaticShape() &&
            alloca->getNumOperands() == 0)
          alloca->moveBefore(&entry, entry.begin());
      });
    });
  }
};

} // namespace
