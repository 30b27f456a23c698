//===- AWQExport.h - Write AutoAWQ checkpoints ------------------*- C++ -*-===//
//
// Quantizes a float Hugging Face checkpoint with AWQ round-to-nearest and
// writes it the way AutoAWQ saves one (version "gemm"), so that AutoAWQ and
// transformers load it:
//   config.json        the source config plus "quantization_config":
//                      {"quant_method": "awq", "bits": 4, "group_size": G,
//                       "zero_point": zp, "version": "gemm",
//                       "modules_to_not_convert": [...]}
//   model.safetensors  <module>.qweight / .qzeros / .scales (AutoAWQ GEMM)
//                      for every decoder linear layer not skipped; every
//                      other tensor (biases included) copied unchanged
//   tokenizer*.json, tokenizer.model, generation_config.json,
//   special_tokens_map.json   copied when present
//
//===----------------------------------------------------------------------===//

#ifndef QC_QUANT_AWQEXPORT_H
#define QC_QUANT_AWQEXPORT_H

#include "qc/Support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qc::quant {

/// Exports `modelDir` (config.json + model.safetensors or shards) to
/// `outDir`, which must not exist or be empty. Decoder linear layers are
/// model.layers.*.self_attn.{q,k,v,o}_proj and mlp.{gate,up,down}_proj;
/// those whose name contains an entry of `skipModules` (transformers' rule
/// for modules_to_not_convert) keep their float weight. Quantization is
/// quantizeLinear's AWQ RTN. Without zero point the weights are symmetric
/// and qzeros holds 8 everywhere, which is what AutoAWQ's GEMM kernels (which
/// always read qzeros) need to compute (q - 8) * s. A source whose
/// config.json already has a quantization_config is refused. Nothing is
/// written before every layer has been quantized.
Status exportAutoAwqCheckpoint(const std::string &modelDir,
                               const std::string &outDir, int64_t groupSize,
                               bool zeroPoint,
                               const std::vector<std::string> &skipModules);

} // namespace qc::quant

#endif // QC_QUANT_AWQEXPORT_H
