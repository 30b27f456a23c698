//===- ForwardABI.h - arguments of a package's forward entry ----*- C++ -*-===//
//
// The contract between convert-qc-to-linalg (which builds @qc_forward), the
// package writer (which lists its arguments in manifest.json) and the
// runtime (which fills them in): the fixed leading arguments, in order
// (weights follow them), and the description of its entry points that a
// kernel library carries, so that the runtime can check a manifest against
// the library before calling into it, and the hook through which a CPU
// kernel library runs its parallel loops on the runtime's threads. Plain
// C++: the runtime links no MLIR.
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

/// The parallel-loop hook of a CPU kernel library (issue 17).
///
/// kernels.so defines a pointer-sized global of this name with external
/// linkage, initialised to null. Each large parallel loop of its compiled
/// code loads it: null means "run the loop here, serially"; otherwise it is
/// a QcParallelFor, called as `parallelFor(tile, context, iterations,
/// costPerIteration)`. The callee must
///   - run `tile(context, b, e)` over disjoint ranges [b, e) that together
///     cover [0, iterations) exactly once (none when iterations <= 0),
///     possibly on several threads at once, in any order;
///   - return only when every range has finished.
/// costPerIteration is the compiler's rough count of scalar multiply-adds /
/// element operations in one iteration (>= 1; smaller values are read as
/// 1): the runtime uses it to leave small loops unsplit. Tiles cannot fail
/// and never call the hook themselves (no nesting). The runtime stores its
/// QcParallelFor there when it loads the library (CPU packages only); GPU
/// packages and libraries without the symbol are unaffected.
inline constexpr const char *kCpuParallelForSymbol = "qc_cpu_parallel_for";

/// One range [begin, end) of a parallel loop's iterations.
using QcTileFn = void (*)(void *context, int64_t begin, int64_t end);
/// The type of the value the runtime stores into kCpuParallelForSymbol.
using QcParallelFor = void (*)(QcTileFn tile, void *context,
                               int64_t iterations, int64_t costPerIteration);

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
