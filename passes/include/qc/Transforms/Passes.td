//===- Passes.td - qc graph transformations ----------------*- tablegen -*-===//

#ifndef QC_TRANSFORMS_PASSES_TD
#define QC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QCQuantize : Pass<"qc-quantize", "::mlir::ModuleOp"> {
  let summary = "Rewrite linear layers to quantized ones";
  let description = [{
    Turns each `qc.linear` (and, on request, an untied `qc.lm_head`) into a
    `qc.quantized_linear` over a `!qc.qweight` whose scheme the options
    describe. The options mirror Hugging Face's `AwqConfig` and
    `BitsAndBytesConfig`:

    | method     | HF equivalent                                         |
    |------------|-------------------------------------------------------|
    | `awq`      | `AwqConfig(bits, group_size, zero_point)`             |
    | `bnb4`     | `BitsAndBytesConfig(load_in_4bit, bnb_4bit_quant_type, bnb_4bit_use_double_quant)` |
    | `int8`     | int8 weight-only, per output channel                  |
    | `llm-int8` | `BitsAndBytesConfig(load_in_8bit, llm_int8_threshold)` |
    | `w8a8`     | int8 weights and per-token dynamic int8 activations   |

    Modules whose name contains an entry of `skip-modules` stay in floating
    point, as with HF's `modules_to_not_convert`; lm_head stays in floating
    point unless `quantize-lm-head` is set. Options that do not belong to the
    chosen method are errors, as are shapes the scheme cannot store (e.g. a
    group size that does not divide K).

    Before:
    ```mlir
    %w = qc.weight "model.layers.0.mlp.up_proj.weight" : tensor<688x256xf16>
    %y = qc.linear %x, %w : (tensor<?x256xf16>, tensor<688x256xf16>) -> tensor<?x688xf16>
    ```
    After `--qc-quantize="method=awq group-size=128"`:
    ```mlir
    %w = qc.weight "model.layers.0.mlp.up_proj.weight"
        : !qc.qweight<688x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>
    %y = qc.quantized_linear %x, %w : (...) -> tensor<?x688xf16>
    ```
  }];
  let dependentDialects = ["::mlir::qc::QCDialect"];
  let options = [
    Option<"method", "method", "std::string", /*default=*/"\"awq\"",
           "awq, bnb4, int8, llm-int8 or w8a8">,
    Option<"bits", "bits", "unsigned", /*default=*/"4", "AWQ weight bits">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "AWQ group size (input channels per scale)">,
    Option<"zeroPoint", "zero-point", "bool", /*default=*/"true",
           "AWQ asymmetric quantization with zero points">,
    Option<"bnb4bitQuantType", "bnb-4bit-quant-type", "std::string",
           /*default=*/"\"nf4\"", "bnb4 data type: nf4 or fp4">,
    Option<"bnb4bitUseDoubleQuant", "bnb-4bit-use-double-quant", "bool",
           /*default=*/"false", "bnb4: quantize the absmaxes too">,
    Option<"bnb4bitBlockSize", "bnb-4bit-block-size", "int64_t",
           /*default=*/"64", "bnb4 elements per absmax block">,
    Option<"llmInt8Threshold", "llm-int8-threshold", "double",
           /*default=*/"6.0", "llm-int8 outlier threshold">,
    ListOption<"skipModules", "skip-modules", "std::string",
               "Modules (name substrings) left in floating point">,
    Option<"quantizeLmHead", "quantize-lm-head", "bool", /*default=*/"false",
           "Also quantize an untied lm_head">,
  ];
  let statistics = [
    Statistic<"numQuantized", "num-quantized", "Linear layers quantized">,
    Statistic<"numSkipped", "num-skipped", "Linear layers kept in float">,
  ];
}

def QCWeightLayouts : Pass<"qc-weight-layouts", "::mlir::ModuleOp"> {
  let summary = "Choose each quantized weight's storage layout for the target";
  let description = [{
    The package's weight layout is the compiler's decision: a quantized
    weight is stored in the order its kernels read it. For NVIDIA chips
    (`chip=sm_80|sm_90a`) AWQ weights take `layout = mma`, the order of the
    tensor-core decode kernel's fragments (a lane's 16-byte load is the A
    operands of four mma.sync m16n8k16), where their shape allows it (N a
    multiple of 16, K of 64); the weights of one `qc.fused_linear` change
    together or not at all, so that they stay stackable. The package writer
    packs the codes in the layout the type names. Other chips and schemes
    keep their layouts; an unknown chip is an error.

    ```mlir
    %w = qc.weight "l.q_proj" : !qc.qweight<256x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>
    // --qc-weight-layouts="chip=sm_90a":
    %w = qc.weight "l.q_proj" : !qc.qweight<256x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>>
    ```
  }];
  let dependentDialects = ["::mlir::qc::QCDialect"];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"cpu\"",
           "Target: cpu, sm_80, sm_90a, gfx90a or gfx942">,
  ];
}

def QCFuse : Pass<"qc-fuse", "::mlir::func::FuncOp"> {
  let summary = "Fuse residual add + rms_norm and rope + KV-cache write";
  let description = [{
    Applies the qc fusion patterns (populateQCFusionPatterns):
    - `qc.add` feeding `qc.rms_norm` becomes `qc.add_rms_norm`, which returns
      both the residual sum (for its other users) and the normed value;
    - `qc.rope` of the keys feeding only `qc.kv_cache_write` becomes
      `qc.rope_kv_cache_write`, which writes rotated keys straight to the
      cache.
    Dequantization is fused into the matmuls by the kernel lowering itself.
  }];
  let dependentDialects = ["::mlir::qc::QCDialect"];
}

#endif // QC_TRANSFORMS_PASSES_TD
