//===- ConvertQCToLinalg.cpp - qc graph -> kernels on upstream dialects ---===//

#include "qc/Conversion/Passes.h"

#include "qc/ABI/ForwardABI.h"
#include "qc/Conversion/QCKernels.h"
#include "qc/Conversion/SamplingKernel.h"
#include "qc/Dialect/QC/IR/QCOps.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::qc {
#define GEN_PASS_DEF_CONVERTQCTOLINALG
#include "qc/Conversion/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

/// Dimension `dim` of a float or quantized weight's logical [N, K] shape.
int64_t stackedShape(Type weight, unsigned dim) {
  if (auto q = dyn_cast<QWeightType>(weight))
    return q.getShape()[dim];
  return cast<RankedTensorType>(weight).getDimSize(dim);
}

using namespace ::qc::abi;

struct ConvertQCToLinalgPass
    : mlir::qc::impl::ConvertQCToLinalgBase<ConvertQCToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError() << "expected a qc graph 'func.func @forward'";
      return signalPassFailure();
    }
    if (failed(convert(module, forward)))
      return signalPassFailure();
    buildArgmax(module,
                cast<RankedTensorType>(forward.getFunctionType().getResult(0)));
    buildSamplingKernel(
        module, cast<RankedTensorType>(forward.getFunctionType().getResult(0))
                    .getDimSize(1));
    forward.erase();
  }

  /// @qc_argmax(logits: memref<?xVxf32>, out: memref<?xi32>): the greedy
  /// token of each row, the first maximum on ties as torch.argmax.
  void buildArgmax(ModuleOp module, RankedTensorType logitsType) {
    MLIRContext *ctx = &getContext();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    auto logits = MemRefType::get(logitsType.getShape(), b.getF32Type());
    auto out = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
    auto fn = func::FuncOp::create(b, loc, "qc_argmax",
                                   b.getFunctionType({logits, out}, {}));
    fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value l = entry->getArgument(0), o = entry->getArgument(1);
    if (warpAttention) {
      // GPUs: warps over chunks of each row rather than a thread scanning
      // the vocabulary.
      buildSplitArgmax(b, loc, l, o);
      func::ReturnOp::create(b, loc);
      return;
    }
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value rows = memref::DimOp::create(b, loc, l, 0);
    Value vocab =
        arith::ConstantIndexOp::create(b, loc, logitsType.getDimSize(1));
    scf::ParallelOp::create(
        b, loc, ValueRange{zero}, ValueRange{rows}, ValueRange{one},
        [&](OpBuilder &rb, Location rl, ValueRange ivs) {
          Value t = ivs[0];
          Value first = memref::LoadOp::create(rb, rl, l, ValueRange{t, zero});
          auto loop = scf::ForOp::create(
              rb, rl, one, vocab, one, ValueRange{first, zero},
              [&](OpBuilder &vb, Location vl, Value v, ValueRange it) {
                Value x = memref::LoadOp::create(vb, vl, l, ValueRange{t, v});
                Value better = arith::CmpFOp::create(
                    vb, vl, arith::CmpFPredicate::OGT, x, it[0]);
                scf::YieldOp::create(
                    vb, vl,
                    ValueRange{
                        arith::SelectOp::create(vb, vl, better, x, it[0]),
                        arith::SelectOp::create(vb, vl, better, v, it[1])});
              });
          Value idx = arith::IndexCastOp::create(rb, rl, rb.getI32Type(),
                                                 loop.getResult(1));
          memref::StoreOp::create(rb, rl, idx, o, ValueRange{t});
        });
    func::ReturnOp::create(b, loc);
  }

  LogicalResult convert(ModuleOp module, func::FuncOp forward) {
    MLIRContext *ctx = &getContext();
    FunctionType type = forward.getFunctionType();
    auto cacheType = dyn_cast<KVCacheType>(type.getInput(2));
    auto logitsType = dyn_cast<RankedTensorType>(type.getResult(0));
    if (type.getNumInputs() != 3 || !cacheType || !logitsType)
      return forward.emitOpError()
             << "expected (tokens, positions, kv_cache) -> (logits, kv_cache)";

    // Weight arguments in first-use order: a float weight is one tensor, a
    // quantized one its storage tensors.
    SmallVector<Type> argTypes;
    SmallVector<Attribute> weightNames;
    auto i32 = IntegerType::get(ctx, 32);
    int64_t width = cacheType.getNumKvHeads() * cacheType.getHeadDim();
    auto cacheMemref =
        MemRefType::get({cacheType.getNumLayers(), ShapedType::kDynamic, width},
                        cacheType.getDtype());
    argTypes = {
        type.getInput(0),
        type.getInput(1),
        MemRefType::get({ShapedType::kDynamic}, i32),
        MemRefType::get({ShapedType::kDynamic}, i32),
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, i32),
        cacheMemref,
        cacheMemref,
        MemRefType::get(logitsType.getShape(), logitsType.getElementType())};
    // Argument ranges of each weight and of each fused linear's stacked
    // weights (and stacked biases). A stacked argument is named by its
    // sources joined with '+' and records the dimension they stack along.
    DenseMap<Operation *, std::pair<unsigned, unsigned>> weightArgs;
    DenseMap<Operation *, unsigned> stackedBiasArg;
    SmallVector<int64_t> stackDims;
    auto addArg = [&](Type type, std::string name, int64_t stackDim) {
      argTypes.push_back(type);
      weightNames.push_back(StringAttr::get(ctx, name));
      stackDims.push_back(stackDim);
    };
    auto joined = [](ValueRange weights, StringRef suffix) {
      std::string name;
      for (Value w : weights)
        name += (name.empty() ? "" : "+") +
                (w.getDefiningOp<WeightOp>().getName() + suffix).str();
      return name;
    };
    forward.walk([&](Operation *op) {
      unsigned first = argTypes.size();
      if (auto weight = dyn_cast<WeightOp>(op)) {
        // Weights used only by fused linears travel stacked.
        if (llvm::all_of(weight->getUsers(),
                         [](Operation *u) { return isa<FusedLinearOp>(u); }))
          return;
        if (auto qtype = dyn_cast<QWeightType>(weight.getType())) {
          SmallVector<StorageComponent> components;
          qtype.getScheme().getStorageComponents(qtype.getN(), qtype.getK(),
                                                 components);
          for (const StorageComponent &c : components)
            addArg(c.type, (weight.getName() + "." + c.suffix).str(), -1);
        } else {
          addArg(weight.getType(), weight.getName().str(), -1);
        }
        weightArgs[weight] = {first, unsigned(argTypes.size())};
        return;
      }
      auto fused = dyn_cast<FusedLinearOp>(op);
      if (!fused)
        return;
      int64_t n = 0;
      for (Value w : fused.getWeights())
        n += stackedShape(w.getType(), 0);
      Type w0 = fused.getWeights()[0].getType();
      if (auto q = dyn_cast<QWeightType>(w0)) {
        SmallVector<StorageComponent> components;
        q.getScheme().getStorageComponents(n, q.getK(), components);
        for (const StorageComponent &c : components)
          addArg(c.type, joined(fused.getWeights(), "." + c.suffix), c.nDim);
      } else {
        auto t = cast<RankedTensorType>(w0);
        addArg(RankedTensorType::get({n, t.getDimSize(1)}, t.getElementType()),
               joined(fused.getWeights(), ""), 0);
      }
      weightArgs[fused] = {first, unsigned(argTypes.size())};
      if (!fused.getBiases().empty()) {
        auto bt = cast<RankedTensorType>(fused.getBiases()[0].getType());
        stackedBiasArg[fused] = argTypes.size();
        SmallVector<Value> biasWeights(fused.getBiases());
        addArg(RankedTensorType::get({n}, bt.getElementType()),
               joined(biasWeights, ""), 0);
      }
    });

    OpBuilder b(forward);
    auto fn = func::FuncOp::create(b, forward.getLoc(), "qc_forward",
                                   b.getFunctionType(argTypes, {}));
    fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    module->setAttr("qc.abi.weights", b.getArrayAttr(weightNames));
    module->setAttr("qc.abi.stack_dims", b.getI64ArrayAttr(stackDims));
    module->setAttr("qc.abi.block_size", b.getI64IntegerAttr(blockSize));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);

    PagedCache cache{
        entry->getArgument(kKeyCache),    entry->getArgument(kValueCache),
        entry->getArgument(kSlotMapping), entry->getArgument(kTokenSequence),
        entry->getArgument(kBlockTables), blockSize};
    IRMapping map;
    map.map(forward.getArgument(0), entry->getArgument(kTokens));
    map.map(forward.getArgument(1), entry->getArgument(kPositions));
    DenseMap<Value, SmallVector<Value>> quantized;

    for (Operation &op : forward.getBody().front()) {
      KernelBuilder k(b, op.getLoc());
      auto result = [&](Value v) { map.map(op.getResult(0), v); };
      LogicalResult status =
          TypeSwitch<Operation *, LogicalResult>(&op)
              .Case([&](WeightOp w) {
                if (!weightArgs.count(w))
                  return success(); // only feeds fused linears
                auto [first, last] = weightArgs.lookup(w);
                SmallVector<Value> args;
                for (unsigned i = first; i < last; ++i)
                  args.push_back(entry->getArgument(i));
                if (isa<QWeightType>(w.getType()))
                  quantized[w.getResult()] = args;
                else
                  result(args[0]);
                return success();
              })
              .Case([&](EmbeddingOp e) {
                result(k.embedding(map.lookup(e.getTable()),
                                   map.lookup(e.getTokens())));
                return success();
              })
              .Case([&](RMSNormOp n) {
                result(k.rmsNorm(map.lookup(n.getInput()),
                                 map.lookup(n.getWeight()),
                                 n.getEpsilon().convertToDouble()));
                return success();
              })
              .Case([&](LinearOp l) {
                Value bias = l.getBias() ? map.lookup(l.getBias()) : Value();
                result(k.linear(map.lookup(l.getInput()),
                                map.lookup(l.getWeight()), QWeightType(), bias,
                                l.getType().getElementType()));
                return success();
              })
              .Case([&](QuantizedLinearOp l) -> LogicalResult {
                auto int8 =
                    dyn_cast<Int8Attr>(l.getWeight().getType().getScheme());
                Value bias = l.getBias() ? map.lookup(l.getBias()) : Value();
                if (int8 && int8.getMode() != Int8Mode::WeightOnly) {
                  result(k.int8ActivationLinear(
                      map.lookup(l.getInput()), quantized.lookup(l.getWeight()),
                      int8, bias, l.getType().getElementType()));
                  return success();
                }
                result(k.linear(map.lookup(l.getInput()),
                                quantized.lookup(l.getWeight()),
                                l.getWeight().getType(), bias,
                                l.getType().getElementType()));
                return success();
              })
              .Case([&](FusedLinearOp f) {
                auto [first, last] = weightArgs.lookup(f);
                SmallVector<Value> storage;
                for (unsigned i = first; i < last; ++i)
                  storage.push_back(entry->getArgument(i));
                int64_t n = 0;
                for (Value w : f.getWeights())
                  n += stackedShape(w.getType(), 0);
                QWeightType qtype;
                if (auto q = dyn_cast<QWeightType>(f.getWeights()[0].getType()))
                  qtype = QWeightType::get(ctx, {n, q.getK()},
                                           q.getElementType(), q.getScheme());
                Value bias = stackedBiasArg.count(f)
                                 ? entry->getArgument(stackedBiasArg.lookup(f))
                                 : Value();
                Type elem = cast<RankedTensorType>(f.getResult(0).getType())
                                .getElementType();
                auto int8 =
                    qtype ? dyn_cast<Int8Attr>(qtype.getScheme()) : Int8Attr();
                Value all =
                    int8 && int8.getMode() != Int8Mode::WeightOnly
                        ? k.int8ActivationLinear(map.lookup(f.getInput()),
                                                 storage, int8, bias, elem)
                        : k.linear(map.lookup(f.getInput()), storage, qtype,
                                   bias, elem);
                // One slice of the stacked result per original layer.
                Value tokens = tensor::DimOp::create(b, f.getLoc(), all, 0);
                int64_t offset = 0;
                for (auto [i, w] : llvm::enumerate(f.getWeights())) {
                  int64_t rows = stackedShape(w.getType(), 0);
                  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                                       b.getIndexAttr(offset)};
                  SmallVector<OpFoldResult> sizes = {tokens,
                                                     b.getIndexAttr(rows)};
                  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1),
                                                       b.getIndexAttr(1)};
                  map.map(f.getResult(i),
                          tensor::ExtractSliceOp::create(
                              b, f.getLoc(), all, offsets, sizes, strides)
                              .getResult());
                  offset += rows;
                }
                return success();
              })
              .Case([&](LMHeadOp h) -> LogicalResult {
                Value w = h.getWeight();
                if (auto qtype = dyn_cast<QWeightType>(w.getType())) {
                  result(k.linear(map.lookup(h.getInput()), quantized.lookup(w),
                                  qtype, Value(), b.getF32Type()));
                  return success();
                }
                result(k.linear(map.lookup(h.getInput()), map.lookup(w),
                                QWeightType(), Value(), b.getF32Type()));
                return success();
              })
              .Case([&](RopeOp r) {
                result(k.rope(map.lookup(r.getInput()),
                              map.lookup(r.getPositions()), r.getNumHeads(),
                              r.getHeadDim(), r.getRope()));
                return success();
              })
              .Case([&](KVCacheWriteOp w) {
                k.kvCacheWrite(cache, w.getLayer(), map.lookup(w.getKey()),
                               map.lookup(w.getValue()));
                return success();
              })
              .Case([&](AttentionOp a) {
                KVCacheType ct = a.getCache().getType();
                auto build = warpAttention ? &KernelBuilder::warpAttention
                                           : &KernelBuilder::attention;
                result((k.*build)(cache, a.getLayer(), map.lookup(a.getQuery()),
                                  map.lookup(a.getPositions()), a.getNumHeads(),
                                  ct.getNumKvHeads(), ct.getHeadDim(),
                                  a.getScale().convertToDouble(),
                                  a.getSlidingWindow()));
                return success();
              })
              .Case([&](AddRMSNormOp f) {
                auto [sum, normed] =
                    k.addRmsNorm(map.lookup(f.getLhs()), map.lookup(f.getRhs()),
                                 map.lookup(f.getWeight()),
                                 f.getEpsilon().convertToDouble());
                map.map(f.getSum(), sum);
                map.map(f.getNormed(), normed);
                return success();
              })
              .Case([&](RopeKVCacheWriteOp w) {
                KVCacheType ct = w.getCache().getType();
                k.ropeKVCacheWrite(cache, w.getLayer(), map.lookup(w.getKey()),
                                   map.lookup(w.getValue()),
                                   map.lookup(w.getPositions()),
                                   ct.getHeadDim(), w.getRope());
                return success();
              })
              .Case([&](SiluMulOp s) {
                result(
                    k.siluMul(map.lookup(s.getGate()), map.lookup(s.getUp())));
                return success();
              })
              .Case([&](AddOp a) {
                result(k.add(map.lookup(a.getLhs()), map.lookup(a.getRhs())));
                return success();
              })
              .Case([&](func::ReturnOp r) {
                auto materialize =
                    bufferization::MaterializeInDestinationOp::create(
                        b, r.getLoc(), Type(), map.lookup(r.getOperand(0)),
                        entry->getArgument(kLogits));
                materialize.setRestrict(true);
                materialize.setWritable(true);
                func::ReturnOp::create(b, r.getLoc());
                return success();
              })
              .Default([&](Operation *other) {
                return other->emitOpError() << "has no kernel lowering";
              });
      if (failed(status))
        return failure();
    }
    return success();
  }
};

} // namespace
