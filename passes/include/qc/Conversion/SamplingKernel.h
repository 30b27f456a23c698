//===- SamplingKernel.h - the compiled sampling kernel ----------*- C++ -*-===//
//
// @qc_sample, the kernel that turns a batch of logits rows into sampled
// tokens with Hugging Face's logits processors (repetition penalty,
// temperature, top-k, top-p) and an inverse-CDF draw. The runtime only packs
// its inputs (runtime/include/qc/runtime/Sampling.h).
//
//===----------------------------------------------------------------------===//

#ifndef QC_CONVERSION_SAMPLINGKERNEL_H
#define QC_CONVERSION_SAMPLINGKERNEL_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::qc {

/// Appends to `module`
///
///   func.func @qc_sample(%logits: memref<?xVxf32>, %temperature:
///   memref<?xf32>,
///                        %top_k: memref<?xi32>, %top_p: memref<?xf32>,
///                        %repetition_penalty: memref<?xf32>,
///                        %history: memref<?x?xi32>, %uniform: memref<?xf32>,
///                        %out: memref<?xi32>)
///       attributes {llvm.emit_c_interface}
///
/// with V = `vocabSize`. Row r of every argument belongs to one sampled
/// token; `history` row r holds the ids of its sequence so far, padded with
/// -1 (ids outside [0, V) are ignored), and `uniform` one draw in [0, 1).
/// All arithmetic is f32. Per row, in Hugging Face's order:
///
///  1. repetition penalty p: every distinct token t of the history gets
///     logit < 0 ? logit * p : logit / p (computed from the raw logit, so
///     repeated ids are penalized once);
///  2. temperature T: every logit is divided by T (T > 0);
///  3. top-k: with 0 < k < V, the k largest logits are kept, and with them
///     every token whose logit equals the k-th largest (as HF's
///     TopKLogitsWarper keeps ties); k <= 0 or k >= V keeps all;
///  4. top-p: the kept tokens are ordered by logit descending, ties by lower
///     id; with weights w = exp(x - max x) and Z their sum over the kept
///     tokens, the smallest prefix whose cumulative weight reaches top_p * Z
///     stays (at least one token); top_p >= 1 keeps all;
///  5. the draw: walking the remaining tokens in the same order, the first
///     whose cumulative weight exceeds uniform * (their total weight). If
///     rounding leaves the walk without a crossing, the last token of
///     positive weight is taken.
///
/// Cost per row: O(V + H) for the logits and the history of H ids, an O(V)
/// heap build, and O(log V) per token taken from the heap in order, which
/// is k (top-k), then as many as top-p and the draw visit.
void buildSamplingKernel(ModuleOp module, int64_t vocabSize);

} // namespace mlir::qc

#endif // QC_CONVERSION_SAMPLINGKERNEL_H
