//===- QuantizationConfig.h - HF quantization_config -> options -*- C++ -*-===//
//
// Reads what Hugging Face users write: a `quantization_config` object (from
// config.json of a pre-quantized checkpoint, or a JSON file given to
// quant-compile) or a --quant method name, into qc-quantize options.
//
//===----------------------------------------------------------------------===//

#ifndef QC_IMPORT_QUANTIZATIONCONFIG_H
#define QC_IMPORT_QUANTIZATIONCONFIG_H

#include "qc/Transforms/Passes.h"

namespace mlir::qc {

/// Parses a quantization_config object:
///   {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true,
///    "version": "gemm", "modules_to_not_convert": [...]}
///   {"quant_method": "bitsandbytes", "load_in_4bit": true,
///    "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
///    "llm_int8_skip_modules": [...]}
///   {"quant_method": "bitsandbytes", "load_in_8bit": true,
///    "llm_int8_threshold": 6.0}
///   {"quant_method": "int8" | "w8a8", "modules_to_not_convert": [...]}
/// `source` names the file in error messages. `awqLayout`, when given,
/// receives the stored AWQ layout: "gemm", "gemv" (AutoAWQ's
/// WQLinear_GEMV) or "llm-awq" (`"backend": "llm-awq"`).
FailureOr<QCQuantizeOptions>
parseQuantizationConfig(StringRef json, StringRef source, Location loc,
                        std::string *awqLayout = nullptr);

/// Options for quant-compile's --quant=none|awq|nf4|fp4|int8|llm-int8|w8a8
/// with HF's defaults (AWQ group 128 with zero points, bnb4 blocks of 64,
/// LLM.int8 threshold 6.0).
FailureOr<QCQuantizeOptions> quantOptionsForFlag(StringRef flag, Location loc);

} // namespace mlir::qc

#endif // QC_IMPORT_QUANTIZATIONCONFIG_H
