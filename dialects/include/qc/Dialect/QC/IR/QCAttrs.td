//===- QCAttrs.td - qc attributes --------------------------*- tablegen -*-===//
//
// Quantization schemes (AWQ int4, bitsandbytes NF4/FP4, int8 variants) and
// the rotary embedding description.
//
//===----------------------------------------------------------------------===//

#ifndef QC_DIALECT_QC_IR_QCATTRS_TD
#define QC_DIALECT_QC_IR_QCATTRS_TD

include "qc/Dialect/QC/IR/QCBase.td"
include "qc/Dialect/QC/IR/QCInterfaces.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

// An f64 parameter printed so that it parses back to the same bits.
class QC_F64Parameter<string desc, string default = "">
    : APFloatParameter<desc> {
  let parser = "::mlir::qc::parseF64($_parser)";
  let printer = "$_printer.printFloat($_self)";
  let defaultValue = !if(!empty(default), "",
                         "::llvm::APFloat(" # default # ")");
}

class QC_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QC_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def QC_BnB4Type : I32EnumAttr<"BnB4Type", "bitsandbytes 4-bit data type", [
    I32EnumAttrCase<"NF4", 0, "nf4">,
    I32EnumAttrCase<"FP4", 1, "fp4">]> {
  let cppNamespace = "::mlir::qc";
  let genSpecializedAttr = 0;
}

def QC_Int8Mode : I32EnumAttr<"Int8Mode", "int8 weight quantization mode", [
    I32EnumAttrCase<"WeightOnly", 0, "weight_only">,
    I32EnumAttrCase<"LLMInt8", 1, "llm_int8">,
    I32EnumAttrCase<"W8A8", 2, "w8a8">]> {
  let cppNamespace = "::mlir::qc";
  let genSpecializedAttr = 0;
}

def QC_AWQLayout : I32EnumAttr<"AWQLayout", "storage layout of AWQ int4 codes", [
    I32EnumAttrCase<"Gemm", 0, "gemm">,
    I32EnumAttrCase<"Mma", 1, "mma">,
    I32EnumAttrCase<"Cpu", 2, "cpu">]> {
  let cppNamespace = "::mlir::qc";
  let genSpecializedAttr = 0;
}

// Omitted from the assembly when it is the default, gemm.
class QC_AWQLayoutParameterBase : EnumParameter<QC_AWQLayout> {
  let defaultValue = "::mlir::qc::AWQLayout::Gemm";
}
def QC_AWQLayoutParameter : QC_AWQLayoutParameterBase;

def QC_RopeType : I32EnumAttr<"RopeType", "rotary embedding scaling type", [
    I32EnumAttrCase<"Default", 0, "default">,
    I32EnumAttrCase<"Linear", 1, "linear">,
    I32EnumAttrCase<"Dynamic", 2, "dynamic">,
    I32EnumAttrCase<"Yarn", 3, "yarn">,
    I32EnumAttrCase<"Llama3", 4, "llama3">]> {
  let cppNamespace = "::mlir::qc";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// AWQ int4
//===----------------------------------------------------------------------===//

def QC_AWQAttr : QC_Attr<"AWQ", "awq",
    [DeclareAttrInterfaceMethods<QC_QuantSchemeAttrInterface>]> {
  let summary = "AWQ int4 weights in AutoAWQ's GEMM packing";
  let description = [{
    Group-wise asymmetric int4: `w = (q - z) * s` with one fp16 scale and one
    4-bit zero point per group of `group_size` input channels. Stored as
    AutoAWQ's GEMM layout: `qweight` i32 [K, N/8], `qzeros` i32 [K/G, N/8],
    `scales` f16 [K/G, N], eight nibbles per i32 in the order 0,2,4,6,1,3,5,7.
    Without zero points (`zero_point = false`) the format is symmetric,
    `w = (q - 8) * s`, and `qzeros` is absent.

    `layout = mma` (chosen by `qc-weight-layouts` for NVIDIA targets) stores
    the codes instead in the order of the tensor-core decode kernel's
    fragments: `qweight` i32 [N/16, 2K], row f holding features
    16f .. 16f+15, so that each lane's 16-byte load is the A operands of
    four `mma.sync` m16n8k16 (features as rows) and one shift plus one
    `lop3` turns two of its codes into a biased half2. Word
    `128 * (k / 64) + 4 * (4 * (n % 8) + (k % 64) / 16) + (k % 16) / 4` of
    the row holds k's code of feature n in nibble
    `(k % 2) * 4 + ((k % 4) / 2) * 2 + (n % 16) / 8`. It needs N to be a
    multiple of 16 and K of 64; `qzeros` and `scales` keep the gemm layout.

    `layout = cpu` (chosen for the CPU) groups the codes by tiles of 64
    features and blocks of 8 inputs: `qweight` i32 [N/64, 8K], word
    `64 * (k / 8) + n % 64` of row `n / 64` holding feature n's codes of
    inputs 8b .. 8b+7, input `8b + i` in bits `8 (i % 4) + 4 (i / 4)`. A
    vector of 8 words is 8 features at 8 inputs: one shift and mask per
    input for float kernels, and per feature 4 consecutive inputs in the low
    and in the high nibbles for 8-bit integer dot products. It needs N to
    be a multiple of 64.

    ```mlir
    #qc.awq<bits = 4, group_size = 128, zero_point = true>
    #qc.awq<bits = 4, group_size = 128, zero_point = true, layout = mma>
    ```
  }];
  let parameters = (ins "unsigned":$bits, "int64_t":$group_size,
                        "bool":$zero_point,
                        QC_AWQLayoutParameter:$layout);
  let extraClassDeclaration = [{
    /// The mma layout's tile: features per row, K per lane load.
    static constexpr int64_t kMmaTileFeatures = 16;
    static constexpr int64_t kMmaTileDepth = 64;
    /// The cpu layout's tile: features per row.
    static constexpr int64_t kCpuTileFeatures = 64;
  }];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// bitsandbytes NF4 / FP4
//===----------------------------------------------------------------------===//

def QC_BnB4Attr : QC_Attr<"BnB4", "bnb4",
    [DeclareAttrInterfaceMethods<QC_QuantSchemeAttrInterface>]> {
  let summary = "bitsandbytes-style blockwise 4-bit weights (NF4 or FP4)";
  let description = [{
    The weight, flattened row-major, is split into blocks of `block_size`
    elements; each element is the index of the nearest NF4 or FP4 codebook
    value to `w / absmax(block)`. Codes are packed two per byte, the first
    element in the high nibble. With `double_quant`, the fp32 absmaxes are
    themselves stored as 8-bit codes of bitsandbytes' dynamic map in blocks of
    256, plus an fp32 absmax per nested block and one fp32 offset (their mean).

    ```mlir
    #qc.bnb4<type = nf4, block_size = 64, double_quant = true>
    ```
  }];
  let parameters = (ins EnumParameter<QC_BnB4Type>:$type,
                        "int64_t":$block_size, "bool":$double_quant);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// bitsandbytes quantizes the absmaxes of double quant in blocks of 256.
    static constexpr int64_t kNestedBlockSize = 256;
  }];
}

//===----------------------------------------------------------------------===//
// int8
//===----------------------------------------------------------------------===//

def QC_Int8Attr : QC_Attr<"Int8", "int8",
    [DeclareAttrInterfaceMethods<QC_QuantSchemeAttrInterface>]> {
  let summary = "int8 weights with per-output-channel scales";
  let description = [{
    Symmetric int8 weights [N, K] with one scale per output channel.
    - `weight_only`: activations stay in floating point; f16 scales.
    - `llm_int8`: LLM.int8: activation columns with a magnitude above
      `threshold` run in floating point, the rest as row-wise int8
      activations times the int8 weights with int32 accumulation; the weight
      scale is bitsandbytes' SCB (f32 absmax per row). A threshold of 0
      disables the outlier decomposition.
    - `w8a8`: per-token dynamic int8 activations, int32 accumulation, f32
      per-channel weight scales.

    ```mlir
    #qc.int8<mode = llm_int8, threshold = 6.0>
    ```
  }];
  let parameters = (ins EnumParameter<QC_Int8Mode>:$mode,
                        QC_F64Parameter<"outlier threshold", "0.0">:$threshold);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

def QC_RopeAttr : QC_Attr<"Rope", "rope"> {
  let summary = "Rotary position embedding parameters";
  let description = [{
    The rotary embedding of Hugging Face's Llama family (rotate-half layout)
    with its base `theta` and optional frequency scaling, named as in
    transformers' `rope_parameters`.

    ```mlir
    #qc.rope<type = llama3, theta = 5.0e+05, factor = 8.0,
             low_freq_factor = 1.0, high_freq_factor = 4.0,
             original_max_positions = 8192>
    ```
  }];
  let parameters = (ins
    EnumParameter<QC_RopeType>:$type,
    QC_F64Parameter<"base frequency">:$theta,
    QC_F64Parameter<"context extension factor", "1.0">:$factor,
    QC_F64Parameter<"llama3 low frequency factor", "1.0">:$low_freq_factor,
    QC_F64Parameter<"llama3 high frequency factor", "4.0">:$high_freq_factor,
    DefaultValuedParameter<"int64_t", "0",
        "context length before scaling">:$original_max_positions,
    QC_F64Parameter<"yarn attention scale, 0 to derive it from factor",
                    "0.0">:$attention_factor,
    QC_F64Parameter<"yarn fast ramp boundary", "32.0">:$beta_fast,
    QC_F64Parameter<"yarn slow ramp boundary", "1.0">:$beta_slow);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QC_DIALECT_QC_IR_QCATTRS_TD
