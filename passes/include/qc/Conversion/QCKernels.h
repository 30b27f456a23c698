//===- QCKernels.h - tensor-level kernels of the qc ops ---------*- C++ -*-===//
//
// Builders that express each qc op as upstream linalg/tensor/scf/memref IR.
// They are the kernel layer shared by the CPU pipeline (bufferized, lowered
// to loops and LLVM) and the GPU pipelines (tiled and mapped to gpu.func),
// so both targets compute exactly the same arithmetic.
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_QCKERNELS_H
#define QC_CONVERSION_QCKERNELS_H

#include "qc/Dialect/QC/IR/QCOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::qc {

/// Paged KV-cache operands of the compiled forward function. Caches are
/// memrefs [layers, slots, kv_heads * head_dim]; slot s of block b holds
/// position b * blockSize + (s % blockSize) of the sequence owning b.
struct PagedCache {
  Value keys, values;  ///< memref<?x?x?xT>
  Value slotMapping;   ///< memref<?xi32>: the cache slot of each new token
  Value tokenSequence; ///< memref<?xi32>: the batch sequence of each token
  Value blockTables;   ///< memref<?x?xi32>: [sequence, block index]
  int64_t blockSize = 16;
};

/// On the linalg.generic of a quantized linear layer: its !qc.qweight type
/// (scheme and storage layout), which the payload's captured loads follow.
inline constexpr llvm::StringLiteral kQuantizedWeightAttr =
    "qc.quantized_weight";

/// On a linalg.generic left in the branch of a host kernel choice: the
/// fewest tokens a step that reaches it has (kernels for fewer would never
/// run).
inline constexpr llvm::StringLiteral kMinTokensAttr = "qc.min_tokens";

/// Writes out[row] = the first index of each row's maximum of `logits`
/// (memref<?xVxf32>; torch.argmax) as two GPU kernels, parallel at one row:
/// warps scan chunks of 512 of a row (4 loads in flight per lane) and
/// combine their lanes' (value, index) pairs by xor shuffles, preferring the
/// lower index on ties; then a warp per row combines the chunks' pairs.
void buildSplitArgmax(OpBuilder &b, Location loc, Value logits, Value out);

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

  /// table[tokens[t], :].
  Value embedding(Value table, Value tokens);
  /// HF LlamaRMSNorm: f32 statistics, result in the input type.
  Value rmsNorm(Value x, Value weight, double epsilon);
  /// x W^T (+ bias), f32 accumulation; W is a float tensor [N, K] or the
  /// storage tensors of a quantized weight of type `qtype`.
  Value linear(Value x, ValueRange weight, QWeightType qtype, Value bias,
               Type resultElementType);
  /// Rotary embedding of `numHeads` heads of `headDim` (rotate-half layout).
  Value rope(Value x, Value positions, int64_t numHeads, int64_t headDim,
             RopeAttr rope);
  /// Writes keys/values of the step's tokens into layer `layer` of the cache.
  void kvCacheWrite(const PagedCache &cache, int64_t layer, Value keys,
                    Value values);
  /// Causal grouped-query attention of each token over its sequence's cache.
  Value attention(const PagedCache &cache, int64_t layer, Value query,
                  Value positions, int64_t numHeads, int64_t numKvHeads,
                  int64_t headDim, double scale,
                  std::optional<int64_t> slidingWindow);
  /// The same attention as one gpu.launch with a 32-lane warp per (token,
  /// head), lanes splitting the head dimension (QCKernelsGPU.cpp).
  Value warpAttention(const PagedCache &cache, int64_t layer, Value query,
                      Value positions, int64_t numHeads, int64_t numKvHeads,
                      int64_t headDim, double scale,
                      std::optional<int64_t> slidingWindow);
  /// x W^T (+ bias) of LLM.int8 and W8A8, which quantize the activations
  /// too (QCKernelsInt8.cpp).
  Value int8ActivationLinear(Value x, ValueRange storage, Int8Attr scheme,
                             Value bias, Type resultElementType);
  Value siluMul(Value gate, Value up);
  Value add(Value lhs, Value rhs);

  // Fused kernels (qc-fuse).
  /// (lhs + rhs, rms_norm(lhs + rhs)) with one read of the operands.
  std::pair<Value, Value> addRmsNorm(Value lhs, Value rhs, Value weight,
                                     double epsilon);
  /// Rotates the keys and writes them, with the values, into the cache.
  void ropeKVCacheWrite(const PagedCache &cache, int64_t layer, Value keys,
                        Value values, Value positions, int64_t headDim,
                        RopeAttr rope);

  /// Scalar conversions to and from the f32 the kernels compute in.
  Value toF32(Value v);
  Value fromF32(Value v, Type type);

private:
  /// max |x| over dimension `reduced` (0: tokens, 1: features) of a
  /// [tokens, features] tensor, counting only elements below `below` (> 0).
  Value absMax(Value x, unsigned reduced, std::optional<float> below);
  /// The second half of rms_norm: x * rsqrt(sums / hidden + eps) * weight.
  Value normalize(Value x, Value sums, Value weight, double epsilon);
  Value index(int64_t v);
  /// A zero-filled tensor: the initial value of a reduction.
  Value zeros(ArrayRef<OpFoldResult> sizes, Type elementType);
  /// Zeros of shape [tokens of `shapeSource`, cols].
  Value zerosLike(Value shapeSource, int64_t cols, Type elementType);
  Value emptyLike(Value shapeSource, int64_t cols, Type elementType);
  Value dequantize(ArrayRef<Value> storage, QWeightType qtype, Value n,
                   Value k);
  /// The half with bits 0x6400 | `code` (i32, below 1024): 1024 + code
  /// exactly. Differences of such halves decode integer codes with bit
  /// operations and no int-to-float conversion (the trick of
  /// FasterTransformer's and AutoAWQ's int4 kernels).
  Value biasedHalf(Value code);
  /// The cache slot of `position` of sequence `sequence` (its block table).
  Value cacheSlot(const PagedCache &cache, Value sequence, Value position);
  /// sum over d < headDim of query[token, queryBase + d] *
  /// keys[layer, slot, keyBase + d], in f32, in order of d.
  Value headDot(Value query, Value token, Value queryBase, Value keys,
                Value layer, Value slot, Value keyBase, int64_t headDim);

  OpBuilder &b;
  Location loc;
};

/// The inverse frequencies of `rope` for a head of `headDim` (transformers'
/// `_compute_*_parameters`), and the scale its cos/sin carry (yarn).
std::pair<SmallVector<float>, float> ropeInverseFrequencies(RopeAttr rope,
                                                            int64_t headDim);

} // namespace mlir::qc

#endif // QC_CONVERSION_QCKERNELS_H
