//===- TensorMaps.cpp - TMA tensor maps made on the host ------------------===//

#include "TensorMaps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

using namespace mlir;
using namespace mlir::qc;

Type mlir::qc::tensorMapType(MLIRContext *ctx) {
  return LLVM::LLVMArrayType::get(IntegerType::get(ctx, 64), 16);
}

/// The encoder's declaration in the module of `from`.
static func::FuncOp encoder(OpBuilder &b, Operation *from) {
  auto module = from->getParentOfType<ModuleOp>();
  if (auto f = module.lookupSymbol<func::FuncOp>(kTensorMapEncoder))
    return f;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  Type i64 = b.getI64Type();
  SmallVector<Type> inputs(7, i64);
  inputs[0] = LLVM::LLVMPointerType::get(b.getContext());
  auto f = func::FuncOp::create(b, module.getLoc(), kTensorMapEncoder,
                                b.getFunctionType(inputs, {}));
  f.setPrivate();
  return f;
}

Value mlir::qc::buildTensorMap(OpBuilder &b, Location loc, Value rows,
                               int64_t boxRows) {
  Type i64 = b.getI64Type();
  auto toI64 = [&](Value index) -> Value {
    return arith::IndexCastUIOp::create(b, loc, i64, index);
  };
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i64, v);
  };
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, rows);
  Value base = toI64(memref::ExtractAlignedPointerAsIndexOp::create(
      b, loc, metadata.getBaseBuffer()));
  constexpr int64_t kHalfBytes = 2;
  constexpr int64_t kBoxColumns = 64; ///< one 128-byte swizzle row of f16
  Value address = arith::AddIOp::create(
      b, loc, base,
      arith::MulIOp::create(b, loc, toI64(metadata.getOffset()),
                            constant(kHalfBytes)));
  Value rowStride = arith::MulIOp::create(
      b, loc, toI64(metadata.getStrides()[0]), constant(kHalfBytes));
  Type mapType = tensorMapType(b.getContext());
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  // One stack slot per map, in the entry block: a static alloca.
  Value out;
  {
    OpBuilder::InsertionGuard guard(b);
    auto function = b.getInsertionBlock()
                        ->getParent()
                        ->getParentOfType<FunctionOpInterface>();
    b.setInsertionPointToStart(&function.getFunctionBody().front());
    out = LLVM::AllocaOp::create(b, loc, ptr, mapType, constant(1),
                                 /*alignment=*/64);
  }
  func::CallOp::create(b, loc, encoder(b, b.getInsertionBlock()->getParentOp()),
                       ValueRange{out, address, toI64(metadata.getSizes()[0]),
                                  toI64(metadata.getSizes()[1]), rowStride,
                                  constant(boxRows), constant(kBoxColumns)});
  return LLVM::LoadOp::create(b, loc, mapType, out, /*alignment=*/64);
}

Value mlir::qc::kernelArgumentAddress(OpBuilder &b, Location loc, Value map) {
  auto cast = UnrealizedConversionCastOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext()), map);
  cast->setAttr(kKernelArgumentAddress, b.getUnitAttr());
  return cast.getResult(0);
}
