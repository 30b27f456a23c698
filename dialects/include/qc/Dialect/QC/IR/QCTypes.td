//===- QCTypes.td - qc types -------------------------------*- tablegen -*-===//

#ifndef QC_DIALECT_QC_IR_QCTYPES_TD
#define QC_DIALECT_QC_IR_QCTYPES_TD

include "qc/Dialect/QC/IR/QCBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class QC_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<QC_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def QC_QWeightType : QC_Type<"QWeight", "qweight"> {
  let summary = "A quantized [N, K] weight";
  let description = [{
    A linear layer's weight of logical shape [N, K] (output features, input
    features, as in Hugging Face checkpoints) and logical element type (the
    type it dequantizes to), stored as the `scheme` says.

    ```mlir
    !qc.qweight<768x256xf16, #qc.awq<bits = 4, group_size = 128, zero_point = true>>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape,
                        "::mlir::Type":$elementType,
                        "::mlir::qc::QuantSchemeAttrInterface":$scheme);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getN() const { return getShape()[0]; }
    int64_t getK() const { return getShape()[1]; }
  }];
}

def QC_KVCacheType : QC_Type<"KVCache", "kv_cache"> {
  let summary = "The key/value cache of every attention layer";
  let description = [{
    Per layer, the keys and values (after rotary embedding) of every cached
    token of every sequence in flight, `num_kv_heads * head_dim` values each.
    The runtime pages it in fixed-size blocks; block tables and sequence
    boundaries are run-time data that travel with the value.

    ```mlir
    !qc.kv_cache<num_layers = 4, num_kv_heads = 4, head_dim = 32, dtype = f16>
    ```
  }];
  let parameters = (ins "int64_t":$num_layers, "int64_t":$num_kv_heads,
                        "int64_t":$head_dim, "::mlir::Type":$dtype);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QC_DIALECT_QC_IR_QCTYPES_TD
