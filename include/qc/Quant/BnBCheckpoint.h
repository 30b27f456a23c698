//===- BnBCheckpoint.h - bitsandbytes serialized weights --------*- C++ -*-===//
//
// Reads the tensors that transformers + bitsandbytes save for a quantized
// linear layer `<prefix>` (e.g. "model.layers.0.mlp.down_proj").
//
// 4-bit (Params4bit, QuantState.as_dict(packed=True)):
//   <prefix>.weight                              U8  [ceil(n/2), 1]
//   <prefix>.weight.absmax                       F32 [blocks], or U8 [blocks]
//                                                when double-quantized
//   <prefix>.weight.quant_map                    F32 [16]
//   <prefix>.weight.nested_absmax                F32 [ceil(blocks/nested_bs)]
//   <prefix>.weight.nested_quant_map             F32 [256]
//   <prefix>.weight.quant_state.bitsandbytes__nf4 (or __fp4)
//       U8 [len]: UTF-8 JSON of quant_type, blocksize, dtype ("float16",
//       "bfloat16", "float32"), shape, and when nested nested_blocksize,
//       nested_dtype ("float32"), nested_offset.
// 8-bit (Int8Params / Linear8bitLt):
//   <prefix>.weight         I8  [N, K]   (CB)
//   <prefix>.SCB            F32 [N]
//   <prefix>.weight_format  U8  []       optional; 0 ("row") only
//
// Missing or mis-shaped tensors give a Status naming the key and the
// expected dtype and shape.
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_BNBCHECKPOINT_H
#define QC_QUANT_BNBCHECKPOINT_H

#include "qc/Quant/BnB4bit.h"
#include "qc/Quant/Int8.h"
#include "qc/Quant/TensorRef.h"
#include "qc/Support/Status.h"

#include <string_view>

namespace qc::quant {

enum class BnbWeightKind { None, FourBit, EightBit };

/// Which bitsandbytes serialization `<prefix>` uses, judged by the presence
/// of its quant_state tensor (4-bit) or SCB (8-bit).
BnbWeightKind detectBnbWeight(const TensorLookup &lookup,
                              std::string_view prefix);

/// Imports a 4-bit (NF4 / FP4, optionally double-quantized) linear weight.
StatusOr<Bnb4Weight> importBnb4Weight(const TensorLookup &lookup,
                                      std::string_view prefix);

/// Imports an LLM.int8 linear weight.
StatusOr<LlmInt8Weight> importBnb8Weight(const TensorLookup &lookup,
                                         std::string_view prefix);

} // namespace qc::quant

#endif // QC_QUANT_BNBCHECKPOINT_H
