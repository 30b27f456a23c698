//===- ForwardABI.h - arguments of a package's forward entry ----*- C++ -*-===//
//
// The contract between convert-qc-to-linalg (which builds @qc_forward), the
// package writer (which lists its arguments in manifest.json) and the
// runtime (which fills them in): the fixed leading arguments, in order.
// Weights follow them. Plain C++: the runtime links no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef QC_ABI_FORWARDABI_H
#define QC_ABI_FORWARDABI_H

namespace qc::abi {

enum ForwardArg : unsigned {
  kTokens,        ///< i32 [tokens]
  kPositions,     ///< i32 [tokens]
  kSlotMapping,   ///< i32 [tokens]: cache slot each token is written to
  kTokenSequence, ///< i32 [tokens]: row of each token's sequence
  kBlockTables,   ///< i32 [sequences, blocks]
  kKeyCache,      ///< [layers, slots, kv_heads * head_dim]
  kValueCache,    ///< [layers, slots, kv_heads * head_dim]
  kLogits,        ///< f32 [tokens, vocab], written
  kFirstWeight
};

/// The names the manifest gives the fixed arguments.
inline constexpr const char *kForwardArgNames[kFirstWeight] = {
    "tokens",       "positions", "slot_mapping", "token_sequence",
    "block_tables", "k_cache",   "v_cache",      "logits"};

} // namespace qc::abi

#endif // QC_ABI_FORWARDABI_H
