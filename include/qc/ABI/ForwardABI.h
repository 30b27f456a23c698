//===- ForwardABI.h - arguments of a package's forward entry ----*- C++ -*-===//
//
// The contract between convert-qc-to-linalg (which builds @qc_forward), the
// package writer (which lists its arguments in manifest.json) and the
// runtime (which fills them in): the fixed leading arguments, in order
// (weights follow them), and the description of its entry points that a
// kernel library carries, so that the runtime can check a manifest against
// the library before calling into it. Plain C++: the runtime links no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef QC_ABI_FORWARDABI_H
#define QC_ABI_FORWARDABI_H

#include <cstdint>
#include <string>
#include <vector>

namespace qc::abi {

/// The manifest's format version; the runtime refuses any other.
inline constexpr int64_t kPackageFormatVersion = 2;

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

/// The symbol of kernels.so holding its KernelSignature::text() (a
/// NUL-terminated string), written at compile time.
inline constexpr const char *kKernelSignatureSymbol = "qc_kernel_signature";

/// What a kernel library's entry points are and take.
struct KernelSignature {
  struct Arg {
    std::string name, dtype; ///< dtype as in the manifest ("F16")
    std::vector<int64_t> shape;
  };
  std::string entry, argmax, sample;
  std::vector<Arg> args;

  /// One line per entry point and argument: the form both sides compare.
  std::string text() const {
    std::string out =
        "entry " + entry + "\nargmax " + argmax + "\nsample " + sample + "\n";
    for (const Arg &a : args) {
      out += "arg " + a.name + " " + a.dtype;
      for (int64_t d : a.shape)
        out += " " + std::to_string(d);
      out += "\n";
    }
    return out;
  }
};

} // namespace qc::abi

#endif // QC_ABI_FORWARDABI_H
