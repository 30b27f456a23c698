//===- WgmmaKernel.cpp - warpgroup tensor-core linear kernel (sm_90a) -----===//
//
// On Hopper a warpgroup (four warps) multiplies 64 x N x 16 with one
// wgmma.mma_async reading both operands straight from shared memory through
// 64-bit matrix descriptors: no ldmatrix, no fragments in registers, and
// the instruction runs asynchronously while the threads issue the next
// slices' copies. mma.sync, which needs both, cannot reach Hopper's peak
// tensor throughput.
//
// A block of one or two warpgroups owns `tokens` (64 each) x `features`
// outputs; the warpgroups share the slice of weights. K is staged 64 at a
// time (128 bytes of f16 per row, the 128-byte swizzle width) through
// `stages` buffers of [tokens + features rows, 128 bytes]:
//
//  - 16-byte chunk c of row r sits at chunk c ^ (r mod 8) of the row (the
//    128-byte swizzle the descriptors name, applied by the hardware on
//    address bits, hence buffers aligned to 1024 bytes): the eight rows of a
//    core matrix, and a warp's 16-byte copies, fall in distinct banks;
//  - f16 rows read as they are travel by TMA: thread 0 issues a slice as
//    two box copies (tensor maps made on the host, TensorMaps.h) whose
//    bytes complete the stage's mbarrier, which every thread waits on; or
//    by cp.async (16 bytes, L2 only; `tma` off). Rows computed in
//    registers (dequantized weights) are stored after the slice's
//    multiplies are issued;
//  - the multiplies of one slice stay in flight while the next slice's are
//    issued: a buffer is refilled once every thread has waited for the
//    multiplies that read it, two iterations later, so `stages - 2` slices
//    are copied ahead;
//  - both operands are K-major (activations [tokens, K], weights
//    [features, K]): descriptor stride 1024 bytes between 8-row groups, the
//    k16 steps of a slice 32 bytes apart within the swizzled rows;
//  - shared memory written by the generic proxy (cp.async, st.shared) is
//    made visible to wgmma's async proxy by fence.proxy.async before the
//    barrier that publishes the slice (TMA writes through the async proxy).
//
// The buffers (up to ~200 KiB) are dynamic shared memory; the runtime opts
// the kernel in to more than 48 KiB at its first launch.
//
//===----------------------------------------------------------------------===//

#include "WgmmaKernel.h"

#include "StagedMmaKernel.h"
#include "TensorMaps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::qc;

namespace {

constexpr int64_t kChunk = 8;        ///< f16 per 16-byte copy
constexpr int64_t kRowBytes = 128;   ///< one swizzled row: 64 f16 of K
constexpr int64_t kPeriod = 1024;    ///< bytes of the swizzle pattern (8 rows)
constexpr int64_t kWarpgroup = 128;  ///< threads
constexpr int64_t kStepBytes = 32;   ///< 16 f16 of K: one instruction's k
constexpr int64_t kBarrierBytes = 8; ///< an mbarrier (one per stage)
/// try_wait's suspend-time hint (ns), as CUTLASS's pipelines use.
constexpr int64_t kWaitHintNanoseconds = 0x989680;

/// The constant fields of a shared-memory matrix descriptor: 128-byte
/// swizzle (bits 62-63 = 1), 1024 bytes between 8-row groups (bits 32-45,
/// in 16-byte units), leading offset 1 (unused by swizzled K-major
/// operands). The start address (bits 0-13, 16-byte units) is added.
constexpr uint64_t kDescriptorFields =
    (uint64_t(1) << 62) | (uint64_t(kPeriod >> 4) << 32) | (uint64_t(1) << 16);

} // namespace

int64_t mlir::qc::wgmmaSharedBytes(const WgmmaTile &tile) {
  return tile.stages *
             ((tile.tokens + tile.features) * kRowBytes + kBarrierBytes) +
         kPeriod;
}

