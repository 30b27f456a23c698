//===- CpuParallelTiles.cpp - parallel loops as tiles for the thread pool -===//
//
// The CPU runs a package's forward pass as one call into compiled code. To
// use every core without a threading runtime inside that code, each large
// parallel loop becomes a tile function over a range of one dimension and
// a call through the library's `qc_cpu_parallel_for` pointer, which the
// MLIR-free runtime points at its thread pool (ForwardABI.h). The loop's
// captured values travel in a stack record whose fields are their LLVM
// forms; unrealized casts bridge the two sides until the LLVM lowering
// reconciles them.
//
//===----------------------------------------------------------------------===//

#include "qc/Conversion/Passes.h"

#include "qc/ABI/ForwardABI.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCCPUPARALLELTILES
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// The global the runtime points at its thread pool.
const char *const kParallelForSymbol = ::qc::abi::kCpuParallelForSymbol;

/// Trip counts that are not static count as this many (token counts,
/// context lengths): enough to make such a loop worth splitting.
constexpr int64_t kUnknownTripCount = 64;

std::optional<int64_t> constantIndex(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return std::nullopt;
}

/// Scalar operations of one iteration of `body`'s ops, nested loops
/// counted by their trip counts.
int64_t workOf(Block &body) {
  int64_t work = 0;
  for (Operation &op : body.without_terminator()) {
    int64_t inner = 1;
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      std::optional<int64_t> lb = constantIndex(loop.getLowerBound()),
                             ub = constantIndex(loop.getUpperBound()),
                             step = constantIndex(loop.getStep());
      int64_t trips = lb && ub && step && *step > 0
                          ? std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step)
                          : kUnknownTripCount;
      inner = trips * workOf(*loop.getBody());
    } else if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
      inner = workOf(*loop.getBody());
      for (auto [lb, ub] :
           llvm::zip(loop.getLowerBound(), loop.getUpperBound())) {
        std::optional<int64_t> l = constantIndex(lb), u = constantIndex(ub);
        inner *= l && u ? std::max<int64_t>(0, *u - *l) : kUnknownTripCount;
      }
    } else {
      for (Region &region : op.getRegions())
        for (Block &block : region)
          inner = std::max(inner, workOf(block));
    }
    work += inner;
  }
  return std::max<int64_t>(work, 1);
}

