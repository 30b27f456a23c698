//===- MapKernelsToGPU.cpp - loop-level kernels -> GPU-mappable loops -----===//
//
// The kernel builders emit one loop nest per kernel at the top level of each
// entry function; after bufferization and convert-linalg-to-parallel-loops
// every nest is an scf.parallel (or, for sequential scans, an scf.for). This
// pass gives each nest the shape upstream's parallel-loop-to-GPU conversion
// turns into one gpu.launch, and moves the host's buffers to the device.
//
//===----------------------------------------------------------------------===//

#include "TensorMaps.h"

#include "qc/Conversion/Passes.h"

#include "mlir/Dialect/SCF/Transforms/Transforms.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCMAPKERNELSTOGPU
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Tiles `loop` so that its innermost dimension spans `threads` iterations
/// per tile (or its whole constant extent, when smaller) and every other
/// dimension one: the outer loop becomes the grid, the inner one a block.
void tileForThreads(scf::ParallelOp loop, int64_t threads) {
  SmallVector<int64_t> sizes(loop.getNumLoops(), 1);
  int64_t inner = threads;
  if (auto ub = getConstantIntValue(loop.getUpperBound().back()))
    if (auto lb = getConstantIntValue(loop.getLowerBound().back()))
      inner = std::clamp<int64_t>(*ub - *lb, 1, threads);
  sizes.back() = inner;
  scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/false);
}

/// Wraps a sequential top-level loop nest in a one-thread gpu.launch.
void wrapInSingleThread(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
  b.setInsertionPointToEnd(&launch.getBody().front());
  auto terminator = gpu::TerminatorOp::create(b, loc);
  op->moveBefore(terminator);
}

struct QCMapKernelsToGPUPass
    : mlir::qc::impl::QCMapKernelsToGPUBase<QCMapKernelsToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    // A block has 1 to 1024 threads (CUDA and HIP alike); 0 would divide
    // by zero when tiling.
    if (threads < 1 || threads > 1024) {
      getOperation().emitError()
          << "qc-map-kernels-to-gpu: threads must be between 1 and 1024, got "
          << int64_t(threads);
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn.isExternal() && failed(mapFunction(fn)))
        return signalPassFailure();
  }

  LogicalResult mapFunction(func::FuncOp fn) {
    if (!fn.getBody().hasOneBlock())
      return fn.emitOpError()
             << "expected straight-line host code around the kernels";
    Block &body = fn.getBody().front();
    if (failed(mapBlock(body)))
      return failure();
    sinkGlobalsIntoKernels(body);
    // What is left on the host must not touch memory: every buffer it
    // could reach is on the device.
    for (Operation &op : body) {
      if (isa<memref::LoadOp, memref::StoreOp, memref::AllocaOp,
              memref::AllocaScopeOp>(op) ||
          isa<linalg::LinalgDialect>(op.getDialect()))
        return op.emitOpError()
               << "would run on the host and touch device memory; the GPU "
                  "pipeline expects it inside a kernel loop";
    }
    return success();
  }

  /// The host code of `body`: its parallel loops become kernels, its
  /// buffers device buffers.
  LogicalResult mapBlock(Block &body) {
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        if (loop.getNumResults())
          return loop.emitOpError() << "a kernel cannot return values";
        tileForThreads(loop, threads);
      } else if (isKernelChoice(op)) {
        // Host control flow choosing between launches (the tensor-core or
        // the CUDA-core linear kernel): it stays on the host, with the
        // buffers its branches allocate and the loops they run.
        for (Region &region : op.getRegions())
          for (Block &block : region)
            if (failed(mapBlock(block)))
              return failure();
      } else if (isa<scf::ForOp, scf::WhileOp, scf::IfOp>(op)) {
        // A sequential scan (the sampler over the vocabulary).
        if (op.getNumResults())
          return op.emitOpError() << "a kernel cannot return values";
        if (op.walk([](scf::ParallelOp) {
                return WalkResult::interrupt();
              }).wasInterrupted())
          return op.emitOpError()
                 << "has a parallel loop inside a sequential one; the GPU "
                    "pipeline maps only outermost parallel loops";
        wrapInSingleThread(&op);
      } else {
        toDeviceMemory(&op);
      }
    }
    return success();
  }

  /// The host's memref.alloc / dealloc / copy of `op` as their gpu
  /// counterparts; anything else is left alone.
  static void toDeviceMemory(Operation *op) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      auto device = gpu::AllocOp::create(
          b, loc, alloc.getType(), /*asyncToken=*/Type(), ValueRange{},
          alloc.getDynamicSizes(), alloc.getSymbolOperands());
      alloc.replaceAllUsesWith(device.getMemref());
      alloc.erase();
    } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      gpu::DeallocOp::create(b, loc, TypeRange{}, ValueRange{},
                             dealloc.getMemref());
      dealloc.erase();
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      gpu::MemcpyOp::create(b, loc, TypeRange{}, ValueRange{}, copy.getTarget(),
                            copy.getSource());
      copy.erase();
    }
  }

  /// An scf.if whose branches hold only gpu.launch ops, parallel loops
  /// (kernels to be), kernel choices, buffers for their kernels
  /// (memref.alloc / dealloc / copy) and pure operations (index
  /// arithmetic, constants).
  static bool isKernelChoice(Operation &op) {
    auto branch = dyn_cast<scf::IfOp>(op);
    if (!branch || branch.getNumResults())
      return false;
    bool launches = false;
    for (Region &region : branch->getRegions())
      for (Operation &inner : region.getOps()) {
        if (isa<gpu::LaunchOp, scf::ParallelOp>(inner) ||
            isKernelChoice(inner))
          launches = true;
        else if (!isa<scf::YieldOp, memref::AllocOp, memref::DeallocOp,
                      memref::CopyOp>(inner) &&
                 !isPure(&inner) && !makesTensorMap(inner))
          return false;
      }
    return launches;
  }

  /// A step of buildTensorMap: the host encodes a TMA map into a stack slot
  /// and passes its value to the launch.
  static bool makesTensorMap(Operation &op) {
    if (auto call = dyn_cast<func::CallOp>(op))
      return call.getCallee() == kTensorMapEncoder;
    if (auto load = dyn_cast<LLVM::LoadOp>(op))
      return load.getAddr().getDefiningOp<LLVM::AllocaOp>() != nullptr;
    return isa<LLVM::AllocaOp>(op);
  }

  /// A constant table read inside a kernel is read from the device module:
  /// clone its get_global next to each use inside a loop nest.
  static void sinkGlobalsIntoKernels(Block &body) {
    for (auto global :
         llvm::make_early_inc_range(body.getOps<memref::GetGlobalOp>())) {
      for (OpOperand &use : llvm::make_early_inc_range(global->getUses())) {
        Operation *user = use.getOwner();
        if (user->getBlock() == &body)
          continue;
        OpBuilder b(user);
        use.set(b.clone(*global)->getResult(0));
      }
      if (global->use_empty())
        global.erase();
    }
  }
};

} // namespace