void mlir::qc::buildWgmmaKernel(OpBuilder &b, Location loc,
                                linalg::GenericOp op, const Factors &factors,
                                ArrayRef<Value> sizes, const WgmmaTile &tile,
                                StringRef namePrefix, Value weightRows,
                                bool tma) {
  MLIRContext *ctx = b.getContext();
  IndexMath math{loc};
  Value tokenCount = sizes[0], featureCount = sizes[1];
  int64_t slices =
      cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2] /
      WgmmaTile::kDepth;
  int64_t threads = tile.warpgroups() * kWarpgroup;
  int64_t tokenBytes = tile.tokens * kRowBytes;
  int64_t stageBytes = tokenBytes + tile.features * kRowBytes;
  int64_t sharedBytes = wgmmaSharedBytes(tile);
  Type f16 = Float16Type::get(ctx), i64 = b.getI64Type();
  auto workgroup = gpu::AddressSpaceAttr::get(
      ctx, gpu::GPUDialect::getWorkgroupAddressSpace());

  Value one = math.constant(b, 1);
  Value rowsCopied[2] = {copiedRows(op, factors.activation, 0),
                         weightRows ? weightRows
                                    : copiedRows(op, factors.weight, 1)};
  // TMA needs both operands in memory as f16 rows (not computed ones).
  tma = tma && rowsCopied[0] && rowsCopied[1];
  Value maps[2];
  if (tma) {
    maps[0] = buildTensorMap(b, loc, rowsCopied[0], tile.tokens);
    maps[1] = buildTensorMap(b, loc, rowsCopied[1], tile.features);
  }
  // Blocks of the same features are neighbours in the grid (x = tokens):
  // they run together and share their weights in L2, which are then read
  // from memory once; a weight matrix larger than L2 is otherwise streamed
  // once per row of token tiles.
  auto launch = launchTiles(b, loc, kernelName(op, namePrefix), tokenCount,
                            tile.tokens, featureCount, tile.features, threads,
                            /*workgroup=*/{}, sharedBytes);
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
  Value tid = launch.getThreadIds().x;
  Value firstToken = math.mul(b, launch.getBlockIds().x, tile.tokens);
  Value firstFeature = math.mul(b, launch.getBlockIds().y, tile.features);

  // The buffers start at the first 1024-byte boundary of the dynamic shared
  // memory (its address in the shared window is what descriptors hold).
  Value raw = gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                      MemRefLayoutAttrInterface{}, workgroup));
  Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, raw);
  Value pad = math.rem(b,
                       arith::SubIOp::create(b, loc, math.constant(b, kPeriod),
                                             math.rem(b, address, kPeriod)),
                       kPeriod);
  Value aligned = math.add(b, address, pad);
  Value descriptorBase = arith::OrIOp::create(
      b, loc,
      arith::ConstantIntOp::create(b, loc, i64,
                                   static_cast<int64_t>(kDescriptorFields)),
      arith::IndexCastUIOp::create(b, loc, i64, math.div(b, aligned, 16)));

  struct Side {
    Value factor;
    Value direct; ///< the f16 buffer cp.async copies from, or null
    int64_t rows;
    int64_t offset; ///< bytes from the start of a stage
    Value first, last;
    bool tokens;
  };
  Side sides[2] = {
      {factors.activation, rowsCopied[0], tile.tokens, 0, firstToken,
       arith::SubIOp::create(b, loc, tokenCount, one), /*tokens=*/true},
      {factors.weight, rowsCopied[1], tile.features, tokenBytes, firstFeature,
       arith::SubIOp::create(b, loc, featureCount, one), /*tokens=*/false}};

  // With TMA, thread 0 fills a stage by two box copies whose bytes complete
  // the stage's mbarrier (kept after the buffers); every thread waits on it.
  Type i32 = b.getI32Type();
  auto shared = LLVM::LLVMPointerType::get(
      ctx, static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared));
  auto sharedPointer = [&](OpBuilder &sb, Value byteAddress) -> Value {
    Value integer = arith::IndexCastUIOp::create(sb, loc, i64, byteAddress);
    return LLVM::IntToPtrOp::create(sb, loc, shared, integer,
                                    LLVM::DereferenceableAttr());
  };
  auto toI32 = [&](OpBuilder &sb, Value index) -> Value {
    return arith::IndexCastUIOp::create(sb, loc, i32, index);
  };
  Value barriers =
      math.add(b, aligned, math.constant(b, tile.stages * stageBytes));
  auto barrier = [&](OpBuilder &sb, Value stage) {
    return sharedPointer(
        sb, math.add(sb, barriers, math.mul(sb, stage, kBarrierBytes)));
  };
  Value mapAddresses[2];
  Value leader;
  if (tma) {
    for (int side = 0; side < 2; ++side)
      mapAddresses[side] = kernelArgumentAddress(b, loc, maps[side]);
    leader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                   math.constant(b, 0));
    auto init = scf::IfOp::create(b, loc, leader, /*withElseRegion=*/false);
    OpBuilder ib = init.getThenBodyBuilder();
    for (int64_t stage = 0; stage < tile.stages; ++stage)
      NVVM::MBarrierInitOp::create(
          ib, loc, barrier(ib, math.constant(ib, stage)),
          arith::ConstantIntOp::create(ib, loc, i32, 1), /*predicate=*/Value());
    // The initialized barriers are visible to the async proxy (TMA).
    NVVM::FenceMbarrierInitOp::create(ib, loc);
    gpu::BarrierOp::create(b, loc);
  }
  auto issueSlice = [&](OpBuilder &sb, Value slice, Value stage) {
    Value inRange = arith::AndIOp::create(
        sb, loc, leader,
        arith::CmpIOp::create(sb, loc, arith::CmpIPredicate::ult, slice,
                              math.constant(sb, slices)));
    auto issue = scf::IfOp::create(sb, loc, inRange, /*withElseRegion=*/false);
    OpBuilder ib = issue.getThenBodyBuilder();
    Value full = barrier(ib, stage);
    NVVM::MBarrierArriveExpectTxOp::create(
        ib, loc, /*res=*/Type(), full,
        arith::ConstantIntOp::create(ib, loc, i32, stageBytes),
        NVVM::MemScopeKind::CTA, /*relaxed=*/false, /*predicate=*/Value());
    Value k = toI32(ib, math.mul(ib, slice, WgmmaTile::kDepth));
    Value stageStart = math.add(ib, aligned, math.mul(ib, stage, stageBytes));
    auto cluster = LLVM::LLVMPointerType::get(
        ctx, static_cast<unsigned>(NVVM::NVVMMemorySpace::SharedCluster));
    for (int side = 0; side < 2; ++side) {
      Value destination = LLVM::AddrSpaceCastOp::create(
          ib, loc, cluster,
          sharedPointer(ib, math.add(ib, stageStart,
                                     math.constant(ib, sides[side].offset))));
      NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
          ib, loc, destination, mapAddresses[side],
          ValueRange{k, toI32(ib, sides[side].first)}, full,
          /*im2colOffsets=*/ValueRange(), /*multicastMask=*/Value(),
          /*l2CacheHint=*/Value(), NVVM::TMALoadMode::TILE,
          /*isCTAOnly=*/false, /*group=*/NVVM::CTAGroupKindAttr(),
          /*predicate=*/Value());
    }
  };

  // Without TMA, thread t copies chunk t mod 8 of rows t / 8, t / 8 + 16,
  // ... into the buffers: every row it touches is the same modulo 8, so
  // its swizzled chunk is one value.
  Value buffers, chunk, firstRow, swizzled;
  if (!tma) {
    buffers = memref::ViewOp::create(
        b, loc,
        MemRefType::get({tile.stages * stageBytes / 2}, f16,
                        MemRefLayoutAttrInterface{}, workgroup),
        raw, pad, ValueRange{});
    chunk = math.rem(b, tid, kChunk);
    firstRow = math.div(b, tid, kChunk);
    swizzled = math.mul(
        b, arith::XOrIOp::create(b, loc, chunk, math.rem(b, firstRow, 8)),
        kChunk);
  }
  struct PendingStore {
    Value value;
    Value at;
  };
  Type tokenType = nvgpu::DeviceAsyncTokenType::get(ctx);
  auto stageSlice = [&](OpBuilder &sb, Value slice, Value stage,
                        SmallVectorImpl<PendingStore> &pending) -> Value {
    SmallVector<Value> copies;
    Value k = math.add(sb, math.mul(sb, slice, WgmmaTile::kDepth),
                       math.mul(sb, chunk, kChunk));
    for (const Side &side : sides) {
      Value sideStart = math.add(sb, math.mul(sb, stage, stageBytes / 2),
                                 math.constant(sb, side.offset / 2));
      for (int64_t r = 0; r < side.rows * kChunk / threads; ++r) {
        Value row =
            math.add(sb, firstRow, math.constant(sb, r * threads / kChunk));
        Value at =
            math.add(sb, sideStart,
                     math.add(sb, math.mul(sb, row, kRowBytes / 2), swizzled));
        Value index = arith::MinUIOp::create(
            sb, loc, math.add(sb, side.first, row), side.last);
        if (side.direct) {
          copies.push_back(nvgpu::DeviceAsyncCopyOp::create(
              sb, loc, tokenType, buffers, ValueRange{at}, side.direct,
              ValueRange{index, k}, sb.getIndexAttr(kChunk),
              /*srcElements=*/Value(), /*bypassL1=*/sb.getUnitAttr()));
          continue;
        }
        Value token = side.tokens ? index : firstToken;
        Value feature = side.tokens ? firstFeature : index;
        Value value = vector::FromElementsOp::create(
            sb, loc, VectorType::get({kChunk}, f16),
            halvesAt(sb, loc, op, side.factor, token, feature, k, kChunk));
        pending.push_back({value, at});
      }
    }
    return nvgpu::DeviceAsyncCreateGroupOp::create(sb, loc, tokenType, copies);
  };
  auto storePending = [&](OpBuilder &sb, ArrayRef<PendingStore> pending) {
    for (const PendingStore &p : pending)
      vector::StoreOp::create(sb, loc, p.value, buffers, ValueRange{p.at},
                              /*nontemporal=*/false, llvm::Align(16));
  };

  // Prologue: slices 0 .. stages - 3 (clamped to the last). One buffer
  // more than the slices in flight holds the slice whose multiplies may
  // still run.
  Value lastSlice = math.constant(b, slices - 1);
  Value group;
  for (int64_t s = 0; s + 2 < tile.stages; ++s) {
    if (tma) {
      issueSlice(b, math.constant(b, s), math.constant(b, s));
      continue;
    }
    SmallVector<PendingStore> pending;
    group = stageSlice(
        b, arith::MinUIOp::create(b, loc, math.constant(b, s), lastSlice),
        math.constant(b, s), pending);
    storePending(b, pending);
  }

  // Each warpgroup multiplies its 64 token rows by all the features.
  Value tokenDescriptorBase = arith::AddIOp::create(
      b, loc, descriptorBase,
      arith::IndexCastUIOp::create(
          b, loc, i64,
          math.mul(b, math.div(b, tid, kWarpgroup),
                   WgmmaTile::kWarpgroupTokens * kRowBytes / 16)));
  auto accumulatorType = LLVM::LLVMStructType::getLiteral(
      ctx, SmallVector<Type>(tile.features / 2, b.getF32Type()));
  Value zero = LLVM::ZeroOp::create(b, loc, accumulatorType);
  auto wgmmaType = [&](NVVM::WGMMATypes type) {
    return NVVM::WGMMATypesAttr::get(ctx, type);
  };
  auto scaleIn = NVVM::WGMMAScaleInAttr::get(ctx, NVVM::WGMMAScaleIn::one);
  auto loop = scf::ForOp::create(
      b, loc, math.constant(b, 0), math.constant(b, slices), one,
      ValueRange{zero}, [&](OpBuilder &lb, Location, Value i, ValueRange accs) {
        // Past the barrier every thread has waited for the multiplies of
        // slice i - 2, so its buffer is refilled (here by TMA, below by
        // cp.async). Slice i is in shared memory and visible to the async
        // proxy once its mbarrier phase completes (TMA), or after this
        // thread's copies and, through the barrier, every thread's.
        Value stage = math.rem(lb, i, tile.stages);
        Value next = math.add(lb, i, math.constant(lb, tile.stages - 2));
        if (tma) {
          gpu::BarrierOp::create(lb, loc);
          issueSlice(lb, next, math.rem(lb, next, tile.stages));
          Value phase =
              toI32(lb, math.rem(lb, math.div(lb, i, tile.stages), 2));
          NVVM::MBarrierTryWaitParityOp::create(
              lb, loc, barrier(lb, stage), phase,
              arith::ConstantIntOp::create(lb, loc, i32, kWaitHintNanoseconds));
        } else {
          nvgpu::DeviceAsyncWaitOp::create(
              lb, loc, group, lb.getI32IntegerAttr(tile.stages - 3));
          NVVM::FenceProxyOp::create(
              lb, loc,
              NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
              NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
          gpu::BarrierOp::create(lb, loc);
        }

        Value stageStart = arith::IndexCastUIOp::create(
            lb, loc, i64, math.mul(lb, stage, stageBytes / 16));
        Value acc = accs.front();
        NVVM::WgmmaFenceAlignedOp::create(lb, loc);
        for (int64_t k = 0; k < WgmmaTile::kDepth / 16; ++k) {
          auto descriptor = [&](Value base, int64_t offset) -> Value {
            return arith::AddIOp::create(
                lb, loc, base,
                arith::AddIOp::create(
                    lb, loc, stageStart,
                    arith::ConstantIntOp::create(
                        lb, loc, i64, (offset + k * kStepBytes) / 16)));
          };
          acc = NVVM::WgmmaMmaAsyncOp::create(
              lb, loc, accumulatorType, acc,
              descriptor(tokenDescriptorBase, sides[0].offset),
              descriptor(descriptorBase, sides[1].offset),
              NVVM::MMAShapeAttr::get(ctx, 64, tile.features, 16),
              wgmmaType(NVVM::WGMMATypes::f16),
              wgmmaType(NVVM::WGMMATypes::f16),
              wgmmaType(NVVM::WGMMATypes::f32),
              NVVM::WGMMAScaleOutAttr::get(ctx, NVVM::WGMMAScaleOut::one),
              scaleIn, scaleIn,
              NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::row),
              NVVM::MMALayoutAttr::get(ctx, NVVM::MMALayout::col),
              /*satfinite=*/NVVM::MMAIntOverflowAttr());
        }
        NVVM::WgmmaGroupSyncAlignedOp::create(lb, loc);
        // The copies of slice i + stages - 2 overlap the multiplies.
        if (!tma) {
          SmallVector<PendingStore> pending;
          stageSlice(lb, arith::MinUIOp::create(lb, loc, next, lastSlice),
                     math.rem(lb, next, tile.stages), pending);
          storePending(lb, pending);
        }
        // Slice i's multiplies stay in flight into the next iteration.
        NVVM::WgmmaWaitGroupSyncOp::create(lb, loc, 1);
        scf::YieldOp::create(lb, loc, acc);
      });
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);

  // Accumulator element j of warp w (of the block: warpgroup w / 4 owns
  // tokens 64 (w / 4) on), lane l: token 16 w + l / 4 (+ 8 for j mod 4 >=
  // 2), feature 8 (j / 4) + 2 (l mod 4) + j mod 2.
  Value out = op.getDpsInitOperand(0)->get();
  Value lane = math.rem(b, tid, kWarpLanes);
  Value rowBase = math.add(
      b, math.add(b, firstToken, math.mul(b, math.div(b, tid, kWarpLanes), 16)),
      math.div(b, lane, 4));
  Value columnBase =
      math.add(b, firstFeature, math.mul(b, math.rem(b, lane, 4), 2));
  for (int64_t j = 0; j < tile.features / 2; ++j) {
    Value sum = LLVM::ExtractValueOp::create(b, loc, loop.getResult(0),
                                             ArrayRef<int64_t>{j});
    Value token = math.add(b, rowBase, math.constant(b, (j % 4) / 2 * 8));
    Value feature =
        math.add(b, columnBase, math.constant(b, j / 4 * 8 + j % 2));
    addToOutput(b, loc, out, token, feature, tokenCount, featureCount, sum);
  }
  gpu::TerminatorOp::create(b, loc);
}

