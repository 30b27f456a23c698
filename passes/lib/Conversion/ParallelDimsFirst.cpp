//===- ParallelDimsFirst.cpp - parallel loops outside reductions ----------===//

#include "qc/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCPARALLELDIMSFIRST
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct QCParallelDimsFirstPass
    : mlir::qc::impl::QCParallelDimsFirstBase<QCParallelDimsFirstPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      SmallVector<unsigned> order;
      auto iterators = op.getIteratorTypesArray();
      for (auto [i, it] : llvm::enumerate(iterators))
        if (linalg::isParallelIterator(it))
          order.push_back(i);
      for (auto [i, it] : llvm::enumerate(iterators))
        if (!linalg::isParallelIterator(it))
          order.push_back(i);
      if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order)))
        return signalPassFailure();
    }
  }
};

} // namespace