struct CpuParallelTilesPass
    : mlir::qc::impl::QCCpuParallelTilesBase<CpuParallelTilesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (minWork < 0) {
      module.emitError() << "qc-cpu-parallel-tiles: min-work must be at least "
                            "0, got "
                         << int64_t(minWork);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> loops;
    for (auto func : module.getOps<func::FuncOp>())
      func.walk([&](scf::ParallelOp loop) {
        if (!loop->getParentOfType<scf::ParallelOp>() &&
            loop.getNumReductions() == 0 && isZeroBasedUnitStep(loop))
          loops.push_back(loop);
      });
    LLVMTypeConverter converter(&getContext());
    unsigned count = 0;
    for (scf::ParallelOp loop : loops) {
      auto [dim, extent, costPerIteration] = splitDimension(loop);
      if (extent && *extent * costPerIteration < minWork)
        continue;
      if (failed(outline(loop, dim, costPerIteration, converter, count++)))
        return signalPassFailure();
    }
  }

  static bool isZeroBasedUnitStep(scf::ParallelOp loop) {
    return llvm::all_of(loop.getLowerBound(),
                        [](Value v) { return constantIndex(v) == 0; }) &&
           llvm::all_of(loop.getStep(),
                        [](Value v) { return constantIndex(v) == 1; });
  }

  /// The dimension to split (largest static extent, else the first), its
  /// static extent if any, and the work of one of its iterations.
  static std::tuple<unsigned, std::optional<int64_t>, int64_t>
  splitDimension(scf::ParallelOp loop) {
    unsigned dim = 0;
    std::optional<int64_t> best;
    for (auto [i, ub] : llvm::enumerate(loop.getUpperBound()))
      if (std::optional<int64_t> e = constantIndex(ub); e && (!best || *e > *best)) {
        best = e;
        dim = i;
      }
    int64_t cost = workOf(*loop.getBody());
    for (auto [i, ub] : llvm::enumerate(loop.getUpperBound()))
      if (i != dim)
        cost *= constantIndex(ub).value_or(kUnknownTripCount);
    return {dim, best, std::max<int64_t>(cost, 1)};
  }

  /// The global the runtime sets, declared once per module.
  LLVM::GlobalOp parallelForGlobal(ModuleOp module) {
    if (auto g = module.lookupSymbol<LLVM::GlobalOp>(kParallelForSymbol))
      return g;
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto ptr = LLVM::LLVMPointerType::get(b.getContext());
    auto global = LLVM::GlobalOp::create(
        b, module.getLoc(), ptr, /*isConstant=*/false, LLVM::Linkage::External,
        kParallelForSymbol, Attribute());
    Block *init = b.createBlock(&global.getInitializerRegion());
    b.setInsertionPointToStart(init);
    LLVM::ReturnOp::create(
        b, module.getLoc(),
        LLVM::ZeroOp::create(b, module.getLoc(), ptr).getResult());
    return global;
  }

  LogicalResult outline(scf::ParallelOp loop, unsigned dim, int64_t cost,
                        LLVMTypeConverter &converter, unsigned index) {
    Location loc = loop.getLoc();
    MLIRContext *ctx = loop.getContext();
    auto parent = loop->getParentOfType<func::FuncOp>();
    auto module = parent->getParentOfType<ModuleOp>();
    // Values the loop uses from outside; constants are rebuilt inside.
    llvm::SetVector<Value> used;
    getUsedValuesDefinedAbove(loop->getRegions(), used);
    for (Value v : loop->getOperands())
      used.insert(v);
    SmallVector<Value> captures;
    SmallVector<Operation *> constants;
    for (Value v : used) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        captures.push_back(v);
    }
    SmallVector<Type> fieldTypes;
    for (Value v : captures) {
      Type t = converter.convertType(v.getType());
      if (!t)
        return loop.emitError("qc-cpu-parallel-tiles: cannot pass a value "
                              "of type ")
               << v.getType() << " to a tile";
      fieldTypes.push_back(t);
    }
    auto record = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    Type index_ = IndexType::get(ctx), i64 = IntegerType::get(ctx, 64);
    std::string name =
        (parent.getSymName() + "_tile" + std::to_string(index)).str();

    // The tile: the loop with dimension `dim` restricted to [begin, end).
    OpBuilder mb(module.getContext());
    mb.setInsertionPointAfter(parent);
    SmallVector<Type> tileArgs = {index_, index_};
    for (Value v : captures)
      tileArgs.push_back(v.getType());
    auto tile = func::FuncOp::create(mb, loc, name,
                                     mb.getFunctionType(tileArgs, {}));
    tile.setPrivate();
    OpBuilder tb = OpBuilder::atBlockBegin(tile.addEntryBlock());
    IRMapping map;
    for (Operation *c : constants)
      map.map(c->getResult(0), tb.clone(*c)->getResult(0));
    for (auto [v, arg] : llvm::zip(captures, tile.getArguments().drop_front(2)))
      map.map(v, arg);
    auto copy = cast<scf::ParallelOp>(tb.clone(*loop, map));
    unsigned rank = copy.getNumLoops();
    copy->setOperand(dim, tile.getArgument(0));
    copy->setOperand(rank + dim, tile.getArgument(1));
    func::ReturnOp::create(tb, loc);

    // The thunk: (record, begin, end) in C types, unpacked for the tile.
    auto thunk = func::FuncOp::create(
        mb, loc, name + "_thunk", mb.getFunctionType({ptr, i64, i64}, {}));
    thunk.setPrivate();
    OpBuilder hb = OpBuilder::atBlockBegin(thunk.addEntryBlock());
    SmallVector<Value> callArgs = {
        arith::IndexCastOp::create(hb, loc, index_, thunk.getArgument(1)),
        arith::IndexCastOp::create(hb, loc, index_, thunk.getArgument(2))};
    for (auto [i, v] : llvm::enumerate(captures)) {
      Value field = LLVM::GEPOp::create(
          hb, loc, ptr, record, thunk.getArgument(0),
          ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      Value loaded = LLVM::LoadOp::create(hb, loc, fieldTypes[i], field);
      callArgs.push_back(castTo(hb, loc, loaded, v.getType()));
    }
    func::CallOp::create(hb, loc, tile, callArgs);
    func::ReturnOp::create(hb, loc);

    // The loop's place: fill the record (its slot in the entry block, so a
    // loop inside another loop reuses it) and dispatch.
    OpBuilder eb = OpBuilder::atBlockBegin(&parent.getBody().front());
    Value one = LLVM::ConstantOp::create(eb, loc, i64, eb.getI64IntegerAttr(1));
    Value slot = LLVM::AllocaOp::create(eb, loc, ptr, record, one);
    OpBuilder b(loop);
    for (auto [i, v] : llvm::enumerate(captures)) {
      Value field = LLVM::GEPOp::create(b, loc, ptr, record, slot,
                                        ArrayRef<LLVM::GEPArg>{0, int32_t(i)});
      LLVM::StoreOp::create(b, loc, castTo(b, loc, v, fieldTypes[i]), field);
    }
    Value extent = arith::IndexCastOp::create(b, loc, i64,
                                              loop.getUpperBound()[dim]);
    Value global = LLVM::AddressOfOp::create(b, loc, parallelForGlobal(module));
    Value parallelFor = LLVM::LoadOp::create(b, loc, ptr, global);
    Value null = LLVM::ZeroOp::create(b, loc, ptr);
    Value serial = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq,
                                        parallelFor, null);
    Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    auto branch = scf::IfOp::create(b, loc, serial, /*withElseRegion=*/true);
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    func::CallOp::create(b, loc, thunk, ValueRange{slot, zero, extent});
    b.setInsertionPoint(branch.elseBlock()->getTerminator());
    Value thunkValue = func::ConstantOp::create(b, loc, thunk.getFunctionType(),
                                                thunk.getSymName());
    Value thunkPtr = castTo(b, loc, thunkValue, ptr);
    Value costValue =
        LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(cost));
    auto calleeType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(ctx), {ptr, ptr, i64, i64});
    SmallVector<Value> operands = {parallelFor, thunkPtr, slot, extent,
                                   costValue};
    LLVM::CallOp::create(b, loc, calleeType, operands);
    loop.erase();
    return success();
  }

  /// `v` as `type`: a captured value and its field in the record (index
  /// and i64, or a type and its LLVM form, reconciled by the lowering).
  static Value castTo(OpBuilder &b, Location loc, Value v, Type type) {
    if (v.getType() == type)
      return v;
    if (v.getType().isIndex() || type.isIndex())
      return arith::IndexCastOp::create(b, loc, type, v);
    return UnrealizedConversionCastOp::create(b, loc, type, v).getResult(0);
  }
};

} // namespace