Value mlir::qc::buildDequantizedWeights(OpBuilder &b, Location loc,
                                        linalg::GenericOp op,
                                        const Factors &factors,
                                        ArrayRef<Value> sizes) {
  IndexMath math{loc};
  int64_t depth =
      cast<linalg::LinalgOp>(op.getOperation()).getStaticLoopRanges()[2];
  Value features = sizes[1];
  Value rows = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, depth}, b.getF16Type()),
      ValueRange{features});
  // A thread per 8 consecutive k of a feature: 16-byte stores along rows.
  int64_t chunksPerRow = depth / kChunk;
  Value chunks = math.mul(b, features, chunksPerRow);
  auto launch =
      launchTiles(b, loc, kernelName(op, "qc_dequantize"), chunks, kWarpgroup,
                  /*extentY=*/{}, 1, kWarpgroup);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value chunk = math.add(b, math.mul(b, launch.getBlockIds().x, kWarpgroup),
                         launch.getThreadIds().x);
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, chunk, chunks);
  auto guarded = scf::IfOp::create(b, loc, inside, /*withElseRegion=*/false);
  b.setInsertionPoint(guarded.thenBlock()->getTerminator());
  Value feature = math.div(b, chunk, chunksPerRow);
  Value k = math.mul(b, math.rem(b, chunk, chunksPerRow), kChunk);
  // The weight factor does not depend on the token.
  Value values = vector::FromElementsOp::create(
      b, loc, VectorType::get({kChunk}, b.getF16Type()),
      halvesAt(b, loc, op, factors.weight, math.constant(b, 0), feature, k,
               kChunk));
  vector::StoreOp::create(b, loc, values, rows, ValueRange{feature, k},
                          /*nontemporal=*/false, llvm::Align(16));
  b.setInsertionPointAfter(guarded);
  gpu::TerminatorOp::create(b, loc);
  return rows;
}
