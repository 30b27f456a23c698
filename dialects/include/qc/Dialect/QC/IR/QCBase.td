//===- QCBase.td - qc dialect definition -------------------*- tablegen -*-===//
//
// The qc dialect models decoder-only transformer graphs (Llama, Mistral,
// Qwen2) and their quantized weights. It is the entry point of quantc: the
// importer produces it, the quantize/fusion passes rewrite it, and the kernel
// lowering consumes it.
//
//===----------------------------------------------------------------------===//

#ifndef QC_DIALECT_QC_IR_QCBASE_TD
#define QC_DIALECT_QC_IR_QCBASE_TD

include "mlir/IR/OpBase.td"

def QC_Dialect : Dialect {
  let name = "qc";
  let summary = "Quantized LLM graph dialect";
  let description = [{
    Ops for the model graph of decoder-only LLMs (embedding, rms_norm, linear,
    rope, KV-cache attention, silu_mul, residual add, lm_head) plus types and
    attributes describing quantized weight formats: AWQ int4 (AutoAWQ
    packing), bitsandbytes-style NF4/FP4 with double quantization, and int8
    (weight-only, LLM.int8, W8A8).

    Activations are ragged token batches: a 2-D tensor `[tokens, features]`
    that concatenates the tokens of every sequence in a step. Which sequence
    a token belongs to, and its cache blocks, travel with the `!qc.kv_cache`
    value at run time. Weights are referenced by their checkpoint tensor
    name and never inlined.
  }];
  let cppNamespace = "::mlir::qc";
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let extraClassDeclaration = [{
    // Defined beside the generated storage classes they need.
    void registerAttributes();
    void registerTypes();
  }];
}

class QC_Op<string mnemonic, list<Trait> traits = []>
    : Op<QC_Dialect, mnemonic, traits>;

#endif // QC_DIALECT_QC_IR_QCBASE_TD
